//! Promises that live in `template.yaml`, read from the file (needs nothing running): the key
//! table is never backed up (P64), no access log holds a URL's query string (P17), and an
//! erasure past its deadline alarms (P62).

use std::path::PathBuf;

fn template() -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../template.yaml");
    std::fs::read_to_string(&path).expect("template.yaml")
}

/// The lines of one top-level resource (from `  Name:` to the next resource at that indent).
fn resource(template: &str, name: &str) -> String {
    let header = format!("  {name}:");
    let mut lines = template.lines().skip_while(|l| l.trim_end() != header);
    let first = lines.next().unwrap_or_else(|| panic!("resource {name} in template.yaml"));
    let body: Vec<&str> = lines
        .take_while(|l| l.is_empty() || l.starts_with("    ") || l.trim_start().starts_with('#'))
        .collect();
    format!("{first}\n{}", body.join("\n"))
}

/// Every resource name (two-space indent under `Resources:`) whose type is `kind`.
fn resources_of_type(template: &str, kind: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut current: Option<String> = None;
    for line in template.lines() {
        if line.starts_with("  ") && !line.starts_with("   ") && line.trim_end().ends_with(':') {
            current = Some(line.trim().trim_end_matches(':').to_owned());
        }
        if line.trim() == format!("Type: {kind}") {
            names.extend(current.clone());
        }
    }
    names
}

#[test]
fn the_key_table_has_no_pitr_and_no_backup() {
    // Arrange
    let template = template();

    // Act
    let key_table = resource(&template, "KeyTable");
    let selections = resources_of_type(&template, "AWS::Backup::BackupSelection");
    let plans = resources_of_type(&template, "AWS::Backup::BackupPlan");

    // Assert
    assert!(key_table.contains("PointInTimeRecoveryEnabled: false"), "{key_table}");
    assert!(!key_table.contains("PointInTimeRecoveryEnabled: true"), "{key_table}");
    assert!(!key_table.contains("RecoveryPeriodInDays"), "no PITR of any length: {key_table}");
    assert!(
        key_table.contains("{ Key: leadline:backup, Value: exclude }"),
        "the tag organisation backup plans exclude it by: {key_table}"
    );
    for selection in &selections {
        let body = resource(&template, selection);
        assert!(!body.contains("KeyTable"), "a backup selection reaches the key table: {body}");
        assert!(
            body.contains("leadline:backup"),
            "a backup selection must exclude the key table by its tag: {body}"
        );
    }
    assert!(plans.len() <= selections.len(), "every backup plan has its (checked) selection");
}

#[test]
fn no_access_log_records_a_query_string_or_a_full_url() {
    let template = template();

    let formats: Vec<&str> = template.lines().filter(|l| l.trim_start().starts_with("Format:")).collect();

    assert!(!formats.is_empty(), "the HTTP API logs its access");
    for format in formats {
        for variable in ["$context.path", "querystring", "$request", "$context.customDomain"] {
            assert!(!format.contains(variable), "{variable} may carry an identifier: {format}");
        }
        assert!(format.contains("$context.routeKey"), "the route template, never the URL: {format}");
    }
}

#[test]
fn an_erasure_past_its_deadline_alarms() {
    let template = template();

    let alarm = resource(&template, "ErasuresPastDeadlineAlarm");

    assert!(alarm.contains("Type: AWS::CloudWatch::Alarm"), "{alarm}");
    assert!(alarm.contains(&format!("Namespace: {}", retention::deadlines::METRIC_NAMESPACE)), "{alarm}");
    assert!(
        alarm.contains(&format!("MetricName: {}", retention::deadlines::ERASURES_PAST_DEADLINE)),
        "{alarm}"
    );
    assert!(alarm.contains("Threshold: 0") && alarm.contains("GreaterThanThreshold"), "{alarm}");
    assert!(alarm.contains("AlarmActions: [!Ref AlarmTopic]"), "{alarm}");
}
