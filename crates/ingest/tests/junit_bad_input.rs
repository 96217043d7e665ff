//! Hostile and broken JUnit input: each is refused with the right `IngestError`, at the right line
//! and column, quoting little of the input — and nothing a DTD could have pulled in.
#![expect(
    clippy::expect_used,
    reason = "tests: a failure should stop the test loudly"
)]

use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;
use testvault_ingest::decompress::refusal_error;
use testvault_ingest::junit::JunitReader;
use testvault_ingest::{IngestError, Limits, ResultSource, TestResult};

fn corpus(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/junit/bad")
        .join(name);
    std::fs::read(path).expect("corpus file exists")
}

/// Everything the reader yields, until the first error.
fn read_all(reader: impl BufRead, limits: Limits) -> (Vec<TestResult>, Option<IngestError>) {
    let mut reader = JunitReader::new(reader, limits);
    let mut results = Vec::new();
    loop {
        match reader.next_result() {
            Ok(Some(result)) => results.push(result),
            Ok(None) => return (results, None),
            Err(err) => {
                assert_eq!(
                    reader.next_result(),
                    Err(err.clone()),
                    "the refusal is final"
                );
                return (results, Some(err));
            }
        }
    }
}

fn refusal(bytes: &[u8], limits: Limits) -> IngestError {
    let (_, err) = read_all(bytes, limits);
    let err = err.expect("refused");
    assert!(err.to_string().len() < 400, "a short message: {err}");
    err
}

/// The line, column and message of a syntax error.
fn syntax_at(bytes: &[u8]) -> (u64, u64, String) {
    match refusal(bytes, Limits::default()) {
        IngestError::Syntax {
            format,
            line,
            column,
            message,
        } => {
            assert_eq!(format, "junit");
            (line, column, message)
        }
        other => panic!("expected a syntax error, got {other:?}"),
    }
}

fn is_limit(err: &IngestError) -> bool {
    matches!(err, IngestError::Limit(_))
}

#[test]
fn xxe_is_refused_and_nothing_is_read_from_disk() {
    let bytes = corpus("xxe.xml");
    let (results, err) = read_all(bytes.as_slice(), Limits::default());
    assert!(results.is_empty());
    let err = err.expect("refused");
    let IngestError::Syntax {
        line,
        column,
        message,
        ..
    } = &err
    else {
        panic!("expected a syntax error, got {err:?}");
    };
    assert_eq!((*line, *column), (2, 1));
    assert!(message.contains("DOCTYPE"), "{message}");
    let text = format!("{err} {err:?}");
    assert!(
        !text.contains("root:") && !text.contains("/bin/"),
        "no file content: {text}"
    );
}

#[test]
fn billion_laughs_is_refused_before_any_expansion() {
    let (line, column, message) = syntax_at(&corpus("billion-laughs.xml"));
    assert_eq!((line, column), (2, 1));
    assert!(message.contains("DOCTYPE"), "{message}");
}

#[test]
fn a_doctype_anywhere_is_refused() {
    let (line, column, _) = syntax_at(b"<testsuite>\n  <!DOCTYPE x>\n</testsuite>");
    assert_eq!((line, column), (2, 3));
}

#[test]
fn unknown_entities_are_refused_in_text_and_attributes() {
    let (line, column, message) = syntax_at(&corpus("unknown-entity.xml"));
    assert_eq!((line, column), (3, 18));
    assert!(message.contains("&nbsp;"), "{message}");
    let (line, column, message) =
        syntax_at(b"<testsuite>\n<testcase name=\"a&nbsp;b\"/></testsuite>");
    assert_eq!((line, column), (2, 1));
    assert!(message.contains("&nbsp;"), "{message}");
    let (_, _, message) =
        syntax_at(b"<testsuite><testcase name=\"a\">&#xFFFFFF;</testcase></testsuite>");
    assert!(message.contains("character reference"), "{message}");
}

#[test]
fn a_truncated_document_is_refused_after_the_complete_cases() {
    let bytes = corpus("truncated.xml");
    let (results, err) = read_all(bytes.as_slice(), Limits::default());
    assert_eq!(results.len(), 1, "the complete case before the cut is read");
    let Some(IngestError::Syntax {
        line,
        column,
        message,
        ..
    }) = err
    else {
        panic!("expected a syntax error, got {err:?}");
    };
    assert_eq!((line, column), (6, 1), "at the end of the input");
    assert!(message.contains("truncated"), "{message}");
    // Cut inside a tag.
    let (line, column, _) = syntax_at(b"<testsuite>\n  <testcase name=\"a");
    assert_eq!((line, column), (2, 3));
}

#[test]
fn mismatched_tags() {
    let (line, column, message) = syntax_at(&corpus("mismatched.xml"));
    assert_eq!((line, column), (4, 3));
    assert!(
        message.contains("</testsuite>") && message.contains("<testcase>"),
        "{message}"
    );
    let (line, column, _) = syntax_at(b"<testsuite></testsuite>\n</testsuite>");
    assert_eq!((line, column), (2, 1));
}

#[test]
fn invalid_utf8_is_located_at_the_bad_byte() {
    let (line, column, message) = syntax_at(&corpus("invalid-utf8.xml"));
    assert_eq!((line, column), (3, 20));
    assert!(message.contains("UTF-8"), "{message}");
    let (_, _, message) =
        syntax_at(b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><testsuite name=\"\xe9\"/>");
    assert!(
        message.contains("ISO-8859-1"),
        "the declared encoding is named: {message}"
    );
    // UTF-16 is not read either.
    let (line, column, _) = syntax_at(b"\xff\xfe<\x00t\x00");
    assert_eq!((line, column), (1, 1));
}

#[test]
fn not_xml_at_all() {
    let (line, column, message) = syntax_at(&corpus("not-xml.txt"));
    assert_eq!((line, column), (1, 1));
    assert!(message.contains("outside the root"), "{message}");
    let (line, column, message) = syntax_at(b"");
    assert_eq!((line, column), (1, 1));
    assert!(message.contains("no <testsuites>"), "{message}");
    let (line, column, message) = syntax_at(b"  \n  <html><body/></html>");
    assert_eq!((line, column), (2, 3));
    assert!(message.contains("<html>"), "{message}");
    let (line, column, _) = syntax_at(b"\r\n\r\n  hello <testsuite/>");
    assert_eq!((line, column), (3, 3), "CRLF line ends count once");
    let (_, _, message) = syntax_at(br#"{"results": {"tests": []}}"#);
    assert!(message.contains("outside the root"), "{message}");
    let (line, _, message) = syntax_at(b"<testsuite/>\n<testsuite/>");
    assert_eq!(line, 2);
    assert!(message.contains("second root"), "{message}");
}

#[test]
fn nesting_deeper_than_the_limit() {
    let limits = Limits {
        max_depth: 16,
        ..Limits::default()
    };
    let ok = format!(
        "<testsuite>{}{}</testsuite>",
        "<a>".repeat(15),
        "</a>".repeat(15)
    );
    assert_eq!(read_all(ok.as_bytes(), limits).1, None);
    let deep = format!("<testsuite>{}", "<a>".repeat(100_000));
    assert!(is_limit(&refusal(deep.as_bytes(), limits)));
    // Self-closing elements count as one more level too.
    let empty = format!(
        "<testsuite>{}<a/>{}</testsuite>",
        "<a>".repeat(15),
        "</a>".repeat(15)
    );
    assert!(is_limit(&refusal(empty.as_bytes(), limits)));
    // With the default limit.
    let deep = format!("<testsuites>{}", "<testsuite>".repeat(1_000));
    assert!(is_limit(&refusal(deep.as_bytes(), Limits::default())));
}

#[test]
fn too_many_elements() {
    let limits = Limits {
        max_elements: 1_000,
        ..Limits::default()
    };
    let cases = |n: usize| {
        format!(
            "<testsuite>{}</testsuite>",
            "<testcase name=\"t\"/>".repeat(n)
        )
    };
    assert_eq!(read_all(cases(999).as_bytes(), limits).0.len(), 999);
    let (results, err) = read_all(cases(5_000).as_bytes(), limits);
    assert_eq!(
        results.len(),
        999,
        "results before the limit are handed out"
    );
    assert!(is_limit(&err.expect("refused")));
}

#[test]
fn huge_attributes_are_refused_and_not_quoted() {
    let limits = Limits {
        max_attribute_bytes: 1024,
        ..Limits::default()
    };
    let fits = format!(
        "<testsuite><testcase name=\"{}\"/></testsuite>",
        "a".repeat(1024)
    );
    assert_eq!(read_all(fits.as_bytes(), limits).0.len(), 1);
    let huge = format!(
        "<testsuite><testcase name=\"{}\"/></testsuite>",
        "a".repeat(1025)
    );
    let err = refusal(huge.as_bytes(), limits);
    assert!(is_limit(&err), "{err:?}");
    // Also on elements we otherwise ignore.
    let ignored = format!(
        "<testsuite><whatever x=\"{}\"/></testsuite>",
        "a".repeat(5000)
    );
    assert!(is_limit(&refusal(ignored.as_bytes(), limits)));
}

#[test]
fn errors_quote_little_of_the_input() {
    let long = "a".repeat(10_000);
    let inputs = [
        format!("<{long}/>"),
        format!("<testsuite><{long}></testsuite>"),
        format!("<testsuite>&{long};</testsuite>"),
        format!("<testsuite><testcase name=\"&{long};\"/></testsuite>"),
        format!("<testsuite><testcase name=\"x\" {long}/></testsuite>"),
        format!("{long}<testsuite/>"),
    ];
    for input in inputs {
        let err = refusal(input.as_bytes(), Limits::default());
        let text = format!("{err}");
        assert!(text.len() < 300, "{} bytes: {text}", text.len());
        assert!(!text.contains(&"a".repeat(100)), "{text}");
    }
}

#[test]
fn lines_are_counted_across_small_read_buffers() {
    let mut doc = String::from("\u{feff}<testsuite>\n");
    for i in 0..200 {
        doc.push_str(&format!("  <testcase name=\"t{i}\">\n    <system-out>line\nline\r\n</system-out>\n  </testcase>\n"));
    }
    doc.push_str("  <testcase name=\"bad\">\n      </testsuite>");
    let whole = syntax_at(doc.as_bytes());
    assert_eq!((whole.0, whole.1), (1 + 200 * 5 + 2, 7));
    for capacity in [1, 2, 3, 7, 64] {
        let (results, err) = read_all(
            BufReader::with_capacity(capacity, doc.as_bytes()),
            Limits::default(),
        );
        assert_eq!(results.len(), 200);
        let Some(IngestError::Syntax { line, column, .. }) = err else {
            panic!("expected a syntax error, got {err:?}");
        };
        assert_eq!((line, column), (whole.0, whole.1), "buffer of {capacity}");
    }
}

#[test]
fn the_bom_does_not_count_as_a_column() {
    let (line, column, _) = syntax_at(b"\xEF\xBB\xBF<html/>");
    assert_eq!((line, column), (1, 1));
}

/// A stream that refuses partway, as a decompressor does when a limit is reached.
struct Refusing {
    sent: bool,
}

impl Read for Refusing {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.sent {
            return Err(refusal_error(IngestError::limit(
                "decompressed past the limit",
            )));
        }
        self.sent = true;
        let start = b"<testsuite><testcase name=\"a\"/><testcase";
        buf[..start.len()].copy_from_slice(start);
        Ok(start.len())
    }
}

#[test]
fn a_refusal_from_the_stream_comes_back_unchanged() {
    let reader = BufReader::with_capacity(256, Refusing { sent: false });
    let (results, err) = read_all(reader, Limits::default());
    assert_eq!(results.len(), 1);
    assert_eq!(err, Some(IngestError::limit("decompressed past the limit")));
}
