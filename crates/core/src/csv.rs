//! CSV as spreadsheets read it: every cell quoted, formulas defused on the way out and the
//! defusing undone on the way in, so an export imports back unchanged.

/// Characters that make a spreadsheet treat a cell as a formula; `'` too, so a leading quote
/// that is content survives the round trip.
const DEFUSE: [char; 7] = ['=', '+', '-', '@', '\t', '\r', '\''];

/// One cell: quoted, with a leading `'` before `= + - @ tab CR '` so no spreadsheet runs it.
pub fn cell(raw: &str) -> String {
    let defused = if raw.starts_with(DEFUSE) {
        format!("'{raw}")
    } else {
        raw.to_string()
    };
    format!("\"{}\"", defused.replace('"', "\"\""))
}

/// A cell's value as exported by `cell`: the defusing `'` removed.
pub fn undefuse(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if rest.starts_with(DEFUSE) => rest,
        _ => cell,
    }
}

/// Why a CSV text could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct CsvError {
    pub line: usize,
    pub message: &'static str,
}

/// Rows of an RFC 4180 text (quoted cells may hold commas, quotes and newlines). A BOM and
/// blank lines are skipped.
pub fn parse(text: &str) -> Result<Vec<Vec<String>>, CsvError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut rows = Vec::new();
    let mut row: Vec<String> = Vec::new();
    let mut cell = String::new();
    let mut chars = text.chars().peekable();
    let mut line = 1;
    let mut quoted = false;
    let mut in_quotes = false;
    while let Some(c) = chars.next() {
        if in_quotes {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    cell.push('"');
                }
                '"' => in_quotes = false,
                '\n' => {
                    line += 1;
                    cell.push('\n');
                }
                _ => cell.push(c),
            }
            continue;
        }
        match c {
            '"' if cell.is_empty() && !quoted => {
                in_quotes = true;
                quoted = true;
            }
            '"' => {
                return Err(CsvError {
                    line,
                    message: "a quote inside an unquoted cell (quote the whole cell and double the quote)",
                });
            }
            ',' => {
                row.push(std::mem::take(&mut cell));
                quoted = false;
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                row.push(std::mem::take(&mut cell));
                quoted = false;
                if !(row.len() == 1 && row[0].is_empty()) {
                    rows.push(std::mem::take(&mut row));
                } else {
                    row.clear();
                }
                line += 1;
            }
            _ if quoted => {
                return Err(CsvError {
                    line,
                    message: "text after a quoted cell's closing quote",
                });
            }
            _ => cell.push(c),
        }
    }
    if in_quotes {
        return Err(CsvError {
            line,
            message: "a quoted cell is not closed",
        });
    }
    if !cell.is_empty() || quoted || !row.is_empty() {
        row.push(cell);
        rows.push(row);
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_quoted_and_formulas_defused() {
        assert_eq!(cell("plain"), "\"plain\"");
        assert_eq!(cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(cell("@SUM(A1)"), "\"'@SUM(A1)\"");
        assert_eq!(cell("-1+2"), "\"'-1+2\"");
    }

    #[test]
    fn what_is_written_reads_back() {
        let values = [
            "=1+1",
            "'quoted",
            "''",
            "a,b",
            "multi\nline \"q\"",
            "",
            "-",
            "plain",
        ];
        let line: Vec<String> = values.iter().map(|v| cell(v)).collect();
        let text = format!("{}\r\n{}\n", line.join(","), line.join(","));
        let rows = parse(&text).expect("parses");
        assert_eq!(rows.len(), 2);
        let back: Vec<&str> = rows[0].iter().map(|c| undefuse(c)).collect();
        assert_eq!(back, values);
    }

    #[test]
    fn broken_quoting_names_the_line() {
        assert_eq!(parse("a,b\n\"open").map_err(|e| e.line), Err(2));
        assert!(parse("a\"b").is_err());
    }
}
