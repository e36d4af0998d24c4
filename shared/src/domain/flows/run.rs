//! The interpreter: one turn of a conversation's flow per customer message or timeout.
//!
//! [`advance`] is pure. It starts at the session's step and runs steps until one waits for the
//! customer (a menu, a question, a wait) or the flow ends (route, handoff, end, a step without
//! `next`), answering the [`Action`]s for the runner and the session to store. At most
//! [`MAX_STEPS_PER_TURN`] steps run per turn, whatever the definition says.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::answer::{check_answer, normalize};
use super::definition::{
    AskStep, Condition, ContactField, FlowDefinition, LeadField, MenuOption, MenuStep, MessageStep, Step,
    StepId, Store, WaitStep, DEFAULT_INVALID_TEXT, DEFAULT_RETRY_MAX, DEFAULT_RETRY_TEXT,
};
use super::messages;
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

impl FlowContext {
    /// What `action` changes in the context: the contact's fields, attributes and tags and the
    /// lead's stage as the runner stores them.
    pub fn apply(&mut self, action: &Action) {
        match action {
            Action::SetContactField { field: ContactField::Email, value } => self.email = Some(value.clone()),
            Action::SetContactField { field: ContactField::Name, value } => self.name = Some(value.clone()),
            Action::SetAttribute { name, value } => {
                self.attributes.insert(name.clone(), value.clone());
            }
            Action::AddTags { tags } => {
                for tag in tags {
                    if !self.tags.iter().any(|t| t.to_lowercase() == tag.to_lowercase()) {
                        self.tags.push(tag.clone());
                    }
                }
            }
            Action::SetLeadField { field: LeadField::Stage, value } => {
                self.lead_stage = LeadStage::parse(value).or(self.lead_stage);
            }
            _ => {}
        }
    }
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
///
/// A menu takes a button or list reply by its id, or a typed answer by option number (`1`),
/// title or keyword; anything else is answered with the retry text and the menu again, up to
/// `retry.max` times, then goes to `retry.then`. A question re-asks an invalid answer until
/// `max_tries` answers were taken, then goes to `on_fail`. A customer message with no session,
/// or a timeout that is not due, changes nothing.
#[must_use]
pub fn advance(
    def: &FlowDefinition,
    session: Option<&FlowSession>,
    input: &Input,
    ctx: &FlowContext,
) -> Turn {
    let mut run = Run { def, ctx: ctx.clone(), actions: Vec::new(), steps: 0 };
    match input {
        Input::Start { flow, trigger } => {
            let session = FlowSession {
                flow: flow.clone(),
                step: def.start.clone(),
                tries: 0,
                waiting_since: ctx.now,
                answers: BTreeMap::new(),
            };
            run.decide(&def.start, format!("flow started by {}", trigger.as_str()));
            run.run_from(session)
        }
        Input::Customer { text, choice_id } => {
            let Some(session) = session else { return Turn { actions: Vec::new(), session: None } };
            let session = session.clone();
            match def.steps.get(&session.step) {
                Some(Step::Menu(menu)) => {
                    run.answer_menu(session, menu, text.as_deref(), choice_id.as_deref())
                }
                Some(Step::Ask(ask)) => run.answer_ask(session, ask, text.as_deref()),
                Some(Step::Wait(wait)) => {
                    run.decide(&session.step, "reply received");
                    run.goto(session, &wait.next)
                }
                // Not a waiting step (never stored by `advance`): run on from it.
                _ => run.run_from(session),
            }
        }
        Input::Timeout => {
            let Some(session) = session else { return Turn { actions: Vec::new(), session: None } };
            let session = session.clone();
            match def.steps.get(&session.step) {
                Some(Step::Wait(wait)) if ctx.now >= timeout_at(&session, wait) => {
                    run.decide(&session.step, "timed out");
                    run.goto(session, &wait.on_timeout)
                }
                _ => Turn { actions: Vec::new(), session: Some(session) },
            }
        }
    }
}

/// When a wait step's timeout falls.
fn timeout_at(session: &FlowSession, wait: &WaitStep) -> Timestamp {
    session.waiting_since.plus(Duration::from_secs(u64::from(wait.timeout_minutes) * 60))
}

/// One turn in progress.
struct Run<'a> {
    def: &'a FlowDefinition,
    /// The context as this turn's own actions left it (a condition after a `set` sees the tag).
    ctx: FlowContext,
    actions: Vec<Action>,
    /// Steps entered this turn.
    steps: usize,
}

impl Run<'_> {
    fn decide(&mut self, step: &str, detail: impl Into<String>) {
        self.actions.push(Action::Decision { step: step.to_owned(), detail: detail.into() });
    }

    /// Sends a free-form message, which WhatsApp delivers only within the window.
    fn send(&mut self, step: &str, body: Value) {
        if self.ctx.window_open {
            self.actions.push(Action::Send { body });
        } else {
            self.decide(step, "not sent: the customer service window is closed");
        }
    }

    /// Records `action` and what it changes in the context.
    fn apply(&mut self, action: Action) {
        self.ctx.apply(&action);
        self.actions.push(action);
    }

    fn finish(self, session: Option<FlowSession>) -> Turn {
        Turn { actions: self.actions, session }
    }

    /// Moves to `next` (tries start again) and runs from there.
    fn goto(self, mut session: FlowSession, next: &str) -> Turn {
        session.step = next.to_owned();
        session.tries = 0;
        self.run_from(session)
    }

    /// Hands the conversation to a human, ending the flow: what a flow does when it cannot go on.
    fn give_up(mut self, step: &str, why: &str) -> Turn {
        self.decide(step, format!("{why}: handed off"));
        self.actions.push(Action::Handoff { queue: None });
        self.finish(None)
    }

    /// Runs steps from the session's until one waits or the flow ends.
    fn run_from(mut self, mut session: FlowSession) -> Turn {
        loop {
            self.steps += 1;
            if self.steps > MAX_STEPS_PER_TURN {
                let step = session.step.clone();
                return self.give_up(&step, "step limit reached");
            }
            let id = session.step.clone();
            let Some(step) = self.def.steps.get(&id) else {
                return self.give_up(&id, "unknown step");
            };
            let next = match step {
                Step::Message(message) => {
                    self.message(&id, message);
                    message.next.clone()
                }
                Step::Menu(menu) => {
                    self.send(&id, messages::menu(menu));
                    return self.wait_here(session);
                }
                Step::Ask(ask) => {
                    self.send(&id, messages::text(&ask.text));
                    return self.wait_here(session);
                }
                Step::Condition(condition) => {
                    let holds = self.holds(&condition.when);
                    self.decide(&id, if holds { "condition true" } else { "condition false" });
                    Some(if holds { condition.then.clone() } else { condition.otherwise.clone() })
                }
                Step::Set(set) => {
                    if !set.tags.is_empty() {
                        self.apply(Action::AddTags { tags: set.tags.clone() });
                    }
                    for (name, value) in &set.attributes {
                        self.apply(Action::SetAttribute { name: name.clone(), value: value.clone() });
                    }
                    if let Some(stage) = set.lead_stage {
                        self.apply(Action::SetLeadField {
                            field: LeadField::Stage,
                            value: stage.as_str().to_owned(),
                        });
                    }
                    set.next.clone()
                }
                Step::Wait(wait) => {
                    let at = self.ctx.now.plus(Duration::from_secs(u64::from(wait.timeout_minutes) * 60));
                    self.actions.push(Action::ArmTimeout { at });
                    return self.wait_here(session);
                }
                Step::Route(route) => {
                    if let Some(text) = &route.text {
                        self.send(&id, messages::text(text));
                    }
                    self.decide(&id, format!("routed to queue {}", route.queue.as_str()));
                    self.actions.push(Action::Route { queue: route.queue.clone() });
                    return self.finish(None);
                }
                Step::Handoff(handoff) => {
                    if let Some(text) = &handoff.text {
                        self.send(&id, messages::text(text));
                    }
                    self.decide(&id, "handed off");
                    self.actions.push(Action::Handoff { queue: handoff.queue.clone() });
                    return self.finish(None);
                }
                Step::End(end) => {
                    if let Some(text) = &end.text {
                        self.send(&id, messages::text(text));
                    }
                    self.decide(&id, "flow ended");
                    return self.finish(None);
                }
            };
            match next {
                Some(next) => {
                    session.step = next;
                    session.tries = 0;
                }
                None => {
                    self.decide(&id, "flow ended");
                    return self.finish(None);
                }
            }
        }
    }

    /// Keeps the session at its step, waiting for the customer from now.
    fn wait_here(self, mut session: FlowSession) -> Turn {
        session.waiting_since = self.ctx.now;
        self.finish(Some(session))
    }

    /// A message step: text or media while the window is open, else its template (or nothing).
    fn message(&mut self, id: &str, message: &MessageStep) {
        let body = match (&message.text, &message.media, &message.template) {
            (_, _, Some(template)) if !self.ctx.window_open => Some(messages::template(template)),
            (Some(text), _, _) => Some(messages::text(text)),
            (None, Some(media), _) => Some(messages::media(media)),
            (None, None, Some(template)) => Some(messages::template(template)),
            (None, None, None) => None,
        };
        match body {
            // A template goes out whatever the window.
            Some(body) if body["type"] == "template" => self.actions.push(Action::Send { body }),
            Some(body) => self.send(id, body),
            None => {}
        }
    }

    /// Whether `condition` holds now.
    fn holds(&self, condition: &Condition) -> bool {
        let ctx = &self.ctx;
        match condition {
            Condition::AttributeEquals { name, value } => ctx
                .attributes
                .get(name)
                .is_some_and(|actual| actual.trim().to_lowercase() == value.trim().to_lowercase()),
            Condition::AttributeExists { name } => {
                ctx.attributes.get(name).is_some_and(|v| !v.trim().is_empty())
            }
            Condition::ContactFieldExists { field } => {
                let value = match field {
                    ContactField::Name => &ctx.name,
                    ContactField::Email => &ctx.email,
                };
                value.as_deref().is_some_and(|v| !v.trim().is_empty())
            }
            Condition::Tag { tag } => ctx.tags.iter().any(|t| t.to_lowercase() == tag.to_lowercase()),
            Condition::BusinessHoursOpen => ctx.settings.is_open(ctx.now),
            Condition::LeadStage { stages } => ctx.lead_stage.is_some_and(|stage| stages.contains(&stage)),
        }
    }

    /// The customer answered a menu.
    fn answer_menu(
        mut self,
        mut session: FlowSession,
        menu: &MenuStep,
        text: Option<&str>,
        choice: Option<&str>,
    ) -> Turn {
        let id = session.step.clone();
        if let Some((option, how)) = match_option(menu, text, choice) {
            self.decide(&id, format!("option matched: {} (by {how})", option.id));
            session.answers.insert(id, option.id.clone());
            return self.goto(session, &option.next);
        }
        session.tries += 1;
        let (retry_text, max, then) = match &menu.retry {
            Some(retry) => (retry.text.as_str(), retry.max, Some(retry.then.as_str())),
            None => (DEFAULT_RETRY_TEXT, DEFAULT_RETRY_MAX, None),
        };
        if session.tries > max {
            return match then {
                Some(then) => {
                    self.decide(&id, format!("no option matched ({} of {max} retries used): giving up", max));
                    self.goto(session, then)
                }
                None => self.give_up(&id, "no option matched after the retries"),
            };
        }
        self.decide(&id, format!("no option matched: asking again ({}/{max})", session.tries));
        self.send(&id, messages::text(retry_text));
        self.send(&id, messages::menu(menu));
        self.wait_here(session)
    }

    /// The customer answered a question.
    fn answer_ask(mut self, mut session: FlowSession, ask: &AskStep, text: Option<&str>) -> Turn {
        let id = session.step.clone();
        if let Some(value) = text.and_then(|text| check_answer(&ask.validate, text)) {
            self.decide(&id, "valid answer");
            match &ask.store {
                Some(Store::Contact(field)) => {
                    self.apply(Action::SetContactField { field: *field, value: value.clone() })
                }
                Some(Store::Attribute(name)) => {
                    self.apply(Action::SetAttribute { name: name.clone(), value: value.clone() });
                }
                Some(Store::Lead(field)) => {
                    self.apply(Action::SetLeadField { field: *field, value: value.clone() })
                }
                None => {}
            }
            session.answers.insert(id, value);
            return self.goto(session, &ask.next);
        }
        session.tries += 1;
        if session.tries >= ask.max_tries {
            return match &ask.on_fail {
                Some(on_fail) => {
                    self.decide(
                        &id,
                        format!("invalid answer ({}/{}): giving up", session.tries, ask.max_tries),
                    );
                    self.goto(session, on_fail)
                }
                None => self.give_up(&id, "invalid answers"),
            };
        }
        self.decide(&id, format!("invalid answer ({}/{}): asking again", session.tries, ask.max_tries));
        self.send(&id, messages::text(ask.invalid_text.as_deref().unwrap_or(DEFAULT_INVALID_TEXT)));
        self.send(&id, messages::text(&ask.text));
        self.wait_here(session)
    }
}

/// The option a reply names and how: a button or list reply's id, else the typed text as an
/// option number (`1`), title or keyword (normalised, see [`normalize`]).
fn match_option<'m>(
    menu: &'m MenuStep,
    text: Option<&str>,
    choice: Option<&str>,
) -> Option<(&'m MenuOption, &'static str)> {
    if let Some(choice) = choice {
        if let Some(option) = menu.options.iter().find(|o| o.id == choice) {
            return Some((option, "reply id"));
        }
    }
    let typed = normalize(text?);
    if typed.is_empty() {
        return None;
    }
    if let Ok(number) = typed.parse::<usize>() {
        return number.checked_sub(1).and_then(|i| menu.options.get(i)).map(|o| (o, "number"));
    }
    if let Some(option) = menu.options.iter().find(|o| normalize(&o.title) == typed) {
        return Some((option, "title"));
    }
    menu.options.iter().find(|o| o.keywords.iter().any(|k| normalize(k) == typed)).map(|o| (o, "keyword"))
}
