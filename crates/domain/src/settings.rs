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

/// How many attempts each throttle lets through before its growing lock-outs start (an
/// instance setting: `rate_limits = "sign_in_per_account=5,sign_in_per_ip=20"`; names left out
/// keep their defaults).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RateLimits {
    /// Wrong passwords for one account.
    pub sign_in_per_account: i32,
    /// Wrong passwords from one IP (a NAT may hide many people).
    pub sign_in_per_ip: i32,
    /// Refused API tokens from one IP.
    pub token_failures_per_ip: i32,
    /// Wrong second-factor codes for one user.
    pub second_factor_per_user: i32,
    /// Sign-in links asked for one address.
    pub sign_in_links_per_address: i32,
    /// Sign-in links asked from one IP.
    pub sign_in_links_per_ip: i32,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            sign_in_per_account: 5,
            sign_in_per_ip: 20,
            token_failures_per_ip: 20,
            second_factor_per_user: 5,
            sign_in_links_per_address: 3,
            sign_in_links_per_ip: 10,
        }
    }
}

impl RateLimits {
    /// `name=count` pairs separated by commas; each count 1–10,000.
    pub fn parse(text: &str) -> Result<Self, DomainError> {
        let mut limits = Self::default();
        for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').ok_or_else(|| {
                DomainError::new("rate_limits", format!("`{pair}` is not name=count"))
            })?;
            let count: i32 = value
                .trim()
                .parse()
                .ok()
                .filter(|n| (1..=10_000).contains(n))
                .ok_or_else(|| {
                    DomainError::new(
                        "rate_limits",
                        format!("{}: a count from 1 to 10000", name.trim()),
                    )
                })?;
            let slot = match name.trim() {
                "sign_in_per_account" => &mut limits.sign_in_per_account,
                "sign_in_per_ip" => &mut limits.sign_in_per_ip,
                "token_failures_per_ip" => &mut limits.token_failures_per_ip,
                "second_factor_per_user" => &mut limits.second_factor_per_user,
                "sign_in_links_per_address" => &mut limits.sign_in_links_per_address,
                "sign_in_links_per_ip" => &mut limits.sign_in_links_per_ip,
                other => {
                    return Err(DomainError::new(
                        "rate_limits",
                        format!(
                            "unknown limit `{other}` (known: sign_in_per_account, sign_in_per_ip, token_failures_per_ip, second_factor_per_user, sign_in_links_per_address, sign_in_links_per_ip)"
                        ),
                    ));
                }
            };
            *slot = count;
        }
        Ok(limits)
    }

    /// The `name=count,…` form `parse` reads.
    pub fn to_setting(&self) -> String {
        format!(
            "sign_in_per_account={},sign_in_per_ip={},token_failures_per_ip={},second_factor_per_user={},sign_in_links_per_address={},sign_in_links_per_ip={}",
            self.sign_in_per_account,
            self.sign_in_per_ip,
            self.token_failures_per_ip,
            self.second_factor_per_user,
            self.sign_in_links_per_address,
            self.sign_in_links_per_ip
        )
    }
}

#[cfg(test)]
mod rate_limit_tests {
    use super::*;

    #[test]
    fn limits_parse_override_and_round_trip() -> Result<(), DomainError> {
        let l = RateLimits::parse("sign_in_per_ip=50, second_factor_per_user=3")?;
        assert_eq!(l.sign_in_per_ip, 50);
        assert_eq!(l.second_factor_per_user, 3);
        assert_eq!(l.sign_in_per_account, 5);
        assert_eq!(RateLimits::parse(&l.to_setting())?, l);
        assert!(RateLimits::parse("sign_in_per_ip=0").is_err());
        assert!(RateLimits::parse("nonsense=3").is_err());
        assert!(RateLimits::parse("sign_in_per_ip").is_err());
        assert_eq!(RateLimits::parse("")?, RateLimits::default());
        Ok(())
    }
}
