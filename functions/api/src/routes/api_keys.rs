//! The bodies and views of the API-key routes (`/v1/api-keys`, served by [`super::identity`]).

use serde::{Deserialize, Serialize};
use shared::domain::tenant::{ApiKeyRecord, Role};
use shared::domain::{ApiKeyId, Timestamp};

/// `POST /v1/api-keys`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKeyBody {
    /// A label (1 to 100 characters).
    #[schemars(length(min = 1, max = 100))]
    pub name: String,
    /// What it may do.
    pub role: Role,
}

/// An API key as listed: never its secret.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ApiKeyView {
    /// Its id.
    pub id: ApiKeyId,
    /// Its label.
    pub name: String,
    /// Its role.
    pub role: Role,
    /// Created, epoch ms.
    pub created_at: i64,
    /// Revoked, epoch ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<i64>,
}

impl From<&ApiKeyRecord> for ApiKeyView {
    fn from(record: &ApiKeyRecord) -> Self {
        Self {
            id: record.id.clone(),
            name: record.name.clone(),
            role: record.role,
            created_at: record.created_at.as_millis(),
            revoked_at: record.revoked_at.map(Timestamp::as_millis),
        }
    }
}

/// `GET /v1/api-keys`.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ApiKeyList {
    /// Every key, oldest first.
    pub items: Vec<ApiKeyView>,
}

/// The answer of `POST /v1/api-keys`.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ApiKeyCreated {
    /// The key's record.
    #[serde(flatten)]
    pub key: ApiKeyView,
    /// The key itself: shown this once, stored only as a hash.
    pub api_key: String,
}
