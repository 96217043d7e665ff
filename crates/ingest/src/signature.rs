//! Error signatures: a failure message with what changes from run to run taken out (numbers, hex
//! ids, UUIDs, paths, timestamps, quoted values), so the same failure clusters across tests and runs.
//! Also the normalised tokens for the keyed blind index (search by error text without storing it).

/// The normalised form of a failure message: lowercased, variable parts replaced by placeholders,
/// whitespace collapsed, at most 500 characters. Equal for "the same error".
pub fn normalise(message: &str) -> String {
    let mut out = String::with_capacity(message.len().min(512));
    for word in message.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&normalise_word(word));
        if out.len() >= 500 {
            break;
        }
    }
    let mut end = out.len().min(500);
    while !out.is_char_boundary(end) {
        end -= 1;
    }
    out.truncate(end);
    out
}

/// A 64-bit FNV-1a of `normalise(message)`: the signature stored with a result.
pub fn signature(message: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in normalise(message).bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The distinct words of `text`, normalised for search (lowercase, at least 3 characters, at most
/// 64 tokens): what the blind index keys.
pub fn search_tokens(text: &str) -> Vec<String> {
    let mut tokens: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric() && c != '_')
        .filter(|w| w.chars().count() >= 3)
        .map(str::to_lowercase)
        .collect();
    tokens.sort();
    tokens.dedup();
    tokens.truncate(64);
    tokens
}

fn normalise_word(word: &str) -> String {
    let lower = word.to_lowercase();
    let trimmed = lower.trim_matches(|c: char| matches!(c, ',' | ';' | ':' | '.' | '(' | ')'));
    if trimmed.contains('/') || trimmed.contains('\\') {
        return "<path>".into();
    }
    if looks_like_uuid(trimmed) {
        return "<id>".into();
    }
    if trimmed.starts_with("0x")
        && trimmed.len() > 2
        && trimmed[2..].chars().all(|c| c.is_ascii_hexdigit())
    {
        return "<hex>".into();
    }
    if (trimmed.starts_with('\'') && trimmed.ends_with('\'') && trimmed.len() >= 2)
        || (trimmed.starts_with('"') && trimmed.ends_with('"') && trimmed.len() >= 2)
    {
        return "<str>".into();
    }
    // Digits anywhere (numbers, times, dates, long hex): each run of digits becomes one `#`.
    let mut out = String::with_capacity(lower.len());
    let mut in_digits = false;
    let hexish = trimmed.len() >= 8
        && trimmed.chars().all(|c| c.is_ascii_hexdigit())
        && trimmed.chars().any(|c| c.is_ascii_digit());
    if hexish {
        return "<hex>".into();
    }
    for c in lower.chars() {
        if c.is_ascii_digit() {
            if !in_digits {
                out.push('#');
            }
            in_digits = true;
        } else {
            in_digits = false;
            out.push(c);
        }
    }
    out
}

fn looks_like_uuid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                c == '-'
            } else {
                c.is_ascii_hexdigit()
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_failure_gets_the_same_signature() {
        let a = "AssertionError: expected 200 but got 503 at /home/ci/build/123/app.py:41 (2026-11-22T10:00:01Z)";
        let b =
            "AssertionError: expected 200 but got 503 at /tmp/x/app.py:57 (2026-11-23T11:30:00Z)";
        assert_eq!(signature(a), signature(b));
        assert_ne!(signature(a), signature("AssertionError: expected a list"));
        assert_eq!(
            normalise(
                "Timeout after 3000ms waiting for 'button#save' id 0xdeadbeef 123e4567-e89b-12d3-a456-426614174000"
            ),
            "timeout after #ms waiting for <str> id <hex> <id>"
        );
    }

    #[test]
    fn tokens_are_distinct_lowercase_words() {
        assert_eq!(
            search_tokens("Connection REFUSED: connection to db"),
            vec!["connection", "refused"]
        );
    }
}
