//! CSV exports: every cell quoted, formulas defused, served as a download.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

pub use testvault_core::csv::cell as csv_cell;

/// `value` as the JSON answer, or — for `?format=csv` — the rows `to_rows` makes of it, under
/// `header`, as a spreadsheet named `filename`: the two forms every report table is served in.
pub fn json_or_csv<T: serde::Serialize>(
    format: Option<&str>,
    value: T,
    filename: &'static str,
    header: &str,
    to_rows: impl FnOnce(&T) -> Vec<Vec<String>>,
) -> Response {
    if format == Some("csv") {
        csv_response(filename, header, &to_rows(&value))
    } else {
        super::data(value).into_response()
    }
}

/// A header line and rows as a `text/csv` attachment named `filename` (a fixed name: nothing a
/// user typed goes into a header).
pub fn csv_response(filename: &'static str, header: &str, rows: &[Vec<String>]) -> Response {
    let mut out = String::from(header);
    out.push('\n');
    for row in rows {
        out.push_str(
            &row.iter()
                .map(|c| csv_cell(c))
                .collect::<Vec<_>>()
                .join(","),
        );
        out.push('\n');
    }
    download(out, "text/csv; charset=utf-8", filename)
}

/// A text download with a fixed file name (nothing a user typed goes into a header).
pub fn download(body: String, content_type: &'static str, filename: &'static str) -> Response {
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    resp
}
