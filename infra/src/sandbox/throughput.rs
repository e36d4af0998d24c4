//! Meta's throughput limit in the sandbox (issue #19's send fleet): `POST /_sandbox/throughput`
//! with `{"per_second": 1000}` makes the sandbox refuse, per business phone number id, a message
//! send that would put more than `per_second` accepted sends in one second — counted over a
//! sliding one-second window of the sends it accepted — with code 130429, as Meta refuses it;
//! `{"per_second": null}` turns it off again, which is how the sandbox starts (nothing else
//! changes unless a test asks). Read receipts (`"status": "read"`) are not messages and are not
//! counted.
//!
//! `GET /_sandbox/throughput` shows the limit and the counters since the sandbox started: sends
//! accepted, and sends refused by Meta code (the limit's 130429s and the injected faults), per
//! number and in all, so that a simulation can check that not one send drew a 130429.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{bad_request, Sandbox};

/// The window the limit is counted over.
pub const WINDOW: Duration = Duration::from_secs(1);

/// Meta's code for a send over the number's throughput.
pub const RATE_LIMIT_HIT: i64 = 130_429;

/// What `POST /_sandbox/throughput` takes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThroughputRequest {
    /// Accepted message sends per business number in any one second; `null` turns the limit off.
    pub per_second: Option<u64>,
}

/// The sends of one number (or of all), as the sandbox counted them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SendCounters {
    /// Message sends answered as taken.
    pub accepted: u64,
    /// Message sends refused, by Meta code.
    pub refused: BTreeMap<i64, u64>,
}

/// What `GET /_sandbox/throughput` answers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ThroughputView {
    /// The limit enforced, if any.
    pub per_second: Option<u64>,
    /// The window it is counted over, in milliseconds.
    pub window_ms: u64,
    /// Every number's sends together.
    pub total: SendCounters,
    /// By business phone number id.
    pub numbers: BTreeMap<String, SendCounters>,
}

/// The limit, its sliding windows and the counters.
#[derive(Debug, Default)]
pub(super) struct Throughput {
    per_second: Option<u64>,
    /// When each send a number had accepted within the last window was taken, oldest first.
    recent: HashMap<String, VecDeque<Instant>>,
    counters: BTreeMap<String, SendCounters>,
}

impl Throughput {
    /// Enforces `per_second` from now on (`None`: no limit); the windows start empty.
    pub(super) fn set_limit(&mut self, per_second: Option<u64>) {
        self.per_second = per_second;
        self.recent.clear();
    }

    /// Whether a message send of `number` at `now` fits the limit: when it does, it takes its
    /// place in the window and is counted accepted; when not, it is counted refused (130429).
    pub(super) fn admit(&mut self, number: &str, now: Instant) -> bool {
        let fits = match self.per_second {
            None => true,
            Some(limit) => {
                let window = self.recent.entry(number.to_owned()).or_default();
                // A send exactly one window ago has left it: the window is (now - 1 s, now].
                while window.front().is_some_and(|at| now.saturating_duration_since(*at) >= WINDOW) {
                    window.pop_front();
                }
                let fits = u64::try_from(window.len()).unwrap_or(u64::MAX) < limit;
                if fits {
                    window.push_back(now);
                }
                fits
            }
        };
        if fits {
            self.accepted(number);
        } else {
            self.refused(number, RATE_LIMIT_HIT);
        }
        fits
    }

    /// Counts a send taken outside the limit's say (the limit is not consulted).
    pub(super) fn accepted(&mut self, number: &str) {
        self.counters.entry(number.to_owned()).or_default().accepted += 1;
    }

    /// Counts a send refused with `code`.
    pub(super) fn refused(&mut self, number: &str, code: i64) {
        *self.counters.entry(number.to_owned()).or_default().refused.entry(code).or_default() += 1;
    }

    /// The limit and the counters.
    pub(super) fn view(&self) -> ThroughputView {
        let mut total = SendCounters::default();
        for counters in self.counters.values() {
            total.accepted += counters.accepted;
            for (code, n) in &counters.refused {
                *total.refused.entry(*code).or_default() += n;
            }
        }
        ThroughputView {
            per_second: self.per_second,
            window_ms: u64::try_from(WINDOW.as_millis()).unwrap_or(u64::MAX),
            total,
            numbers: self.counters.clone(),
        }
    }
}

/// Meta's answer to a send over the number's throughput (the shape in the reference's §5.2;
/// Meta's error-code page gives HTTP 400 for it — clients must not branch on the status).
pub(super) fn rate_limit_hit() -> (StatusCode, Value) {
    (
        StatusCode::BAD_REQUEST,
        json!({"error": {
            "message": "(#130429) Rate limit hit",
            "type": "OAuthException",
            "code": RATE_LIMIT_HIT,
            "error_data": {
                "messaging_product": "whatsapp",
                "details": "Message failed to send because there were too many messages sent from this phone number in a short period of time",
            },
            "error_subcode": 2_494_055,
            "fbtrace_id": format!("sandbox-{}", crate::random_hex(6).unwrap_or_default()),
        }}),
    )
}

impl Sandbox {
    /// Enforces Meta's throughput limit of `per_second` sends per business number (`None`: off),
    /// as `POST /_sandbox/throughput` does.
    pub fn set_throughput(&self, per_second: Option<u64>) {
        if let Ok(mut state) = self.state.lock() {
            state.throughput.set_limit(per_second);
        }
    }

    /// The limit and the send counters, as `GET /_sandbox/throughput` shows them.
    #[must_use]
    pub fn throughput(&self) -> ThroughputView {
        self.state.lock().map(|state| state.throughput.view()).unwrap_or_default()
    }
}

/// `POST /_sandbox/throughput` with `{"per_second": n}` (at least 1) or `{"per_second": null}`.
pub(super) async fn set_throughput(State(sandbox): State<Sandbox>, body: Bytes) -> Response {
    let request: ThroughputRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(e) => return bad_request(format!("expected {{per_second}}: {e}")),
    };
    if request.per_second == Some(0) {
        return bad_request("per_second must be at least 1 (null turns the limit off)".to_owned());
    }
    sandbox.set_throughput(request.per_second);
    Json(sandbox.throughput()).into_response()
}

/// `GET /_sandbox/throughput`.
pub(super) async fn throughput(State(sandbox): State<Sandbox>) -> Response {
    Json(sandbox.throughput()).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NUMBER: &str = "106540352242922";

    fn limited(per_second: u64) -> Throughput {
        let mut throughput = Throughput::default();
        throughput.set_limit(Some(per_second));
        throughput
    }

    #[test]
    fn a_send_over_the_limit_within_one_second_is_refused_with_130429_and_counted() {
        let mut throughput = limited(3);
        let start = Instant::now();
        let at = |ms: u64| start + Duration::from_millis(ms);

        let admitted: Vec<bool> =
            [0, 10, 20, 999].iter().map(|ms| throughput.admit(NUMBER, at(*ms))).collect();

        assert_eq!(admitted, [true, true, true, false]);
        let view = throughput.view();
        assert_eq!(view.total, SendCounters { accepted: 3, refused: BTreeMap::from([(RATE_LIMIT_HIT, 1)]) });
        assert_eq!(view.numbers.get(NUMBER), Some(&view.total));
        assert_eq!((view.per_second, view.window_ms), (Some(3), 1000));
    }

    #[test]
    fn the_window_slides_a_send_leaves_it_exactly_one_second_after_it_was_taken() {
        let mut throughput = limited(2);
        let start = Instant::now();
        let at = |ms: u64| start + Duration::from_millis(ms);
        throughput.admit(NUMBER, at(0));
        throughput.admit(NUMBER, at(500));

        let just_before = throughput.admit(NUMBER, at(999));
        let at_one_second = throughput.admit(NUMBER, at(1000));
        let second_still_in = throughput.admit(NUMBER, at(1499));
        let second_left = throughput.admit(NUMBER, at(1500));

        assert_eq!((just_before, at_one_second, second_still_in, second_left), (false, true, false, true));
    }

    #[test]
    fn refused_sends_take_no_place_in_the_window() {
        let mut throughput = limited(1);
        let start = Instant::now();
        throughput.admit(NUMBER, start);
        for ms in [100, 200, 900] {
            throughput.admit(NUMBER, start + Duration::from_millis(ms));
        }

        let after_the_first_left = throughput.admit(NUMBER, start + Duration::from_millis(1000));

        assert!(after_the_first_left);
        assert_eq!(throughput.view().total.refused, BTreeMap::from([(RATE_LIMIT_HIT, 3)]));
    }

    #[test]
    fn each_number_has_its_own_window() {
        let mut throughput = limited(1);
        let now = Instant::now();

        let first = throughput.admit(NUMBER, now);
        let other = throughput.admit("106540352242999", now);
        let again = throughput.admit(NUMBER, now);

        assert_eq!((first, other, again), (true, true, false));
        assert_eq!(throughput.view().total.accepted, 2);
    }

    #[test]
    fn without_a_limit_every_send_is_accepted_and_still_counted() {
        let mut throughput = Throughput::default();
        let now = Instant::now();

        let admitted = (0..5_000).all(|_| throughput.admit(NUMBER, now));
        throughput.refused(NUMBER, 131_026);

        assert!(admitted);
        let view = throughput.view();
        assert_eq!(view.per_second, None);
        assert_eq!(view.total, SendCounters { accepted: 5_000, refused: BTreeMap::from([(131_026, 1)]) });
    }

    #[test]
    fn the_sandbox_refuses_message_sends_over_its_limit_but_not_read_receipts() {
        let sandbox = Sandbox::default();
        sandbox.set_throughput(Some(1));
        let send = |body: Value| {
            sandbox
                .answer_as_graph(&axum::http::Method::POST, &format!("/v23.0/{NUMBER}/messages"), None, &body)
                .0
        };
        let message = json!({"messaging_product": "whatsapp", "to": "5511999990000", "type": "text"});

        let first = send(message.clone());
        let read = send(json!({"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.X"}));
        let second = send(message);

        assert_eq!((first, read, second), (StatusCode::OK, StatusCode::OK, StatusCode::BAD_REQUEST));
        let view = sandbox.throughput();
        assert_eq!(view.total, SendCounters { accepted: 1, refused: BTreeMap::from([(RATE_LIMIT_HIT, 1)]) });
    }

    #[test]
    fn the_refusal_is_shaped_as_metas() {
        let (status, body) = rate_limit_hit();

        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["error"]["code"], RATE_LIMIT_HIT);
        assert_eq!(body["error"]["message"], "(#130429) Rate limit hit");
        assert_eq!(body["error"]["error_data"]["messaging_product"], "whatsapp");
    }
}
