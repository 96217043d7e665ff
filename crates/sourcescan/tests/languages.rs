#![expect(clippy::expect_used, reason = "test helpers fail by panicking")]
//! Syntax corners of each language, one small snippet each: the shapes that would fool a
//! scanner looking at text instead of tokens.

use testvault_sourcescan::{FoundTest, Language, scan};

fn tests(language: Language, text: &str) -> Vec<FoundTest> {
    scan(language, text).expect("scanned")
}

fn names(language: Language, text: &str) -> Vec<String> {
    tests(language, text).into_iter().map(|t| t.name).collect()
}

#[test]
fn js_typescript_generics_regexes_and_division_do_not_hide_tests() {
    let src = r#"
const a = foo<string>(b) / 2; it('after division', f);
const r = /'/; it('after a regex with a quote', f);
const s = x.map((v): Array<Map<string, number>> => v) /* it('no') */; it('after generics', f);
if (a) { b() } /"/.test(s); it('after a statement regex', f);
"#;
    assert_eq!(
        names(Language::JavaScript, src),
        [
            "after division",
            "after a regex with a quote",
            "after generics",
            "after a statement regex"
        ]
    );
}

#[test]
fn js_titles_escapes_templates_and_concatenation() {
    let src = r#"
it('it\'s \u00e9', f);
it(`adds ${a} and ${b}`, f);
it(`plain template`, f);
it('con' + 'cat', f);
describe('pre' + fix, () => { it("inner", f) });
"#;
    let found = tests(Language::JavaScript, src);
    let got: Vec<_> = found
        .iter()
        .map(|t| (t.suite.clone(), t.name.clone()))
        .collect();
    assert_eq!(
        got,
        [
            (vec![], "it's é".to_owned()),
            (vec![], "adds ${a} and ${b}".to_owned()),
            (vec![], "plain template".to_owned()),
            (vec!["'pre' + fix".to_owned()], "inner".to_owned()),
        ]
    );
}

#[test]
fn js_modifier_chains_and_each_groups() {
    let src = r#"
describe.each([[1], [2]])('group %i', (n) => {
  test.only.each([1])('case %i', (m) => {});
  it.concurrent.skip('skipped concurrent', async () => {});
});
test.describe.serial.only('serial', { tag: '@slow' }, () => {
  test.describe.configure({ mode: 'serial' });
  test.step('not a test', async () => {});
  test('inside', async () => {});
});
xdescribe('x', () => { fit('focused but skipped by its group', () => {}) });
"#;
    let found = tests(Language::JavaScript, src);
    let got: Vec<_> = found
        .iter()
        .map(|t| {
            (
                t.suite.join("/"),
                t.name.as_str(),
                t.skipped,
                t.tags.clone(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("group %i".to_owned(), "case %i", false, vec![]),
            ("group %i".to_owned(), "skipped concurrent", true, vec![]),
            (
                "serial".to_owned(),
                "inside",
                false,
                vec!["slow".to_owned()]
            ),
            (
                "x".to_owned(),
                "focused but skipped by its group",
                true,
                vec![]
            ),
        ]
    );
    assert_eq!(found[0].framework, "playwright");
}

#[test]
fn js_framework_signals() {
    let cases = [
        (
            "import { test } from '@playwright/test'; test('a', f)",
            "playwright",
        ),
        ("import { it } from 'vitest'; it('a', f)", "vitest"),
        ("import { it } from '@jest/globals'; it('a', f)", "jest"),
        ("it('a', () => { cy.visit('/') })", "cypress"),
        ("it('a', () => { expect(x).toBe(1) })", "jest"),
        ("beforeAll(f); it('a', f)", "jest"),
        (
            "const { expect } = require('chai'); it('a', () => { expect(x).toBe(1) })",
            "mocha",
        ),
        ("it('a', () => { assert.ok(x) })", "mocha"),
        ("test.use({ locale: 'fr' }); test('a', f)", "playwright"),
    ];
    for (src, want) in cases {
        let found = tests(Language::JavaScript, src);
        assert_eq!(found.len(), 1, "{src}");
        assert_eq!(found[0].framework, want, "{src}");
    }
}

#[test]
fn python_multiline_signatures_tabs_crlf_and_comments_between_decorators() {
    let src = "@pytest.mark.slow\r\n# a comment\r\nasync def test_a(\r\n    x,\r\n):\r\n    pass\r\n\r\nclass TestT:\r\n\tdef test_b(self):\r\n\t\tpass\r\n\t# trailing comment\r\n\r\ndef test_c(): ...\r\n";
    let found = tests(Language::Python, src);
    let got: Vec<_> = found
        .iter()
        .map(|t| (t.suite.clone(), t.name.as_str(), t.line, t.tags.clone()))
        .collect();
    assert_eq!(
        got,
        [
            (vec![], "test_a", 3, vec!["slow".to_owned()]),
            (vec!["TestT".to_owned()], "test_b", 9, vec![]),
            (vec![], "test_c", 13, vec![]),
        ]
    );
    assert_eq!(
        found[0].source,
        "@pytest.mark.slow\r\n# a comment\r\nasync def test_a(\r\n    x,\r\n):\r\n    pass"
    );
    assert_eq!(found[1].source, "def test_b(self):\r\n\t\tpass");
}

#[test]
fn python_strings_of_every_prefix_hide_defs() {
    let src = "x = rb'''\ndef test_no(): pass\n'''\ny = f\"def test_no2(): {x!r}\"\nz = 'unterminated\ndef test_yes(): pass\n";
    assert_eq!(names(Language::Python, src), ["test_yes"]);
}

#[test]
fn python_class_marks_and_ids_are_inherited() {
    let src = "@pytest.mark.skip\n@pytest.mark.T0000abcd\nclass TestA:\n    @pytest.mark.usefixtures('db')\n    @pytest.mark.xfail\n    def test_a(self): pass\n";
    let found = tests(Language::Python, src);
    assert!(found[0].skipped);
    assert_eq!(found[0].case_id.as_deref(), Some("0000abcd"));
    assert!(found[0].tags.is_empty());
}

#[test]
fn java_tags_testng_interfaces_and_generic_classes() {
    let src = r#"
import org.testng.annotations.Test;
public class A<T extends Comparable<T>> {
    @Test(groups = {"fast", "db"}, enabled = false)
    public void a() {}
    @Test public void b() { char c = '"'; }
}
"#;
    let found = tests(Language::Java, src);
    let got: Vec<_> = found
        .iter()
        .map(|t| {
            (
                t.suite.clone(),
                t.name.as_str(),
                t.skipped,
                t.tags.clone(),
                t.framework,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                vec!["A".to_owned()],
                "a",
                true,
                vec!["fast".to_owned(), "db".to_owned()],
                "testng"
            ),
            (vec!["A".to_owned()], "b", false, vec![], "testng"),
        ]
    );

    let src = r#"
import org.junit.jupiter.api.*;
interface Contract {
    @Tags({@Tag("a"), @Tag("T00c0ffee")})
    @RepeatedTest(3)
    default void holds() {}
}
enum E { X; @Test void inAnEnumBody() {} }
"#;
    let found = tests(Language::Java, src);
    assert_eq!(found[0].suite, ["Contract"]);
    assert_eq!(found[0].tags, ["a"]);
    assert_eq!(found[0].case_id.as_deref(), Some("00c0ffee"));
    assert_eq!(found[1].suite, ["E"]);
}

#[test]
fn go_aliased_testing_packages_and_receivers() {
    let src = "import tst \"testing\"\nfunc TestA(t *tst.T) {}\nfunc (s *Suite) TestB(t *testing.T) {}\nvar f = func() { func TestC(t *testing.T) {} }\nfunc TestD(t *testing.T, x int) {}\n";
    assert_eq!(names(Language::Go, src), ["TestA"]);
}

#[test]
fn rust_signatures_lifetimes_and_conditional_ignore() {
    let src = r##"
#[test]
#[should_panic(expected = "boom")]
pub(crate) async fn a<'a>() -> Result<(), Box<dyn std::error::Error + 'a>> where 'a: 'static { Ok(()) }
#[cfg_attr(miri, ignore)]
#[async_std::test]
async fn b() { let c = b'}'; let s = b"}"; let r = br#"}"#; }
impl X { #[test] fn not_free() {} }
trait Y { #[test] fn not_free_either() {} }
"##;
    let found = tests(Language::Rust, src);
    let got: Vec<_> = found.iter().map(|t| (t.name.as_str(), t.skipped)).collect();
    assert_eq!(got, [("a", false), ("b", false)]);
    assert!(found[1].source.ends_with("let r = br#\"}\"#; }"));
}

#[test]
fn csharp_qualified_suffixed_targeted_attributes_and_records() {
    let src = r#"
[assembly: CollectionBehavior(DisableTestParallelization = true)]
namespace N
{
    [Trait("Area", "checkout")]
    public record CheckoutTests(int Seed)
    {
        [Xunit.FactAttribute]
        public void A() { }

        [method: Fact]
        public void B() { }

        [Category("T0000cafe")]
        [global::NUnit.Framework.Test]
        public void C() { }

        public int Property { get; set; }

        public struct Inner
        {
            [Fact] public void D() { }
        }
    }
}
"#;
    let found = tests(Language::CSharp, src);
    let got: Vec<_> = found
        .iter()
        .map(|t| {
            (
                t.suite.join("."),
                t.name.as_str(),
                t.tags.clone(),
                t.case_id.clone(),
                t.framework,
            )
        })
        .collect();
    let area = vec!["checkout".to_owned()];
    assert_eq!(
        got,
        [
            ("CheckoutTests".to_owned(), "A", area.clone(), None, "xunit"),
            ("CheckoutTests".to_owned(), "B", area.clone(), None, "xunit"),
            (
                "CheckoutTests".to_owned(),
                "C",
                area.clone(),
                Some("0000cafe".to_owned()),
                "nunit"
            ),
            ("CheckoutTests.Inner".to_owned(), "D", area, None, "xunit"),
        ]
    );
}
