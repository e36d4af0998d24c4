//! Structured JSON logs through `tracing`, one initialisation for every function.
//!
//! The discipline (P17): log ids and counts, never content. Message bodies, phone numbers,
//! emails, tokens and secrets never go into a field or a message. The types help:
//! [`crate::domain::Secret`] and [`crate::domain::PhoneNumber`] do not print their value, and
//! [`Redacted`] wraps anything else that must be mentioned without being shown.
//! Spans carry `tenant_id`, `request_id` and `message_id`; lambda_runtime adds the invocation's
//! `requestId` span around each handler call. Every line lists all its enclosing spans, so a
//! record's line carries both the invocation's `requestId` and the record's `message_id`.

use std::fmt;

use tracing_subscriber::EnvFilter;

/// Installs the JSON subscriber. The level comes from `AWS_LAMBDA_LOG_LEVEL` (set by Lambda's
/// logging configuration) or `RUST_LOG`, defaulting to `info`. Safe to call twice (the second
/// call does nothing), which tests rely on.
pub fn init() {
    let filter = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .ok()
        .or_else(|| std::env::var("RUST_LOG").ok())
        .and_then(|level| EnvFilter::try_new(level.to_lowercase()).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .with_span_list(true)
        .flatten_event(true)
        .with_target(true)
        .with_ansi(false)
        .try_init();
}

/// A JSON error, described for a log line: its kind and position only. serde's own message may
/// quote the offending value (`invalid type: string "…"`), which can be personal data.
#[must_use]
pub fn json_error(error: &serde_json::Error) -> String {
    let kind = match error.classify() {
        serde_json::error::Category::Io => "I/O error",
        serde_json::error::Category::Syntax => "syntax error",
        serde_json::error::Category::Data => "unexpected shape",
        serde_json::error::Category::Eof => "truncated JSON",
    };
    format!("{kind} at line {} column {}", error.line(), error.column())
}

/// Mentions a value in a log without showing it: prints its length only.
#[derive(Clone, Copy)]
pub struct Redacted<'a>(pub &'a str);

impl fmt::Display for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[redacted {} bytes]", self.0.len())
    }
}

impl fmt::Debug for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_errors_are_described_without_the_offending_value() {
        let error = serde_json::from_str::<Vec<u8>>(r#""+5511988887777""#).expect_err("not a list");
        assert!(error.to_string().contains("5511988887777"), "serde itself quotes the value");
        let described = json_error(&error);
        assert!(!described.contains("5511988887777"));
        assert!(described.starts_with("unexpected shape at line 1"));
    }
}
