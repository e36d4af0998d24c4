//! What the commands print: a JSON document with `--json`, lines of text otherwise. Results go
//! to stdout, errors and notes to stderr.

// The CLI's output is its purpose: printing is allowed here, and only here.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use serde_json::{json, Value};

use crate::error::AdminError;

/// The output mode.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    /// `--json`.
    pub json: bool,
}

impl Output {
    /// Prints `value` as JSON, or `text` (built only in text mode).
    pub fn result(&self, value: &Value, text: impl FnOnce() -> String) {
        if self.json {
            println!("{}", serde_json::to_string_pretty(value).unwrap_or_default());
        } else {
            println!("{}", text());
        }
    }

    /// Reports a failure on stderr.
    pub fn error(&self, error: &AdminError) {
        if self.json {
            let body = json!({"error": error.kind(), "message": format!("{error:#}")});
            eprintln!("{body}");
        } else {
            eprintln!("leadline-admin: {error:#}");
        }
    }
}

/// Asks on the terminal; `true` when the answer is exactly `expected`. Without a terminal the
/// answer is no (a script must say `--yes`).
pub fn confirm(question: &str, expected: &str) -> bool {
    use std::io::{BufRead as _, IsTerminal as _, Write as _};
    if !std::io::stdin().is_terminal() {
        return false;
    }
    eprint!("{question} ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    if std::io::stdin().lock().read_line(&mut answer).is_err() {
        return false;
    }
    answer.trim() == expected
}
