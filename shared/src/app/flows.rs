//! Running chatbot flows (P40) for `inbound`: after a customer message is stored, start the
//! tenant's published flow on its trigger or move the conversation's running session on by one
//! turn ([`crate::domain::flows::advance`]), then carry out the turn's actions — replies through
//! the same outbound use case as the API ([`outbound::submit`]: policy, window, plan limits),
//! contact fields, attributes and tags through the contact store, routing through the contact
//! center's engine ([`center::apply`]), and an event in the contact center's log for every
//! automated message and decision.
//!
//! Exactly once per message: the session is saved **before** its actions run, at the store
//! version it was read and naming the message it processed; a second delivery of the message
//! (SQS, or Meta's retries) finds that name, or loses the conditional write, and does nothing.
//! A crash between the save and the actions loses that turn's replies rather than sending them
//! twice.
//!
//! Wait timeouts: the deadline is stored in the session (`timeout_at`) and a contact center
//! timer is armed for it; the timers sweep hands it to `inbound` in the customer's own message
//! group, which advances the session once if it still waits there ([`timeouts`]). A timeout
//! that is due when the customer's next message arrives first is processed before that message.
//!
//! Lead fields go to the contact's open lead, or a new one ([`leads`]).

mod leads;
pub mod timeouts;

pub use leads::CHATBOT_ORIGIN;
pub use timeouts::{hand_over, on_timeout};

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::Value;

use super::center::{self, CenterPorts, Change};
use super::outbound::{self, OutboundPorts, Submission, SubmitError};
use crate::domain::center::{CenterEvent, EventKind, EventLog as _};
use crate::domain::flows::{
    advance, select, Action, ContactField, FlowContext, FlowDefinition, FlowRef, Input, TriggerContext,
    TriggerEvent,
};
use crate::domain::flows_store::{FlowStore as _, FlowStoreError, SessionRecord};
use crate::domain::inbox::{
    ConsentKind, ContactPatch, ContactStore as _, ContactView, ConversationState, ConversationView,
};
use crate::domain::outbound::{service_window, OutboundBody};
use crate::domain::tenant::{RetentionSettings, TenantSettings};
use crate::domain::{Clock, FlowId, TenantId, Timestamp};
use crate::wiring::Adapters;

/// The ports a flow run uses, borrowed from `inbound`'s dependencies.
pub struct FlowPorts<'a, A: Adapters> {
    /// Flows, their versions and the sessions.
    pub flows: &'a A::Flows,
    /// The contact center (routing, the event log).
    pub center: CenterPorts<'a, A>,
    /// Replies, checked and queued as the API's.
    pub outbound: OutboundPorts<'a, A>,
    /// Wait timeouts ([`timeouts`]).
    pub timers: &'a A::Timers,
    /// The contacts' leads ([`Action::SetLeadField`]), as the API's `/v1/leads`.
    pub leads: &'a A::Leads,
}

impl<A: Adapters> std::fmt::Debug for FlowPorts<'_, A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlowPorts").finish_non_exhaustive()
    }
}

/// A customer message as the runner needs it.
#[derive(Debug, Clone, Copy)]
pub struct CustomerMessage<'a> {
    /// Its id (the wamid): what makes a turn happen once.
    pub id: &'a str,
    /// Its text (body or caption), if any.
    pub text: Option<&'a str>,
    /// A button or list reply's id, if any.
    pub choice_id: Option<&'a str>,
    /// The conversation as the contact center left it after this message.
    pub conversation: &'a ConversationView,
    /// True when this message created the conversation.
    pub new_conversation: bool,
    /// True when this message reopened a resolved conversation.
    pub reopened: bool,
    /// True on the message's first delivery (stored now); false on a redelivery.
    pub first_delivery: bool,
    /// Its `inbound.fifo` message group: a wait's timeout is queued in it
    /// ([`SessionRecord::group`]).
    pub group: Option<&'a str>,
}

/// What the runner did with a message (for logs and tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// No flow runs here (a person works the conversation, nothing published matches, ...).
    Idle,
    /// This message was already processed (a redelivery), or another delivery won the race.
    AlreadyDone,
    /// The contact may get no automated message (restricted, P63, or opted out): nothing started.
    Refused,
    /// A turn ran; the flow goes on (`true`) or ended.
    Ran(bool),
    /// A timeout whose session moved on meanwhile (a message came first, a person took over,
    /// or it already ran): nothing done.
    Stale,
}

/// Errors of [`on_customer_message`]: a store failed (the message is retried).
#[derive(Debug, thiserror::Error)]
pub enum FlowRunError {
    /// A store failed; a retry may succeed.
    #[error("running the flow failed")]
    Unknown(#[from] anyhow::Error),
}

fn unknown(error: impl Into<anyhow::Error>) -> FlowRunError {
    FlowRunError::Unknown(error.into())
}

impl From<FlowStoreError> for FlowRunError {
    fn from(error: FlowStoreError) -> Self {
        unknown(error)
    }
}

/// Whether the bot may talk in `conversation` now: nobody is assigned, and it is with the bot,
/// open for anyone, or (just reopened) back in its queue.
#[must_use]
pub fn bot_may_talk(conversation: &ConversationView, reopened: bool) -> bool {
    conversation.assignee.is_none()
        && match conversation.state {
            ConversationState::Bot | ConversationState::Open => true,
            ConversationState::Queued => reopened,
            ConversationState::Pending | ConversationState::Resolved => false,
        }
}

/// The interpreter's view of the contact and tenant now.
#[must_use]
pub fn context(contact: &ContactView, settings: &TenantSettings, now: Timestamp) -> FlowContext {
    FlowContext {
        now,
        settings: settings.clone(),
        name: contact.name.clone(),
        email: contact.email.clone(),
        attributes: contact.attributes.clone(),
        tags: contact.tags.clone(),
        lead_stage: None,
        window_open: service_window(contact, now).open,
    }
}

/// Runs the flow side of one stored customer message (see the module docs).
///
/// # Errors
/// [`FlowRunError::Unknown`] when a store fails before the session is saved (nothing done; the
/// redelivery runs it). Failures while carrying out actions are logged, not returned: the turn
/// is already recorded and must not run twice.
pub async fn on_customer_message<A: Adapters>(
    ports: &FlowPorts<'_, A>,
    tenant: &TenantId,
    contact: &ContactView,
    (settings, retention): (&TenantSettings, &RetentionSettings),
    message: &CustomerMessage<'_>,
) -> Result<Outcome, FlowRunError> {
    let conversation = message.conversation;
    if !bot_may_talk(conversation, message.reopened) {
        return Ok(Outcome::Idle);
    }
    let record = ports.flows.session(tenant, &conversation.id).await?;
    if record.as_ref().and_then(|r| r.last_message.as_deref()) == Some(message.id) {
        return Ok(Outcome::AlreadyDone);
    }
    // A redelivered message whose first delivery got as far as a session (running or ended) may
    // be older than what the session saw since: never run it (a turn runs at most once).
    if !message.first_delivery && record.is_some() {
        return Ok(Outcome::AlreadyDone);
    }
    let now = ports.center.clock.now();
    let mut ctx = context(contact, settings, now);
    let running = record.as_ref().and_then(|r| r.session.clone());
    let (definition, mut session, mut actions) = match running {
        Some(session) => {
            let Some(definition) = definition_of(ports, tenant, &session.flow).await? else {
                // Deleted since it started: the session ends here.
                let ended = SessionRecord { session: None, ..new_record(record, message, now, retention) };
                return save_then(ports, tenant, &ended, conversation, Vec::new(), message.id).await;
            };
            ctx = with_lead_stage(ports, tenant, contact, &definition, ctx).await;
            (definition, Some(session), Vec::new())
        }
        None => {
            if let Some(reason) = refused(contact) {
                decision(ports, tenant, conversation, message.id, 0, &format!("no flow: {reason}")).await;
                return Ok(Outcome::Refused);
            }
            // Version 0 holds for every message of a conversation nobody changed: it is new only
            // while no flow has run in it yet.
            let message = &CustomerMessage {
                new_conversation: message.new_conversation && record.is_none(),
                ..*message
            };
            let Some((definition, input)) = selected(ports, tenant, settings, message, now).await? else {
                return Ok(Outcome::Idle);
            };
            ctx = with_lead_stage(ports, tenant, contact, &definition, ctx).await;
            let turn = advance(&definition, None, &input, &ctx);
            (definition, turn.session, turn.actions)
        }
    };
    let stored_timeout = record.as_ref().and_then(|r| r.timeout_at);
    let mut timeout_at = stored_timeout;
    if actions.is_empty() {
        // A running session: a due timeout first, then the message.
        if timeout_at.is_some_and(|at| at <= now.as_millis()) {
            let turn = advance(&definition, session.as_ref(), &Input::Timeout, &ctx);
            actions.extend(turn.actions);
            session = turn.session;
            timeout_at = None;
        }
        if let Some(current) = session.clone() {
            let input = Input::Customer {
                text: message.text.map(str::to_owned),
                choice_id: message.choice_id.map(str::to_owned),
            };
            let turn = advance(&definition, Some(&current), &input, &ctx);
            actions.extend(turn.actions);
            session = turn.session;
            timeout_at = None;
        }
    }
    if let Some(at) = timeouts::armed(&actions) {
        timeout_at = Some(at);
    }
    let timeout_at = timeout_at.filter(|_| session.is_some());
    timeouts::arm(ports, tenant, &conversation.id, (stored_timeout, timeout_at)).await?;
    let record =
        SessionRecord { session: session.clone(), timeout_at, ..new_record(record, message, now, retention) };
    save_then(ports, tenant, &record, conversation, actions, message.id).await
}

/// The record to save for this message: the stored one's version, or a new one.
fn new_record(
    stored: Option<SessionRecord>,
    message: &CustomerMessage<'_>,
    now: Timestamp,
    retention: &RetentionSettings,
) -> SessionRecord {
    // The session lives as long as its conversation: retention runs from the last message.
    let lifetime = Duration::from_secs(u64::from(retention.conversation_days) * 86_400);
    let group = message.group.map(str::to_owned).or_else(|| stored.as_ref().and_then(|s| s.group.clone()));
    SessionRecord {
        conversation: message.conversation.id.clone(),
        session: None,
        last_message: Some(message.id.to_owned()),
        timeout_at: None,
        group,
        expires_at: now.plus(lifetime).as_secs(),
        version: stored.map_or(0, |s| s.version),
    }
}

/// Saves the record (the turn is then done, once), then carries out its actions; `turn_id`
/// (the message's wamid, or the timeout's) makes the turn's event ids unique.
async fn save_then<A: Adapters>(
    ports: &FlowPorts<'_, A>,
    tenant: &TenantId,
    record: &SessionRecord,
    conversation: &ConversationView,
    actions: Vec<Action>,
    turn_id: &str,
) -> Result<Outcome, FlowRunError> {
    match ports.flows.save_session(tenant, record).await {
        Ok(_) => {}
        // Another delivery of this message, or an agent taking over, changed it meanwhile.
        Err(FlowStoreError::Conflict) => return Ok(Outcome::AlreadyDone),
        Err(other) => return Err(other.into()),
    }
    perform(ports, tenant, conversation, &actions, turn_id).await;
    Ok(Outcome::Ran(record.session.is_some()))
}

/// Why the bot may not start for `contact`, if it may not.
fn refused(contact: &ContactView) -> Option<&'static str> {
    if contact.restricted_at.is_some() {
        return Some("contact restricted");
    }
    if contact.consent.as_ref().is_some_and(|c| c.state == ConsentKind::OptOut) {
        return Some("contact opted out");
    }
    None
}

/// `ctx` with the lead's stage, when `definition` branches on it
/// ([`FlowDefinition::branches_on_lead_stage`]). A failed read leaves the stage unknown (a
/// `lead_stage` condition then does not hold) and is logged: the turn still runs once.
async fn with_lead_stage<A: Adapters>(
    ports: &FlowPorts<'_, A>,
    tenant: &TenantId,
    contact: &ContactView,
    definition: &FlowDefinition,
    mut ctx: FlowContext,
) -> FlowContext {
    if definition.branches_on_lead_stage() {
        match leads::lead_stage(ports, tenant, contact).await {
            Ok(stage) => ctx.lead_stage = stage,
            Err(error) => tracing::warn!(%error, "Flow condition on the lead's stage sees none"),
        }
    }
    ctx
}

/// The definition of a flow's version, when both still exist.
async fn definition_of<A: Adapters>(
    ports: &FlowPorts<'_, A>,
    tenant: &TenantId,
    flow: &FlowRef,
) -> Result<Option<FlowDefinition>, FlowRunError> {
    let Ok(id) = FlowId::parse(flow.id.clone()) else { return Ok(None) };
    Ok(ports.flows.version(tenant, &id, flow.version).await?.map(|v| v.definition))
}

/// The published flow this message starts, and its start input.
async fn selected<A: Adapters>(
    ports: &FlowPorts<'_, A>,
    tenant: &TenantId,
    settings: &TenantSettings,
    message: &CustomerMessage<'_>,
    now: Timestamp,
) -> Result<Option<(FlowDefinition, Input)>, FlowRunError> {
    let published = published(ports, tenant).await?;
    let candidates: Vec<(FlowRef, &FlowDefinition)> = published.iter().map(|(r, d)| (r.clone(), d)).collect();
    let event = if message.new_conversation {
        TriggerEvent::NewConversation
    } else if message.reopened {
        TriggerEvent::Reopened
    } else {
        TriggerEvent::Message
    };
    let trigger =
        TriggerContext { event, text: message.text.map(str::to_owned), open: settings.is_open(now) };
    let Some((flow, kind)) = select(&candidates, &trigger) else { return Ok(None) };
    let definition = published.into_iter().find(|(r, _)| *r == flow).map(|(_, d)| d);
    Ok(definition.map(|d| (d, Input::Start { flow, trigger: kind })))
}

/// Every published flow of the tenant at its live version.
///
/// # Errors
/// [`FlowRunError::Unknown`].
pub async fn published<A: Adapters>(
    ports: &FlowPorts<'_, A>,
    tenant: &TenantId,
) -> Result<Vec<(FlowRef, FlowDefinition)>, FlowRunError> {
    let mut published = Vec::new();
    for meta in ports.flows.flows(tenant).await? {
        let Some(live) = meta.live else { continue };
        if let Some(version) = ports.flows.version(tenant, &meta.id, live).await? {
            published.push((FlowRef { id: meta.id.as_str().to_owned(), version: live }, version.definition));
        }
    }
    Ok(published)
}

/// Carries out a turn's actions in order. Failures are logged and recorded as decisions: the
/// turn is stored and does not run again.
async fn perform<A: Adapters>(
    ports: &FlowPorts<'_, A>,
    tenant: &TenantId,
    conversation: &ConversationView,
    actions: &[Action],
    message_id: &str,
) {
    let mut sending = true;
    for (n, action) in actions.iter().enumerate() {
        match action {
            Action::Send { body } if sending => {
                if let Err(reason) = send(ports, tenant, conversation, body).await {
                    // The policy's refusal applies to every later message of the turn too.
                    sending = false;
                    decision(ports, tenant, conversation, message_id, n, &format!("not sent: {reason}"))
                        .await;
                } else {
                    let event = bot_event(
                        conversation,
                        EventKind::BotMessage,
                        message_id,
                        n,
                        ports.center.clock.now(),
                    );
                    record(ports, tenant, &event).await;
                }
            }
            Action::Send { .. } => {}
            Action::SetContactField { field, value } => {
                let patch = match field {
                    ContactField::Name => {
                        ContactPatch { name: Some(Some(value.clone())), ..ContactPatch::default() }
                    }
                    ContactField::Email => ContactPatch {
                        email: Some(Some(value.trim().to_lowercase())),
                        ..ContactPatch::default()
                    },
                };
                patch_contact(ports, tenant, conversation, patch, (message_id, n)).await;
            }
            Action::SetAttribute { name, value } => {
                let mut attributes = current_contact(ports, tenant, conversation).await.map(|c| c.attributes);
                if let Some(map) = attributes.as_mut() {
                    map.insert(name.clone(), value.clone());
                }
                let patch = ContactPatch { attributes, ..ContactPatch::default() };
                patch_contact(ports, tenant, conversation, patch, (message_id, n)).await;
            }
            Action::AddTags { tags } => {
                let current = current_contact(ports, tenant, conversation).await.map(|c| c.tags);
                let merged = current.map(|mut all| {
                    let have: BTreeSet<String> = all.iter().cloned().collect();
                    all.extend(tags.iter().filter(|t| !have.contains(*t)).cloned());
                    all
                });
                let patch = ContactPatch { tags: merged, ..ContactPatch::default() };
                patch_contact(ports, tenant, conversation, patch, (message_id, n)).await;
            }
            Action::SetLeadField { field, value } => {
                let stored = match current_contact(ports, tenant, conversation).await {
                    Some(contact) => leads::set_lead_field(ports, tenant, &contact, (*field, value)).await,
                    None => Err("no contact".to_owned()),
                };
                if let Err(reason) = stored {
                    tracing::warn!(%reason, "The flow's lead field was not stored");
                    decision(
                        ports,
                        tenant,
                        conversation,
                        message_id,
                        n,
                        &format!("lead not updated: {reason}"),
                    )
                    .await;
                }
            }
            Action::Route { queue } | Action::Handoff { queue: Some(queue) } => {
                let change = Change { queue: Some(Some(queue.clone())), ..Change::default() };
                let current = ports.center.conversations;
                let fresh =
                    crate::domain::inbox::ConversationStore::conversation(current, tenant, &conversation.id)
                        .await
                        .ok()
                        .flatten()
                        .unwrap_or_else(|| conversation.clone());
                if let Err(error) = center::apply(&ports.center, tenant, &fresh, &change).await {
                    tracing::warn!(error = %error, "The flow's routing was refused");
                    decision(ports, tenant, conversation, message_id, n, &format!("route refused: {error}"))
                        .await;
                }
            }
            Action::Handoff { queue: None } => {
                // Open with nobody: the team sees it; the bot says nothing more.
                decision(ports, tenant, conversation, message_id, n, "handed to a person").await;
            }
            Action::Decision { step, detail } => {
                decision(ports, tenant, conversation, message_id, n, &format!("{step}: {detail}")).await;
            }
            Action::ArmTimeout { .. } => {}
        }
    }
}

/// The contact as stored now (actions change it one after another).
async fn current_contact<A: Adapters>(
    ports: &FlowPorts<'_, A>,
    tenant: &TenantId,
    conversation: &ConversationView,
) -> Option<ContactView> {
    ports.outbound.contacts.contact(tenant, &conversation.contact_id).await.ok().flatten()
}

async fn patch_contact<A: Adapters>(
    ports: &FlowPorts<'_, A>,
    tenant: &TenantId,
    conversation: &ConversationView,
    patch: ContactPatch,
    (message_id, n): (&str, usize),
) {
    let at = ports.center.clock.now();
    if let Err(error) =
        ports.outbound.contacts.update_contact(tenant, &conversation.contact_id, &patch, at).await
    {
        tracing::warn!(error = %error, "The flow's contact update was refused");
        decision(ports, tenant, conversation, message_id, n, &format!("contact not updated: {error}")).await;
    }
}

/// Submits one of the bot's messages to the conversation's contact, as the API would.
async fn send<A: Adapters>(
    ports: &FlowPorts<'_, A>,
    tenant: &TenantId,
    conversation: &ConversationView,
    body: &Value,
) -> Result<(), String> {
    let contact = current_contact(ports, tenant, conversation).await.ok_or("no contact")?;
    let phone = contact.phone.ok_or("the contact has no phone number")?;
    let mut body = body.clone();
    let Some(object) = body.as_object_mut() else { return Err("the body is not an object".to_owned()) };
    object.insert("to".to_owned(), Value::String(phone));
    let body = OutboundBody::parse(&body).map_err(|e| format!("invalid message: {}", e.field))?;
    let submission = Submission { tenant, body: &body, scope: None, id: None };
    match outbound::submit(&ports.outbound, &submission).await {
        Ok(_) => Ok(()),
        Err(SubmitError::Policy(refusal)) => Err(format!("refused by the sending policy ({refusal:?})")),
        Err(other) => Err(other.to_string()),
    }
}

fn bot_event(
    conversation: &ConversationView,
    kind: EventKind,
    message_id: &str,
    n: usize,
    at: Timestamp,
) -> CenterEvent {
    let kind_name = match kind {
        EventKind::BotMessage => "bot_message",
        _ => "bot_decision",
    };
    CenterEvent {
        // Unique per turn and action (a turn runs once): a retried record is kept once.
        id: format!("{}#{kind_name}#{message_id}#{n}", conversation.id),
        kind,
        conversation_id: Some(conversation.id.clone()),
        at: at.as_millis(),
        queue: conversation.queue.clone(),
        agent: None,
        duration_ms: None,
        target_ms: None,
        by_system: true,
    }
}

/// A decision of the bot: an event in the contact center's log, and a log line with its detail
/// (which holds step ids and reasons, never customer text).
async fn decision<A: Adapters>(
    ports: &FlowPorts<'_, A>,
    tenant: &TenantId,
    conversation: &ConversationView,
    message_id: &str,
    n: usize,
    detail: &str,
) {
    tracing::info!(conversation_id = %conversation.id, %detail, "Flow decision");
    let event = bot_event(conversation, EventKind::BotDecision, message_id, n, ports.center.clock.now());
    record(ports, tenant, &event).await;
}

async fn record<A: Adapters>(ports: &FlowPorts<'_, A>, tenant: &TenantId, event: &CenterEvent) {
    if let Err(error) = ports.center.events.record(tenant, event).await {
        tracing::error!(error = format!("{error:#}"), kind = ?event.kind, "Flow event not recorded");
    }
    crate::app::live::notify_event(ports.center.live, tenant, event).await;
}

/// A person took the conversation over (an agent wrote in it, a manager assigned or routed it):
/// its running flow ends at once, and the decision is logged (`reason` names who, never what).
/// Failures are logged: the person's action stands.
pub async fn take_over<A: Adapters>(
    flows: &A::Flows,
    ports: &CenterPorts<'_, A>,
    tenant: &TenantId,
    conversation: &crate::domain::ConversationId,
    reason: &str,
) {
    match flows.end_session(tenant, conversation).await {
        Ok(true) => {
            tracing::info!(conversation_id = %conversation, %reason, "Flow stopped: a person took over");
            let at = ports.clock.now();
            let event = CenterEvent {
                id: format!("{conversation}#bot_stopped#{}", at.as_millis()),
                kind: EventKind::BotDecision,
                conversation_id: Some(conversation.clone()),
                at: at.as_millis(),
                queue: None,
                agent: None,
                duration_ms: None,
                target_ms: None,
                by_system: false,
            };
            if let Err(error) = ports.events.record(tenant, &event).await {
                tracing::error!(error = format!("{error:#}"), "Flow event not recorded");
            }
        }
        Ok(false) => {}
        Err(error) => tracing::error!(error = format!("{error:#}"), "The running flow could not be stopped"),
    }
}
