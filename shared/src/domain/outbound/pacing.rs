//! Sending pace: the throughput share of each send instance and Meta's pair limit per person.

use super::*;

/// Meta's pair limit: one message every 6 seconds to the same WhatsApp user.
pub const PAIR_INTERVAL_MS: i64 = 6_000;

/// The part of a number's throughput limit the fleet leaves unused, in percent: what absorbs
/// the clock's millisecond steps and a send reaching Meta later than [`ARRIVAL_SPREAD_MS`] allows
/// for. Without it, instances pacing at exactly their share drew 130429s in the send-fleet
/// simulation (`functions/send/src/fleet_tests.rs`: 32 instances at 400/s, two refusals).
pub const SAFETY_MARGIN_PERCENT: u64 = 5;

/// How much the time from a pacer's go to Meta counting the send (the claim write, the network)
/// may differ between two sends of one instance. Each instance counts its sends over a window
/// this much longer than Meta's second, so that sends counted in any one second of Meta's were
/// let go within one window of the instance's.
pub const ARRIVAL_SPREAD_MS: i64 = 50;

/// The throughput limit as one send instance keeps it.
///
/// Meta limits messages per second per business number. Every concurrent invocation of the
/// `send` function sends for every number, and the event source mapping caps how many run at
/// once (`MaximumConcurrency`, the template's `SendConcurrency`): each instance lets at most
/// [`Self::sends_per_window`] sends of one number go within any [`Self::window_micros`] —
/// `(per_second − margin) / instances` rounded down, within 1 s plus [`ARRIVAL_SPREAD_MS`] — so
/// that together they never exceed the limit in any one second, and no shared counter is written
/// per message (DynamoDB writes per send stay at two: claim and record).
///
/// A window, not evenly spaced slots: a batch's sends may go at once. An instance takes its next
/// batch only when the last send of the one before has returned (the SQS event source's model),
/// so with Meta's ~100 ms round trip evenly spaced slots left each instance idle for a round trip
/// per batch — half the limit in the send-fleet simulation (488/s of 1,000 over 10 instances,
/// `FLEET_GRAPH_LATENCY_MS=100`). The price: the margin, the rounding and the spread (1,000/s over
/// 8 instances: 118 each per 1.05 s, 899/s in all), and one number reaches that rate only when its
/// messages are spread over all instances — which is how SQS FIFO spreads a burst to many
/// recipients.
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

    /// This instance's whole share of [`Self::usable_per_second`]; zero when there are more
    /// instances than usable sends.
    #[must_use]
    pub fn per_instance(self) -> u64 {
        self.usable_per_second() / self.instances.max(1)
    }

    /// Sends of one number this instance lets go within any [`Self::window_micros`]: its share,
    /// or one when its share is zero.
    #[must_use]
    pub fn sends_per_window(self) -> u64 {
        self.per_instance().max(1)
    }

    /// The window, in microseconds: one second (or, with more instances than usable sends,
    /// `instances / usable` seconds, rounded up) plus [`ARRIVAL_SPREAD_MS`].
    #[must_use]
    pub fn window_micros(self) -> i64 {
        let second = match self.per_instance() {
            0 => (1_000_000 * self.instances.max(1)).div_ceil(self.usable_per_second()),
            _ => 1_000_000,
        };
        i64::try_from(second).unwrap_or(i64::MAX).saturating_add(ARRIVAL_SPREAD_MS * 1000)
    }
}

/// What [`SendPacer::acquire`] says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pace {
    /// Send now (the send is counted).
    Go,
    /// Not before this many milliseconds from now (nothing counted).
    Wait(u64),
}

/// Paces one instance's sends so that a burst queues instead of drawing 130429: at most
/// [`ThroughputShare::sends_per_window`] sends per business number within any
/// [`ThroughputShare::window_micros`]. In memory, no I/O.
#[derive(Debug)]
pub struct SendPacer {
    share: ThroughputShare,
    /// Per phone number id, when its sends of the current window went (microseconds since the
    /// epoch, oldest first; at most `sends_per_window` of them).
    sent: std::sync::Mutex<std::collections::HashMap<String, std::collections::VecDeque<i64>>>,
}

impl SendPacer {
    /// A pacer keeping `share`.
    #[must_use]
    pub fn new(share: ThroughputShare) -> Self {
        Self { share, sent: std::sync::Mutex::new(std::collections::HashMap::new()) }
    }

    /// The share it keeps.
    #[must_use]
    pub fn share(&self) -> ThroughputShare {
        self.share
    }

    /// Counts a send of `phone_number_id` at `now` if the window has room for it, or says how
    /// long to wait until it has.
    pub fn acquire(&self, phone_number_id: &str, now: Timestamp) -> Pace {
        let now_micros = now.as_millis().saturating_mul(1000);
        let window = self.share.window_micros();
        let most = usize::try_from(self.share.sends_per_window()).unwrap_or(usize::MAX);
        // A poisoned lock only means another task panicked mid-update of plain integers.
        let mut sent = self.sent.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        // The number's key is copied once, not on every call (a send that waits asks again).
        if !sent.contains_key(phone_number_id) {
            sent.insert(phone_number_id.to_owned(), std::collections::VecDeque::new());
        }
        // Present: inserted just above, under the same lock.
        let Some(times) = sent.get_mut(phone_number_id) else { return Pace::Wait(1) };
        while times.front().is_some_and(|&at| at.saturating_add(window) <= now_micros) {
            times.pop_front();
        }
        match times.front() {
            Some(&oldest) if times.len() >= most => {
                let wait_ms = (oldest.saturating_add(window) - now_micros + 999) / 1000;
                Pace::Wait(u64::try_from(wait_ms).unwrap_or(u64::MAX))
            }
            _ => {
                times.push_back(now_micros);
                Pace::Go
            }
        }
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
            // clock phase shifted; Meta counts a send up to ARRIVAL_SPREAD_MS after its go, plus
            // the clock's step (a spread drawn per send, the same every run).
            let share = ThroughputShare { per_second, instances };
            let pacers: Vec<SendPacer> = (0..instances).map(|_| SendPacer::new(share)).collect();
            let mut counted = Vec::new();
            let mut draws = crate::testing::fuzz::Rng::new(0x5EED);
            let spread_range = usize::try_from(ARRIVAL_SPREAD_MS * 1000 + 1000).unwrap_or(0);
            let mut spread_micros = || i64::try_from(draws.below(spread_range)).unwrap_or(0);

            // Act: five seconds.
            for ms in 0..5_000_i64 {
                for (i, pacer) in pacers.iter().enumerate() {
                    let at = ms + i64::try_from(i).unwrap_or(0) * 7;
                    if pacer.acquire("n1", Timestamp::from_millis(1_000_000 + at)) == Pace::Go {
                        counted.push(at * 1000 + spread_micros());
                    }
                }
            }

            // Assert
            let most = busiest(&mut counted, 1_000_000);
            assert!(most as u64 <= per_second, "{share:?}: {most} sends in one second");
            if per_second >= 80 {
                let rate = counted.len() as f64 / 5.0;
                assert!(rate >= per_second as f64 * 0.85, "{share:?} wastes little: {rate}/s");
            }
        }
    }

    #[test]
    fn batches_waiting_on_meta_round_trips_still_get_the_whole_share() {
        // Arrange: 1,000/s over 10 instances (95 sends per 1.05 s each); one instance's batches
        // of ten go at once and come back 100 ms later (Meta's round trip from AWS), the next
        // batch only then, as the SQS event source hands them out.
        let share = ThroughputShare { per_second: 1000, instances: 10 };
        let pacer = SendPacer::new(share);
        let (mut now_ms, mut sent) = (0_i64, 0_u64);

        // Act: ten seconds of batches.
        while now_ms < 10_000 {
            for _record in 0..10 {
                while let Pace::Wait(ms) = pacer.acquire("n1", Timestamp::from_millis(1_000_000 + now_ms)) {
                    now_ms += i64::try_from(ms).unwrap_or(i64::MAX);
                }
                sent += 1;
            }
            now_ms += 100;
        }

        // Assert: at least 90 % of 95 per 1.05 s (evenly spaced sends made ~51/s here).
        let rate = sent as f64 * 1000.0 / now_ms as f64;
        let share_rate = 95.0 / 1.05;
        assert!(rate >= share_rate * 0.9, "{rate}/s of {share_rate}/s");
    }

    #[test]
    fn the_pacer_lets_a_burst_go_then_waits_for_the_window_per_number() {
        // Arrange: 80/s over 40 instances: 76/s usable, one send per 1.05 s for this instance.
        let pacer = SendPacer::new(ThroughputShare { per_second: 80, instances: 40 });
        let burst = SendPacer::new(ThroughputShare { per_second: 80, instances: 2 });
        let at = |ms: i64| Timestamp::from_millis(1_000_000 + ms);

        // Act
        let first = pacer.acquire("n1", at(0));
        let too_soon = pacer.acquire("n1", at(10));
        let other_number = pacer.acquire("n2", at(10));
        let again_too_soon = pacer.acquire("n1", at(20));
        let on_time = pacer.acquire("n1", at(1_050));
        let bursts: Vec<Pace> = (0..40).map(|_| burst.acquire("n1", at(0))).collect();

        // Assert
        assert_eq!(first, Pace::Go);
        assert_eq!(too_soon, Pace::Wait(1_040));
        assert_eq!(other_number, Pace::Go);
        assert_eq!(again_too_soon, Pace::Wait(1_030), "a wait counts nothing");
        assert_eq!(on_time, Pace::Go);
        assert!(bursts[..38].iter().all(|p| *p == Pace::Go), "38 at once: {bursts:?}");
        assert_eq!(bursts[38..], [Pace::Wait(1_050), Pace::Wait(1_050)]);
    }

    #[test]
    fn the_margin_whole_shares_and_spread_are_what_the_fleet_gives_up() {
        let upper_tier = ThroughputShare { per_second: 1000, instances: 8 };
        let default_tier = ThroughputShare { per_second: 80, instances: 5 };
        let crowded = ThroughputShare { per_second: 20, instances: 40 };

        assert_eq!((upper_tier.usable_per_second(), upper_tier.sends_per_window()), (950, 118));
        assert_eq!(upper_tier.window_micros(), 1_050_000);
        assert_eq!((default_tier.sends_per_window(), default_tier.window_micros()), (15, 1_050_000));
        assert_eq!((crowded.per_instance(), crowded.sends_per_window()), (0, 1));
        assert_eq!(crowded.window_micros(), 2_105_264 + 50_000);
    }
}
