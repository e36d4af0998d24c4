//! Tenants, their API keys and their WhatsApp connection.

use std::fmt;

use aws_lc_rs::constant_time::verify_slices_are_equal;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::ids::{ApiKeyId, TenantId};
use super::secret::{Sealed, Secret};
use super::time::Timestamp;
use crate::kernel::digest::sha256;
use crate::kernel::random::{self, RandomUnavailable};

/// Whether a tenant can use the product.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TenantStatus {
    /// In use.
    Active,
    /// Closed by its owner; data kept for the grace period, then purged (P53).
    Closed,
}

/// A business using Leadline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tenant {
    /// Its id.
    pub id: TenantId,
    /// The organisation's name.
    pub name: String,
    /// Active or closed.
    pub status: TenantStatus,
    /// When it was created.
    pub created_at: Timestamp,
    /// How long its data is kept.
    pub retention: RetentionSettings,
    /// Its preferences.
    pub settings: TenantSettings,
    /// What its plan allows.
    pub plan: Plan,
    /// When it was closed (the grace period runs from here).
    pub closed_at: Option<Timestamp>,
    /// The key its access tokens are signed with, sealed under `{tenant_id, token_signing_key}`.
    pub token_key: Sealed,
}

impl Tenant {
    /// A new, active tenant with the default settings, retention and plan.
    #[must_use]
    pub fn new(id: TenantId, name: String, created_at: Timestamp, token_key: Sealed) -> Self {
        Self {
            id,
            name,
            status: TenantStatus::Active,
            created_at,
            retention: RetentionSettings::default(),
            settings: TenantSettings::default(),
            plan: Plan::default(),
            closed_at: None,
            token_key,
        }
    }
}

/// Days a closed tenant can be reopened before its data is purged (P53).
pub const CLOSURE_GRACE_DAYS: i64 = 90;

/// A tenant's preferences, changed by its admins.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantSettings {
    /// A time zone of the IANA database (`Europe/Berlin`, `America/Sao_Paulo`, `UTC`), whose
    /// daylight-saving changes business hours follow, or a fixed offset from UTC (`UTC+05:30`,
    /// `UTC-03:00`). Leadline carries the database (bundled, [`TenantSettings::is_open`]).
    pub time_zone: String,
    /// When agents work, in the tenant's time zone: any number of intervals per day (at most 21
    /// in all); a day without one is closed.
    pub business_hours: Vec<BusinessHours>,
    /// Dates closed all day, `YYYY-MM-DD` in the tenant's time zone (at most 100).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(inner(regex(pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")))]
    pub holidays: Vec<String>,
    /// Inbound messages that opt the contact out (compared case-insensitively, whole message).
    pub opt_out_keywords: Vec<String>,
    /// Inbound messages that opt the contact back in.
    pub opt_in_keywords: Vec<String>,
    /// Whether AI features (reply suggestions, summaries) may process this tenant's messages.
    pub ai_enabled: bool,
    /// Auto-resolve: a worked (`open` or `pending`) conversation with no message either way for
    /// this many minutes is resolved by the system ([`MIN_AUTO_RESOLVE_MINUTES`] to
    /// [`MAX_AUTO_RESOLVE_MINUTES`]); absent or `null` (the default): never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_resolve_after_minutes: Option<u32>,
}

/// The shortest silence auto-resolve may be set to, minutes (a conversation's first silence
/// check comes this long after it becomes worked: `IDLE_CHECK_AFTER_MS`).
pub const MIN_AUTO_RESOLVE_MINUTES: u32 = 5;
/// The longest, minutes (30 days).
pub const MAX_AUTO_RESOLVE_MINUTES: u32 = 43_200;

impl Default for TenantSettings {
    fn default() -> Self {
        let weekday = |day| BusinessHours { day, open: "09:00".to_owned(), close: "17:00".to_owned() };
        Self {
            time_zone: "UTC".to_owned(),
            business_hours: [Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri]
                .into_iter()
                .map(weekday)
                .collect(),
            holidays: Vec::new(),
            opt_out_keywords: vec!["STOP".to_owned(), "UNSUBSCRIBE".to_owned()],
            opt_in_keywords: vec!["START".to_owned()],
            // Off by default: no message leaves for an AI provider unless an admin says so.
            ai_enabled: false,
            auto_resolve_after_minutes: None,
        }
    }
}

/// A day of the week.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
#[allow(missing_docs)]
pub enum Weekday {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

/// Opening hours of one day.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BusinessHours {
    /// The day.
    pub day: Weekday,
    /// Opening time, `HH:MM` (24 h).
    #[schemars(regex(pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"))]
    pub open: String,
    /// Closing time, `HH:MM` after `open`, or `24:00` for the end of the day.
    #[schemars(regex(pattern = r"^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$"))]
    pub close: String,
}

impl Weekday {
    /// Monday first.
    pub const ALL: [Self; 7] = [Self::Mon, Self::Tue, Self::Wed, Self::Thu, Self::Fri, Self::Sat, Self::Sun];

    /// The day of `epoch_day` days after 1970-01-01 (a Thursday).
    #[must_use]
    pub fn of_epoch_day(epoch_day: i64) -> Self {
        // rem_euclid(7) is 0..=6, so the index is always in bounds.
        Self::ALL[usize::try_from((epoch_day + 3).rem_euclid(7)).unwrap_or(0)]
    }
}

/// Minutes after midnight of `HH:MM` (two digits each); `24:00` only as an end of day.
fn minutes_of(hhmm: &str, end_of_day: bool) -> Option<u32> {
    if end_of_day && hhmm == "24:00" {
        return Some(24 * 60);
    }
    let (h, m) = hhmm.split_once(':')?;
    if h.len() != 2 || m.len() != 2 || !h.chars().chain(m.chars()).all(|c| c.is_ascii_digit()) {
        return None;
    }
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some(h * 60 + m)
}

impl BusinessHours {
    /// The interval in minutes after midnight, `[open, close)`; `None` when malformed.
    #[must_use]
    pub fn minutes(&self) -> Option<(u32, u32)> {
        let (open, close) = (minutes_of(&self.open, false)?, minutes_of(&self.close, true)?);
        (close > open).then_some((open, close))
    }
}

/// The offset from UTC, in minutes, of the time zones whose offset is fixed: `UTC` (and its
/// aliases), `UTC±HH:MM` (up to 14 hours) and `Etc/GMT±N` (POSIX signs: `Etc/GMT+3` is UTC-3).
#[must_use]
pub fn fixed_utc_offset_minutes(zone: &str) -> Option<i32> {
    if matches!(zone, "UTC" | "Etc/UTC" | "Etc/GMT" | "GMT" | "Etc/Universal" | "Etc/Zulu") {
        return Some(0);
    }
    let sign = |c: char| match c {
        '+' => Some(1),
        '-' => Some(-1),
        _ => None,
    };
    if let Some(rest) = zone.strip_prefix("UTC") {
        let mut chars = rest.chars();
        let direction = sign(chars.next()?)?;
        let minutes = i32::try_from(minutes_of(chars.as_str(), false)?).ok()?;
        return (minutes <= 14 * 60).then_some(direction * minutes);
    }
    let rest = zone.strip_prefix("Etc/GMT")?;
    let mut chars = rest.chars();
    let direction = sign(chars.next()?)?;
    let hours: i32 = chars.as_str().parse().ok()?;
    ((0..=14).contains(&hours) && chars.as_str().chars().all(|c| c.is_ascii_digit()))
        .then_some(-direction * hours * 60)
}

/// Days after 1970-01-01 of a `YYYY-MM-DD` date; `None` when it is not one.
fn civil_day(date: &str) -> Option<i64> {
    let (y, rest) = date.split_once('-')?;
    let (m, d) = rest.split_once('-')?;
    let digits = |text: &str, len: usize| {
        (text.len() == len && text.chars().all(|c| c.is_ascii_digit())).then(|| text.parse::<i64>().ok())?
    };
    let (year, month, day) = (digits(y, 4)?, digits(m, 2)?, digits(d, 2)?);
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days_in_month = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let last = *days_in_month.get(usize::try_from(month).ok()?.checked_sub(1)?)?;
    if !(1..=last).contains(&day) {
        return None;
    }
    // Howard Hinnant's days-from-civil.
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    Some(era * 146_097 + day_of_era - 719_468)
}

/// Why tenant settings were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidSettings {
    /// Neither a zone of the IANA database nor a fixed offset.
    #[error("time_zone must be a time zone of the IANA database (Europe/Lisbon, America/Sao_Paulo, UTC) or an offset UTC±HH:MM")]
    TimeZone,
    /// A holiday that is not a `YYYY-MM-DD` date, or more than 100.
    #[error("holidays are dates YYYY-MM-DD, at most 100")]
    Holidays,
    /// Bad `HH:MM` or close not after open.
    #[error("business_hours: open and close are HH:MM (close may be 24:00) with close after open, at most 21 intervals")]
    Hours,
    /// Keywords must be 1 to 32 characters, at most 20 of each kind, and not in both lists.
    #[error("keywords must be 1 to 32 characters, at most 20 per list, and no keyword in both lists")]
    Keywords,
    /// Auto-resolve out of bounds.
    #[error("auto_resolve_after_minutes must be 5 to 43200 (30 days), or null for never")]
    AutoResolve,
}

impl TenantSettings {
    /// Checks the settings, normalising keywords to upper case.
    ///
    /// # Errors
    /// [`InvalidSettings`] naming the first problem.
    pub fn validated(mut self) -> Result<Self, InvalidSettings> {
        if fixed_utc_offset_minutes(&self.time_zone).is_none() {
            let zone = jiff::tz::TimeZone::get(&self.time_zone).map_err(|_| InvalidSettings::TimeZone)?;
            // The database's spelling (lookups ignore case).
            if let Some(name) = zone.iana_name() {
                self.time_zone = name.to_owned();
            }
        }
        self.holidays.sort();
        self.holidays.dedup();
        if self.holidays.len() > 100 || self.holidays.iter().any(|day| civil_day(day).is_none()) {
            return Err(InvalidSettings::Holidays);
        }
        if self.business_hours.iter().any(|hours| hours.minutes().is_none()) {
            return Err(InvalidSettings::Hours);
        }
        if self.business_hours.len() > 21 {
            return Err(InvalidSettings::Hours);
        }
        for list in [&mut self.opt_out_keywords, &mut self.opt_in_keywords] {
            for keyword in list.iter_mut() {
                *keyword = keyword.trim().to_uppercase();
            }
            list.sort();
            list.dedup();
            if list.len() > 20 || list.iter().any(|k| k.is_empty() || k.chars().count() > 32) {
                return Err(InvalidSettings::Keywords);
            }
        }
        if self.opt_out_keywords.iter().any(|k| self.opt_in_keywords.contains(k)) {
            return Err(InvalidSettings::Keywords);
        }
        if self
            .auto_resolve_after_minutes
            .is_some_and(|m| !(MIN_AUTO_RESOLVE_MINUTES..=MAX_AUTO_RESOLVE_MINUTES).contains(&m))
        {
            return Err(InvalidSettings::AutoResolve);
        }
        Ok(self)
    }

    /// The time zone's offset from UTC in minutes, when it is fixed
    /// ([`fixed_utc_offset_minutes`]).
    #[must_use]
    pub fn utc_offset_minutes(&self) -> Option<i32> {
        fixed_utc_offset_minutes(&self.time_zone)
    }

    /// The time zone's offset from UTC at `at`, in minutes: the fixed offset, or the IANA
    /// zone's then (daylight saving included). A zone the database does not know (never stored
    /// since settings are validated) counts as UTC.
    #[must_use]
    pub fn utc_offset_minutes_at(&self, at: Timestamp) -> i32 {
        if let Some(fixed) = self.utc_offset_minutes() {
            return fixed;
        }
        let (Ok(zone), Ok(instant)) =
            (jiff::tz::TimeZone::get(&self.time_zone), jiff::Timestamp::from_millisecond(at.as_millis()))
        else {
            return 0;
        };
        zone.to_offset(instant).seconds() / 60
    }

    /// True when `at` falls within the business hours: its local date is not a holiday and some
    /// interval of its weekday holds its local time of day (`open` included, `close` excluded;
    /// `24:00` closes at midnight). Local time is UTC plus
    /// [`TenantSettings::utc_offset_minutes_at`]. A malformed interval (never stored: settings
    /// are validated) opens nothing.
    #[must_use]
    pub fn is_open(&self, at: Timestamp) -> bool {
        let offset = i64::from(self.utc_offset_minutes_at(at));
        let local = at.as_millis().div_euclid(60_000) + offset;
        let epoch_day = local.div_euclid(24 * 60);
        if self.holidays.iter().any(|holiday| civil_day(holiday) == Some(epoch_day)) {
            return false;
        }
        let day = Weekday::of_epoch_day(epoch_day);
        // rem_euclid(1440) is 0..1440: it fits.
        let minute = u32::try_from(local.rem_euclid(24 * 60)).unwrap_or(0);
        self.business_hours
            .iter()
            .filter(|hours| hours.day == day)
            .filter_map(BusinessHours::minutes)
            .any(|(open, close)| (open..close).contains(&minute))
    }

    /// Open at every hour of the week: 00:00 to 24:00 each day.
    #[must_use]
    pub fn always_open() -> Vec<BusinessHours> {
        Weekday::ALL
            .into_iter()
            .map(|day| BusinessHours { day, open: "00:00".to_owned(), close: "24:00".to_owned() })
            .collect()
    }
}

/// What a tenant's plan allows (P25). Set by the operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    /// API requests per minute (all credentials of the tenant together).
    #[schemars(range(min = 1, max = 1_000_000))]
    pub requests_per_minute: u32,
    /// Contacts stored at most (contacts created by inbound messages are never refused; they
    /// count, and block manual creation and imports beyond the limit).
    #[schemars(range(min = 1, max = 100_000_000))]
    pub contacts: u64,
    /// Users (not deleted) at most.
    #[schemars(range(min = 1, max = 100_000))]
    pub users: u32,
    /// Outbound messages per calendar month (UTC).
    #[schemars(range(min = 0, max = 1_000_000_000))]
    pub messages_per_month: u64,
}

impl Default for Plan {
    fn default() -> Self {
        Self { requests_per_minute: 600, contacts: 10_000, users: 25, messages_per_month: 10_000 }
    }
}

impl Plan {
    /// Checks the bounds.
    ///
    /// # Errors
    /// A message naming the field out of bounds.
    pub fn validated(self) -> Result<Self, &'static str> {
        if !(1..=1_000_000).contains(&self.requests_per_minute) {
            return Err("requests_per_minute must be 1 to 1000000");
        }
        if !(1..=100_000_000).contains(&self.contacts) {
            return Err("contacts must be 1 to 100000000");
        }
        if !(1..=100_000).contains(&self.users) {
            return Err("users must be 1 to 100000");
        }
        if self.messages_per_month > 1_000_000_000 {
            return Err("messages_per_month must be at most 1000000000");
        }
        Ok(self)
    }
}

/// How long a tenant keeps conversation data (P50, P51). Defaults and bounds are the promises'.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RetentionSettings {
    /// Conversations are deleted this many days after their last message (default 90, at most
    /// 365: twelve months).
    pub conversation_days: u16,
    /// Message content is sanitized this many days after it was sent (default 30, at most
    /// `conversation_days`).
    pub content_days: u16,
    /// A legal hold: when an integration is disconnected, the data received from Meta through
    /// it is kept instead of deleted (P54). Retention periods still apply. Default off.
    #[serde(default)]
    pub legal_hold: bool,
}

impl Default for RetentionSettings {
    fn default() -> Self {
        Self { conversation_days: 90, content_days: 30, legal_hold: false }
    }
}

/// Why retention settings were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidRetention {
    /// Outside 1 to 365 days.
    #[error("conversation_days must be 1 to 365")]
    ConversationDays,
    /// Outside 1 to `conversation_days`.
    #[error("content_days must be 1 to conversation_days")]
    ContentDays,
}

impl RetentionSettings {
    /// Validated settings.
    ///
    /// # Errors
    /// [`InvalidRetention`] naming the setting out of bounds.
    pub fn new(conversation_days: u16, content_days: u16) -> Result<Self, InvalidRetention> {
        if !(1..=365).contains(&conversation_days) {
            return Err(InvalidRetention::ConversationDays);
        }
        if !(1..=conversation_days).contains(&content_days) {
            return Err(InvalidRetention::ContentDays);
        }
        Ok(Self { conversation_days, content_days, legal_hold: false })
    }

    /// The same settings with the legal hold set to `hold`.
    #[must_use]
    pub fn with_legal_hold(self, hold: bool) -> Self {
        Self { legal_hold: hold, ..self }
    }

    /// How long after its last message a conversation is kept.
    #[must_use]
    pub fn conversation_ttl(self) -> std::time::Duration {
        std::time::Duration::from_secs(u64::from(self.conversation_days) * 86_400)
    }
}

/// What a credential may do. Least privilege: agents < managers < admins (P14).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Works conversations of their queues or assigned to them.
    Agent,
    /// Sees all conversations and analytics of the tenant.
    Manager,
    /// Manages users, keys, settings, the WhatsApp connection, exports and erasure.
    Admin,
}

/// A stored API key: never the key itself, only its SHA-256 (P12). API keys carry 256 random
/// bits, so a fast hash is safe here (slow hashes are for guessable passwords).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiKeyRecord {
    /// The key's id (shown, logged, part of the key).
    pub id: ApiKeyId,
    /// The tenant it belongs to.
    pub tenant_id: TenantId,
    /// A label chosen by the admin.
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// SHA-256 of the secret part.
    pub secret_sha256: Vec<u8>,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it was revoked, if it was.
    pub revoked_at: Option<Timestamp>,
}

impl ApiKeyRecord {
    /// True when `presented` is this key's secret and the key is not revoked.
    /// Constant-time in the secret.
    #[must_use]
    pub fn accepts(&self, presented: &ApiKeySecret) -> bool {
        self.revoked_at.is_none()
            && verify_slices_are_equal(&sha256(presented.0.expose().as_bytes()), &self.secret_sha256).is_ok()
    }
}

/// The secret part of an API key.
#[derive(Clone, Debug)]
pub struct ApiKeySecret(Secret);

/// A full API key as given to a client once: `llk.<tenant id>.<key id>.<secret>`.
///
/// The tenant and key ids inside the key let the API find the stored hash with one tenant-first
/// read, and make a leaked key's owner obvious to secret scanners.
#[derive(Clone)]
pub struct ApiKey {
    /// The tenant it belongs to.
    pub tenant_id: TenantId,
    /// Its id.
    pub key_id: ApiKeyId,
    /// The secret part.
    pub secret: ApiKeySecret,
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiKey({}, {}, [redacted])", self.tenant_id, self.key_id)
    }
}

const API_KEY_PREFIX: &str = "llk";

impl ApiKey {
    /// A new random key for `tenant_id`.
    ///
    /// # Errors
    /// [`RandomUnavailable`] when the system has no randomness (never an all-zero secret).
    pub fn generate(tenant_id: TenantId, now: Timestamp) -> Result<Self, RandomUnavailable> {
        let bytes = random::bytes::<32>()?;
        Ok(Self {
            tenant_id,
            key_id: ApiKeyId::generate(now)?,
            secret: ApiKeySecret(Secret::new(B64.encode(bytes))),
        })
    }

    /// Parses a presented key; `None` for anything not shaped like one.
    #[must_use]
    pub fn parse(presented: &str) -> Option<Self> {
        let parts = super::credential::BearerParts::parse(API_KEY_PREFIX, presented)?;
        Some(Self {
            key_id: ApiKeyId::parse(parts.id).ok()?,
            tenant_id: parts.tenant_id,
            secret: ApiKeySecret(parts.secret),
        })
    }

    /// The full key, to show once to its owner.
    #[must_use]
    pub fn reveal(&self) -> Secret {
        Secret::new(format!("{API_KEY_PREFIX}.{}.{}.{}", self.tenant_id, self.key_id, self.secret.0.expose()))
    }

    /// The record to store for this key.
    #[must_use]
    pub fn record(&self, name: &str, role: Role, now: Timestamp) -> ApiKeyRecord {
        ApiKeyRecord {
            id: self.key_id.clone(),
            tenant_id: self.tenant_id.clone(),
            name: name.to_owned(),
            role,
            secret_sha256: sha256(self.secret.0.expose().as_bytes()).to_vec(),
            created_at: now,
            revoked_at: None,
        }
    }
}

/// A tenant's WhatsApp Business number as connected through `PUT /v1/whatsapp`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WhatsAppConnection {
    /// Meta's id of the phone number (the Graph API path segment for sending).
    pub phone_number_id: String,
    /// The number as shown to customers.
    pub display_phone_number: String,
    /// The WhatsApp Business Account id.
    pub waba_id: String,
    /// The Cloud API access token, sealed under `{tenant_id, whatsapp_access_token}` (P11).
    pub access_token: Sealed,
    /// When it was connected.
    pub connected_at: Timestamp,
}

#[cfg(test)]
mod tests;

/// A tenant's Facebook Page connected for Lead Ads through `PUT /v1/leadads`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PageConnection {
    /// The Page id (`entry.id` of `page` webhooks).
    pub page_id: String,
    /// The long-lived Page access token, sealed under `{tenant_id, page_access_token}` (P11).
    pub page_access_token: Sealed,
    /// When it was connected.
    pub connected_at: Timestamp,
}
