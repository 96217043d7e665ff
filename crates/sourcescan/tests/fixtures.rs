#![expect(clippy::expect_used, reason = "test helpers fail by panicking")]
//! Every framework's fixture scanned to the exact list of tests it declares, with the traps in
//! each (commented-out tests, tests inside strings, docstrings and raw literals) left unfound.

use testvault_sourcescan::{FoundTest, Language, scan};

/// One line per test: suite › name, `:line`, framework, then `skipped`, `tags=…`, `id=…` when
/// there are any.
fn summary(t: &FoundTest) -> String {
    let mut path = t.suite.clone();
    path.push(t.name.clone());
    let mut line = format!("{} :{} {}", path.join(" › "), t.line, t.framework);
    if t.skipped {
        line.push_str(" skipped");
    }
    if !t.tags.is_empty() {
        line.push_str(&format!(" tags={}", t.tags.join(",")));
    }
    if let Some(id) = &t.case_id {
        line.push_str(&format!(" id={id}"));
    }
    line
}

fn summaries(tests: &[FoundTest]) -> Vec<String> {
    tests.iter().map(summary).collect()
}

fn found(file: &str) -> Vec<FoundTest> {
    let path = format!("{}/tests/fixtures/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("fixture");
    let language = Language::detect(&path).expect("a source file");
    scan(language, &text).expect("scanned")
}

fn named<'a>(tests: &'a [FoundTest], name: &str) -> &'a FoundTest {
    tests
        .iter()
        .find(|t| t.name == name)
        .expect("the named test")
}

#[test]
fn jest_nested_describes_each_skip_and_todo() {
    let tests = found("cart.test.ts");
    assert_eq!(
        summaries(&tests),
        [
            "Cart › starts empty @T1a2b3c4d :18 jest id=1a2b3c4d",
            "Cart › doubles %i to %i :25 jest",
            "Cart › when an item is added @smoke › totals the price :32 jest tags=smoke",
            "Cart › when an item is added @smoke › applies a discount :37 jest skipped tags=smoke",
            "Cart › when an item is added @smoke › removes an item :42 jest skipped tags=smoke",
            "Cart › checkout › charges the card @payments :46 jest skipped tags=payments",
        ]
    );
    let first = &tests[0];
    assert_eq!(first.title, "starts empty");
    assert_eq!(
        first.source,
        "it('starts empty @T1a2b3c4d', () => {\n    expect(cart.items).toHaveLength(0);\n  })"
    );
    assert!(tests[1].source.starts_with("it.each([\n    [1, 2],"));
    assert_eq!(tests[4].source, "test.todo('removes an item')");
}

#[test]
fn mocha_with_context_specify_xit_and_only() {
    let tests = found("api.spec.js");
    assert_eq!(
        summaries(&tests),
        [
            "GET /users › lists users :14 mocha",
            "GET /users › with a filter › filters by name :20 mocha",
            "GET /users › with a filter › paginates :25 mocha skipped",
            "POST /users › creates a user :32 mocha",
            "POST /users › rejects duplicates :37 mocha skipped",
        ]
    );
    // Mocha's pending test: a title and no callback.
    assert_eq!(tests[4].source, "it('rejects duplicates')");
}

#[test]
fn vitest_concurrent_each_table_skip_if_and_fails() {
    let tests = found("math.test.ts");
    assert_eq!(
        summaries(&tests),
        [
            "add › adds two numbers :5 vitest",
            "add › is commutative :9 vitest",
            "add › returns $expected when $a is added to $b :17 vitest",
            "add › handles big numbers :21 vitest skipped",
            "add › rejects strings :25 vitest",
        ]
    );
}

#[test]
fn playwright_describes_tags_fixme_and_anonymous_groups() {
    let tests = found("login.spec.ts");
    assert_eq!(
        summaries(&tests),
        [
            "login @auth › shows the form :15 playwright tags=auth",
            "login @auth › signs in @T0badc0de :19 playwright tags=auth,smoke,fast id=0badc0de",
            "login @auth › remembers the user :26 playwright skipped tags=auth",
            "login @auth › lockout › locks after three failures :31 playwright tags=auth",
            "anonymous group test :39 playwright",
        ]
    );
    assert_eq!(tests[1].title, "signs in");
}

#[test]
fn cypress_by_its_cy_calls() {
    let tests = found("checkout.cy.js");
    assert_eq!(
        summaries(&tests),
        [
            "Checkout › shows the order summary :8 cypress",
            "Checkout › as a guest › asks for an email @guest :13 cypress tags=guest",
            "Checkout › as a guest › offers to sign up :17 cypress skipped",
        ]
    );
}

#[test]
fn pytest_functions_classes_marks_and_no_docstring_tests() {
    let tests = found("test_shop.py");
    assert_eq!(
        summaries(&tests),
        [
            "test_empty_cart :22 pytest",
            "test_total :35 pytest tags=slow",
            "test_async_checkout :42 pytest id=1a2b3c4d",
            "TestCart › test_add :47 pytest",
            "TestCart › test_remove :55 pytest skipped",
            "TestCart › TestDiscounts › test_percent :64 pytest skipped tags=smoke",
            "TestCart › TestDiscounts › test_fixed :67 pytest",
            "TestPayments › test_charge :72 pytest tags=integration",
        ]
    );
    let total = named(&tests, "test_total");
    assert!(
        total
            .source
            .starts_with("@pytest.mark.parametrize(\n    \"qty, total\",")
    );
    assert!(
        total
            .source
            .ends_with("cart.add(\"sku\", qty=qty)\n    assert cart.total() == total")
    );
    assert_eq!(
        named(&tests, "test_empty_cart").source,
        "def test_empty_cart():\n    cart = helper()\n    assert cart.total() == 0  # nothing yet"
    );
    assert_eq!(
        named(&tests, "test_fixed").source,
        "def test_fixed(self): assert True"
    );
}

#[test]
fn junit4_by_its_imports() {
    let tests = found("LegacyCartTest.java");
    assert_eq!(
        summaries(&tests),
        [
            "LegacyCartTest › startsEmpty :23 junit4",
            "LegacyCartTest › rejectsNegativeQuantity :28 junit4",
            "LegacyCartTest › computesTax :34 junit4 skipped",
        ]
    );
    assert_eq!(
        named(&tests, "rejectsNegativeQuantity").source,
        "@Test(expected = IllegalArgumentException.class)\n    public void rejectsNegativeQuantity() throws Exception {\n        cart.add(\"sku\", -1);\n    }"
    );
}

#[test]
fn junit5_nested_display_names_tags_and_disabled_classes() {
    let tests = found("CartTest.java");
    assert_eq!(
        summaries(&tests),
        [
            "CartTest › isEmpty :27 junit5 tags=cart id=0000beef",
            "CartTest › countsItems :33 junit5 tags=cart",
            "CartTest › sortsGenerically :41 junit5 tags=cart,fast id=1a2b3c4d",
            "CartTest › WhenEmpty › totalIsZero :50 junit5 tags=cart",
            "CartTest › WhenEmpty › WithCoupon › rejectsCoupon :62 junit5 skipped tags=cart",
        ]
    );
    assert_eq!(tests[0].title, "a new cart is empty");
    assert_eq!(tests[1].title, "countsItems");
    let generic = named(&tests, "sortsGenerically");
    assert!(
        generic
            .source
            .starts_with("@Test\n    @Tag(\"T1a2b3c4d\")\n    @Tag(\"fast\")\n    <T extends")
    );
    assert!(
        generic
            .source
            .ends_with("assertTrue(items.isEmpty());\n    }")
    );
}

#[test]
fn go_tests_and_fuzz_targets_but_not_main_benchmarks_or_raw_strings() {
    let tests = found("cart_test.go");
    assert_eq!(
        summaries(&tests),
        [
            "TestEmpty :17 go",
            "TestAdd :24 go",
            "TestSlowCheckout :35 go skipped",
            "FuzzParse :45 go",
        ]
    );
    assert_eq!(
        named(&tests, "TestSlowCheckout").source,
        "func TestSlowCheckout(t *testing.T) {\n\tt.Skip(\"needs the payment sandbox\")\n}"
    );
    assert!(named(&tests, "TestAdd").source.ends_with("\t\t})\n\t}\n}"));
}

#[test]
fn rust_modules_async_attributes_ignore_and_no_tests_in_literals() {
    let tests = found("cart_tests.rs");
    assert_eq!(
        summaries(&tests),
        [
            "top_level :27 rust",
            "tests › starts_empty :36 rust",
            "tests › checks_out :42 rust",
            "tests › persists :49 rust skipped",
            "tests › pricing › totals :60 rust",
            "tests › pricing › never_negative :66 rust",
        ]
    );
    assert_eq!(
        named(&tests, "persists").source,
        "#[test]\n    #[ignore = \"needs a database\"]\n    fn persists() {}"
    );
    let checks_out = named(&tests, "checks_out");
    assert!(
        checks_out
            .source
            .starts_with("#[tokio::test(flavor = \"multi_thread\"")
    );
    assert!(
        checks_out
            .source
            .ends_with("assert_eq!(label.len(), 1);\n    }")
    );
}

#[test]
fn xunit_facts_theories_traits_skip_and_display_names() {
    let tests = found("CartTests.cs");
    assert_eq!(
        summaries(&tests),
        [
            "CartTests › StartsEmpty :19 xunit",
            "CartTests › Totals :28 xunit tags=Pricing",
            "CartTests › ChecksOut :35 xunit skipped id=1a2b3c4d",
            "CartTests › Removes :42 xunit id=0ddba115",
            "CartTests › WhenFull › RejectsMore :47 xunit",
        ]
    );
    assert_eq!(tests[3].title, "removes an item");
    assert_eq!(
        tests[3].source,
        "[Fact(DisplayName = \"removes an item @T0ddba115\")]\n    public void Removes() => Assert.True(_cart.Remove(\"sku\"));"
    );
    assert!(
        tests[1]
            .source
            .starts_with("[Theory]\n    [InlineData(1, 10)]")
    );
    assert!(
        tests[1]
            .source
            .ends_with("Assert.Equal(total, _cart.Total);\n    }")
    );
}

#[test]
fn nunit_combined_attributes_categories_and_ignore() {
    let tests = found("OrderTests.cs");
    assert_eq!(
        summaries(&tests),
        [
            "OrderTests › Creates :13 nunit tags=orders,smoke",
            "OrderTests › Counts :20 nunit tags=orders",
            "OrderTests › AddsTax :27 nunit skipped tags=orders",
            "OrderTests › FromSource :30 nunit tags=orders",
            // Preprocessor conditions are not evaluated: a test under `#if` is declared.
            "OrderTests › Legacy :36 nunit tags=orders",
        ]
    );
}

#[test]
fn mstest_methods_categories_and_display_names() {
    let tests = found("InvoiceTests.cs");
    assert_eq!(
        summaries(&tests),
        [
            "InvoiceTests › Totals :13 mstest tags=billing",
            "InvoiceTests › Rounds :21 mstest",
            "InvoiceTests › Prints :25 mstest skipped",
        ]
    );
    assert_eq!(tests[2].title, "prints a PDF");
}

#[test]
fn every_fixture_scans_the_same_twice() {
    for file in [
        "cart.test.ts",
        "api.spec.js",
        "math.test.ts",
        "login.spec.ts",
        "checkout.cy.js",
        "test_shop.py",
        "LegacyCartTest.java",
        "CartTest.java",
        "cart_test.go",
        "cart_tests.rs",
        "CartTests.cs",
        "OrderTests.cs",
        "InvoiceTests.cs",
    ] {
        assert_eq!(found(file), found(file), "{file}");
    }
}
