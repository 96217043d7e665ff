//! Throwaway email domains (mailinator.com and ten thousand others): invitations to them are
//! refused, so an org's member list holds addresses someone answers for. The list is the
//! `disposable-email-domains` project's, vendored in `third_party/` and compiled in (refreshed by
//! its `update.sh`).

use std::collections::HashSet;
use std::sync::OnceLock;

const LIST: &str = include_str!("../../../third_party/disposable-email-domains/domains.txt");

fn domains() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| {
        LIST.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect()
    })
}

/// Whether the address's domain, or a domain it is under, is a throwaway one.
pub fn is_disposable(email: &str) -> bool {
    let Some((_, domain)) = email.rsplit_once('@') else {
        return false;
    };
    let domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
    let set = domains();
    let mut rest = domain.as_str();
    loop {
        if set.contains(rest) {
            return true;
        }
        match rest.split_once('.') {
            Some((_, parent)) if parent.contains('.') => rest = parent,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throwaway_domains_and_their_subdomains_are_known() {
        assert!(domains().len() > 5_000);
        assert!(is_disposable("someone@mailinator.com"));
        assert!(is_disposable("someone@MAILINATOR.COM."));
        assert!(is_disposable("someone@eu.mailinator.com"));
        assert!(!is_disposable("someone@acme.test"));
        assert!(!is_disposable("someone@gmail.com"));
        assert!(!is_disposable("no-at-sign"));
    }
}
