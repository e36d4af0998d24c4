//! Every route's JSON body parser under the stable fuzzer (`shared::testing::fuzz`): the body
//! types through `json_body` exactly as the handlers read them (and, for the two routes that
//! parse JSON into their own model, that model's parser), never the full handler. Seeds are
//! generated from each type's JSON Schema (the one the OpenAPI document publishes); the
//! dictionary holds its field names and enum values. A smoke on every `cargo test`;
//! `infra/fuzz.sh` runs the long one. A test checks that every JSON body of the route table is
//! listed here, so a new route cannot skip the fuzzer.

use std::collections::BTreeSet;

use schemars::generate::SchemaSettings;
use schemars::SchemaGenerator;
use serde::de::DeserializeOwned;
use serde_json::{json, Map, Value};
use shared::testing::fuzz;

use crate::operation::{schema, BodySpec, SchemaFn};
use crate::routes::{
    ai, canned, center, contacts, flows, identity as id, inbox, json_body, leadads, leads, messages, privacy,
    queues, session, settings, tenants, whatsapp, OPERATIONS,
};

/// A body parser and the schema the route table publishes for it.
struct Target {
    name: &'static str,
    schema: SchemaFn,
    parse: fn(&[u8]),
}

fn typed<T: DeserializeOwned>(body: &[u8]) {
    let _ = json_body::<T>(body);
}

/// `POST /v1/messages`: JSON, then the Cloud API's rules (`OutboundBody::parse`), then the
/// canonical form hashed for idempotency.
fn outbound(body: &[u8]) {
    if let Ok(value) = json_body::<Value>(body) {
        let _ = shared::domain::outbound::OutboundBody::parse(&value);
        let _ = serde_json::to_string(&value);
    }
}

/// The flow routes: JSON, then the definition's own parser.
fn flow_definition(body: &[u8]) {
    if let Ok(value) = json_body::<Value>(body) {
        let _ = shared::domain::flows::parse_definition(&value);
    }
}

macro_rules! typed {
    ($($ty:ty),* $(,)?) => {
        [$(Target { name: stringify!($ty), schema: schema::<$ty>, parse: typed::<$ty> }),*]
    };
}

fn targets() -> Vec<Target> {
    let mut targets = vec![
        Target {
            name: "messages::OutboundMessage",
            schema: schema::<messages::OutboundMessage>,
            parse: outbound,
        },
        Target {
            name: "flows::FlowDefinition",
            schema: schema::<shared::domain::flows::FlowDefinition>,
            parse: flow_definition,
        },
    ];
    targets.extend(typed![
        id::LoginBody,
        id::AcceptInvitationBody,
        id::ChangePasswordBody,
        id::CreateUserBody,
        id::UpdateUserBody,
        id::CreateApiKeyBody,
        session::RefreshBody,
        tenants::CreateTenant,
        shared::domain::tenant::Plan,
        tenants::CloseTenant,
        tenants::UpdateTenant,
        whatsapp::ConnectWhatsApp,
        leadads::ConnectPage,
        contacts::CreateContactBody,
        contacts::UpdateContactBody,
        contacts::RecordBody,
        contacts::RecordPatch,
        leads::CreateLeadBody,
        leads::UpdateLeadBody,
        inbox::UpdateConversationBody,
        center::PresenceBody,
        center::CapacityBody,
        ai::RequestSuggestion,
        ai::ConnectAi,
        canned::CreateCannedBody,
        canned::UpdateCannedBody,
        canned::RenderBody,
        crate::routes::agent::NoteBody,
        settings::RetentionBody,
        privacy::RequestErasure,
        queues::CreateQueueBody,
        queues::UpdateQueueBody,
        flows::PublishBody,
        flows::SimulateBody,
    ]);
    targets
}

fn generator() -> SchemaGenerator {
    SchemaSettings::draft2020_12()
        .with(|s| s.definitions_path = "/components/schemas/".into())
        .for_deserialize()
        .into_generator()
}

/// An example instance of `schema`; `variant` picks among `oneOf`/`anyOf` branches and whether
/// optional fields appear, so that several seeds cover different shapes.
fn example(
    schema: &Value,
    defs: &Map<String, Value>,
    variant: usize,
    depth: usize,
    words: &mut BTreeSet<String>,
) -> Value {
    let Some(object) = schema.as_object() else { return json!({}) };
    if depth > 8 {
        return Value::Null;
    }
    if let Some(reference) = object.get("$ref").and_then(Value::as_str) {
        let name = reference.rsplit('/').next().unwrap_or_default();
        return defs.get(name).map_or(Value::Null, |s| example(s, defs, variant, depth + 1, words));
    }
    if let Some(value) = object.get("const") {
        return value.clone();
    }
    if let Some(values) = object.get("enum").and_then(Value::as_array) {
        for value in values {
            words.insert(value.to_string());
        }
        return values.get(variant % values.len().max(1)).cloned().unwrap_or(Value::Null);
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(branches) = object.get(key).and_then(Value::as_array) {
            for (i, branch) in branches.iter().enumerate() {
                if i != variant % branches.len() {
                    let _ = example(branch, defs, variant, depth + 1, words); // for the dictionary
                }
            }
            let mut base = object.clone();
            base.remove(key);
            let chosen = example(&branches[variant % branches.len()], defs, variant, depth + 1, words);
            return merge(example(&Value::Object(base), defs, variant, depth + 1, words), chosen);
        }
    }
    if let Some(parts) = object.get("allOf").and_then(Value::as_array) {
        return parts
            .iter()
            .fold(json!({}), |acc, part| merge(acc, example(part, defs, variant, depth + 1, words)));
    }
    let kind = match object.get("type") {
        Some(Value::Array(kinds)) => {
            kinds.iter().filter_map(Value::as_str).find(|k| *k != "null").unwrap_or("null")
        }
        Some(Value::String(kind)) => kind.as_str(),
        _ if object.contains_key("properties") => "object",
        _ => return json!({}),
    };
    match kind {
        "object" => {
            let required: BTreeSet<&str> = object
                .get("required")
                .and_then(Value::as_array)
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let mut out = Map::new();
            for (name, property) in object.get("properties").and_then(Value::as_object).into_iter().flatten()
            {
                words.insert(format!("\"{name}\":"));
                let value = example(property, defs, variant, depth + 1, words);
                if required.contains(name.as_str()) || variant.is_multiple_of(2) {
                    out.insert(name.clone(), value);
                }
            }
            Value::Object(out)
        }
        "array" => {
            let item =
                object.get("items").map_or(Value::Null, |i| example(i, defs, variant, depth + 1, words));
            json!([item])
        }
        "string" => {
            let text = match object.get("format").and_then(Value::as_str) {
                Some("date-time") => "2026-01-01T12:00:00Z".to_owned(),
                Some("date") => "2026-01-01".to_owned(),
                Some("email") => "ana@example.com".to_owned(),
                _ if object.get("pattern").is_some() => "+5511988880001".to_owned(),
                _ => {
                    let min = object.get("minLength").and_then(Value::as_u64).unwrap_or(1);
                    "a".repeat(usize::try_from(min.clamp(1, 64)).unwrap_or(1))
                }
            };
            Value::String(text)
        }
        "integer" => object.get("minimum").cloned().unwrap_or(json!(1)),
        "number" => json!(1.5),
        "boolean" => json!(variant.is_multiple_of(2)),
        _ => Value::Null,
    }
}

fn merge(base: Value, extra: Value) -> Value {
    match (base, extra) {
        (Value::Object(mut base), Value::Object(extra)) => {
            base.extend(extra);
            Value::Object(base)
        }
        (Value::Object(base), other) if base.is_empty() => other,
        (base, Value::Object(extra)) if extra.is_empty() => base,
        (_, other) => other,
    }
}

/// Seeds and dictionary of one target, from its schema (plus hand-written messages: the
/// Cloud API's per-type objects are Meta's, not in our schema).
fn corpus(target: &Target) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let mut generator = generator();
    let root: Value = (target.schema)(&mut generator).into();
    let defs: Map<String, Value> = generator.take_definitions(true).into_iter().collect();
    let mut words = BTreeSet::new();
    let mut seeds: Vec<Vec<u8>> = Vec::new();
    for variant in 0..6 {
        let seed = serde_json::to_vec(&example(&root, &defs, variant, 0, &mut words)).unwrap_or_default();
        if !seeds.contains(&seed) {
            seeds.push(seed);
        }
    }
    if target.name == "messages::OutboundMessage" {
        for seed in [
            r#"{"to":"+5511988880001","type":"text","text":{"body":"Olá","preview_url":true}}"#,
            r#"{"to":"5511988880001","type":"template","template":{"name":"hello","language":{"code":"pt_BR"},"components":[{"type":"body","parameters":[{"type":"text","text":"x"}]}]}}"#,
            r#"{"to":"5511988880001","type":"interactive","interactive":{"type":"button","body":{"text":"?"},"action":{"buttons":[{"type":"reply","reply":{"id":"a","title":"A"}}]}}}"#,
            r#"{"to":"5511988880001","type":"image","image":{"link":"https://example.com/a.jpg","caption":"c"}}"#,
            r#"{"to":"5511988880001","status":"read","message_id":"wamid.X"}"#,
        ] {
            seeds.push(seed.as_bytes().to_vec());
        }
        for word in [
            "\"type\":",
            "\"text\":",
            "\"template\":",
            "\"interactive\":",
            "\"components\":",
            "\"parameters\":",
        ] {
            words.insert(word.to_owned());
        }
    }
    (seeds, words.into_iter().map(String::into_bytes).collect())
}

fn fuzz_all(executions_per_target: u64) {
    for target in targets() {
        let (seeds, dictionary) = corpus(&target);
        let report = fuzz::run(target.name, &seeds, &dictionary, executions_per_target, target.parse);
        assert_eq!(report.executions, executions_per_target);
        eprintln!("fuzz api body {}: {report}", target.name);
    }
}

#[test]
fn every_json_body_of_the_route_table_is_fuzzed() {
    let mut generator = generator();
    let listed: Vec<Value> = targets().iter().map(|t| (t.schema)(&mut generator).into()).collect();

    let missing: Vec<String> = OPERATIONS
        .iter()
        .filter_map(|op| match op.body {
            BodySpec::Json(schema) => Some((op, Value::from(schema(&mut generator)))),
            _ => None,
        })
        .filter(|(_, schema)| !listed.contains(schema))
        .map(|(op, _)| format!("{} {}", op.method, op.path))
        .collect();

    assert!(missing.is_empty(), "add these routes' body types to tests/fuzz.rs: {missing:?}");
}

#[test]
fn fuzz_api_bodies_smoke() {
    fuzz_all(100);
}

#[test]
#[ignore = "long: infra/fuzz.sh"]
fn fuzz_api_bodies_long() {
    fuzz_all(fuzz::executions_from_env(10_000_000));
}
