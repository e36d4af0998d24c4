//! The engine's rules without stores: which patch a change makes, in which order members are
//! tried, which events a change logs. The engine on the stores is tested in
//! `shared::testing::contract::center` and end to end in `tests/it/center.rs`.

use super::*;
use crate::domain::center::Presence;
use crate::domain::ContactId;

fn user(name: &str) -> UserId {
    UserId::parse(format!("usr_{name}")).unwrap()
}

fn queue_id() -> QueueId {
    QueueId::parse("q_01JD0000000000000000000000").unwrap()
}

fn conversation(
    state: ConversationState,
    assignee: Option<&str>,
    queue: Option<QueueId>,
) -> ConversationView {
    ConversationView {
        id: ConversationId::parse("cv_01JD0000000000000000000000").unwrap(),
        contact_id: ContactId::parse("ct_01JD0000000000000000000000").unwrap(),
        state,
        version: 3,
        started_at: 1_000,
        last_message_at: 2_000,
        assignee: assignee.map(user),
        queue,
        updated_at: 2_000,
        queued_at: (state == ConversationState::Queued).then_some(5_000),
        cycle_started_at: 1_000,
        first_reply_at: None,
        resolved_at: None,
        snoozed_until: None,
    }
}

fn status(name: &str, load: u32, last_assigned_at: Option<i64>) -> AgentStatus {
    AgentStatus {
        user_id: user(name),
        presence: Presence::Online,
        presence_at: 0,
        capacity: 10,
        load,
        last_assigned_at,
    }
}

fn a_queue(strategy: Strategy, last_assigned: Option<&str>) -> Queue {
    Queue {
        id: queue_id(),
        name: "Sales".to_owned(),
        strategy,
        first_response_target_seconds: None,
        last_assigned: last_assigned.map(user),
        created_at: 0,
        version: 1,
    }
}

fn names(statuses: &[AgentStatus]) -> Vec<&str> {
    statuses.iter().map(|s| s.user_id.as_str()).collect()
}

#[test]
fn round_robin_goes_on_after_the_member_assigned_last_and_wraps_around() {
    // Arrange
    let mut available = vec![status("c", 0, None), status("a", 0, None), status("b", 0, None)];

    // Act
    order(&a_queue(Strategy::RoundRobin, Some("b")), &mut available);

    // Assert
    assert_eq!(names(&available), ["usr_c", "usr_a", "usr_b"]);
}

#[test]
fn round_robin_starts_from_the_first_member_when_nobody_was_assigned_or_the_last_left() {
    let mut fresh = vec![status("b", 0, None), status("a", 0, None)];
    order(&a_queue(Strategy::RoundRobin, None), &mut fresh);
    assert_eq!(names(&fresh), ["usr_a", "usr_b"]);

    let mut after_the_last = vec![status("b", 0, None), status("a", 0, None)];
    order(&a_queue(Strategy::RoundRobin, Some("z")), &mut after_the_last);
    assert_eq!(names(&after_the_last), ["usr_a", "usr_b"]);
}

#[test]
fn least_busy_prefers_the_lowest_load_then_who_was_assigned_longest_ago() {
    // Arrange
    let mut available = vec![status("a", 3, Some(10)), status("b", 1, Some(50)), status("c", 1, Some(20))];

    // Act
    order(&a_queue(Strategy::LeastBusy, None), &mut available);

    // Assert
    assert_eq!(names(&available), ["usr_c", "usr_b", "usr_a"]);
}

#[test]
fn routing_to_a_queue_makes_it_wait_there_with_nobody() {
    // Arrange
    let current = conversation(ConversationState::Open, Some("a"), None);
    let change = Change { queue: Some(Some(queue_id())), ..Change::default() };

    // Act
    let patch = patch_for(&current, &change);

    // Assert
    assert_eq!(patch.state, Some(ConversationState::Queued));
    assert_eq!(patch.assignee, Some(None));
    assert_eq!(patch.queue, Some(Some(queue_id())));
    assert_eq!(patch.expected_version, Some(3));
}

#[test]
fn assigning_opens_unassigning_returns_to_the_queue_and_a_snooze_waits_on_the_customer() {
    let waiting = conversation(ConversationState::Queued, None, Some(queue_id()));
    let assign = patch_for(&waiting, &Change { assignee: Some(Some(user("a"))), ..Change::default() });
    assert_eq!(assign.state, Some(ConversationState::Open));
    assert!(!assign.require_online, "a person decided: capacity holds, presence does not");

    let pending = conversation(ConversationState::Pending, Some("a"), Some(queue_id()));
    let reassign = patch_for(&pending, &Change { assignee: Some(Some(user("b"))), ..Change::default() });
    assert_eq!(reassign.state, Some(ConversationState::Pending), "a pending conversation stays pending");

    let unassign = patch_for(&pending, &Change { assignee: Some(None), ..Change::default() });
    assert_eq!(unassign.state, Some(ConversationState::Queued));
    let no_queue = conversation(ConversationState::Open, Some("a"), None);
    let unassign = patch_for(&no_queue, &Change { assignee: Some(None), ..Change::default() });
    assert_eq!(unassign.state, Some(ConversationState::Open));

    let snooze = patch_for(&no_queue, &Change { snoozed_until: Some(Some(9_000)), ..Change::default() });
    assert_eq!(snooze.state, Some(ConversationState::Pending));
    assert_eq!(snooze.snoozed_until, Some(Some(9_000)));
}

fn kinds(events: &[CenterEvent]) -> Vec<EventKind> {
    events.iter().map(|e| e.kind).collect()
}

#[test]
fn a_routed_conversation_logs_routed_and_queued_and_its_assignment_the_time_it_waited() {
    // Arrange
    let open = conversation(ConversationState::Open, None, None);
    let queued =
        ConversationView { version: 4, ..conversation(ConversationState::Queued, None, Some(queue_id())) };
    let assigned =
        ConversationView { version: 5, ..conversation(ConversationState::Open, Some("a"), Some(queue_id())) };

    // Act
    let routed = change_events(&open, &queued, Timestamp::from_millis(5_000));
    let taken = change_events(&queued, &assigned, Timestamp::from_millis(8_000));

    // Assert
    assert_eq!(kinds(&routed), [EventKind::Routed, EventKind::Queued]);
    assert_eq!(kinds(&taken), [EventKind::Dequeued, EventKind::Assigned]);
    assert_eq!(taken[1].duration_ms, Some(3_000), "queued at 5 000, assigned at 8 000");
    assert_eq!(taken[1].agent, Some(user("a")));
    assert!(taken[1].id.ends_with("#assigned#v5"), "{}", taken[1].id);
    assert_eq!((taken[0].duration_ms, taken[0].agent.as_ref()), (Some(3_000), None));
    assert!(taken[0].id.ends_with("#dequeued#v5"), "{}", taken[0].id);
}

#[test]
fn every_way_out_of_a_waiting_line_logs_one_dequeued_and_staying_logs_none() {
    // Arrange: a conversation waiting (since 5 000) in one queue, and every change of it.
    let other = QueueId::parse("q_other").unwrap();
    let waiting = conversation(ConversationState::Queued, None, Some(queue_id()));
    let after = |state, assignee: Option<&str>, queue: Option<QueueId>| ConversationView {
        version: 4,
        ..conversation(state, assignee, queue)
    };
    let ways_out = [
        ("assigned", after(ConversationState::Open, Some("a"), Some(queue_id()))),
        ("resolved while waiting", after(ConversationState::Resolved, None, Some(queue_id()))),
        ("routed to another queue", after(ConversationState::Queued, None, Some(other.clone()))),
        ("taken out of its queue", after(ConversationState::Queued, None, None)),
        ("opened with nobody", after(ConversationState::Open, None, Some(queue_id()))),
    ];

    for (why, changed) in ways_out {
        // Act
        let events = change_events(&waiting, &changed, Timestamp::from_millis(9_000));

        // Assert
        let out: Vec<_> = events.iter().filter(|e| e.kind == EventKind::Dequeued).collect();
        assert_eq!(out.len(), 1, "{why}: {events:?}");
        assert_eq!((out[0].queue.as_ref(), out[0].duration_ms), (Some(&queue_id()), Some(4_000)), "{why}");
        let entered = events.iter().filter(|e| e.kind == EventKind::Queued && e.queue.is_some()).count();
        assert_eq!(entered, usize::from(why == "routed to another queue"), "{why}");
    }
    // A queued conversation that kept its assignee, opened for them: no `assigned`, still out.
    let kept = conversation(ConversationState::Queued, Some("a"), Some(queue_id()));
    let back = change_events(
        &kept,
        &after(ConversationState::Open, Some("a"), Some(queue_id())),
        Timestamp::from_millis(9_000),
    );
    assert_eq!(kinds(&back), [EventKind::Dequeued]);
    let stays = change_events(
        &waiting,
        &after(ConversationState::Queued, None, Some(queue_id())),
        Timestamp::from_millis(9_000),
    );
    assert!(stays.is_empty(), "{stays:?}");
    let removal = crate::app::analytics::removal_event(&waiting, Timestamp::from_millis(9_500));
    assert_eq!(removal.map(|e| (e.kind, e.duration_ms)), Some((EventKind::Dequeued, Some(4_500))));
    let open = conversation(ConversationState::Open, Some("a"), Some(queue_id()));
    assert!(crate::app::analytics::removal_event(&open, Timestamp::from_millis(9_500)).is_none());
}

#[test]
fn moving_between_agents_or_back_to_the_queue_is_a_transfer() {
    let with_a = conversation(ConversationState::Open, Some("a"), Some(queue_id()));
    let with_b =
        ConversationView { version: 4, ..conversation(ConversationState::Open, Some("b"), Some(queue_id())) };
    assert_eq!(
        kinds(&change_events(&with_a, &with_b, Timestamp::from_millis(6_000))),
        [EventKind::Transferred, EventKind::Assigned]
    );
    let back =
        ConversationView { version: 4, ..conversation(ConversationState::Queued, None, Some(queue_id())) };
    assert_eq!(
        kinds(&change_events(&with_a, &back, Timestamp::from_millis(6_000))),
        [EventKind::Transferred, EventKind::Routed, EventKind::Queued]
    );
}

#[test]
fn resolving_logs_the_time_since_the_cycle_began_and_a_new_message_reopens() {
    // Arrange
    let open = conversation(ConversationState::Open, Some("a"), None);
    let resolved =
        ConversationView { version: 4, ..conversation(ConversationState::Resolved, Some("a"), None) };
    let reopened = ConversationView { version: 5, ..conversation(ConversationState::Open, Some("a"), None) };

    // Act
    let resolution = change_events(&open, &resolved, Timestamp::from_millis(61_000));
    let reopening = change_events(&resolved, &reopened, Timestamp::from_millis(90_000));

    // Assert
    assert_eq!(kinds(&resolution), [EventKind::Resolved]);
    assert_eq!(resolution[0].duration_ms, Some(60_000));
    assert_eq!(kinds(&reopening), [EventKind::Reopened], "back to the same agent: no new assignment");
}
