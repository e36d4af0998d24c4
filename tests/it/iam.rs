//! IAM conformance: moto checks no IAM and no key policy, so this module checks them against
//! `template.yaml` (as SAM translates it, `infra/sam_translate.py`).
//!
//! - After the end-to-end run, every AWS call each function made (recorded by the local stack's
//!   recorder into `<state>/aws-calls.jsonl`, see `infra/src/recorder.rs`) must be allowed by that
//!   function's role: action, resource (table, index, queue, key) and the KMS encryption-context
//!   condition. Ignored in the main run (it must see every other test's calls); `infra/test.sh`
//!   runs it after the suite with `--ignored`. It prints the calls per function and operation.
//! - Statically: a table encrypted with the stack's own key is usable through DynamoDB (the key
//!   policy lets the account's principals use the key via DynamoDB, as AWS documents).
//!
//! - Two end-to-end paths the record must hold: deleting a contact (which destroys its data key)
//!   and purging a disconnected Page's leads (which the retention run lists, opened).
//!
//! Managed policies are known by content for the two SAM attaches; any other fails the check.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::e2e::{base, state_dir};
use crate::ingest::{digits, eventually, post, TestTenant};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace holds tests/").to_path_buf()
}

/// `template.yaml` as CloudFormation JSON (the SAM transform done offline, as `infra/test.sh`
/// does before cfn-lint).
pub fn translated_template() -> Value {
    let root = root();
    let venv_python = root.join(".venv/bin/python3");
    let python = if venv_python.exists() { venv_python } else { PathBuf::from("python3") };
    let out = std::env::temp_dir().join(format!("leadline-iam-{}.json", std::process::id()));
    let status = Command::new(python)
        .arg(root.join("infra/sam_translate.py"))
        .arg(root.join("template.yaml"))
        .arg(&out)
        .status()
        .expect("python3 runs infra/sam_translate.py (infra/setup-venv.sh installs the translator)");
    assert!(status.success(), "the SAM transform of template.yaml failed");
    let text = std::fs::read_to_string(&out).expect("the translated template");
    let _ = std::fs::remove_file(&out);
    serde_json::from_str(&text).expect("the translated template is JSON")
}

/// `template.yaml` as written (SAM resources, short-form tags read as `Ref`/`Fn::…`), as JSON.
pub fn sam_template() -> Value {
    let root = root();
    let venv_python = root.join(".venv/bin/python3");
    let python = if venv_python.exists() { venv_python } else { PathBuf::from("python3") };
    let output = Command::new(python)
        .args([
            "-c",
            "import json, sys; from samtranslator.yaml_helper import yaml_parse; \
             print(json.dumps(yaml_parse(open(sys.argv[1]).read())))",
        ])
        .arg(root.join("template.yaml"))
        .output()
        .expect("python3 reads template.yaml (infra/setup-venv.sh installs the SAM translator)");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("the template as JSON")
}

/// A policy statement with its resources as logical patterns (`Table`, `Table/index/*`, `*`).
#[derive(Debug)]
struct Statement {
    allow: bool,
    actions: Vec<String>,
    resources: Vec<String>,
    condition: Option<Value>,
}

pub fn strings(value: &Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items.clone(),
        Value::Null => Vec::new(),
        other => vec![other.clone()],
    }
}

/// A resource expression as a logical pattern: `Fn::GetAtt [X, Arn]` and `Ref X` are `X`,
/// `Fn::Sub "${X.Arn}/index/*"` is `X/index/*`, a literal stays itself.
pub fn logical(resource: &Value) -> String {
    if let Some(text) = resource.as_str() {
        return text.to_owned();
    }
    if let Some(parts) = resource.get("Fn::GetAtt").and_then(Value::as_array) {
        return parts[0].as_str().unwrap_or("?").to_owned();
    }
    if let Some(name) = resource.get("Ref").and_then(Value::as_str) {
        return name.to_owned();
    }
    if let Some(text) = resource.get("Fn::Sub").and_then(Value::as_str) {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let end = rest[start..].find('}').expect("a closed ${…}") + start;
            let name = &rest[start + 2..end];
            out.push_str(name.strip_suffix(".Arn").unwrap_or(name));
            rest = &rest[end + 1..];
        }
        out.push_str(rest);
        return out;
    }
    panic!("a resource expression the check does not know: {resource}")
}

fn statements_of(document: &Value) -> Vec<Statement> {
    strings(&document["Statement"])
        .iter()
        .map(|statement| Statement {
            allow: statement["Effect"] == "Allow",
            actions: strings(&statement["Action"])
                .iter()
                .map(|a| a.as_str().unwrap_or("").to_owned())
                .collect(),
            resources: strings(&statement["Resource"]).iter().map(logical).collect(),
            condition: statement.get("Condition").cloned(),
        })
        .collect()
}

/// The statements of the AWS managed policies SAM attaches to function roles.
fn managed_policy(arn: &str) -> Vec<Statement> {
    let statement = |actions: &[&str]| Statement {
        allow: true,
        actions: actions.iter().map(|&a| a.to_owned()).collect(),
        resources: vec!["*".to_owned()],
        condition: None,
    };
    match arn.rsplit('/').next() {
        Some("AWSLambdaBasicExecutionRole") => {
            vec![statement(&["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"])]
        }
        Some("AWSLambdaSQSQueueExecutionRole") => vec![statement(&[
            "sqs:ReceiveMessage",
            "sqs:DeleteMessage",
            "sqs:GetQueueAttributes",
            "logs:CreateLogGroup",
            "logs:CreateLogStream",
            "logs:PutLogEvents",
        ])],
        _ => panic!("a managed policy the check does not know: {arn}"),
    }
}

/// Each function (`api`, `webhook` …) → the statements of its role.
fn roles(template: &Value) -> BTreeMap<String, Vec<Statement>> {
    let resources = template["Resources"].as_object().expect("Resources");
    let mut out = BTreeMap::new();
    for (id, resource) in resources {
        if resource["Type"] != "AWS::Lambda::Function" {
            continue;
        }
        let function = id.strip_suffix("Function").unwrap_or(id).to_lowercase();
        let role_id = logical(&resource["Properties"]["Role"]);
        let role = &resources[&role_id]["Properties"];
        let mut statements: Vec<Statement> = strings(&role["Policies"])
            .iter()
            .flat_map(|policy| statements_of(&policy["PolicyDocument"]))
            .collect();
        for arn in strings(&role["ManagedPolicyArns"]) {
            statements.extend(managed_policy(arn.as_str().expect("a managed policy ARN")));
        }
        out.insert(function, statements);
    }
    out
}

/// `pattern` with IAM's `*` (any run) and `?` (one character), case-insensitive for actions.
fn glob(pattern: &str, text: &str) -> bool {
    fn matches(p: &[u8], t: &[u8]) -> bool {
        match (p.first(), t.first()) {
            (None, None) => true,
            (Some(b'*'), _) => matches(&p[1..], t) || (!t.is_empty() && matches(p, &t[1..])),
            (Some(b'?'), Some(_)) => matches(&p[1..], &t[1..]),
            (Some(a), Some(b)) if a == b => matches(&p[1..], &t[1..]),
            _ => false,
        }
    }
    matches(pattern.as_bytes(), text.as_bytes())
}

/// Whether the statement's condition holds for a call. Only what the template uses is known
/// (`ForAllValues:StringEquals` on `kms:EncryptionContextKeys`); anything else does not hold.
fn condition_holds(condition: Option<&Value>, call: &Value) -> bool {
    let Some(condition) = condition.and_then(Value::as_object) else { return true };
    condition.iter().all(|(operator, tests)| {
        let Some(tests) = tests.as_object() else { return false };
        tests.iter().all(|(key, values)| match (operator.as_str(), key.as_str()) {
            ("ForAllValues:StringEquals", "kms:EncryptionContextKeys") => {
                let values = strings(values);
                strings(&call["encryption_context_keys"]).iter().all(|k| values.contains(k))
            }
            _ => false,
        })
    })
}

/// Whether the role allows the recorded call.
fn allowed(statements: &[Statement], call: &Value) -> bool {
    let action = call["action"].as_str().unwrap_or_default().to_lowercase();
    let resource = call["resource"].as_str().unwrap_or_default();
    let applies = |s: &Statement| {
        s.actions.iter().any(|a| glob(&a.to_lowercase(), &action))
            && s.resources.iter().any(|r| glob(r, resource))
            && condition_holds(s.condition.as_ref(), call)
    };
    statements.iter().any(|s| s.allow && applies(s)) && !statements.iter().any(|s| !s.allow && applies(s))
}

fn recorded_calls() -> Vec<Value> {
    let path = state_dir().join("aws-calls.jsonl");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|_| panic!("{} exists", path.display()));
    text.lines().map(|line| serde_json::from_str(line).expect("a recorded call is JSON")).collect()
}

/// Calls per function and (action, resource), with the number of AWS requests per function.
fn summary(calls: &[Value]) -> String {
    let mut counts: BTreeMap<(String, String, String), u64> = BTreeMap::new();
    let mut requests: BTreeMap<String, u64> = BTreeMap::new();
    for call in calls {
        let function = call["function"].as_str().unwrap_or("?").to_owned();
        let key = (
            function.clone(),
            call["action"].as_str().unwrap_or("?").to_owned(),
            call["resource"].to_string(),
        );
        *counts.entry(key).or_default() += 1;
        let request = call["request"].as_u64().unwrap_or(0);
        let highest = requests.entry(function).or_default();
        *highest = (*highest).max(request);
    }
    let mut out = String::from("AWS calls of the end-to-end run, per function and operation:\n");
    for ((function, action, resource), count) in &counts {
        out.push_str(&format!("{function:>10} {count:>7}  {action} {resource}\n"));
    }
    for (function, count) in &requests {
        out.push_str(&format!("{function:>10} {count:>7}  AWS requests in all\n"));
    }
    out
}

#[test]
#[ignore = "runs after the end-to-end suite (infra/test.sh), so that it sees every function's calls"]
fn every_aws_call_of_the_end_to_end_run_is_allowed_by_its_functions_role() {
    // Arrange
    let roles = roles(&translated_template());
    let calls = recorded_calls();

    // Act
    let mut refused: Vec<String> = calls
        .iter()
        .filter(|call| {
            let function = call["function"].as_str().unwrap_or_default();
            !roles.get(function).is_some_and(|statements| allowed(statements, call))
        })
        .map(|call| {
            format!(
                "{} {} on {} (encryption context keys {})",
                call["function"].as_str().unwrap_or("?"),
                call["action"].as_str().unwrap_or("?"),
                call["resource"],
                call["encryption_context_keys"]
            )
        })
        .collect();
    refused.sort();
    refused.dedup();

    // Assert
    eprintln!("{}", summary(&calls));
    std::fs::write(state_dir().join("aws-calls-summary.txt"), summary(&calls)).expect("writing the summary");
    for function in ["webhook", "api", "inbound", "send", "suggest", "retention", "import", "realtime"] {
        assert!(
            calls.iter().any(|call| call["function"] == function),
            "{function} made no AWS call: was the end-to-end suite run against this stack?"
        );
    }
    assert!(refused.is_empty(), "template.yaml refuses these calls:\n{}", refused.join("\n"));
}

#[test]
fn a_table_encrypted_with_the_stacks_key_is_usable_through_dynamodb() {
    // Arrange
    let template = translated_template();
    let resources = template["Resources"].as_object().expect("Resources");
    // The actions DynamoDB takes on a customer managed key on behalf of a caller.
    let needed = [
        "kms:Encrypt",
        "kms:Decrypt",
        "kms:ReEncryptFrom",
        "kms:GenerateDataKey",
        "kms:CreateGrant",
        "kms:DescribeKey",
    ];

    // Act
    let mut unusable = Vec::new();
    for (id, table) in resources.iter().filter(|(_, r)| r["Type"] == "AWS::DynamoDB::Table") {
        let Some(key) = table["Properties"]["SSESpecification"].get("KMSMasterKeyId") else { continue };
        let key_id = logical(key);
        let Some(policy) = resources.get(&key_id).map(|k| &k["Properties"]["KeyPolicy"]) else { continue };
        let through_dynamodb = strings(&policy["Statement"]).into_iter().find(|statement| {
            let condition = statement["Condition"].to_string();
            statement["Effect"] == "Allow"
                && statement["Principal"]["AWS"] == "*"
                && condition.contains("kms:ViaService")
                && condition.contains("dynamodb.")
                && condition.contains("kms:CallerAccount")
        });
        let missing: Vec<&str> = match &through_dynamodb {
            None => needed.to_vec(),
            Some(statement) => {
                let actions: Vec<String> = strings(&statement["Action"])
                    .iter()
                    .map(|a| a.as_str().unwrap_or("").to_lowercase())
                    .collect();
                needed
                    .iter()
                    .copied()
                    .filter(|n| !actions.iter().any(|a| glob(a, &n.to_lowercase())))
                    .collect()
            }
        };
        if !missing.is_empty() {
            unusable.push(format!("{id} (key {key_id}): no key policy grant via DynamoDB for {missing:?}"));
        }
    }

    // Assert
    assert!(unusable.is_empty(), "tables no function can use on AWS:\n{}", unusable.join("\n"));
}

#[test]
fn the_role_check_reads_resources_actions_and_conditions_as_iam_does() {
    let statements = statements_of(&serde_json::json!({"Statement": [
        {"Effect": "Allow", "Action": ["dynamodb:Query"], "Resource": [{"Fn::Sub": "${Table.Arn}/index/*"}]},
        {"Effect": "Allow", "Action": "kms:GenerateDataKey*", "Resource": {"Fn::GetAtt": ["SecretsKey", "Arn"]},
         "Condition": {"ForAllValues:StringEquals": {"kms:EncryptionContextKeys": ["tenant_id", "purpose"]}}}
    ]}));
    let call = |action: &str, resource: &str, keys: Value| serde_json::json!({"action": action, "resource": resource, "encryption_context_keys": keys});
    assert!(allowed(&statements, &call("dynamodb:Query", "Table/index/GSI1", Value::Null)));
    assert!(!allowed(&statements, &call("dynamodb:Query", "Table", Value::Null)));
    assert!(!allowed(&statements, &call("dynamodb:Scan", "Table/index/GSI1", Value::Null)));
    assert!(allowed(&statements, &call("kms:GenerateDataKey", "SecretsKey", serde_json::json!(["purpose"]))));
    assert!(!allowed(&statements, &call("kms:GenerateDataKey", "SecretsKey", serde_json::json!(["other"]))));
    assert!(!allowed(&statements, &call("kms:Decrypt", "SecretsKey", serde_json::json!(["purpose"]))));
}

// Paths the conformance check must see on the stack: each answers as it should locally (moto
// checks no IAM), and its calls land in the record the ignored check above reads.

#[tokio::test]
async fn deleting_a_contact_with_sealed_data_destroys_its_data_key() {
    // Arrange: a customer whose message is sealed under the contact's data key.
    let client = crate::support::http();
    let tenant = TestTenant::new(&client).await;
    assert_eq!(post(&client, &tenant.fixture("text")).await, StatusCode::OK);
    let contact = eventually("the contact", || async { tenant.contact(&client).await }).await;
    let id = contact["id"].as_str().expect("contact id").to_owned();

    // Act
    let deleted = client
        .delete(format!("{}/v1/contacts/{id}", base()))
        .bearer_auth(&tenant.api_key)
        .send()
        .await
        .expect("request");

    // Assert
    assert_eq!(deleted.status(), StatusCode::OK);
    let gone = client
        .get(format!("{}/v1/contacts/{id}", base()))
        .bearer_auth(&tenant.api_key)
        .send()
        .await
        .expect("request");
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn disconnecting_a_page_purges_its_leads_in_the_next_retention_run() {
    // Arrange: one lead of the tenant's Page, stored (sealed) on its contact.
    let client = crate::support::http();
    let tenant = TestTenant::new(&client).await;
    let leadgen_id = format!("6{}", digits(14));
    let lead = json!({"id": leadgen_id, "field_data": [{"name": "phone_number", "values": [format!("+{}", tenant.wa_id)]}]});
    let registered =
        client.post(format!("{}/_sandbox/leads", base())).json(&lead).send().await.expect("request");
    assert_eq!(registered.status(), StatusCode::CREATED);
    let webhook = tenant.fixture("leadgen").replace("__LEADGEN_ID__", &leadgen_id);
    assert_eq!(post(&client, &webhook).await, StatusCode::OK);
    eventually("the lead", || async {
        (tenant.get(&client, "/v1/leads").await["items"].as_array().map(Vec::len) == Some(1)).then_some(())
    })
    .await;

    // Act
    let disconnected = client
        .delete(format!("{}/v1/leadads", base()))
        .bearer_auth(&tenant.api_key)
        .send()
        .await
        .expect("request");
    assert_eq!(disconnected.status(), StatusCode::NO_CONTENT);
    let run = client.post(format!("{}/_local/schedule/retention", base())).send().await.expect("request");

    // Assert
    assert_eq!(run.status(), StatusCode::OK);
    eventually("the lead purged", || async {
        (tenant.get(&client, "/v1/leads").await["items"].as_array().map(Vec::len) == Some(0)).then_some(())
    })
    .await;
}
