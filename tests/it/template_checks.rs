//! What `template.yaml` must hold for a deployment to be watched and to keep Meta's deliveries
//! flowing, read from the template itself (no AWS can check it here): alarms that reach someone,
//! and a webhook with an API and a throttle of its own.

use serde_json::Value;

use crate::iam::{logical, sam_template, strings};

fn resources_of(template: &Value, kind: &str) -> Vec<(String, Value)> {
    template["Resources"]
        .as_object()
        .expect("Resources")
        .iter()
        .filter(|(_, resource)| resource["Type"] == kind)
        .map(|(id, resource)| (id.clone(), resource["Properties"].clone()))
        .collect()
}

/// The alarms as (namespace, metric, dimension values as logical ids, actions as logical ids),
/// metric-math alarms once per metric they read.
fn alarms(template: &Value) -> Vec<(String, String, Vec<String>, Vec<String>)> {
    let mut out = Vec::new();
    for (_, alarm) in resources_of(template, "AWS::CloudWatch::Alarm") {
        let actions: Vec<String> = strings(&alarm["AlarmActions"]).iter().map(logical).collect();
        let dimensions = |metric: &Value| -> Vec<String> {
            strings(&metric["Dimensions"]).iter().map(|d| logical(&d["Value"])).collect()
        };
        if alarm.get("MetricName").is_some() {
            out.push((
                alarm["Namespace"].as_str().unwrap_or("").to_owned(),
                alarm["MetricName"].as_str().unwrap_or("").to_owned(),
                dimensions(&alarm),
                actions.clone(),
            ));
        }
        for metric in strings(&alarm["Metrics"]) {
            let metric = &metric["MetricStat"]["Metric"];
            if metric.is_object() {
                out.push((
                    metric["Namespace"].as_str().unwrap_or("").to_owned(),
                    metric["MetricName"].as_str().unwrap_or("").to_owned(),
                    dimensions(metric),
                    actions.clone(),
                ));
            }
        }
    }
    out
}

#[test]
fn alarms_watch_every_function_the_inbound_backlog_and_both_apis_and_reach_someone() {
    // Arrange
    let template = sam_template();
    let topics = resources_of(&template, "AWS::SNS::Topic");
    let alarms = alarms(&template);
    let alarmed = |namespace: &str, metric: &str, resource: &str| {
        alarms.iter().any(|(n, m, dimensions, actions)| {
            n == namespace
                && m == metric
                && dimensions.iter().any(|d| d == resource)
                && actions.iter().any(|a| topics.iter().any(|(topic, _)| topic == a))
        })
    };

    // Act
    let mut missing = Vec::new();
    for (function, _) in resources_of(&template, "AWS::Serverless::Function") {
        for metric in ["Errors", "Throttles"] {
            if !alarmed("AWS/Lambda", metric, &function) {
                missing.push(format!("{function} {metric}"));
            }
        }
    }
    if !alarmed("AWS/SQS", "ApproximateAgeOfOldestMessage", "InboundQueue") {
        missing.push("InboundQueue ApproximateAgeOfOldestMessage".to_owned());
    }
    for (api, _) in resources_of(&template, "AWS::Serverless::HttpApi") {
        if !alarmed("AWS/ApiGateway", "5xx", &api) {
            missing.push(format!("{api} 5xx"));
        }
    }

    // Assert
    assert!(missing.is_empty(), "no alarm (to a topic) on: {missing:?}");
    assert!(alarmed("AWS/Lambda", "Errors", "RetentionFunction"), "a failed retention run alarms");
}

#[test]
fn the_alarm_topic_has_a_subscriber_and_a_key_cloudwatch_may_use() {
    // Arrange
    let template = sam_template();
    let topics = resources_of(&template, "AWS::SNS::Topic");

    // Act
    let unusable: Vec<String> = topics
        .iter()
        .filter(|(_, topic)| {
            let key = logical(&topic["KmsMasterKeyId"]);
            let policy = &template["Resources"][&key]["Properties"]["KeyPolicy"];
            let cloudwatch_may = strings(&policy["Statement"]).iter().any(|statement| {
                let actions = statement["Action"].to_string();
                statement["Effect"] == "Allow"
                    && statement["Principal"]["Service"] == "cloudwatch.amazonaws.com"
                    && actions.contains("kms:Decrypt")
                    && actions.contains("kms:GenerateDataKey")
            });
            !cloudwatch_may || strings(&topic["Subscription"]).is_empty()
        })
        .map(|(id, _)| id.clone())
        .collect();

    // Assert
    assert!(!topics.is_empty(), "an alarm topic");
    assert!(unusable.is_empty(), "topics CloudWatch cannot publish to, or nobody reads: {unusable:?}");
}

#[test]
fn the_webhook_has_an_api_and_a_throttle_of_its_own() {
    // Arrange
    let template = sam_template();
    let api_of = |function: &str| -> Vec<String> {
        template["Resources"][function]["Properties"]["Events"]
            .as_object()
            .expect("events")
            .values()
            .filter(|event| event["Type"] == "HttpApi")
            .map(|event| logical(&event["Properties"]["ApiId"]))
            .collect()
    };

    // Act
    let webhook_apis = api_of("WebhookFunction");
    let tenant_apis = api_of("ApiFunction");

    // Assert
    assert!(!webhook_apis.is_empty() && !tenant_apis.is_empty());
    assert!(
        webhook_apis.iter().all(|api| !tenant_apis.contains(api)),
        "the webhook shares an API (and its throttle) with the tenant API: {webhook_apis:?}"
    );
    for api in webhook_apis {
        let throttle = &template["Resources"][&api]["Properties"]["DefaultRouteSettings"];
        assert!(throttle["ThrottlingRateLimit"].is_number(), "{api} has a throttle of its own");
    }
}
