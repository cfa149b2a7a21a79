//! Who may hold a session, and with which role: the account rules every sign-in path and
//! every renewal apply, written once ([`User::session_role`]).
use super::{User, UserStatus};
use serde::{Deserialize, Serialize};

/// What a session may do. An account is a `client` or a `manager`; `limited` is the
/// session of a preregistered account (read and update its own profile, sign out).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Role {
    #[serde(rename = "client")]
    Client,
    #[serde(rename = "manager")]
    Manager,
    #[serde(rename = "preregistered")]
    Limited,
}

impl Role {
    /// The name carried in sessions and access tokens.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Client => "client",
            Role::Manager => "manager",
            Role::Limited => "preregistered",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "client" => Role::Client,
            "manager" => Role::Manager,
            "preregistered" => Role::Limited,
            _ => return None,
        })
    }
}

/// Why a session is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// A new full session: password, one-time code, activation, autologin, and the
    /// back office handing out an autologin token.
    SignIn,
    /// The limited session of an account preregistered from an email alone.
    Preregistration,
    /// Keeping (renewing) a session that carries this role.
    Renewal(Role),
}

/// A session refused (the caller decides how much of that to say).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotAdmitted {
    /// The account's status does not allow it.
    Status(UserStatus),
    /// The account is a back-office account only (`api_access` off).
    NoAppAccess,
}

impl User {
    /// The role a session of this account gets (or keeps), or why it may not.
    ///
    /// - Only an active account gets a full session, with its own role.
    /// - A preregistered account gets a limited session from preregistration; it keeps a
    ///   limited session until it is active (and then keeps it as limited).
    /// - A renewal keeps a full session only while the account still has that role: a
    ///   demoted manager signs in again.
    /// - Sessions are for the apps: an account without `api_access` gets none.
    pub fn session_role(&self, why: Admission) -> Result<Role, NotAdmitted> {
        use UserStatus::{Active, Preregistered};
        let role = match (why, self.status) {
            (Admission::SignIn, Active) => self.role,
            (Admission::Preregistration, Preregistered) => Role::Limited,
            (Admission::Renewal(Role::Limited), Preregistered | Active) => Role::Limited,
            (Admission::Renewal(r), Active) if r == self.role => r,
            _ => return Err(NotAdmitted::Status(self.status)),
        };
        if !self.directory.api_access {
            return Err(NotAdmitted::NoAppAccess);
        }
        Ok(role)
    }

    /// Whether any session of this account may go on (a status change ends them all
    /// when not).
    pub fn may_keep_sessions(&self) -> bool {
        [self.role, Role::Limited]
            .into_iter()
            .any(|r| self.session_role(Admission::Renewal(r)).is_ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{FlockId, UserId};

    fn user(status: UserStatus, role: Role) -> User {
        User {
            id: UserId::new(),
            flock: FlockId::new(),
            email: None,
            phone: None,
            status,
            role,
            first_name: None,
            last_name: None,
            locale: None,
            email_verified: false,
            phone_verified: false,
            opt_outs: serde_json::json!({}),
            directory: Default::default(),
            source: None,
            has_password: false,
            confirmed_at: None,
            email_invalid_at: None,
            registered_at: None,
            created_at: chrono::DateTime::UNIX_EPOCH,
            updated_at: chrono::DateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn only_active_accounts_sign_in_and_with_their_own_role() {
        for s in UserStatus::ALL {
            for r in [Role::Client, Role::Manager] {
                let got = user(s, r).session_role(Admission::SignIn);
                let want = if s == UserStatus::Active {
                    Ok(r)
                } else {
                    Err(NotAdmitted::Status(s))
                };
                assert_eq!(got, want, "{s:?} {r:?}");
            }
        }
    }

    #[test]
    fn only_preregistered_accounts_get_a_limited_session() {
        for s in UserStatus::ALL {
            let got = user(s, Role::Client).session_role(Admission::Preregistration);
            assert_eq!(got.is_ok(), s == UserStatus::Preregistered, "{s:?}");
            assert!(got.is_err() || got == Ok(Role::Limited));
        }
    }

    #[test]
    fn renewal_needs_the_same_role_and_a_status_that_still_allows_it() {
        use UserStatus::*;
        let u = user(Active, Role::Client);
        assert_eq!(
            u.session_role(Admission::Renewal(Role::Client)),
            Ok(Role::Client)
        );
        assert!(u.session_role(Admission::Renewal(Role::Manager)).is_err());
        assert_eq!(
            u.session_role(Admission::Renewal(Role::Limited)),
            Ok(Role::Limited)
        );
        let pre = user(Preregistered, Role::Client);
        assert_eq!(
            pre.session_role(Admission::Renewal(Role::Limited)),
            Ok(Role::Limited)
        );
        assert!(pre.session_role(Admission::Renewal(Role::Client)).is_err());
        for s in [
            ActivationRequired,
            PendingApproval,
            Inactive,
            Deleted,
            Unclaimed,
        ] {
            let u = user(s, Role::Manager);
            assert!(!u.may_keep_sessions(), "{s:?}");
        }
        assert!(user(Active, Role::Manager).may_keep_sessions());
        assert!(user(Preregistered, Role::Client).may_keep_sessions());
    }

    #[test]
    fn an_account_without_app_access_gets_and_keeps_no_session() {
        let mut u = user(UserStatus::Active, Role::Manager);
        u.directory.api_access = false;
        for why in [
            Admission::SignIn,
            Admission::Renewal(Role::Manager),
            Admission::Renewal(Role::Limited),
        ] {
            assert_eq!(
                u.session_role(why),
                Err(NotAdmitted::NoAppAccess),
                "{why:?}"
            );
        }
        assert!(!u.may_keep_sessions());
        // The status still speaks first.
        u.status = UserStatus::Inactive;
        assert_eq!(
            u.session_role(Admission::SignIn),
            Err(NotAdmitted::Status(UserStatus::Inactive))
        );
    }

    #[test]
    fn roles_round_trip_through_their_names() {
        for r in [Role::Client, Role::Manager, Role::Limited] {
            assert_eq!(Role::parse(r.as_str()), Some(r));
            let json = serde_json::to_string(&r).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", r.as_str()));
        }
    }
}
