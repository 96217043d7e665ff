//! Go: `func TestXxx(t *testing.T)` and `func FuzzXxx(f *testing.F)` at the top level of a
//! `_test.go` file, as `go test` finds them. Benchmarks and examples are not tests here; table
//! subtests (`t.Run`) are left to the results, since their names are usually computed.

use crate::lexer::{self, Lang, Tokens};
use crate::text::{Draft, Found};

pub(crate) fn scan(out: &mut Found<'_>) {
    let t = lexer::lex(out.text(), Lang::Go);
    let mut i = 0;
    while i < t.len() {
        if t.is_ident(i, "func")
            && let Some(name) = t.ident(i + 1)
            && t.punct(i + 2, b'(')
        {
            let params_end = t.close(i + 2);
            let (body, end) = body(&t, params_end.saturating_add(1));
            if let Some(param) = test_param(&t, name, i + 3, params_end) {
                let mut draft = Draft::new(name.to_owned(), t.start(i + 1), "go");
                draft.start = t.start(i);
                draft.end = t.end(end);
                draft.skipped = body.is_some_and(|open| skips_at_once(&t, param, open));
                if !out.push(draft) {
                    return;
                }
            }
            i = end.saturating_add(1);
            continue;
        }
        i = t.skip(i);
    }
}

/// For a test or fuzz target's name and parameters, the name of its `*testing.T`/`*testing.F`
/// parameter. `TestMain(m *testing.M)` and `Testify(…)` are not tests.
fn test_param<'a>(t: &Tokens<'a>, name: &str, from: usize, to: usize) -> Option<&'a str> {
    let (rest, kind) = if let Some(rest) = name.strip_prefix("Test") {
        (rest, "T")
    } else {
        (name.strip_prefix("Fuzz")?, "F")
    };
    if rest.chars().next().is_some_and(|c| c.is_lowercase()) {
        return None;
    }
    let param = t.ident(from)?;
    let typed = t.punct(from + 1, b'*')
        && t.ident(from + 2).is_some()
        && t.punct(from + 3, b'.')
        && t.is_ident(from + 4, kind)
        && from + 5 == to;
    typed.then_some(param)
}

/// The body's opening and closing braces, looked for after the parameter list (results
/// skipped); a declaration without a body ends before the next `func`.
fn body(t: &Tokens<'_>, from: usize) -> (Option<usize>, usize) {
    let mut k = from;
    while k < t.len() {
        if t.punct(k, b'{') {
            return (Some(k), t.close(k));
        }
        if t.is_ident(k, "func") {
            return (None, k.saturating_sub(1));
        }
        k = t.skip(k);
    }
    (None, t.len())
}

/// `t.Skip(…)` as the first statement of the body opened at `open`.
fn skips_at_once(t: &Tokens<'_>, param: &str, open: usize) -> bool {
    t.is_ident(open + 1, param)
        && t.punct(open + 2, b'.')
        && matches!(t.ident(open + 3), Some("Skip" | "SkipNow" | "Skipf"))
}

#[cfg(test)]
mod tests {
    use crate::{Language, scan};

    #[test]
    fn only_test_and_fuzz_signatures_count() {
        let src = "func TestMain(m *testing.M) {}\nfunc Testify(t *testing.T) {}\nfunc TestA(t *testing.T) { t.Skip(\"later\") }\nfunc Test(x *testing.T) {}\nfunc FuzzB(f *testing.F) {}\nfunc BenchmarkC(b *testing.B) {}\nfunc (s *S) TestD(t *testing.T) {}\n";
        let found = scan(Language::Go, src).unwrap_or_default();
        let names: Vec<_> = found.iter().map(|t| (t.name.as_str(), t.skipped)).collect();
        assert_eq!(names, [("TestA", true), ("Test", false), ("FuzzB", false)]);
    }
}
