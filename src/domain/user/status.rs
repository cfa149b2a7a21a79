//! Account statuses: their names, the transition table and what each status allows.
use super::create::Origin;
use crate::domain::flocks::Flock;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserStatus {
    Preregistered,
    ActivationRequired,
    PendingApproval,
    Active,
    Inactive,
    Deleted,
    Unclaimed,
}

impl UserStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            UserStatus::Preregistered => "preregistered",
            UserStatus::ActivationRequired => "activation_required",
            UserStatus::PendingApproval => "pending_approval",
            UserStatus::Active => "active",
            UserStatus::Inactive => "inactive",
            UserStatus::Deleted => "deleted",
            UserStatus::Unclaimed => "unclaimed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "preregistered" => UserStatus::Preregistered,
            "activation_required" => UserStatus::ActivationRequired,
            "pending_approval" => UserStatus::PendingApproval,
            "active" => UserStatus::Active,
            "inactive" => UserStatus::Inactive,
            "deleted" => UserStatus::Deleted,
            "unclaimed" => UserStatus::Unclaimed,
            _ => return None,
        })
    }
}

impl UserStatus {
    /// The transition table: every status change an account may make. Anything not
    /// listed is refused.
    pub fn can_become(self, to: UserStatus) -> bool {
        use UserStatus::*;
        matches!(
            (self, to),
            (
                Preregistered,
                ActivationRequired | PendingApproval | Active | Inactive | Deleted
            ) | (
                ActivationRequired,
                PendingApproval | Active | Inactive | Deleted
            ) | (PendingApproval, Active | Inactive | Deleted)
                | (Active, Inactive | Deleted)
                | (Inactive, Active | Deleted)
                | (Unclaimed, PendingApproval | Active | Inactive | Deleted)
        )
    }

    /// The status a new account starts in, by how it came to be.
    pub fn initial(flock: &Flock, origin: Origin) -> UserStatus {
        let s = &flock.settings;
        match origin {
            Origin::Preregistration => UserStatus::Preregistered,
            Origin::BackOffice(status) => status,
            Origin::Registration if s.require_activation => UserStatus::ActivationRequired,
            // A one-time code already proved the identifier: no activation mail.
            Origin::Registration | Origin::Code | Origin::Federated if s.require_approval => {
                UserStatus::PendingApproval
            }
            Origin::Registration | Origin::Code | Origin::Federated => UserStatus::Active,
        }
    }

    /// Whether a mail that proves ownership of the address (activation, reset) may move
    /// the account on, and to what.
    pub fn after_proof(self, flock: &Flock) -> Option<UserStatus> {
        use UserStatus::*;
        let target = if flock.settings.require_approval {
            PendingApproval
        } else {
            Active
        };
        match self {
            Preregistered | ActivationRequired | Unclaimed if self.can_become(target) => {
                Some(target)
            }
            _ => None,
        }
    }

    pub const ALL: [UserStatus; 7] = [
        UserStatus::Preregistered,
        UserStatus::ActivationRequired,
        UserStatus::PendingApproval,
        UserStatus::Active,
        UserStatus::Inactive,
        UserStatus::Deleted,
        UserStatus::Unclaimed,
    ];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_transition_table_allows_exactly_the_listed_edges() {
        use UserStatus::*;
        let allowed: &[(UserStatus, UserStatus)] = &[
            (Preregistered, ActivationRequired),
            (Preregistered, PendingApproval),
            (Preregistered, Active),
            (Preregistered, Inactive),
            (Preregistered, Deleted),
            (ActivationRequired, PendingApproval),
            (ActivationRequired, Active),
            (ActivationRequired, Inactive),
            (ActivationRequired, Deleted),
            (PendingApproval, Active),
            (PendingApproval, Inactive),
            (PendingApproval, Deleted),
            (Active, Inactive),
            (Active, Deleted),
            (Inactive, Active),
            (Inactive, Deleted),
            (Unclaimed, PendingApproval),
            (Unclaimed, Active),
            (Unclaimed, Inactive),
            (Unclaimed, Deleted),
        ];
        let mut checked = 0;
        for from in UserStatus::ALL {
            for to in UserStatus::ALL {
                let want = allowed.contains(&(from, to));
                assert_eq!(from.can_become(to), want, "{from:?} -> {to:?}");
                checked += 1;
            }
        }
        assert_eq!(checked, 49);
        // Deleted is final; nothing becomes unclaimed or preregistered again.
        for to in UserStatus::ALL {
            assert!(!UserStatus::Deleted.can_become(to));
            assert!(!to.can_become(UserStatus::Unclaimed));
            assert!(!to.can_become(UserStatus::Preregistered));
        }
    }

    #[test]
    fn statuses_round_trip_through_their_names() {
        for s in UserStatus::ALL {
            assert_eq!(UserStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(UserStatus::parse("banana"), None);
    }
}
