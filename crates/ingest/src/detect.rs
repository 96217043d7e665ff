//! Which report format an upload is, from its first (decompressed) bytes, for clients that don't
//! say. Only a bounded prefix is looked at; a file that is hard to tell apart is better named by
//! the client (`Format::parse`) than guessed from further in.

use crate::IngestError;

/// How far into the body `detect` looks.
pub const SNIFF_BYTES: usize = 64 * 1024;

const SUPPORTED: &str = "supported formats: JUnit XML (`junit`, root <testsuites> or <testsuite>), \
                         CTRF JSON (`ctrf`), Allure results as a zip archive (`allure`)";

/// A report format we can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    Junit,
    Ctrf,
    AllureZip,
}

impl Format {
    pub const ALL: [Format; 3] = [Format::Junit, Format::Ctrf, Format::AllureZip];

    /// The name clients use (`?format=`, `--format`).
    pub fn name(self) -> &'static str {
        match self {
            Format::Junit => "junit",
            Format::Ctrf => "ctrf",
            Format::AllureZip => "allure",
        }
    }

    /// Parses a client's format name (case-insensitive).
    pub fn parse(name: &str) -> Result<Format, IngestError> {
        let name = name.trim();
        Format::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(name))
            .ok_or_else(|| {
                let shown: String = name.chars().take(40).collect();
                IngestError::UnknownFormat(format!("no format named {shown:?}; {SUPPORTED}"))
            })
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Tells the format from the first bytes of a decompressed body (pass at least a few KiB when the
/// body has them; only the first `SNIFF_BYTES` are looked at).
pub fn detect(prefix: &[u8]) -> Result<Format, IngestError> {
    let prefix = &prefix[..prefix.len().min(SNIFF_BYTES)];
    if prefix.starts_with(b"PK\x03\x04") || prefix.starts_with(b"PK\x05\x06") {
        return Ok(Format::AllureZip);
    }
    if prefix.starts_with(&[0x1f, 0x8b]) || prefix.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        return Err(unknown(
            "the body is still gzip- or zstd-compressed (compressed twice?)",
        ));
    }
    let text = prefix.strip_prefix(b"\xef\xbb\xbf").unwrap_or(prefix);
    let text = skip_ws(text);
    match text.first() {
        None => Err(unknown("the body is empty")),
        Some(b'{') => {
            if contains(text, b"\"reportFormat\"") || contains(text, b"\"results\"") {
                Ok(Format::Ctrf)
            } else {
                Err(unknown(
                    "a JSON object without a \"results\" or \"reportFormat\" key near its start",
                ))
            }
        }
        Some(b'<') => match xml_root(text) {
            XmlRoot::Element(name) => {
                let local = name.rsplit(|&b| b == b':').next().unwrap_or(name);
                if local == b"testsuites" || local == b"testsuite" {
                    Ok(Format::Junit)
                } else {
                    let shown = String::from_utf8_lossy(&name[..name.len().min(60)]).into_owned();
                    Err(unknown(&format!("XML whose root element is <{shown}>")))
                }
            }
            XmlRoot::NotFound => Err(unknown(&format!(
                "XML without a root element in its first {} bytes",
                prefix.len()
            ))),
        },
        Some(_) if text.starts_with(b"\xfe\xff") || text.starts_with(b"\xff\xfe") => {
            Err(unknown("UTF-16 text (re-encode it as UTF-8)"))
        }
        Some(_) => Err(unknown("neither XML, JSON nor a zip archive")),
    }
}

fn unknown(what: &str) -> IngestError {
    IngestError::UnknownFormat(format!("{what}; {SUPPORTED}"))
}

fn skip_ws(s: &[u8]) -> &[u8] {
    let start = s
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(s.len());
    &s[start..]
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

enum XmlRoot<'a> {
    Element(&'a [u8]),
    NotFound,
}

/// The first element's name, after the declaration, processing instructions, comments and a
/// doctype. A deliberately small reader: `detect` only needs the root's name.
fn xml_root(mut s: &[u8]) -> XmlRoot<'_> {
    loop {
        s = skip_ws(s);
        if s.starts_with(b"<?") {
            match find(s, b"?>") {
                Some(end) => s = &s[end + 2..],
                None => return XmlRoot::NotFound,
            }
        } else if s.starts_with(b"<!--") {
            match find(&s[4..], b"-->") {
                Some(end) => s = &s[4 + end + 3..],
                None => return XmlRoot::NotFound,
            }
        } else if s.starts_with(b"<!") {
            // A doctype, possibly with an internal subset in brackets.
            let mut depth = 0usize;
            let mut end = None;
            for (i, &b) in s.iter().enumerate().skip(2) {
                match b {
                    b'[' => depth += 1,
                    b']' => depth = depth.saturating_sub(1),
                    b'>' if depth == 0 => {
                        end = Some(i);
                        break;
                    }
                    _ => {}
                }
            }
            match end {
                Some(end) => s = &s[end + 1..],
                None => return XmlRoot::NotFound,
            }
        } else if let Some(rest) = s.strip_prefix(b"<") {
            let len = rest
                .iter()
                .position(|&b| b.is_ascii_whitespace() || b == b'>' || b == b'/')
                .unwrap_or(rest.len());
            if len == 0 || len == rest.len() {
                return XmlRoot::NotFound;
            }
            return XmlRoot::Element(&rest[..len]);
        } else {
            return XmlRoot::NotFound;
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zip_json_and_xml_are_told_apart() {
        assert_eq!(detect(b"PK\x03\x04rest").unwrap(), Format::AllureZip);
        assert_eq!(detect(b"PK\x05\x06").unwrap(), Format::AllureZip);
        assert_eq!(
            detect(br#"{"reportFormat":"CTRF","results":{}}"#).unwrap(),
            Format::Ctrf
        );
        assert_eq!(
            detect(b"\xef\xbb\xbf\n  {\n \"results\": {\"tests\": []}}").unwrap(),
            Format::Ctrf
        );
        assert_eq!(detect(b"<testsuites/>").unwrap(), Format::Junit);
        assert_eq!(
            detect(
                b"\xef\xbb\xbf<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- generated -->\n\
                  <?xml-stylesheet href=\"a\"?><!DOCTYPE testsuite [<!ENTITY x \"y\">]>\n\
                  <testsuite name=\"a\" tests=\"1\">"
            )
            .unwrap(),
            Format::Junit
        );
        assert_eq!(
            detect(b"<ns:testsuite xmlns:ns=\"x\">").unwrap(),
            Format::Junit
        );
    }

    #[test]
    fn unknown_bodies_name_what_they_are_and_what_is_supported() {
        for (body, hint) in [
            (&b""[..], "empty"),
            (b"   \n", "empty"),
            (b"{\"name\": 1}", "JSON object"),
            (b"<html><body>", "<html>"),
            (b"<!-- never closed", "without a root"),
            (b"\x1f\x8b\x08\x00", "compressed"),
            (b"hello", "neither"),
            (b"[1,2]", "neither"),
        ] {
            let err = detect(body).unwrap_err();
            let text = err.to_string();
            assert!(matches!(err, IngestError::UnknownFormat(_)));
            assert!(text.contains(hint), "{text}");
            assert!(
                text.contains("junit") && text.contains("ctrf") && text.contains("allure"),
                "{text}"
            );
        }
    }

    #[test]
    fn only_the_prefix_is_looked_at() {
        let mut body = b"{\"padding\": \"".to_vec();
        body.extend(std::iter::repeat_n(b'x', SNIFF_BYTES));
        body.extend_from_slice(b"\", \"results\": {}}");
        assert!(detect(&body).is_err());
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config { cases: 256, failure_persistence: None, ..Default::default() })]

        #[test]
        fn arbitrary_prefixes_never_panic(bytes in proptest::collection::vec(proptest::arbitrary::any::<u8>(), 0..256)) {
            let _ = detect(&bytes);
        }

        #[test]
        fn xml_and_json_like_prefixes_never_panic(text in "[<?!\\-\\[\\]> a-z:{}\"]{0,64}") {
            if let Err(err) = detect(text.as_bytes()) {
                proptest::prop_assert!(matches!(err, IngestError::UnknownFormat(_)));
            }
        }
    }

    #[test]
    fn names_round_trip() {
        for f in Format::ALL {
            assert_eq!(Format::parse(f.name()).unwrap(), f);
            assert_eq!(Format::parse(&f.name().to_uppercase()).unwrap(), f);
        }
        let err = Format::parse("xunit").unwrap_err().to_string();
        assert!(err.contains("\"xunit\"") && err.contains("ctrf"), "{err}");
    }
}
