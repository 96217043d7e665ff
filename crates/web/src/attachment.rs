//! Serving a case attachment: always with the type decided at upload, `nosniff` (set on every
//! response), and `Content-Disposition: attachment` — `inline` only for the image types a page
//! previews, so no uploaded file is ever rendered as a document of this site.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use testvault_core::cases::attachments::{AttachmentView, is_image};

/// `name` as an ASCII fallback file name: non-ASCII and the characters that quote, separate or
/// are not allowed in file names (`" \ ; < > : / * ? |`) replaced by `_`.
fn ascii_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_graphic()
                && !matches!(
                    c,
                    '"' | '\\' | ';' | '<' | '>' | ':' | '/' | '*' | '?' | '|'
                )
                || c == ' '
            {
                c
            } else {
                '_'
            }
        })
        .collect()
}

pub fn file_response(view: &AttachmentView, bytes: Vec<u8>, inline: bool) -> Response {
    let disposition = if inline && is_image(&view.content_type) {
        "inline"
    } else {
        "attachment"
    };
    let mut resp = bytes.into_response();
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&view.content_type) {
        h.insert(header::CONTENT_TYPE, v);
    }
    let value = format!(
        "{disposition}; filename=\"{}\"; filename*=UTF-8''{}",
        ascii_name(&view.name),
        crate::ui::pages::url_encode(&view.name)
    );
    let fallback = HeaderValue::from_static("attachment");
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&value).unwrap_or(fallback),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_names_cannot_break_out() {
        assert_eq!(
            ascii_name("a\"; filename=evil.html"),
            "a__ filename=evil.html"
        );
        assert_eq!(ascii_name("résumé.pdf"), "r_sum_.pdf");
    }
}
