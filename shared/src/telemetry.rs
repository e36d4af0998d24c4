//! Structured JSON logs through `tracing`, one initialisation for every function.
//!
//! The discipline (P17): log ids and counts, never content. Message bodies, phone numbers,
//! emails, tokens and secrets never go into a field or a message. The types help:
//! [`crate::domain::Secret`] and [`crate::domain::PhoneNumber`] do not print their value, and
//! [`Redacted`] wraps anything else that must be mentioned without being shown.
//! Spans carry `tenant_id`, `request_id` and `message_id`; lambda_runtime adds the invocation's
//! `requestId` span around each handler call. Every line lists all its enclosing spans, so a
//! record's line carries both the invocation's `requestId` and the record's `message_id`; and
//! `requestId` and `tenant_id` are copied to the line's top level (as Lambda's own JSON format
//! and Powertools place them), where log queries and metric filters find them.

use std::fmt;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::format::{JsonFields, Writer};
use tracing_subscriber::fmt::time::{FormatTime as _, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt as _;

/// Installs the JSON subscriber. The level comes from `AWS_LAMBDA_LOG_LEVEL` (set by Lambda's
/// logging configuration) or `RUST_LOG`, defaulting to `info`. Safe to call twice (the second
/// call does nothing), which tests rely on.
pub fn init() {
    let filter = level_filter(
        std::env::var("AWS_LAMBDA_LOG_LEVEL").ok().or_else(|| std::env::var("RUST_LOG").ok()).as_deref(),
    );
    let _ = tracing_subscriber::fmt()
        .fmt_fields(JsonFields::new())
        .event_format(LambdaJson)
        .finish()
        .with(filter)
        .try_init();
}

/// The filter of a level setting: a level (`AWS_LAMBDA_LOG_LEVEL`'s `TRACE` … `FATAL`, any case)
/// or `RUST_LOG`-style `target=level` directives (`info,shared=debug`). Targets no directive
/// names log at `info` unless a bare level says otherwise; an unreadable setting is `info`.
/// Directives by target only, not `EnvFilter`'s span and field filters, which would link a
/// regular-expression engine into every function for a setting Lambda never uses.
fn level_filter(setting: Option<&str>) -> Targets {
    let setting = setting.map(str::trim).unwrap_or_default().to_ascii_lowercase();
    // Lambda's FATAL has no `tracing` level: errors are the most severe there are.
    let setting = if setting == "fatal" { "error".to_owned() } else { setting };
    let targets = if setting.is_empty() { Targets::new() } else { setting.parse().unwrap_or_default() };
    if targets.default_level().is_some() {
        targets
    } else {
        targets.with_default(Level::INFO)
    }
}

/// Span fields every line carries at its top level, as Lambda's JSON log format and Powertools
/// put them there: queries filter on `requestId` and `tenant_id` without digging into `spans`.
/// The innermost span that has one wins.
const LIFTED: &[&str] = &["requestId", "tenant_id"];

/// One JSON object per line: `timestamp`, `level`, `target`, `message` and the event's fields,
/// the [`LIFTED`] span fields, and `spans` (every enclosing span's fields, outermost first).
#[derive(Debug, Clone, Copy)]
struct LambdaJson;

impl<S, N> FormatEvent<S, N> for LambdaJson
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut root = Map::new();
        let mut timestamp = String::new();
        SystemTime.format_time(&mut Writer::new(&mut timestamp))?;
        root.insert("timestamp".to_owned(), Value::String(timestamp));
        root.insert("level".to_owned(), Value::String(event.metadata().level().to_string()));
        let mut fields = FieldMap(Map::new());
        event.record(&mut fields);
        // An event's own field wins over a span's of the same name.
        let own: Vec<&str> = LIFTED.iter().copied().filter(|name| fields.0.contains_key(*name)).collect();
        root.extend(fields.0);
        root.insert("target".to_owned(), Value::String(event.metadata().target().to_owned()));
        let mut spans = Vec::new();
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                let extensions = span.extensions();
                let mut fields = extensions
                    .get::<FormattedFields<N>>()
                    .and_then(|f| serde_json::from_str::<Map<String, Value>>(&f.fields).ok())
                    .unwrap_or_default();
                for name in LIFTED.iter().filter(|name| !own.contains(name)) {
                    if let Some(value) = fields.get(*name) {
                        root.insert((*name).to_owned(), value.clone());
                    }
                }
                fields.insert("name".to_owned(), Value::String(span.name().to_owned()));
                spans.push(Value::Object(fields));
            }
        }
        if !spans.is_empty() {
            root.insert("spans".to_owned(), Value::Array(spans));
        }
        let line = serde_json::to_string(&Value::Object(root)).map_err(|_| fmt::Error)?;
        writeln!(writer, "{line}")
    }
}

/// An event's fields as JSON values.
struct FieldMap(Map<String, Value>);

impl Visit for FieldMap {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), Value::String(value.to_owned()));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().to_owned(), value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_owned(), value.into());
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().to_owned(), value.into());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().to_owned(), value.into());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().to_owned(), Value::String(format!("{value:?}")));
    }
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
    fn the_level_setting_reads_lambda_levels_and_target_directives() {
        let enabled = |setting: Option<&str>, target: &str, level: Level| {
            level_filter(setting).would_enable(target, &level)
        };
        assert!(enabled(None, "shared", Level::INFO) && !enabled(None, "shared", Level::DEBUG));
        assert!(enabled(Some("DEBUG"), "aws_smithy_runtime", Level::DEBUG));
        assert!(
            !enabled(Some("WARN"), "shared", Level::INFO) && enabled(Some("WARN"), "shared", Level::WARN)
        );
        assert!(enabled(Some("FATAL"), "api", Level::ERROR) && !enabled(Some("FATAL"), "api", Level::WARN));
        let directives = Some("info,shared::adapters=debug");
        assert!(enabled(directives, "shared::adapters::dynamo", Level::DEBUG));
        assert!(!enabled(directives, "api", Level::DEBUG) && enabled(directives, "api", Level::INFO));
        assert!(
            enabled(Some("shared=debug"), "api", Level::INFO)
                && enabled(Some("shared=debug"), "shared", Level::DEBUG)
        );
        assert!(
            enabled(Some("=oops=,"), "api", Level::INFO) && !enabled(Some("=oops=,"), "api", Level::DEBUG)
        );
    }

    /// A writer into a shared buffer, for reading what the formatter wrote.
    #[derive(Clone, Default)]
    struct Buffer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("buffer").extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn request_id_and_tenant_id_are_at_the_top_level_of_a_line() {
        // Arrange: the formatter init() installs, writing into a buffer.
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .fmt_fields(JsonFields::new())
            .event_format(LambdaJson)
            .with_writer(move || writer.clone())
            .finish();

        // Act: a line inside the runtime's invocation span and a tenant's span.
        tracing::subscriber::with_default(subscriber, || {
            let invoke = tracing::info_span!("Lambda runtime invoke", requestId = "req-1");
            let _invoke = invoke.enter();
            let request = tracing::info_span!("request", tenant_id = %"tn_1", route = "GET /v1/x");
            let _request = request.enter();
            tracing::info!(events = 3, "Webhook accepted");
            tracing::info!(tenant_id = "tn_2", "Tenant created");
        });

        // Assert
        let text = String::from_utf8(buffer.0.lock().expect("buffer").clone()).expect("UTF-8");
        let mut lines = text.lines().map(|l| serde_json::from_str::<Value>(l).expect("JSON lines"));
        let line = lines.next().expect("a first line");
        assert_eq!(lines.next().expect("a second line")["tenant_id"], "tn_2", "the event's own field wins");
        assert_eq!((&line["requestId"], &line["tenant_id"]), (&Value::from("req-1"), &Value::from("tn_1")));
        assert_eq!(
            (&line["message"], &line["events"], &line["level"]),
            (&Value::from("Webhook accepted"), &Value::from(3), &Value::from("INFO"))
        );
        assert_eq!(line["spans"][1]["route"], "GET /v1/x");
        assert_eq!(line["spans"][0]["name"], "Lambda runtime invoke");
        assert!(line["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')), "{line}");
    }

    #[test]
    fn json_errors_are_described_without_the_offending_value() {
        let error = serde_json::from_str::<Vec<u8>>(r#""+5511988887777""#).expect_err("not a list");
        assert!(error.to_string().contains("5511988887777"), "serde itself quotes the value");
        let described = json_error(&error);
        assert!(!described.contains("5511988887777"));
        assert!(described.starts_with("unexpected shape at line 1"));
    }
}
