//! CloudWatch metrics in the embedded metric format (EMF): one JSON line on stdout per batch of
//! values, which Lambda's log pipeline turns into metrics of the `Leadline` namespace at no API
//! cost (no PutMetricData call, no extra IAM permission, nothing lost when CloudWatch is slow).
//!
//! Dimensions are few and bounded on purpose (a function, an event kind, a Meta error code, an
//! outcome): never a tenant, contact or message id, which would make one metric per value.
//! The `_aws` envelope: <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>.

use std::io::Write as _;

use serde_json::{json, Map, Value};

/// The namespace of every Leadline metric.
pub const NAMESPACE: &str = "Leadline";

/// A metric's unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A count.
    Count,
    /// A duration.
    Milliseconds,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Self::Count => "Count",
            Self::Milliseconds => "Milliseconds",
        }
    }
}

/// One metric with its values (EMF takes up to 100 values per metric and line).
#[derive(Debug, Clone, PartialEq)]
pub struct Metric<'a> {
    /// The name, e.g. `EventsReceived`.
    pub name: &'a str,
    /// The unit.
    pub unit: Unit,
    /// The values (one data point each).
    pub values: Vec<f64>,
}

impl<'a> Metric<'a> {
    /// A count of `n`.
    #[must_use]
    pub fn count(name: &'a str, n: u64) -> Self {
        #[allow(clippy::cast_precision_loss)] // counts stay far below 2^52
        Self { name, unit: Unit::Count, values: vec![n as f64] }
    }

    /// Durations in milliseconds.
    #[must_use]
    pub fn millis(name: &'a str, values: impl IntoIterator<Item = u64>) -> Self {
        #[allow(clippy::cast_precision_loss)]
        let values = values.into_iter().map(|v| v as f64).collect();
        Self { name, unit: Unit::Milliseconds, values }
    }
}

/// The EMF line of `metrics` under `dimensions` (name, value pairs; one dimension set), at
/// `at_millis`. Metrics without values are left out; `None` when none has any.
#[must_use]
pub fn line(dimensions: &[(&str, &str)], metrics: &[Metric<'_>], at_millis: i64) -> Option<String> {
    let metrics: Vec<&Metric<'_>> = metrics.iter().filter(|m| !m.values.is_empty()).collect();
    if metrics.is_empty() {
        return None;
    }
    let mut root = Map::new();
    let names: Vec<&str> = dimensions.iter().map(|(name, _)| *name).collect();
    let definitions: Vec<Value> =
        metrics.iter().map(|m| json!({"Name": m.name, "Unit": m.unit.as_str()})).collect();
    root.insert(
        "_aws".to_owned(),
        json!({
            "Timestamp": at_millis,
            "CloudWatchMetrics": [{"Namespace": NAMESPACE, "Dimensions": [names], "Metrics": definitions}],
        }),
    );
    for (name, value) in dimensions {
        root.insert((*name).to_owned(), Value::String((*value).to_owned()));
    }
    for metric in metrics {
        let value = match metric.values.as_slice() {
            [one] => json!(one),
            many => json!(many.iter().take(100).collect::<Vec<_>>()),
        };
        root.insert(metric.name.to_owned(), value);
    }
    Some(Value::Object(root).to_string())
}

/// Writes the EMF line of `metrics` to stdout, stamped with the system time (a failed write
/// loses data points, never the work they describe).
pub fn emit(dimensions: &[(&str, &str)], metrics: &[Metric<'_>]) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    if let Some(line) = line(dimensions, metrics, now) {
        let _ = writeln!(std::io::stdout().lock(), "{line}");
    }
}

/// The kinds of event a queue message may hold (the externally tagged `event` of
/// [`crate::domain::events::Envelope`]), bounded for use as a dimension.
const EVENT_KINDS: &[&str] =
    &["message", "status", "user_preference", "messaging_error", "account_update", "lead", "flow_timeout"];

/// The kind of event a queue message body holds (`{"v":1,"event":{"<kind>":…}}`), read
/// without parsing the body; `other` for anything else.
#[must_use]
pub fn event_kind(body: &str) -> &'static str {
    let kind =
        body.split_once("\"event\":{\"").and_then(|(_, rest)| rest.split_once('"')).map(|(kind, _)| kind);
    EVENT_KINDS.iter().find(|k| Some(**k) == kind).copied().unwrap_or("other")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_embedded_metric_format_with_its_dimensions_and_values() {
        // Act
        let line = line(
            &[("Function", "send"), ("MetaCode", "131047")],
            &[
                Metric::count("MessagesFailed", 2),
                Metric::millis("SendLatency", [12, 30]),
                Metric::millis("Empty", []),
            ],
            1_000,
        )
        .expect("a line");

        // Assert
        let value: Value = serde_json::from_str(&line).expect("JSON");
        let directive = &value["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(value["_aws"]["Timestamp"], 1_000);
        assert_eq!(directive["Namespace"], "Leadline");
        assert_eq!(directive["Dimensions"], json!([["Function", "MetaCode"]]));
        assert_eq!(directive["Metrics"].as_array().map(Vec::len), Some(2), "the empty metric is left out");
        assert_eq!((&value["Function"], &value["MetaCode"]), (&json!("send"), &json!("131047")));
        assert_eq!((&value["MessagesFailed"], &value["SendLatency"]), (&json!(2.0), &json!([12.0, 30.0])));
    }

    #[test]
    fn nothing_is_written_without_values_and_kinds_are_bounded() {
        assert_eq!(line(&[], &[Metric::millis("X", [])], 0), None);
        assert_eq!(event_kind(r#"{"v":1,"event":{"lead":{"page_id":"1"}}}"#), "lead");
        assert_eq!(event_kind(r#"{"v":1,"event":{"message":{}}}"#), "message");
        assert_eq!(event_kind(r#"{"v":1,"event":{"5511988887777":{}}}"#), "other");
        assert_eq!(event_kind("not json"), "other");
    }
}
