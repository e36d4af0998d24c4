//! Deadlines made observable (P62): after its erasure task, every run counts the erasure
//! requests still pending more than
//! [`shared::domain::privacy::ERASURE_DEADLINE_DAYS`] after they were made and emits
//! the count as a CloudWatch metric in the embedded metric format (one JSON line on stdout, which
//! Lambda's log pipeline turns into the metric `Leadline/ErasuresPastDeadline`). The template's
//! `ErasuresPastDeadlineAlarm` fires on any value above zero.

use std::io::Write as _;

use shared::domain::privacy::ErasureStore as _;
use shared::domain::{Clock as _, Timestamp};
use shared::wiring::Adapters;

use crate::{failed, Deps, RunError};

/// The metrics' namespace.
pub const METRIC_NAMESPACE: &str = "Leadline";

/// The metric: erasure requests pending past their deadline.
pub const ERASURES_PAST_DEADLINE: &str = "ErasuresPastDeadline";

/// How many of the oldest pending requests are looked at: more than that overdue at once alarms
/// just the same.
const SCAN: u16 = 100;

/// How many pending erasure requests are past their deadline now.
///
/// # Errors
/// [`RunError::Unknown`] when the store fails.
pub async fn erasures_past_deadline<A: Adapters>(deps: &Deps<A>) -> Result<u64, RunError> {
    let now = deps.clock.now();
    let due = deps.erasures.due_erasures(SCAN).await.map_err(|e| failed("reading the erasure queue", &e))?;
    let mut count = 0;
    for entry in due {
        let request = deps
            .erasures
            .erasure(&entry.tenant, &entry.id)
            .await
            .map_err(|e| failed("reading a request", &e))?;
        if request.is_some_and(|r| r.is_past_deadline(now)) {
            count += 1;
        }
    }
    Ok(count)
}

/// Counts the erasures past their deadline and emits the metric; the count.
///
/// # Errors
/// [`RunError::Unknown`] when the store fails.
pub async fn report<A: Adapters>(deps: &Deps<A>) -> Result<u64, RunError> {
    let count = erasures_past_deadline(deps).await?;
    emit(&metric_line(ERASURES_PAST_DEADLINE, count, deps.clock.now()));
    Ok(count)
}

/// One metric value as an embedded-metric-format line.
#[must_use]
pub fn metric_line(name: &str, value: u64, at: Timestamp) -> String {
    serde_json::json!({
        "_aws": {
            "Timestamp": at.as_millis(),
            "CloudWatchMetrics": [{
                "Namespace": METRIC_NAMESPACE,
                "Dimensions": [[]],
                "Metrics": [{ "Name": name, "Unit": "Count" }]
            }]
        },
        name: value
    })
    .to_string()
}

/// Writes a metric line to stdout, where Lambda collects it (a failed write loses one data
/// point; the alarm treats missing data as not breaching, the function's error alarm covers a
/// run that never gets here).
pub fn emit(line: &str) {
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}

#[cfg(test)]
mod tests {
    use shared::domain::privacy::{ErasureCounts, ErasureRequest, ErasureStatus};
    use shared::domain::{ContactId, ErasureId, TenantId};

    use super::*;

    async fn request(deps: &Deps<shared::testing::Fakes>, days_ago: u64) {
        let requested_at =
            Timestamp::from_millis(deps.clock.now().as_millis() - (days_ago * 86_400_000) as i64);
        let request = ErasureRequest {
            id: ErasureId::generate(requested_at).expect("random"),
            contacts: vec![ContactId::generate(requested_at).expect("random")],
            status: ErasureStatus::Pending,
            requested_at,
            progress: ErasureCounts::default(),
            receipt: None,
        };
        let tenant = TenantId::parse("tn_a").expect("valid");
        deps.erasures.request_erasure(&tenant, &request).await.expect("requested");
    }

    #[tokio::test]
    async fn erasures_pending_past_thirty_days_are_counted() {
        // Arrange
        let deps = crate::tests::deps();
        request(&deps, 45).await;
        request(&deps, 31).await;
        request(&deps, 29).await;
        request(&deps, 1).await;

        // Act
        let count = erasures_past_deadline(&deps).await.expect("counted");

        // Assert
        assert_eq!(count, 2);
    }

    #[tokio::test]
    async fn a_run_reports_the_erasures_it_left_past_their_deadline() {
        // Arrange: an overdue request the run has no time for (its deadline has passed).
        let deps = crate::tests::deps();
        request(&deps, 40).await;
        let none = crate::tests::deps();

        // Act
        let report = crate::handle(crate::tests::event(std::time::Duration::ZERO), &deps).await.expect("run");
        let quiet = crate::handle(crate::tests::event(std::time::Duration::from_secs(60)), &none).await;

        // Assert
        assert_eq!(report.erasures_past_deadline, 1, "{report:?}");
        assert_eq!(quiet.expect("run").erasures_past_deadline, 0);
    }

    #[test]
    fn the_metric_line_is_embedded_metric_format() {
        let line = metric_line(ERASURES_PAST_DEADLINE, 2, Timestamp::from_millis(1_000));

        let value: serde_json::Value = serde_json::from_str(&line).expect("json");

        assert_eq!(value["ErasuresPastDeadline"], 2);
        assert_eq!(value["_aws"]["Timestamp"], 1_000);
        let metrics = &value["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(metrics["Namespace"], "Leadline");
        assert_eq!(metrics["Metrics"][0]["Name"], "ErasuresPastDeadline");
        assert!(!line.contains('\n'), "one line");
    }
}
