//! The interpreter on menus and questions: the demo welcome flow, matching, re-asks.

use super::*;

#[test]
fn the_welcome_flow_greets_with_reply_buttons_sales_and_support() {
    // Arrange
    let (def, ctx) = (welcome(), ctx());

    // Act
    let turn = start(&def, &ctx);

    // Assert
    let bodies = sent(&turn);
    assert_eq!(bodies.len(), 1);
    assert_eq!(bodies[0]["type"], "interactive");
    assert_eq!(bodies[0]["interactive"]["type"], "button");
    assert_eq!(
        bodies[0]["interactive"]["action"]["buttons"],
        json!([
            {"type": "reply", "reply": {"id": "sales", "title": "Sales"}},
            {"type": "reply", "reply": {"id": "support", "title": "Support"}}
        ])
    );
    let session = waiting(&turn);
    assert_eq!((session.step.as_str(), session.tries, session.flow.clone()), ("menu", 0, flow_ref()));
    assert_eq!(session.waiting_since, ctx.now);
    assert_eq!(decisions(&turn), vec!["flow started by new_conversation"]);
}

#[test]
fn support_by_button_routes_at_once() {
    // Arrange
    let (def, ctx) = (welcome(), ctx());
    let session = waiting(&start(&def, &ctx));

    // Act
    let turn = tap(&def, &session, "support", &ctx);

    // Assert
    assert_eq!(turn.session, None);
    assert_eq!(effects(&turn), vec![Action::Route { queue: queue("q_support") }]);
    assert_eq!(decisions(&turn), vec!["option matched: support (by reply id)", "routed to queue q_support"]);
    assert_eq!(texts(&turn), vec!["A support agent will be with you shortly."]);
}

#[test]
fn sales_asks_the_email_again_while_invalid_then_stores_it_and_routes_to_sales() {
    // Arrange
    let (def, ctx) = (welcome(), ctx());
    let session = waiting(&start(&def, &ctx));

    // Act
    let asked = say(&def, &session, "Sales", &ctx);
    let wrong = say(&def, &waiting(&asked), "my email is ana at example", &ctx);
    let wrong_again = say(&def, &waiting(&wrong), "ana@", &ctx);
    let right = say(&def, &waiting(&wrong_again), " Ana@Example.com ", &ctx);

    // Assert
    assert_eq!(texts(&asked), vec!["What is your email?"]);
    assert_eq!(waiting(&asked).step, "email");
    assert_eq!(texts(&wrong), vec!["That is not a valid email, please try again.", "What is your email?"]);
    assert_eq!(decisions(&wrong), vec!["invalid answer (1/10): asking again"]);
    assert_eq!(waiting(&wrong_again).tries, 2);
    assert!(effects(&wrong).is_empty(), "nothing stored");
    assert_eq!(
        effects(&right),
        vec![
            Action::SetContactField { field: ContactField::Email, value: "ana@example.com".into() },
            Action::Route { queue: queue("q_sales") },
        ]
    );
    assert_eq!(right.session, None);
    let all: Vec<String> = [&asked, &wrong, &wrong_again, &right].iter().flat_map(|t| decisions(t)).collect();
    assert!(all.iter().all(|d| !d.contains("ana")), "decisions hold no customer text: {all:?}");
}

#[test]
fn a_typed_answer_matches_by_number_title_or_keyword_ignoring_case_and_accents() {
    // Arrange
    let def = flow(json!({
        "name": "t", "start": "menu",
        "steps": {
            "menu": {"type": "menu", "text": "Pick", "style": "list", "options": [
                {"id": "a", "title": "Atención técnica", "keywords": ["soporte", "ayuda"], "next": "yes"},
                {"id": "b", "title": "Ventas", "next": "no"}
            ]},
            "yes": {"type": "end", "text": "yes"},
            "no": {"type": "end", "text": "no"}
        }
    }));
    let ctx = ctx();
    let session = waiting(&start(&def, &ctx));

    // Act / Assert
    for (typed, expected, how) in [
        ("1", "yes", "number"),
        (" 2. ", "no", "number"),
        ("ATENCION TECNICA", "yes", "title"),
        ("ventas!", "no", "title"),
        ("Ayúda", "yes", "keyword"),
        ("  soporte ", "yes", "keyword"),
    ] {
        let turn = say(&def, &session, typed, &ctx);
        assert_eq!(texts(&turn), vec![expected.to_owned()], "{typed}");
        assert!(decisions(&turn)[0].ends_with(&format!("(by {how})")), "{typed}: {:?}", decisions(&turn));
    }
    let by_list_reply = tap(&def, &session, "b", &ctx);
    assert_eq!(texts(&by_list_reply), vec!["no"]);
    let unknown_reply = tap(&def, &session, "zzz", &ctx);
    assert_eq!(waiting(&unknown_reply).tries, 1, "an unknown reply id is not an answer");
}

#[test]
fn an_unmatched_answer_is_asked_again_up_to_the_limit_then_goes_to_then() {
    // Arrange: the welcome menu re-asks twice, then hands off.
    let (def, ctx) = (welcome(), ctx());
    let session = waiting(&start(&def, &ctx));

    // Act
    let first = say(&def, &session, "3", &ctx);
    let second = say(&def, &waiting(&first), "what?", &ctx);
    let third = say(&def, &waiting(&second), "hello", &ctx);

    // Assert
    assert_eq!(texts(&first), vec!["Sorry, please pick one of the options.", "Hi! How can we help?"]);
    assert_eq!(decisions(&first), vec!["no option matched: asking again (1/2)"]);
    assert_eq!(waiting(&second).tries, 2);
    assert_eq!(third.session, None);
    assert_eq!(effects(&third), vec![Action::Handoff { queue: None }]);
    assert_eq!(texts(&third), vec!["An agent will be with you shortly."]);
    assert_eq!(decisions(&third)[0], "no option matched (2 of 2 retries used): giving up");
}

#[test]
fn a_menu_without_retry_asks_twice_more_with_the_default_text_then_hands_off() {
    // Arrange
    let def = one_step(json!({"type": "menu", "text": "Pick", "style": "buttons",
        "options": [{"id": "y", "title": "Yes", "next": "yes"}]}));
    let ctx = ctx();
    let mut session = waiting(&start(&def, &ctx));

    // Act
    let mut turns = Vec::new();
    for _ in 0..3 {
        let turn = say(&def, &session, "maybe", &ctx);
        if let Some(next) = &turn.session {
            session = next.clone();
        }
        turns.push(turn);
    }

    // Assert
    assert_eq!(texts(&turns[0])[0], DEFAULT_RETRY_TEXT);
    assert_eq!(texts(&turns[1])[0], DEFAULT_RETRY_TEXT);
    assert_eq!(turns[2].session, None);
    assert_eq!(effects(&turns[2]), vec![Action::Handoff { queue: None }]);
}

#[test]
fn a_question_takes_max_tries_answers_then_goes_to_on_fail_or_a_human() {
    // Arrange
    let with_on_fail =
        one_step(json!({"type": "ask", "text": "Age?", "validate": {"kind": "number", "min": 18},
        "max_tries": 2, "next": "yes", "on_fail": "no"}));
    let without = one_step(json!({"type": "ask", "text": "Age?", "validate": {"kind": "number"},
        "max_tries": 1, "next": "yes"}));
    let ctx = ctx();

    // Act
    let first = say(&with_on_fail, &waiting(&start(&with_on_fail, &ctx)), "12", &ctx);
    let second = say(&with_on_fail, &waiting(&first), "ten", &ctx);
    let only = say(&without, &waiting(&start(&without, &ctx)), "old", &ctx);

    // Assert
    assert_eq!(texts(&first), vec![DEFAULT_INVALID_TEXT, "Age?"]);
    assert_eq!(texts(&second), vec!["no"]);
    assert_eq!(decisions(&second)[0], "invalid answer (2/2): giving up");
    assert_eq!(second.session, None);
    assert_eq!(effects(&only), vec![Action::Handoff { queue: None }]);
}

#[test]
fn a_valid_answer_is_stored_where_the_step_says_and_kept_in_the_session() {
    // Arrange
    let def = flow(json!({
        "name": "t", "start": "phone",
        "steps": {
            "phone": {"type": "ask", "text": "Phone?", "validate": {"kind": "phone"},
                      "store": {"attribute": "work_phone"}, "next": "stage"},
            "stage": {"type": "ask", "text": "Stage?", "validate": {"kind": "options", "options": ["qualified", "lost"]},
                      "store": {"lead": "stage"}, "next": "name"},
            "name": {"type": "ask", "text": "Name?", "validate": {"kind": "text"}, "store": {"contact": "name"},
                     "next": "when"},
            "when": {"type": "ask", "text": "When?", "validate": {"kind": "date"}, "next": "done"},
            "done": {"type": "end"}
        }
    }));
    let ctx = ctx();

    // Act
    let phone = say(&def, &waiting(&start(&def, &ctx)), "+55 11 98765 4321", &ctx);
    let stage = say(&def, &waiting(&phone), "1", &ctx);
    let name = say(&def, &waiting(&stage), " Ana ", &ctx);
    let when = say(&def, &waiting(&name), "24/12/2026", &ctx);

    // Assert
    assert_eq!(
        effects(&phone),
        vec![Action::SetAttribute { name: "work_phone".into(), value: "+5511987654321".into() }]
    );
    assert_eq!(
        effects(&stage),
        vec![Action::SetLeadField { field: LeadField::Stage, value: "qualified".into() }]
    );
    assert_eq!(
        effects(&name),
        vec![Action::SetContactField { field: ContactField::Name, value: "Ana".into() }]
    );
    assert!(effects(&when).is_empty(), "no store: only the session keeps it");
    assert_eq!(waiting(&name).answers.get("phone").map(String::as_str), Some("+5511987654321"));
    assert_eq!(waiting(&name).answers.get("name").map(String::as_str), Some("Ana"));
    assert_eq!(when.session, None);
}

#[test]
fn a_message_without_a_session_or_text_changes_nothing_and_a_start_begins_afresh() {
    // Arrange
    let (def, ctx) = (welcome(), ctx());
    let session = waiting(&say(&def, &waiting(&start(&def, &ctx)), "1", &ctx));

    // Act
    let none = advance(&def, None, &Input::Customer { text: Some("hi".into()), choice_id: None }, &ctx);
    let media_only = advance(&def, Some(&session), &Input::Customer { text: None, choice_id: None }, &ctx);
    let restart = advance(
        &def,
        Some(&session),
        &Input::Start { flow: flow_ref(), trigger: TriggerKind::Keyword },
        &ctx,
    );

    // Assert
    assert_eq!(none, Turn { actions: Vec::new(), session: None });
    assert_eq!(waiting(&media_only).tries, 1, "an answer without text is invalid");
    assert_eq!(waiting(&restart).step, "menu");
    assert_eq!(decisions(&restart), vec!["flow started by keyword"]);
}

#[test]
fn simulation_answers_what_the_live_turns_send_and_store() {
    // Arrange
    let (def, ctx) = (welcome(), ctx());
    let messages: Vec<String> =
        ["hi", "Sales", "nope", "ana@example.com", "thanks"].iter().map(|m| (*m).to_owned()).collect();

    // Act
    let steps = simulate(&def, &ctx, &messages);

    // Assert
    assert_eq!(steps.len(), 5);
    let live_start = start(&def, &ctx);
    assert_eq!(steps[0].actions.len(), live_start.actions.len());
    assert_eq!(steps[0].customer.as_deref(), Some("hi"));
    assert_eq!(steps[0].step.as_deref(), Some("menu"));
    assert_eq!(steps[1].step.as_deref(), Some("email"));
    assert_eq!(steps[2].step.as_deref(), Some("email"));
    assert!(steps[3]
        .actions
        .contains(&Action::SetContactField { field: ContactField::Email, value: "ana@example.com".into() }));
    assert!(steps[3].actions.contains(&Action::Route { queue: queue("q_sales") }));
    assert_eq!(steps[3].step, None);
    assert!(steps[4].actions.is_empty(), "the flow is over: {:?}", steps[4]);
    let empty = simulate(&def, &ctx, &[]);
    assert_eq!((empty.len(), empty[0].customer.clone()), (1, None));
}

#[test]
fn simulation_remembers_what_earlier_turns_stored() {
    // Arrange: a condition after the question sees the stored email.
    let def = flow(json!({
        "name": "t", "start": "email",
        "steps": {
            "email": {"type": "ask", "text": "Email?", "validate": {"kind": "email"}, "store": {"contact": "email"},
                      "next": "wait"},
            "wait": {"type": "wait", "timeout_minutes": 5, "next": "known", "on_timeout": "no"},
            "known": {"type": "condition", "when": {"kind": "contact_field_exists", "field": "email"},
                      "then": "yes", "else": "no"},
            "yes": {"type": "end", "text": "yes"},
            "no": {"type": "end", "text": "no"}
        }
    }));

    // Act
    let steps = simulate(&def, &ctx(), &["hi".into(), "a@b.co".into(), "ok".into()]);

    // Assert
    assert_eq!(steps[2].actions.iter().filter(|a| matches!(a, Action::Send { .. })).count(), 1);
    assert!(steps[2]
        .actions
        .contains(&Action::Send { body: json!({"type": "text", "text": {"body": "yes"}}) }));
}

#[test]
fn sessions_and_actions_keep_their_json_shape() {
    // Arrange
    let (def, ctx) = (welcome(), ctx());
    let session = waiting(&say(&def, &waiting(&start(&def, &ctx)), "1", &ctx));

    // Act
    let stored = serde_json::to_value(&session).expect("serialises");
    let read: FlowSession = serde_json::from_value(stored.clone()).expect("reads back");
    let action = serde_json::to_value(Action::Route { queue: queue("q_sales") }).expect("serialises");
    let timer =
        serde_json::to_value(Action::ArmTimeout { at: Timestamp::from_millis(5) }).expect("serialises");

    // Assert
    assert_eq!(read, session);
    assert_eq!(
        stored,
        json!({"flow": {"id": "fl_1", "version": 3}, "step": "email", "tries": 0,
               "waiting_since": ctx.now.as_millis(), "answers": {"menu": "sales"}})
    );
    assert_eq!(action, json!({"type": "route", "queue": "q_sales"}));
    assert_eq!(timer, json!({"type": "arm_timeout", "at": 5}));
}
