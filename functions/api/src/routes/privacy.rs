//! Rights of data subjects: export (P60) and erasure with a receipt (P62). Admins only.
//!
//! A person is named by `phone` (E.164) or `email`. Erasure requests keep the derived contact
//! ids, never the identifier itself; the next retention run carries them out.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde::{Deserialize, Serialize};
use shared::domain::inbox::{
    ConsentEventView, ContactKey, ContactView, ConversationView, InboxStore, LeadView, MessageView,
};
use shared::domain::privacy::{ErasureCounts, ErasureReceipt, ErasureRequest, ErasureStatus, PrivacyStore};
use shared::domain::{Clock, ContactId, ErasureId, PhoneNumber, TenantId};
use shared::lambda::http::{json_response, Problem};

use super::inbox::{Query, MAX_LIMIT};
use super::json_body;
use crate::auth::Principal;
use crate::errors::ApiError;
use crate::{require_admin, Deps};

/// The person named by exactly one of `phone` or `email`.
fn subject(phone: Option<&str>, email: Option<&str>) -> Result<(ContactKey, Subject), ApiError> {
    match (phone, email) {
        (Some(phone), None) => {
            let phone = PhoneNumber::parse(phone)
                .map_err(|e| ApiError::from(Problem::bad_request(format!("phone: {e}"))))?;
            let shown = Subject { phone: Some(phone.as_digits().to_owned()), email: None };
            Ok((ContactKey::Phone(phone), shown))
        }
        (None, Some(email)) => {
            let email = email.trim().to_lowercase();
            if email.len() > 254 || !email.contains('@') || email.starts_with('@') || email.ends_with('@') {
                return Err(Problem::bad_request("email is not an email address").into());
            }
            Ok((ContactKey::Email(email.clone()), Subject { phone: None, email: Some(email) }))
        }
        _ => Err(Problem::bad_request("name the person by exactly one of phone or email").into()),
    }
}

/// Who an export or erasure is about.
#[derive(Debug, Serialize)]
pub struct Subject {
    /// Phone number (E.164 digits).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// Email.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// Everything stored about one person.
#[derive(Debug, Serialize)]
pub struct Export {
    /// Who.
    pub subject: Subject,
    /// When the export was made, epoch ms.
    pub exported_at: i64,
    /// Each contact record the identifier leads to, with everything linked to it.
    pub contacts: Vec<ContactExport>,
}

/// One contact and everything linked to it.
#[derive(Debug, Serialize)]
pub struct ContactExport {
    /// The contact.
    pub contact: ContactView,
    /// Its consent ledger.
    pub consent_ledger: Vec<ConsentEventView>,
    /// Its leads.
    pub leads: Vec<LeadView>,
    /// Its conversations with their messages (and statuses).
    pub conversations: Vec<ConversationExport>,
}

/// A conversation and its messages.
#[derive(Debug, Serialize)]
pub struct ConversationExport {
    /// The conversation.
    pub conversation: ConversationView,
    /// Its messages, oldest first.
    pub messages: Vec<MessageView>,
}

/// Every page of a listing.
async fn all<T, F, Fut>(mut page: F) -> Result<Vec<T>, ApiError>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: std::future::Future<
        Output = Result<shared::domain::inbox::Page<T>, shared::domain::inbox::InboxError>,
    >,
{
    let mut items = Vec::new();
    let mut after = None;
    loop {
        let next = page(after).await?;
        items.extend(next.items);
        match next.next {
            Some(cursor) => after = Some(cursor),
            None => return Ok(items),
        }
    }
}

async fn export_contact<I: InboxStore>(
    inbox: &I,
    tenant: &TenantId,
    contact: ContactView,
) -> Result<ContactExport, ApiError> {
    let owned: ContactId = contact.id.clone();
    let id = &owned;
    let consent_ledger = inbox.consent_ledger(tenant, id).await?;
    let leads =
        all(|after| async move { inbox.leads(tenant, Some(id), after.as_deref(), MAX_LIMIT).await }).await?;
    let conversations =
        all(|after| async move { inbox.conversations(tenant, Some(id), after.as_deref(), MAX_LIMIT).await })
            .await?;
    let mut exported = Vec::with_capacity(conversations.len());
    for conversation in conversations {
        let cid = conversation.id.clone();
        let cid = &cid;
        let messages =
            all(|after| async move { inbox.messages(tenant, cid, after.as_deref(), MAX_LIMIT).await })
                .await?;
        exported.push(ConversationExport { conversation, messages });
    }
    Ok(ContactExport { contact, consent_ledger, leads, conversations: exported })
}

/// `GET /v1/privacy/export?phone=…|email=…`: every stored datum about that person, JSON.
///
/// # Errors
/// 403 unless a tenant admin calls; 400 unless exactly one valid identifier is given.
pub async fn export<S, V, C: Clock, I: InboxStore, P>(
    principal: &Principal,
    query: &Query,
    deps: &Deps<S, V, C, I, P>,
) -> Result<Response<Body>, ApiError> {
    let tenant = &require_admin(principal)?.tenant_id;
    let (key, subject) =
        subject(query.get("phone").map(String::as_str), query.get("email").map(String::as_str))?;
    let mut contacts = Vec::new();
    for contact in deps.inbox.find_contacts(tenant, &key).await? {
        contacts.push(export_contact(&deps.inbox, tenant, contact).await?);
    }
    let messages: usize = contacts.iter().flat_map(|c| &c.conversations).map(|c| c.messages.len()).sum();
    tracing::info!(contacts = contacts.len(), messages, "Personal data export served");
    Ok(json_response(
        StatusCode::OK,
        &Export { subject, exported_at: deps.clock.now().as_millis(), contacts },
    ))
}

/// The body of `POST /v1/privacy/erasure`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestErasure {
    /// Phone number of the person.
    #[serde(default)]
    pub phone: Option<String>,
    /// Email of the person.
    #[serde(default)]
    pub email: Option<String>,
}

/// An erasure request as the API shows it.
#[derive(Debug, Serialize)]
pub struct ErasureView {
    /// Its id.
    pub id: ErasureId,
    /// `pending` until the next retention run, then `done`.
    pub status: ErasureStatus,
    /// When it was made, epoch ms.
    pub requested_at: i64,
    /// The deletion receipt, once done.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receipt: Option<ErasureReceipt>,
}

/// `POST /v1/privacy/erasure`: accepted at once, carried out by the next retention run.
///
/// # Errors
/// 403 unless a tenant admin calls; 400 unless exactly one valid identifier is given.
pub async fn request_erasure<S, V, C: Clock, I: InboxStore, P: PrivacyStore>(
    principal: &Principal,
    body: &[u8],
    deps: &Deps<S, V, C, I, P>,
) -> Result<Response<Body>, ApiError> {
    let tenant = &require_admin(principal)?.tenant_id;
    let request: RequestErasure = json_body(body)?;
    let (key, _) = subject(request.phone.as_deref(), request.email.as_deref())?;
    // The derived id even with no contact yet: data that arrives before the run goes too.
    let mut contacts = vec![key.contact_id()];
    for found in deps.inbox.find_contacts(tenant, &key).await? {
        if !contacts.contains(&found.id) {
            contacts.push(found.id);
        }
    }
    let now = deps.clock.now();
    let erasure = ErasureRequest {
        id: ErasureId::generate(now),
        contacts,
        status: ErasureStatus::Pending,
        requested_at: now,
        progress: ErasureCounts::default(),
        receipt: None,
    };
    deps.privacy.request_erasure(tenant, &erasure).await?;
    tracing::info!(erasure_id = %erasure.id, "Erasure requested");
    let view =
        ErasureView { id: erasure.id, status: erasure.status, requested_at: now.as_millis(), receipt: None };
    Ok(json_response(StatusCode::ACCEPTED, &view))
}

/// `GET /v1/privacy/erasure/{id}`.
///
/// # Errors
/// 403 unless a tenant admin calls; 404 for an unknown (or another tenant's) request.
pub async fn erasure<S, V, C, I, P: PrivacyStore>(
    principal: &Principal,
    id: &str,
    deps: &Deps<S, V, C, I, P>,
) -> Result<Response<Body>, ApiError> {
    let tenant = &require_admin(principal)?.tenant_id;
    let not_found = || ApiError::from(Problem::not_found("no such erasure request"));
    let id = ErasureId::parse(id).map_err(|_| not_found())?;
    let request = deps.privacy.erasure(tenant, &id).await?.ok_or_else(not_found)?;
    let view = ErasureView {
        id: request.id,
        status: request.status,
        requested_at: request.requested_at.as_millis(),
        receipt: request.receipt,
    };
    Ok(json_response(StatusCode::OK, &view))
}
