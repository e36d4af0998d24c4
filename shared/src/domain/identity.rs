//! People who log in: users of a tenant with a role, their login sessions (rotating refresh
//! tokens), short-lived access tokens, and the [`Directory`] port that keeps users and sessions.
//!
//! Passwords are hashed by the API (argon2id); this module only stores the PHC string. Access
//! tokens are JWTs signed with HS256 under a per-tenant key (sealed on the tenant record), with
//! the algorithm pinned: a token whose header is anything but the one this module writes is
//! refused before its signature is even looked at.

use std::future::Future;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::ids::{QueueId, SessionId, TenantId, UserId};
use super::secret::Secret;
use super::tenant::Role;
use super::time::Timestamp;
use crate::kernel::digest::{hmac_sha256, HmacKey};
use crate::kernel::Page;

/// How long an access token is valid.
pub const ACCESS_TOKEN_TTL_SECS: i64 = 15 * 60;
/// How long a login session (its refresh tokens) lasts at most, from the login.
pub const SESSION_TTL_SECS: i64 = 30 * 86_400;
/// How long an invitation can be accepted.
pub const INVITATION_TTL_SECS: i64 = 7 * 86_400;

/// A user's lifecycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum UserStatus {
    /// Invited; no password yet.
    Invited,
    /// May log in.
    Active,
    /// Refused at login; keeps its data.
    Disabled,
    /// Deleted by an admin: cannot log in; personal data removed after the retention period (P55).
    Deleted,
}

/// A user of a tenant, as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Its id.
    pub id: UserId,
    /// The tenant it belongs to.
    pub tenant_id: TenantId,
    /// Login email, lowercased; unique within the tenant.
    pub email: String,
    /// Full name.
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// The routing queues an agent works (agents see conversations of these queues).
    #[serde(deserialize_with = "stored_queues")]
    pub queues: Vec<QueueId>,
    /// Lifecycle.
    pub status: UserStatus,
    /// The argon2id PHC string; `None` until an invitation is accepted.
    pub password_hash: Option<String>,
    /// SHA-256 (hex) of the pending invitation's secret.
    pub invitation_sha256: Option<String>,
    /// When the pending invitation lapses.
    pub invitation_expires_at: Option<Timestamp>,
    /// Bumped by a password change or a revocation: every token issued before is refused.
    pub token_generation: u32,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
    /// When it was deleted.
    pub deleted_at: Option<Timestamp>,
}

/// A user's stored queues. Names stored before queues were ids and that are not valid ids are
/// left out (the user then sees fewer conversations, never more) rather than making the user
/// unreadable: a login must not fail on them.
fn stored_queues<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<QueueId>, D::Error> {
    let names = Vec::<String>::deserialize(d)?;
    Ok(names
        .into_iter()
        .filter_map(|name| {
            QueueId::parse(name)
                .inspect_err(|_| tracing::warn!("A stored queue name is not a queue id; it is left out"))
                .ok()
        })
        .collect())
}

/// A user as the API shows it: never a hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UserView {
    /// Its id.
    pub id: UserId,
    /// Login email.
    pub email: String,
    /// Full name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Queues (agents).
    pub queues: Vec<QueueId>,
    /// Lifecycle.
    pub status: UserStatus,
    /// Created, epoch ms.
    pub created_at: i64,
    /// Last changed, epoch ms.
    pub updated_at: i64,
}

impl From<&User> for UserView {
    fn from(user: &User) -> Self {
        Self {
            id: user.id.clone(),
            email: user.email.clone(),
            name: user.name.clone(),
            role: user.role,
            queues: user.queues.clone(),
            status: user.status,
            created_at: user.created_at.as_millis(),
            updated_at: user.updated_at.as_millis(),
        }
    }
}

/// One login: the family of refresh tokens it issued, of which only the latest is valid.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// Its id.
    pub id: SessionId,
    /// Whose.
    pub user_id: UserId,
    /// SHA-256 (hex) of the current refresh token's secret.
    pub current_sha256: String,
    /// SHA-256 (hex) of the token it replaced: presenting it again means the token was stolen
    /// (or replayed), and the whole session is revoked.
    pub previous_sha256: Option<String>,
    /// The user's token generation when the session started.
    pub token_generation: u32,
    /// When it started.
    pub created_at: Timestamp,
    /// When it ends, whatever happens (absolute lifetime).
    pub expires_at: Timestamp,
    /// When it was revoked (logout, reuse, admin).
    pub revoked_at: Option<Timestamp>,
}

/// A value with the version it was read at, for optimistic updates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Versioned<T> {
    /// The value.
    pub value: T,
    /// The version read.
    pub version: u64,
}

/// Prefix of refresh tokens.
pub const REFRESH_PREFIX: &str = "llr";
/// Prefix of invitation tokens.
pub const INVITATION_PREFIX: &str = "lli";

// ---------------------------------------------------------------------------------------------
// Access tokens (JWT, HS256 pinned)
// ---------------------------------------------------------------------------------------------

/// The claims of an access token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// Issuer: always [`ISSUER`].
    pub iss: String,
    /// Audience: always [`AUDIENCE`].
    pub aud: String,
    /// The user.
    pub sub: UserId,
    /// The tenant.
    pub tid: TenantId,
    /// The session it was issued in.
    pub sid: SessionId,
    /// The user's token generation at issue.
    pub gen: u32,
    /// Issued at, epoch seconds.
    pub iat: i64,
    /// Expires at, epoch seconds.
    pub exp: i64,
}

/// `iss` of every access token.
pub const ISSUER: &str = "leadline";
/// `aud` of every access token.
pub const AUDIENCE: &str = "leadline-api";
/// The one header this service writes and accepts: `{"alg":"HS256","typ":"JWT"}`.
const JWT_HEADER: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";

/// Why an access token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a JWT of this service (shape, header/algorithm, encoding, claims).
    #[error("malformed access token")]
    Malformed,
    /// The signature does not verify.
    #[error("bad signature")]
    BadSignature,
    /// Past `exp`.
    #[error("expired access token")]
    Expired,
}

impl AccessClaims {
    /// Claims for `user` in `session`, issued `now`.
    #[must_use]
    pub fn issue(user: &User, session: &SessionId, now: Timestamp) -> Self {
        Self {
            iss: ISSUER.to_owned(),
            aud: AUDIENCE.to_owned(),
            sub: user.id.clone(),
            tid: user.tenant_id.clone(),
            sid: session.clone(),
            gen: user.token_generation,
            iat: now.as_secs(),
            exp: now.as_secs() + ACCESS_TOKEN_TTL_SECS,
        }
    }

    /// The signed token.
    #[must_use]
    pub fn sign(&self, key: &[u8]) -> Secret {
        let payload = B64.encode(serde_json::to_vec(self).unwrap_or_default());
        let signing_input = format!("{JWT_HEADER}.{payload}");
        let tag = hmac_sha256(key, signing_input.as_bytes());
        Secret::new(format!("{signing_input}.{}", B64.encode(tag)))
    }

    /// The tenant a token claims, before verification: which key to verify it with. Nothing
    /// else may be trusted from a token before [`AccessClaims::verify`].
    #[must_use]
    pub fn claimed_tenant(token: &str) -> Option<TenantId> {
        Self::unverified(token).ok().map(|claims| claims.tid)
    }

    fn unverified(token: &str) -> Result<Self, TokenError> {
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(_), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        if header != JWT_HEADER || payload.len() > 2048 {
            return Err(TokenError::Malformed);
        }
        let bytes = B64.decode(payload).map_err(|_| TokenError::Malformed)?;
        serde_json::from_slice(&bytes).map_err(|_| TokenError::Malformed)
    }

    /// Verifies the pinned header, the signature under `key`, issuer, audience and expiry.
    ///
    /// # Errors
    /// [`TokenError`].
    pub fn verify(token: &str, key: &[u8], now: Timestamp) -> Result<Self, TokenError> {
        let claims = Self::unverified(token)?;
        let (signing_input, signature) = token.rsplit_once('.').ok_or(TokenError::Malformed)?;
        let signature = B64.decode(signature).map_err(|_| TokenError::Malformed)?;
        if !HmacKey::new(key).verify(signing_input.as_bytes(), &signature) {
            return Err(TokenError::BadSignature);
        }
        if claims.iss != ISSUER || claims.aud != AUDIENCE {
            return Err(TokenError::Malformed);
        }
        if now.as_secs() >= claims.exp {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }
}

// ---------------------------------------------------------------------------------------------
// The port
// ---------------------------------------------------------------------------------------------

/// Errors of [`Directory::create_user`].
#[derive(Debug, thiserror::Error)]
pub enum CreateUserError {
    /// Another user of the tenant has this email.
    #[error("email already in use")]
    EmailTaken,
    /// The store failed; nothing was written.
    #[error("could not create the user")]
    Unknown(#[from] anyhow::Error),
}

/// Errors of the optimistic updates of [`Directory`].
#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    /// The record changed since it was read (or is gone): read again and retry.
    #[error("changed since read")]
    Conflict,
    /// The store failed; nothing was written.
    #[error("could not update")]
    Unknown(#[from] anyhow::Error),
}

/// Errors of the reads and counters of [`Directory`].
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    /// A page cursor this listing did not produce.
    #[error("the cursor does not belong to this listing")]
    InvalidCursor,
    /// The store failed.
    #[error("directory failed")]
    Unknown(#[from] anyhow::Error),
}

/// Users, sessions and failed-login counters of each tenant.
pub trait Directory: Send + Sync {
    /// Creates a user; its email is claimed within the tenant atomically.
    ///
    /// # Errors
    /// [`CreateUserError::EmailTaken`]; [`CreateUserError::Unknown`].
    fn create_user(&self, user: &User) -> impl Future<Output = Result<(), CreateUserError>> + Send;

    /// A user by id (deleted ones included; callers check the status).
    ///
    /// # Errors
    /// [`DirectoryError::Unknown`].
    fn user(
        &self,
        tenant: &TenantId,
        id: &UserId,
    ) -> impl Future<Output = Result<Option<Versioned<User>>, DirectoryError>> + Send;

    /// The user holding a (lowercased) email, if any.
    ///
    /// # Errors
    /// [`DirectoryError::Unknown`].
    fn user_by_email(
        &self,
        tenant: &TenantId,
        email: &str,
    ) -> impl Future<Output = Result<Option<Versioned<User>>, DirectoryError>> + Send;

    /// The tenant's users, oldest first (deleted ones included).
    ///
    /// # Errors
    /// [`DirectoryError::InvalidCursor`]; [`DirectoryError::Unknown`].
    fn users(
        &self,
        tenant: &TenantId,
        after: Option<&str>,
        limit: u16,
    ) -> impl Future<Output = Result<Page<User>, DirectoryError>> + Send;

    /// Replaces a user read at `version`. A user becoming [`UserStatus::Deleted`] releases its
    /// email in the same write.
    ///
    /// # Errors
    /// [`UpdateError::Conflict`]; [`UpdateError::Unknown`].
    fn update_user(&self, user: &User, version: u64) -> impl Future<Output = Result<(), UpdateError>> + Send;

    /// Stores a new session.
    ///
    /// # Errors
    /// [`DirectoryError::Unknown`].
    fn create_session(
        &self,
        tenant: &TenantId,
        session: &Session,
    ) -> impl Future<Output = Result<(), DirectoryError>> + Send;

    /// A session (expired ones are absent).
    ///
    /// # Errors
    /// [`DirectoryError::Unknown`].
    fn session(
        &self,
        tenant: &TenantId,
        id: &SessionId,
    ) -> impl Future<Output = Result<Option<Versioned<Session>>, DirectoryError>> + Send;

    /// Replaces a session read at `version` (rotation, revocation).
    ///
    /// # Errors
    /// [`UpdateError::Conflict`]; [`UpdateError::Unknown`].
    fn update_session(
        &self,
        tenant: &TenantId,
        session: &Session,
        version: u64,
    ) -> impl Future<Output = Result<(), UpdateError>> + Send;

    /// Counts one failed login for `email` in the window that holds `now`, returning the count
    /// in that window.
    ///
    /// # Errors
    /// [`DirectoryError::Unknown`].
    fn count_login_failure(
        &self,
        tenant: &TenantId,
        email: &str,
        now: Timestamp,
    ) -> impl Future<Output = Result<u64, DirectoryError>> + Send;

    /// Failed logins for `email` in the window that holds `now`.
    ///
    /// # Errors
    /// [`DirectoryError::Unknown`].
    fn login_failures(
        &self,
        tenant: &TenantId,
        email: &str,
        now: Timestamp,
    ) -> impl Future<Output = Result<u64, DirectoryError>> + Send;
}

/// Login throttling: at most this many failures per window and email.
pub const LOGIN_FAILURES_ALLOWED: u64 = 5;
/// The login-failure window.
pub const LOGIN_WINDOW_SECS: i64 = 15 * 60;

/// Seconds until the login window holding `now` ends (the `Retry-After` of a throttled login).
#[must_use]
pub fn login_window_remaining(now: Timestamp) -> i64 {
    LOGIN_WINDOW_SECS - now.as_secs().rem_euclid(LOGIN_WINDOW_SECS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queues_are_ids_and_a_stored_name_that_is_none_is_left_out_not_fatal() {
        for name in ["support", "sales", "billing", "vip", "q_01hzy", "Customer Success", "a#b"] {
            assert_eq!(QueueId::parse(name).unwrap().as_str(), name);
        }
        assert_eq!(QueueId::parse("  vip ").unwrap().as_str(), "vip");
        assert!(QueueId::parse(" ").is_err() && QueueId::parse("a\nb").is_err());
        assert!(QueueId::parse("q".repeat(65)).is_err());
        let mut stored =
            serde_json::to_value(User { queues: vec![QueueId::parse("support").unwrap()], ..user() })
                .unwrap();
        assert_eq!(stored["queues"], serde_json::json!(["support"]), "stored as the names they were");
        stored["queues"] = serde_json::json!(["support", ""]);
        let read: User = serde_json::from_value(stored).unwrap();
        assert_eq!(read.queues, vec![QueueId::parse("support").unwrap()]);
    }

    fn user() -> User {
        let now = Timestamp::from_secs(1_800_000_000);
        User {
            id: UserId::parse("usr_1").unwrap(),
            tenant_id: TenantId::parse("tn_1").unwrap(),
            email: "a@example.com".into(),
            name: "A".into(),
            role: Role::Agent,
            queues: vec![],
            status: UserStatus::Active,
            password_hash: None,
            invitation_sha256: None,
            invitation_expires_at: None,
            token_generation: 3,
            created_at: now,
            updated_at: now,
            deleted_at: None,
        }
    }

    #[test]
    fn a_signed_token_verifies_until_it_expires_and_only_under_its_key() {
        let now = Timestamp::from_secs(1_800_000_000);
        let claims = AccessClaims::issue(&user(), &SessionId::parse("ses_1").unwrap(), now);
        let token = claims.sign(b"0123456789abcdef0123456789abcdef");

        let verified = AccessClaims::verify(token.expose(), b"0123456789abcdef0123456789abcdef", now);
        let other_key = AccessClaims::verify(token.expose(), b"another key another key another k", now);
        let later = Timestamp::from_secs(now.as_secs() + ACCESS_TOKEN_TTL_SECS);
        let expired = AccessClaims::verify(token.expose(), b"0123456789abcdef0123456789abcdef", later);

        assert_eq!(verified, Ok(claims));
        assert_eq!(other_key, Err(TokenError::BadSignature));
        assert_eq!(expired, Err(TokenError::Expired));
        assert_eq!(AccessClaims::claimed_tenant(token.expose()), Some(TenantId::parse("tn_1").unwrap()));
    }

    #[test]
    fn another_algorithm_or_a_tampered_payload_is_refused() {
        let now = Timestamp::from_secs(1_800_000_000);
        let key = b"0123456789abcdef0123456789abcdef";
        let token = AccessClaims::issue(&user(), &SessionId::parse("ses_1").unwrap(), now).sign(key);
        let (_, rest) = token.expose().split_once('.').unwrap();
        // {"alg":"none","typ":"JWT"}
        let none = format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{rest}");
        let (payload, signature) = rest.split_once('.').unwrap();
        let mut claims: serde_json::Value = serde_json::from_slice(&B64.decode(payload).unwrap()).unwrap();
        claims["tid"] = "tn_other".into();
        let forged = format!("{JWT_HEADER}.{}.{signature}", B64.encode(claims.to_string()));

        assert_eq!(AccessClaims::verify(&none, key, now), Err(TokenError::Malformed));
        assert_eq!(AccessClaims::verify(&forged, key, now), Err(TokenError::BadSignature));
        assert_eq!(AccessClaims::verify("a.b", key, now), Err(TokenError::Malformed));
    }
}
