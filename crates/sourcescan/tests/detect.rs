//! Which files are read, and which names select a scanner.

use testvault_sourcescan::Language;

#[test]
fn detect_by_extension_and_test_file_name() {
    let cases = [
        ("src/cart.test.ts", Some(Language::JavaScript)),
        ("e2e/login.spec.mts", Some(Language::JavaScript)),
        ("a/b.CJS", Some(Language::JavaScript)),
        ("App.test.tsx", Some(Language::JavaScript)),
        ("types/index.d.ts", None),
        ("tests\\test_shop.py", Some(Language::Python)),
        ("pkg/shop_test.py", Some(Language::Python)),
        ("pkg/tests.py", Some(Language::Python)),
        ("pkg/conftest.py", None),
        ("pkg/shop.py", None),
        ("src/test/java/CartTest.java", Some(Language::Java)),
        ("cart_test.go", Some(Language::Go)),
        ("cart.go", None),
        ("src/lib.rs", Some(Language::Rust)),
        ("Tests/CartTests.cs", Some(Language::CSharp)),
        ("README.md", None),
        ("Makefile", None),
        ("", None),
    ];
    for (path, want) in cases {
        assert_eq!(Language::detect(path), want, "{path}");
    }
}

#[test]
fn parse_accepts_languages_and_frameworks() {
    for (name, want) in [
        ("javascript", Language::JavaScript),
        ("TS", Language::JavaScript),
        ("playwright", Language::JavaScript),
        ("cypress", Language::JavaScript),
        ("pytest", Language::Python),
        ("junit", Language::Java),
        ("go", Language::Go),
        ("rust", Language::Rust),
        ("c#", Language::CSharp),
        ("mstest", Language::CSharp),
    ] {
        assert_eq!(Language::parse(name), Some(want), "{name}");
    }
    assert_eq!(Language::parse("auto"), None);
    assert_eq!(Language::parse("cobol"), None);
}

#[test]
fn names_read_back() {
    for language in Language::ALL {
        assert_eq!(Language::parse(language.name()), Some(language));
        assert_eq!(language.to_string(), language.name());
    }
}
