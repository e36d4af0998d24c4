//! CSV for exports, written by the `csv` crate (RFC 4180: fields quoted when they hold a comma,
//! quote or line break; CRLF line ends). Cells that a spreadsheet would run as a formula (`=`,
//! `+`, `-`, `@`, tab, carriage return first) are prefixed with `'` (OWASP's CSV-injection
//! advice): an export must be safe to open.

/// One CSV table, in memory.
#[derive(Debug)]
pub struct Csv {
    writer: csv::Writer<Vec<u8>>,
    /// The first write that failed (none can, into memory; kept rather than dropped).
    failed: Option<csv::Error>,
}

/// The cell as written: a would-be formula defused.
fn defused(value: String) -> String {
    if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value
    }
}

impl Csv {
    /// A table with this header.
    #[must_use]
    pub fn new(header: &[&str]) -> Self {
        let writer = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(Vec::new());
        let mut csv = Self { writer, failed: None };
        csv.row(header.iter().map(|h| (*h).to_owned()));
        csv
    }

    /// Appends a row.
    pub fn row(&mut self, cells: impl IntoIterator<Item = String>) {
        let written = self.writer.write_record(cells.into_iter().map(defused));
        if let (Err(error), None) = (written, &self.failed) {
            self.failed = Some(error);
        }
    }

    /// The text.
    ///
    /// # Errors
    /// When a row could not be written.
    pub fn into_string(self) -> anyhow::Result<String> {
        if let Some(error) = self.failed {
            return Err(error.into());
        }
        let bytes =
            self.writer.into_inner().map_err(|e| anyhow::anyhow!("CSV not flushed: {}", e.error()))?;
        Ok(String::from_utf8(bytes)?)
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
        csv.row(["+1".to_owned(), "@SUM(A1)".to_owned()]);

        let text = csv.into_string().expect("written");

        assert_eq!(
            text,
            "a,b\r\n\"x,y\",\"say \"\"hi\"\"\nbye\"\r\n\"'=HYPERLINK(\"\"http://evil\"\")\",'-1\r\n'+1,'@SUM(A1)\r\n"
        );
        // And a CSV reader reads back exactly the cells (defused).
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let rows: Vec<Vec<String>> =
            reader.records().map(|r| r.expect("row").iter().map(str::to_owned).collect()).collect();
        assert_eq!(rows[0], ["x,y", "say \"hi\"\nbye"]);
        assert_eq!(rows[1], ["'=HYPERLINK(\"http://evil\")", "'-1"]);
    }
}
