//! The dry run: what a flow would send and store for a list of customer messages.

use serde::{Deserialize, Serialize};

use super::definition::{FlowDefinition, StepId};
use super::run::{advance, Action, FlowContext, FlowRef, FlowSession, Input};
use super::trigger::TriggerKind;

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
    let mut ctx = ctx.clone();
    let mut out = Vec::with_capacity(messages.len().max(1));
    let start = Input::Start {
        flow: FlowRef { id: "simulation".to_owned(), version: 0 },
        trigger: TriggerKind::NewConversation,
    };
    let mut session = turn(def, None, &start, &mut ctx, messages.first().cloned(), &mut out);
    for message in messages.iter().skip(1) {
        let Some(current) = session else {
            // The flow is over: the contact center has the conversation.
            out.push(SimStep { customer: Some(message.clone()), actions: Vec::new(), step: None });
            continue;
        };
        let input = Input::Customer { text: Some(message.clone()), choice_id: None };
        session = turn(def, Some(&current), &input, &mut ctx, Some(message.clone()), &mut out);
    }
    out
}

/// Runs one turn, records it and remembers what it stored (as the runner would).
fn turn(
    def: &FlowDefinition,
    session: Option<&FlowSession>,
    input: &Input,
    ctx: &mut FlowContext,
    customer: Option<String>,
    out: &mut Vec<SimStep>,
) -> Option<FlowSession> {
    let turn = advance(def, session, input, ctx);
    for action in &turn.actions {
        ctx.apply(action);
    }
    out.push(SimStep {
        customer,
        actions: turn.actions,
        step: turn.session.as_ref().map(|s| s.step.clone()),
    });
    turn.session
}
