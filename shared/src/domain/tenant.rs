//! Tenants, their API keys and their WhatsApp connection.

use std::fmt;

use aws_lc_rs::constant_time::verify_slices_are_equal;
use aws_lc_rs::digest::{digest, SHA256};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::ids::{ApiKeyId, TenantId};
use super::ports::Sealed;
use super::secret::Secret;
use super::time::Timestamp;

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
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
}

/// How long a tenant keeps conversation data (P50, P51). Defaults and bounds are the promises'.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionSettings {
    /// Conversations are deleted this many days after their last message (default 90, at most
    /// 365: twelve months).
    pub conversation_days: u16,
    /// Message content is sanitized this many days after it was sent (default 30, at most
    /// `conversation_days`).
    pub content_days: u16,
}

impl Default for RetentionSettings {
    fn default() -> Self {
        Self { conversation_days: 90, content_days: 30 }
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
        Ok(Self { conversation_days, content_days })
    }

    /// How long after its last message a conversation is kept.
    #[must_use]
    pub fn conversation_ttl(self) -> std::time::Duration {
        std::time::Duration::from_secs(u64::from(self.conversation_days) * 86_400)
    }
}

/// What a credential may do. Least privilege: agents < managers < admins (P14).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
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
            && verify_slices_are_equal(
                digest(&SHA256, presented.0.expose().as_bytes()).as_ref(),
                &self.secret_sha256,
            )
            .is_ok()
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
    #[must_use]
    pub fn generate(tenant_id: TenantId, now: Timestamp) -> Self {
        let mut bytes = [0u8; 32];
        let _ = SystemRandom::new().fill(&mut bytes);
        Self {
            tenant_id,
            key_id: ApiKeyId::generate(now),
            secret: ApiKeySecret(Secret::new(B64.encode(bytes))),
        }
    }

    /// Parses a presented key; `None` for anything not shaped like one.
    #[must_use]
    pub fn parse(presented: &str) -> Option<Self> {
        let mut parts = presented.split('.');
        let (Some(API_KEY_PREFIX), Some(tenant), Some(key), Some(secret), None) =
            (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        if secret.is_empty() || secret.len() > 128 {
            return None;
        }
        Some(Self {
            tenant_id: TenantId::parse(tenant).ok()?,
            key_id: ApiKeyId::parse(key).ok()?,
            secret: ApiKeySecret(Secret::new(secret)),
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
            secret_sha256: digest(&SHA256, self.secret.0.expose().as_bytes()).as_ref().to_vec(),
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
mod tests {
    use super::*;

    #[test]
    fn api_key_round_trips_and_only_its_secret_is_accepted() {
        let tenant = TenantId::parse("tn_a").expect("valid");
        let key = ApiKey::generate(tenant.clone(), Timestamp::from_secs(1));
        let record = key.record("admin", Role::Admin, Timestamp::from_secs(1));

        let presented = ApiKey::parse(key.reveal().expose()).expect("parses");
        assert_eq!(presented.tenant_id, tenant);
        assert!(record.accepts(&presented.secret));

        let other = ApiKey::generate(tenant, Timestamp::from_secs(1));
        assert!(!record.accepts(&other.secret));
        assert!(!format!("{key:?}").contains(key.secret.0.expose()));
    }

    #[test]
    fn revoked_key_is_refused() {
        let key = ApiKey::generate(TenantId::parse("tn_a").expect("valid"), Timestamp::from_secs(1));
        let mut record = key.record("ci", Role::Agent, Timestamp::from_secs(1));
        record.revoked_at = Some(Timestamp::from_secs(2));
        assert!(!record.accepts(&key.secret));
    }

    #[test]
    fn retention_settings_keep_their_bounds() {
        assert_eq!(RetentionSettings::default(), RetentionSettings::new(90, 30).expect("defaults are valid"));
        assert_eq!(RetentionSettings::new(366, 30), Err(InvalidRetention::ConversationDays));
        assert_eq!(RetentionSettings::new(0, 0), Err(InvalidRetention::ConversationDays));
        assert_eq!(RetentionSettings::new(20, 30), Err(InvalidRetention::ContentDays));
        assert_eq!(RetentionSettings::new(20, 0), Err(InvalidRetention::ContentDays));
        assert!(RetentionSettings::new(365, 365).is_ok());
    }

    #[test]
    fn malformed_keys_do_not_parse() {
        for bad in ["", "llk", "llk.tn_a.key_b", "xxx.tn_a.key_b.s", "llk.tn#a.key_b.s", "llk.a.b.c.d"] {
            assert!(ApiKey::parse(bad).is_none(), "{bad}");
        }
    }
}

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
