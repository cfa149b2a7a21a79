//! Providers and identities (`impl FlockDb`).
use super::user::tokens;
use super::{DbResult, FlockDb};
use crate::ids::UserId;
use chrono::{DateTime, Utc};
use entity::{federation_provider, identity, user};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

pub use entity::federation_provider::Model as ProviderRow;
pub use entity::identity::Model as IdentityRow;

/// A provider as it will be stored (the flock comes from the gateway).
pub struct NewProvider {
    pub name: String,
    pub kind: String,
    pub client_id: String,
    pub secret_sealed: Option<String>,
    pub config: serde_json::Value,
    pub enabled: bool,
    pub allow_signup: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// How an unlink went.
pub enum Unlink {
    Done,
    NotFound,
    LastWayIn,
}

/// An identity to attach to a user.
#[derive(Debug, Clone)]
pub struct NewIdentity {
    pub provider: String,
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub now: DateTime<Utc>,
}

impl NewIdentity {
    pub(super) fn into_active(self, user: UserId) -> identity::ActiveModel {
        identity::ActiveModel {
            id: Set(Uuid::now_v7()),
            user_id: Set(user.0),
            provider: Set(self.provider),
            subject: Set(self.subject),
            email: Set(self.email),
            email_verified: Set(self.email_verified),
            created_at: Set(self.now),
            last_used_at: Set(self.now),
            ..Default::default()
        }
    }
}

impl FlockDb<'_> {
    pub async fn providers(&self) -> DbResult<Vec<ProviderRow>> {
        Ok(self
            .find::<federation_provider::Entity>()
            .order_by_asc(federation_provider::Column::Name)
            .all(&self.db.conn)
            .await?)
    }

    pub async fn provider(&self, name: &str) -> DbResult<Option<ProviderRow>> {
        Ok(self
            .find::<federation_provider::Entity>()
            .filter(federation_provider::Column::Name.eq(name))
            .one(&self.db.conn)
            .await?)
    }

    /// Creates or replaces the provider of this name.
    pub async fn provider_put(&self, p: NewProvider) -> DbResult<()> {
        let txn = self.db.write().await?;
        let existing = self
            .find::<federation_provider::Entity>()
            .filter(federation_provider::Column::Name.eq(p.name.as_str()))
            .one(&txn)
            .await?;
        match existing {
            Some(e) => {
                self.update::<federation_provider::Entity>()
                    .filter(federation_provider::Column::Id.eq(e.id))
                    .col_expr(federation_provider::Column::Kind, Expr::value(p.kind))
                    .col_expr(
                        federation_provider::Column::ClientId,
                        Expr::value(p.client_id),
                    )
                    .col_expr(
                        federation_provider::Column::SecretSealed,
                        Expr::value(p.secret_sealed),
                    )
                    .col_expr(federation_provider::Column::Config, Expr::value(p.config))
                    .col_expr(federation_provider::Column::Enabled, Expr::value(p.enabled))
                    .col_expr(
                        federation_provider::Column::AllowSignup,
                        Expr::value(p.allow_signup),
                    )
                    .col_expr(
                        federation_provider::Column::UpdatedAt,
                        Expr::value(p.updated_at),
                    )
                    .exec(&txn)
                    .await?;
            }
            None => {
                let row = federation_provider::ActiveModel {
                    id: Set(Uuid::now_v7()),
                    name: Set(p.name),
                    kind: Set(p.kind),
                    client_id: Set(p.client_id),
                    secret_sealed: Set(p.secret_sealed),
                    config: Set(p.config),
                    enabled: Set(p.enabled),
                    allow_signup: Set(p.allow_signup),
                    created_at: Set(p.created_at),
                    updated_at: Set(p.updated_at),
                    ..Default::default()
                };
                federation_provider::Entity::insert(self.own(row))
                    .exec(&txn)
                    .await?;
            }
        }
        txn.commit().await?;
        Ok(())
    }

    /// Removes the provider and the identities held at it, in one transaction (a provider
    /// configured later under the same name may be another one: it must not inherit
    /// them).
    pub async fn provider_delete(&self, name: &str) -> DbResult<bool> {
        let txn = self.db.write().await?;
        let r = self
            .delete::<federation_provider::Entity>()
            .filter(federation_provider::Column::Name.eq(name))
            .exec(&txn)
            .await?;
        self.delete::<identity::Entity>()
            .filter(identity::Column::Provider.eq(name))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(r.rows_affected > 0)
    }

    /// Whether any user holds an identity at the provider `name`.
    pub async fn provider_has_identities(&self, name: &str) -> DbResult<bool> {
        Ok(self
            .find::<identity::Entity>()
            .filter(identity::Column::Provider.eq(name))
            .one(&self.db.conn)
            .await?
            .is_some())
    }

    /// Removes one of the user's identities unless it is their last way in: in one
    /// transaction holding the user's row, so two unlinks cannot both pass the check.
    /// `other_way`: whether the account has a way in besides identities.
    pub async fn identity_unlink(
        &self,
        user: UserId,
        id: Uuid,
        other_way: bool,
    ) -> DbResult<Unlink> {
        let txn = self.db.write().await?;
        if !self.lock_live_user(&txn, user).await? {
            txn.rollback().await?;
            return Ok(Unlink::NotFound);
        }
        let held = self
            .find::<identity::Entity>()
            .filter(identity::Column::UserId.eq(user.0))
            .all(&txn)
            .await?;
        if !held.iter().any(|i| i.id == id) {
            txn.rollback().await?;
            return Ok(Unlink::NotFound);
        }
        if held.len() < 2 && !other_way {
            txn.rollback().await?;
            return Ok(Unlink::LastWayIn);
        }
        self.delete::<identity::Entity>()
            .filter(identity::Column::UserId.eq(user.0))
            .filter(identity::Column::Id.eq(id))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(Unlink::Done)
    }

    pub async fn identity_by_subject(
        &self,
        provider: &str,
        subject: &str,
    ) -> DbResult<Option<IdentityRow>> {
        Ok(self
            .find::<identity::Entity>()
            .filter(identity::Column::Provider.eq(provider))
            .filter(identity::Column::Subject.eq(subject))
            .one(&self.db.conn)
            .await?)
    }

    /// A user's identities, oldest first.
    pub async fn identities_of(&self, user: UserId) -> DbResult<Vec<IdentityRow>> {
        Ok(self
            .find::<identity::Entity>()
            .filter(identity::Column::UserId.eq(user.0))
            .order_by_asc(identity::Column::CreatedAt)
            .order_by_asc(identity::Column::Id)
            .all(&self.db.conn)
            .await?)
    }

    /// Attaches an identity to a live user (a `Conflict` when the identity is someone's
    /// already); false when the account is gone.
    pub async fn identity_insert(&self, user: UserId, i: NewIdentity) -> DbResult<bool> {
        let txn = self.db.write().await?;
        if !self.lock_live_user(&txn, user).await? {
            txn.rollback().await?;
            return Ok(false);
        }
        identity::Entity::insert(self.own(i.into_active(user)))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(true)
    }

    /// Seen again: the email the provider gives now, and when.
    pub async fn identity_touch(
        &self,
        id: Uuid,
        email: Option<String>,
        verified: bool,
        now: DateTime<Utc>,
    ) -> DbResult<()> {
        self.update::<identity::Entity>()
            .filter(identity::Column::Id.eq(id))
            .col_expr(identity::Column::Email, Expr::value(email))
            .col_expr(identity::Column::EmailVerified, Expr::value(verified))
            .col_expr(identity::Column::LastUsedAt, Expr::value(now))
            .exec(&self.db.writer)
            .await?;
        Ok(())
    }

    /// Removes one of the user's identities; whether it was there.
    pub async fn identity_delete(&self, user: UserId, id: Uuid) -> DbResult<bool> {
        let r = self
            .delete::<identity::Entity>()
            .filter(identity::Column::UserId.eq(user.0))
            .filter(identity::Column::Id.eq(id))
            .exec(&self.db.writer)
            .await?;
        Ok(r.rows_affected > 0)
    }

    /// Pre-takeover rule: an account whose email was never verified, claimed by a provider
    /// that asserts the email, loses what nobody proved (its password, an unverified phone
    /// number, every outstanding link), its email becomes verified, and the identity is
    /// attached — in one transaction. False when the account is gone or changed meanwhile
    /// (its email verified, or a phone proved since).
    pub async fn identity_link_stripping(
        &self,
        user_id: UserId,
        i: NewIdentity,
        status_after: Option<&str>,
    ) -> DbResult<bool> {
        let now = i.now;
        let txn = self.db.write().await?;
        let row = self
            .find::<user::Entity>()
            .filter(user::Column::Id.eq(user_id.0))
            .lock_exclusive()
            .one(&txn)
            .await?;
        let Some(row) = row.filter(super::user::is_live) else {
            txn.rollback().await?;
            return Ok(false);
        };
        if row.email_verified || row.phone_verified {
            txn.rollback().await?;
            return Ok(false);
        }
        let mut cols = vec![
            (
                user::Column::PasswordHash,
                Expr::value(Option::<String>::None),
            ),
            (user::Column::Phone, Expr::value(Option::<String>::None)),
            (user::Column::EmailVerified, Expr::value(true)),
        ];
        // The provider proved the address: an account waiting for that proof moves on.
        if let Some(s) = status_after {
            cols.push((user::Column::Status, Expr::value(s)));
            if row.registered_at.is_none() {
                cols.push((user::Column::RegisteredAt, Expr::value(Some(now))));
            }
        }
        self.user_update_on(&txn, user_id, cols, now).await?;
        tokens::void(self, &txn, user_id, None, now).await?;
        // Identities the unproven holder linked go too (they would sign them back in).
        self.delete::<identity::Entity>()
            .filter(identity::Column::UserId.eq(user_id.0))
            .exec(&txn)
            .await?;
        identity::Entity::insert(self.own(i.into_active(user_id)))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        self.forget_user(user_id);
        Ok(true)
    }
}
