//! Which published flow starts for an incoming customer message.
//!
//! Precedence, when several published flows match (the first rule that matches wins; within a
//! rule, the first flow in the order given, which the runner keeps stable, e.g. by flow id):
//! 1. **keyword**: the message is exactly one of a flow's keywords (trimmed, case- and
//!    accent-insensitive), in a new, reopened or ongoing conversation: the customer asked for
//!    it by name;
//! 2. **outside hours**: a new or reopened conversation while the tenant is closed: the
//!    ordinary greeting may promise agents who are not there;
//! 3. **new conversation** / **reopened**, as the event is.
//!
//! A message in an ongoing conversation starts a flow only by keyword. The runner calls
//! [`select`] for a customer message when no session is running (a running session takes the
//! message itself).

use serde::{Deserialize, Serialize};

use super::answer::normalize;
use super::definition::{FlowDefinition, Trigger};
use super::run::FlowRef;

/// Why a flow started (given back in [`super::Input::Start`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TriggerKind {
    /// A new conversation.
    NewConversation,
    /// A reopened conversation.
    Reopened,
    /// A keyword.
    Keyword,
    /// Outside business hours.
    OutsideHours,
}

impl TriggerKind {
    /// Its name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::NewConversation => "new_conversation",
            Self::Reopened => "reopened",
            Self::Keyword => "keyword",
            Self::OutsideHours => "outside_hours",
        }
    }
}

/// What happened to the conversation with this message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TriggerEvent {
    /// It created the conversation.
    NewConversation,
    /// It reopened a resolved conversation.
    Reopened,
    /// It joined an open conversation.
    Message,
}

/// The incoming message as triggers see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TriggerContext {
    /// New, reopened or ongoing conversation.
    pub event: TriggerEvent,
    /// The message's text.
    pub text: Option<String>,
    /// Whether the tenant is open now (`TenantSettings::is_open(now)`).
    pub open: bool,
}

/// The flow to start, if any, and why.
#[must_use]
pub fn select(
    flows: &[(FlowRef, &FlowDefinition)],
    trigger: &TriggerContext,
) -> Option<(FlowRef, TriggerKind)> {
    let text = trigger.text.as_deref().map(normalize).filter(|t| !t.is_empty());
    let first = |wanted: &dyn Fn(&Trigger) -> bool| {
        flows.iter().find(|(_, def)| def.triggers.iter().any(wanted)).map(|(flow, _)| flow.clone())
    };
    if let Some(text) = text {
        let keyword = |t: &Trigger| match t {
            Trigger::Keyword { keywords } => keywords.iter().any(|k| normalize(k) == text),
            _ => false,
        };
        if let Some(flow) = first(&keyword) {
            return Some((flow, TriggerKind::Keyword));
        }
    }
    let (event_trigger, kind) = match trigger.event {
        TriggerEvent::Message => return None,
        TriggerEvent::NewConversation => (Trigger::NewConversation, TriggerKind::NewConversation),
        TriggerEvent::Reopened => (Trigger::Reopened, TriggerKind::Reopened),
    };
    if !trigger.open {
        if let Some(flow) = first(&|t: &Trigger| *t == Trigger::OutsideHours) {
            return Some((flow, TriggerKind::OutsideHours));
        }
    }
    first(&|t: &Trigger| *t == event_trigger).map(|flow| (flow, kind))
}
