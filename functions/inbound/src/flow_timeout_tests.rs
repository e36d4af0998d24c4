//! Chatbot flows' wait timeouts and lead fields in the pipeline on in-memory adapters (P40): a
//! wait times out with no customer message (the timers sweep hands it over, inbound runs it
//! once), a reply that came first makes the timer a no-op, and an answer stored in a lead field
//! lands on the contact's lead (created when there is none, the open one otherwise).

use std::time::Duration;

use aws_lambda_events::event::sqs::SqsEvent;
use shared::app::center::timers::{sweep, FlowTimers, Sweep};
use shared::app::flows::CHATBOT_ORIGIN;
use shared::domain::center::{TimerKind, TimerStore as _};
use shared::domain::flows::parse_definition;
use shared::domain::flows_store::FlowStore as _;
use shared::domain::inbox::{
    ContactProfile, LeadFilter, LeadOrigin, LeadStage, LeadStore as _, NewManualLead,
};
use shared::domain::ports::QueueMessage;
use shared::testing::MemoryQueue;

use super::*;
use crate::flow_tests::{self, conversation_of, sent};
use crate::tests::{fake_deps, record, text, FakeDeps};

/// The group the webhook gives the customer's events (any opaque text will do here).
const GROUP: &str = "group-of-the-customer";

/// Publishes `definition` (JSON) as the tenant's live flow.
async fn publish(deps: &FakeDeps, tenant: &TenantId, now: Timestamp, definition: &serde_json::Value) {
    flow_tests::publish(deps, tenant, now, parse_definition(definition).unwrap()).await;
}

/// Hello, then a one-minute wait: a reply thanks, the timeout says goodbye.
fn waiting_flow() -> serde_json::Value {
    serde_json::json!({"name": "Wait", "triggers": [{"type": "new_conversation"}], "start": "hello",
        "steps": {
            "hello": {"type": "message", "text": "Are you there?", "next": "wait"},
            "wait": {"type": "wait", "timeout_minutes": 1, "next": "thanks", "on_timeout": "bye"},
            "thanks": {"type": "end", "text": "Thanks for answering"},
            "bye": {"type": "end", "text": "We will write again later"}}})
}

/// The customer's messages, delivered in their group (as the webhook queues them).
fn in_group(envelope: &serde_json::Value) -> LambdaEvent<SqsEvent> {
    let mut event = record(envelope);
    event.payload.records[0].attributes.insert("MessageGroupId".into(), GROUP.into());
    event
}

/// `messages` as `inbound.fifo` delivers them.
fn delivered(messages: &[QueueMessage]) -> LambdaEvent<SqsEvent> {
    let records: Vec<serde_json::Value> = messages
        .iter()
        .enumerate()
        .map(|(n, m)| {
            serde_json::json!({"messageId": format!("t{n}"), "body": m.body,
                "attributes": {"ApproximateReceiveCount": "1",
                    "MessageGroupId": m.group_id.clone().unwrap_or_default()},
                "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:1:inbound.fifo"})
        })
        .collect();
    let event: SqsEvent = serde_json::from_value(serde_json::json!({ "Records": records })).unwrap();
    LambdaEvent::new(event, lambda_runtime::Context::default())
}

/// Runs the timers sweep at the clock's time; what it queued on `inbound.fifo`.
async fn sweep_now(deps: &FakeDeps) -> Vec<QueueMessage> {
    let inbound = MemoryQueue::default();
    let flows = FlowTimers::<shared::testing::Fakes> { flows: &deps.flows, inbound: &inbound };
    let run = Sweep { as_of: deps.clock.now(), move_cursor: true, only: None };
    sweep(&deps.center_ports(), (&deps.timers, &deps.tenants, &flows), &run, || true).await.unwrap();
    inbound.sent()
}

fn texts(bodies: &[serde_json::Value]) -> Vec<String> {
    bodies.iter().filter_map(|b| b["text"]["body"].as_str().map(str::to_owned)).collect()
}

#[tokio::test]
async fn a_wait_times_out_without_a_customer_message_once() {
    // Arrange: the customer wrote, got the question, and the session waits with its timer armed.
    let now = Timestamp::from_secs(1_800_000_000);
    let (deps, tenant) = fake_deps(now).await;
    publish(&deps, &tenant, now, &waiting_flow()).await;
    handle(in_group(&text("wamid.IN1", "hi")), &deps).await.unwrap();
    let conversation = conversation_of(&deps, &tenant).await;
    let stored = deps.flows.session(&tenant, &conversation.id).await.unwrap().unwrap();
    let due = stored.timeout_at.unwrap();
    assert_eq!(due, now.as_millis() + 60_000);
    assert_eq!(stored.group.as_deref(), Some(GROUP));
    let armed = deps.timers.due_timers(due.div_euclid(60_000), 10).await.unwrap();
    assert!(armed.iter().any(|t| t.kind == TimerKind::FlowTimeout && t.due == due), "{armed:?}");
    assert!(sweep_now(&deps).await.is_empty(), "nothing is due yet");

    // Act: two minutes of silence; the sweep hands the timeout over, delivered twice.
    deps.clock.advance(Duration::from_secs(120));
    let queued = sweep_now(&deps).await;
    let first = handle(delivered(&queued), &deps).await.unwrap();
    let second = handle(delivered(&queued), &deps).await.unwrap();

    // Assert: one timeout message, in the customer's group; the flow ended; the timer is gone.
    assert_eq!(queued.len(), 1, "{queued:?}");
    assert_eq!(queued[0].group_id.as_deref(), Some(GROUP));
    assert!(queued[0].body.contains(r#""flow_timeout""#), "{}", queued[0].body);
    assert!(first.batch_item_failures.is_empty() && second.batch_item_failures.is_empty());
    assert_eq!(texts(&sent(&deps, &tenant).await), ["Are you there?", "We will write again later"]);
    let after = deps.flows.session(&tenant, &conversation.id).await.unwrap().unwrap();
    assert!(after.session.is_none(), "{after:?}");
    assert_eq!(after.last_message.as_deref(), Some("wamid.IN1"), "the last message stays named");
    assert!(sweep_now(&deps).await.is_empty(), "fired once");
}

#[tokio::test]
async fn a_reply_before_the_timeout_makes_the_timer_a_no_op() {
    // Arrange: the customer wrote and the session waits; the timeout's event is taken as it
    // would have been queued then (a stale copy).
    let now = Timestamp::from_secs(1_800_000_000);
    let (deps, tenant) = fake_deps(now).await;
    publish(&deps, &tenant, now, &waiting_flow()).await;
    handle(in_group(&text("wamid.IN1", "hi")), &deps).await.unwrap();
    let conversation = conversation_of(&deps, &tenant).await;
    let stored = deps.flows.session(&tenant, &conversation.id).await.unwrap().unwrap();
    let stale = serde_json::json!({"v": 1, "event": {"flow_timeout": {
        "tenant_id": tenant.as_str(), "conversation_id": conversation.id.as_str(),
        "session_version": stored.version, "due": stored.timeout_at.unwrap()}}});

    // Act: the customer answers within the minute; then the timer's time comes.
    deps.clock.advance(Duration::from_secs(30));
    handle(in_group(&text("wamid.IN2", "yes")), &deps).await.unwrap();
    deps.clock.advance(Duration::from_secs(90));
    let queued = sweep_now(&deps).await;
    let response = handle(record(&stale), &deps).await.unwrap();

    // Assert: the reply's branch only; the sweep queued nothing; the stale event did nothing.
    assert!(queued.is_empty(), "{queued:?}");
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(texts(&sent(&deps, &tenant).await), ["Are you there?", "Thanks for answering"]);
}

/// Asks for the lead's stage (one of two) and stores it on the lead.
fn stage_flow() -> serde_json::Value {
    serde_json::json!({"name": "Qualify", "triggers": [{"type": "new_conversation"}], "start": "stage",
        "steps": {
            "stage": {"type": "ask", "text": "Ready to buy? (qualified / lost)",
                "validate": {"kind": "options", "options": ["qualified", "lost"]},
                "store": {"lead": "stage"}, "next": "done"},
            "done": {"type": "end", "text": "Noted"}}})
}

#[tokio::test]
async fn an_answer_stored_in_a_lead_field_creates_the_contacts_lead_when_it_has_none() {
    // Arrange
    let now = Timestamp::from_secs(1_800_000_000);
    let (deps, tenant) = fake_deps(now).await;
    publish(&deps, &tenant, now, &stage_flow()).await;
    handle(record(&text("wamid.IN1", "hi")), &deps).await.unwrap();

    // Act
    handle(record(&text("wamid.IN2", "Qualified")), &deps).await.unwrap();

    // Assert: one lead of the contact, qualified, marked as the bot's.
    let conversation = conversation_of(&deps, &tenant).await;
    let filter = LeadFilter { contact: Some(conversation.contact_id.clone()), ..LeadFilter::default() };
    let leads = deps.leads.leads(&tenant, &filter, None, 10).await.unwrap().items;
    assert_eq!(leads.len(), 1, "{leads:?}");
    assert_eq!(leads[0].stage, LeadStage::Qualified);
    assert_eq!(leads[0].origin.form.as_deref(), Some(CHATBOT_ORIGIN));
    assert_eq!(texts(&sent(&deps, &tenant).await).last().map(String::as_str), Some("Noted"));
}

#[tokio::test]
async fn an_answer_stored_in_a_lead_field_goes_to_the_contacts_open_lead() {
    // Arrange: the contact has a won lead and, later, an open one.
    let now = Timestamp::from_secs(1_800_000_000);
    let (deps, tenant) = fake_deps(now).await;
    publish(&deps, &tenant, now, &stage_flow()).await;
    let person = ContactProfile {
        phone: Some(PhoneNumber::parse("5511988887777").unwrap()),
        user_id: None,
        email: None,
        name: None,
    };
    let origin = LeadOrigin { campaign: Some("spring".into()), ..LeadOrigin::default() };
    for (id, stage, at) in
        [("ld_won", LeadStage::Won, now), ("ld_open", LeadStage::Contacted, now.plus(Duration::from_secs(1)))]
    {
        let lead = NewManualLead { id, contact: &person, stage, owner: None, origin: &origin, at };
        deps.leads.create_lead(&tenant, &lead).await.unwrap();
    }
    handle(record(&text("wamid.IN1", "hi")), &deps).await.unwrap();

    // Act
    handle(record(&text("wamid.IN2", "qualified")), &deps).await.unwrap();

    // Assert: the open lead moved on, keeping its origin; the won one and the count unchanged.
    let open = deps.leads.lead(&tenant, "ld_open").await.unwrap().unwrap();
    assert_eq!((open.stage, open.origin.campaign.as_deref()), (LeadStage::Qualified, Some("spring")));
    assert_eq!(deps.leads.lead(&tenant, "ld_won").await.unwrap().unwrap().stage, LeadStage::Won);
    let filter = LeadFilter { contact: Some(open.contact_id.clone()), ..LeadFilter::default() };
    assert_eq!(deps.leads.leads(&tenant, &filter, None, 10).await.unwrap().items.len(), 2);
}

#[tokio::test]
async fn a_condition_on_the_leads_stage_sees_the_contacts_lead() {
    // Arrange: a flow greeting customers whose deal is won apart; one customer has a won lead.
    let now = Timestamp::from_secs(1_800_000_000);
    let (deps, tenant) = fake_deps(now).await;
    let flow = serde_json::json!({"name": "Greet", "triggers": [{"type": "new_conversation"}],
        "start": "check", "steps": {
            "check": {"type": "condition", "when": {"kind": "lead_stage", "stages": ["won"]},
                "then": "customer", "else": "prospect"},
            "customer": {"type": "end", "text": "Welcome back"},
            "prospect": {"type": "end", "text": "Hello"}}});
    publish(&deps, &tenant, now, &flow).await;
    let person = ContactProfile {
        phone: Some(PhoneNumber::parse("5511988887777").unwrap()),
        user_id: None,
        email: None,
        name: None,
    };
    let lead = NewManualLead {
        id: "ld_won",
        contact: &person,
        stage: LeadStage::Won,
        owner: None,
        origin: &LeadOrigin::default(),
        at: now,
    };
    deps.leads.create_lead(&tenant, &lead).await.unwrap();

    // Act: the customer with the won lead writes, then one without a lead.
    handle(record(&text("wamid.WON1", "hi")), &deps).await.unwrap();
    let mut stranger = text("wamid.NEW1", "hi");
    stranger["event"]["message"]["message"]["from"] = "5511977776666".into();
    handle(record(&stranger), &deps).await.unwrap();

    // Assert
    assert_eq!(texts(&sent(&deps, &tenant).await), ["Welcome back", "Hello"]);
}
