//! Rights of data subjects: export (P60) and erasure with a receipt (P62). Admins only.
//!
//! A person is named by `phone` (E.164) or `email`. Erasure requests keep the derived contact
//! ids, never the identifier itself; the next retention run carries them out.

use std::collections::BTreeMap;

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde::{Deserialize, Serialize};
use shared::domain::ai::{SuggestionStore as _, SuggestionView};
use shared::domain::audit::{AuditEntry, AuditFilter, AuditLog as _, PERSON_TARGET_DAYS};
use shared::domain::crm::{Activity, ContactRecord, RecordKind, RecordStore as _};
use shared::domain::inbox::{
    ConsentEventView, ContactFilter, ContactKey, ContactStore, ContactView, ConversationFilter,
    ConversationStore, ConversationView, LeadFilter, LeadStore, LeadView, MessageView,
};
use shared::domain::ports::{ConnectionStore, TenantStore};
use shared::domain::privacy::{ErasureCounts, ErasureReceipt, ErasureRequest, ErasureStatus, ErasureStore};
use shared::domain::{Clock, ContactId, ErasureId, PhoneNumber, TenantId};
use shared::lambda::http::{json_response, Problem};

use super::csv::{opt, Csv};
use super::inbox::{Query, MAX_LIMIT};
use super::json_body;
use crate::errors::ApiError;
use crate::{target, Adapters, Ctx, Deps};

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
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Subject {
    /// Phone number (E.164 digits).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// Email.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// The answer of the person export: JSON, or the same as CSV tables.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum PersonExport {
    /// `format=json`.
    Json(Export),
    /// `format=csv`.
    Csv(CsvExport),
}

/// Everything stored about one person.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Export {
    /// Who.
    pub subject: Subject,
    /// When the export was made, epoch ms.
    pub exported_at: i64,
    /// Each contact record the identifier leads to, with everything linked to it.
    pub contacts: Vec<ContactExport>,
    /// The audit entries about those contacts (what the team did with their data), newest
    /// first.
    pub audit: Vec<AuditEntry>,
}

/// One contact and everything linked to it.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ContactExport {
    /// The contact.
    pub contact: ContactView,
    /// Its consent ledger.
    pub consent_ledger: Vec<ConsentEventView>,
    /// Its leads.
    pub leads: Vec<LeadView>,
    /// Its conversations with their messages (and statuses).
    pub conversations: Vec<ConversationExport>,
    /// Its notes, tasks and appointments.
    pub records: Vec<ContactRecord>,
    /// Its timeline, newest first.
    pub timeline: Vec<Activity>,
}

/// A conversation and its messages.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ConversationExport {
    /// The conversation.
    pub conversation: ConversationView,
    /// Its messages, oldest first.
    pub messages: Vec<MessageView>,
    /// AI suggestions (replies, summaries, sentiment) requested on it (P30), oldest first.
    pub ai_suggestions: Vec<SuggestionView>,
}

/// Every page of a listing.
async fn all<T, E, F, Fut>(mut page: F) -> Result<Vec<T>, ApiError>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: std::future::Future<Output = Result<shared::kernel::Page<T>, E>>,
    ApiError: From<E>,
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

async fn export_contact<A: Adapters>(
    deps: &Deps<A>,
    tenant: &TenantId,
    contact: ContactView,
) -> Result<ContactExport, ApiError> {
    let (conversations_of, leads_of) = (&deps.conversations, &deps.leads);
    let owned: ContactId = contact.id.clone();
    let id = &owned;
    let consent_ledger = deps.contacts.consent_ledger(tenant, id).await?;
    let by_contact = LeadFilter { contact: Some(owned.clone()), ..LeadFilter::default() };
    let by_contact = &by_contact;
    let every = &ConversationFilter::default();
    let leads =
        all(|after| async move { leads_of.leads(tenant, by_contact, after.as_deref(), MAX_LIMIT).await })
            .await?;
    let conversations = all(|after| async move {
        conversations_of.conversations(tenant, Some(id), every, after.as_deref(), MAX_LIMIT).await
    })
    .await?;
    let mut exported = Vec::with_capacity(conversations.len());
    for conversation in conversations {
        let cid = conversation.id.clone();
        let cid = &cid;
        let messages = all(|after| async move {
            conversations_of.messages(tenant, cid, after.as_deref(), MAX_LIMIT).await
        })
        .await?;
        let ai_suggestions = deps.suggestions.suggestions(tenant, cid).await?;
        exported.push(ConversationExport { conversation, messages, ai_suggestions });
    }
    let mut records = Vec::new();
    for kind in RecordKind::ALL {
        let store = &deps.records;
        records.extend(
            all(|after| async move { store.records(tenant, id, kind, after.as_deref(), MAX_LIMIT).await })
                .await?,
        );
    }
    let timeline = deps.records.activities(tenant, id, None, u16::MAX).await?;
    Ok(ContactExport { contact, consent_ledger, leads, conversations: exported, records, timeline })
}

/// The audit entries whose target is one of `contacts`, newest first: one pass over the last
/// year of the trail (older entries no longer name anyone, P52).
async fn audit_about<A: Adapters>(
    deps: &Deps<A>,
    tenant: &TenantId,
    contacts: &[ContactExport],
) -> Result<Vec<AuditEntry>, ApiError> {
    if contacts.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<String> = contacts.iter().map(|c| c.contact.id.to_string()).collect();
    let since = deps.clock.now().as_millis() - PERSON_TARGET_DAYS * 86_400_000;
    let filter = &AuditFilter { since: Some(since), ..AuditFilter::default() };
    let log = &deps.audit;
    let mut entries =
        all(|after| async move { log.entries(tenant, filter, after.as_deref(), MAX_LIMIT).await }).await?;
    entries.retain(|e| ids.contains(&e.target.id));
    Ok(entries)
}

/// `format=json` (default) or `format=csv`.
fn wants_csv(query: &Query) -> Result<bool, ApiError> {
    match query.get("format").map(String::as_str) {
        None | Some("json") => Ok(false),
        Some("csv") => Ok(true),
        Some(_) => Err(Problem::bad_request("format must be json or csv").into()),
    }
}

/// An enum's bare JSON string (or any value's JSON), for a CSV cell.
fn json_cell<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(text)) => text,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

/// The export as CSV tables, one per kind of record, keyed by file name.
fn csv_bundle(contacts: &[ContactExport], audit: &[AuditEntry]) -> BTreeMap<&'static str, String> {
    let mut people = Csv::new(&[
        "id",
        "phone",
        "user_id",
        "email",
        "name",
        "first_seen_at",
        "last_seen_at",
        "last_inbound_at",
        "service_window_until",
        "consent_state",
        "consent_source",
        "consent_at",
    ]);
    let mut consent = Csv::new(&["contact_id", "kind", "source", "at"]);
    let mut leads = Csv::new(&["contact_id", "id", "page_id", "received_at", "lead_json", "source_json"]);
    let mut conversations = Csv::new(&["contact_id", "id", "state", "started_at", "last_message_at"]);
    let mut messages = Csv::new(&[
        "conversation_id",
        "id",
        "wamid",
        "direction",
        "type",
        "timestamp",
        "status",
        "statuses_json",
        "error_json",
        "payload_json",
    ]);
    let mut records = Csv::new(&[
        "contact_id",
        "id",
        "kind",
        "text",
        "due_at",
        "assignee",
        "done_at",
        "starts_at",
        "ends_at",
        "location",
        "created_at",
        "updated_at",
    ]);
    let mut timeline = Csv::new(&["contact_id", "at", "kind", "ref_id", "detail", "actor_json"]);
    let mut suggestions = Csv::new(&[
        "conversation_id",
        "id",
        "kind",
        "status",
        "replies_json",
        "summary",
        "sentiment",
        "reason",
        "requested_at",
        "finished_at",
    ]);
    for export in contacts {
        let c = &export.contact;
        for r in &export.records {
            records.row([
                c.id.to_string(),
                r.id.to_string(),
                r.kind.as_str().to_owned(),
                r.text.clone(),
                opt(r.due_at),
                opt(r.assignee.as_ref()),
                opt(r.done_at),
                opt(r.starts_at),
                opt(r.ends_at),
                opt(r.location.as_ref()),
                r.created_at.to_string(),
                r.updated_at.to_string(),
            ]);
        }
        for a in &export.timeline {
            timeline.row([
                c.id.to_string(),
                a.at.to_string(),
                a.kind.clone(),
                opt(a.ref_id.as_ref()),
                opt(a.detail.as_ref()),
                opt(a.actor.as_ref().map(json_cell)),
            ]);
        }
        people.row([
            c.id.to_string(),
            opt(c.phone.as_ref()),
            opt(c.user_id.as_ref()),
            opt(c.email.as_ref()),
            opt(c.name.as_ref()),
            c.first_seen_at.to_string(),
            c.last_seen_at.to_string(),
            opt(c.last_inbound_at),
            opt(c.service_window_until),
            opt(c.consent.as_ref().map(|s| json_cell(&s.state))),
            opt(c.consent.as_ref().map(|s| json_cell(&s.source))),
            opt(c.consent.as_ref().map(|s| s.at)),
        ]);
        for event in &export.consent_ledger {
            consent.row([
                c.id.to_string(),
                json_cell(&event.kind),
                json_cell(&event.source),
                event.at.to_string(),
            ]);
        }
        for lead in &export.leads {
            leads.row([
                c.id.to_string(),
                lead.id.clone(),
                lead.page_id.clone().unwrap_or_default(),
                lead.received_at.to_string(),
                lead.lead.to_string(),
                lead.source.to_string(),
            ]);
        }
        for conversation in &export.conversations {
            let v = &conversation.conversation;
            conversations.row([
                c.id.to_string(),
                v.id.to_string(),
                v.state.as_str().to_owned(),
                v.started_at.to_string(),
                v.last_message_at.to_string(),
            ]);
            for m in &conversation.messages {
                messages.row([
                    m.conversation_id.to_string(),
                    m.id.to_string(),
                    opt(m.wamid.as_ref()),
                    m.direction.clone(),
                    m.kind.clone(),
                    m.timestamp.to_string(),
                    json_cell(&m.status),
                    json_cell(&m.statuses),
                    opt(m.error.as_ref().map(json_cell)),
                    opt(m.payload.as_ref()),
                ]);
            }
            for suggestion in &conversation.ai_suggestions {
                suggestions.row([
                    suggestion.conversation_id.to_string(),
                    suggestion.id.to_string(),
                    suggestion.kind.as_str().to_owned(),
                    suggestion.status.as_str().to_owned(),
                    json_cell(&suggestion.result.replies),
                    opt(suggestion.result.summary.as_ref()),
                    opt(suggestion.result.sentiment.as_ref().map(json_cell)),
                    opt(suggestion.reason.as_ref()),
                    suggestion.requested_at.to_string(),
                    opt(suggestion.finished_at),
                ]);
            }
        }
    }
    let mut trail = Csv::new(&["id", "at", "action", "actor_json", "target_json", "fields", "count"]);
    for e in audit {
        trail.row([
            e.id.to_string(),
            e.at.to_string(),
            e.action.clone(),
            json_cell(&e.actor),
            json_cell(&e.target),
            e.fields.join(" "),
            opt(e.count),
        ]);
    }
    BTreeMap::from([
        ("audit.csv", trail.into_string()),
        ("records.csv", records.into_string()),
        ("timeline.csv", timeline.into_string()),
        ("contacts.csv", people.into_string()),
        ("consent.csv", consent.into_string()),
        ("leads.csv", leads.into_string()),
        ("conversations.csv", conversations.into_string()),
        ("messages.csv", messages.into_string()),
        ("ai_suggestions.csv", suggestions.into_string()),
    ])
}

/// A CSV export: the same records, one table per kind, as `{file name: CSV text}`.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct CsvExport {
    /// Who.
    pub subject: Subject,
    /// When, epoch ms.
    pub exported_at: i64,
    /// `contacts.csv`, `consent.csv`, `leads.csv`, `conversations.csv`, `messages.csv`,
    /// `records.csv` (notes, tasks, appointments), `timeline.csv`, `audit.csv`,
    /// `ai_suggestions.csv`.
    pub files: BTreeMap<&'static str, String>,
}

/// `GET /v1/privacy/export?phone=…|email=…[&format=csv]`: every stored datum about that person.
///
/// # Errors
/// 403 unless a tenant admin calls; 400 unless exactly one valid identifier is given.
pub async fn export<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let principal = ctx.tenant()?;
    let tenant = &principal.tenant_id;
    let csv = wants_csv(ctx.query)?;
    let (key, subject) =
        subject(ctx.query.get("phone").map(String::as_str), ctx.query.get("email").map(String::as_str))?;
    let mut contacts = Vec::new();
    for contact in deps.contacts.find_contacts(tenant, &key).await? {
        contacts.push(export_contact(deps, tenant, contact).await?);
    }
    let audit = audit_about(deps, tenant, &contacts).await?;
    let messages: usize = contacts.iter().flat_map(|c| &c.conversations).map(|c| c.messages.len()).sum();
    tracing::info!(contacts = contacts.len(), messages, csv, "Personal data export served");
    // Nobody with this identifier: the entry says so without naming anyone.
    let subject_id = deps.contacts.contact_id_of(tenant, &key).await?;
    let subject_id = subject_id.as_ref().map_or("none", ContactId::as_str);
    deps.audit(principal, "privacy.export", target("contact", subject_id), |e| {
        e.with_count(contacts.len() as u64).with_fields([if csv { "format=csv" } else { "format=json" }])
    })
    .await;
    let exported_at = deps.clock.now().as_millis();
    let body = if csv {
        PersonExport::Csv(CsvExport { subject, exported_at, files: csv_bundle(&contacts, &audit) })
    } else {
        PersonExport::Json(Export { subject, exported_at, contacts, audit })
    };
    Ok(json_response(StatusCode::OK, &body))
}

/// Contacts per page of the tenant-wide export (each with everything linked to it).
const TENANT_EXPORT_PAGE: u16 = 25;

/// One page of the tenant-wide export.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct TenantExportPage {
    /// The tenant's own records (first page only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant: Option<TenantRecords>,
    /// When, epoch ms.
    pub exported_at: i64,
    /// Contacts with everything linked to them (JSON).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contacts: Option<Vec<ContactExport>>,
    /// The same as CSV tables (`format=csv`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub files: Option<BTreeMap<&'static str, String>>,
    /// Pass as `cursor` for the next page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// The tenant's own records: organisation and connections (never the tokens).
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct TenantRecords {
    /// The tenant.
    pub id: TenantId,
    /// Its name.
    pub name: String,
    /// When it was created, epoch ms.
    pub created_at: i64,
    /// The WhatsApp connection.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub whatsapp: Option<super::whatsapp::ConnectionView>,
    /// The Lead Ads Page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lead_ads: Option<super::leadads::PageView>,
}

/// `GET /v1/privacy/export/tenant[?cursor=…&format=csv]`: all of the tenant's data, a page of
/// contacts at a time (the tenant's own records on the first page).
///
/// # Errors
/// 403 unless a tenant admin calls; 400 for a bad cursor or format.
pub async fn tenant_export<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let principal = ctx.tenant()?;
    let tenant_id = &principal.tenant_id;
    let csv = wants_csv(ctx.query)?;
    let after = super::inbox::cursor(ctx.query)?;
    let tenant = match after {
        Some(_) => None,
        None => {
            let record = deps
                .tenants
                .tenant(tenant_id)
                .await?
                .ok_or_else(|| ApiError::from(Problem::not_found("tenant not found")))?;
            Some(TenantRecords {
                id: record.id,
                name: record.name,
                created_at: record.created_at.as_millis(),
                whatsapp: deps.connections.whatsapp_connection(tenant_id).await?.as_ref().map(Into::into),
                lead_ads: deps.connections.page_connection(tenant_id).await?.as_ref().map(Into::into),
            })
        }
    };
    let page = deps
        .contacts
        .contacts(tenant_id, &ContactFilter::default(), after.as_deref(), TENANT_EXPORT_PAGE)
        .await?;
    let mut contacts = Vec::with_capacity(page.items.len());
    for contact in page.items {
        contacts.push(export_contact(deps, tenant_id, contact).await?);
    }
    tracing::info!(contacts = contacts.len(), csv, "Tenant export page served");
    deps.audit(principal, "privacy.tenant_export", target("tenant", tenant_id.as_str()), |e| {
        e.with_count(contacts.len() as u64)
    })
    .await;
    let (contacts, files) =
        if csv { (None, Some(csv_bundle(&contacts, &[]))) } else { (Some(contacts), None) };
    let body = TenantExportPage {
        tenant,
        exported_at: deps.clock.now().as_millis(),
        contacts,
        files,
        next: page.next.as_deref().map(super::inbox::encode_cursor),
    };
    Ok(json_response(StatusCode::OK, &body))
}

/// The body of `POST /v1/privacy/erasure`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
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
#[derive(Debug, Serialize, schemars::JsonSchema)]
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
pub async fn request_erasure<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let principal = ctx.tenant()?;
    let tenant = &principal.tenant_id;
    let request: RequestErasure = json_body(ctx.body)?;
    let (key, _) = subject(request.phone.as_deref(), request.email.as_deref())?;
    // The contact the identifier leads to now (ids are random: one made after this request is a
    // new person's record, and a new request erases it).
    let mut contacts: Vec<ContactId> = deps.contacts.contact_id_of(tenant, &key).await?.into_iter().collect();
    for found in deps.contacts.find_contacts(tenant, &key).await? {
        if !contacts.contains(&found.id) {
            contacts.push(found.id);
        }
    }
    let now = deps.clock.now();
    let erasure = ErasureRequest {
        id: ErasureId::generate(now)?,
        contacts,
        status: ErasureStatus::Pending,
        requested_at: now,
        progress: ErasureCounts::default(),
        receipt: None,
    };
    deps.erasures.request_erasure(tenant, &erasure).await?;
    tracing::info!(erasure_id = %erasure.id, "Erasure requested");
    // The audit entry keeps the fact of the request, never who it is about.
    deps.audit(principal, "privacy.erasure_request", target("erasure", erasure.id.as_str()), |e| e).await;
    let view =
        ErasureView { id: erasure.id, status: erasure.status, requested_at: now.as_millis(), receipt: None };
    Ok(json_response(StatusCode::ACCEPTED, &view))
}

/// `GET /v1/privacy/erasure/{id}`.
///
/// # Errors
/// 403 unless a tenant admin calls; 404 for an unknown (or another tenant's) request.
pub async fn erasure<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let tenant = &ctx.tenant()?.tenant_id;
    let not_found = || ApiError::from(Problem::not_found("no such erasure request"));
    let id = ErasureId::parse(ctx.param("erasure_id")).map_err(|_| not_found())?;
    let request = deps.erasures.erasure(tenant, &id).await?.ok_or_else(not_found)?;
    let view = ErasureView {
        id: request.id,
        status: request.status,
        requested_at: request.requested_at.as_millis(),
        receipt: request.receipt,
    };
    Ok(json_response(StatusCode::OK, &view))
}
