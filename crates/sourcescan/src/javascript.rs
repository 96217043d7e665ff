//! JavaScript and TypeScript: `describe`/`it` calls of Jest, Mocha, Vitest, Playwright and
//! Cypress. A group's scope is its call's argument list, so nesting follows the callbacks.

use crate::lexer::{self, Kind, Lang, Tokens};
use crate::text::{self, Draft, Found, Suite};

const GROUPS: &[&str] = &[
    "describe",
    "context",
    "suite",
    "xdescribe",
    "xcontext",
    "fdescribe",
];
const TESTS: &[&str] = &["it", "test", "specify", "xit", "xtest", "xspecify", "fit"];
/// `.modifier`s that keep a call a test or group call; any other member makes it something else
/// (`test.step`, `test.use`, `describe.configure`, …).
const MODIFIERS: &[&str] = &[
    "only",
    "skip",
    "todo",
    "each",
    "concurrent",
    "fixme",
    "serial",
    "parallel",
    "describe",
    "failing",
    "fails",
    "sequential",
    "shuffle",
    "skipIf",
    "runIf",
];
/// Bytes kept of a describe title that is an expression.
const MAX_EXPR_TITLE: usize = 256;

struct Group {
    /// Token index of the call's closing parenthesis.
    end: usize,
    titled: bool,
    skipped: bool,
    tags: Vec<String>,
}

pub(crate) fn scan(out: &mut Found<'_>) {
    let t = lexer::lex(out.text(), Lang::Js);
    let framework = framework(&t);
    let mut groups: Vec<Group> = Vec::new();
    let mut suite = Suite::default();
    let mut i = 0;
    while i < t.len() {
        while groups.last().is_some_and(|g| i > g.end) {
            if groups.pop().is_some_and(|g| g.titled) {
                suite.pop();
            }
        }
        let Some(call) = call_at(&t, i) else {
            i += 1;
            continue;
        };
        let parent_skipped = groups.last().is_some_and(|g| g.skipped);
        let mut tags = groups.last().map(|g| g.tags.clone()).unwrap_or_default();
        if let Some(details) = call.details {
            option_tags(&t, details, &mut tags);
        }
        // Without a callback only `.todo` declares a test — and Mocha's pending `it('…')`.
        let pending = !call.group
            && matches!(framework, "mocha" | "cypress")
            && matches!(t.ident(i), Some("it" | "specify" | "xit" | "xspecify"));
        if call.second.is_none() && !call.todo && !pending {
            i += 1;
            continue;
        }
        if call.group {
            let title = match &call.title {
                Arg::Literal(s, _) => Some(s.clone()),
                Arg::Expr(s) => Some(s.clone()),
                Arg::Callback | Arg::Missing => None,
            };
            if let Some(title) = &title {
                for tag in text::split_title(title).tags {
                    text::add_tag(&mut tags, &tag);
                }
                suite.push(title);
            }
            groups.push(Group {
                end: call.close,
                titled: title.is_some(),
                skipped: parent_skipped || call.skipped,
                tags,
            });
            i = call.open + 1;
            continue;
        }
        let Arg::Literal(name, title_at) = call.title else {
            i = call.open + 1;
            continue;
        };
        let mut draft = Draft::new(name, t.start(title_at), framework);
        draft.suite = suite.names();
        draft.start = t.start(i);
        draft.end = t.end(call.close);
        draft.tags = tags;
        draft.skipped = parent_skipped || call.skipped || call.second.is_none();
        if !out.push(draft) {
            return;
        }
        i = call.close.saturating_add(1);
    }
}

enum Arg {
    /// A string literal's value and its token.
    Literal(String, usize),
    /// Any other expression, as written.
    Expr(String),
    /// The first argument is the callback: an anonymous group.
    Callback,
    Missing,
}

struct Call {
    group: bool,
    skipped: bool,
    todo: bool,
    /// Token indices of the main call's parentheses.
    open: usize,
    close: usize,
    title: Arg,
    /// Start of the second argument, if any.
    second: Option<usize>,
    /// A Playwright details object (`{ tag: … }`) as second argument.
    details: Option<usize>,
}

/// A test or group call starting at token `i`: `base(.modifier)*(table)?(title, …)`.
fn call_at(t: &Tokens<'_>, i: usize) -> Option<Call> {
    let base = t.ident(i)?;
    let mut group = GROUPS.contains(&base);
    if !group && !TESTS.contains(&base) {
        return None;
    }
    if i > 0 && (t.punct(i - 1, b'.') || t.is_ident(i - 1, "function")) {
        return None;
    }
    let mut skipped = base.starts_with('x');
    let mut todo = false;
    let mut j = i + 1;
    loop {
        if !t.punct(j, b'.') {
            break;
        }
        let modifier = t.ident(j + 1)?;
        if !MODIFIERS.contains(&modifier) {
            return None;
        }
        match modifier {
            "skip" | "skipIf" | "fixme" => skipped = true,
            "todo" => {
                todo = true;
                skipped = true;
            }
            "describe" if base == "test" => group = true,
            "describe" => return None,
            _ => {}
        }
        j += 2;
        if matches!(modifier, "each" | "skipIf" | "runIf") {
            if t.punct(j, b'(') {
                j = t.close(j).saturating_add(1);
            } else if t.is_str(j) && t.raw(j).starts_with('`') {
                j += 1;
            } else {
                return None;
            }
        }
    }
    if !t.punct(j, b'(') {
        return None;
    }
    let open = j;
    let close = t.close(open);
    let first_end = arg_end(t, open + 1, close);
    let title = if first_end == open + 1 {
        Arg::Missing
    } else if first_end == open + 2 && t.is_str(open + 1) {
        Arg::Literal(t.string(open + 1).unwrap_or_default(), open + 1)
    } else if is_callback(t, open + 1, first_end) {
        Arg::Callback
    } else {
        let start = t.start(open + 1);
        let end = t
            .end(first_end - 1)
            .min(start.saturating_add(MAX_EXPR_TITLE * 4));
        let raw = t.text_between(start, end);
        Arg::Expr(text::collapse(raw, MAX_EXPR_TITLE))
    };
    let second = (t.punct(first_end, b',') && first_end + 1 < close).then_some(first_end + 1);
    let details = second.filter(|&s| {
        t.punct(s, b'{') && {
            let after = t.close(s).saturating_add(1);
            t.punct(after, b',') && after + 1 < close
        }
    });
    Some(Call {
        group,
        skipped,
        todo,
        open,
        close,
        title,
        second,
        details,
    })
}

/// The index of the `,` or `)` ending the argument that starts at `from`.
fn arg_end(t: &Tokens<'_>, from: usize, close: usize) -> usize {
    let mut k = from;
    while k < close && !t.punct(k, b',') {
        k = t.skip(k);
    }
    k.min(close)
}

/// `function …`, `async …`, `(…) =>`, `x =>`.
fn is_callback(t: &Tokens<'_>, from: usize, to: usize) -> bool {
    if t.is_ident(from, "function") || t.is_ident(from, "async") {
        return true;
    }
    let mut k = from;
    while k < to {
        if t.punct(k, b'=') && t.punct(k + 1, b'>') {
            return true;
        }
        k = t.skip(k);
    }
    false
}

/// `tag: '@x'` or `tag: ['@x', '@y']` at the top level of a Playwright details object.
fn option_tags(t: &Tokens<'_>, brace: usize, tags: &mut Vec<String>) {
    let end = t.close(brace);
    let mut k = brace + 1;
    while k < end {
        if (t.is_ident(k, "tag") || t.string(k).as_deref() == Some("tag")) && t.punct(k + 1, b':') {
            let value = k + 2;
            let values = if t.punct(value, b'[') {
                t.strings(value + 1, t.close(value))
            } else {
                t.string(value).into_iter().collect()
            };
            for v in values {
                text::add_tag(tags, &v);
            }
        }
        k = t.skip(k);
    }
}

/// The framework a file is written for, from its imports and usage (see the crate docs).
fn framework(t: &Tokens<'_>) -> &'static str {
    let (mut playwright_import, mut vitest_import, mut jest_import, mut mocha_import) =
        (false, false, false, false);
    let (mut cypress, mut playwright_usage, mut jest_usage) = (false, false, false);
    for i in 0..t.len() {
        match t.kind(i) {
            Some(Kind::Str { .. }) => match t.string(i).as_deref() {
                Some(s) if s == "@playwright/test" || s.starts_with("@playwright/test/") => {
                    playwright_import = true;
                }
                Some(s) if s == "vitest" || s.starts_with("vitest/") => vitest_import = true,
                Some("@jest/globals") => jest_import = true,
                Some("cypress") => cypress = true,
                Some("mocha" | "chai") => mocha_import = true,
                _ => {}
            },
            Some(Kind::Ident) => {
                let member = i > 0 && t.punct(i - 1, b'.');
                let word = t.raw(i);
                let dot_next = t.punct(i + 1, b'.');
                match word {
                    "cy" | "Cypress" if dot_next && !member => cypress = true,
                    "jest" if dot_next && !member => jest_usage = true,
                    "beforeAll" | "afterAll" if !member && t.punct(i + 1, b'(') => {
                        jest_usage = true;
                    }
                    "test" if dot_next && !member => {
                        if matches!(
                            t.ident(i + 2),
                            Some(
                                "describe" | "fixme" | "step" | "use" | "extend" | "slow" | "info"
                            )
                        ) {
                            playwright_usage = true;
                        }
                    }
                    _ if member && is_jest_matcher(word) => jest_usage = true,
                    _ => {}
                }
            }
            _ => {}
        }
    }
    if playwright_import {
        "playwright"
    } else if vitest_import {
        "vitest"
    } else if cypress {
        "cypress"
    } else if jest_import {
        "jest"
    } else if playwright_usage {
        "playwright"
    } else if mocha_import {
        "mocha"
    } else if jest_usage {
        "jest"
    } else {
        "mocha"
    }
}

/// `toBe`, `toEqual`, `toHaveBeenCalledWith`, …: `to` and a capital (Chai's are `.to.equal`).
fn is_jest_matcher(word: &str) -> bool {
    word.strip_prefix("to")
        .and_then(|rest| rest.chars().next())
        .is_some_and(|c| c.is_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use crate::{Language, scan};

    fn names(src: &str) -> Vec<(Vec<String>, String, bool)> {
        scan(Language::JavaScript, src)
            .unwrap_or_default()
            .into_iter()
            .map(|t| (t.suite, t.name, t.skipped))
            .collect()
    }

    #[test]
    fn members_and_definitions_are_not_calls() {
        assert!(names("foo.it('a', f); function it(a, b) {} /re/.test('x', y)").is_empty());
    }

    #[test]
    fn tests_need_a_callback_unless_todo_or_mocha_pending() {
        let found = names("test('a'); test.todo('b'); it('c', () => {})");
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].1, "b");
        assert!(found[0].2);
        let found = names("expect(x).toBe(1); it('jest needs a callback')");
        assert!(found.is_empty());
        let found = names("describe('g', function () { it('pending in mocha'); })");
        assert_eq!(
            found,
            [(vec!["g".to_owned()], "pending in mocha".to_owned(), true)]
        );
    }

    #[test]
    fn an_expression_title_becomes_the_suite_and_a_callback_adds_none() {
        let found = names("describe(Cart.name, () => { test.describe(() => { it('a', f) }) })");
        assert_eq!(
            found,
            [(vec!["Cart.name".to_owned()], "a".to_owned(), false)]
        );
    }

    #[test]
    fn skip_is_inherited() {
        let found = names("describe.skip('g', function () { it('a', f) }); it('b', f)");
        assert!(found[0].2);
        assert!(!found[1].2);
    }
}
