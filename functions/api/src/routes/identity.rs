//! Users, sessions and API keys (P12, P13, P14).
//!
//! - Login claims the attempt first (one conditional write, at most 5 per email per 15 minutes:
//!   parallel guesses cannot pass), then checks the argon2id hash; past the limit 429 until the
//!   window ends (a wait, never a lockout); a success resets. Anonymous routes are also limited
//!   per source address (`crate::handle`).
//!   Unknown emails cost the same time as known ones and answer the same 401.
//! - A login starts a session: an access token (JWT, 15 minutes) and a refresh token. Refreshing
//!   rotates the refresh token; presenting a rotated one again revokes the whole session (token
//!   theft detection). Logout revokes the session; a password change, an admin revocation,
//!   disabling or deleting the user bump its token generation, which refuses every token issued
//!   before at once.
//! - API keys are shown once and stored as SHA-256 hashes; revocation is immediate.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde::{Deserialize, Serialize};
use shared::domain::credential::BearerParts;
use shared::domain::identity::{
    AccessClaims, CreateUserError, Directory, LoginClaim, Session, UpdateError, User, UserStatus, UserView,
    Versioned, ACCESS_TOKEN_TTL_SECS, INVITATION_PREFIX, INVITATION_TTL_SECS, REFRESH_PREFIX,
    SESSION_TTL_SECS,
};
use shared::domain::ports::{ApiKeyStore, TenantStore};
use shared::domain::tenant::{ApiKey, Role, Tenant, TenantStatus};
use shared::domain::{ApiKeyId, Clock, Secret, SessionId, TenantId, Timestamp, UserId};
use shared::lambda::http::{json_response, Problem};

pub use super::api_keys::{ApiKeyCreated, ApiKeyList, ApiKeyView, CreateApiKeyBody};
use super::inbox::{paging, PageView};
use super::{json_body, no_content, path_id};
use crate::auth::{signing_key, TenantPrincipal};
use crate::errors::ApiError;
use crate::{passwords, target, Adapters, Ctx, Deps};

/// `POST /v1/auth/login`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    /// The tenant the user belongs to.
    pub tenant_id: TenantId,
    /// Login email.
    pub email: String,
    /// Password.
    pub password: Secret,
    /// True: the refresh token only in the `leadline_refresh` cookie (no script sees it).
    #[serde(default)]
    pub cookie_only: bool,
}

/// A refresh token presented, and true when it came from the cookie ([`super::session`]).
pub(crate) type Presented = Option<(Secret, bool)>;

/// `POST /v1/auth/invitations/accept`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptInvitationBody {
    /// The invitation token.
    pub invitation_token: Secret,
    /// The password to set (12 to 128 characters).
    pub password: Secret,
}

/// `PUT /v1/me/password`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordBody {
    /// The current password.
    pub current_password: Secret,
    /// The new one (12 to 128 characters).
    pub new_password: Secret,
}

/// Tokens of a session.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Tokens {
    /// The access token: `Authorization: Bearer <access_token>`.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds the access token is valid.
    pub expires_in: i64,
    /// The refresh token (single use; each refresh returns a new one), also in the cookie
    /// `leadline_refresh`; absent after a `cookie_only` login or a refresh by the cookie.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// The user.
    pub user: UserView,
}

/// `POST /v1/users`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUserBody {
    /// Login email (unique within the tenant).
    #[schemars(length(min = 3, max = 254))]
    pub email: String,
    /// Full name.
    #[schemars(length(min = 1, max = 200))]
    pub name: String,
    /// Role.
    pub role: Role,
    /// Queues (agents work conversations of their queues).
    #[serde(default)]
    pub queues: Vec<String>,
    /// A password (12 to 128 characters); without one the user is invited instead.
    #[serde(default)]
    pub password: Option<Secret>,
}

/// The answer of `POST /v1/users`.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct UserCreated {
    /// The user.
    pub user: UserView,
    /// For an invited user: the token to accept the invitation with (shown once, valid 7 days).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invitation_token: Option<String>,
}

/// `PATCH /v1/users/{user_id}`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUserBody {
    /// Full name.
    #[serde(default)]
    #[schemars(length(min = 1, max = 200))]
    pub name: Option<String>,
    /// Role.
    #[serde(default)]
    pub role: Option<Role>,
    /// Queues (replaces them).
    #[serde(default)]
    pub queues: Option<Vec<String>>,
    /// `active` or `disabled`.
    #[serde(default)]
    pub status: Option<SettableStatus>,
}

/// The statuses an admin may set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SettableStatus {
    /// May log in.
    Active,
    /// May not.
    Disabled,
}

fn unauthorized() -> ApiError {
    Problem::unauthorized("the credentials are not valid").into()
}

fn normalized_email(raw: &str) -> Result<String, ApiError> {
    let email = raw.trim().to_lowercase();
    let valid = (3..=254).contains(&email.len())
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.')
        })
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if valid {
        Ok(email)
    } else {
        Err(Problem::bad_request("email must be an email address").into())
    }
}

/// Checks and normalises queues: at most 50 queue ids (trimmed, sorted, once each).
fn queues(raw: Vec<String>) -> Result<Vec<shared::domain::QueueId>, ApiError> {
    let mut queues = raw
        .into_iter()
        .map(|q| shared::domain::QueueId::parse(q.trim()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Problem::bad_request(format!("queues: {e}")))?;
    queues.sort();
    queues.dedup();
    if queues.len() > 50 {
        return Err(Problem::bad_request("queues: at most 50").into());
    }
    Ok(queues)
}

fn name(raw: &str) -> Result<String, ApiError> {
    let name = raw.trim();
    if (1..=200).contains(&name.chars().count()) {
        Ok(name.to_owned())
    } else {
        Err(Problem::bad_request("name must be 1 to 200 characters").into())
    }
}

async fn tenant_for_login<A: Adapters>(deps: &Deps<A>, tenant_id: &TenantId) -> Result<Tenant, ApiError> {
    deps.tenants
        .tenant(tenant_id)
        .await?
        .filter(|t| t.status == TenantStatus::Active)
        .ok_or_else(unauthorized)
}

/// Starts a session for `user` and answers its tokens.
async fn start_session<A: Adapters>(
    deps: &Deps<A>,
    tenant: &Tenant,
    user: &User,
    in_body: bool,
) -> Result<Response<Body>, ApiError> {
    let now = deps.clock.now();
    let id = SessionId::generate(now)?;
    let refresh = BearerParts::generate(tenant.id.clone(), id.as_str())?;
    let session = Session {
        id,
        user_id: user.id.clone(),
        current_sha256: refresh.secret_sha256(),
        previous_sha256: None,
        token_generation: user.token_generation,
        created_at: now,
        expires_at: Timestamp::from_secs(now.as_secs() + SESSION_TTL_SECS),
        revoked_at: None,
    };
    deps.directory.create_session(&tenant.id, &session).await?;
    tokens(deps, tenant, user, &session.id, &refresh, in_body).await
}

async fn tokens<A: Adapters>(
    deps: &Deps<A>,
    tenant: &Tenant,
    user: &User,
    session: &SessionId,
    refresh: &BearerParts,
    in_body: bool,
) -> Result<Response<Body>, ApiError> {
    let key = signing_key(deps, tenant).await?;
    let access = AccessClaims::issue(user, session, deps.clock.now()).sign(key.expose());
    let refresh = refresh.reveal(REFRESH_PREFIX);
    let mut response = json_response(
        StatusCode::OK,
        &Tokens {
            access_token: access.expose().to_owned(),
            token_type: "Bearer",
            expires_in: ACCESS_TOKEN_TTL_SECS,
            refresh_token: in_body.then(|| refresh.expose().to_owned()),
            user: UserView::from(user),
        },
    );
    crate::edge::set_refresh_cookie(&mut response, refresh.expose());
    Ok(response)
}

/// `POST /v1/auth/login`.
///
/// # Errors
/// 401 for wrong credentials (the same for an unknown email); 429 while throttled.
pub async fn login<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let body: LoginBody = json_body(ctx.body)?;
    let email = normalized_email(&body.email)?;
    let now = deps.clock.now();
    // The attempt is claimed before the password is looked at: parallel guesses cannot pass.
    if let LoginClaim::Throttled { retry_after_secs } =
        deps.directory.claim_login_attempt(&body.tenant_id, &email, now).await?
    {
        return Err(Problem::new(
            StatusCode::TOO_MANY_REQUESTS,
            "login-throttled",
            "Too many login attempts",
            "too many login attempts for this email; try again after Retry-After seconds",
        )
        .with_retry_after(retry_after_secs)
        .into());
    }
    let tenant = deps.tenants.tenant(&body.tenant_id).await?.filter(|t| t.status == TenantStatus::Active);
    let user = match &tenant {
        Some(_) => deps.directory.user_by_email(&body.tenant_id, &email).await?,
        None => None,
    };
    let verified = match user.as_ref().and_then(|u| u.value.password_hash.as_deref()) {
        Some(hash) => passwords::verify(&body.password, hash),
        None => {
            passwords::verify_nothing(&body.password);
            false
        }
    };
    let (Some(tenant), Some(Versioned { value: user, .. }), true) = (tenant, user, verified) else {
        tracing::info!("Login refused");
        return Err(unauthorized());
    };
    if user.status != UserStatus::Active {
        return Err(unauthorized());
    }
    deps.directory.reset_login_attempts(&body.tenant_id, &email, now).await?;
    tracing::info!(user_id = %user.id, "Login");
    let response = start_session(deps, &tenant, &user, !body.cookie_only).await?;
    let principal = user_principal(&tenant, &user);
    deps.audit(&principal, "session.login", target("user", user.id.as_str()), |e| e).await;
    Ok(response)
}

fn user_principal(tenant: &Tenant, user: &User) -> TenantPrincipal {
    TenantPrincipal {
        tenant_id: tenant.id.clone(),
        actor: shared::domain::audit::Actor {
            kind: shared::domain::audit::ActorKind::User,
            id: user.id.to_string(),
        },
        user_id: Some(user.id.clone()),
        role: user.role,
        queues: user.queues.clone(),
        plan: tenant.plan,
    }
}

/// The session a refresh token names, and the user, both still valid.
async fn session_of<A: Adapters>(
    deps: &Deps<A>,
    token: &BearerParts,
) -> Result<(Tenant, Versioned<Session>, User), ApiError> {
    let tenant = tenant_for_login(deps, &token.tenant_id).await?;
    let id = SessionId::parse(token.id.as_str()).map_err(|_| unauthorized())?;
    let session = deps.directory.session(&tenant.id, &id).await?.ok_or_else(unauthorized)?;
    let user = deps.directory.user(&tenant.id, &session.value.user_id).await?.ok_or_else(unauthorized)?.value;
    Ok((tenant, session, user))
}

/// `POST /v1/auth/refresh` with the token presented (from the cookie: the new one goes there only).
///
/// # Errors
/// 401 for an invalid, expired, revoked or reused refresh token (reuse revokes the session).
pub(crate) async fn rotate<A: Adapters>(
    presented: Presented,
    deps: &Deps<A>,
) -> Result<Response<Body>, ApiError> {
    let (presented, from_cookie) = presented.ok_or_else(unauthorized)?;
    let token = BearerParts::parse(REFRESH_PREFIX, presented.expose()).ok_or_else(unauthorized)?;
    let (tenant, Versioned { value: mut session, version }, user) = session_of(deps, &token).await?;
    let now = deps.clock.now();
    if session.revoked_at.is_some()
        || session.expires_at <= now
        || user.status != UserStatus::Active
        || user.token_generation != session.token_generation
    {
        return Err(unauthorized());
    }
    if !token.matches(&session.current_sha256) {
        if session.previous_sha256.as_deref().is_some_and(|previous| token.matches(previous)) {
            // A rotated token came back: someone holds a copy. End the session for everyone.
            session.revoked_at = Some(now);
            let _ = deps.directory.update_session(&tenant.id, &session, version).await;
            tracing::warn!(session_id = %session.id, "Refresh token reused; session revoked");
            deps.audit(
                &user_principal(&tenant, &user),
                "session.reuse_revoked",
                target("session", session.id.as_str()),
                |e| e,
            )
            .await;
        }
        return Err(unauthorized());
    }
    let next = BearerParts::generate(tenant.id.clone(), session.id.as_str())?;
    session.previous_sha256 = Some(std::mem::replace(&mut session.current_sha256, next.secret_sha256()));
    match deps.directory.update_session(&tenant.id, &session, version).await {
        Ok(()) => tokens(deps, &tenant, &user, &session.id, &next, !from_cookie).await,
        // A concurrent refresh with the same token won: this one is the reuse.
        Err(UpdateError::Conflict) => Err(unauthorized()),
        Err(UpdateError::Unknown(e)) => Err(UpdateError::Unknown(e).into()),
    }
}

/// `POST /v1/auth/logout` with the token presented: always 204 (an unknown one is logged out).
///
/// # Errors
/// 500 when the store fails.
pub(crate) async fn end_session<A: Adapters>(
    presented: Presented,
    deps: &Deps<A>,
) -> Result<Response<Body>, ApiError> {
    let Some(token) = presented.and_then(|(t, _)| BearerParts::parse(REFRESH_PREFIX, t.expose())) else {
        return Ok(no_content());
    };
    let Ok((tenant, Versioned { value: mut session, version }, user)) = session_of(deps, &token).await else {
        return Ok(no_content());
    };
    let known = token.matches(&session.current_sha256)
        || session.previous_sha256.as_deref().is_some_and(|previous| token.matches(previous));
    if known && session.revoked_at.is_none() {
        session.revoked_at = Some(deps.clock.now());
        match deps.directory.update_session(&tenant.id, &session, version).await {
            Ok(()) | Err(UpdateError::Conflict) => {}
            Err(UpdateError::Unknown(e)) => return Err(UpdateError::Unknown(e).into()),
        }
        // Logged out is offline: nothing more is assigned to them.
        use shared::domain::center::{AgentStore as _, Presence};
        if let Err(error) =
            deps.agents.set_presence(&tenant.id, &user.id, Presence::Offline, deps.clock.now()).await
        {
            tracing::warn!(error = format!("{error:#}"), "Presence not set to offline at logout");
        }
        deps.audit(
            &user_principal(&tenant, &user),
            "session.logout",
            target("session", session.id.as_str()),
            |e| e,
        )
        .await;
    }
    Ok(no_content())
}

/// `POST /v1/auth/invitations/accept`.
///
/// # Errors
/// 401 for an invalid or lapsed invitation; 400 for a weak password.
pub async fn accept_invitation<A: Adapters>(
    ctx: Ctx<'_>,
    deps: &Deps<A>,
) -> Result<Response<Body>, ApiError> {
    let body: AcceptInvitationBody = json_body(ctx.body)?;
    let token =
        BearerParts::parse(INVITATION_PREFIX, body.invitation_token.expose()).ok_or_else(unauthorized)?;
    let tenant = tenant_for_login(deps, &token.tenant_id).await?;
    let user_id = UserId::parse(token.id.as_str()).map_err(|_| unauthorized())?;
    let Versioned { value: mut user, version } =
        deps.directory.user(&tenant.id, &user_id).await?.ok_or_else(unauthorized)?;
    let now = deps.clock.now();
    let valid = user.status == UserStatus::Invited
        && user.invitation_expires_at.is_some_and(|until| until > now)
        && user.invitation_sha256.as_deref().is_some_and(|hash| token.matches(hash));
    if !valid {
        return Err(unauthorized());
    }
    passwords::check(&body.password, &user.email)
        .map_err(|e| ApiError::from(Problem::bad_request(e.to_string())))?;
    user.password_hash = Some(passwords::hash(&body.password)?);
    user.status = UserStatus::Active;
    user.invitation_sha256 = None;
    user.invitation_expires_at = None;
    user.updated_at = now;
    deps.directory.update_user(&user, version).await?;
    deps.audit(
        &user_principal(&tenant, &user),
        "user.invitation_accepted",
        target("user", user.id.as_str()),
        |e| e,
    )
    .await;
    start_session(deps, &tenant, &user, true).await
}

async fn current_user<A: Adapters>(
    ctx: &Ctx<'_>,
    deps: &Deps<A>,
) -> Result<(TenantPrincipal, Versioned<User>), ApiError> {
    let principal = ctx.tenant()?.clone();
    let id = principal.user_id.clone().ok_or_else(|| ApiError::from(Problem::forbidden("not a user")))?;
    let user = deps.directory.user(&principal.tenant_id, &id).await?.ok_or_else(unauthorized)?;
    Ok((principal, user))
}

/// `GET /v1/me`.
///
/// # Errors
/// 403 for an API key.
pub async fn me<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let (_, user) = current_user(&ctx, deps).await?;
    Ok(json_response(StatusCode::OK, &UserView::from(&user.value)))
}

/// `PUT /v1/me/password`.
///
/// # Errors
/// 403 for a wrong current password; 400 for a weak new one.
pub async fn change_password<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let body: ChangePasswordBody = json_body(ctx.body)?;
    let (principal, Versioned { value: mut user, version }) = current_user(&ctx, deps).await?;
    if !user.password_hash.as_deref().is_some_and(|hash| passwords::verify(&body.current_password, hash)) {
        return Err(Problem::forbidden("the current password is wrong").into());
    }
    passwords::check(&body.new_password, &user.email)
        .map_err(|e| ApiError::from(Problem::bad_request(e.to_string())))?;
    user.password_hash = Some(passwords::hash(&body.new_password)?);
    user.token_generation += 1;
    user.updated_at = deps.clock.now();
    deps.directory.update_user(&user, version).await?;
    deps.audit(&principal, "user.password_changed", target("user", user.id.as_str()), |e| e).await;
    Ok(no_content())
}

/// `GET /v1/users`.
///
/// # Errors
/// 400 for a bad limit or cursor.
pub async fn list_users<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let principal = ctx.tenant()?;
    let paging = paging(ctx.query)?;
    let page = deps.directory.users(&principal.tenant_id, paging.after.as_deref(), paging.limit).await?;
    let view = PageView::from(shared::kernel::Page {
        items: page.items.iter().map(UserView::from).collect(),
        next: page.next,
    });
    Ok(json_response(StatusCode::OK, &view))
}

async fn live_user_count<A: Adapters>(deps: &Deps<A>, tenant: &TenantId) -> Result<u64, ApiError> {
    let mut count = 0;
    let mut after = None;
    loop {
        let page = deps.directory.users(tenant, after.as_deref(), 100).await?;
        count += page.items.iter().filter(|u| u.status != UserStatus::Deleted).count() as u64;
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(count),
        }
    }
}

/// How many users (not deleted) the tenant has.
///
/// # Errors
/// 500 when the store fails.
pub async fn user_count<A: Adapters>(deps: &Deps<A>, tenant: &TenantId) -> Result<u64, ApiError> {
    live_user_count(deps, tenant).await
}

/// `POST /v1/users`.
///
/// # Errors
/// 400 for a bad body or weak password; 409 for an email in use; 403 at the plan's user limit.
pub async fn create_user<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let principal = ctx.tenant()?;
    let body: CreateUserBody = json_body(ctx.body)?;
    let email = normalized_email(&body.email)?;
    let name = name(&body.name)?;
    let queues = queues(body.queues)?;
    if let Some(password) = &body.password {
        passwords::check(password, &email)
            .map_err(|e| ApiError::from(Problem::bad_request(e.to_string())))?;
    }
    let limit = principal.plan.users;
    if live_user_count(deps, &principal.tenant_id).await? >= u64::from(limit) {
        return Err(crate::errors::plan_limit(format!("the plan allows {limit} users")));
    }
    let now = deps.clock.now();
    let id = UserId::generate(now)?;
    let invitation = match body.password {
        None => Some(BearerParts::generate(principal.tenant_id.clone(), id.as_str())?),
        Some(_) => None,
    };
    let user = User {
        id,
        tenant_id: principal.tenant_id.clone(),
        email,
        name,
        role: body.role,
        queues,
        status: if invitation.is_some() { UserStatus::Invited } else { UserStatus::Active },
        password_hash: body.password.as_ref().map(passwords::hash).transpose()?,
        invitation_sha256: invitation.as_ref().map(BearerParts::secret_sha256),
        invitation_expires_at: invitation
            .as_ref()
            .map(|_| Timestamp::from_secs(now.as_secs() + INVITATION_TTL_SECS)),
        token_generation: 0,
        created_at: now,
        updated_at: now,
        deleted_at: None,
    };
    match deps.directory.create_user(&user).await {
        Ok(()) => {}
        Err(CreateUserError::EmailTaken) => {
            return Err(Problem::conflict("a user of this tenant has this email").into())
        }
        Err(CreateUserError::Unknown(e)) => return Err(CreateUserError::Unknown(e).into()),
    }
    deps.audit(principal, "user.create", target("user", user.id.as_str()), |e| {
        e.with_fields(["email", "name", "role", "queues"])
    })
    .await;
    Ok(json_response(
        StatusCode::CREATED,
        &UserCreated {
            user: UserView::from(&user),
            invitation_token: invitation.map(|i| i.reveal(INVITATION_PREFIX).expose().to_owned()),
        },
    ))
}

async fn user_of<A: Adapters>(
    ctx: &Ctx<'_>,
    deps: &Deps<A>,
) -> Result<(TenantPrincipal, Versioned<User>), ApiError> {
    let principal = ctx.tenant()?.clone();
    let id = path_id(ctx.param("user_id"), UserId::parse, "user")?;
    let user = deps
        .directory
        .user(&principal.tenant_id, &id)
        .await?
        .filter(|u| u.value.status != UserStatus::Deleted)
        .ok_or_else(|| ApiError::from(Problem::not_found("no such user")))?;
    Ok((principal, user))
}

/// `GET /v1/users/{user_id}`.
///
/// # Errors
/// 404 for an unknown, deleted or another tenant's user.
pub async fn get_user<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let (_, user) = user_of(&ctx, deps).await?;
    Ok(json_response(StatusCode::OK, &UserView::from(&user.value)))
}

fn not_self(principal: &TenantPrincipal, user: &User, what: &str) -> Result<(), ApiError> {
    if principal.user_id.as_ref() == Some(&user.id) {
        return Err(Problem::conflict(format!("you cannot {what} yourself; ask another admin")).into());
    }
    Ok(())
}

/// `PATCH /v1/users/{user_id}`.
///
/// # Errors
/// 404 as for reads; 409 for changing one's own role or status; 400 for a bad body.
pub async fn update_user<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let body: UpdateUserBody = json_body(ctx.body)?;
    let (principal, Versioned { value: mut user, version }) = user_of(&ctx, deps).await?;
    let mut fields = Vec::new();
    if let Some(raw) = &body.name {
        user.name = name(raw)?;
        fields.push("name");
    }
    if let Some(role) = body.role {
        if role != user.role {
            not_self(&principal, &user, "change the role of")?;
        }
        user.role = role;
        fields.push("role");
    }
    if let Some(raw) = body.queues {
        user.queues = queues(raw)?;
        fields.push("queues");
    }
    if let Some(status) = body.status {
        let status = match status {
            SettableStatus::Active if user.status == UserStatus::Invited => UserStatus::Invited,
            SettableStatus::Active => UserStatus::Active,
            SettableStatus::Disabled => UserStatus::Disabled,
        };
        if status != user.status {
            not_self(&principal, &user, "disable")?;
        }
        user.status = status;
        fields.push("status");
    }
    user.updated_at = deps.clock.now();
    save(deps, &user, version).await?;
    deps.audit(&principal, "user.update", target("user", user.id.as_str()), |e| e.with_fields(fields)).await;
    Ok(json_response(StatusCode::OK, &UserView::from(&user)))
}

async fn save<A: Adapters>(deps: &Deps<A>, user: &User, version: u64) -> Result<(), ApiError> {
    match deps.directory.update_user(user, version).await {
        Ok(()) => Ok(()),
        Err(UpdateError::Conflict) => {
            Err(Problem::conflict("the user changed meanwhile; read it again and retry").into())
        }
        Err(UpdateError::Unknown(e)) => Err(UpdateError::Unknown(e).into()),
    }
}

/// `DELETE /v1/users/{user_id}`: the user cannot log in any more and every token is refused;
/// the email is free for a new user; its personal data (name, email, password, invitation) is
/// removed at once — P55 allows 30 days, nothing needs them — and the record stays under its id
/// alone, which is what audit entries, records and activities name.
///
/// # Errors
/// 404 as for reads; 409 for deleting oneself.
pub async fn delete_user<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let (principal, Versioned { value: mut user, version }) = user_of(&ctx, deps).await?;
    not_self(&principal, &user, "delete")?;
    let now = deps.clock.now();
    user.status = UserStatus::Deleted;
    user.deleted_at = Some(now);
    user.updated_at = now;
    user.token_generation += 1;
    user.password_hash = None;
    user.invitation_sha256 = None;
    user.invitation_expires_at = None;
    user.name = user.id.to_string();
    user.email = String::new();
    save(deps, &user, version).await?;
    deps.audit(&principal, "user.delete", target("user", user.id.as_str()), |e| e).await;
    Ok(no_content())
}

/// `POST /v1/users/{user_id}/revoke-sessions`.
///
/// # Errors
/// 404 as for reads.
pub async fn revoke_sessions<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let (principal, Versioned { value: mut user, version }) = user_of(&ctx, deps).await?;
    user.token_generation += 1;
    user.updated_at = deps.clock.now();
    save(deps, &user, version).await?;
    deps.audit(&principal, "user.sessions_revoked", target("user", user.id.as_str()), |e| e).await;
    Ok(no_content())
}

/// `GET /v1/api-keys`.
///
/// # Errors
/// 500 when the store fails.
pub async fn list_api_keys<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let principal = ctx.tenant()?;
    let keys = deps.api_keys.api_keys(&principal.tenant_id).await?;
    Ok(json_response(StatusCode::OK, &ApiKeyList { items: keys.iter().map(ApiKeyView::from).collect() }))
}

/// `POST /v1/api-keys`.
///
/// # Errors
/// 400 for a bad body.
pub async fn create_api_key<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let principal = ctx.tenant()?;
    let body: CreateApiKeyBody = json_body(ctx.body)?;
    let label = body.name.trim();
    if !(1..=100).contains(&label.chars().count()) {
        return Err(Problem::bad_request("name must be 1 to 100 characters").into());
    }
    let now = deps.clock.now();
    let key = ApiKey::generate(principal.tenant_id.clone(), now)?;
    let record = key.record(label, body.role, now);
    deps.api_keys.create_api_key(&record).await?;
    deps.audit(principal, "api_key.create", target("api_key", record.id.as_str()), |e| {
        e.with_fields(["name", "role"])
    })
    .await;
    Ok(json_response(
        StatusCode::CREATED,
        &ApiKeyCreated { key: ApiKeyView::from(&record), api_key: key.reveal().expose().to_owned() },
    ))
}

/// `DELETE /v1/api-keys/{key_id}`.
///
/// # Errors
/// 404 for an unknown, revoked or another tenant's key.
pub async fn revoke_api_key<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let principal = ctx.tenant()?;
    let id = path_id(ctx.param("key_id"), ApiKeyId::parse, "API key")?;
    if !deps.api_keys.revoke_api_key(&principal.tenant_id, &id, deps.clock.now()).await? {
        return Err(Problem::not_found("no such API key").into());
    }
    deps.audit(principal, "api_key.revoke", target("api_key", id.as_str()), |e| e).await;
    Ok(no_content())
}
