//! Chatbot flows (issue #17, P40): tenant-defined bots as versioned data.
//!
//! Everything here is pure: a [`FlowDefinition`] is checked at save time ([`validate`]), a
//! published flow is chosen for an incoming event ([`select`]), and each customer message (or
//! timeout) moves a conversation's [`FlowSession`] on by one turn ([`advance`]), answering the
//! [`Action`]s the runner (inbound) carries out: messages to send through the outbound use case,
//! contact and lead fields to store, a queue to route to, decisions for the contact center's
//! event log. [`simulate`] runs the same interpreter over a list of messages for the dry run.
//! Storage, the API and inbound live elsewhere; nothing here knows about AWS.

mod answer;
mod definition;
mod messages;
mod run;
mod simulate;
mod trigger;
mod validate;

#[cfg(test)]
mod tests;

pub use answer::{check_answer, normalize};
pub use definition::{
    flow_schema, parse_definition, AskStep, Condition, ConditionStep, ContactField, EndStep, FlowDefinition,
    HandoffStep, LeadField, Media, MediaKind, MenuOption, MenuStep, MenuStyle, MessageStep, Retry, RouteStep,
    SetStep, Step, StepId, Store, TemplateRef, Trigger, Validation, WaitStep, DEFAULT_INVALID_TEXT,
    DEFAULT_RETRY_MAX, DEFAULT_RETRY_TEXT,
};
pub use run::{advance, Action, FlowContext, FlowRef, FlowSession, Input, Turn, MAX_STEPS_PER_TURN};
pub use simulate::{simulate, SimStep};
pub use trigger::{select, TriggerContext, TriggerEvent, TriggerKind};
pub use validate::{validate, ValidationContext};

use serde::{Deserialize, Serialize};

/// One problem of a definition, located by a JSON pointer into it
/// (`/steps/menu/options/0/title`; `""` is the whole definition).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FlowProblem {
    /// Where, as a JSON pointer (RFC 6901).
    pub path: String,
    /// What is wrong, for the admin.
    pub message: String,
}

impl FlowProblem {
    /// A problem at `path`.
    #[must_use]
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self { path: path.into(), message: message.into() }
    }
}

/// The demo tenant's welcome flow (contract.md "Contact center"), with the queue ids as the
/// placeholders `{{queue:Sales}}` and `{{queue:Support}}`: the seeder substitutes the demo
/// tenant's queue ids ([`welcome_flow`] does it).
pub const WELCOME_FLOW_JSON: &str = include_str!("welcome.json");

/// The welcome flow with the `{{queue:Sales}}` and `{{queue:Support}}` placeholders replaced.
///
/// # Errors
/// The problems of the result (a queue id that is not one, e.g. empty).
pub fn welcome_flow(sales_queue: &str, support_queue: &str) -> Result<FlowDefinition, Vec<FlowProblem>> {
    let json = WELCOME_FLOW_JSON
        .replace("{{queue:Sales}}", &json_string_body(sales_queue))
        .replace("{{queue:Support}}", &json_string_body(support_queue));
    let value: serde_json::Value =
        serde_json::from_str(&json).map_err(|e| vec![FlowProblem::new("", e.to_string())])?;
    parse_definition(&value)
}

/// `text` escaped for the inside of a JSON string.
fn json_string_body(text: &str) -> String {
    let quoted = serde_json::Value::String(text.to_owned()).to_string();
    quoted[1..quoted.len() - 1].to_owned()
}
