//! P17: after the whole end-to-end suite ran against the stack, no function log line holds a
//! phone number (however spelled), an email address (in any case), or a message body, name or
//! token the tests used; and a leak planted in a log fails the scan.
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

/// Characters people and programs put between a phone number's digits.
const PHONE_SEPARATORS: &[u8] = b" -().";

/// The line with separators between digits taken out, so `+55 (11) 98888-7777` reads as
/// `+5511988887777` (a timestamp or an id has none between its digits, so it is unchanged).
fn without_digit_separators(line: &str) -> String {
    let bytes = line.as_bytes();
    let mut out = String::with_capacity(line.len());
    for (i, c) in line.char_indices() {
        if c.is_ascii() && PHONE_SEPARATORS.contains(&(c as u8)) {
            let before = out.chars().last().is_some_and(|p| p.is_ascii_digit());
            let after =
                bytes[i + 1..].iter().find(|b| !PHONE_SEPARATORS.contains(b)).is_some_and(u8::is_ascii_digit);
            if before && after {
                continue;
            }
        }
        out.push(c);
    }
    out
}

/// Phone numbers the tests use — `5511` + 9 digits (customers), the demo's display number —
/// however they are spelled (`+55 11 98888-7777`, `55 (11) 98888.7777`).
fn holds_phone_number(line: &str) -> bool {
    let line = without_digit_separators(line);
    let bytes = line.as_bytes();
    let digit_run_at = |start: usize, len: usize| {
        bytes.len() >= start + len
            && bytes[start..start + len].iter().all(u8::is_ascii_digit)
            && bytes.get(start + len).is_none_or(|b| !b.is_ascii_digit())
            && (start == 0 || !bytes[start - 1].is_ascii_digit())
    };
    line.match_indices("5511").any(|(at, _)| digit_run_at(at, 13)) || line.contains("15550100001")
}

/// Any email address, whatever its case: `local@domain.tld`.
fn holds_email(line: &str) -> bool {
    let bytes = line.as_bytes();
    let local = |b: &u8| b.is_ascii_alphanumeric() || b"._%+-".contains(b);
    let domain = |b: &u8| b.is_ascii_alphanumeric() || b".-".contains(b);
    line.match_indices('@').any(|(at, _)| {
        let has_local = at > 0 && local(&bytes[at - 1]);
        let host: Vec<u8> = bytes[at + 1..].iter().copied().take_while(domain).collect();
        let host = String::from_utf8_lossy(&host).trim_end_matches('.').to_owned();
        let tld = host.rsplit_once('.').map(|(_, tld)| tld).unwrap_or_default();
        has_local && tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic())
    })
}

/// What a log line gives away, if anything: a phone number, an email, or something the tests
/// sent (compared case-insensitively).
fn finding(line: &str) -> Option<String> {
    if holds_phone_number(line) {
        return Some("a phone number".to_owned());
    }
    if holds_email(line) {
        return Some("an email address".to_owned());
    }
    let lower = line.to_lowercase();
    SENT_CONTENT.iter().find(|c| lower.contains(&c.to_lowercase())).map(|c| format!("{c:?}"))
}

/// Every finding in the function logs under `logs`, as `file: what: line`; and how many lines
/// were read.
/// Every function of the stack, each with its log file.
const FUNCTIONS: [&str; 8] =
    ["webhook", "inbound", "send", "suggest", "retention", "import", "api", "realtime"];

fn scan(logs: &Path) -> (Vec<String>, usize) {
    let mut findings = Vec::new();
    let mut lines = 0;
    for function in FUNCTIONS {
        let path = logs.join(format!("{function}.log"));
        let text =
            std::fs::read_to_string(Path::new(&path)).unwrap_or_else(|_| panic!("{} exists", path.display()));
        for line in text.lines() {
            lines += 1;
            if let Some(what) = finding(line) {
                findings.push(format!("{function}.log: {what}: {line}"));
            }
        }
    }
    (findings, lines)
}

#[tokio::test]
#[ignore = "runs after the end-to-end suite (infra/test.sh), so that it sees every test's logs"]
async fn no_function_log_line_holds_personal_data_or_secrets() {
    let (findings, lines) = scan(&state_dir().join("logs"));

    assert!(findings.is_empty(), "personal data or secrets in the logs:\n{}", findings.join("\n"));
    assert!(lines > 100, "the suite ran and the functions logged ({lines} lines)");
}

#[test]
fn a_planted_leak_fails_the_scan() {
    // Arrange: every function's log, clean, then each with one leak planted.
    let dir =
        std::env::temp_dir().join(format!("leadline-log-scan-{}", infra::random_hex(8).expect("random")));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let clean = r#"{"timestamp":"2026-12-02T05:44:14.238531Z","level":"INFO","message":"Inbound message","spans":[{"tenant_id":"tn_01m845z2f9zn4q3hnd7cyrefbn"}]}"#;
    let write = |function: &str, extra: &str| {
        std::fs::write(dir.join(format!("{function}.log")), format!("{clean}\n{extra}\n")).expect("write");
    };
    for function in FUNCTIONS {
        write(function, clean);
    }
    let (none, _) = scan(&dir);
    let leaks = [
        r#"{"message":"sending","to":"+55 11 98888-7777"}"#,
        r#"{"message":"sending","to":"55 (11) 98888.7777"}"#,
        r#"{"message":"contact","email":"Ana.Lima@Example.COM"}"#,
        r#"{"message":"contact","email":"someone@leadline.dev"}"#,
        r#"{"message":"contact","name":"ANA SOUZA"}"#,
        r#"{"message":"request","uri":"/v1/contacts?phone=5511988887777"}"#,
    ];

    // Act / Assert
    assert!(none.is_empty(), "{none:?}");
    for (leak, function) in leaks.iter().zip(FUNCTIONS.iter().cycle()) {
        write(function, leak);
        let (found, _) = scan(&dir);
        assert_eq!(found.len(), 1, "the planted leak {leak} in {function}.log is found: {found:?}");
        write(function, clean);
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn the_phone_pattern_finds_numbers_and_not_timestamps_or_ids() {
    assert!(holds_phone_number(r#"{"to":"5511988887777"}"#));
    assert!(holds_phone_number("wa_id=5511988887777 done"));
    assert!(holds_phone_number("+55 11 98888-7777"));
    assert!(holds_phone_number("+55 (11) 9 8888-7777"));
    assert!(!holds_phone_number(r#"{"timestamp":"1795436826127"}"#));
    assert!(!holds_phone_number(r#"{"timestamp":"2026-12-02T05:44:14.238531Z"}"#));
    assert!(!holds_phone_number(r#"{"tenant_id":"tn_01m845z2f9zn4q3hnd7cyrefbn"}"#));
    assert!(!holds_phone_number("wamid.HBgN55119888877770001AA=="));
    assert!(!holds_phone_number(r#"{"latencyMs":"12","count":5511}"#));
}

#[test]
fn the_email_pattern_finds_addresses_in_any_case_and_not_handles() {
    assert!(holds_email("ana@example.com"));
    assert!(holds_email(r#""email":"ANA.LIMA@EXAMPLE.COM.BR""#));
    assert!(!holds_email("@handle wrote"));
    assert!(!holds_email("image@2x"));
    assert!(!holds_email(r#"{"message":"no address here"}"#));
}
