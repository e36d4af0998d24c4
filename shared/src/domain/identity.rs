//! People who log in: users of a tenant with a role, their login sessions (rotating refresh
//! tokens), short-lived access tokens, and the [`Directory`] port that keeps users and sessions.
//!
//! Passwords are hashed by the API (argon2id); this module only stores the PHC string. Access
//! tokens are JWTs signed with HS256 under a per-tenant key (sealed on the tenant record), with
//! the algorithm pinned and the key named by `kid` ([`key_id`], which documents rotation): a
//! token whose header is anything but the one this module writes is refused before its
//! signature is even looked at. Access tokens name their session (`sid`); the API refuses one
//! whose session has ended (logout), even before it expires.

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
/// The one algorithm this service writes and accepts.
const JWT_ALG: &str = "HS256";

/// The JOSE header: exactly `{"alg":"HS256","typ":"JWT","kid":"<key id>"}`, nothing more (no
/// `jku`, `jwk`, `crit`…): anything else is refused before the signature is looked at.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct JwtHeader {
    alg: String,
    typ: String,
    kid: String,
}

/// The id of a signing key (`kid`): the first 16 hex digits of HMAC-SHA256(key, a fixed label),
/// so it names the key without revealing anything of it, and a rotated key gets a new id on
/// its own.
///
/// Rotation: seal a new key as the tenant's signing key. Tokens signed with the old one name a
/// `kid` no key has and are refused (401); clients refresh (refresh tokens are not signed with
/// it) and get tokens under the new `kid`. To rotate without that one refresh, verify with the
/// old key as well until [`ACCESS_TOKEN_TTL_SECS`] has passed: [`AccessClaims::claimed_key_id`]
/// says which key a token needs.
#[must_use]
pub fn key_id(key: &[u8]) -> String {
    let tag = hmac_sha256(key, b"leadline access-token key id");
    crate::kernel::hex::encode(&tag[..8])
}

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
    /// Its `kid` names no key it may be verified with (rotated away, or made up).
    #[error("unknown signing key")]
    UnknownKey,
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
        let header = JwtHeader { alg: JWT_ALG.to_owned(), typ: "JWT".to_owned(), kid: key_id(key) };
        let header = B64.encode(serde_json::to_vec(&header).unwrap_or_default());
        let payload = B64.encode(serde_json::to_vec(self).unwrap_or_default());
        let signing_input = format!("{header}.{payload}");
        let tag = hmac_sha256(key, signing_input.as_bytes());
        Secret::new(format!("{signing_input}.{}", B64.encode(tag)))
    }

    /// The tenant a token claims, before verification: which key to verify it with. Nothing
    /// else may be trusted from a token before [`AccessClaims::verify`].
    #[must_use]
    pub fn claimed_tenant(token: &str) -> Option<TenantId> {
        Self::unverified(token).ok().map(|(_, claims)| claims.tid)
    }

    /// The `kid` a token's header names, before verification: which key to verify it with.
    #[must_use]
    pub fn claimed_key_id(token: &str) -> Option<String> {
        Self::unverified(token).ok().map(|(header, _)| header.kid)
    }

    fn unverified(token: &str) -> Result<(JwtHeader, Self), TokenError> {
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(_), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        if header.len() > 256 || payload.len() > 2048 {
            return Err(TokenError::Malformed);
        }
        let header: JwtHeader = B64
            .decode(header)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or(TokenError::Malformed)?;
        if header.alg != JWT_ALG || header.typ != "JWT" {
            return Err(TokenError::Malformed);
        }
        let bytes = B64.decode(payload).map_err(|_| TokenError::Malformed)?;
        let claims = serde_json::from_slice(&bytes).map_err(|_| TokenError::Malformed)?;
        Ok((header, claims))
    }

    /// Verifies the pinned header, that its `kid` is `key`'s, the signature under `key`,
    /// issuer, audience and expiry.
    ///
    /// # Errors
    /// [`TokenError`].
    pub fn verify(token: &str, key: &[u8], now: Timestamp) -> Result<Self, TokenError> {
        let (header, claims) = Self::unverified(token)?;
        if header.kid != key_id(key) {
            return Err(TokenError::UnknownKey);
        }
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

    /// Claims one login attempt for `email` before its password is checked: one conditional
    /// write that succeeds only while fewer than [`LOGIN_ATTEMPTS_ALLOWED`] attempts were
    /// claimed in the window holding `now`, so parallel guesses cannot pass the limit. The
    /// window's counter expires with it: the limit is a wait, never a lockout.
    ///
    /// # Errors
    /// [`DirectoryError::Unknown`].
    fn claim_login_attempt(
        &self,
        tenant: &TenantId,
        email: &str,
        now: Timestamp,
    ) -> impl Future<Output = Result<LoginClaim, DirectoryError>> + Send;

    /// Forgets the attempts of the window holding `now` (after a successful login).
    ///
    /// # Errors
    /// [`DirectoryError::Unknown`].
    fn reset_login_attempts(
        &self,
        tenant: &TenantId,
        email: &str,
        now: Timestamp,
    ) -> impl Future<Output = Result<(), DirectoryError>> + Send;
}

/// The answer of [`Directory::claim_login_attempt`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginClaim {
    /// The attempt is counted: check the password.
    Claimed,
    /// Too many attempts: refuse without checking, and say when to try again.
    Throttled {
        /// Seconds until the window ends.
        retry_after_secs: u64,
    },
}

/// Login throttling: at most this many attempts per window and email (a success resets).
pub const LOGIN_ATTEMPTS_ALLOWED: u64 = 5;
/// The login-attempt window.
pub const LOGIN_WINDOW_SECS: i64 = 15 * 60;

/// The window holding `now` (its number) and when it ends (epoch seconds).
#[must_use]
pub const fn login_window(now: Timestamp) -> (i64, i64) {
    let window = now.as_secs().div_euclid(LOGIN_WINDOW_SECS);
    (window, (window + 1) * LOGIN_WINDOW_SECS)
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
        assert_eq!(other_key, Err(TokenError::UnknownKey), "another key has another kid");
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
        let (header, _) = token.expose().split_once('.').unwrap();
        let (payload, signature) = rest.split_once('.').unwrap();
        let mut claims: serde_json::Value = serde_json::from_slice(&B64.decode(payload).unwrap()).unwrap();
        claims["tid"] = "tn_other".into();
        let forged = format!("{header}.{}.{signature}", B64.encode(claims.to_string()));

        assert_eq!(AccessClaims::verify(&none, key, now), Err(TokenError::Malformed));
        assert_eq!(AccessClaims::verify(&forged, key, now), Err(TokenError::BadSignature));
        assert_eq!(AccessClaims::verify("a.b", key, now), Err(TokenError::Malformed));
    }

    #[test]
    fn the_header_names_the_key_and_verification_refuses_an_unknown_or_missing_kid() {
        let now = Timestamp::from_secs(1_800_000_000);
        let key = b"0123456789abcdef0123456789abcdef";
        let token = AccessClaims::issue(&user(), &SessionId::parse("ses_1").unwrap(), now).sign(key);
        let (header, rest) = token.expose().split_once('.').unwrap();
        let header: serde_json::Value = serde_json::from_slice(&B64.decode(header).unwrap()).unwrap();
        let (payload, _) = rest.split_once('.').unwrap();
        // The same claims re-signed with the right key under another or no kid.
        let resign = |header: serde_json::Value| {
            let input = format!("{}.{payload}", B64.encode(header.to_string()));
            format!("{input}.{}", B64.encode(hmac_sha256(key, input.as_bytes())))
        };
        let unknown = resign(serde_json::json!({"alg": "HS256", "typ": "JWT", "kid": "0000000000000000"}));
        let missing = resign(serde_json::json!({"alg": "HS256", "typ": "JWT"}));
        let extra = resign(serde_json::json!({"alg": "HS256", "typ": "JWT", "kid": key_id(key), "jku": "x"}));

        assert_eq!(header, serde_json::json!({"alg": "HS256", "typ": "JWT", "kid": key_id(key)}));
        assert_eq!(AccessClaims::claimed_key_id(token.expose()), Some(key_id(key)));
        assert_ne!(key_id(key), key_id(b"another key another key another k"));
        assert_eq!(AccessClaims::verify(&unknown, key, now), Err(TokenError::UnknownKey));
        assert_eq!(AccessClaims::verify(&missing, key, now), Err(TokenError::Malformed));
        assert_eq!(AccessClaims::verify(&extra, key, now), Err(TokenError::Malformed));
    }
}
