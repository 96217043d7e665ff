//! Rust: functions under a test attribute (`#[test]`, `#[tokio::test]`, `#[rstest]`, …) at
//! module level, with inline `mod` blocks as the suite. Macro invocation blocks such as
//! `proptest! { … }` are looked into; `macro_rules!` bodies are not, since what they declare
//! only exists once expanded.

use crate::lexer::{self, Lang, Tokens};
use crate::text::{Draft, Found, Suite};

/// Attribute paths (their last segment) that make a function a test.
const TEST_ATTRIBUTES: &[&str] = &[
    "test",
    "rstest",
    "test_case",
    "test_matrix",
    "wasm_bindgen_test",
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Block {
    Module,
    /// A macro invocation's braces: tests inside count, at the enclosing module's path.
    Macro,
    Other,
}

pub(crate) fn scan(out: &mut Found<'_>) {
    let t = lexer::lex(out.text(), Lang::Rust);
    let mut frames: Vec<(usize, Block)> = Vec::new();
    let mut other_depth = 0usize;
    let mut suite = Suite::default();
    let mut pending: Vec<(usize, &str)> = Vec::new();
    let mut next_block = Block::Other;
    let mut i = 0;
    while i < t.len() {
        while let Some(&(end, block)) = frames.last()
            && i > end
        {
            frames.pop();
            match block {
                Block::Module => suite.pop(),
                Block::Other => other_depth -= 1,
                Block::Macro => {}
            }
        }
        if t.punct(i, b'#') {
            if t.punct(i + 1, b'!') && t.punct(i + 2, b'[') {
                i = t.skip(i + 2);
                continue;
            }
            if t.punct(i + 1, b'[') {
                pending.push((i, attribute_name(&t, i + 2)));
                i = t.skip(i + 1);
                continue;
            }
        }
        match t.ident(i) {
            Some("mod") if t.ident(i + 1).is_some() && t.punct(i + 2, b'{') => {
                suite.push(t.ident(i + 1).unwrap_or_default());
                frames.push((t.close(i + 2), Block::Module));
                pending.clear();
                i += 3;
                continue;
            }
            Some("macro_rules") if t.punct(i + 1, b'!') => {
                let mut k = i + 2;
                while k < t.len() && !(t.punct(k, b'{') || t.punct(k, b'(') || t.punct(k, b'[')) {
                    k += 1;
                }
                pending.clear();
                i = t.skip(k);
                continue;
            }
            Some(_) if t.punct(i + 1, b'!') && t.punct(i + 2, b'{') => {
                next_block = Block::Macro;
                i += 2;
                continue;
            }
            Some("fn") => {
                if let Some(name) = t.ident(i + 1)
                    && other_depth == 0
                    && pending.iter().any(|(_, a)| TEST_ATTRIBUTES.contains(a))
                {
                    let end = body_end(&t, i + 2);
                    let name = name.strip_prefix("r#").unwrap_or(name);
                    let mut draft = Draft::new(name.to_owned(), t.start(i + 1), "rust");
                    draft.suite = suite.names();
                    draft.start = pending.first().map_or(t.start(i), |&(at, _)| t.start(at));
                    draft.end = t.end(end);
                    draft.skipped = pending.iter().any(|&(_, a)| a == "ignore");
                    if !out.push(draft) {
                        return;
                    }
                    pending.clear();
                    i = end.saturating_add(1);
                    continue;
                }
                pending.clear();
            }
            _ => {}
        }
        if t.punct(i, b'{') {
            let block = std::mem::replace(&mut next_block, Block::Other);
            if block == Block::Other {
                other_depth += 1;
            }
            frames.push((t.close(i), block));
            pending.clear();
        } else if t.punct(i, b';') || t.punct(i, b'}') {
            pending.clear();
        }
        i += 1;
    }
}

/// The last segment of the path starting at `from` inside `#[…]`: `test` for
/// `tokio::test(flavor = "multi_thread")`.
fn attribute_name<'a>(t: &Tokens<'a>, from: usize) -> &'a str {
    let mut name = "";
    let mut k = from;
    while let Some(word) = t.ident(k) {
        name = word;
        if t.punct(k + 1, b':') && t.punct(k + 2, b':') {
            k += 3;
        } else {
            break;
        }
    }
    name
}

/// The body's closing brace, looked for after the name (generics, parameters, return type
/// and `where` clause skipped), or the `;` of a body-less declaration.
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

#[cfg(test)]
mod tests {
    use crate::{Language, scan};

    fn names(src: &str) -> Vec<(Vec<String>, String, bool)> {
        scan(Language::Rust, src)
            .unwrap_or_default()
            .into_iter()
            .map(|t| (t.suite, t.name, t.skipped))
            .collect()
    }

    #[test]
    fn macro_blocks_count_and_macro_rules_and_fn_bodies_do_not() {
        let src = "macro_rules! m { () => { #[test] fn no() {} } }\nfn f() { #[test] fn nested() {} }\nmod a { proptest! { #[test] fn p(x in 0..1) {} } }\n#[test] fn r#try() {}";
        assert_eq!(
            names(src),
            [
                (vec!["a".to_owned()], "p".to_owned(), false),
                (vec![], "try".to_owned(), false),
            ]
        );
    }

    #[test]
    fn cfg_and_other_attributes_are_not_tests() {
        let src = "#[cfg(test)]\nmod tests {\n  #[cfg(test)] fn helper() {}\n  #[ignore = \"slow\"]\n  #[test]\n  fn slow() {}\n}";
        assert_eq!(
            names(src),
            [(vec!["tests".to_owned()], "slow".to_owned(), true)]
        );
    }
}
