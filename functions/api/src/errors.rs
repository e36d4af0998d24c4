//! Every error of every operation, mapped to a problem response here and nowhere else.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use shared::app::integrations::DisconnectError;
use shared::app::outbound::SubmitError;
use shared::app::secrets::OpenSecretError;
use shared::domain::audit::AuditError;
use shared::domain::crm::RecordError;
use shared::domain::identity::{CreateUserError, DirectoryError, UpdateError};
use shared::domain::inbox::{InboxError, UpdateConversationError};
use shared::domain::outbound::Refusal;
use shared::domain::ports::{ConnectError, CreateTenantError, SealError, TenantStoreError};
use shared::domain::privacy::{Integration, PrivacyError};
use shared::lambda::http::Problem;

use crate::auth::AuthError;

/// The error of a route: the problem it answers. Operation errors convert into it with `?`.
#[derive(Debug)]
pub struct ApiError(pub Problem);

impl ApiError {
    /// The HTTP response.
    #[must_use]
    pub fn into_response(self) -> Response<Body> {
        self.0.into_response()
    }
}

impl From<Problem> for ApiError {
    fn from(problem: Problem) -> Self {
        Self(problem)
    }
}

/// Logs an unexpected failure (with its cause chain, which holds no request content) and
/// answers 500.
fn internal(error: &anyhow::Error) -> ApiError {
    tracing::error!(error = format!("{error:#}"), "Request failed");
    ApiError(Problem::internal())
}

impl From<AuthError> for ApiError {
    /// 401 for any credential problem; 500 when the lookup itself failed.
    fn from(error: AuthError) -> Self {
        match error {
            AuthError::Invalid => Problem::unauthorized("the credential is not valid").into(),
            AuthError::Unknown(e) => internal(&e),
        }
    }
}

impl From<CreateTenantError> for ApiError {
    fn from(error: CreateTenantError) -> Self {
        match error {
            CreateTenantError::AlreadyExists => Problem::conflict("a tenant with this id exists").into(),
            CreateTenantError::Unknown(e) => internal(&e),
        }
    }
}

impl From<ConnectError> for ApiError {
    fn from(error: ConnectError) -> Self {
        match error {
            ConnectError::TakenByAnotherTenant => {
                Problem::conflict("this number or Page is connected to another tenant").into()
            }
            ConnectError::TenantNotFound => Problem::not_found("tenant not found or closed").into(),
            ConnectError::Unknown(e) => internal(&e),
        }
    }
}

impl From<TenantStoreError> for ApiError {
    fn from(error: TenantStoreError) -> Self {
        match error {
            TenantStoreError::Unknown(e) => internal(&e),
        }
    }
}

impl From<SealError> for ApiError {
    fn from(error: SealError) -> Self {
        match error {
            SealError::Unknown(e) => internal(&e),
        }
    }
}

impl From<InboxError> for ApiError {
    fn from(error: InboxError) -> Self {
        match error {
            InboxError::InvalidCursor => {
                Problem::bad_request("cursor is not one this listing returned").into()
            }
            InboxError::EmailTaken => Problem::conflict("another contact has this email").into(),
            InboxError::OverCap { what, .. } => ApiError(Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                if what == "tags" { "too-many-tags" } else { "too-many-attributes" },
                "Over a contact's cap",
                error.to_string(),
            )),
            InboxError::OptedOutByPerson => ApiError(Problem::new(
                StatusCode::CONFLICT,
                "opted-out-by-person",
                "Opted out by the person",
                "the person opted out themselves; only they can opt back in (their opt-in keyword or \
                 Meta's marketing resume). The attempt is kept in their consent ledger",
            )),
            // Reads never name a contact; a write path that does is not an API route.
            InboxError::NoContact => Problem::bad_request("no contact identified").into(),
            InboxError::Unknown(e) => internal(&e),
        }
    }
}

impl From<UpdateConversationError> for ApiError {
    /// 409 with a stable problem type for a refused move (`illegal-transition`, naming both
    /// states), for a lost race or stale version (`version-conflict`) and for an agent at
    /// capacity or not online (`agent-unavailable`): clients switch on them.
    fn from(error: UpdateConversationError) -> Self {
        match error {
            UpdateConversationError::NotFound => Problem::not_found("no such conversation").into(),
            UpdateConversationError::IllegalTransition { .. } => ApiError(Problem::new(
                StatusCode::CONFLICT,
                "illegal-transition",
                "Illegal state transition",
                error.to_string(),
            )),
            UpdateConversationError::VersionConflict { actual, .. } => {
                let now = actual.map(|v| format!(" (it is at version {v})")).unwrap_or_default();
                ApiError(Problem::new(
                    StatusCode::CONFLICT,
                    "version-conflict",
                    "Version conflict",
                    format!("the conversation changed meanwhile{now}; read it again and retry"),
                ))
            }
            UpdateConversationError::AgentUnavailable { .. } => agent_unavailable(),
            UpdateConversationError::Unknown(e) => internal(&e),
        }
    }
}

impl From<PrivacyError> for ApiError {
    fn from(error: PrivacyError) -> Self {
        match error {
            PrivacyError::Unknown(e) => internal(&e),
        }
    }
}

impl From<DirectoryError> for ApiError {
    fn from(error: DirectoryError) -> Self {
        match error {
            DirectoryError::InvalidCursor => {
                Problem::bad_request("cursor is not one this listing returned").into()
            }
            DirectoryError::Unknown(e) => internal(&e),
        }
    }
}

impl From<CreateUserError> for ApiError {
    fn from(error: CreateUserError) -> Self {
        match error {
            CreateUserError::EmailTaken => Problem::conflict("a user of this tenant has this email").into(),
            CreateUserError::Unknown(e) => internal(&e),
        }
    }
}

impl From<UpdateError> for ApiError {
    fn from(error: UpdateError) -> Self {
        match error {
            UpdateError::Conflict => Problem::conflict("changed meanwhile; read it again and retry").into(),
            UpdateError::Unknown(e) => internal(&e),
        }
    }
}

impl From<AuditError> for ApiError {
    fn from(error: AuditError) -> Self {
        match error {
            AuditError::InvalidCursor => {
                Problem::bad_request("cursor is not one this listing returned").into()
            }
            AuditError::Unknown(e) => internal(&e),
        }
    }
}

impl From<RecordError> for ApiError {
    fn from(error: RecordError) -> Self {
        match error {
            RecordError::Conflict => Problem::conflict("changed meanwhile; read it again and retry").into(),
            RecordError::InvalidCursor => {
                Problem::bad_request("cursor is not one this listing returned").into()
            }
            RecordError::Unknown(e) => internal(&e),
        }
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(error: anyhow::Error) -> Self {
        internal(&error)
    }
}

/// No randomness for a key or id: a 500 like any other unknown failure, never a predictable secret.
impl From<shared::kernel::random::RandomUnavailable> for ApiError {
    fn from(error: shared::kernel::random::RandomUnavailable) -> Self {
        Self::from(anyhow::Error::from(error))
    }
}

impl From<OpenSecretError> for ApiError {
    fn from(error: OpenSecretError) -> Self {
        match error {
            OpenSecretError::Refused => {
                internal(&anyhow::anyhow!("a stored envelope did not open under its context"))
            }
            OpenSecretError::Unknown(e) => internal(&e),
        }
    }
}

/// 503 `try-again` (retry after 5 s): Graph could not be reached for `what`; the cause is
/// logged, not shown.
#[must_use]
pub fn graph_unavailable(what: &str, error: &dyn std::fmt::Display, detail: &str) -> ApiError {
    tracing::warn!(error = format!("{error:#}"), "{what}: Graph unavailable");
    Problem::new(StatusCode::SERVICE_UNAVAILABLE, "try-again", "Graph unavailable", detail)
        .with_retry_after(5)
        .into()
}

/// 422 for a message the policy refuses (P20–P22): `slug` names the reason.
#[must_use]
pub fn message_refused(slug: &str, detail: impl Into<String>) -> ApiError {
    Problem::new(StatusCode::UNPROCESSABLE_ENTITY, slug, "Message refused", detail).into()
}

/// The problem type (`…/problems/<slug>`) of a policy refusal.
const fn refusal_slug(refusal: Refusal) -> &'static str {
    match refusal {
        Refusal::UnknownRecipient => "unknown-recipient",
        Refusal::OptedOut => "opted-out",
        Refusal::Restricted => "restricted",
        Refusal::NoConsent => "no-consent",
        Refusal::OutsideWindow => "outside-window",
    }
}

impl From<SubmitError> for ApiError {
    /// 400 for a body the Cloud API would refuse; 422 for the policy, templates and a missing
    /// connection; 403 for the agent's scope and the plan limit; 404 for a tenant gone; 503
    /// (retry with the same Idempotency-Key) when the queue did not take the message.
    fn from(error: SubmitError) -> Self {
        match error {
            SubmitError::Invalid(invalid) => Problem::bad_request(invalid.to_string()).into(),
            SubmitError::Policy(refusal) => message_refused(refusal_slug(refusal), refusal.reason()),
            SubmitError::NoContact => message_refused("unknown-recipient", "the recipient is not a contact"),
            SubmitError::NotVisibleToAgent => {
                Problem::forbidden("agents message only contacts of their conversations").into()
            }
            SubmitError::UnknownTemplate { name, language } => message_refused(
                "unknown-template",
                format!("no template {name} in {language} (sync templates first)"),
            ),
            SubmitError::TemplateMismatch(reason) => message_refused("template-mismatch", reason),
            SubmitError::TenantNotFound => Problem::not_found("tenant not found").into(),
            SubmitError::NotConnected => {
                message_refused("not-connected", "connect a WhatsApp number first (PUT /v1/whatsapp)")
            }
            SubmitError::PlanLimit { limit } => {
                plan_limit(format!("the plan allows {limit} messages per month"))
            }
            SubmitError::NotQueued => Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "try-again",
                "Not queued",
                "the send queue is unavailable; retry with the same Idempotency-Key",
            )
            .with_retry_after(2)
            .into(),
            SubmitError::Unknown(e) => internal(&e),
        }
    }
}

impl From<DisconnectError> for ApiError {
    /// 404 when the integration is not connected.
    fn from(error: DisconnectError) -> Self {
        match error {
            DisconnectError::NotConnected(Integration::WhatsApp) => {
                Problem::not_found("no WhatsApp number is connected").into()
            }
            DisconnectError::NotConnected(Integration::LeadAds) => {
                Problem::not_found("no Page is connected").into()
            }
            DisconnectError::Unknown(e) => internal(&e),
        }
    }
}

impl From<shared::app::verification::VerifyError> for ApiError {
    /// 422 naming the failed check (`token-rejected`, `number-not-found`, `waba-not-found`,
    /// `number-not-in-waba`, `display-number-mismatch`, `page-token-mismatch`); 502 `meta-refused`
    /// for another Meta error and 503 `try-again` when Graph is unreachable, as template sync.
    fn from(error: shared::app::verification::VerifyError) -> Self {
        use shared::app::verification::VerifyError;
        match error {
            VerifyError::Refused { .. } => ApiError(Problem::new(
                StatusCode::BAD_GATEWAY,
                error.check(),
                "Meta refused",
                error.to_string(),
            )),
            VerifyError::Unavailable(e) => graph_unavailable(
                "Connection check",
                &e,
                "Meta could not be reached to verify the connection; try again",
            ),
            refused => ApiError(Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                refused.check(),
                "Connection not verified",
                refused.to_string(),
            )),
        }
    }
}

/// 409 while another import of the tenant runs.
#[must_use]
pub fn import_running(active: &shared::domain::ImportId) -> ApiError {
    ApiError(Problem::new(
        StatusCode::CONFLICT,
        "import-running",
        "An import is running",
        format!("import {active} is still running; try again when it is done"),
    ))
}

impl From<shared::domain::import::ImportError> for ApiError {
    fn from(error: shared::domain::import::ImportError) -> Self {
        match error {
            shared::domain::import::ImportError::Busy { active } => import_running(&active),
            shared::domain::import::ImportError::Unknown(e) => internal(&e),
        }
    }
}

/// 403 for a plan limit reached (P25): what the limit is, and that the plan decides it.
#[must_use]
pub fn plan_limit(detail: String) -> ApiError {
    ApiError(Problem::new(StatusCode::FORBIDDEN, "plan-limit", "Plan limit reached", detail))
}

impl From<shared::domain::outbound::TemplateError> for ApiError {
    fn from(error: shared::domain::outbound::TemplateError) -> Self {
        match error {
            shared::domain::outbound::TemplateError::Unknown(e) => internal(&e),
        }
    }
}

impl From<shared::domain::ports::IdempotencyError> for ApiError {
    fn from(error: shared::domain::ports::IdempotencyError) -> Self {
        match error {
            shared::domain::ports::IdempotencyError::ClaimLost => {
                Problem::conflict("the request took too long and was taken over; retry with the same key")
                    .into()
            }
            shared::domain::ports::IdempotencyError::Unknown(e) => internal(&e),
        }
    }
}

impl From<shared::domain::ports::RateLimitError> for ApiError {
    fn from(error: shared::domain::ports::RateLimitError) -> Self {
        match error {
            shared::domain::ports::RateLimitError::Unknown(e) => internal(&e),
        }
    }
}

impl From<shared::domain::outbound::QualityError> for ApiError {
    fn from(error: shared::domain::outbound::QualityError) -> Self {
        match error {
            shared::domain::outbound::QualityError::Unknown(e) => internal(&e),
        }
    }
}

impl From<shared::domain::canned::CannedError> for ApiError {
    fn from(error: shared::domain::canned::CannedError) -> Self {
        use shared::domain::canned::CannedError;
        match error {
            CannedError::ShortcutTaken => {
                Problem::conflict("another canned response of this scope has this shortcut").into()
            }
            CannedError::NotFound => Problem::not_found("no such canned response").into(),
            CannedError::Conflict => Problem::conflict("changed meanwhile; read it again and retry").into(),
            CannedError::Unknown(e) => internal(&e),
        }
    }
}

impl From<shared::domain::reads::ReadMarkError> for ApiError {
    fn from(error: shared::domain::reads::ReadMarkError) -> Self {
        match error {
            shared::domain::reads::ReadMarkError::Unknown(e) => internal(&e),
        }
    }
}

/// 409 `agent-unavailable`: the agent holds as many open conversations as their capacity allows
/// (or is not online where the engine requires it).
fn agent_unavailable() -> ApiError {
    ApiError(Problem::new(
        StatusCode::CONFLICT,
        "agent-unavailable",
        "Agent unavailable",
        "the agent is at capacity (or not online); nothing was changed",
    ))
}

impl From<shared::app::center::CenterOpError> for ApiError {
    /// The engine's refusals: 404 for what does not exist, 409 for a lost race, a refused move
    /// or a full agent.
    fn from(error: shared::app::center::CenterOpError) -> Self {
        use shared::app::center::CenterOpError;
        match error {
            CenterOpError::ConversationNotFound => Problem::not_found("no such conversation").into(),
            CenterOpError::QueueNotFound => Problem::bad_request("queue: no such queue").into(),
            CenterOpError::AgentNotFound => {
                Problem::bad_request("assignee is not an active user of this tenant").into()
            }
            CenterOpError::AgentUnavailable => agent_unavailable(),
            CenterOpError::IllegalTransition { from, to } => {
                UpdateConversationError::IllegalTransition { from, to }.into()
            }
            CenterOpError::VersionConflict { expected, actual } => {
                UpdateConversationError::VersionConflict { expected, actual }.into()
            }
            CenterOpError::Unknown(e) => internal(&e),
        }
    }
}

impl From<shared::domain::center::CenterError> for ApiError {
    /// 404 for an unknown queue, 409 for a taken name or a stale version.
    fn from(error: shared::domain::center::CenterError) -> Self {
        use shared::domain::center::CenterError;
        match error {
            CenterError::QueueNotFound => Problem::not_found("no such queue").into(),
            CenterError::QueueNameTaken => ApiError(Problem::new(
                StatusCode::CONFLICT,
                "queue-name-taken",
                "Queue name taken",
                "another queue of this tenant has this name",
            )),
            CenterError::Conflict => ApiError(Problem::new(
                StatusCode::CONFLICT,
                "version-conflict",
                "Version conflict",
                "the record changed meanwhile; read it again and retry",
            )),
            CenterError::Unknown(e) => internal(&e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_randomness_is_a_500_like_any_unknown_failure() {
        let answer = ApiError::from(shared::kernel::random::RandomUnavailable).into_response();
        assert_eq!(answer.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
