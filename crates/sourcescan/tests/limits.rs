//! Hostile files stay cheap: size and test-count limits, capped source, and inputs built to make
//! a careless scanner quadratic finish at once.

use testvault_sourcescan::{
    Language, MAX_FILE_BYTES, MAX_SOURCE_BYTES, MAX_TESTS, ScanError, scan,
};

#[test]
fn files_over_four_mib_are_refused() {
    let text = " ".repeat(MAX_FILE_BYTES + 1);
    for language in Language::ALL {
        assert_eq!(
            scan(language, &text),
            Err(ScanError::TooLarge {
                bytes: MAX_FILE_BYTES + 1
            })
        );
    }
    assert_eq!(scan(Language::Go, &" ".repeat(MAX_FILE_BYTES)), Ok(vec![]));
}

#[test]
fn too_many_tests_are_refused() {
    let text = "it('t', f);\n".repeat(MAX_TESTS + 1);
    assert_eq!(
        scan(Language::JavaScript, &text),
        Err(ScanError::TooManyTests { limit: MAX_TESTS })
    );
    let text = "it('t', f);\n".repeat(MAX_TESTS);
    assert_eq!(
        scan(Language::JavaScript, &text).map(|t| t.len()),
        Ok(MAX_TESTS)
    );
}

#[test]
fn source_is_cut_at_64_kib_on_a_char_boundary() {
    let body = "é".repeat(MAX_SOURCE_BYTES);
    let text = format!("#[test]\nfn big() {{ let _ = \"{body}\"; }}\n");
    let tests = scan(Language::Rust, &text).expect("scanned");
    assert_eq!(tests.len(), 1);
    assert!(tests[0].source.len() <= MAX_SOURCE_BYTES);
    assert!(tests[0].source.len() > MAX_SOURCE_BYTES - 4);
    assert!(tests[0].source.starts_with("#[test]\nfn big()"));
}

/// About 1 MiB of each pattern; each would take hours if any step were quadratic.
fn big(pattern: &str) -> String {
    pattern.repeat(1024 * 1024 / pattern.len().max(1))
}

#[test]
fn pathological_nesting_and_unclosed_input_stay_linear() {
    let cases = [
        (Language::JavaScript, big("describe('a', x, ")),
        (Language::JavaScript, big("describe(() => { ")),
        (Language::JavaScript, big("`${")),
        (Language::JavaScript, big("it.each(")),
        (Language::JavaScript, big("([{")),
        (Language::JavaScript, big(")]}")),
        (Language::Python, big("class TestA:\n ")),
        (Language::Python, big("def test_a():\n ")),
        (Language::Python, big("(\n")),
        (Language::Python, big("\"\"\"")),
        (Language::Java, big("class A { @Test ")),
        (Language::Java, big("@Test void a(")),
        (Language::Go, big("func TestA(t *testing.T) {")),
        (Language::Rust, big("mod a { ")),
        (Language::Rust, big("#[test] fn a(")),
        (Language::Rust, big("/* ")),
        (Language::CSharp, big("class A { [Fact] ")),
        (Language::CSharp, big("$\"{$\"{")),
        (Language::CSharp, big("[Fact] void A<")),
    ];
    for (language, text) in cases {
        assert!(text.len() <= MAX_FILE_BYTES);
        let _ = scan(language, &text);
    }
}

#[test]
fn deep_suites_keep_their_outer_levels_only() {
    let mut text = "describe('d', () => {\n".repeat(100);
    text.push_str("it('deep', () => {});\n");
    text.push_str(&"});\n".repeat(100));
    let tests = scan(Language::JavaScript, &text).expect("scanned");
    assert_eq!(tests.len(), 1);
    assert_eq!(tests[0].suite.len(), 32);
}
