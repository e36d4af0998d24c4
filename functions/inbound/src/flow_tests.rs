//! Chatbot flows in the pipeline on in-memory adapters (P40, P63): the welcome flow's menu once
//! per message however often it arrives, a choice typed and routed, no bot for a person who
//! opts out (a restricted one: `it::flows`), and none once a person took over.

use shared::app::flows::take_over;
use shared::domain::center::{EventKind, EventLog as _, Queue, QueueStore as _, Strategy};
use shared::domain::flows::{welcome_flow, FlowDefinition};
use shared::domain::flows_store::{FlowMeta, FlowStore as _};
use shared::domain::inbox::ConversationState;
use shared::domain::outbound::SendJob;
use shared::domain::{FlowId, QueueId};

use super::*;
use crate::tests::{fake_deps, record, text, FakeDeps};

const CUSTOMER: &str = "5511988887777";

/// The tenant's `Sales` and `Support` queues and the welcome flow published with them.
async fn welcome(deps: &FakeDeps, tenant: &TenantId, now: Timestamp) -> (QueueId, QueueId) {
    let mut ids = Vec::new();
    for name in ["Sales", "Support"] {
        let queue = Queue {
            id: QueueId::generate(now).unwrap(),
            name: name.into(),
            strategy: Strategy::RoundRobin,
            first_response_target_seconds: None,
            last_assigned: None,
            created_at: now.as_millis(),
            version: 1,
        };
        deps.queues.create_queue(tenant, &queue).await.unwrap();
        ids.push(queue.id);
    }
    publish(deps, tenant, now, welcome_flow(ids[0].as_str(), ids[1].as_str()).unwrap()).await;
    (ids[0].clone(), ids[1].clone())
}

/// Publishes `definition` as the tenant's live flow (its version 1).
pub(crate) async fn publish(deps: &FakeDeps, tenant: &TenantId, now: Timestamp, definition: FlowDefinition) {
    let meta = FlowMeta {
        id: FlowId::generate(now).unwrap(),
        name: definition.name.clone(),
        latest: 1,
        live: None,
        created_at: now.as_millis(),
        updated_at: now.as_millis(),
        version: 1,
    };
    let created = deps.flows.create_flow(tenant, &meta, &definition).await.unwrap();
    deps.flows.set_live(tenant, &meta.id, created.version, Some(1), now).await.unwrap();
}

/// The message bodies submitted to `outbound.fifo`, as stored.
pub(crate) async fn sent(deps: &FakeDeps, tenant: &TenantId) -> Vec<serde_json::Value> {
    use shared::domain::inbox::OutboundStore as _;
    let mut bodies = Vec::new();
    for message in deps.outbound.sent() {
        let job: SendJob = serde_json::from_str(&message.body).unwrap();
        let stored = deps.outbox.outbound(tenant, &job.message_id).await.unwrap().unwrap();
        bodies.push(stored.payload.unwrap());
    }
    bodies
}

pub(crate) async fn conversation_of(
    deps: &FakeDeps,
    tenant: &TenantId,
) -> shared::domain::inbox::ConversationView {
    let phone = PhoneNumber::parse(CUSTOMER).unwrap();
    let contact = deps.contacts.contact_by_phone(tenant, &phone).await.unwrap().unwrap();
    let id = contact.conversation_id.unwrap();
    deps.conversations.conversation(tenant, &id).await.unwrap().unwrap()
}

#[tokio::test]
async fn a_new_customer_gets_the_menu_once_however_often_the_message_arrives() {
    // Arrange
    let now = Timestamp::from_secs(1_800_000_000);
    let (deps, tenant) = fake_deps(now).await;
    welcome(&deps, &tenant, now).await;

    // Act: the first message, delivered three times.
    for _ in 0..3 {
        let response = handle(record(&text("wamid.IN1", "hi")), &deps).await.unwrap();
        assert!(response.batch_item_failures.is_empty());
    }

    // Assert: one menu, Sales and Support; the session waits at the menu.
    let bodies = sent(&deps, &tenant).await;
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    assert_eq!(bodies[0]["type"], "interactive");
    let titles: Vec<&str> = bodies[0]["interactive"]["action"]["buttons"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|b| b["reply"]["title"].as_str())
        .collect();
    assert_eq!(titles, ["Sales", "Support"]);
    let conversation = conversation_of(&deps, &tenant).await;
    let session = deps.flows.session(&tenant, &conversation.id).await.unwrap().unwrap();
    assert_eq!(session.session.map(|s| s.step).as_deref(), Some("menu"));
    assert_eq!(session.last_message.as_deref(), Some("wamid.IN1"));
}

#[tokio::test]
async fn a_typed_choice_routes_the_conversation_and_ends_the_flow() {
    // Arrange: the customer has the menu.
    let now = Timestamp::from_secs(1_800_000_000);
    let (deps, tenant) = fake_deps(now).await;
    let (_, support) = welcome(&deps, &tenant, now).await;
    handle(record(&text("wamid.IN1", "hi")), &deps).await.unwrap();

    // Act
    handle(record(&text("wamid.IN2", "support")), &deps).await.unwrap();
    handle(record(&text("wamid.IN2", "support")), &deps).await.unwrap();

    // Assert: routed to Support (waiting: nobody is online), the flow ended, its events logged.
    let conversation = conversation_of(&deps, &tenant).await;
    assert_eq!(
        (conversation.state, conversation.queue.as_ref()),
        (ConversationState::Queued, Some(&support))
    );
    let session = deps.flows.session(&tenant, &conversation.id).await.unwrap().unwrap();
    assert!(session.session.is_none(), "{session:?}");
    let bodies = sent(&deps, &tenant).await;
    assert_eq!(bodies.len(), 2, "the menu and the routing text: {bodies:?}");
    let events = deps.events.events(&tenant, (0, i64::MAX), None, 100).await.unwrap().items;
    let bot_messages = events.iter().filter(|e| e.kind == EventKind::BotMessage).count();
    assert_eq!(bot_messages, 2);
    assert!(events.iter().any(|e| e.kind == EventKind::BotDecision));
}

#[tokio::test]
async fn a_person_who_opts_out_gets_no_bot() {
    // Arrange
    let now = Timestamp::from_secs(1_800_000_000);
    let (deps, tenant) = fake_deps(now).await;
    welcome(&deps, &tenant, now).await;

    // Act: "STOP" as the first message (recorded before the flow would run).
    handle(record(&text("wamid.STOP", "STOP")), &deps).await.unwrap();

    // Assert: nothing sent; the refusal logged as a decision.
    assert!(sent(&deps, &tenant).await.is_empty());
    let events = deps.events.events(&tenant, (0, i64::MAX), None, 100).await.unwrap().items;
    assert!(events.iter().any(|e| e.kind == EventKind::BotDecision), "{events:?}");
    let conversation = conversation_of(&deps, &tenant).await;
    assert!(deps.flows.session(&tenant, &conversation.id).await.unwrap().is_none());
}

#[tokio::test]
async fn a_person_taking_over_stops_the_flow_at_once() {
    // Arrange: the customer has the menu; an agent writes (the API calls `take_over`).
    let now = Timestamp::from_secs(1_800_000_000);
    let (deps, tenant) = fake_deps(now).await;
    welcome(&deps, &tenant, now).await;
    handle(record(&text("wamid.IN1", "hi")), &deps).await.unwrap();
    let conversation = conversation_of(&deps, &tenant).await;
    take_over(&deps.flows, &deps.center_ports(), &tenant, &conversation.id, "an agent wrote").await;

    // Act
    handle(record(&text("wamid.IN2", "sales")), &deps).await.unwrap();

    // Assert: only the menu; not routed; the contact untouched.
    assert_eq!(sent(&deps, &tenant).await.len(), 1);
    let after = conversation_of(&deps, &tenant).await;
    assert_eq!((after.state, after.queue), (ConversationState::Open, None));
}
