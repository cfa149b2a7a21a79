//! The current user's profile: read, patch, erase (GDPR) and export.
use super::fields::{optional_text, validate_locale, validate_opt_outs};
use super::{Role, User, UserError, UserService, UserStatus};
use crate::domain::flocks::Flock;
use crate::ids::UserId;
use std::collections::BTreeMap;

/// The fields a user may change about themselves. Absent fields keep their value; an
/// empty string clears a name or the locale.
#[derive(Debug, Default)]
pub struct ProfilePatch {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub locale: Option<String>,
    pub opt_outs: Option<BTreeMap<String, bool>>,
}

/// Everything held about a user, as JSON.
pub type Export = serde_json::Value;

impl UserService {
    pub async fn patch_profile(
        &self,
        flock: &Flock,
        id: UserId,
        patch: ProfilePatch,
    ) -> Result<(User, super::PublicData), UserError> {
        let db = self.scoped(flock.id);
        let row = db.user(id).await?.ok_or(UserError::NotFound)?;
        let keep = |new: Option<String>, old: Option<String>| match new {
            Some(v) => Some(v),
            None => old,
        };
        let first_name = optional_text(keep(patch.first_name, row.first_name), "first_name", 200)
            .map_err(UserError::Invalid)?;
        let last_name = optional_text(keep(patch.last_name, row.last_name), "last_name", 200)
            .map_err(UserError::Invalid)?;
        let locale = validate_locale(keep(patch.locale, row.locale)).map_err(UserError::Invalid)?;
        let opt_outs = match patch.opt_outs {
            Some(o) => validate_opt_outs(Some(o)).map_err(UserError::Invalid)?,
            None => row.opt_outs,
        };
        db.user_update_profile(
            id,
            crate::db::user::ProfileFields {
                first_name,
                last_name,
                locale,
                opt_outs,
            },
            self.clock.now(),
        )
        .await?;
        self.profile(flock, id).await
    }

    /// GDPR erasure: personal data cleared, status `deleted`, every session and token
    /// ended. Managers are protected from self-service deletion.
    pub async fn delete_self(&self, flock: &Flock, id: UserId) -> Result<(), UserError> {
        let user = self.get(flock.id, id).await?;
        if user.role == Role::Manager {
            return Err(UserError::Forbidden(
                "account_protected",
                "this account manages the flock and cannot delete itself; ask another manager to remove its role first".into(),
            ));
        }
        self.erase_files(flock.id, id).await?;
        self.scoped(flock.id)
            .user_anonymise(id, self.clock.now())
            .await?;
        self.sweep_files(flock.id, id).await;
        self.sessions.end_all(flock.id, id, None).await?;
        Ok(())
    }

    /// The owner of an unclaimed account proved an identifier of it (a one-time code):
    /// it becomes a registered account, active (or pending approval where the flock
    /// approves accounts). Any other account is returned as it is.
    pub async fn claim(&self, flock: &Flock, user: User) -> Result<User, UserError> {
        let Some(to) = user.status.after_proof(flock) else {
            return Ok(user);
        };
        if user.status != UserStatus::Unclaimed {
            return Ok(user);
        }
        self.scoped(flock.id)
            .user_claim(user.id, to.as_str(), self.clock.now())
            .await?;
        self.fresh(flock.id, user.id).await
    }

    /// Moves the account to `to` along the transition table; when the new status may not
    /// keep sessions (see [`User::session_role`]), every session ends at once.
    pub async fn set_status(
        &self,
        flock: &Flock,
        id: UserId,
        to: UserStatus,
    ) -> Result<User, UserError> {
        let user = self.fresh(flock.id, id).await?;
        if user.status == to {
            return Ok(user);
        }
        if !user.status.can_become(to) {
            return Err(UserError::Forbidden(
                "status_transition_not_allowed",
                format!(
                    "an account that is {} cannot become {}",
                    user.status.as_str(),
                    to.as_str()
                ),
            ));
        }
        let db = self.scoped(flock.id);
        if to == UserStatus::Deleted {
            // Deleted means anonymised (GDPR): the personal data goes with the status.
            self.erase_files(flock.id, id).await?;
            db.user_anonymise(id, self.clock.now()).await?;
            self.sweep_files(flock.id, id).await;
        } else {
            db.user_set_status(id, user.status.as_str(), to.as_str(), self.clock.now())
                .await?;
        }
        let user = self.fresh(flock.id, id).await?;
        if !user.may_keep_sessions() {
            self.sessions.end_all(flock.id, id, None).await?;
        }
        Ok(user)
    }

    /// Everything held about the user: the account, sessions, one-time tokens (metadata
    /// only, never digests), mail sent to them, profile data, addresses and files (with
    /// signed URLs to download them).
    pub async fn export(&self, flock: &Flock, id: UserId) -> Result<Export, UserError> {
        let db = self.scoped(flock.id);
        let row = db.user(id).await?.ok_or(UserError::NotFound)?;
        let sessions = self.sessions.list(flock.id, id).await?;
        let tokens = db.tokens_of_user(id).await?;
        let mail = db.mail_of_user(id).await?;
        let meta = db.meta_of(id, false).await?;
        let groups = db.groups_of(id).await?;
        let values = db.profile_values_of(id).await?;
        let addresses = db.addresses_of(id, None).await?;
        let requests = db.requests_of(id).await?;
        let identities = db.identities_of(id).await?;
        let files = match &self.files {
            Some(f) => f
                .views(flock, db.files_of(id).await?)
                .await
                .map_err(crate::domain::InfraError::from)?,
            None => Vec::new(),
        };
        Ok(serde_json::json!({
            "flock": flock.slug,
            // The identities held at providers (never a provider's secret: Fold holds none
            // of the user's).
            "identities": identities.iter().map(|i| serde_json::json!({
                "id": i.id,
                "provider": i.provider,
                "subject": i.subject,
                "email": i.email,
                "email_verified": i.email_verified,
                "created_at": i.created_at,
                "last_used_at": i.last_used_at,
            })).collect::<Vec<_>>(),
            "files": files.iter().map(|f| serde_json::json!({
                "id": f.id,
                "name": f.name,
                "content_type": f.content_type,
                "size": f.size,
                "created_at": f.created_at,
                "updated_at": f.updated_at,
                "paths": f.paths,
            })).collect::<Vec<_>>(),
            "account": {
                "id": row.id,
                "email": row.email,
                "phone": row.phone,
                "status": row.status,
                "role": row.role,
                "first_name": row.first_name,
                "last_name": row.last_name,
                "locale": row.locale,
                "email_verified": row.email_verified,
                "phone_verified": row.phone_verified,
                "opt_outs": row.opt_outs,
                "terms_accepted_at": row.terms_accepted_at,
                "source": row.source,
                "has_password": row.password_hash.is_some(),
                "created_at": row.created_at,
                "updated_at": row.updated_at,
                "registered_at": row.registered_at,
                "username": row.username,
                "company": row.company,
                "picture_url": row.picture_url,
                "external_id": row.external_id,
                "referer": row.referer,
                "note": row.note,
                "kind": row.kind,
                "registration_number": row.registration_number,
                "vat_number": row.vat_number,
                "business_id": row.business_id,
                "confirmed_at": row.confirmed_at,
                "email_invalid_at": row.email_invalid_at,
            },
            "profile": values.iter().map(|v| (v.field.clone(), v.value.clone()))
                .collect::<serde_json::Map<String, serde_json::Value>>(),
            "meta": meta.iter().map(|m| serde_json::json!({
                "key": m.key,
                "value": m.value,
                "public": m.public,
            })).collect::<Vec<_>>(),
            "groups": groups.iter().map(|g| g.name.clone()).collect::<Vec<_>>(),
            "addresses": addresses.iter().map(|a| serde_json::json!({
                "id": a.id,
                "type": a.kind,
                "fields": a.fields,
                "created_at": a.created_at,
                "updated_at": a.updated_at,
            })).collect::<Vec<_>>(),
            "address_requests": requests.iter().map(|r| serde_json::json!({
                "id": r.id,
                "address_id": r.address_id,
                "status": r.status,
                "old": r.old_fields,
                "new": r.new_fields,
                "created_at": r.created_at,
                "decided_at": r.decided_at,
            })).collect::<Vec<_>>(),
            "sessions": sessions.iter().map(|s| serde_json::json!({
                "id": s.id,
                "created_at": s.created_at,
                "last_seen_at": s.last_seen_at,
                "expires_at": s.expires_at,
                "ip": s.ip,
                "user_agent": s.user_agent,
                "source": s.source,
            })).collect::<Vec<_>>(),
            "one_time_tokens": tokens.iter().map(|t| serde_json::json!({
                "purpose": t.purpose,
                "created_at": t.created_at,
                "expires_at": t.expires_at,
                "used_at": t.used_at,
            })).collect::<Vec<_>>(),
            "mail": mail.iter().map(|m| serde_json::json!({
                "kind": m.kind,
                "to": m.to_addr,
                "subject": m.subject,
                "created_at": m.created_at,
                "sent_at": m.sent_at,
            })).collect::<Vec<_>>(),
        }))
    }
}
