#![expect(
    clippy::expect_used,
    reason = "clippy does not see proptest bodies as tests; a refusal there is a failure"
)]
//! Any text, scanned as any language, gives an answer and never a panic: random strings, soups
//! of each language's tricky pieces, and random edits of the fixtures. The answer always holds
//! together: sources are slices of the text, in order, within the limits.

use proptest::prelude::*;
use proptest::test_runner::Config;
use testvault_sourcescan::{FoundTest, Language, MAX_SOURCE_BYTES, scan};

const FIXTURES: &[(&str, Language)] = &[
    (include_str!("fixtures/cart.test.ts"), Language::JavaScript),
    (include_str!("fixtures/api.spec.js"), Language::JavaScript),
    (include_str!("fixtures/math.test.ts"), Language::JavaScript),
    (include_str!("fixtures/login.spec.ts"), Language::JavaScript),
    (
        include_str!("fixtures/checkout.cy.js"),
        Language::JavaScript,
    ),
    (include_str!("fixtures/test_shop.py"), Language::Python),
    (include_str!("fixtures/LegacyCartTest.java"), Language::Java),
    (include_str!("fixtures/CartTest.java"), Language::Java),
    (include_str!("fixtures/cart_test.go"), Language::Go),
    (include_str!("fixtures/cart_tests.rs"), Language::Rust),
    (include_str!("fixtures/CartTests.cs"), Language::CSharp),
    (include_str!("fixtures/OrderTests.cs"), Language::CSharp),
    (include_str!("fixtures/InvoiceTests.cs"), Language::CSharp),
];

/// Pieces that open or close something in one language or another.
const PIECES: &[&str] = &[
    "it(",
    "test(",
    "describe(",
    "test.describe(",
    ".each",
    ".skip",
    "xit(",
    "'t'",
    "\"t\"",
    "`t ${",
    "}",
    "`",
    "=>",
    "() => {",
    "function () {",
    "/",
    "/re/g",
    "//",
    "/*",
    "*/",
    "#",
    "#[test]",
    "#![x]",
    "#[",
    "fn ",
    "mod m {",
    "async ",
    "r#\"",
    "\"#",
    "'a",
    "'x'",
    "b'",
    "@Test",
    "@Tag(\"T1a2b3c4d\")",
    "@",
    "class ",
    "class Test",
    "interface ",
    "record ",
    "void m(",
    "{",
    "(",
    ")",
    "[",
    "]",
    "[Fact]",
    "[Test, Category(\"c\")]",
    "@\"",
    "$\"{",
    "\"\"\"",
    "$$\"\"\"",
    "func TestA(t *testing.T) {",
    "func ",
    "def test_a(",
    "def ",
    "):",
    ":",
    "\n",
    "\n    ",
    "\t",
    "\r\n",
    "\\",
    "'''",
    "@pytest.mark.skip",
    "@pytest.mark.",
    ",",
    ";",
    "<",
    ">",
    "::",
    "é",
    "\u{1F600}",
    "@T1a2b3c4d",
    " @smoke",
    "\0",
];

fn config() -> Config {
    Config {
        cases: 256,
        failure_persistence: None,
        ..Config::default()
    }
}

fn language() -> impl Strategy<Value = Language> {
    prop::sample::select(Language::ALL.to_vec())
}

/// What every answer must satisfy.
fn check(text: &str, tests: &[FoundTest]) {
    let mut previous_line = 0;
    for t in tests {
        assert!(t.line >= 1 && t.line >= previous_line, "{tests:?}");
        previous_line = t.line;
        assert!(t.source.len() <= MAX_SOURCE_BYTES);
        assert!(text.contains(&t.source), "{t:?}");
        assert!(t.case_id.as_ref().is_none_or(|id| id.len() == 8));
        assert!(
            t.tags
                .iter()
                .all(|tag| !tag.is_empty() && !tag.starts_with('@'))
        );
        assert!(!t.title.starts_with(' ') && !t.title.ends_with(' '));
    }
}

fn scan_all(text: &str) {
    for language in Language::ALL {
        let tests = scan(language, text).expect("small texts are scanned");
        check(text, &tests);
    }
}

fn mutate(text: &str, edits: &[(usize, usize, bool)]) -> String {
    let mut bytes = text.as_bytes().to_vec();
    for &(at, piece, insert) in edits {
        let piece = PIECES[piece % PIECES.len()].as_bytes();
        let at = at % (bytes.len() + 1);
        if insert {
            bytes.splice(at..at, piece.iter().copied());
        } else {
            let end = (at + piece.len()).min(bytes.len());
            bytes.drain(at..end);
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_text_is_scanned_without_panicking(text in any::<String>()) {
        scan_all(&text);
    }

    #[test]
    fn soups_of_tricky_pieces_are_scanned_without_panicking(
        pieces in prop::collection::vec(0..PIECES.len(), 0..200),
        language in language(),
    ) {
        let text: String = pieces.iter().map(|&p| PIECES[p]).collect();
        let tests = scan(language, &text).expect("small texts are scanned");
        check(&text, &tests);
    }

    #[test]
    fn edited_fixtures_are_scanned_without_panicking(
        fixture in 0..FIXTURES.len(),
        edits in prop::collection::vec((any::<usize>(), any::<usize>(), any::<bool>()), 1..8),
    ) {
        let (text, language) = FIXTURES[fixture];
        let text = mutate(text, &edits);
        let tests = scan(language, &text).expect("fixtures are small");
        check(&text, &tests);
    }

    #[test]
    fn truncated_fixtures_are_scanned_without_panicking(
        fixture in 0..FIXTURES.len(),
        cut in any::<prop::sample::Index>(),
        language in language(),
    ) {
        let (text, _) = FIXTURES[fixture];
        let mut end = cut.index(text.len() + 1);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let text = &text[..end];
        let tests = scan(language, text).expect("fixtures are small");
        check(text, &tests);
    }
}
