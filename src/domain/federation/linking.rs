//! Who a verified identity is: the linking rules (the table is in `docs/FEDERATION.md`),
//! explicit linking by a signed-in user, listing and unlinking identities.
//!
//! 1. The identity (provider, subject) is known: its user.
//! 2. Else the provider must assert a verified email (`identity_email_unverified`
//!    otherwise, whether or not an account has that email: the answer reveals nothing).
//! 3. No account has the email: a new account (verified email) with the identity, in
//!    one transaction — if the provider may create accounts (`signup_disabled`).
//! 4. An account has it and its email is verified: the identity is attached to it.
//! 5. An account has it, unverified, and nothing of it was ever proven (no verified phone
//!    either): whoever made it never proved the address, so what they set — password,
//!    unverified phone, outstanding links, sessions, identities they linked — is stripped,
//!    then the identity is attached (the pre-takeover rule). Such an account cannot link
//!    identities explicitly either (`account_unverified`). With a verified phone: `account_exists_link_required`
//!    (its owner signs in and links explicitly).
use super::providers::Provider;
use super::verify::Claims;
use super::{FederationError, FederationService};
use crate::db::federation::{IdentityRow, NewIdentity, Unlink};
use crate::db::DbError;
use crate::domain::flocks::Flock;
use crate::domain::user::{
    AccountFields, Contact, Email, NewAccount, Origin, User, UserError, UserStatus,
};
use crate::ids::{FlockId, UserId};
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// An identity a user holds at a provider.
#[derive(Clone)]
pub struct Identity {
    pub id: Uuid,
    pub provider: String,
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub created_at: DateTime<Utc>,
    pub last_used_at: DateTime<Utc>,
}

impl From<IdentityRow> for Identity {
    fn from(r: IdentityRow) -> Self {
        Self {
            id: r.id,
            provider: r.provider,
            subject: r.subject,
            email: r.email,
            email_verified: r.email_verified,
            created_at: r.created_at,
            last_used_at: r.last_used_at,
        }
    }
}

fn forbidden(code: &'static str, m: &str) -> FederationError {
    FederationError::Forbidden(code, m.to_owned())
}

impl FederationService {
    fn new_identity(&self, p: &Provider, c: &Claims) -> NewIdentity {
        NewIdentity {
            provider: p.name.clone(),
            subject: c.subject.clone(),
            email: c.email.as_ref().map(|e| e.to_lowercase()),
            email_verified: c.email_verified,
            now: self.clock.now(),
        }
    }

    /// The user `c` is, by the linking rules; whether the account was created now.
    pub(super) async fn resolve(
        &self,
        flock: &Flock,
        p: &Provider,
        c: &Claims,
    ) -> Result<(User, bool), FederationError> {
        // A race (the same identity or email arriving twice at once) is settled by the
        // unique indexes; the loser looks again and finds the winner's row.
        for _ in 0..3 {
            match self.resolve_once(flock, p, c).await {
                Err(FederationError::Infra(crate::domain::InfraError::Db(DbError::Conflict(
                    _,
                ))))
                | Err(FederationError::User(UserError::EmailTaken)) => continue,
                other => return other,
            }
        }
        Err(FederationError::Conflict(
            "identity_conflict",
            "the identity changed while signing in; try again".into(),
        ))
    }

    async fn resolve_once(
        &self,
        flock: &Flock,
        p: &Provider,
        c: &Claims,
    ) -> Result<(User, bool), FederationError> {
        let db = self.db.scoped(flock.id);
        if let Some(row) = db.identity_by_subject(&p.name, &c.subject).await? {
            let user = self.users.get(flock.id, UserId(row.user_id)).await?;
            let email = c.email.as_ref().map(|e| e.to_lowercase());
            // Written when the provider's email changed, else at most hourly: a sign-in
            // is not a database write.
            let now = self.clock.now();
            let stale = now - row.last_used_at > chrono::Duration::hours(1);
            if stale || email != row.email || c.email_verified != row.email_verified {
                db.identity_touch(row.id, email, c.email_verified, now)
                    .await?;
            }
            return Ok((user, false));
        }
        if !c.email_verified {
            return Err(forbidden(
                "identity_email_unverified",
                "the provider does not assert a verified email for this identity; sign in another way and link it",
            ));
        }
        let raw = c.email.as_deref().unwrap_or_default();
        let email = Email::parse(raw).map_err(|_| {
            forbidden(
                "identity_email_invalid",
                "the provider's email address is not one Fold accepts",
            )
        })?;
        let identity = self.new_identity(p, c);
        match self
            .users
            .find(flock.id, &Contact::Email(email.clone()))
            .await?
        {
            None if !p.allow_signup => Err(forbidden(
                "signup_disabled",
                "this provider may not create accounts here; sign in another way and link it",
            )),
            None => {
                let fields =
                    AccountFields::parse(c.first_name.clone(), c.last_name.clone(), None, None)
                        .unwrap_or_default();
                let mut a = NewAccount::self_service(Some(email), None, fields, Origin::Federated);
                a.source = Some(format!("federated:{}", p.name));
                a.terms_accepted = false;
                a.identity = Some(identity);
                let user = self.users.create_account(flock, a).await?;
                Ok((user, true))
            }
            // An erased account keeps no usable email; should one match, nothing links.
            Some(u) if u.status == UserStatus::Deleted => Err(FederationError::Conflict(
                "account_exists_link_required",
                "an account with this email exists; sign in to it and link this provider".into(),
            )),
            Some(u) if u.email_verified => {
                if !db.identity_insert(u.id, identity).await? {
                    return Err(FederationError::User(UserError::NotFound));
                }
                let u = self.users.claim(flock, u).await?;
                Ok((u, false))
            }
            Some(u) if u.phone_verified => Err(FederationError::Conflict(
                "account_exists_link_required",
                "an account with this email exists; sign in to it and link this provider".into(),
            )),
            Some(u) => {
                // Sessions end before and after the strip: none opened in between survives.
                self.users.end_sessions(flock, u.id).await?;
                let after = u.status.after_proof(flock).map(UserStatus::as_str);
                if !db.identity_link_stripping(u.id, identity, after).await? {
                    return Err(FederationError::Conflict(
                        "account_exists_link_required",
                        "an account with this email exists; sign in to it and link this provider"
                            .into(),
                    ));
                }
                // Whatever sessions the unproven holder opened end now.
                self.users.end_sessions(flock, u.id).await?;
                let u = self.users.get_fresh(flock.id, u.id).await?;
                Ok((u, false))
            }
        }
    }

    /// Attaches the identity `c` to the signed-in user `user` (explicit linking).
    pub(super) async fn attach(
        &self,
        flock: FlockId,
        user: UserId,
        p: &Provider,
        c: &Claims,
    ) -> Result<Identity, FederationError> {
        // An account nobody proved (no verified email or phone) links nothing: its holder
        // may not own the address, and the owner's first federated sign-in strips it.
        let u = self.users.get_fresh(flock, user).await?;
        let proven =
            (u.email_verified && u.email.is_some()) || (u.phone_verified && u.phone.is_some());
        if !proven {
            return Err(FederationError::Forbidden(
                "account_unverified",
                "verify this account's email or phone before linking a provider".into(),
            ));
        }
        let db = self.db.scoped(flock);
        if let Some(row) = db.identity_by_subject(&p.name, &c.subject).await? {
            if row.user_id != user.0 {
                return Err(FederationError::Conflict(
                    "identity_already_linked",
                    "this identity belongs to another account".into(),
                ));
            }
            return Ok(row.into());
        }
        match db.identity_insert(user, self.new_identity(p, c)).await {
            Ok(true) => {}
            Ok(false) => return Err(FederationError::User(UserError::NotFound)),
            Err(DbError::Conflict(_)) => {
                return Err(FederationError::Conflict(
                    "identity_already_linked",
                    "this identity belongs to another account".into(),
                ))
            }
            Err(e) => return Err(e.into()),
        }
        let row = db.identity_by_subject(&p.name, &c.subject).await?;
        row.map(Identity::from)
            .ok_or(FederationError::IdentityNotFound)
    }

    /// The user's identities, oldest first.
    pub async fn identities(
        &self,
        flock: FlockId,
        user: UserId,
    ) -> Result<Vec<Identity>, FederationError> {
        let rows = self.db.scoped(flock).identities_of(user).await?;
        Ok(rows.into_iter().map(Identity::from).collect())
    }

    /// Removes one of the user's identities, unless it is their last way to sign in (no
    /// password, no other identity, no verified email or phone to receive a one-time code
    /// or a reset link): `last_sign_in_method`.
    pub async fn unlink(
        &self,
        flock: FlockId,
        user: UserId,
        id: Uuid,
    ) -> Result<(), FederationError> {
        let u = self.users.get_fresh(flock, user).await?;
        let other_way = u.has_password
            || (u.email_verified && u.email.is_some())
            || (u.phone_verified && u.phone.is_some());
        match self.db.scoped(flock).identity_unlink(user, id, other_way).await? {
            Unlink::Done => Ok(()),
            Unlink::NotFound => Err(FederationError::IdentityNotFound),
            Unlink::LastWayIn => Err(FederationError::Conflict(
                "last_sign_in_method",
                "this identity is the account's only way to sign in; add a password or another identity first".into(),
            )),
        }
    }
}

impl FederationService {
    /// A user's identities for the back office: 404 for no such user of this flock.
    pub async fn identities_of_user(
        &self,
        flock: FlockId,
        user: UserId,
    ) -> Result<Vec<Identity>, FederationError> {
        self.users.get(flock, user).await?;
        self.identities(flock, user).await
    }

    /// Where the provider sends the browser back (to register at the provider).
    pub fn callback_for(&self, flock_slug: &str, provider: &str) -> String {
        format!(
            "{}/api/v1/{flock_slug}/user/federated/{provider}/callback",
            self.times.public_url.trim_end_matches('/')
        )
    }
}
