//! C#: xUnit, NUnit and MSTest test methods — a method under a test attribute, declared
//! directly in a class (or struct/record) body.

use crate::lexer::{self, Lang, Tokens};
use crate::text::{self, Draft, Found, Suite};

struct Attribute {
    /// The last segment of its name, without an `Attribute` suffix.
    name: String,
    /// Token range of its arguments, inside the parentheses.
    args: Option<(usize, usize)>,
}

struct Frame {
    end: usize,
    class: Option<ClassMarks>,
}

#[derive(Clone, Default)]
struct ClassMarks {
    skipped: bool,
    tags: Vec<String>,
    case_id: Option<String>,
}

/// The framework a test attribute belongs to; `None` for any other attribute.
fn test_framework(name: &str, nunit_file: bool) -> Option<&'static str> {
    Some(match name {
        "Theory" if nunit_file => "nunit",
        "Fact" | "Theory" | "SkippableFact" | "SkippableTheory" => "xunit",
        "Test" | "TestCase" | "TestCaseSource" => "nunit",
        "TestMethod" | "DataTestMethod" => "mstest",
        _ => return None,
    })
}

pub(crate) fn scan(out: &mut Found<'_>) {
    let t = lexer::lex(out.text(), Lang::CSharp);
    let nunit_file = uses(&t, "NUnit") && !uses(&t, "Xunit");
    let mut frames: Vec<Frame> = Vec::new();
    let mut suite = Suite::default();
    let mut pending: Vec<Attribute> = Vec::new();
    let mut pending_start: Option<usize> = None;
    let mut pending_class: Option<(String, Vec<Attribute>)> = None;
    let mut i = 0;
    while i < t.len() {
        while frames.last().is_some_and(|f| i > f.end) {
            if frames.pop().is_some_and(|f| f.class.is_some()) {
                suite.pop();
            }
        }
        if t.punct(i, b'[') && starts_member(&t, i) {
            let close = t.close(i);
            read_section(&t, i + 1, close, &mut pending);
            pending_start.get_or_insert(i);
            i = close.saturating_add(1);
            continue;
        }
        let in_class = frames.last().is_some_and(|f| f.class.is_some());
        match t.ident(i) {
            Some("class" | "struct" | "interface" | "record" | "enum")
                if !(i > 0 && t.punct(i - 1, b'.')) && pending_class.is_none() =>
            {
                if let Some(name) = t.ident(i + 1)
                    && !matches!(name, "class" | "struct")
                {
                    pending_class = Some((name.to_owned(), std::mem::take(&mut pending)));
                    pending_start = None;
                    i += 2;
                    continue;
                }
            }
            Some(name) if in_class && pending_class.is_none() && !pending.is_empty() => {
                if let Some(open) = method_parens(&t, i) {
                    let framework = pending
                        .iter()
                        .find_map(|a| test_framework(&a.name, nunit_file));
                    if let Some(framework) = framework {
                        let end = body_end(&t, t.close(open).saturating_add(1));
                        let parent = frames
                            .last()
                            .and_then(|f| f.class.clone())
                            .unwrap_or_default();
                        let marks = marks(&t, &pending, parent);
                        let mut draft = Draft::new(name.to_owned(), t.start(i), framework);
                        draft.suite = suite.names();
                        draft.display = display_name(&t, &pending);
                        draft.start = t.start(pending_start.unwrap_or(i));
                        draft.end = t.end(end);
                        draft.tags = marks.tags;
                        draft.case_id = marks.case_id;
                        draft.skipped = marks.skipped;
                        if !out.push(draft) {
                            return;
                        }
                        i = end.saturating_add(1);
                    } else {
                        i = open;
                    }
                    pending.clear();
                    pending_start = None;
                    continue;
                }
            }
            _ => {}
        }
        if t.punct(i, b'{') {
            let class = pending_class.take().map(|(name, attributes)| {
                let parent = frames
                    .last()
                    .and_then(|f| f.class.clone())
                    .unwrap_or_default();
                suite.push(&name);
                marks(&t, &attributes, parent)
            });
            frames.push(Frame {
                end: t.close(i),
                class,
            });
            pending.clear();
            pending_start = None;
        } else if t.punct(i, b';') || t.punct(i, b'}') {
            pending.clear();
            pending_start = None;
            pending_class = None;
        }
        i += 1;
    }
}

/// Whether the file has a `using` of a namespace starting with `prefix`.
fn uses(t: &Tokens<'_>, prefix: &str) -> bool {
    (0..t.len())
        .any(|i| t.is_ident(i, "using") && t.ident(i + 1).is_some_and(|n| n.starts_with(prefix)))
}

/// An attribute section opens where a declaration may start.
fn starts_member(t: &Tokens<'_>, i: usize) -> bool {
    i == 0
        || t.punct(i - 1, b';')
        || t.punct(i - 1, b'{')
        || t.punct(i - 1, b'}')
        || t.punct(i - 1, b']')
}

/// `Name(` or `Name<…>(` at `i`: the index of the `(`.
fn method_parens(t: &Tokens<'_>, i: usize) -> Option<usize> {
    if i > 0 && (t.punct(i - 1, b'.') || t.is_ident(i - 1, "new")) {
        return None;
    }
    if t.punct(i + 1, b'(') {
        return Some(i + 1);
    }
    if !t.punct(i + 1, b'<') {
        return None;
    }
    let mut depth = 0usize;
    for k in i + 1..(i + 64).min(t.len()) {
        if t.punct(k, b'<') {
            depth += 1;
        } else if t.punct(k, b'>') {
            depth -= 1;
            if depth == 0 {
                return t.punct(k + 1, b'(').then_some(k + 1);
            }
        } else if t.punct(k, b';') || t.punct(k, b'{') || t.punct(k, b'(') {
            return None;
        }
    }
    None
}

/// The index of the body's closing brace, or of the `;` ending an expression body (`=> …;`)
/// or a body-less declaration.
fn body_end(t: &Tokens<'_>, from: usize) -> usize {
    let mut k = from;
    while k < t.len() {
        if t.punct(k, b'{') {
            return t.close(k);
        }
        if t.punct(k, b';') || t.punct(k, b'}') {
            return k;
        }
        k = t.skip(k);
    }
    t.len()
}

/// `[target: A, B(args), global::N.C]`: the attributes between `from` and `to`.
fn read_section(t: &Tokens<'_>, from: usize, to: usize, out: &mut Vec<Attribute>) {
    let mut k = from;
    if t.ident(k).is_some() && t.punct(k + 1, b':') && !t.punct(k + 2, b':') {
        k += 2;
    }
    while k < to {
        let mut name = None;
        while k < to && !t.punct(k, b',') && !t.punct(k, b'(') {
            if let Some(word) = t.ident(k) {
                name = Some(word);
            }
            k += 1;
        }
        let args = t.punct(k, b'(').then(|| (k + 1, t.close(k)));
        if args.is_some() {
            k = t.skip(k);
        }
        if let Some(name) = name {
            let name = name
                .strip_suffix("Attribute")
                .filter(|n| !n.is_empty())
                .unwrap_or(name);
            out.push(Attribute {
                name: name.to_owned(),
                args,
            });
        }
        while k < to && !t.punct(k, b',') {
            k = t.skip(k);
        }
        k += 1;
    }
}

/// String arguments not after `=` (positional), and the value of `key = "…"`.
fn positional(t: &Tokens<'_>, (from, to): (usize, usize)) -> Vec<String> {
    let mut values = Vec::new();
    let mut k = from;
    while k < to {
        if t.is_str(k) && !(k > 0 && t.punct(k - 1, b'=')) && !(k > 0 && t.punct(k - 1, b':')) {
            values.extend(t.string(k));
        }
        k = t.skip(k);
    }
    values
}

fn named(t: &Tokens<'_>, (from, to): (usize, usize), key: &str) -> Option<usize> {
    let mut k = from;
    while k < to {
        if t.is_ident(k, key)
            && (t.punct(k + 1, b'=') || t.punct(k + 1, b':'))
            && !t.punct(k + 2, b'=')
        {
            return Some(k + 2);
        }
        k = t.skip(k);
    }
    None
}

fn marks(t: &Tokens<'_>, attributes: &[Attribute], mut marks: ClassMarks) -> ClassMarks {
    for a in attributes {
        let args = a.args.unwrap_or((0, 0));
        match a.name.as_str() {
            "Ignore" => marks.skipped = true,
            "Fact" | "Theory" | "SkippableFact" | "SkippableTheory" | "TestCase"
                if named(t, args, "Skip")
                    .or_else(|| named(t, args, "Ignore"))
                    .is_some() =>
            {
                marks.skipped = true;
            }
            // `[Trait("Category", "Smoke")]`: the value is the tag.
            "Trait" => {
                if let Some(value) = positional(t, args).get(1) {
                    text::add_tag_or_id(&mut marks.tags, &mut marks.case_id, value);
                }
            }
            "Category" | "TestCategory" => {
                for value in positional(t, args) {
                    text::add_tag_or_id(&mut marks.tags, &mut marks.case_id, &value);
                }
            }
            _ => {}
        }
    }
    marks
}

/// xUnit `DisplayName = "…"`, MSTest `[TestMethod("…")]` or `DisplayName = "…"`.
fn display_name(t: &Tokens<'_>, attributes: &[Attribute]) -> Option<String> {
    attributes.iter().find_map(|a| {
        let args = a.args?;
        if let Some(value) = named(t, args, "DisplayName") {
            return t.string(value);
        }
        match a.name.as_str() {
            "TestMethod" | "DataTestMethod" => positional(t, args).into_iter().next(),
            _ => None,
        }
    })
}
