//! `multipart/form-data` bodies (RFC 7578): an Allure results directory sent as files, the way
//! `curl -F 'file=@allure-results/…-result.json'` or a browser's folder upload sends it. The
//! files are read whole (an Allure directory is only understood once every file is in), within
//! `Limits::max_decompressed_bytes` in total and `max_zip_entries` files.

use crate::{IngestError, Limits};
use std::io::Read;

const FORMAT: &str = "multipart";
/// One part's header block; real ones are a few hundred bytes.
const MAX_HEADER_BYTES: usize = 16 * 1024;

/// The boundary of a `multipart/form-data` content type, `None` for any other type or a
/// boundary RFC 2046 does not allow (1–70 characters).
pub fn boundary(content_type: &str) -> Option<String> {
    let mut params = content_type.split(';');
    let kind = params.next()?.trim();
    if !kind.eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params.find_map(|p| {
        let (name, value) = p.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("boundary") {
            return None;
        }
        let value = value.trim();
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(value);
        (1..=70).contains(&value.len()).then(|| value.to_string())
    })
}

/// One part of a form: its field name, its file name (for files) and its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub name: Option<String>,
    pub filename: Option<String>,
    pub bytes: Vec<u8>,
}

/// Every part of a form held in memory (a page's upload form: fields and files), in order,
/// within `limits.max_decompressed_bytes` in total and `max_zip_entries` files.
pub fn read_parts(body: &[u8], boundary: &str, limits: Limits) -> Result<Vec<Part>, IngestError> {
    if body.len() as u64 > limits.max_decompressed_bytes {
        return Err(IngestError::limit(format!(
            "the form is larger than {} bytes",
            limits.max_decompressed_bytes
        )));
    }
    parse(body, boundary, limits)
}

/// Every file part of the body as `(filename, bytes)`, in order. Parts without a filename (plain
/// form fields) are skipped.
pub fn read_files(
    body: impl Read,
    boundary: &str,
    limits: Limits,
) -> Result<Vec<(String, Vec<u8>)>, IngestError> {
    let mut buf = Vec::new();
    body.take(limits.max_decompressed_bytes.saturating_add(1))
        .read_to_end(&mut buf)
        .map_err(|e| part_error(0, format!("the upload could not be read: {e}")))?;
    if buf.len() as u64 > limits.max_decompressed_bytes {
        return Err(IngestError::limit(format!(
            "the form is larger than {} bytes",
            limits.max_decompressed_bytes
        )));
    }
    Ok(parse(&buf, boundary, limits)?
        .into_iter()
        .filter_map(|p| p.filename.map(|name| (name, p.bytes)))
        .collect())
}

fn parse(body: &[u8], boundary: &str, limits: Limits) -> Result<Vec<Part>, IngestError> {
    let delimiter = format!("--{boundary}");
    let next_part = format!("\r\n--{boundary}");
    let finder = memchr::memmem::Finder::new(next_part.as_bytes());
    // The first delimiter opens the body or follows a preamble's line break.
    let mut at = if body.starts_with(delimiter.as_bytes()) {
        delimiter.len()
    } else {
        finder
            .find(body)
            .map(|i| i + next_part.len())
            .ok_or_else(|| part_error(0, "no part starts with the boundary"))?
    };
    let mut files = Vec::new();
    let mut count = 0;
    let mut index = 0;
    loop {
        index += 1;
        let rest = &body[at..];
        if rest.starts_with(b"--") {
            return Ok(files);
        }
        let line_end = skip_padding_and_crlf(rest)
            .ok_or_else(|| part_error(index, "the boundary line does not end in CRLF"))?;
        let part_start = at + line_end;
        let headers_end = memchr::memmem::find(&body[part_start..], b"\r\n\r\n")
            .filter(|n| *n <= MAX_HEADER_BYTES)
            .ok_or_else(|| part_error(index, "the part's headers do not end (or are too long)"))?;
        let headers = std::str::from_utf8(&body[part_start..part_start + headers_end])
            .map_err(|_| part_error(index, "the part's headers are not UTF-8"))?;
        let content_start = part_start + headers_end + 4;
        let content_len = finder
            .find(&body[content_start..])
            .ok_or_else(|| part_error(index, "the body ends before the closing boundary"))?;
        let file = filename(headers);
        if file.is_some() {
            count += 1;
            if count > limits.max_zip_entries {
                return Err(IngestError::limit(format!(
                    "multipart: more than {} files (max_zip_entries)",
                    limits.max_zip_entries
                )));
            }
        }
        files.push(Part {
            name: field_name(headers),
            filename: file,
            bytes: body[content_start..content_start + content_len].to_vec(),
        });
        at = content_start + content_len + next_part.len();
    }
}

/// Length of the transport padding (spaces, tabs) and CRLF after a delimiter.
fn skip_padding_and_crlf(rest: &[u8]) -> Option<usize> {
    let pad = rest
        .iter()
        .take_while(|b| **b == b' ' || **b == b'\t')
        .count();
    rest[pad..].starts_with(b"\r\n").then_some(pad + 2)
}

/// The `name` of a part's `Content-Disposition` (the form field).
fn field_name(headers: &str) -> Option<String> {
    let disposition = headers.split("\r\n").find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("content-disposition")
            .then_some(value)
    })?;
    split_params(disposition).into_iter().find_map(|param| {
        let (key, value) = param.split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case("name")
            .then(|| unquote(value.trim()))
    })
}

/// The `filename` (or RFC 5987 `filename*`) of a part's `Content-Disposition`.
fn filename(headers: &str) -> Option<String> {
    let disposition = headers.split("\r\n").find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("content-disposition")
            .then_some(value)
    })?;
    let mut plain = None;
    for param in split_params(disposition) {
        let Some((key, value)) = param.split_once('=') else {
            continue;
        };
        match key.trim().to_ascii_lowercase().as_str() {
            "filename*" => {
                // `UTF-8''name%20with%20spaces`
                let value = value.trim();
                let encoded = value.split_once("''").map_or(value, |(_, v)| v);
                if let Some(name) = percent_decode(encoded) {
                    return Some(name).filter(|n| !n.is_empty());
                }
            }
            "filename" => plain = Some(unquote(value.trim())),
            _ => {}
        }
    }
    plain.filter(|n| !n.is_empty())
}

/// `;`-separated parameters, not splitting inside quotes.
fn split_params(value: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in value.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ';' if !quoted => {
                out.push(&value[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&value[start..]);
    out
}

fn unquote(value: &str) -> String {
    match value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
        Some(inner) => {
            let mut out = String::with_capacity(inner.len());
            let mut chars = inner.chars();
            while let Some(c) = chars.next() {
                if c == '\\' {
                    out.extend(chars.next());
                } else {
                    out.push(c);
                }
            }
            out
        }
        None => value.to_string(),
    }
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn part_error(index: usize, message: impl Into<String>) -> IngestError {
    IngestError::Field {
        format: FORMAT,
        field: if index == 0 {
            "(body)".to_string()
        } else {
            format!("part {index}")
        },
        message: message.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(body: &str, boundary: &str) -> Result<Vec<(String, Vec<u8>)>, IngestError> {
        read_files(body.as_bytes(), boundary, Limits::default())
    }

    #[test]
    fn boundary_comes_from_the_content_type() {
        assert_eq!(
            boundary("multipart/form-data; boundary=abc").as_deref(),
            Some("abc")
        );
        assert_eq!(
            boundary("Multipart/Form-Data; charset=utf-8; boundary=\"a b\"").as_deref(),
            Some("a b")
        );
        assert_eq!(boundary("application/zip; boundary=abc"), None);
        assert_eq!(boundary("multipart/form-data"), None);
        assert_eq!(
            boundary(&format!("multipart/form-data; boundary={}", "x".repeat(71))),
            None
        );
    }

    #[test]
    fn file_parts_are_read_and_fields_skipped() {
        let body = "preamble\r\n--XyZ\r\n\
            Content-Disposition: form-data; name=\"note\"\r\n\r\nnot a file\r\n--XyZ\r\n\
            Content-Disposition: form-data; name=\"file\"; filename=\"allure-results/a-result.json\"\r\n\
            Content-Type: application/json\r\n\r\n{\"name\":\"x\"}\r\n--XyZ  \r\n\
            content-disposition: form-data; name=\"file\"; filename*=UTF-8''b%20c-container.json\r\n\r\n\
            line1\r\nline2\r\n--XyZ--\r\nepilogue";
        let got = files(body, "XyZ").expect("parses");
        assert_eq!(
            got,
            vec![
                (
                    "allure-results/a-result.json".to_string(),
                    b"{\"name\":\"x\"}".to_vec()
                ),
                ("b c-container.json".to_string(), b"line1\r\nline2".to_vec()),
            ]
        );
    }

    #[test]
    fn broken_forms_are_refused_with_the_part() {
        let unterminated = "--b\r\nContent-Disposition: form-data; name=f; filename=x\r\n\r\ndata";
        let err = files(unterminated, "b").expect_err("no closing boundary");
        assert!(err.to_string().contains("part 1"), "{err}");
        assert!(err.to_string().contains("closing boundary"), "{err}");
        let err = files("hello", "b").expect_err("no parts");
        assert!(err.to_string().contains("boundary"), "{err}");
        let endless = format!("--b\r\n{}", "X".repeat(MAX_HEADER_BYTES + 10));
        assert!(files(&endless, "b").is_err());
    }

    #[test]
    fn size_and_file_count_are_limited() {
        let limits = Limits {
            max_decompressed_bytes: 10,
            ..Limits::default()
        };
        let err = read_files(&b"--b\r\n0123456789abc"[..], "b", limits).expect_err("too big");
        assert!(matches!(err, IngestError::Limit(_)), "{err}");
        let part = "--b\r\nContent-Disposition: form-data; name=f; filename=x\r\n\r\n1\r\n";
        let body = format!("{}--b--", part.repeat(3));
        let limits = Limits {
            max_zip_entries: 2,
            ..Limits::default()
        };
        let err = read_files(body.as_bytes(), "b", limits).expect_err("too many");
        assert!(err.to_string().contains("max_zip_entries"), "{err}");
    }
}
