//! Decoding helpers shared by both backends.

use crate::StoreError;
use testvault_domain::{CustomRole, MemberRole, PermissionSet, Role, RoleId};
use uuid::Uuid;

/// Reads a role level column into a `Role`.
pub(crate) fn role(level: i32) -> Result<Role, StoreError> {
    Role::from_level(i64::from(level))
        .ok_or_else(|| StoreError::Corrupt(format!("role level {level}")))
}

/// A member's role from its columns: the custom role when one is set, else the level.
/// `None` when there is no membership (a LEFT JOIN that found none).
pub(crate) fn member_role(
    level: Option<i32>,
    custom_id: Option<Uuid>,
    custom_name: Option<String>,
    custom_permissions: Option<String>,
) -> Result<Option<MemberRole>, StoreError> {
    let Some(level) = level else { return Ok(None) };
    Ok(Some(match (custom_id, custom_name, custom_permissions) {
        (Some(id), Some(name), Some(perms)) => MemberRole::Custom(CustomRole {
            id: RoleId(id),
            name,
            permissions: PermissionSet::from_storage(&perms),
        }),
        _ => MemberRole::Builtin(role(level)?),
    }))
}

/// Reads the member-role columns every membership query selects as
/// `m.role_level, m.custom_role_id, cr.name AS custom_role_name, cr.permissions AS custom_role_permissions`
/// (with `LEFT JOIN org_roles cr ON cr.id = m.custom_role_id`).
macro_rules! member_role_from_row {
    ($row:expr) => {{
        let r = $row;
        $crate::rows::member_role(
            r.try_get("role_level")?,
            r.try_get("custom_role_id")?,
            r.try_get("custom_role_name")?,
            r.try_get("custom_role_permissions")?,
        )
    }};
}
pub(crate) use member_role_from_row;
