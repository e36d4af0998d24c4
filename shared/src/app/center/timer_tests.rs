//! The timers sweep on the in-memory stores with a clock the test moves: a snooze wakes at its
//! time (once), auto-resolve resolves after the tenant's silence and frees the agent's slot,
//! activity postpones it, and the cursor moves only with the real clock.

use std::time::Duration;

use super::timers::{quiet_since, sweep, FlowTimers, Sweep, SweepReport};
use super::*;
use crate::adapters::documents::{DocDirectory, DocEventLog, DocFlows, DocQueues};
use crate::domain::center::{EventKind, Timer, TimerKind, TimerStore, IDLE_CHECK_AFTER_MS};
use crate::domain::inbox::{ContactStore, IngestStore};
use crate::domain::ports::{TenantStore, TenantUpdate};
use crate::domain::secret::Sealed;
use crate::domain::tenant::{ApiKey, Role, Tenant, TenantSettings};
use crate::testing::contract::{inbound, person, phone, wamid};
use crate::testing::{Fakes, ManualClock, MemoryDocs, MemoryInbox, MemoryQueue, MemoryTenantStore};

const START_MS: i64 = 1_900_000_000_000;

struct World {
    inbox: MemoryInbox,
    queues: DocQueues<MemoryDocs>,
    directory: DocDirectory<MemoryDocs>,
    events: DocEventLog<MemoryDocs>,
    live: crate::adapters::live::QueueLiveFeed<MemoryQueue>,
    flows: DocFlows<MemoryDocs>,
    inbound: MemoryQueue,
    tenants: MemoryTenantStore,
    clock: ManualClock,
    tenant: TenantId,
}

impl World {
    async fn new(auto_resolve_after_minutes: Option<u32>) -> Self {
        let clock = ManualClock::at(Timestamp::from_millis(START_MS));
        let tenant = TenantId::generate(clock.now()).unwrap();
        let tenants = MemoryTenantStore::default();
        let sealed = Sealed { wrapped_key: vec![1], nonce: [0; 12], ciphertext: vec![2; 20] };
        let record = Tenant::new(tenant.clone(), "Acme".into(), clock.now(), sealed);
        let key = ApiKey::generate(tenant.clone(), clock.now()).unwrap();
        tenants.create_tenant(&record, &key.record("admin", Role::Admin, clock.now())).await.unwrap();
        let settings = TenantSettings { auto_resolve_after_minutes, ..TenantSettings::default() };
        let update = TenantUpdate::Profile { name: "Acme".into(), settings };
        tenants.update_tenant(&tenant, &update).await.unwrap();
        Self {
            inbox: MemoryInbox::default(),
            queues: DocQueues::new(MemoryDocs::default()),
            directory: DocDirectory::new(MemoryDocs::default()),
            events: DocEventLog::new(MemoryDocs::default()),
            live: crate::adapters::live::QueueLiveFeed::new(MemoryQueue::default()),
            flows: DocFlows::new(MemoryDocs::default()),
            inbound: MemoryQueue::default(),
            tenants,
            clock,
            tenant,
        }
    }

    fn flow_timers(&self) -> FlowTimers<'_, Fakes> {
        FlowTimers { flows: &self.flows, inbound: &self.inbound }
    }

    fn ports(&self) -> CenterPorts<'_, Fakes> {
        CenterPorts {
            conversations: &self.inbox,
            agents: &self.inbox,
            queues: &self.queues,
            directory: &self.directory,
            events: &self.events,
            live: &self.live,
            clock: &self.clock,
        }
    }

    /// A customer message (`n` makes it unique) at the clock's time; the conversation.
    async fn customer_writes(&self, n: u32) -> ConversationView {
        let from = person("5511900000001", "Ana");
        let id = wamid(&format!("wamid.timers.{n}"));
        let secs = self.clock.now().as_millis() / 1000;
        self.inbox
            .store_inbound_message(&self.tenant, &inbound(&id, &from, secs), self.clock.now())
            .await
            .unwrap();
        let contact =
            self.inbox.contact_by_phone(&self.tenant, &phone("5511900000001")).await.unwrap().unwrap();
        self.conversation(&contact.conversation_id.unwrap()).await
    }

    async fn conversation(&self, id: &ConversationId) -> ConversationView {
        self.inbox.conversation(&self.tenant, id).await.unwrap().unwrap()
    }

    async fn change(&self, id: &ConversationId, patch: ConversationPatch) -> ConversationView {
        self.inbox.update_conversation(&self.tenant, id, &patch, self.clock.now()).await.unwrap()
    }

    async fn sweep_now(&self) -> SweepReport {
        let run = Sweep { as_of: self.clock.now(), move_cursor: true, only: None };
        sweep(&self.ports(), (&self.inbox, &self.tenants, &self.flow_timers()), &run, || true).await.unwrap()
    }

    fn advance_minutes(&self, minutes: u64) {
        self.clock.advance(Duration::from_secs(60 * minutes));
    }

    async fn events(&self, kind: EventKind) -> Vec<CenterEvent> {
        let page = self.events.events(&self.tenant, (0, i64::MAX), None, 500).await.unwrap();
        page.items.into_iter().filter(|e| e.kind == kind).collect()
    }
}

fn agent() -> UserId {
    UserId::parse("usr_ana").unwrap()
}

fn assign() -> ConversationPatch {
    ConversationPatch {
        state: Some(ConversationState::Open),
        assignee: Some(Some(agent())),
        ..ConversationPatch::default()
    }
}

#[tokio::test]
async fn a_snooze_wakes_when_its_time_comes_once_with_a_system_event() {
    // Arrange
    let world = World::new(None).await;
    let conversation = world.customer_writes(1).await;
    let until = START_MS + 90_000;
    let snooze = ConversationPatch {
        state: Some(ConversationState::Pending),
        snoozed_until: Some(Some(until)),
        ..ConversationPatch::default()
    };
    world.change(&conversation.id, snooze).await;

    // Act
    let early = world.sweep_now().await;
    let still_snoozed = world.conversation(&conversation.id).await;
    world.advance_minutes(2);
    let due = world.sweep_now().await;
    let again = world.sweep_now().await;

    // Assert
    assert_eq!(early.woken, 0);
    assert_eq!(still_snoozed.state, ConversationState::Pending);
    assert_eq!(due.woken, 1);
    assert_eq!(again.woken, 0, "a timer fires once");
    let woken = world.conversation(&conversation.id).await;
    assert_eq!((woken.state, woken.snoozed_until), (ConversationState::Open, None));
    let events = world.events(EventKind::Woken).await;
    assert_eq!(events.len(), 1);
    assert!(events[0].by_system);
    let notices: Vec<crate::domain::live::LiveNotice> =
        world.live.queue().sent().iter().map(|m| serde_json::from_str(&m.body).unwrap()).collect();
    let woken_notices = notices
        .iter()
        .filter(|n| n.kind == crate::domain::live::LiveKind::State && n.conversation_id == conversation.id)
        .count();
    assert_eq!(woken_notices, 1, "the console hears of it once");
}

#[tokio::test]
async fn a_snooze_moved_later_is_not_woken_by_its_old_time() {
    // Arrange
    let world = World::new(None).await;
    let conversation = world.customer_writes(1).await;
    let snooze = |until| ConversationPatch {
        state: Some(ConversationState::Pending),
        snoozed_until: Some(Some(until)),
        ..ConversationPatch::default()
    };
    world.change(&conversation.id, snooze(START_MS + 60_000)).await;
    world.change(&conversation.id, snooze(START_MS + 3_600_000)).await;

    // Act
    world.advance_minutes(3);
    let report = world.sweep_now().await;

    // Assert
    assert_eq!((report.woken, report.dropped), (0, 1), "the old time's timer is dropped");
    assert_eq!(world.conversation(&conversation.id).await.state, ConversationState::Pending);
}

#[tokio::test]
async fn silence_resolves_as_the_system_and_frees_the_agent() {
    // Arrange
    let world = World::new(Some(30)).await;
    let conversation = world.customer_writes(1).await;
    world.change(&conversation.id, assign()).await;

    // Act
    world.advance_minutes(6);
    let first_check = world.sweep_now().await;
    world.advance_minutes(20);
    let too_early = world.sweep_now().await;
    world.advance_minutes(5);
    let due = world.sweep_now().await;

    // Assert
    assert_eq!((first_check.rearmed, first_check.resolved), (1, 0), "re-armed for the tenant's silence");
    assert_eq!(too_early.resolved, 0);
    assert_eq!(due.resolved, 1);
    let resolved = world.conversation(&conversation.id).await;
    assert_eq!(resolved.state, ConversationState::Resolved);
    assert_eq!(world.inbox.agent(&world.tenant, &agent()).await.unwrap().load, 0, "the slot is freed");
    let events = world.events(EventKind::Resolved).await;
    assert_eq!(events.len(), 1);
    assert!(events[0].by_system);
    assert_eq!(events[0].agent.as_ref(), Some(&agent()), "still the agent's resolution");
}

#[tokio::test]
async fn a_message_postpones_auto_resolve_and_a_new_one_reopens() {
    // Arrange
    let world = World::new(Some(10)).await;
    let conversation = world.customer_writes(1).await;
    world.change(&conversation.id, assign()).await;
    world.advance_minutes(8);
    world.customer_writes(2).await;

    // Act
    world.advance_minutes(4);
    let postponed = world.sweep_now().await;
    let quiet = quiet_since(&world.conversation(&conversation.id).await);
    world.advance_minutes(7);
    let resolved = world.sweep_now().await;
    let after = world.conversation(&conversation.id).await;
    let reopened = customer_wrote(&world.ports(), &world.tenant, &after).await.unwrap();

    // Assert
    assert_eq!((postponed.resolved, postponed.rearmed), (0, 1));
    assert_eq!(quiet, START_MS + 8 * 60_000, "the customer's message");
    assert_eq!(resolved.resolved, 1);
    assert_eq!(after.state, ConversationState::Resolved);
    assert_eq!(reopened.state, ConversationState::Open, "a new message reopens it as usual");
}

#[tokio::test]
async fn without_the_setting_nothing_is_resolved_and_the_check_is_dropped() {
    // Arrange
    let world = World::new(None).await;
    let conversation = world.customer_writes(1).await;
    world.sweep_now().await;

    // Act
    world.advance_minutes(600);
    let report = world.sweep_now().await;

    // Assert
    assert_eq!((report.resolved, report.dropped), (0, 1));
    assert_eq!(world.conversation(&conversation.id).await.state, ConversationState::Open);
}

#[tokio::test]
async fn the_cursor_follows_the_clock_and_a_sweep_ahead_of_it_leaves_it() {
    // Arrange
    let world = World::new(Some(5)).await;
    let conversation = world.customer_writes(1).await;
    world.sweep_now().await;
    let cursor = world.inbox.timer_cursor().await.unwrap();

    // Act
    let ahead = Sweep {
        as_of: Timestamp::from_millis(START_MS + IDLE_CHECK_AFTER_MS + 6 * 60_000),
        move_cursor: false,
        only: Some(world.tenant.clone()),
    };
    let report = sweep(&world.ports(), (&world.inbox, &world.tenants, &world.flow_timers()), &ahead, || true)
        .await
        .unwrap();

    // Assert
    assert_eq!(cursor, Some(crate::domain::center::epoch_minute(START_MS)));
    assert_eq!(report.rearmed + report.resolved, 1);
    assert_eq!(world.inbox.timer_cursor().await.unwrap(), cursor, "left where the clock is");
    assert!(report.complete);
    let _ = conversation;
}

#[tokio::test]
async fn a_sweep_out_of_time_stops_and_says_so() {
    // Arrange
    let world = World::new(None).await;
    world.customer_writes(1).await;
    world.advance_minutes(10);

    // Act
    let run = Sweep { as_of: world.clock.now(), move_cursor: true, only: None };
    let report = sweep(&world.ports(), (&world.inbox, &world.tenants, &world.flow_timers()), &run, || false)
        .await
        .unwrap();

    // Assert
    assert!(!report.complete);
    assert_eq!(report.dropped, 0, "nothing fired");
}

/// A session of `conversation` waiting at a wait step until `due`, stored; its store version.
async fn waiting_session(world: &World, conversation: &ConversationId, due: i64) -> u64 {
    use crate::domain::flows::{FlowRef, FlowSession};
    use crate::domain::flows_store::{FlowStore, SessionRecord};
    let session = FlowSession {
        flow: FlowRef { id: "fl_1".into(), version: 1 },
        step: "wait".into(),
        tries: 0,
        waiting_since: world.clock.now(),
        answers: std::collections::BTreeMap::new(),
    };
    let record = SessionRecord {
        conversation: conversation.clone(),
        session: Some(session),
        last_message: Some("wamid.timers.1".into()),
        timeout_at: Some(due),
        group: Some("group-1".into()),
        expires_at: world.clock.now().as_secs() + 86_400,
        version: 0,
    };
    world.flows.save_session(&world.tenant, &record).await.unwrap().version
}

#[tokio::test]
async fn a_flow_timeout_is_handed_to_inbound_once_in_the_customers_group() {
    // Arrange: a session waits for a minute; its timer is armed.
    let world = World::new(None).await;
    let conversation = world.customer_writes(1).await;
    let due = world.clock.now().as_millis() + 60_000;
    let version = waiting_session(&world, &conversation.id, due).await;
    let timer = Timer {
        tenant: world.tenant.clone(),
        conversation_id: conversation.id.clone(),
        kind: TimerKind::FlowTimeout,
        due,
    };
    world.inbox.arm_timer(&timer).await.unwrap();

    // Act
    let early = world.sweep_now().await;
    world.advance_minutes(2);
    let fired = world.sweep_now().await;
    let again = world.sweep_now().await;

    // Assert: queued once, in the group, naming the session's version and deadline.
    assert_eq!((early.flow_timeouts, fired.flow_timeouts, again.flow_timeouts), (0, 1, 0));
    let queued = world.inbound.sent();
    assert_eq!(queued.len(), 1, "{queued:?}");
    assert_eq!(queued[0].group_id.as_deref(), Some("group-1"));
    assert!(queued[0].dedup_id.is_some());
    let envelope: crate::domain::events::Envelope = serde_json::from_str(&queued[0].body).unwrap();
    let crate::domain::events::Event::FlowTimeout(event) = envelope.event else { panic!("a flow timeout") };
    assert_eq!(
        (event.conversation_id.as_str(), event.session_version, event.due),
        (conversation.id.as_str(), version, due)
    );
}

#[tokio::test]
async fn a_flow_timeout_whose_session_moved_on_is_dropped() {
    // Arrange: the timer names a deadline the session no longer has (a reply came first).
    let world = World::new(None).await;
    let conversation = world.customer_writes(1).await;
    let due = world.clock.now().as_millis() + 60_000;
    waiting_session(&world, &conversation.id, due + 30_000).await;
    let timer = Timer {
        tenant: world.tenant.clone(),
        conversation_id: conversation.id.clone(),
        kind: TimerKind::FlowTimeout,
        due,
    };
    world.inbox.arm_timer(&timer).await.unwrap();

    // Act
    world.advance_minutes(1);
    let report = world.sweep_now().await;

    // Assert
    assert_eq!((report.flow_timeouts, report.dropped), (0, 1));
    assert!(world.inbound.sent().is_empty());
}
