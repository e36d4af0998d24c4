//! The splitter's output pinned byte for byte: every queue message (body, group id, deduplication
//! id) and every ignored part, for the bench body, every webhook fixture and the odd shapes below,
//! as the splitter wrote them before its fast path (`fixtures/split_golden.json`, written by the
//! serde-driven splitter of commit 16b79ed). A faster splitter must write exactly the same queue
//! messages: SQS deduplicates on these ids and `inbound` reads these bodies.
//!
//! Regenerate (only for a deliberate change of the output): `WEBHOOK_WRITE_GOLDEN=1 cargo test -p
//! webhook --lib split_golden`.

use serde_json::{json, Value};

use crate::split;

const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/split_golden.json");

/// Shapes the fixtures do not have: key orders, escapes, numbers for strings, several contacts,
/// several entries and changes, errors at each level, whitespace, invalid UTF-8.
const ODD: &[(&str, &[u8])] = &[
    ("value before field, entry before object", br#"{"entry":[{"changes":[{"value":{"metadata":{"phone_number_id":"420"},"messages":[{"id":"wamid.1","from":"5511","type":"text","text":{"body":"x"}}]},"field":"messages"}],"id":"310"}],"object":"whatsapp_business_account"}"#),
    ("numeric entry id and entry time", br#"{"object":"whatsapp_business_account","entry":[{"id":310,"time":1700000000,"changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"420"},"statuses":[{"id":"wamid.9","status":"read","recipient_id":"5511"}]}}]}]}"#),
    ("escapes in ids, names and numbers", r#"{"object":"whatsapp_business_account","entry":[{"id":"3\u00310","changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"4\"2\\0\n\u0001é\u00e9/"},"contacts":[{"wa_id":"55\u00311"}],"messages":[{"from":"55\u00311","id":"wamid.\u0041\"\\","type":"text","text":{"body":"\ud83d\ude00 \" \\ \/"}}]}}]}]}"#.as_bytes()),
    ("several contacts matched by number, by user id, or not at all", br#"{"object":"whatsapp_business_account","entry":[{"id":"310","changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"420"},"contacts":[{"profile":{"name":"A"},"wa_id":"5511","user_id":"BR.1"},{"profile":{"name":"B"},"user_id":"BR.2"}],"messages":[{"from_user_id":"BR.2","id":"wamid.B","type":"text","text":{"body":"b"}},{"from":"5511","id":"wamid.A","type":"text","text":{"body":"a"}},{"from":"5599","id":"wamid.C","type":"text","text":{"body":"c"}},{"id":"wamid.D","type":"text"},{"from":5511,"id":"wamid.E"}]}}]}]}"#),
    ("a message without an id, a status without id or status", br#"{"object":"whatsapp_business_account","entry":[{"id":"310","changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"420"},"messages":[{"from":"5511","type":"text"}],"statuses":[{"recipient_user_id":"BR.1"},{"id":"wamid.2","status":"failed","recipient_id":"5511","errors":[{"code":131047}]}]}}]}]}"#),
    ("preferences with number, string, float, negative and missing timestamps", br#"{"object":"whatsapp_business_account","entry":[{"id":"310","changes":[{"field":"user_preferences","value":{"metadata":{"phone_number_id":"420"},"user_preferences":[{"wa_id":"5511","value":"stop","timestamp":4},{"user_id":"BR.1","value":"resume","timestamp":"5"},{"wa_id":"5511","value":"stop","timestamp":4.5},{"wa_id":"5511","value":"stop","timestamp":-4},{"wa_id":"5511","value":"stop"},{"wa_id":"5511","value":"stop","timestamp":null}]}}]}]}"#),
    ("value errors", br#"{"object":"whatsapp_business_account","entry":[{"id":"310","changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"420"},"errors":[{"code":131000,"title":"x"},{"code":1}]}}]}]}"#),
    ("value without metadata, numeric phone number id, value not an object", br#"{"object":"whatsapp_business_account","entry":[{"id":"310","changes":[{"field":"messages","value":{"messages":[{"id":"wamid.1"}]}},{"field":"messages","value":{"metadata":{"phone_number_id":420}}},{"field":"user_preferences","value":"nope"},{"field":"messages","value":{"metadata":{"phone_number_id":"420"},"messages":null}}]}]}"#),
    ("a message change and a template update in one body", br#"{"object":"whatsapp_business_account","entry":[{"id":"310","time":7,"changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"420"},"messages":[{"from":"5511","id":"wamid.1"}]}},{"field":"message_template_status_update","value":{"event":"APPROVED","message_template_id":1}}]},{"id":"311","changes":[{"field":"phone_number_quality_update","value":"odd"},{"field":"account_update","value":[1,2]}]}]}"#),
    ("pretty-printed", b"{\n  \"object\": \"whatsapp_business_account\",\n  \"entry\": [ {\n    \"id\": \"310\",\n    \"changes\": [ {\n      \"value\": {\n        \"metadata\": { \"phone_number_id\": \"420\" },\n        \"contacts\": [ { \"wa_id\": \"5511\" } ],\n        \"messages\": [ { \"from\": \"5511\", \"id\": \"wamid.1\",\n          \"text\": { \"body\": \"x\" } } ]\n      },\n      \"field\": \"messages\"\n    } ]\n  } ]\n}\n"),
    ("duplicate keys in a message, in a value, in the body", br#"{"object":"whatsapp_business_account","entry":[{"id":"310","changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"420"},"messages":[{"from":"5511","id":"wamid.1","id":"wamid.2"}]}},{"field":"messages","value":{"metadata":{"phone_number_id":"420"},"messages":[],"messages":[]}}]}]}"#),
    ("duplicate object", br#"{"object":"whatsapp_business_account","object":"page","entry":[]}"#),
    ("leads: string, number, float and missing leadgen ids, other page fields", br#"{"object":"page","entry":[{"id":"153","time":1,"changes":[{"field":"leadgen","value":{"leadgen_id":"777","form_id":1}},{"field":"leadgen","value":{"leadgen_id":778}},{"field":"leadgen","value":{"leadgen_id":7.5}},{"field":"leadgen","value":{"form_id":1}},{"field":"feed","value":{}}]},{"id":154,"changes":[{"field":"leadgen","value":{"leadgen_id":"9\u0039"}}]}]}"#),
    ("unknown object", br#"{"object":"instagram","entry":[{"id":"1","changes":[]}]}"#),
    ("entry not a list", br#"{"object":"whatsapp_business_account","entry":"nope"}"#),
    ("entry id a float, negative, null", br#"{"object":"whatsapp_business_account","entry":[{"id":1.5,"changes":[]},{"id":-1},{"id":null}]}"#),
    ("no object", br#"{"entry":[]}"#),
    ("empty object", b"{}"),
    ("a list", b"[]"),
    ("not JSON", b"{not json"),
    ("empty", b""),
    ("trailing bytes", br#"{"object":"whatsapp_business_account","entry":[]} x"#),
    ("invalid UTF-8 in a string", b"{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":\"3\xff0\",\"changes\":[]}]}"),
    ("unknown fields at every level", br#"{"object":"whatsapp_business_account","extra":{"a":[1,{"b":"c"}]},"entry":[{"id":"310","x":1,"changes":[{"field":"messages","y":[true,null],"value":{"messaging_product":"whatsapp","metadata":{"phone_number_id":"420","display_phone_number":"1"},"z":{},"messages":[{"from":"5511","id":"wamid.1","context":{"from":"x","id":"y"},"type":"text","text":{"body":"x"}}]}}]}]}"#),
];

fn inputs() -> Vec<(String, Vec<u8>)> {
    let mut inputs = vec![(
        "bench one_text_bsuid.json".to_owned(),
        include_bytes!("../benches/one_text_bsuid.json").to_vec(),
    )];
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/webhooks");
    let mut fixtures: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .expect("fixtures")
        .map(|entry| {
            let path = entry.expect("entry").path();
            let name = path.file_name().expect("a name").to_string_lossy().into_owned();
            (format!("fixture {name}"), std::fs::read(&path).expect("readable"))
        })
        .collect();
    fixtures.sort();
    inputs.extend(fixtures);
    inputs.extend(ODD.iter().map(|(name, body)| ((*name).to_owned(), body.to_vec())));
    inputs
}

fn output(body: &[u8]) -> Value {
    match split::split(body) {
        Ok(split) => json!({
            "messages": split.messages.iter().map(|m| json!({
                "body": m.body, "group_id": m.group_id, "dedup_id": m.dedup_id,
            })).collect::<Vec<_>>(),
            "ignored": split.ignored,
        }),
        Err(e) => json!({ "error": e.to_string() }),
    }
}

#[test]
fn split_golden_every_input_splits_as_pinned() {
    // Arrange
    let inputs = inputs();

    // Act
    let actual: Vec<Value> =
        inputs.iter().map(|(name, body)| json!({ "input": name, "output": output(body) })).collect();

    // Assert
    let actual = serde_json::to_string_pretty(&actual).expect("JSON") + "\n";
    if std::env::var_os("WEBHOOK_WRITE_GOLDEN").is_some() {
        std::fs::write(GOLDEN, &actual).expect("writable");
    }
    let expected = std::fs::read_to_string(GOLDEN).expect("the golden file");
    assert!(actual.len() > 10_000 && inputs.len() >= 29 + 1 + ODD.len());
    for (a, e) in actual.lines().zip(expected.lines()) {
        assert_eq!(a, e, "the split differs from {GOLDEN}");
    }
    assert_eq!(actual.lines().count(), expected.lines().count(), "the split differs from {GOLDEN}");
}
