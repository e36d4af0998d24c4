//! Tests of the flows domain: fixtures shared by the files below.

mod answers;
mod interpreter;
mod steps;
mod triggers;
mod validation;

use serde_json::{json, Value};

use super::*;
use crate::domain::tenant::TenantSettings;
use crate::domain::time::Timestamp;

/// Monday 2026-12-07 10:00 UTC.
const MONDAY_TEN: i64 = 1_796_601_600 + 10 * 3600;

/// A context open every hour, the window open, a contact with nothing known.
fn ctx() -> FlowContext {
    FlowContext {
        now: Timestamp::from_secs(MONDAY_TEN),
        settings: TenantSettings {
            business_hours: TenantSettings::always_open(),
            ..TenantSettings::default()
        },
        name: None,
        email: None,
        attributes: std::collections::BTreeMap::new(),
        tags: Vec::new(),
        lead_stage: None,
        window_open: true,
    }
}

/// The demo welcome flow with queues `q_sales` and `q_support`.
fn welcome() -> FlowDefinition {
    welcome_flow("q_sales", "q_support").expect("the welcome fixture parses")
}

/// A definition from JSON, which must parse.
fn flow(value: Value) -> FlowDefinition {
    parse_definition(&value).expect("parses")
}

fn flow_ref() -> FlowRef {
    FlowRef { id: "fl_1".into(), version: 3 }
}

fn start(def: &FlowDefinition, ctx: &FlowContext) -> Turn {
    advance(def, None, &Input::Start { flow: flow_ref(), trigger: TriggerKind::NewConversation }, ctx)
}

fn say(def: &FlowDefinition, session: &FlowSession, text: &str, ctx: &FlowContext) -> Turn {
    advance(def, Some(session), &Input::Customer { text: Some(text.into()), choice_id: None }, ctx)
}

fn tap(def: &FlowDefinition, session: &FlowSession, id: &str, ctx: &FlowContext) -> Turn {
    advance(def, Some(session), &Input::Customer { text: None, choice_id: Some(id.into()) }, ctx)
}

/// The bodies a turn sends.
fn sent(turn: &Turn) -> Vec<Value> {
    turn.actions
        .iter()
        .filter_map(|a| match a {
            Action::Send { body } => Some(body.clone()),
            _ => None,
        })
        .collect()
}

/// The texts a turn sends (text messages' bodies, interactive messages' bodies).
fn texts(turn: &Turn) -> Vec<String> {
    sent(turn)
        .iter()
        .filter_map(|b| {
            b["text"]["body"].as_str().or(b["interactive"]["body"]["text"].as_str()).map(str::to_owned)
        })
        .collect()
}

/// A turn's decisions' details.
fn decisions(turn: &Turn) -> Vec<String> {
    turn.actions
        .iter()
        .filter_map(|a| match a {
            Action::Decision { detail, .. } => Some(detail.clone()),
            _ => None,
        })
        .collect()
}

/// The actions that are neither sends nor decisions.
fn effects(turn: &Turn) -> Vec<Action> {
    turn.actions
        .iter()
        .filter(|a| !matches!(a, Action::Send { .. } | Action::Decision { .. }))
        .cloned()
        .collect()
}

/// The session of a turn that waits.
fn waiting(turn: &Turn) -> FlowSession {
    turn.session.clone().expect("the flow waits")
}

fn queue(id: &str) -> crate::domain::ids::QueueId {
    crate::domain::ids::QueueId::parse(id).expect("queue id")
}

/// A flow of one step `s` of type `step` (other keys as given) followed by steps `yes` and `no`
/// that end with those texts.
fn one_step(step: Value) -> FlowDefinition {
    flow(json!({
        "name": "t", "start": "s",
        "steps": {
            "s": step,
            "yes": {"type": "end", "text": "yes"},
            "no": {"type": "end", "text": "no"}
        }
    }))
}
