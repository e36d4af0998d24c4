//! Save-time validation: every problem named by its path, all at once.

use std::collections::BTreeSet;

use super::*;

/// The problems of `def`'s validation against queues `q_1` and `q_2`, as (path, message).
fn problems(def: &FlowDefinition) -> Vec<(String, String)> {
    let ctx =
        ValidationContext { queues: Some([queue("q_1"), queue("q_2")].into_iter().collect::<BTreeSet<_>>()) };
    match validate(def, &ctx) {
        Ok(()) => Vec::new(),
        Err(problems) => problems.into_iter().map(|p| (p.path, p.message)).collect(),
    }
}

fn paths(def: &FlowDefinition) -> Vec<String> {
    problems(def).into_iter().map(|(path, _)| path).collect()
}

/// A one-step flow (`s`, ending in `yes`/`no`) whose only problems are at the given paths.
fn assert_step_problems(step: Value, expected: &[&str]) {
    let def = one_step(step.clone());
    let mut found = paths(&def);
    // `yes` or `no` unused by the step are unreachable: not what these cases are about.
    found.retain(|p| p != "/steps/yes" && p != "/steps/no");
    assert_eq!(found, expected.iter().map(|p| (*p).to_owned()).collect::<Vec<_>>(), "{step}");
}

#[test]
fn the_welcome_flow_is_valid_with_the_tenants_queues_and_names_unknown_ones() {
    // Arrange
    let def = welcome_flow("q_1", "q_2").expect("parses");
    let unknown = welcome_flow("q_1", "q_9").expect("parses");

    // Act / Assert
    assert_eq!(problems(&def), Vec::<(String, String)>::new());
    assert_eq!(
        problems(&unknown),
        vec![("/steps/to_support/queue".to_owned(), "unknown queue \"q_9\"".to_owned())]
    );
    assert_eq!(validate(&unknown, &ValidationContext::default()), Ok(()), "no queues given: not checked");
}

#[test]
fn every_problem_is_reported_at_once_in_path_order() {
    // Arrange
    let def = flow(json!({
        "name": "", "start": "nowhere",
        "triggers": [{"type": "keyword", "keywords": []}],
        "steps": {
            "menu": {"type": "menu", "text": "Pick", "style": "buttons", "options": [
                {"id": "a", "title": "A title longer than twenty", "next": "ghost"},
                {"id": "a", "title": "B", "next": "menu"}
            ]},
            "orphan": {"type": "end"}
        }
    }));

    // Act
    let found = paths(&def);

    // Assert
    assert_eq!(
        found,
        vec![
            "/name",
            "/start",
            "/steps/menu/options/0/next",
            "/steps/menu/options/0/title",
            "/steps/menu/options/1/id",
            "/triggers/0/keywords",
        ]
    );
}

#[test]
fn unknown_steps_are_named_wherever_they_are_referenced() {
    // Arrange / Act / Assert
    assert_step_problems(json!({"type": "message", "text": "x", "next": "nope"}), &["/steps/s/next"]);
    assert_step_problems(
        json!({"type": "condition", "when": {"kind": "business_hours_open"}, "then": "yes", "else": "nope"}),
        &["/steps/s/else"],
    );
    assert_step_problems(
        json!({"type": "ask", "text": "x", "validate": {"kind": "date"}, "next": "yes", "on_fail": "nope"}),
        &["/steps/s/on_fail"],
    );
    assert_step_problems(
        json!({"type": "wait", "timeout_minutes": 5, "next": "nope", "on_timeout": "no"}),
        &["/steps/s/next"],
    );
    assert_step_problems(
        json!({"type": "menu", "text": "x", "style": "buttons", "options": [{"id": "a", "title": "A", "next": "yes"}],
               "retry": {"text": "again", "max": 1, "then": "nope"}}),
        &["/steps/s/retry/then"],
    );
}

#[test]
fn unreachable_steps_are_named() {
    // Arrange
    let def = flow(json!({"name": "t", "start": "a", "steps": {
        "a": {"type": "end"}, "b": {"type": "message", "text": "x", "next": "a"}, "c": {"type": "end"}}}));

    // Act / Assert
    assert_eq!(
        problems(&def).into_iter().map(|(p, m)| format!("{p}: {m}")).collect::<Vec<_>>(),
        vec![
            "/steps/b: unreachable: no path from start leads here",
            "/steps/c: unreachable: no path from start leads here"
        ]
    );
}

#[test]
fn a_loop_that_never_waits_nor_leaves_is_refused_but_one_through_a_question_is_not() {
    // Arrange
    let endless = flow(json!({"name": "t", "start": "a", "steps": {
        "a": {"type": "message", "text": "x", "next": "b"},
        "b": {"type": "set", "tags": ["t"], "next": "c"},
        "c": {"type": "condition", "when": {"kind": "tag", "tag": "t"}, "then": "a", "else": "b"}}}));
    let self_loop = flow(
        json!({"name": "t", "start": "a", "steps": {"a": {"type": "message", "text": "x", "next": "a"}}}),
    );
    let waits = flow(json!({"name": "t", "start": "a", "steps": {
        "a": {"type": "message", "text": "x", "next": "q"},
        "q": {"type": "ask", "text": "?", "validate": {"kind": "text"}, "next": "a"}}}));

    // Act / Assert
    let found = problems(&endless);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, "/steps/a");
    assert!(found[0].1.starts_with("a loop with no exit: a, b, c"), "{}", found[0].1);
    assert_eq!(paths(&self_loop), vec!["/steps/a"]);
    assert_eq!(paths(&waits), Vec::<String>::new());
}

#[test]
fn reply_buttons_are_held_to_whatsapps_limits() {
    let option = |i: usize| json!({"id": format!("o{i}"), "title": format!("Option {i}"), "next": "yes"});
    assert_step_problems(
        json!({"type": "menu", "text": "x", "style": "buttons", "options": (0..4).map(option).collect::<Vec<_>>()}),
        &["/steps/s/options"],
    );
    assert_step_problems(
        json!({"type": "menu", "text": "x", "style": "buttons", "options": []}),
        &["/steps/s/options"],
    );
    assert_step_problems(
        json!({"type": "menu", "text": "x".repeat(1025), "style": "buttons", "header": "h".repeat(61), "footer": "f".repeat(61),
               "button": "b", "section": "s",
               "options": [{"id": "i".repeat(257), "title": "t".repeat(21), "description": "d", "next": "yes"}]}),
        &[
            "/steps/s/button",
            "/steps/s/footer",
            "/steps/s/header",
            "/steps/s/options/0/description",
            "/steps/s/options/0/id",
            "/steps/s/options/0/title",
            "/steps/s/section",
            "/steps/s/text",
        ],
    );
    assert_step_problems(
        json!({"type": "menu", "text": "x", "style": "buttons", "options": [
            {"id": "a", "title": "Sales", "keywords": ["buy", "7"], "next": "yes"},
            {"id": "b", "title": "sáles", "keywords": ["BUY", ""], "next": "no"}]}),
        &[
            "/steps/s/options/0/keywords/1",
            "/steps/s/options/1/keywords/0",
            "/steps/s/options/1/keywords/1",
            "/steps/s/options/1/title",
        ],
    );
    assert_step_problems(
        json!({"type": "menu", "text": "x", "style": "buttons", "options": [{"id": "a", "title": "A", "next": "yes"}],
               "retry": {"text": "", "max": 11, "then": "no"}}),
        &["/steps/s/retry/max", "/steps/s/retry/text"],
    );
}

#[test]
fn lists_are_held_to_whatsapps_limits() {
    let row = |i: usize| json!({"id": format!("r{i}"), "title": format!("Row {i}"), "next": "yes"});
    assert_step_problems(
        json!({"type": "menu", "text": "x", "style": "list", "options": (0..11).map(row).collect::<Vec<_>>()}),
        &["/steps/s/options"],
    );
    assert_step_problems(
        json!({"type": "menu", "text": "x", "style": "list", "button": "b".repeat(21), "section": "s".repeat(25),
               "options": [{"id": "a", "title": "t".repeat(25), "description": "d".repeat(73), "next": "yes"},
                           {"id": "b", "title": "t".repeat(24), "description": "d".repeat(72), "next": "no"}]}),
        &[
            "/steps/s/button",
            "/steps/s/options/0/description",
            "/steps/s/options/0/title",
            "/steps/s/section",
        ],
    );
    assert_step_problems(
        json!({"type": "menu", "text": "x", "style": "list", "options": (0..10).map(row).collect::<Vec<_>>()}),
        &[],
    );
}

#[test]
fn questions_are_checked_for_tries_kinds_and_where_answers_go() {
    let ask = |extra: Value| {
        let mut step =
            json!({"type": "ask", "text": "?", "next": "yes", "on_fail": "no", "validate": {"kind": "text"}});
        for (k, v) in extra.as_object().into_iter().flatten() {
            step[k] = v.clone();
        }
        step
    };
    assert_step_problems(ask(json!({"max_tries": 0})), &["/steps/s/max_tries"]);
    assert_step_problems(ask(json!({"max_tries": 11})), &["/steps/s/max_tries"]);
    assert_step_problems(ask(json!({"max_tries": 10, "text": "x".repeat(4097)})), &["/steps/s/text"]);
    assert_step_problems(ask(json!({"store": {"contact": "email"}})), &["/steps/s/validate/kind"]);
    assert_step_problems(
        ask(json!({"store": {"contact": "name"}, "validate": {"kind": "email"}})),
        &["/steps/s/validate/kind"],
    );
    assert_step_problems(ask(json!({"store": {"lead": "stage"}})), &["/steps/s/validate/kind"]);
    assert_step_problems(
        ask(
            json!({"store": {"lead": "stage"}, "validate": {"kind": "options", "options": ["won", "maybe"]}}),
        ),
        &["/steps/s/validate/options/1"],
    );
    assert_step_problems(ask(json!({"store": {"attribute": " "}})), &["/steps/s/store/attribute"]);
    assert_step_problems(
        ask(json!({"validate": {"kind": "options", "options": []}})),
        &["/steps/s/validate/options"],
    );
    assert_step_problems(
        ask(json!({"validate": {"kind": "options", "options": ["Sí", "si", "3"]}})),
        &["/steps/s/validate/options/1", "/steps/s/validate/options/2"],
    );
    assert_step_problems(
        ask(json!({"validate": {"kind": "number", "min": 5, "max": 1}})),
        &["/steps/s/validate/min"],
    );
    assert_step_problems(
        ask(json!({"validate": {"kind": "text", "max_length": 0}})),
        &["/steps/s/validate/max_length"],
    );
    assert_step_problems(ask(json!({"store": {"contact": "email"}, "validate": {"kind": "email"}})), &[]);
}

#[test]
fn messages_waits_sets_and_conditions_are_checked() {
    assert_step_problems(json!({"type": "message", "next": "yes"}), &["/steps/s"]);
    assert_step_problems(
        json!({"type": "message", "text": "x", "media": {"kind": "image", "id": "1"}, "next": "yes"}),
        &["/steps/s"],
    );
    assert_step_problems(
        json!({"type": "message", "media": {"kind": "image", "id": "1", "link": "https://x"}, "next": "yes"}),
        &["/steps/s/media"],
    );
    assert_step_problems(
        json!({"type": "message", "media": {"kind": "image", "link": "http://x"}, "next": "yes"}),
        &["/steps/s/media/link"],
    );
    assert_step_problems(
        json!({"type": "message", "media": {"kind": "audio", "id": "1", "caption": "c", "filename": "f"}, "next": "yes"}),
        &["/steps/s/media/caption", "/steps/s/media/filename"],
    );
    assert_step_problems(
        json!({"type": "message", "template": {"name": "", "language": "en"}, "next": "yes"}),
        &["/steps/s/template/name"],
    );
    assert_step_problems(
        json!({"type": "wait", "timeout_minutes": 0, "next": "yes", "on_timeout": "no"}),
        &["/steps/s/timeout_minutes"],
    );
    assert_step_problems(
        json!({"type": "wait", "timeout_minutes": 10_081, "next": "yes", "on_timeout": "no"}),
        &["/steps/s/timeout_minutes"],
    );
    assert_step_problems(json!({"type": "set", "next": "yes"}), &["/steps/s"]);
    assert_step_problems(
        json!({"type": "set", "tags": [""], "attributes": {"": "v"}, "next": "yes"}),
        &["/steps/s/attributes/", "/steps/s/tags/0"],
    );
    assert_step_problems(
        json!({"type": "condition", "when": {"kind": "lead_stage", "stages": []}, "then": "yes", "else": "no"}),
        &["/steps/s/when/stages"],
    );
    assert_step_problems(json!({"type": "route", "queue": "q_7"}), &["/steps/s/queue"]);
    assert_step_problems(json!({"type": "handoff", "queue": "q_7"}), &["/steps/s/queue"]);
    assert_step_problems(json!({"type": "handoff"}), &[]);
}

#[test]
fn format_errors_are_named_by_step_or_trigger() {
    // Arrange: an unknown key, an unknown step type, an unknown validation kind, a bad trigger.
    let value = json!({"name": "t", "start": "a",
    "triggers": [{"type": "new_conversation"}, {"type": "sometimes"}],
    "steps": {
        "a": {"type": "end", "txt": "typo"},
        "b": {"type": "teleport"},
        "c": {"type": "ask", "text": "?", "validate": {"kind": "colour"}, "next": "a"},
        "ok": {"type": "end"}
    }});

    // Act
    let found = parse_definition(&value).expect_err("refused");

    // Assert
    let paths: Vec<&str> = found.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(paths, vec!["/steps/a", "/steps/b", "/steps/c", "/triggers/1"]);
    assert!(found[2].message.contains("colour"), "{}", found[2].message);
    let top = parse_definition(&json!({"name": "t", "steps": {}})).expect_err("no start");
    assert_eq!(top[0].path, "");
    let step_id = flow(json!({"name": "t", "start": "a b", "steps": {"a b": {"type": "end"}}}));
    assert_eq!(paths_of(&step_id), vec!["/steps/a b"]);
}

fn paths_of(def: &FlowDefinition) -> Vec<String> {
    paths(def)
}

#[test]
fn the_schema_describes_every_step_type() {
    // Act
    let schema = flow_schema();

    // Assert
    let text = schema.to_string();
    assert_eq!(schema["title"], "FlowDefinition");
    for step in ["message", "menu", "ask", "condition", "set", "wait", "route", "handoff", "end"] {
        assert!(text.contains(&format!("\"const\":\"{step}\"")), "{step}");
    }
    assert!(text.contains("new_conversation") && text.contains("outside_hours"));
}
