//! The interpreter on the other steps: messages, conditions, set, wait, route, handoff, end,
//! and the step limit.

use super::*;
use crate::domain::inbox::LeadStage;
use crate::domain::tenant::{BusinessHours, Weekday};

#[test]
fn message_steps_chain_without_waiting_and_send_text_media_by_id_and_by_link() {
    // Arrange
    let def = flow(json!({
        "name": "t", "start": "a",
        "steps": {
            "a": {"type": "message", "text": "Hello", "next": "b"},
            "b": {"type": "message", "media": {"kind": "image", "id": "media-1", "caption": "Our shop"}, "next": "c"},
            "c": {"type": "message", "media": {"kind": "document", "link": "https://x.test/a.pdf", "filename": "a.pdf"}}
        }
    }));

    // Act
    let turn = start(&def, &ctx());

    // Assert
    assert_eq!(
        sent(&turn),
        vec![
            json!({"type": "text", "text": {"body": "Hello"}}),
            json!({"type": "image", "image": {"id": "media-1", "caption": "Our shop"}}),
            json!({"type": "document", "document": {"link": "https://x.test/a.pdf", "filename": "a.pdf"}}),
        ]
    );
    assert_eq!(turn.session, None, "a step without next ends the flow");
    assert_eq!(decisions(&turn).last().map(String::as_str), Some("flow ended"));
}

#[test]
fn a_closed_window_sends_the_template_or_nothing() {
    // Arrange
    let def = flow(json!({
        "name": "t", "start": "a",
        "steps": {
            "a": {"type": "message", "text": "We are back!",
                  "template": {"name": "back_online", "language": "pt_BR", "parameters": ["Ana"]}, "next": "b"},
            "b": {"type": "message", "text": "Free-form", "next": "c"},
            "c": {"type": "end", "text": "Bye"}
        }
    }));
    let closed = FlowContext { window_open: false, ..ctx() };

    // Act
    let turn = start(&def, &closed);
    let open = start(&def, &ctx());

    // Assert
    assert_eq!(
        sent(&turn),
        vec![json!({"type": "template", "template": {"name": "back_online", "language": {"code": "pt_BR"},
            "components": [{"type": "body", "parameters": [{"type": "text", "text": "Ana"}]}]}})]
    );
    assert!(decisions(&turn).contains(&"not sent: the customer service window is closed".to_owned()));
    assert_eq!(texts(&open), vec!["We are back!", "Free-form", "Bye"], "the window open: the text");
}

#[test]
fn conditions_branch_on_attributes_tags_hours_lead_stage_and_contact_fields() {
    // Arrange
    let base = ctx();
    let mut known = ctx();
    known.attributes.insert("plan".into(), "Gold".into());
    known.tags.push("VIP".into());
    known.lead_stage = Some(LeadStage::Qualified);
    known.email = Some("a@b.co".into());
    let closed = FlowContext {
        settings: TenantSettings {
            business_hours: vec![BusinessHours {
                day: Weekday::Mon,
                open: "11:00".into(),
                close: "12:00".into(),
            }],
            ..TenantSettings::default()
        },
        ..ctx()
    };
    let cases = [
        (json!({"kind": "attribute_equals", "name": "plan", "value": "gold"}), &known, "yes"),
        (json!({"kind": "attribute_equals", "name": "plan", "value": "silver"}), &known, "no"),
        (json!({"kind": "attribute_exists", "name": "plan"}), &known, "yes"),
        (json!({"kind": "attribute_exists", "name": "plan"}), &base, "no"),
        (json!({"kind": "tag", "tag": "vip"}), &known, "yes"),
        (json!({"kind": "tag", "tag": "vip"}), &base, "no"),
        (json!({"kind": "business_hours_open"}), &base, "yes"),
        (json!({"kind": "business_hours_open"}), &closed, "no"),
        (json!({"kind": "lead_stage", "stages": ["qualified", "won"]}), &known, "yes"),
        (json!({"kind": "lead_stage", "stages": ["new"]}), &known, "no"),
        (json!({"kind": "lead_stage", "stages": ["new"]}), &base, "no"),
        (json!({"kind": "contact_field_exists", "field": "email"}), &known, "yes"),
        (json!({"kind": "contact_field_exists", "field": "name"}), &known, "no"),
    ];
    for (when, ctx, expected) in cases {
        let def = one_step(json!({"type": "condition", "when": when.clone(), "then": "yes", "else": "no"}));

        // Act
        let turn = start(&def, ctx);

        // Assert
        assert_eq!(texts(&turn), vec![expected.to_owned()], "{when}");
        assert_eq!(decisions(&turn)[1], format!("condition {}", expected == "yes"), "{when}");
    }
}

#[test]
fn set_adds_tags_and_attributes_and_the_stage_which_later_steps_of_the_turn_see() {
    // Arrange
    let def = flow(json!({
        "name": "t", "start": "set",
        "steps": {
            "set": {"type": "set", "tags": ["bot"], "attributes": {"source": "whatsapp"}, "lead_stage": "contacted",
                    "next": "check"},
            "check": {"type": "condition", "when": {"kind": "tag", "tag": "BOT"}, "then": "yes", "else": "no"},
            "yes": {"type": "end", "text": "yes"},
            "no": {"type": "end", "text": "no"}
        }
    }));

    // Act
    let turn = start(&def, &ctx());

    // Assert
    assert_eq!(
        effects(&turn),
        vec![
            Action::AddTags { tags: vec!["bot".into()] },
            Action::SetAttribute { name: "source".into(), value: "whatsapp".into() },
            Action::SetLeadField { field: LeadField::Stage, value: "contacted".into() },
        ]
    );
    assert_eq!(texts(&turn), vec!["yes"]);
}

#[test]
fn wait_arms_a_timeout_continues_on_a_reply_and_on_a_due_timeout_only() {
    // Arrange
    let def = one_step(json!({"type": "wait", "timeout_minutes": 30, "next": "yes", "on_timeout": "no"}));
    let ctx = ctx();
    let turn = start(&def, &ctx);
    let session = waiting(&turn);
    let later =
        |minutes: i64| FlowContext { now: Timestamp::from_secs(MONDAY_TEN + minutes * 60), ..ctx.clone() };

    // Act
    let replied = say(&def, &session, "anything", &later(5));
    let early = advance(&def, Some(&session), &Input::Timeout, &later(29));
    let due = advance(&def, Some(&session), &Input::Timeout, &later(30));
    let stale = advance(&def, None, &Input::Timeout, &later(31));

    // Assert
    assert_eq!(effects(&turn), vec![Action::ArmTimeout { at: Timestamp::from_secs(MONDAY_TEN + 30 * 60) }]);
    assert_eq!(texts(&replied), vec!["yes"]);
    assert_eq!(early, Turn { actions: Vec::new(), session: Some(session.clone()) });
    assert_eq!(texts(&due), vec!["no"]);
    assert_eq!(decisions(&due)[0], "timed out");
    assert_eq!(stale, Turn { actions: Vec::new(), session: None });
    let at_menu = waiting(&start(&welcome(), &ctx));
    let ignored = advance(&welcome(), Some(&at_menu), &Input::Timeout, &later(10_000));
    assert_eq!(ignored.session, Some(at_menu), "a timeout at a menu is stale");
}

#[test]
fn route_handoff_and_end_finish_the_flow() {
    // Arrange
    let ctx = ctx();
    let route = one_step(json!({"type": "route", "queue": "q_1"}));
    let handoff = one_step(json!({"type": "handoff", "queue": "q_2", "text": "One moment"}));
    let end = one_step(json!({"type": "end"}));

    // Act
    let (routed, handed, ended) = (start(&route, &ctx), start(&handoff, &ctx), start(&end, &ctx));

    // Assert
    assert_eq!((effects(&routed), routed.session), (vec![Action::Route { queue: queue("q_1") }], None));
    assert_eq!(effects(&handed), vec![Action::Handoff { queue: Some(queue("q_2")) }]);
    assert_eq!(texts(&handed), vec!["One moment"]);
    assert_eq!(handed.session, None);
    assert_eq!((ended.actions.len(), ended.session), (2, None), "started and ended: {:?}", ended.actions);
}

#[test]
fn a_loop_whose_exit_is_never_taken_stops_at_the_step_limit_and_hands_off() {
    // Arrange: valid (the condition can leave), but the tag never comes.
    let def = flow(json!({
        "name": "t", "start": "check",
        "steps": {
            "check": {"type": "condition", "when": {"kind": "tag", "tag": "never"}, "then": "done", "else": "nag"},
            "nag": {"type": "message", "text": "Still there?", "next": "check"},
            "done": {"type": "end"}
        }
    }));
    assert_eq!(validate(&def, &ValidationContext::default()), Ok(()));

    // Act
    let turn = start(&def, &ctx());

    // Assert
    assert_eq!(turn.session, None);
    assert_eq!(effects(&turn), vec![Action::Handoff { queue: None }]);
    assert!(sent(&turn).len() <= MAX_STEPS_PER_TURN);
    assert_eq!(decisions(&turn).last().map(String::as_str), Some("step limit reached: handed off"));
}

#[test]
fn a_reference_to_a_missing_step_at_run_time_hands_off() {
    // Arrange: never saved (validation refuses it), but the interpreter must not panic.
    let def = one_step(json!({"type": "message", "text": "Hi", "next": "gone"}));

    // Act
    let turn = start(&def, &ctx());

    // Assert
    assert_eq!(effects(&turn), vec![Action::Handoff { queue: None }]);
    assert_eq!(decisions(&turn).last().map(String::as_str), Some("unknown step: handed off"));
}

#[test]
fn a_list_menu_is_sent_with_its_button_section_and_descriptions() {
    // Arrange
    let def = one_step(json!({"type": "menu", "text": "Pick a plan", "style": "list", "header": "Plans",
        "footer": "Prices in BRL", "button": "See plans", "section": "Monthly",
        "options": [{"id": "p1", "title": "Basic", "description": "R$ 10", "next": "yes"},
                    {"id": "p2", "title": "Pro", "next": "no"}]}));

    // Act
    let turn = start(&def, &ctx());

    // Assert
    assert_eq!(
        sent(&turn)[0],
        json!({"type": "interactive", "interactive": {
            "type": "list",
            "header": {"type": "text", "text": "Plans"},
            "body": {"text": "Pick a plan"},
            "footer": {"text": "Prices in BRL"},
            "action": {"button": "See plans", "sections": [{"title": "Monthly", "rows": [
                {"id": "p1", "title": "Basic", "description": "R$ 10"},
                {"id": "p2", "title": "Pro"}
            ]}]}
        }})
    );
}
