//! One stable identity for a test across formats and runs: its suite path, its name and its
//! parameters. History, flakiness and trends join on it.

use serde::{Deserialize, Serialize};

/// Who a test is. Two results are the same test exactly when their `key()`s are equal.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TestIdentity {
    /// Outermost first: package/module, class or describe blocks.
    pub suite: Vec<String>,
    pub name: String,
    /// Parameterised tests: `(name, value)`, sorted by name for a stable key.
    pub parameters: Vec<(String, String)>,
}

impl TestIdentity {
    /// Builds an identity, trimming parts, dropping empty suite parts and sorting parameters.
    pub fn new(
        suite: impl IntoIterator<Item = impl Into<String>>,
        name: impl Into<String>,
        parameters: impl IntoIterator<Item = (String, String)>,
    ) -> Self {
        let suite = suite
            .into_iter()
            .map(|s| s.into().trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        let mut parameters: Vec<(String, String)> = parameters
            .into_iter()
            .map(|(k, v)| (k.trim().to_string(), v))
            .collect();
        parameters.sort();
        TestIdentity {
            suite,
            name: name.into().trim().to_string(),
            parameters,
        }
    }

    /// The canonical text: suite parts joined by ` › `, then the name, then `[k=v, …]`.
    /// Separators are escaped inside parts so different identities never share a key.
    pub fn key(&self) -> String {
        let esc = |s: &str| {
            s.replace('\\', "\\\\")
                .replace('›', "\\›")
                .replace('[', "\\[")
        };
        let mut out = String::new();
        for part in &self.suite {
            out.push_str(&esc(part));
            out.push_str(" › ");
        }
        out.push_str(&esc(&self.name));
        if !self.parameters.is_empty() {
            out.push('[');
            let params: Vec<String> = self
                .parameters
                .iter()
                .map(|(k, v)| format!("{}={}", esc(k), esc(v).replace(',', "\\,")))
                .collect();
            out.push_str(&params.join(", "));
            out.push(']');
        }
        out
    }

    /// A 64-bit hash of `key()` (FNV-1a): the identity cache's key and the store's lookup key
    /// (the store keeps the key beside it and refuses two keys that share a hash).
    pub fn hash64(&self) -> u64 {
        identity_hash(&self.suite_path(), &self.key())
    }

    /// The suite path as one string (`a › b`), empty when there is none.
    pub fn suite_path(&self) -> String {
        self.suite.join(" › ")
    }
}

/// How producers' names become identity parts: one copy for every parser, so the same test has
/// the same identity whichever format it arrives in.
pub(crate) mod rules {
    /// A dotted (or `::`, `$`, `\`) path of identifier-like parts split into them:
    /// `tests.test_api.TestUsers` → `tests`, `test_api`, `TestUsers`. Anything else (titles with
    /// spaces, file paths) is one part.
    pub(crate) fn split_path(s: &str) -> Vec<&str> {
        let s = s.trim();
        if s.is_empty() {
            return Vec::new();
        }
        let is_ident = |p: &str| {
            p.chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
        };
        if s.contains("::") {
            if s.split("::").all(|p| !p.is_empty() && is_ident(p)) {
                return s.split("::").collect();
            }
        } else if s.contains(['.', '$', '\\']) {
            let parts: Vec<&str> = s.split(['.', '$', '\\']).collect();
            if parts.iter().all(|p| is_ident(p)) && parts.iter().any(|p| !p.is_empty()) {
                return parts.into_iter().filter(|p| !p.is_empty()).collect();
            }
        }
        vec![s]
    }

    /// `test_x[1-2]` → (`test_x`, `Some("1-2")`); names without a trailing bracketed id, or with
    /// a space before the bracket, are left whole.
    pub(crate) fn split_parameter(name: &str) -> (&str, Option<&str>) {
        let Some(inner_end) = name.len().checked_sub(1).filter(|_| name.ends_with(']')) else {
            return (name, None);
        };
        let Some(open) = name.find('[') else {
            return (name, None);
        };
        let base = &name[..open];
        let id = name.get(open + 1..inner_end).unwrap_or("");
        if base.is_empty() || base.ends_with(char::is_whitespace) || id.is_empty() {
            return (name, None);
        }
        (base, Some(id))
    }
}

/// The hash `TestIdentity::hash64` gives, from its suite path and key: the top 16 bits come from
/// the suite and the other 48 from the whole key, so the tests of one suite sit together in the
/// store's index (inserting a new suite touches a few index pages, not one per test).
pub fn identity_hash(suite_path: &str, key: &str) -> u64 {
    const SUITE_BITS: u64 = 0xffff_0000_0000_0000;
    (fnv1a(suite_path) & SUITE_BITS) | (fnv1a(key) & !SUITE_BITS)
}

/// 64-bit FNV-1a: fast and well spread; not keyed (see SECURITY.md on identity collisions).
fn fnv1a(text: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_is_stable_and_unambiguous() {
        let a = TestIdentity::new(
            ["pkg", " Cls "],
            "test_x",
            [("b".into(), "2".into()), ("a".into(), "1".into())],
        );
        assert_eq!(a.key(), "pkg › Cls › test_x[a=1, b=2]");
        let b = TestIdentity::new(["pkg › Cls"], "test_x", []);
        assert_ne!(a.key(), b.key());
        assert_ne!(
            TestIdentity::new(["a"], "b", []).key(),
            TestIdentity::new(Vec::<String>::new(), "a › b", []).key()
        );
        assert_eq!(a.hash64(), a.clone().hash64());
        assert_eq!(a.hash64(), identity_hash(&a.suite_path(), &a.key()));
    }
}
