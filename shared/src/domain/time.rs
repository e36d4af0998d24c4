//! Time as the domain sees it: instants in epoch milliseconds, expiry in epoch seconds (the
//! table's TTL attribute), and a [`Clock`] port so that day-based rules can be tested with a
//! clock the test moves.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// An instant, in milliseconds since the Unix epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(i64);

impl Timestamp {
    /// From milliseconds since the epoch.
    #[must_use]
    pub const fn from_millis(millis: i64) -> Self {
        Self(millis)
    }

    /// From seconds since the epoch (Meta's webhook timestamps).
    #[must_use]
    pub const fn from_secs(secs: i64) -> Self {
        Self(secs.saturating_mul(1000))
    }

    /// Milliseconds since the epoch.
    #[must_use]
    pub const fn as_millis(self) -> i64 {
        self.0
    }

    /// Whole seconds since the epoch.
    #[must_use]
    pub const fn as_secs(self) -> i64 {
        self.0.div_euclid(1000)
    }

    /// This instant moved forward by `by` (saturating).
    #[must_use]
    pub fn plus(self, by: Duration) -> Self {
        let millis = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        Self(self.0.saturating_add(millis))
    }
}

impl Timestamp {
    /// The UTC calendar month, as `yyyy-mm` (usage counters by month).
    #[must_use]
    pub fn utc_month(self) -> String {
        // Howard Hinnant's civil-from-days.
        let days = self.as_secs().div_euclid(86_400) + 719_468;
        let era = days.div_euclid(146_097);
        let day_of_era = days - era * 146_097;
        let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
        let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
        let mp = (5 * day_of_year + 2) / 153;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = year_of_era + era * 400 + i64::from(month <= 2);
        format!("{year:04}-{month:02}")
    }
}

/// When an item stops existing, in epoch seconds: the value of the table's TTL attribute
/// `expires_at`. DynamoDB deletes expired items lazily (often days late) and moto never does,
/// so every read also checks [`ExpiresAt::is_expired`] (P56).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ExpiresAt(i64);

impl ExpiresAt {
    /// From epoch seconds.
    #[must_use]
    pub const fn from_epoch_secs(secs: i64) -> Self {
        Self(secs)
    }

    /// `ttl` after `now`.
    #[must_use]
    pub fn after(now: Timestamp, ttl: Duration) -> Self {
        Self(now.plus(ttl).as_secs())
    }

    /// Epoch seconds, as stored.
    #[must_use]
    pub const fn epoch_secs(self) -> i64 {
        self.0
    }

    /// True once `now` has reached the expiry second.
    #[must_use]
    pub const fn is_expired(self, now: Timestamp) -> bool {
        now.as_secs() >= self.0
    }
}

impl From<ExpiresAt> for Timestamp {
    fn from(expires: ExpiresAt) -> Self {
        Self::from_secs(expires.0)
    }
}

/// The source of the current time. Production uses [`SystemClock`]; tests use a clock they
/// control (`testing::ManualClock`), so that "90 days later" takes no time.
pub trait Clock: Send + Sync {
    /// The current instant.
    fn now(&self) -> Timestamp;
}

/// The machine's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let millis = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        Timestamp(millis)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_utc_month_of_an_instant() {
        assert_eq!(Timestamp::from_secs(0).utc_month(), "1970-01");
        assert_eq!(Timestamp::from_secs(1_795_444_943).utc_month(), "2026-11");
        assert_eq!(Timestamp::from_secs(951_782_400).utc_month(), "2000-02", "29 Feb 2000");
        assert_eq!(Timestamp::from_secs(951_868_799).utc_month(), "2000-02");
        assert_eq!(Timestamp::from_secs(951_868_800).utc_month(), "2000-03");
    }

    #[test]
    fn expiry_is_reached_at_its_second() {
        let now = Timestamp::from_secs(1_000);
        let expires = ExpiresAt::after(now, Duration::from_secs(60));
        assert_eq!(expires.epoch_secs(), 1_060);
        assert!(!expires.is_expired(Timestamp::from_millis(1_059_999)));
        assert!(expires.is_expired(Timestamp::from_secs(1_060)));
    }
}
