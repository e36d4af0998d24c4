//! The interpreter: one turn of a conversation's flow per customer message or timeout.
//!
//! [`advance`] is pure. It starts at the session's step and runs steps until one waits for the
//! customer (a menu, a question, a wait) or the flow ends (route, handoff, end, a step without
//! `next`), answering the [`Action`]s for the runner and the session to store. At most
//! [`MAX_STEPS_PER_TURN`] steps run per turn, whatever the definition says.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::definition::{ContactField, FlowDefinition, LeadField, StepId};
use super::trigger::TriggerKind;
use crate::domain::ids::QueueId;
use crate::domain::inbox::LeadStage;
use crate::domain::tenant::TenantSettings;
use crate::domain::time::Timestamp;

/// Steps run at most in one turn: a guard against a loop the validator could not see (a cycle
/// that has an exit its conditions never take). Past it the conversation goes to a human.
pub const MAX_STEPS_PER_TURN: usize = 25;

/// A published flow's id and version: a conversation finishes on the version it started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FlowRef {
    /// The flow's id (the store's).
    pub id: String,
    /// The published version.
    pub version: u32,
}

/// Where a conversation is in a flow (stored by the runner with the conversation; the store's
/// version guards concurrent turns).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FlowSession {
    /// The flow and version it runs.
    pub flow: FlowRef,
    /// The step waiting for the customer.
    pub step: StepId,
    /// Unmatched or invalid answers at this step so far.
    #[serde(default)]
    pub tries: u32,
    /// When the step started waiting (epoch ms): a wait step's timeout runs from here.
    #[schemars(with = "i64")]
    pub waiting_since: Timestamp,
    /// Valid answers by step id (menus: the option id; questions: the stored value).
    #[serde(default)]
    pub answers: BTreeMap<StepId, String>,
}

/// What moves a flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// The flow was selected ([`super::select`]): start at its first step (any session is
    /// replaced).
    Start {
        /// The flow and version.
        flow: FlowRef,
        /// Why it started.
        trigger: TriggerKind,
    },
    /// A customer message.
    Customer {
        /// Its text (a text message's body, or a media caption).
        text: Option<String>,
        /// A button or list reply's id.
        choice_id: Option<String>,
    },
    /// An [`Action::ArmTimeout`] came due. Ignored unless the session waits at a wait step whose
    /// timeout has passed (so a stale timer does nothing).
    Timeout,
}

/// What the interpreter knows of the world, read by the runner before the turn.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowContext {
    /// Now.
    pub now: Timestamp,
    /// The tenant's settings (business hours, time zone, holidays).
    pub settings: TenantSettings,
    /// The contact's name.
    pub name: Option<String>,
    /// The contact's email.
    pub email: Option<String>,
    /// The contact's custom attributes.
    pub attributes: BTreeMap<String, String>,
    /// The contact's tags.
    pub tags: Vec<String>,
    /// The stage of the contact's lead, when it has one.
    pub lead_stage: Option<LeadStage>,
    /// Whether the 24 h customer service window is open (free-form messages allowed).
    pub window_open: bool,
}

/// Something the runner does, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Action {
    /// Send a message: a Cloud API message body without `to` and `messaging_product`
    /// (`{"type": "interactive", "interactive": {...}}`).
    Send {
        /// The body.
        body: Value,
    },
    /// Store a contact field.
    SetContactField {
        /// Which.
        field: ContactField,
        /// The value (an email is lowercased).
        value: String,
    },
    /// Set a custom attribute of the contact.
    SetAttribute {
        /// Its name.
        name: String,
        /// Its value.
        value: String,
    },
    /// Add tags to the contact.
    AddTags {
        /// The tags.
        tags: Vec<String>,
    },
    /// Store a field of the contact's lead (`stage` holds a [`LeadStage`] name).
    SetLeadField {
        /// Which.
        field: LeadField,
        /// The value.
        value: String,
    },
    /// Put the conversation in the queue (the flow has ended).
    Route {
        /// The queue.
        queue: QueueId,
    },
    /// Hand the conversation to a human (the flow has ended).
    Handoff {
        /// The queue, when one.
        queue: Option<QueueId>,
    },
    /// A decision for the contact center's event log (`option matched: sales`,
    /// `invalid answer (1/3)`, `routed`…). Holds no customer text.
    Decision {
        /// The step.
        step: StepId,
        /// What was decided.
        detail: String,
    },
    /// Deliver [`Input::Timeout`] at `at` (epoch ms) unless a message comes first.
    ArmTimeout {
        /// When.
        #[schemars(with = "i64")]
        at: Timestamp,
    },
}

/// The result of one turn.
#[derive(Debug, Clone, PartialEq)]
pub struct Turn {
    /// What to do, in order.
    pub actions: Vec<Action>,
    /// The session to store; `None` when the flow ended (routed, handed off, ended).
    pub session: Option<FlowSession>,
}

/// Moves a flow on by one turn (pure): `session` is the conversation's (none before
/// [`Input::Start`]); the result's actions are carried out by the runner in order.
#[must_use]
pub fn advance(
    def: &FlowDefinition,
    session: Option<&FlowSession>,
    input: &Input,
    ctx: &FlowContext,
) -> Turn {
    let _ = (def, input, ctx);
    Turn { actions: Vec::new(), session: session.cloned() }
}
