//! Python: pytest's default collection, read statically — `test*` functions at module level and
//! in `Test*` classes (or `…TestCase` subclasses), nested classes included. Its own small lexer
//! turns the file into logical lines (strings, comments, brackets and `\` continuations
//! understood) whose indentation gives the blocks.

use crate::lexer::{Flavor, Kind, Token, Tokens, line_end, quoted};
use crate::text::{self, Draft, Found, Suite};

/// pytest's own marks: they configure a test rather than tag it.
const BUILTIN_MARKS: &[&str] = &[
    "skip",
    "skipif",
    "xfail",
    "parametrize",
    "usefixtures",
    "filterwarnings",
];

/// A logical line: its first token's indentation and its tokens `first..last`.
#[derive(Clone, Copy)]
struct Line {
    indent: u32,
    first: usize,
    last: usize,
}

/// What decorators say about a test or a class.
#[derive(Clone, Default)]
struct Marks {
    tags: Vec<String>,
    case_id: Option<String>,
    skipped: bool,
}

enum Frame {
    Class { collect: bool, marks: Marks },
    Def,
}

pub(crate) fn scan(out: &mut Found<'_>) {
    let src = out.text();
    let (t, lines) = lex(src);
    let mut frames: Vec<(u32, Frame)> = Vec::new();
    let mut suite = Suite::default();
    let mut decorators: Vec<usize> = Vec::new();
    for (k, line) in lines.iter().enumerate() {
        while frames
            .last()
            .is_some_and(|(indent, _)| *indent >= line.indent)
        {
            if let Some((_, Frame::Class { collect: true, .. })) = frames.pop() {
                suite.pop();
            }
        }
        if t.punct(line.first, b'@') {
            decorators.push(k);
            continue;
        }
        let (parent_collects, parent_marks) = match frames.last() {
            None => (true, Marks::default()),
            Some((_, Frame::Class { collect, marks })) => (*collect, marks.clone()),
            Some((_, Frame::Def)) => (false, Marks::default()),
        };
        let def = if t.is_ident(line.first, "async") {
            line.first + 1
        } else {
            line.first
        };
        if t.is_ident(def, "def") {
            if let Some(name) = t.ident(def + 1)
                && parent_collects
                && name.starts_with("test")
            {
                let mut marks = parent_marks;
                for &d in &decorators {
                    read_decorator(&t, lines[d], &mut marks);
                }
                let mut draft = Draft::new(name.to_owned(), t.start(def + 1), "pytest");
                draft.suite = suite.names();
                draft.start = decorators
                    .first()
                    .map_or(t.start(line.first), |&d| t.start(lines[d].first));
                draft.end = body_end(src, &t, &lines, k);
                draft.tags = marks.tags;
                draft.case_id = marks.case_id;
                draft.skipped = marks.skipped;
                if !out.push(draft) {
                    return;
                }
            }
            frames.push((line.indent, Frame::Def));
        } else if t.is_ident(line.first, "class")
            && let Some(name) = t.ident(line.first + 1)
        {
            let collect = parent_collects && (name.starts_with("Test") || is_testcase(&t, *line));
            let mut marks = parent_marks;
            for &d in &decorators {
                read_decorator(&t, lines[d], &mut marks);
            }
            if collect {
                suite.push(name);
            }
            frames.push((line.indent, Frame::Class { collect, marks }));
        }
        decorators.clear();
    }
}

/// `class X(unittest.TestCase):` and the like: a base whose name ends in `TestCase`.
fn is_testcase(t: &Tokens<'_>, line: Line) -> bool {
    let open = line.first + 2;
    t.punct(open, b'(')
        && (open + 1..t.close(open).min(line.last))
            .any(|i| t.ident(i).is_some_and(|w| w.ends_with("TestCase")))
}

/// `@pytest.mark.NAME…`, `@mark.NAME…`, `@unittest.skip…`.
fn read_decorator(t: &Tokens<'_>, line: Line, marks: &mut Marks) {
    let mut path = Vec::new();
    let mut i = line.first + 1;
    while let Some(word) = t.ident(i) {
        path.push(word);
        if !t.punct(i + 1, b'.') {
            break;
        }
        i += 2;
    }
    match path.as_slice() {
        [.., "mark", mark] => {
            if matches!(*mark, "skip" | "skipif") {
                marks.skipped = true;
            }
            if !BUILTIN_MARKS.contains(mark) {
                text::add_tag_or_id(&mut marks.tags, &mut marks.case_id, mark);
            }
        }
        ["unittest", "skip" | "skipIf" | "skipUnless"] => marks.skipped = true,
        _ => {}
    }
}

/// The end of a `def`'s body: its last more-indented logical line, to that line's end (so a
/// trailing comment stays), or the `def` line itself for a one-line body.
fn body_end(src: &str, t: &Tokens<'_>, lines: &[Line], k: usize) -> usize {
    let Some(def) = lines.get(k) else {
        return src.len();
    };
    let last = lines
        .get(k + 1..)
        .unwrap_or_default()
        .iter()
        .take_while(|l| l.indent > def.indent)
        .last()
        .unwrap_or(def);
    let token_end = t.end(last.last.saturating_sub(1));
    let line_end = line_end(src.as_bytes(), token_end);
    let body = src.get(..line_end).unwrap_or(src);
    body.trim_end().len().max(token_end.min(src.len()))
}

/// Python tokens and logical lines.
fn lex(text: &str) -> (Tokens<'_>, Vec<Line>) {
    let b = text.as_bytes();
    let n = b.len();
    let mut toks: Vec<Token> = Vec::with_capacity(n / 6);
    let mut lines = Vec::new();
    let mut current: Option<(usize, u32)> = None;
    let mut depth = 0u32;
    let mut i = 0;
    while i < n {
        let c = b.get(i).copied().unwrap_or(0);
        let start = i;
        let (kind, end) = match c {
            b'\n' => {
                if depth == 0
                    && let Some((first, indent)) = current.take()
                {
                    lines.push(Line {
                        indent,
                        first,
                        last: toks.len(),
                    });
                }
                i += 1;
                continue;
            }
            b' ' | b'\t' | b'\r' | 0x0b | 0x0c => {
                i += 1;
                continue;
            }
            b'#' => {
                i = line_end(b, i);
                continue;
            }
            b'\\' if b.get(i + 1) == Some(&b'\n') => {
                i += 2;
                continue;
            }
            b'\\' if b.get(i + 1) == Some(&b'\r') && b.get(i + 2) == Some(&b'\n') => {
                i += 3;
                continue;
            }
            b'"' | b'\'' => string(b, i, i, false),
            _ if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 => {
                let mut j = i + 1;
                while b
                    .get(j)
                    .is_some_and(|&d| d.is_ascii_alphanumeric() || d == b'_' || d >= 0x80)
                {
                    j += 1;
                }
                let word = b.get(i..j).unwrap_or_default();
                let is_prefix = word.len() <= 3 && word.iter().all(|w| b"rRbBuUfFtT".contains(w));
                match b.get(j) {
                    Some(b'"' | b'\'') if is_prefix => {
                        string(b, i, j, word.iter().any(|w| *w == b'r' || *w == b'R'))
                    }
                    _ => (Kind::Ident, j),
                }
            }
            _ if c.is_ascii_digit() => {
                let mut j = i + 1;
                while b
                    .get(j)
                    .is_some_and(|&d| d.is_ascii_alphanumeric() || d == b'_' || d == b'.')
                {
                    j += 1;
                }
                (Kind::Number, j)
            }
            b'(' | b'[' | b'{' => {
                depth = depth.saturating_add(1);
                (Kind::Punct(c), i + 1)
            }
            b')' | b']' | b'}' => {
                depth = depth.saturating_sub(1);
                (Kind::Punct(c), i + 1)
            }
            _ => (Kind::Punct(c), i + 1),
        };
        if current.is_none() {
            current = Some((toks.len(), indent_of(b, start)));
        }
        toks.push(Token::new(kind, start, end));
        i = end.max(i + 1);
    }
    if let Some((first, indent)) = current {
        lines.push(Line {
            indent,
            first,
            last: toks.len(),
        });
    }
    (Tokens::new(text, toks), lines)
}

/// A string literal starting at `start` (prefix included) with its first quote at `q`.
fn string(b: &[u8], start: usize, q: usize, raw: bool) -> (Kind, usize) {
    let quote = b.get(q).copied().unwrap_or(b'"');
    let prefix = q - start;
    let flavor = if raw { Flavor::Raw } else { Flavor::Escaped };
    let kind = |open: usize, close: usize| match (u16::try_from(open), u16::try_from(close)) {
        (Ok(open), Ok(close)) => Kind::Str {
            open,
            close,
            flavor,
        },
        _ => Kind::Other,
    };
    if b.get(q + 1) == Some(&quote) && b.get(q + 2) == Some(&quote) {
        let mut j = q + 3;
        while let Some(&c) = b.get(j) {
            if c == b'\\' {
                j += 2;
            } else if c == quote && b.get(j + 1) == Some(&quote) && b.get(j + 2) == Some(&quote) {
                return (kind(prefix + 3, 3), j + 3);
            } else {
                j += 1;
            }
        }
        return (kind(prefix + 3, 0), b.len());
    }
    let (end, closed) = quoted(b, q, quote, true);
    (kind(prefix + 1, usize::from(closed)), end)
}

/// The column of byte `at`, tabs to the next multiple of 8 as Python counts them.
fn indent_of(b: &[u8], at: usize) -> u32 {
    let before = b.get(..at).unwrap_or_default();
    let line_start = memchr::memrchr(b'\n', before).map_or(0, |p| p + 1);
    let mut col = 0u32;
    for &c in before.get(line_start..).unwrap_or_default() {
        col = match c {
            b'\t' => (col / 8 + 1).saturating_mul(8),
            0x0c => 0,
            _ => col.saturating_add(1),
        };
    }
    col
}

#[cfg(test)]
mod tests {
    use crate::{Language, scan};

    fn names(src: &str) -> Vec<(Vec<String>, String)> {
        scan(Language::Python, src)
            .unwrap_or_default()
            .into_iter()
            .map(|t| (t.suite, t.name))
            .collect()
    }

    #[test]
    fn only_collectable_places_count() {
        let src = "class Helper:\n    def test_no(self): pass\nclass TestA:\n    def test_yes(self):\n        def test_inner(): pass\n    class TestB:\n        def test_deep(self): pass\ndef helper():\n    pass\ndef testing_too(): pass\n";
        assert_eq!(
            names(src),
            [
                (vec!["TestA".to_owned()], "test_yes".to_owned()),
                (
                    vec!["TestA".to_owned(), "TestB".to_owned()],
                    "test_deep".to_owned()
                ),
                (vec![], "testing_too".to_owned()),
            ]
        );
    }

    #[test]
    fn brackets_and_continuations_keep_a_logical_line() {
        let src = "x = [\ndef test_no(): pass\n]\ny = 1 + \\\n  2\ndef test_yes(): pass";
        assert_eq!(names(src), [(vec![], "test_yes".to_owned())]);
    }

    #[test]
    fn unittest_cases_are_test_classes() {
        let src = "class Login(unittest.TestCase):\n    @unittest.skip('x')\n    def test_a(self): pass\n";
        let found = scan(Language::Python, src).unwrap_or_default();
        assert_eq!(found.len(), 1);
        assert!(found[0].skipped);
        assert_eq!(found[0].suite, ["Login"]);
    }
}
