//! IP allowlists: the CIDR ranges an org lets its members and tokens come from.

use crate::DomainError;
use serde::Serialize;
use std::net::IpAddr;

/// One range, `10.0.0.0/8` or `2001:db8::/32` (a bare address means just that address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn parse(raw: &str) -> Result<Cidr, DomainError> {
        let bad = || {
            DomainError::new(
                "ip_allowlist",
                format!("`{raw}` is not an IP range like 10.0.0.0/8 or 2001:db8::/32"),
            )
        };
        let raw_t = raw.trim();
        let (addr, prefix) = match raw_t.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (raw_t, None),
        };
        let network: IpAddr = addr.parse().map_err(|_| bad())?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(bad)?,
            None => max,
        };
        Ok(Cidr { network, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        // An IPv4 client seen as IPv4-mapped IPv6 still matches IPv4 ranges.
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.network, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

/// An org's allowlist. Empty means "no restriction".
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IpAllowlist(Vec<Cidr>);

impl IpAllowlist {
    /// Parses ranges separated by commas, spaces or new lines (at most 100).
    pub fn parse(raw: &str) -> Result<IpAllowlist, DomainError> {
        let ranges = raw
            .split([',', '\n', ' ', '\r', '\t'])
            .filter(|s| !s.trim().is_empty())
            .map(Cidr::parse)
            .collect::<Result<Vec<_>, _>>()?;
        if ranges.len() > 100 {
            return Err(DomainError::new("ip_allowlist", "at most 100 ranges"));
        }
        Ok(IpAllowlist(ranges))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `ip` may connect: always when the list is empty. An unparsable IP never matches.
    pub fn allows(&self, ip: &str) -> bool {
        self.0.is_empty()
            || ip
                .parse()
                .is_ok_and(|ip: IpAddr| self.0.iter().any(|c| c.contains(ip)))
    }

    /// The stored form: one range per line.
    pub fn to_storage(&self) -> String {
        self.0
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    }

    pub fn ranges(&self) -> Vec<String> {
        self.0.iter().map(ToString::to_string).collect()
    }
}

impl Serialize for IpAllowlist {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.ranges().serialize(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v4_and_v6_ranges() -> Result<(), DomainError> {
        let list = IpAllowlist::parse("10.0.0.0/8, 192.168.1.7\n2001:db8::/32")?;
        assert!(list.allows("10.200.3.4"));
        assert!(!list.allows("11.0.0.1"));
        assert!(list.allows("192.168.1.7"));
        assert!(!list.allows("192.168.1.8"));
        assert!(list.allows("2001:db8:1::5"));
        assert!(!list.allows("2001:db9::1"));
        assert!(
            list.allows("::ffff:10.1.1.1"),
            "IPv4-mapped addresses match IPv4 ranges"
        );
        assert!(!list.allows("unknown"));
        assert_eq!(
            list.to_storage(),
            "10.0.0.0/8\n192.168.1.7/32\n2001:db8::/32"
        );
        Ok(())
    }

    #[test]
    fn empty_allows_everyone_and_bad_input_names_the_range() {
        assert!(IpAllowlist::default().allows("203.0.113.1"));
        let err = IpAllowlist::parse("10.0.0.0/33")
            .err()
            .map(|e| (e.field, e.message));
        assert_eq!(err.map(|e| e.0), Some("ip_allowlist"));
        assert!(IpAllowlist::parse("0.0.0.0/0").is_ok_and(|l| l.allows("8.8.8.8")));
        assert!(IpAllowlist::parse("nope").is_err());
    }
}
