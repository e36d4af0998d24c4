//! The inbox's rules: what an agent sees, how statuses move.
use super::*;

fn conversation(assignee: Option<&str>, queue: Option<&str>) -> ConversationView {
    ConversationView {
        id: ConversationId::parse("cv_1").unwrap(),
        contact_id: ContactId::parse("ct_1").unwrap(),
        state: ConversationState::Open,
        version: 0,
        started_at: 1,
        last_message_at: 1,
        assignee: assignee.map(|a| UserId::parse(a).unwrap()),
        queue: queue.map(|q| QueueId::parse(q).unwrap()),
        updated_at: 1,
        queued_at: None,
        cycle_started_at: 1,
        first_reply_at: None,
        resolved_at: None,
        snoozed_until: None,
    }
}

#[test]
fn an_agent_sees_what_is_assigned_to_them_or_queued_for_them() {
    let agent = AgentScope {
        user: Some(UserId::parse("usr_a").unwrap()),
        queues: vec![QueueId::parse("support").unwrap()],
    };
    let key = AgentScope { user: None, queues: vec![] };

    assert!(agent.sees(&conversation(Some("usr_a"), None)));
    assert!(agent.sees(&conversation(None, Some("support"))));
    assert!(!agent.sees(&conversation(Some("usr_b"), Some("sales"))));
    assert!(!agent.sees(&conversation(None, None)));
    assert!(!key.sees(&conversation(None, None)), "an agent API key has no user to match");
    let filter = ConversationFilter {
        visible_to: Some(agent),
        state: Some(ConversationState::Open),
        ..ConversationFilter::default()
    };
    assert!(filter.accepts(&conversation(Some("usr_a"), None)));
    assert!(!filter.accepts(&ConversationView {
        state: ConversationState::Resolved,
        ..conversation(Some("usr_a"), None)
    }));
}

#[test]
fn statuses_only_move_forward_and_failed_is_final() {
    let order = [MessageStatus::Queued, MessageStatus::Sent, MessageStatus::Delivered, MessageStatus::Read];
    assert!(order.windows(2).all(|w| w[0].rank() < w[1].rank()));
    assert!(MessageStatus::Failed.rank() > MessageStatus::Read.rank());
    assert_eq!(MessageStatus::from_meta("played"), Some(MessageStatus::Read));
    assert_eq!(MessageStatus::from_meta("deleted"), None);
}
