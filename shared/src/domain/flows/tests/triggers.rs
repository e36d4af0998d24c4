//! Which flow starts.

use super::*;

fn with_triggers(triggers: Value) -> FlowDefinition {
    flow(json!({"name": "t", "triggers": triggers, "start": "e", "steps": {"e": {"type": "end"}}}))
}

fn reference(id: &str) -> FlowRef {
    FlowRef { id: id.into(), version: 1 }
}

fn context(event: TriggerEvent, text: &str, open: bool) -> TriggerContext {
    TriggerContext { event, text: Some(text.into()), open }
}

#[test]
fn keyword_beats_outside_hours_which_beats_the_greeting() {
    // Arrange
    let greeting = with_triggers(json!([{"type": "new_conversation"}, {"type": "reopened"}]));
    let closed = with_triggers(json!([{"type": "outside_hours"}]));
    let keyword = with_triggers(json!([{"type": "keyword", "keywords": ["Menú", "start"]}]));
    let flows = [
        (reference("greeting"), &greeting),
        (reference("closed"), &closed),
        (reference("keyword"), &keyword),
    ];
    let pick = |ctx: TriggerContext| select(&flows, &ctx).map(|(flow, kind)| (flow.id, kind));

    // Act / Assert
    assert_eq!(
        pick(context(TriggerEvent::NewConversation, " menu ", false)),
        Some(("keyword".into(), TriggerKind::Keyword))
    );
    assert_eq!(
        pick(context(TriggerEvent::NewConversation, "hi", false)),
        Some(("closed".into(), TriggerKind::OutsideHours))
    );
    assert_eq!(
        pick(context(TriggerEvent::Reopened, "hi", false)),
        Some(("closed".into(), TriggerKind::OutsideHours))
    );
    assert_eq!(
        pick(context(TriggerEvent::NewConversation, "hi", true)),
        Some(("greeting".into(), TriggerKind::NewConversation))
    );
    assert_eq!(
        pick(context(TriggerEvent::Reopened, "hi", true)),
        Some(("greeting".into(), TriggerKind::Reopened))
    );
    assert_eq!(
        pick(context(TriggerEvent::Message, "START", true)),
        Some(("keyword".into(), TriggerKind::Keyword))
    );
    assert_eq!(pick(context(TriggerEvent::Message, "hi", false)), None, "ongoing: keywords only");
    assert_eq!(pick(context(TriggerEvent::Message, "menu please", true)), None, "whole message only");
}

#[test]
fn the_first_flow_in_the_given_order_wins_a_tie_and_no_flow_matches_nothing() {
    // Arrange
    let one = with_triggers(json!([{"type": "new_conversation"}]));
    let two = with_triggers(json!([{"type": "new_conversation"}]));
    let reopened_only = with_triggers(json!([{"type": "reopened"}]));

    // Act / Assert
    let both = [(reference("one"), &one), (reference("two"), &two)];
    let ctx = context(TriggerEvent::NewConversation, "hi", true);
    assert_eq!(select(&both, &ctx).map(|(f, _)| f.id), Some("one".into()));
    assert_eq!(select(&[(reference("r"), &reopened_only)], &ctx), None);
    assert_eq!(select(&[], &ctx), None);
    let closed_without_flow = context(TriggerEvent::NewConversation, "hi", false);
    assert_eq!(
        select(&both, &closed_without_flow).map(|(f, _)| f.id),
        Some("one".into()),
        "greeting when closed"
    );
}
