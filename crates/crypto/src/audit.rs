//! The audit chain: each event's hash covers the previous event's hash and every field of the
//! event, so editing, deleting, inserting or reordering events breaks the chain.

use aws_lc_rs::digest;

/// The hash that starts every org's chain.
pub const GENESIS: [u8; 32] = [0u8; 32];

/// SHA-256 over the previous hash and the fields, each length-prefixed so field boundaries
/// cannot be shifted.
pub fn chain_hash(prev: &[u8], fields: &[&str]) -> Vec<u8> {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(b"testvault/audit/v1");
    ctx.update(&(prev.len() as u64).to_be_bytes());
    ctx.update(prev);
    for f in fields {
        ctx.update(&(f.len() as u64).to_be_bytes());
        ctx.update(f.as_bytes());
    }
    ctx.finish().as_ref().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_change_changes_the_hash() {
        let a = chain_hash(&GENESIS, &["org", "1", "project.created"]);
        assert_eq!(a, chain_hash(&GENESIS, &["org", "1", "project.created"]));
        assert_ne!(a, chain_hash(&GENESIS, &["org", "1", "project.deleted"]));
        assert_ne!(
            a,
            chain_hash(&GENESIS, &["org1", "", "project.created"]),
            "boundaries count"
        );
        assert_ne!(a, chain_hash(&a, &["org", "1", "project.created"]));
    }
}
