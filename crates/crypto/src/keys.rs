//! The key hierarchy. A master key (never in the database) wraps one data key per org; data keys
//! seal values bound to their place (org, table, column, row), so a ciphertext copied to another
//! row or tenant does not open. Deleting an org's wrapped key makes its sealed data unreadable.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::{digest, hmac};
use zeroize::Zeroizing;

const KEY_LEN: usize = 32;
/// First byte of every sealed value and wrapped key, so the format can change later.
const FORMAT_V1: u8 = 1;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CryptoError {
    #[error("the system random number generator failed")]
    Random,
    #[error("password hashing failed")]
    PasswordHash,
    #[error("the master key must be 64 hex characters (32 random bytes)")]
    MasterKeyFormat,
    #[error("the master key is weak: {0}")]
    MasterKeyWeak(&'static str),
    #[error("a sealed value or wrapped key failed to open (wrong key, wrong place, or tampered)")]
    Open,
    #[error("sealing failed")]
    Seal,
}

/// Where a sealed value lives; bound into the ciphertext as associated data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealPlace<'a> {
    pub org: &'a str,
    pub table: &'a str,
    pub column: &'a str,
    pub row: &'a str,
}

impl SealPlace<'_> {
    fn aad(&self) -> Vec<u8> {
        // Length-prefixed, so ("a|b", "c") and ("a", "b|c") differ.
        let mut out = b"testvault/seal/v1".to_vec();
        for part in [self.org, self.table, self.column, self.row] {
            out.extend_from_slice(&(part.len() as u32).to_be_bytes());
            out.extend_from_slice(part.as_bytes());
        }
        out
    }
}

fn random_key() -> Result<Zeroizing<[u8; KEY_LEN]>, CryptoError> {
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    aws_lc_rs::rand::fill(key.as_mut()).map_err(|_| CryptoError::Random)?;
    Ok(key)
}

fn seal_with(key: &[u8], aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).map_err(|_| CryptoError::Seal)?);
    let mut nonce = [0u8; NONCE_LEN];
    aws_lc_rs::rand::fill(&mut nonce).map_err(|_| CryptoError::Random)?;
    let mut in_out = plaintext.to_vec();
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::from(aad),
        &mut in_out,
    )
    .map_err(|_| CryptoError::Seal)?;
    let mut out = Vec::with_capacity(1 + NONCE_LEN + in_out.len());
    out.push(FORMAT_V1);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&in_out);
    Ok(out)
}

fn open_with(key: &[u8], aad: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    if sealed.len() < 1 + NONCE_LEN || sealed[0] != FORMAT_V1 {
        return Err(CryptoError::Open);
    }
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).map_err(|_| CryptoError::Open)?);
    let nonce = Nonce::try_assume_unique_for_key(&sealed[1..1 + NONCE_LEN])
        .map_err(|_| CryptoError::Open)?;
    let mut in_out = Zeroizing::new(sealed[1 + NONCE_LEN..].to_vec());
    let len = key
        .open_in_place(nonce, Aad::from(aad), in_out.as_mut_slice())
        .map_err(|_| CryptoError::Open)?
        .len();
    in_out.truncate(len);
    Ok(in_out)
}

/// The root of the hierarchy: wraps data keys and keys the SQLCipher database.
pub struct MasterKey {
    key: Zeroizing<[u8; KEY_LEN]>,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MasterKey(id={})", self.id())
    }
}

impl MasterKey {
    pub fn generate() -> Result<Self, CryptoError> {
        Ok(Self { key: random_key()? })
    }

    /// Parses 64 hex characters and refuses keys that cannot have come from a random generator.
    pub fn from_hex(text: &str) -> Result<Self, CryptoError> {
        let bytes =
            Zeroizing::new(crate::hex::decode(text.trim()).ok_or(CryptoError::MasterKeyFormat)?);
        let arr: [u8; KEY_LEN] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| CryptoError::MasterKeyFormat)?;
        let key = Zeroizing::new(arr);
        let mut distinct = [false; 256];
        for b in key.iter() {
            distinct[usize::from(*b)] = true;
        }
        // 32 random bytes have ~30 distinct values; fewer than 16 means a pattern, not randomness.
        if distinct.iter().filter(|d| **d).count() < 16 {
            return Err(CryptoError::MasterKeyWeak(
                "too few distinct bytes; generate one with `openssl rand -hex 32`",
            ));
        }
        Ok(Self { key })
    }

    pub fn to_hex(&self) -> Zeroizing<String> {
        Zeroizing::new(crate::hex::encode(self.key.as_ref()))
    }

    /// A short public fingerprint, stored beside wrapped keys to tell which master key wrapped them.
    pub fn id(&self) -> String {
        let d = digest::digest(&digest::SHA256, self.key.as_ref());
        crate::hex::encode(&d.as_ref()[..6])
    }

    /// The raw SQLCipher key (`x'<64 hex>'`), derived so the master key itself never reaches SQLite.
    pub fn sqlcipher_key(&self) -> Zeroizing<String> {
        let k = hmac::Key::new(hmac::HMAC_SHA256, self.key.as_ref());
        let tag = hmac::sign(&k, b"testvault/sqlcipher/v1");
        Zeroizing::new(format!("\"x'{}'\"", crate::hex::encode(tag.as_ref())))
    }

    /// A keyed hash for values that must be looked up but not read (e.g. throttle keys).
    pub fn keyed_hash(&self, purpose: &str, value: &str) -> Vec<u8> {
        let k = hmac::Key::new(hmac::HMAC_SHA256, self.key.as_ref());
        let mut ctx = hmac::Context::with_key(&k);
        ctx.update(purpose.as_bytes());
        ctx.update(&[0]);
        ctx.update(value.as_bytes());
        ctx.sign().as_ref().to_vec()
    }

    /// The key that seals what belongs to the instance rather than to one org (users' TOTP
    /// secrets), derived so the master key itself seals nothing but data keys.
    pub fn instance_key(&self) -> DataKey {
        let k = hmac::Key::new(hmac::HMAC_SHA256, self.key.as_ref());
        let tag = hmac::sign(&k, b"testvault/instance-data-key/v1");
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        key.copy_from_slice(&tag.as_ref()[..KEY_LEN]);
        DataKey { key }
    }

    pub fn wrap(&self, data_key: &DataKey, org: &str) -> Result<WrappedKey, CryptoError> {
        seal_with(self.key.as_ref(), &wrap_aad(org), data_key.key.as_ref()).map(WrappedKey)
    }

    pub fn unwrap(&self, wrapped: &WrappedKey, org: &str) -> Result<DataKey, CryptoError> {
        let bytes = open_with(self.key.as_ref(), &wrap_aad(org), &wrapped.0)?;
        let arr: [u8; KEY_LEN] = bytes.as_slice().try_into().map_err(|_| CryptoError::Open)?;
        Ok(DataKey {
            key: Zeroizing::new(arr),
        })
    }
}

fn wrap_aad(org: &str) -> Vec<u8> {
    format!("testvault/org-data-key/v1/{org}").into_bytes()
}

/// A data key as stored: sealed by the master key, bound to its org.
#[derive(Clone, PartialEq, Eq)]
pub struct WrappedKey(pub Vec<u8>);

impl std::fmt::Debug for WrappedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WrappedKey({} bytes)", self.0.len())
    }
}

/// One org's data key, in memory only while in use.
pub struct DataKey {
    key: Zeroizing<[u8; KEY_LEN]>,
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(<redacted>)")
    }
}

impl DataKey {
    pub fn generate() -> Result<Self, CryptoError> {
        Ok(Self { key: random_key()? })
    }

    pub fn seal(&self, place: &SealPlace<'_>, plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        seal_with(self.key.as_ref(), &place.aad(), plaintext)
    }

    pub fn open(
        &self,
        place: &SealPlace<'_>,
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        open_with(self.key.as_ref(), &place.aad(), sealed)
    }
}

impl DataKey {
    /// A prepared AES-256-GCM key for sealing many values (the ingest hot path): the same
    /// format and binding as `seal`, without a key schedule per value.
    pub fn sealer(&self) -> Result<Sealer, CryptoError> {
        Ok(Sealer(LessSafeKey::new(
            UnboundKey::new(&AES_256_GCM, self.key.as_ref()).map_err(|_| CryptoError::Seal)?,
        )))
    }

    /// The org's blind-index key: derived from the data key (so it is shredded with it) but
    /// distinct from it, for keyed hashes of words that must be searchable but not readable.
    pub fn blind_index(&self) -> BlindIndex {
        let k = hmac::Key::new(hmac::HMAC_SHA256, self.key.as_ref());
        let derived = Zeroizing::new(
            hmac::sign(&k, b"testvault/blind-index/v1")
                .as_ref()
                .to_vec(),
        );
        BlindIndex(hmac::Key::new(hmac::HMAC_SHA256, &derived))
    }
}

/// See `DataKey::sealer`.
pub struct Sealer(LessSafeKey);

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(<redacted>)")
    }
}

impl Sealer {
    pub fn seal(&self, place: &SealPlace<'_>, plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let mut nonce = [0u8; NONCE_LEN];
        aws_lc_rs::rand::fill(&mut nonce).map_err(|_| CryptoError::Random)?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + plaintext.len() + 16);
        out.push(FORMAT_V1);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(plaintext);
        let tag = self
            .0
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(place.aad()),
                &mut out[1 + NONCE_LEN..],
            )
            .map_err(|_| CryptoError::Seal)?;
        out.extend_from_slice(tag.as_ref());
        Ok(out)
    }
}

/// See `DataKey::blind_index`.
pub struct BlindIndex(hmac::Key);

impl std::fmt::Debug for BlindIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BlindIndex(<redacted>)")
    }
}

impl BlindIndex {
    /// 128 bits of HMAC-SHA-256 of a normalised word.
    pub fn term(&self, word: &str) -> [u8; 16] {
        let tag = hmac::sign(&self.0, word.as_bytes());
        let mut out = [0u8; 16];
        out.copy_from_slice(&tag.as_ref()[..16]);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealer_output_opens_like_seal_and_is_bound_to_its_place() {
        let key = DataKey::generate().expect("key");
        let sealer = key.sealer().expect("sealer");
        let here = SealPlace {
            org: "o",
            table: "results",
            column: "details",
            row: "r1",
        };
        let there = SealPlace {
            row: "r2",
            ..here.clone()
        };
        let sealed = sealer.seal(&here, b"stack trace").expect("seal");
        assert_eq!(
            key.open(&here, &sealed).expect("open").as_slice(),
            b"stack trace"
        );
        assert!(key.open(&there, &sealed).is_err());
        let index = key.blind_index();
        assert_eq!(index.term("timeout"), index.term("timeout"));
        assert_ne!(
            index.term("timeout"),
            DataKey::generate()
                .expect("key")
                .blind_index()
                .term("timeout")
        );
    }

    fn place<'a>(org: &'a str, row: &'a str) -> SealPlace<'a> {
        SealPlace {
            org,
            table: "projects",
            column: "description",
            row,
        }
    }

    #[test]
    fn sealed_value_opens_only_in_its_place() -> Result<(), CryptoError> {
        let key = DataKey::generate()?;
        let sealed = key.seal(&place("org-a", "row-1"), b"canary text")?;
        assert!(!sealed.windows(6).any(|w| w == b"canary"));
        assert_eq!(
            key.open(&place("org-a", "row-1"), &sealed)?.as_slice(),
            b"canary text"
        );
        assert_eq!(
            key.open(&place("org-a", "row-2"), &sealed).err(),
            Some(CryptoError::Open)
        );
        assert_eq!(
            key.open(&place("org-b", "row-1"), &sealed).err(),
            Some(CryptoError::Open)
        );
        let other = SealPlace {
            column: "name",
            ..place("org-a", "row-1")
        };
        assert_eq!(key.open(&other, &sealed).err(), Some(CryptoError::Open));
        let mut tampered = sealed.clone();
        if let Some(last) = tampered.last_mut() {
            *last ^= 1;
        }
        assert_eq!(
            key.open(&place("org-a", "row-1"), &tampered).err(),
            Some(CryptoError::Open)
        );
        Ok(())
    }

    #[test]
    fn another_orgs_key_cannot_open() -> Result<(), CryptoError> {
        let a = DataKey::generate()?;
        let b = DataKey::generate()?;
        let sealed = a.seal(&place("org-a", "r"), b"x")?;
        assert!(b.open(&place("org-a", "r"), &sealed).is_err());
        Ok(())
    }

    #[test]
    fn wrapped_key_is_bound_to_org_and_master() -> Result<(), CryptoError> {
        let master = MasterKey::generate()?;
        let other_master = MasterKey::generate()?;
        let dk = DataKey::generate()?;
        let wrapped = master.wrap(&dk, "org-a")?;
        let back = master.unwrap(&wrapped, "org-a")?;
        let sealed = dk.seal(&place("org-a", "r"), b"v")?;
        assert_eq!(back.open(&place("org-a", "r"), &sealed)?.as_slice(), b"v");
        assert!(master.unwrap(&wrapped, "org-b").is_err());
        assert!(other_master.unwrap(&wrapped, "org-a").is_err());
        Ok(())
    }

    #[test]
    fn master_key_parsing_refuses_weak_keys() -> Result<(), CryptoError> {
        assert_eq!(
            MasterKey::from_hex("abcd").err(),
            Some(CryptoError::MasterKeyFormat)
        );
        assert!(matches!(
            MasterKey::from_hex(&"00".repeat(32)),
            Err(CryptoError::MasterKeyWeak(_))
        ));
        assert!(matches!(
            MasterKey::from_hex(&"0123456789abcdef".repeat(4)),
            Err(CryptoError::MasterKeyWeak(_))
        ));
        let k = MasterKey::generate()?;
        let again = MasterKey::from_hex(&k.to_hex())?;
        assert_eq!(k.id(), again.id());
        assert!(!format!("{k:?}").contains(k.to_hex().as_str()));
        Ok(())
    }
}
