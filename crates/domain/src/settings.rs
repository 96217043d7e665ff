//! Per-org security settings that have rules of their own.

use crate::DomainError;
use serde::Serialize;

/// How long a session lives: ended after `idle_secs` without a request, and after `absolute_secs`
/// whatever happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SessionPolicy {
    pub idle_secs: i64,
    pub absolute_secs: i64,
}

/// How long the audit trail keeps events: 30 days to 10 years, one year by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct AuditRetention(i64);

impl AuditRetention {
    pub const DEFAULT_DAYS: i64 = 365;

    pub fn parse(days: i64) -> Result<Self, DomainError> {
        if (30..=3650).contains(&days) {
            Ok(Self(days))
        } else {
            Err(DomainError::new(
                "audit_retention_days",
                "must be between 30 and 3650 days",
            ))
        }
    }

    pub fn days(self) -> i64 {
        self.0
    }
}

impl Default for SessionPolicy {
    /// 30 minutes idle, 12 hours absolute.
    fn default() -> Self {
        Self {
            idle_secs: 30 * 60,
            absolute_secs: 12 * 3600,
        }
    }
}

impl SessionPolicy {
    /// Idle 5 min – 24 h; absolute 1 h – 30 days, and never shorter than the idle timeout.
    pub fn parse(idle_minutes: i64, absolute_hours: i64) -> Result<Self, DomainError> {
        if !(5..=1440).contains(&idle_minutes) {
            return Err(DomainError::new(
                "idle_timeout_minutes",
                "must be between 5 and 1440 minutes",
            ));
        }
        if !(1..=720).contains(&absolute_hours) {
            return Err(DomainError::new(
                "absolute_timeout_hours",
                "must be between 1 and 720 hours",
            ));
        }
        if idle_minutes * 60 > absolute_hours * 3600 {
            return Err(DomainError::new(
                "idle_timeout_minutes",
                "must not be longer than the absolute lifetime",
            ));
        }
        Ok(Self {
            idle_secs: idle_minutes * 60,
            absolute_secs: absolute_hours * 3600,
        })
    }

    pub fn idle_minutes(&self) -> i64 {
        self.idle_secs / 60
    }

    pub fn absolute_hours(&self) -> i64 {
        self.absolute_secs / 3600
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds() {
        assert_eq!(SessionPolicy::parse(30, 12), Ok(SessionPolicy::default()));
        assert!(SessionPolicy::parse(4, 12).is_err());
        assert!(SessionPolicy::parse(30, 0).is_err());
        assert!(SessionPolicy::parse(120, 1).is_err());
    }
}
