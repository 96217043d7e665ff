//! CSV exports: every cell quoted, formulas defused, served as a download.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

/// One CSV cell: quoted, and a leading `= + - @` (or tab/CR) defused with `'` so spreadsheets
/// never run it as a formula.
pub fn csv_cell(raw: &str) -> String {
    let defused = if raw.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{raw}")
    } else {
        raw.to_string()
    };
    format!("\"{}\"", defused.replace('"', "\"\""))
}

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
    let mut resp = out.into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_quoted_and_formulas_defused() {
        assert_eq!(csv_cell("plain"), "\"plain\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_cell("@SUM(A1)"), "\"'@SUM(A1)\"");
        assert_eq!(csv_cell("-1+2"), "\"'-1+2\"");
    }
}
