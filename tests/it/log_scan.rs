//! P17: after the whole end-to-end suite ran against the stack, no function log line holds a
//! phone number, email, message body or token the tests used.
//!
//! Ignored in the main run (it must see every other test's logs); `infra/test.sh` runs it after
//! the suite with `--ignored`.

use std::path::Path;

use crate::e2e::state_dir;

/// What the tests sent that must never be logged, beside the patterns below.
const SENT_CONTENT: &[&str] = &[
    // Message bodies and captions of the fixtures.
    "quero saber o pre",
    "segue o comprovante",
    "mang\u{e9} des p\u{e2}tes",
    "mang\\u00e9",
    "campos novos",
    "sem telefone",
    "Parar promo",
    "entregar \u{e0} tarde",
    "Falar com atendente",
    // Names and emails.
    "Ana Souza",
    "J\u{e9}r\u{f4}me",
    "Username User",
    "example.com",
    // What the API tests send: names, notes, passwords, CSV rows.
    "Eva Souza",
    "track me",
    "still there?",
    "seu pedido saiu",
    "Ana Lima",
    "Prefers mornings",
    "Called back",
    "Send offer",
    "S\u{e3}o Paulo",
    "correct horse battery",
    "another long passphrase",
    // What the AI tests send and get back: a body, a phone spelled with separators, provider
    // keys, and the sandbox provider's replies and summary.
    "cadeiras azuis",
    "98765-4321",
    "sk-e2e-",
    "Thanks for your message",
    "The customer asks about a product",
    // Credentials the API hands out: keys, refresh and invitation tokens, access tokens (JWT).
    "llk.",
    "llr.",
    "lli.",
    "eyJhbGciOi",
    // Tokens (access, Page, demo).
    "EAAINGEST",
    "EAAPAGE",
    "EAASECRET",
    "EAALOCAL",
    "EAAG",
];

/// Phone numbers the tests use: `5511` + 9 digits (customers), and the demo's display number.
fn holds_phone_number(line: &str) -> bool {
    let bytes = line.as_bytes();
    let digit_run_at = |start: usize, len: usize| {
        bytes.len() >= start + len
            && bytes[start..start + len].iter().all(u8::is_ascii_digit)
            && bytes.get(start + len).is_none_or(|b| !b.is_ascii_digit())
            && (start == 0 || !bytes[start - 1].is_ascii_digit())
    };
    line.match_indices("5511").any(|(at, _)| digit_run_at(at, 13)) || line.contains("15550100001")
}

#[tokio::test]
#[ignore = "runs after the end-to-end suite (infra/test.sh), so that it sees every test's logs"]
async fn no_function_log_line_holds_personal_data_or_secrets() {
    let logs = state_dir().join("logs");
    let mut lines = 0;
    for function in ["webhook", "inbound", "send", "suggest", "retention", "import", "api"] {
        let path = logs.join(format!("{function}.log"));
        let text =
            std::fs::read_to_string(Path::new(&path)).unwrap_or_else(|_| panic!("{} exists", path.display()));
        for line in text.lines() {
            lines += 1;
            assert!(!holds_phone_number(line), "{function}.log holds a phone number: {line}");
            for content in SENT_CONTENT {
                assert!(!line.contains(content), "{function}.log holds {content:?}: {line}");
            }
        }
    }
    assert!(lines > 100, "the suite ran and the functions logged ({lines} lines)");
}

#[test]
fn the_phone_pattern_finds_numbers_and_not_timestamps_or_ids() {
    assert!(holds_phone_number(r#"{"to":"5511988887777"}"#));
    assert!(holds_phone_number("wa_id=5511988887777 done"));
    assert!(!holds_phone_number(r#"{"timestamp":"1795436826127"}"#));
    assert!(!holds_phone_number(r#"{"tenant_id":"tn_01m845z2f9zn4q3hnd7cyrefbn"}"#));
    assert!(!holds_phone_number("wamid.HBgN55119888877770001AA=="));
}
