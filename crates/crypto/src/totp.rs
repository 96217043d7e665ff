//! Time-based one-time passwords (RFC 6238, HMAC-SHA1, 6 digits, 30-second steps) for two-factor
//! sign-in, and the one-use recovery codes that stand in when the authenticator is lost.
//!
//! Pure functions: the caller stores the secret (sealed) and the last step accepted, and passes the
//! clock in, so replay protection and tests need no time source here. SHA-1 is what every
//! authenticator app implements; HMAC-SHA1 remains sound for this use.

use aws_lc_rs::hmac;
use zeroize::Zeroizing;

use crate::CryptoError;

/// Length of a freshly generated secret: 160 bits, the HMAC-SHA1 block output size (RFC 4226 §4).
const SECRET_LEN: usize = 20;
/// Seconds per time step.
pub const PERIOD_SECS: u64 = 30;
/// Digits in a code.
pub const DIGITS: usize = 6;
/// Steps either side of the current one that are still accepted (clock drift, slow typing).
const WINDOW: u64 = 1;

const BASE32_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// The shared key between the server and the user's authenticator.
pub struct TotpSecret(Zeroizing<Vec<u8>>);

impl std::fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSecret(<redacted>)")
    }
}

impl TotpSecret {
    /// 20 bytes from the system CSPRNG.
    pub fn generate() -> Result<Self, CryptoError> {
        let mut bytes = Zeroizing::new(vec![0u8; SECRET_LEN]);
        aws_lc_rs::rand::fill(bytes.as_mut_slice()).map_err(|_| CryptoError::Random)?;
        Ok(Self(bytes))
    }

    /// A secret as stored (after unsealing).
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(Zeroizing::new(bytes))
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// RFC 4648 base32, uppercase, unpadded: what authenticator apps take when typed in by hand.
    /// It is the secret: show it once, never log it.
    pub fn to_base32(&self) -> String {
        base32_encode(&self.0)
    }

    /// Parses base32 as a person might type or paste it: any case, spaces anywhere, with or
    /// without `=` padding. `None` for an empty secret or anything that is not base32.
    pub fn from_base32(text: &str) -> Option<Self> {
        let bytes = base32_decode(text)?;
        (!bytes.is_empty()).then_some(Self(bytes))
    }
}

fn base32_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let mut buffer: u32 = 0;
    let mut bits: u32 = 0;
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(
                BASE32_ALPHABET[((buffer >> bits) & 31) as usize],
            ));
        }
        buffer &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(char::from(
            BASE32_ALPHABET[((buffer << (5 - bits)) & 31) as usize],
        ));
    }
    out
}

fn base32_value(c: u8) -> Option<u32> {
    match c.to_ascii_uppercase() {
        c @ b'A'..=b'Z' => Some(u32::from(c - b'A')),
        c @ b'2'..=b'7' => Some(u32::from(c - b'2') + 26),
        _ => None,
    }
}

fn base32_decode(text: &str) -> Option<Zeroizing<Vec<u8>>> {
    let mut out = Zeroizing::new(Vec::with_capacity(text.len() * 5 / 8));
    let mut buffer: u32 = 0;
    let mut bits: u32 = 0;
    let mut symbols = 0usize;
    let mut padding = false;
    for c in text.bytes() {
        if c.is_ascii_whitespace() {
            continue;
        }
        if c == b'=' {
            padding = true;
            continue;
        }
        // Padding only at the end.
        if padding {
            return None;
        }
        buffer = (buffer << 5) | base32_value(c)?;
        bits += 5;
        symbols += 1;
        if bits >= 8 {
            bits -= 8;
            out.push(((buffer >> bits) & 0xff) as u8);
        }
        buffer &= (1 << bits) - 1;
    }
    // A final group of 1, 3 or 6 symbols cannot come from whole bytes.
    if matches!(symbols % 8, 1 | 3 | 6) {
        return None;
    }
    Some(out)
}

/// Percent-encodes all but RFC 3986's unreserved characters.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(b"0123456789ABCDEF"[usize::from(b >> 4)]));
            out.push(char::from(b"0123456789ABCDEF"[usize::from(b & 15)]));
        }
    }
    out
}

/// The Key URI an authenticator app scans:
/// `otpauth://totp/{issuer}:{account}?secret=…&issuer=…&algorithm=SHA1&digits=6&period=30`.
/// It contains the secret: show it once, never log it.
pub fn otpauth_uri(secret: &TotpSecret, issuer: &str, account: &str) -> String {
    let issuer = percent_encode(issuer);
    format!(
        "otpauth://totp/{issuer}:{account}?secret={secret}&issuer={issuer}&algorithm=SHA1&digits={DIGITS}&period={PERIOD_SECS}",
        account = percent_encode(account),
        secret = Zeroizing::new(secret.to_base32()).as_str(),
    )
}

/// The 6-digit code for one time step (RFC 4226 HOTP with the step as counter).
pub fn code_at(secret: &TotpSecret, step: u64) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret.as_bytes());
    let tag = hmac::sign(&key, &step.to_be_bytes());
    let mac = tag.as_ref();
    // Dynamic truncation (RFC 4226 §5.3): the low nibble of the last byte picks 4 bytes.
    let offset = usize::from(mac[mac.len() - 1] & 0x0f);
    let binary = u32::from_be_bytes([
        mac[offset],
        mac[offset + 1],
        mac[offset + 2],
        mac[offset + 3],
    ]) & 0x7fff_ffff;
    format!("{:0width$}", binary % 1_000_000, width = DIGITS)
}

/// The time step a Unix time falls in; 0 before the epoch.
pub fn step_of(unix_secs: i64) -> u64 {
    u64::try_from(unix_secs).unwrap_or(0) / PERIOD_SECS
}

/// Checks a presented code against the steps around `unix_secs` (one either side) and returns the
/// step it matched, to be stored as the new `last_used_step`. A step at or before
/// `last_used_step` is never accepted, so each code works once. Spaces are ignored; anything but
/// exactly 6 digits is refused.
pub fn verify(
    secret: &TotpSecret,
    code: &str,
    unix_secs: i64,
    last_used_step: Option<u64>,
) -> Option<u64> {
    let presented: Zeroizing<Vec<u8>> =
        Zeroizing::new(code.bytes().filter(|b| !b.is_ascii_whitespace()).collect());
    if presented.len() != DIGITS || !presented.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let now = step_of(unix_secs);
    let mut matched = None;
    // Every candidate is computed and compared, so timing says nothing about which one matched.
    for step in now.saturating_sub(WINDOW)..=now.saturating_add(WINDOW) {
        let expected = Zeroizing::new(code_at(secret, step));
        let equal = aws_lc_rs::constant_time::verify_slices_are_equal(
            expected.as_bytes(),
            presented.as_slice(),
        )
        .is_ok();
        let fresh = last_used_step.is_none_or(|last| step > last);
        if equal && fresh {
            matched = Some(step);
        }
    }
    matched
}

/// Recovery-code alphabet: lowercase letters and digits less the look-alikes 0/o, 1/l/i.
const RECOVERY_ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
const RECOVERY_LEN: usize = 10;

/// `n` distinct one-use recovery codes, `xxxxx-xxxxx` (10 characters, ~49 bits each). Store only
/// `TokenHash::of(&normalise_recovery_code(code))`.
pub fn recovery_codes(n: usize) -> Result<Vec<String>, CryptoError> {
    let alphabet_len = RECOVERY_ALPHABET.len();
    // Bytes at or above this are redrawn, so every character is equally likely.
    let limit = 256 - 256 % alphabet_len;
    let mut codes: Vec<String> = Vec::with_capacity(n);
    let mut raw = Zeroizing::new([0u8; 64]);
    while codes.len() < n {
        let mut code = String::with_capacity(RECOVERY_LEN + 1);
        let mut chars = 0;
        while chars < RECOVERY_LEN {
            aws_lc_rs::rand::fill(raw.as_mut()).map_err(|_| CryptoError::Random)?;
            for &b in raw.iter() {
                if chars == RECOVERY_LEN {
                    break;
                }
                if usize::from(b) >= limit {
                    continue;
                }
                if chars == RECOVERY_LEN / 2 {
                    code.push('-');
                }
                code.push(char::from(RECOVERY_ALPHABET[usize::from(b) % alphabet_len]));
                chars += 1;
            }
        }
        if !codes.contains(&code) {
            codes.push(code);
        }
    }
    Ok(codes)
}

/// What a typed recovery code is hashed as: lowercase, without spaces or dashes.
pub fn normalise_recovery_code(code: &str) -> String {
    code.chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rfc_secret() -> TotpSecret {
        TotpSecret::from_bytes(b"12345678901234567890".to_vec())
    }

    #[test]
    fn rfc6238_sha1_vectors() {
        let secret = rfc_secret();
        for (t, eight) in [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            assert_eq!(code_at(&secret, step_of(t)), eight[2..], "T={t}");
            assert_eq!(verify(&secret, &eight[2..], t, None), Some(step_of(t)));
        }
    }

    #[test]
    fn step_of_counts_30_second_steps_from_the_epoch() {
        assert_eq!(step_of(0), 0);
        assert_eq!(step_of(29), 0);
        assert_eq!(step_of(30), 1);
        assert_eq!(step_of(59), 1);
        assert_eq!(step_of(-1), 0);
        assert_eq!(step_of(i64::MIN), 0);
    }

    #[test]
    fn base32_matches_rfc4648_and_round_trips() -> Result<(), CryptoError> {
        for (plain, encoded) in [
            ("", ""),
            ("f", "MY"),
            ("fo", "MZXQ"),
            ("foo", "MZXW6"),
            ("foob", "MZXW6YQ"),
            ("fooba", "MZXW6YTB"),
            ("foobar", "MZXW6YTBOI"),
        ] {
            assert_eq!(base32_encode(plain.as_bytes()), encoded);
            assert_eq!(
                base32_decode(encoded).map(|b| b.to_vec()),
                Some(plain.as_bytes().to_vec())
            );
        }
        // As typed or pasted: lowercase, grouped, padded.
        let foobar = TotpSecret::from_base32(" mzxw 6ytb oi====== ").map(|s| s.as_bytes().to_vec());
        assert_eq!(foobar, Some(b"foobar".to_vec()));
        assert_eq!(
            TotpSecret::from_base32("MZXW6YQ=").map(|s| s.as_bytes().to_vec()),
            Some(b"foob".to_vec())
        );
        // Not base32, padding in the middle, impossible lengths, empty.
        for bad in [
            "MZXW6YTB0I",
            "MZ=XW",
            "M",
            "MZX",
            "MZXW6Y",
            "",
            "  ",
            "====",
        ] {
            assert!(TotpSecret::from_base32(bad).is_none(), "{bad:?}");
        }

        let secret = TotpSecret::generate()?;
        assert_eq!(secret.as_bytes().len(), 20);
        let text = Zeroizing::new(secret.to_base32());
        assert_eq!(text.len(), 32);
        assert!(text.bytes().all(|b| BASE32_ALPHABET.contains(&b)));
        let back = TotpSecret::from_base32(&text).map(|s| s.as_bytes().to_vec());
        assert_eq!(back.as_deref(), Some(secret.as_bytes()));
        let lower = TotpSecret::from_base32(&text.to_lowercase()).map(|s| s.as_bytes().to_vec());
        assert_eq!(lower.as_deref(), Some(secret.as_bytes()));
        assert_ne!(TotpSecret::generate()?.as_bytes(), secret.as_bytes());
        Ok(())
    }

    #[test]
    fn otpauth_uri_encodes_label_and_issuer() {
        let secret = TotpSecret::from_bytes(b"foobar".to_vec());
        assert_eq!(
            otpauth_uri(&secret, "Testvault", "ann@example.com"),
            "otpauth://totp/Testvault:ann%40example.com?secret=MZXW6YTBOI&issuer=Testvault\
             &algorithm=SHA1&digits=6&period=30"
        );
        assert_eq!(
            otpauth_uri(&secret, "Acme Q&A", "a:b/c?d é~"),
            "otpauth://totp/Acme%20Q%26A:a%3Ab%2Fc%3Fd%20%C3%A9~?secret=MZXW6YTBOI\
             &issuer=Acme%20Q%26A&algorithm=SHA1&digits=6&period=30"
        );
    }

    #[test]
    fn window_is_one_step_either_side() {
        let secret = rfc_secret();
        let now = 1_234_567_890;
        let step = step_of(now);
        for accepted in [step - 1, step, step + 1] {
            assert_eq!(
                verify(&secret, &code_at(&secret, accepted), now, None),
                Some(accepted)
            );
        }
        for refused in [step - 2, step + 2] {
            assert_eq!(verify(&secret, &code_at(&secret, refused), now, None), None);
        }
        // Near the epoch the window does not wrap.
        assert_eq!(verify(&secret, &code_at(&secret, 0), 0, None), Some(0));
        assert_eq!(verify(&secret, &code_at(&secret, u64::MAX), 0, None), None);
        // Another secret's code does not pass.
        let other = TotpSecret::from_bytes(b"09876543210987654321".to_vec());
        assert_eq!(verify(&other, &code_at(&secret, step), now, None), None);
    }

    #[test]
    fn a_step_is_usable_once() {
        let secret = rfc_secret();
        let now = 1_234_567_890;
        let step = step_of(now);
        let code = code_at(&secret, step);
        let used = verify(&secret, &code, now, None);
        assert_eq!(used, Some(step));
        assert_eq!(verify(&secret, &code, now, used), None);
        assert_eq!(verify(&secret, &code, now + 10, used), None);
        // An older code is refused once a later step was used, a newer one still passes.
        assert_eq!(
            verify(&secret, &code_at(&secret, step - 1), now, used),
            None
        );
        assert_eq!(
            verify(&secret, &code_at(&secret, step + 1), now, used),
            Some(step + 1)
        );
    }

    #[test]
    fn malformed_codes_are_refused_and_spaces_ignored() {
        let secret = rfc_secret();
        let now = 59;
        assert_eq!(verify(&secret, " 287 082 ", now, None), Some(1));
        assert_eq!(verify(&secret, "287082\n", now, None), Some(1));
        for bad in [
            "12345", "1234567", "12a456", "", "      ", "2870820", "28708", "-87082", "２87082",
            "287082x",
        ] {
            assert_eq!(verify(&secret, bad, now, None), None, "{bad:?}");
        }
    }

    #[test]
    fn debug_hides_the_secret() -> Result<(), CryptoError> {
        let secret = TotpSecret::generate()?;
        let shown = format!("{secret:?}");
        assert_eq!(shown, "TotpSecret(<redacted>)");
        assert!(!shown.contains(&secret.to_base32()));
        assert!(!shown.contains(&crate::hex::encode(secret.as_bytes())));
        Ok(())
    }

    #[test]
    fn recovery_codes_are_unique_unambiguous_and_normalise() -> Result<(), CryptoError> {
        let codes = recovery_codes(10)?;
        assert_eq!(codes.len(), 10);
        let mut seen = std::collections::HashSet::new();
        for code in &codes {
            assert!(seen.insert(code.clone()), "duplicate {code}");
            assert_eq!(code.len(), 11);
            let (a, b) = code.split_once('-').unwrap_or_default();
            assert_eq!((a.len(), b.len()), (5, 5), "{code}");
            assert!(
                a.bytes()
                    .chain(b.bytes())
                    .all(|c| RECOVERY_ALPHABET.contains(&c)),
                "{code}"
            );
            assert!(
                !code.contains(['0', 'o', 'O', '1', 'l', 'I', 'i']),
                "{code}"
            );
            let normal = normalise_recovery_code(code);
            assert_eq!(normal, format!("{a}{b}"));
            // What a person might type still hashes the same.
            let typed = format!(" {} - {} ", a.to_uppercase(), b);
            assert_eq!(normalise_recovery_code(&typed), normal);
            assert_eq!(
                crate::TokenHash::of(&normalise_recovery_code(&typed)),
                crate::TokenHash::of(&normal)
            );
        }
        assert!(recovery_codes(0)?.is_empty());
        assert_ne!(recovery_codes(1)?, recovery_codes(1)?);
        Ok(())
    }
}
