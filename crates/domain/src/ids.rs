//! Typed identifiers, so an org id can never be passed where a project id is meant.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A fresh random id.
            pub fn new() -> Self {
                Self(Uuid::new_v4())
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
    /// A test run: one CI build's (or one manual session's) results.
    RunId
);
