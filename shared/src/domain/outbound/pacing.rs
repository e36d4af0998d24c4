//! Sending pace: the throughput share of each send instance and Meta's pair limit per person.

use super::*;

/// Meta's pair limit: one message every 6 seconds to the same WhatsApp user.
pub const PAIR_INTERVAL_MS: i64 = 6_000;

/// The throughput limit as one send instance keeps it.
///
/// Meta limits messages per second per business number. Every concurrent invocation of the
/// `send` function sends for every number, and the event source mapping caps how many run at
/// once (`MaximumConcurrency`, the template's `SendConcurrency`): each instance keeps
/// `per_second / instances` for itself, so that together they never exceed the limit, and no
/// shared counter is written per message (DynamoDB writes per send stay at two: claim and
/// record). The price: one number reaches its full rate only when its messages are spread over
/// all instances — which is how SQS FIFO spreads a burst to many recipients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThroughputShare {
    /// Messages per second from one business number (Meta's limit: 80 by default).
    pub per_second: u64,
    /// How many send instances share it (at least 1).
    pub instances: u64,
}

impl ThroughputShare {
    /// Microseconds between two sends of one number from this instance (rounded up: the
    /// instances together stay at or under the limit).
    #[must_use]
    pub fn spacing_micros(self) -> i64 {
        let per_second = self.per_second.max(1);
        let micros = (1_000_000 * self.instances.max(1)).div_ceil(per_second);
        i64::try_from(micros).unwrap_or(i64::MAX)
    }
}

/// What [`SendPacer::acquire`] says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pace {
    /// Send now (the slot is taken).
    Go,
    /// Not before this many milliseconds from now (nothing taken).
    Wait(u64),
}

/// Paces one instance's sends so that a burst queues instead of drawing 130429: evenly spaced
/// slots per business number at this instance's [`ThroughputShare`]. In memory, no I/O.
#[derive(Debug)]
pub struct SendPacer {
    share: ThroughputShare,
    /// Next free slot per phone number id, in microseconds since the epoch.
    next_slot: std::sync::Mutex<std::collections::HashMap<String, i64>>,
}

impl SendPacer {
    /// A pacer keeping `share`.
    #[must_use]
    pub fn new(share: ThroughputShare) -> Self {
        Self { share, next_slot: std::sync::Mutex::new(std::collections::HashMap::new()) }
    }

    /// The share it keeps.
    #[must_use]
    pub fn share(&self) -> ThroughputShare {
        self.share
    }

    /// Takes the next slot of `phone_number_id` if it has come at `now`, or says how long to wait.
    pub fn acquire(&self, phone_number_id: &str, now: Timestamp) -> Pace {
        let now_micros = now.as_millis().saturating_mul(1000);
        let spacing = self.share.spacing_micros();
        // A poisoned lock only means another task panicked mid-update of plain integers.
        let mut slots = self.next_slot.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let next = slots.get(phone_number_id).copied().unwrap_or(i64::MIN);
        if next > now_micros {
            let wait_ms = (next - now_micros + 999) / 1000;
            return Pace::Wait(u64::try_from(wait_ms).unwrap_or(u64::MAX));
        }
        slots.insert(phone_number_id.to_owned(), now_micros.saturating_add(spacing));
        Pace::Go
    }
}

/// How long to wait before the next message to one person: Meta's pair limit counted from
/// `previous_send` (when Meta accepted the last message to them). Zero when it has passed.
#[must_use]
pub fn pair_wait(previous_send: Option<Timestamp>, interval_ms: i64, now: Timestamp) -> u64 {
    previous_send
        .map(|at| at.as_millis().saturating_add(interval_ms) - now.as_millis())
        .and_then(|ms| u64::try_from(ms).ok())
        .unwrap_or(0)
}
