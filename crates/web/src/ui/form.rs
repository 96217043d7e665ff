//! A submitted form as its name/value pairs: repeated names (checkboxes, steps, multi-selects)
//! keep every value, which a struct cannot.

pub type Pairs = Vec<(String, String)>;

/// The first value named `name`.
pub fn first(pairs: &Pairs, name: &str) -> Option<String> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
}

/// The first value named `name`, unless it is blank.
pub fn filled(pairs: &Pairs, name: &str) -> Option<String> {
    first(pairs, name).filter(|v| !v.trim().is_empty())
}

/// Every value named `name`, in order.
pub fn all(pairs: &Pairs, name: &str) -> Vec<String> {
    pairs
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .collect()
}
