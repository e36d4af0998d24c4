//! Every error of every operation, mapped to a problem response here and nowhere else.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use shared::domain::audit::AuditError;
use shared::domain::crm::RecordError;
use shared::domain::identity::{CreateUserError, DirectoryError, UpdateError};
use shared::domain::inbox::{InboxError, UpdateConversationError};
use shared::domain::ports::OpenError;
use shared::domain::ports::{ConnectError, CreateTenantError, SealError, TenantStoreError};
use shared::domain::privacy::PrivacyError;
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
            // Reads never name a contact; a write path that does is not an API route.
            InboxError::NoContact => Problem::bad_request("no contact identified").into(),
            InboxError::Unknown(e) => internal(&e),
        }
    }
}

impl From<UpdateConversationError> for ApiError {
    /// 409 with a stable problem type for a refused move (`illegal-transition`, naming both
    /// states) and for a lost race or stale version (`version-conflict`): clients switch on them.
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

impl From<OpenError> for ApiError {
    fn from(error: OpenError) -> Self {
        match error {
            OpenError::Refused => {
                internal(&anyhow::anyhow!("a stored envelope did not open under its context"))
            }
            OpenError::Unknown(e) => internal(&e),
        }
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(error: anyhow::Error) -> Self {
        internal(&error)
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
