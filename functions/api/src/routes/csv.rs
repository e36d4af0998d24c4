//! CSV for exports (RFC 4180): fields quoted when they hold a comma, quote or line break, and
//! cells that a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, carriage return)
//! prefixed with `'` (OWASP's CSV-injection advice) — an export must be safe to open.

use std::fmt::Write as _;

/// One CSV table.
#[derive(Debug, Default)]
pub struct Csv {
    text: String,
}

fn cell(value: &str) -> String {
    let guarded = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    if guarded.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", guarded.replace('"', "\"\""))
    } else {
        guarded
    }
}

impl Csv {
    /// A table with this header.
    #[must_use]
    pub fn new(header: &[&str]) -> Self {
        let mut csv = Self::default();
        csv.row(header.iter().map(|h| (*h).to_owned()));
        csv
    }

    /// Appends a row.
    pub fn row(&mut self, cells: impl IntoIterator<Item = String>) {
        let line: Vec<String> = cells.into_iter().map(|c| cell(&c)).collect();
        let _ = write!(self.text, "{}\r\n", line.join(","));
    }

    /// The text.
    #[must_use]
    pub fn into_string(self) -> String {
        self.text
    }
}

/// An optional value as a cell.
#[must_use]
pub fn opt<T: ToString>(value: Option<T>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_what_needs_quoting_and_defuses_formulas() {
        let mut csv = Csv::new(&["a", "b"]);
        csv.row(["x,y".to_owned(), "say \"hi\"\nbye".to_owned()]);
        csv.row(["=HYPERLINK(\"http://evil\")".to_owned(), "-1".to_owned()]);
        assert_eq!(
            csv.into_string(),
            "a,b\r\n\"x,y\",\"say \"\"hi\"\"\nbye\"\r\n\"'=HYPERLINK(\"\"http://evil\"\")\",'-1\r\n"
        );
    }
}
