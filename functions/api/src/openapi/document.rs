//! The OpenAPI document's generator: the operation table and the JSON Schemas of the types the
//! handlers read and write, made into `docs/openapi.json`. Test-only: the API serves the
//! committed file (see [`super::response`]), so none of this, nor schemars, is in the deployed
//! binary.

use std::collections::BTreeMap;

use schemars::generate::SchemaSettings;
use schemars::SchemaGenerator;
use serde_json::{json, Map, Value};
use shared::lambda::http::Problem;

use crate::operation::{role_name, Access, BodySpec, Op, Operation, ParamKind};

/// Statuses every operation may answer, beyond its own.
const COMMON_ERRORS: &[u16] = &[400, 401, 403, 404, 409, 413, 429, 500];

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No content",
        400 => "The request is malformed (the detail says what)",
        401 => "No valid credential",
        403 => "The credential may not do this, or a plan limit is reached",
        404 => "No such resource for this tenant",
        409 => "Conflicts with the current state",
        410 => "Gone",
        413 => "The body is too large",
        422 => "Refused: by policy (consent, opt-out, 24 h window, template), a reused Idempotency-Key, a connection Graph does not confirm, over a contact's cap, or an invalid chatbot flow (invalid-flow, listing every problem with its JSON pointer; the problem type names which)",
        502 => "Meta refused the request",
        429 => "Too many requests (see Retry-After)",
        500 => "Unexpected failure",
        501 => "Not built in this version",
        503 => "Try again (see Retry-After)",
        _ => "Answer",
    }
}

pub(super) fn generator(deserialize: bool) -> SchemaGenerator {
    let settings = SchemaSettings::draft2020_12().with(|s| {
        s.definitions_path = "/components/schemas/".into();
        s.meta_schema = None;
    });
    if deserialize {
        settings.for_deserialize().into_generator()
    } else {
        settings.for_serialize().into_generator()
    }
}

fn param_schema(kind: ParamKind) -> Value {
    match kind {
        ParamKind::Text(max) => json!({"type": "string", "minLength": 1, "maxLength": max}),
        ParamKind::Limit(max) => json!({"type": "integer", "minimum": 1, "maximum": max}),
        ParamKind::Cursor => json!({"type": "string", "minLength": 1, "maxLength": 2048}),
        ParamKind::Phone => json!({"type": "string", "pattern": "^\\+?[0-9]{8,15}$"}),
        ParamKind::Email => json!({"type": "string", "format": "email", "maxLength": 254}),
        ParamKind::Millis => json!({"type": "integer", "minimum": 0, "maximum": 253_402_300_799_999_i64}),
        ParamKind::OneOf(values) => json!({"type": "string", "enum": values}),
    }
}

fn problem_response(status: u16) -> Value {
    let mut response = json!({
        "description": reason(status),
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    });
    if matches!(status, 429 | 503) {
        response["headers"] =
            json!({"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}});
    }
    response
}

pub(super) fn operation(
    op: &Operation,
    requests: &mut SchemaGenerator,
    answers: &mut SchemaGenerator,
) -> Value {
    let mut parameters: Vec<Value> = op
        .path
        .split('/')
        .filter_map(|part| part.strip_prefix('{').and_then(|p| p.strip_suffix('}')))
        .map(|name| {
            json!({"name": name, "in": "path", "required": true,
                   "schema": {"type": "string", "minLength": 1, "maxLength": 128}})
        })
        .collect();
    parameters.extend(op.query.iter().map(|q| {
        json!({"name": q.name, "in": "query", "required": false, "description": q.description, "schema": param_schema(q.kind)})
    }));
    let mut responses = Map::new();
    for answer in op.answers {
        let mut response = json!({"description": reason(answer.status)});
        match answer.schema {
            Some(schema) => {
                let schema = serde_json::to_value(schema(answers)).unwrap_or(Value::Null);
                response["content"] = json!({"application/json": {"schema": schema}});
            }
            None if answer.status == 200 => {
                response["content"] = json!({"application/json": {"schema": {"type": "object"}}})
            }
            None => {}
        }
        responses.insert(answer.status.to_string(), response);
    }
    for status in COMMON_ERRORS.iter().chain(op.extra_errors) {
        responses.insert(status.to_string(), problem_response(*status));
    }
    let mut operation = json!({
        "operationId": operation_id(op),
        "summary": op.summary,
        "tags": [op.tag],
        "parameters": parameters,
        "responses": responses,
    });
    operation["security"] = match op.access {
        Access::Public => json!([]),
        _ => json!([{"bearer": []}]),
    };
    let role = match op.access {
        Access::Public => "anyone".to_owned(),
        Access::Operator => "the operator key".to_owned(),
        Access::User => "a logged-in user (not an API key)".to_owned(),
        Access::Tenant(role) => {
            format!("a tenant credential with the {} role or higher", role_name(role))
        }
    };
    operation["description"] = json!(format!("{} Who may call it: {role}.", op.summary));
    match op.body {
        BodySpec::None => {}
        BodySpec::Json(schema) => {
            let schema = serde_json::to_value(schema(requests)).unwrap_or(Value::Null);
            operation["requestBody"] =
                json!({"required": true, "content": {"application/json": {"schema": schema}}});
            if op.op == Op::SendMessage {
                if let Some(parameters) = operation["parameters"].as_array_mut() {
                    parameters.push(json!({"name": "Idempotency-Key", "in": "header", "required": true,
                        "description": "The same key and body answer the first answer (one message, even when \
                            the first request died midway); another body is 422.",
                        "schema": {"type": "string", "minLength": 1, "maxLength": 255}}));
                }
                operation["responses"]["409"] = json!({
                    "description": "A request with this Idempotency-Key is in progress \
                        (`idempotency-key-in-progress`): retry with the same key and body after Retry-After \
                        to get its answer; it never makes a second message",
                    "headers": {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}},
                    "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
                });
            }
        }
        BodySpec::Csv => {
            operation["requestBody"] =
                json!({"required": true, "content": {"text/csv": {"schema": {"type": "string"}}}});
        }
        BodySpec::Binary => {
            operation["requestBody"] = json!({"required": true,
                "content": {"*/*": {"schema": {"type": "string", "contentMediaType": "application/octet-stream"}}}});
        }
    }
    operation
}

/// The operation id, named after the operation (`createContact`, `listConversationNotes`): the
/// [`Op`] variant's name in lower camel case, a contact record's kind spelled out
/// (`ListRecords(Task)` is `listContactTasks`). Generated clients name their methods after it.
#[must_use]
pub fn operation_id(op: &Operation) -> String {
    let name = format!("{:?}", op.op);
    let name = match name.split_once('(') {
        Some((verb_records, kind)) => {
            let kind = kind.trim_end_matches(')');
            let plural = if verb_records.ends_with("Records") { "s" } else { "" };
            let verb = verb_records.trim_end_matches("Records").trim_end_matches("Record");
            format!("{verb}Contact{kind}{plural}")
        }
        None => name,
    };
    let mut chars = name.chars();
    chars.next().map(|first| first.to_ascii_lowercase().to_string() + chars.as_str()).unwrap_or_default()
}

/// The document of `operations`.
#[must_use]
pub fn document(operations: &[Operation]) -> Value {
    let mut requests = generator(true);
    let mut answers = generator(false);
    let mut paths: BTreeMap<&str, Map<String, Value>> = BTreeMap::new();
    for op in operations {
        paths
            .entry(op.path)
            .or_default()
            .insert(op.method.to_lowercase(), operation(op, &mut requests, &mut answers));
    }
    let _ = answers.subschema_for::<Problem>();
    let mut schemas = answers.take_definitions(true);
    // A type used both ways has one schema (a unit test checks the two forms agree).
    schemas.extend(requests.take_definitions(true));
    // The problem types, listed where clients look for them (docs/problems.md documents each).
    if let Some(kind) = schemas.get_mut("Problem").and_then(|p| p.pointer_mut("/properties/type")) {
        kind["description"] = Value::String(shared::lambda::problems::type_description());
        kind["format"] = Value::String("uri".to_owned());
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Leadline API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The tenant API of Leadline: WhatsApp conversations, contacts, leads, users and privacy. \
                Every error is application/problem+json. A tenant comes only from its credential; another \
                tenant's ids answer 404.",
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer",
                    "description": "An access token from /v1/auth/login, an API key (llk.…), or the operator key."}
            }
        }
    })
}
