//! Decoding helpers shared by both backends.

use crate::StoreError;
use testvault_domain::Role;

/// Reads a role level column into a `Role`.
pub(crate) fn role(level: i32) -> Result<Role, StoreError> {
    Role::from_level(i64::from(level))
        .ok_or_else(|| StoreError::Corrupt(format!("role level {level}")))
}
