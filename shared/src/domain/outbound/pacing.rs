//! Sending pace: the throughput share of each send instance and Meta's pair limit per person.

use super::*;

/// Meta's pair limit: one message every 6 seconds to the same WhatsApp user.
pub const PAIR_INTERVAL_MS: i64 = 6_000;

/// The part of a number's throughput limit the fleet leaves unused, in percent: what absorbs
/// the time between a pacer's slot and Meta counting the send (the claim write, the network),
/// which moves sends of one instance closer together than their slots, and the clock's
/// millisecond steps. Without it, instances pacing at exactly their share drew 130429s in the
/// send-fleet simulation (`functions/send/src/fleet_tests.rs`: 32 instances at 400/s, two
/// refusals), because any one second of Meta's sliding window can catch a send of each instance
/// early or late.
pub const SAFETY_MARGIN_PERCENT: u64 = 5;

/// The throughput limit as one send instance keeps it.
///
/// Meta limits messages per second per business number. Every concurrent invocation of the
/// `send` function sends for every number, and the event source mapping caps how many run at
/// once (`MaximumConcurrency`, the template's `SendConcurrency`): each instance keeps a whole
/// number of sends per second, `(per_second − margin) / instances` rounded down, for itself, so
/// that together they never exceed the limit in any one second, and no shared counter is
/// written per message (DynamoDB writes per send stay at two: claim and record). Whole sends:
/// evenly spaced sends at a fractional rate put one more send than the rate into some seconds
/// (12.5/s spaced 80 ms gives 13 in a second), which summed over instances exceeds the limit.
/// The price: [`SAFETY_MARGIN_PERCENT`] and the rounding (1,000/s over 8 instances: 118 each,
/// 944/s in all), and one number reaches that rate only when its messages are spread over all
/// instances — which is how SQS FIFO spreads a burst to many recipients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThroughputShare {
    /// Messages per second from one business number (Meta's limit: 80 by default).
    pub per_second: u64,
    /// How many send instances share it (at least 1).
    pub instances: u64,
}

impl ThroughputShare {
    /// Sends of one number per second the fleet aims at: the limit less the margin (at least 1).
    #[must_use]
    pub fn usable_per_second(self) -> u64 {
        (self.per_second.saturating_mul(100 - SAFETY_MARGIN_PERCENT) / 100).max(1)
    }

    /// Sends of one number this instance makes in any one second: its whole share of
    /// [`Self::usable_per_second`]; zero when there are more instances than usable sends.
    #[must_use]
    pub fn per_instance(self) -> u64 {
        self.usable_per_second() / self.instances.max(1)
    }

    /// Microseconds between two sends of one number from this instance (rounded up: the
    /// instances together stay under the limit). With more instances than usable sends per
    /// second, each sends once every `instances / usable` seconds.
    #[must_use]
    pub fn spacing_micros(self) -> i64 {
        let micros = match self.per_instance() {
            0 => (1_000_000 * self.instances.max(1)).div_ceil(self.usable_per_second()),
            whole => 1_000_000u64.div_ceil(whole),
        };
        i64::try_from(micros).unwrap_or(i64::MAX)
    }
}

/// The clock's step ([`Timestamp`] counts milliseconds): the lateness a slot forgives.
const CLOCK_STEP_MICROS: i64 = 1000;

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
        // The next slot follows this one, not `now`: a send woken in the millisecond after its
        // slot (the clock's step) must not push every later slot back, or the instance would
        // keep well under its share. More lateness than that is not made up (no burst after a
        // pause).
        let slot = if next == i64::MIN { now_micros } else { next.max(now_micros - CLOCK_STEP_MICROS) };
        slots.insert(phone_number_id.to_owned(), slot.saturating_add(spacing));
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The most sends of `times` (microseconds) within any `window` microseconds.
    fn busiest(times: &mut [i64], window: i64) -> usize {
        times.sort_unstable();
        let mut first = 0;
        let mut most = 0;
        for (last, at) in times.iter().enumerate() {
            while times[first] + window <= *at {
                first += 1;
            }
            most = most.max(last + 1 - first);
        }
        most
    }

    #[test]
    fn a_fleet_of_greedy_pacers_never_puts_more_than_the_limit_in_any_second() {
        for (per_second, instances) in [(1000, 8), (1000, 5), (400, 32), (80, 5), (80, 3), (80, 1), (20, 7)] {
            // Arrange: each instance asks every millisecond (as many waiting sends would), its
            // clock phase shifted; a send reaches Meta up to 1 ms after its slot's millisecond
            // (the clock's step), so the window counted is 1 ms wider than Meta's.
            let share = ThroughputShare { per_second, instances };
            let pacers: Vec<SendPacer> = (0..instances).map(|_| SendPacer::new(share)).collect();
            let mut sent = Vec::new();

            // Act: five seconds.
            for ms in 0..5_000_i64 {
                for (i, pacer) in pacers.iter().enumerate() {
                    let phase = i64::try_from(i).unwrap_or(0) * 7;
                    if pacer.acquire("n1", Timestamp::from_millis(1_000_000 + ms + phase)) == Pace::Go {
                        sent.push((ms + phase) * 1000);
                    }
                }
            }

            // Assert
            let most = busiest(&mut sent, 1_001_000);
            assert!(most as u64 <= per_second, "{share:?}: {most} sends in one second");
            if per_second >= 80 {
                let rate = sent.len() as f64 / 5.0;
                assert!(rate >= per_second as f64 * 0.85, "{share:?} wastes little: {rate}/s");
            }
        }
    }

    #[test]
    fn the_margin_and_whole_shares_are_what_the_fleet_gives_up() {
        let upper_tier = ThroughputShare { per_second: 1000, instances: 8 };
        let default_tier = ThroughputShare { per_second: 80, instances: 5 };
        let crowded = ThroughputShare { per_second: 20, instances: 40 };

        assert_eq!((upper_tier.usable_per_second(), upper_tier.per_instance()), (950, 118));
        assert_eq!(upper_tier.spacing_micros(), 8_475);
        assert_eq!((default_tier.per_instance(), default_tier.spacing_micros()), (15, 66_667));
        assert_eq!((crowded.per_instance(), crowded.spacing_micros()), (0, 2_105_264));
    }
}
