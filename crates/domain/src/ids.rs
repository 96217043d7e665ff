//! Typed identifiers, so an org id can never be passed where a project id is meant.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        id_type!($(#[$doc])* $name, new_v4);
    };
    ($(#[$doc:meta])* $name:ident, $make:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A fresh id (random, or time-ordered where the type says so).
            pub fn new() -> Self {
                Self(Uuid::$make())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

id_type!(
    /// An organisation: the tenant boundary.
    OrgId
);
id_type!(
    /// A person's global identity.
    UserId
);
id_type!(
    /// A project inside an org.
    ProjectId
);
id_type!(
    /// A pending invitation to join an org.
    InvitationId
);
id_type!(
    /// A custom role: a named permission set defined by one org.
    RoleId
);
id_type!(
    /// A test run: one CI build's (or one manual session's) results. Time-ordered (UUIDv7: a
    /// millisecond timestamp, then 74 random bits): every index that starts with a run id
    /// (a run's results, its search terms, its suites) then grows at its end, where inserting
    /// is cheapest on both databases, instead of at a random place per run. A run's id tells
    /// when it was created, which its page shows anyway.
    RunId,
    now_v7
);

#[cfg(test)]
mod tests {
    use super::{OrgId, RunId};

    #[test]
    fn run_ids_sort_in_creation_order_and_stay_unguessable() {
        let ids: Vec<RunId> = (0..1000).map(|_| RunId::new()).collect();
        // The store's run indexes rely on this: a new run's rows go at their end.
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
        assert!(ids.iter().all(|id| id.0.get_version_num() == 7));
        // Two ids made in the same millisecond still differ in their random part.
        let distinct: std::collections::HashSet<_> =
            ids.iter().map(|id| id.0.as_bytes()[8..].to_vec()).collect();
        assert_eq!(distinct.len(), ids.len());
        // Other ids stay fully random.
        assert_eq!(OrgId::new().0.get_version_num(), 4);
    }
}
