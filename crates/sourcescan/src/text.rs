//! What every scanner shares once it has found a test: line numbers, the title's `@T` id and
//! `@tags`, the capped source slice, and the limits that keep a hostile file cheap.

use crate::{FoundTest, MAX_SOURCE_BYTES, MAX_TESTS, ScanError};

/// Suite levels kept (the outermost ones).
pub(crate) const MAX_SUITE_DEPTH: usize = 32;
/// Bytes kept of one suite name.
pub(crate) const MAX_SUITE_NAME_BYTES: usize = 512;
/// Tags kept per test.
pub(crate) const MAX_TAGS: usize = 32;
/// Bytes kept of one tag.
pub(crate) const MAX_TAG_BYTES: usize = 128;

/// The results of one scan, and what the scanners need to make them.
pub(crate) struct Found<'a> {
    text: &'a str,
    line_starts: Vec<usize>,
    tests: Vec<FoundTest>,
    too_many: bool,
}

impl<'a> Found<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(memchr::memchr_iter(b'\n', text.as_bytes()).map(|i| i + 1));
        Found {
            text,
            line_starts,
            tests: Vec::new(),
            too_many: false,
        }
    }

    pub(crate) fn text(&self) -> &'a str {
        self.text
    }

    /// The 1-based line holding byte `offset`.
    fn line(&self, offset: usize) -> u32 {
        let line = self.line_starts.partition_point(|&start| start <= offset);
        u32::try_from(line).unwrap_or(u32::MAX)
    }

    /// Records a test; `false` once the file has too many, when the scanner should stop.
    pub(crate) fn push(&mut self, draft: Draft) -> bool {
        if self.tests.len() >= MAX_TESTS {
            self.too_many = true;
            return false;
        }
        let line = self.line(draft.name_at);
        let test = draft.finish(self.text, line);
        self.tests.push(test);
        true
    }

    pub(crate) fn into_result(self) -> Result<Vec<FoundTest>, ScanError> {
        if self.too_many {
            return Err(ScanError::TooManyTests { limit: MAX_TESTS });
        }
        Ok(self.tests)
    }
}

/// A test as a scanner sees it; `finish` derives the title, id and tags from the name.
pub(crate) struct Draft {
    pub suite: Vec<String>,
    pub name: String,
    /// A display name to take the title from instead of `name`.
    pub display: Option<String>,
    /// Byte offset of the name.
    pub name_at: usize,
    /// Byte range of the source.
    pub start: usize,
    pub end: usize,
    /// Tags from groups and attributes; the title's own come after.
    pub tags: Vec<String>,
    /// A case id from a tag, used when the title has none.
    pub case_id: Option<String>,
    pub skipped: bool,
    pub framework: &'static str,
}

impl Draft {
    pub(crate) fn new(name: String, name_at: usize, framework: &'static str) -> Self {
        Draft {
            suite: Vec::new(),
            name,
            display: None,
            name_at,
            start: name_at,
            end: name_at,
            tags: Vec::new(),
            case_id: None,
            skipped: false,
            framework,
        }
    }

    fn finish(self, text: &str, line: u32) -> FoundTest {
        let title = split_title(self.display.as_deref().unwrap_or(&self.name));
        let mut tags = self.tags;
        for tag in &title.tags {
            add_tag(&mut tags, tag);
        }
        FoundTest {
            suite: self.suite,
            name: self.name,
            line,
            source: snippet(text, self.start, self.end),
            case_id: title.case_id.or(self.case_id),
            title: title.text,
            tags,
            skipped: self.skipped,
            framework: self.framework,
        }
    }
}

/// `text[start..end]`, clamped to the text and to `MAX_SOURCE_BYTES`, on character boundaries.
pub(crate) fn snippet(text: &str, start: usize, end: usize) -> String {
    let end = end.min(text.len());
    let start = floor_boundary(text, start.min(end));
    let cut = floor_boundary(text, end.min(start.saturating_add(MAX_SOURCE_BYTES)));
    text.get(start..cut).unwrap_or_default().to_owned()
}

/// `s` cut to at most `max` bytes on a character boundary.
pub(crate) fn truncate(s: &str, max: usize) -> &str {
    s.get(..floor_boundary(s, max.min(s.len())))
        .unwrap_or_default()
}

fn floor_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// A suite being built while a scanner walks nested groups: levels past `MAX_SUITE_DEPTH` are
/// counted but not kept, so a deeply nested file costs no more per test than a flat one.
#[derive(Default)]
pub(crate) struct Suite {
    names: Vec<String>,
    depth: usize,
}

impl Suite {
    pub(crate) fn push(&mut self, name: &str) {
        if self.depth < MAX_SUITE_DEPTH {
            self.names
                .push(truncate(name, MAX_SUITE_NAME_BYTES).to_owned());
        }
        self.depth += 1;
    }

    pub(crate) fn pop(&mut self) {
        self.depth = self.depth.saturating_sub(1);
        self.names.truncate(self.depth.min(MAX_SUITE_DEPTH));
    }

    pub(crate) fn names(&self) -> Vec<String> {
        self.names.clone()
    }
}

/// A title taken apart.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Title {
    pub text: String,
    pub case_id: Option<String>,
    pub tags: Vec<String>,
}

/// Removes `@word`s (at the start or after whitespace or an opening bracket) from a title: the
/// first `@T` + 8 hex digits is the case id, any other is a tag.
pub(crate) fn split_title(raw: &str) -> Title {
    let mut kept = String::with_capacity(raw.len());
    let mut case_id = None;
    let mut tags = Vec::new();
    let mut rest = raw;
    let mut prev: Option<char> = None;
    while let Some(c) = rest.chars().next() {
        let after = &rest[c.len_utf8()..];
        let starts_word = prev.is_none_or(|p| p.is_whitespace() || matches!(p, '(' | '[' | '{'));
        if c == '@' && starts_word {
            let word_len = after
                .char_indices()
                .find(|&(_, w)| !is_tag_char(w))
                .map_or(after.len(), |(i, _)| i);
            let word = after[..word_len].trim_end_matches(['.', ':', '-']);
            if !word.is_empty() {
                if let Some(id) = case_id_of(word) {
                    if case_id.is_none() {
                        case_id = Some(id);
                    }
                } else {
                    add_tag(&mut tags, word);
                }
                kept.push(' ');
                rest = &after[word.len()..];
                prev = Some(' ');
                continue;
            }
        }
        kept.push(c);
        prev = Some(c);
        rest = after;
    }
    Title {
        text: kept.split_whitespace().collect::<Vec<_>>().join(" "),
        case_id,
        tags,
    }
}

fn is_tag_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ':')
}

/// `T1a2b3c4d` or `@T1a2b3c4d` (exactly 8 hex digits) → `1a2b3c4d`.
pub(crate) fn case_id_of(word: &str) -> Option<String> {
    let word = word.trim();
    let word = word.strip_prefix('@').unwrap_or(word);
    let hex = word.strip_prefix('T')?;
    (hex.len() == 8 && hex.bytes().all(|b| b.is_ascii_hexdigit())).then(|| hex.to_ascii_lowercase())
}

/// Adds a tag (leading `@` dropped) unless empty, already there, or over the limit.
pub(crate) fn add_tag(tags: &mut Vec<String>, tag: &str) {
    let tag = tag.trim();
    let tag = truncate(tag.strip_prefix('@').unwrap_or(tag).trim(), MAX_TAG_BYTES);
    if !tag.is_empty() && tags.len() < MAX_TAGS && !tags.iter().any(|t| t == tag) {
        tags.push(tag.to_owned());
    }
}

/// A value from a tag-like attribute: the case id when it is one (the first wins), else a tag.
pub(crate) fn add_tag_or_id(tags: &mut Vec<String>, case_id: &mut Option<String>, value: &str) {
    match case_id_of(value) {
        Some(id) => {
            if case_id.is_none() {
                *case_id = Some(id);
            }
        }
        None => add_tag(tags, value),
    }
}

/// Decodes the common backslash escapes of a string literal; an unknown escape keeps its
/// character, a broken `\u` keeps its text.
pub(crate) fn unescape(s: &str) -> String {
    if !s.contains('\\') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('0') => out.push('\0'),
            Some('\n') => {}
            Some(kind @ ('u' | 'x')) => {
                let rest = chars.as_str();
                match hex_escape(rest, kind) {
                    Some((decoded, used)) => {
                        out.push(decoded);
                        chars = rest.get(used..).unwrap_or_default().chars();
                    }
                    None => {
                        out.push('\\');
                        out.push(kind);
                    }
                }
            }
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

/// `\u{1F600}`, `\u00e9` or `\x41` after the letter: the character and the bytes it used.
fn hex_escape(rest: &str, kind: char) -> Option<(char, usize)> {
    let (digits, used) = if kind == 'u' && rest.starts_with('{') {
        let close = rest.bytes().take(10).position(|b| b == b'}')?;
        (rest.get(1..close)?, close + 1)
    } else {
        let n = if kind == 'u' { 4 } else { 2 };
        (rest.get(..n)?, n)
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let code = u32::from_str_radix(digits, 16).ok()?;
    Some((char::from_u32(code)?, used))
}

/// Whitespace runs collapsed to one space, cut to `max` bytes.
pub(crate) fn collapse(s: &str, max: usize) -> String {
    let joined = s.split_whitespace().collect::<Vec<_>>().join(" ");
    truncate(&joined, max).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_lose_their_id_and_tags() {
        let t = split_title("login works @T1A2B3C4D  @smoke, then (@slow) a@b.com");
        assert_eq!(t.text, "login works , then ( ) a@b.com");
        assert_eq!(t.case_id.as_deref(), Some("1a2b3c4d"));
        assert_eq!(t.tags, ["smoke", "slow"]);
    }

    #[test]
    fn only_the_first_id_counts_and_nine_digits_are_a_tag() {
        let t = split_title("@T00000001 x @T00000002 @T123456789");
        assert_eq!(t.case_id.as_deref(), Some("00000001"));
        assert_eq!(t.tags, ["T123456789"]);
        assert_eq!(t.text, "x");
    }

    #[test]
    fn a_lone_at_sign_stays() {
        assert_eq!(split_title("a @ b @").text, "a @ b @");
    }

    #[test]
    fn escapes_decode_and_broken_ones_stay() {
        assert_eq!(
            unescape(r"a\'b\n\u00e9\u{1F600}\x41\q\u12"),
            "a'b\né😀Aq\\u12"
        );
        assert_eq!(unescape("\\"), "\\");
    }

    #[test]
    fn snippets_cut_on_char_boundaries() {
        let s = "é".repeat(MAX_SOURCE_BYTES);
        let cut = snippet(&s, 0, s.len());
        assert!(cut.len() <= MAX_SOURCE_BYTES && cut.len() >= MAX_SOURCE_BYTES - 1);
        assert_eq!(snippet("abc", 5, 2), "");
    }

    #[test]
    fn deep_suites_keep_the_outer_levels() {
        let mut suite = Suite::default();
        for i in 0..MAX_SUITE_DEPTH + 5 {
            suite.push(&i.to_string());
        }
        assert_eq!(suite.names().len(), MAX_SUITE_DEPTH);
        for _ in 0..6 {
            suite.pop();
        }
        assert_eq!(suite.names().len(), MAX_SUITE_DEPTH - 1);
    }
}
