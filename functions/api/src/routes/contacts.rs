//! Contacts (P02, P61): create, find, correct, delete, import from CSV; their notes, tasks and
//! appointments; their timeline.
//!
//! Managers and admins work with every contact; an agent reaches a contact only through a
//! conversation it may see (P14) — any other contact answers 404 to them.

use std::collections::BTreeMap;

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde::{Deserialize, Serialize};
use shared::domain::audit::ActorKind;
use shared::domain::crm::{Activity, ContactRecord, RecordError, RecordKind, RecordStore as _};
use shared::domain::identity::Versioned;
use shared::domain::inbox::{
    ConsentChange, ConsentEventView, ConsentKind, ConsentSource, ContactFilter, ContactPatch, ContactProfile,
    ContactStore, ContactView, ConversationFilter, ConversationStore, LeadFilter, LeadStore, LeadView,
    LifecycleStore, Stored,
};
use shared::domain::privacy::ErasureCounts;
use shared::domain::{Clock, ContactId, PhoneNumber, RecordId, UserId};
use shared::lambda::http::{json_response, Problem};

use super::inbox::{actor_of, millis, paging, phone_filter, text, PageView, MAX_LIMIT};
use super::{json_body, no_content, nullable, path_id};
use crate::auth::TenantPrincipal;
use crate::errors::ApiError;
use crate::{target, Adapters, Ctx, Deps};

/// A contact with its consent ledger and leads.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ContactDetail {
    /// The contact.
    #[serde(flatten)]
    pub contact: ContactView,
    /// Every consent event, oldest first.
    pub consent_ledger: Vec<ConsentEventView>,
    /// Its leads (the first page).
    pub leads: Vec<LeadView>,
}

/// `POST /v1/contacts`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateContactBody {
    /// Phone number (E.164 digits; `+`, spaces and dashes are ignored).
    #[serde(default)]
    pub phone: Option<String>,
    /// Email.
    #[serde(default)]
    pub email: Option<String>,
    /// Name.
    #[serde(default)]
    #[schemars(length(max = 200))]
    pub name: Option<String>,
    /// Tags (added to an existing contact's).
    #[serde(default)]
    pub tags: Vec<String>,
    /// Custom attributes (merged into an existing contact's).
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    /// Consent the person gave (recorded in the ledger with source `api` or `agent`).
    #[serde(default)]
    pub consent: Option<GivenConsent>,
}

/// Consent given or withdrawn through the API.
#[derive(Debug, Clone, Copy, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum GivenConsent {
    /// The person agreed to be contacted.
    OptIn,
    /// The person asked to get no more messages.
    OptOut,
}

impl From<GivenConsent> for ConsentKind {
    fn from(given: GivenConsent) -> Self {
        match given {
            GivenConsent::OptIn => Self::OptIn,
            GivenConsent::OptOut => Self::OptOut,
        }
    }
}

/// `PATCH /v1/contacts/{contact_id}`: the fields to correct; null removes name or email.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateContactBody {
    /// Name.
    #[serde(default, deserialize_with = "nullable")]
    pub name: Option<Option<String>>,
    /// Email.
    #[serde(default, deserialize_with = "nullable")]
    pub email: Option<Option<String>>,
    /// Tags (replace the current ones).
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    /// Custom attributes (replace the current ones).
    #[serde(default)]
    pub attributes: Option<BTreeMap<String, String>>,
    /// Restrict processing (P63: stored, but no sends, automation or AI) or lift it; recorded
    /// in the consent ledger.
    #[serde(default)]
    pub restricted: Option<bool>,
}

/// `POST /v1/contacts/{contact_id}/{notes|tasks|appointments}`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordBody {
    /// The note's text (up to 10,000 characters), the task's or appointment's title (up to 500).
    #[schemars(length(min = 1, max = 10000))]
    pub text: String,
    /// Task: due, epoch ms.
    #[serde(default)]
    pub due_at: Option<i64>,
    /// Task: who should do it (a user id).
    #[serde(default)]
    pub assignee: Option<UserId>,
    /// Appointment: start, epoch ms (required for appointments).
    #[serde(default)]
    pub starts_at: Option<i64>,
    /// Appointment: end, epoch ms (required for appointments, after the start).
    #[serde(default)]
    pub ends_at: Option<i64>,
    /// Appointment: where (up to 500 characters).
    #[serde(default)]
    pub location: Option<String>,
}

/// `PATCH` of a record; null clears an optional field.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordPatch {
    /// Text or title.
    #[serde(default)]
    pub text: Option<String>,
    /// Task: due.
    #[serde(default, deserialize_with = "nullable")]
    pub due_at: Option<Option<i64>>,
    /// Task: assignee.
    #[serde(default, deserialize_with = "nullable")]
    pub assignee: Option<Option<UserId>>,
    /// Task: done (true completes it, false reopens it).
    #[serde(default)]
    pub done: Option<bool>,
    /// Appointment: start.
    #[serde(default)]
    pub starts_at: Option<i64>,
    /// Appointment: end.
    #[serde(default)]
    pub ends_at: Option<i64>,
    /// Appointment: where.
    #[serde(default, deserialize_with = "nullable")]
    pub location: Option<Option<String>>,
}

/// A page of the timeline.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct TimelinePage {
    /// Newest first.
    pub items: Vec<Activity>,
    /// Pass as `before` for the next page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<i64>,
}

/// The result of an import.
#[derive(Debug, Default, Serialize, schemars::JsonSchema)]
pub struct ImportReport {
    /// Data rows read.
    pub rows: u64,
    /// Contacts created.
    pub created: u64,
    /// Existing contacts changed.
    pub updated: u64,
    /// Rows that changed nothing (already imported).
    pub unchanged: u64,
    /// Rows refused.
    pub failed: u64,
    /// Why rows were refused (the first 1,000).
    pub errors: Vec<RowError>,
}

/// A refused row.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct RowError {
    /// The line in the file (the header is line 1).
    pub line: u64,
    /// The column at fault, when one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    /// Why.
    pub reason: String,
}

/// Largest number of data rows in one import.
pub const MAX_IMPORT_ROWS: u64 = 10_000;

fn bad(detail: impl Into<String>) -> ApiError {
    Problem::bad_request(detail).into()
}

/// A checked, lowercased email.
///
/// # Errors
/// A reason.
pub fn email(raw: &str) -> Result<String, String> {
    let email = raw.trim().to_lowercase();
    let valid = (3..=254).contains(&email.len())
        && email.split_once('@').is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if valid {
        Ok(email)
    } else {
        Err("not an email address".to_owned())
    }
}

fn contact_name(raw: &str) -> Result<String, String> {
    let name = raw.trim();
    if (1..=200).contains(&name.chars().count()) && !name.chars().any(char::is_control) {
        Ok(name.to_owned())
    } else {
        Err("must be 1 to 200 characters".to_owned())
    }
}

fn tags(raw: impl IntoIterator<Item = String>) -> Result<Vec<String>, String> {
    let mut tags: Vec<String> =
        raw.into_iter().map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()).collect();
    tags.sort();
    tags.dedup();
    if tags.len() > 50 || tags.iter().any(|t| t.chars().count() > 64 || t.chars().any(char::is_control)) {
        return Err("at most 50 tags of up to 64 characters".to_owned());
    }
    Ok(tags)
}

fn attributes(raw: BTreeMap<String, String>) -> Result<BTreeMap<String, String>, String> {
    let key_ok = |k: &str| {
        (1..=64).contains(&k.len())
            && k.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    };
    if raw.len() > 50 || raw.iter().any(|(k, v)| !key_ok(k) || v.chars().count() > 1000) {
        return Err("at most 50 attributes: names of 1 to 64 letters, digits, '_', '-', '.'; values up to 1000 characters".to_owned());
    }
    Ok(raw)
}

/// The person a phone, email and name given by a client name: at least a phone or an email.
///
/// # Errors
/// 400 naming the field at fault.
pub fn person(
    phone_raw: Option<&str>,
    email_raw: Option<&str>,
    name_raw: Option<&str>,
) -> Result<ContactProfile, ApiError> {
    let profile = ContactProfile {
        phone: phone_raw.map(phone).transpose().map_err(|e| bad(format!("phone: {e}")))?,
        email: email_raw.map(email).transpose().map_err(|e| bad(format!("email: {e}")))?,
        name: name_raw.map(contact_name).transpose().map_err(|e| bad(format!("name: {e}")))?,
        user_id: None,
    };
    if profile.phone.is_none() && profile.email.is_none() {
        return Err(bad("a phone or an email is needed to know who this is"));
    }
    Ok(profile)
}

fn phone(raw: &str) -> Result<PhoneNumber, String> {
    PhoneNumber::parse(raw).map_err(|e| e.to_string())
}

async fn detail<A: Adapters>(
    deps: &Deps<A>,
    principal: &TenantPrincipal,
    contact: ContactView,
) -> Result<ContactDetail, ApiError> {
    let tenant = &principal.tenant_id;
    let consent_ledger = deps.contacts.consent_ledger(tenant, &contact.id).await?;
    let filter = LeadFilter { contact: Some(contact.id.clone()), ..LeadFilter::default() };
    let leads = deps.leads.leads(tenant, &filter, None, MAX_LIMIT).await?.items;
    Ok(ContactDetail { contact, consent_ledger, leads })
}

/// `GET /v1/contacts[?phone=…|email=…|tag=…]`: a bulk read, audited.
///
/// # Errors
/// 400 for a bad parameter.
pub async fn list<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let principal = ctx.tenant()?;
    let tenant = &principal.tenant_id;
    let paging = paging(ctx.query)?;
    let by_phone = phone_filter(ctx.query)?;
    let by_email =
        ctx.query.get("email").map(|raw| email(raw).map_err(|e| bad(format!("email: {e}")))).transpose()?;
    if by_phone.is_some() || by_email.is_some() {
        let found = match (&by_phone, &by_email) {
            (Some(phone), _) => deps.contacts.contact_by_phone(tenant, phone).await?,
            (None, Some(email)) => deps.contacts.contact_by_email(tenant, email).await?,
            (None, None) => None,
        };
        let items = match found {
            Some(contact) => vec![detail(deps, principal, contact).await?],
            None => Vec::new(),
        };
        deps.audit(
            principal,
            "contact.lookup",
            target("contact", items.first().map_or("-".to_owned(), |d| d.contact.id.to_string())),
            |e| e,
        )
        .await;
        return Ok(json_response(StatusCode::OK, &PageView { items, next: None }));
    }
    let filter = ContactFilter { tag: text(ctx.query, "tag", 64)? };
    let page = deps.contacts.contacts(tenant, &filter, paging.after.as_deref(), paging.limit).await?;
    deps.audit(principal, "contact.list", target("contact", "*"), |e| e.with_count(page.items.len() as u64))
        .await;
    let page = shared::domain::inbox::Page {
        items: page
            .items
            .into_iter()
            .map(|contact| ContactDetail { contact, consent_ledger: Vec::new(), leads: Vec::new() })
            .collect(),
        next: page.next,
    };
    Ok(json_response(StatusCode::OK, &PageView::from(page)))
}

fn consent_source(principal: &TenantPrincipal) -> ConsentSource {
    match principal.actor.kind {
        ActorKind::User => ConsentSource::Agent,
        _ => ConsentSource::Api,
    }
}

/// Refuses a new contact beyond the plan's limit (P25).
async fn within_contact_limit<A: Adapters>(
    deps: &Deps<A>,
    principal: &TenantPrincipal,
) -> Result<(), ApiError> {
    let limit = principal.plan.contacts;
    if deps.contacts.contact_count(&principal.tenant_id).await? >= limit {
        return Err(crate::errors::plan_limit(format!("the plan allows {limit} contacts")));
    }
    Ok(())
}

async fn exists<A: Adapters>(
    deps: &Deps<A>,
    principal: &TenantPrincipal,
    profile: &ContactProfile,
) -> Result<bool, ApiError> {
    let tenant = &principal.tenant_id;
    Ok(match (&profile.phone, &profile.email) {
        (Some(phone), _) => deps.contacts.contact_by_phone(tenant, phone).await?.is_some(),
        (None, Some(email)) => deps.contacts.contact_by_email(tenant, email).await?.is_some(),
        (None, None) => false,
    })
}

/// `POST /v1/contacts`.
///
/// # Errors
/// 400 for a bad body or neither phone nor email; 403 at the plan's contact limit.
pub async fn create<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let principal = ctx.tenant()?;
    let body: CreateContactBody = json_body(ctx.body)?;
    let profile = person(body.phone.as_deref(), body.email.as_deref(), body.name.as_deref())?;
    let tags = tags(body.tags).map_err(|e| bad(format!("tags: {e}")))?;
    let attributes = attributes(body.attributes).map_err(|e| bad(format!("attributes: {e}")))?;
    if !exists(deps, principal, &profile).await? {
        within_contact_limit(deps, principal).await?;
    }
    let now = deps.clock.now();
    let (mut contact, stored) = deps.contacts.create_contact(&principal.tenant_id, &profile, now).await?;
    if let Some(changed) = merge(deps, principal, &contact, tags, attributes).await? {
        contact = changed;
    }
    if let Some(kind) = body.consent {
        record_consent(
            deps,
            principal,
            &profile,
            kind.into(),
            consent_source(principal),
            &format!("api:{}", shared::domain::new_ulid(now)),
        )
        .await?;
    }
    let contact = deps.contacts.contact(&principal.tenant_id, &contact.id).await?.unwrap_or(contact);
    let (status, action) = match stored {
        Stored::Created => (StatusCode::CREATED, "contact.create"),
        Stored::Duplicate => (StatusCode::OK, "contact.update"),
    };
    deps.audit(principal, action, target("contact", contact.id.as_str()), |e| {
        e.with_fields(["phone", "email", "name", "tags", "attributes", "consent"])
    })
    .await;
    Ok(json_response(status, &detail(deps, principal, contact).await?))
}

/// Adds `tags` and `attributes` to a contact's; `None` when nothing changed.
async fn merge<A: Adapters>(
    deps: &Deps<A>,
    principal: &TenantPrincipal,
    contact: &ContactView,
    tags: Vec<String>,
    attributes: BTreeMap<String, String>,
) -> Result<Option<ContactView>, ApiError> {
    let mut all_tags = contact.tags.clone();
    all_tags.extend(tags);
    all_tags.sort();
    all_tags.dedup();
    let mut all_attributes = contact.attributes.clone();
    all_attributes.extend(attributes);
    if all_tags == contact.tags && all_attributes == contact.attributes {
        return Ok(None);
    }
    let patch =
        ContactPatch { tags: Some(all_tags), attributes: Some(all_attributes), ..ContactPatch::default() };
    Ok(deps.contacts.update_contact(&principal.tenant_id, &contact.id, &patch, deps.clock.now()).await?)
}

async fn record_consent<A: Adapters>(
    deps: &Deps<A>,
    principal: &TenantPrincipal,
    profile: &ContactProfile,
    kind: ConsentKind,
    source: ConsentSource,
    cause: &str,
) -> Result<(), ApiError> {
    let now = deps.clock.now();
    let change = ConsentChange { contact: profile, kind, source, at: now, cause };
    deps.contacts.record_consent(&principal.tenant_id, &change, now).await?;
    Ok(())
}

/// The contact of the path, if the caller may see it (404 otherwise, whatever the reason).
///
/// # Errors
/// 404.
pub async fn visible_contact<A: Adapters>(ctx: &Ctx<'_>, deps: &Deps<A>) -> Result<ContactView, ApiError> {
    let principal = ctx.tenant()?;
    let not_found = || ApiError::from(Problem::not_found("no such contact"));
    let id = path_id(ctx.param("contact_id"), ContactId::parse, "contact")?;
    let contact = deps.contacts.contact(&principal.tenant_id, &id).await?.ok_or_else(not_found)?;
    if let Some(scope) = principal.agent_scope() {
        let filter = ConversationFilter { visible_to: Some(scope), ..ConversationFilter::default() };
        let visible = deps
            .conversations
            .conversations(&principal.tenant_id, Some(&contact.id), &filter, None, 1)
            .await?;
        if visible.items.is_empty() {
            return Err(not_found());
        }
    }
    Ok(contact)
}

/// `GET /v1/contacts/{contact_id}`.
///
/// # Errors
/// 404 for an unknown, another tenant's or (agents) an unreachable contact.
pub async fn get<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let contact = visible_contact(&ctx, deps).await?;
    let principal = ctx.tenant()?;
    deps.audit(principal, "contact.read", target("contact", contact.id.as_str()), |e| e).await;
    Ok(json_response(StatusCode::OK, &detail(deps, principal, contact).await?))
}

/// `PATCH /v1/contacts/{contact_id}` (rectification, P61).
///
/// # Errors
/// 404 as for reads; 400 for a bad field; 409 for an email another contact has.
pub async fn update<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let principal = ctx.tenant()?;
    let body: UpdateContactBody = json_body(ctx.body)?;
    let contact = visible_contact(&ctx, deps).await?;
    let patch = ContactPatch {
        name: body
            .name
            .map(|n| n.as_deref().map(contact_name).transpose())
            .transpose()
            .map_err(|e| bad(format!("name: {e}")))?,
        email: body
            .email
            .map(|e| e.as_deref().map(email).transpose())
            .transpose()
            .map_err(|e| bad(format!("email: {e}")))?,
        tags: body.tags.map(tags).transpose().map_err(|e| bad(format!("tags: {e}")))?,
        attributes: body
            .attributes
            .map(attributes)
            .transpose()
            .map_err(|e| bad(format!("attributes: {e}")))?,
    };
    let restriction = body
        .restricted
        .filter(|restricted| *restricted != contact.restricted_at.is_some())
        .map(|restricted| if restricted { ConsentKind::Restrict } else { ConsentKind::LiftRestriction });
    let fields: Vec<&str> = [
        ("name", patch.name.is_some()),
        ("email", patch.email.is_some()),
        ("tags", patch.tags.is_some()),
        ("attributes", patch.attributes.is_some()),
        ("restricted", restriction.is_some()),
    ]
    .into_iter()
    .filter_map(|(name, set)| set.then_some(name))
    .collect();
    let now = deps.clock.now();
    let mut updated = deps
        .contacts
        .update_contact(&principal.tenant_id, &contact.id, &patch, now)
        .await?
        .ok_or_else(|| ApiError::from(Problem::not_found("no such contact")))?;
    if let Some(kind) = restriction {
        let profile = ContactProfile {
            phone: contact.phone.as_deref().and_then(|p| PhoneNumber::parse(p).ok()),
            user_id: contact.user_id.clone(),
            email: contact.email.clone(),
            ..ContactProfile::default()
        };
        let cause = format!("api:{}", shared::domain::new_ulid(now));
        record_consent(deps, principal, &profile, kind, consent_source(principal), &cause).await?;
        updated = deps.contacts.contact(&principal.tenant_id, &contact.id).await?.unwrap_or(updated);
    }
    let activity = Activity {
        at: now.as_millis(),
        kind: "contact.updated".to_owned(),
        ref_id: None,
        detail: Some(fields.join(",")),
        actor: actor_of(principal),
    };
    deps.records.add_activity(&principal.tenant_id, &contact.id, &activity).await?;
    deps.audit(principal, "contact.update", target("contact", contact.id.as_str()), |e| {
        e.with_fields(fields)
    })
    .await;
    Ok(json_response(StatusCode::OK, &detail(deps, principal, updated).await?))
}

/// Erasure passes one delete may take (each removes up to [`ERASE_BUDGET`] items).
const ERASE_PASSES: usize = 40;
/// Items per erasure pass.
const ERASE_BUDGET: u32 = 500;

/// `DELETE /v1/contacts/{contact_id}`: everything about the contact, now.
///
/// # Errors
/// 404 as for reads; 503 when a very large contact needs more than one request (call again).
pub async fn delete<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let principal = ctx.tenant()?;
    let contact = visible_contact(&ctx, deps).await?;
    let mut total = ErasureCounts::default();
    for _ in 0..ERASE_PASSES {
        let counts = deps.lifecycle.erase_contact(&principal.tenant_id, &contact.id, ERASE_BUDGET).await?;
        total.add(&counts);
        if counts.contacts > 0 {
            deps.audit(principal, "contact.delete", target("contact", contact.id.as_str()), |e| {
                e.with_count(total.total())
            })
            .await;
            return Ok(json_response(StatusCode::OK, &total));
        }
    }
    deps.audit(principal, "contact.delete_partial", target("contact", contact.id.as_str()), |e| {
        e.with_count(total.total())
    })
    .await;
    Err(Problem::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "try-again",
        "Not finished",
        "the contact has more data than one request deletes; call again",
    )
    .with_retry_after(1)
    .into())
}

/// `GET /v1/contacts/{contact_id}/timeline`.
///
/// # Errors
/// 404 as for reads; 400 for a bad `before` or limit.
pub async fn timeline<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let contact = visible_contact(&ctx, deps).await?;
    let principal = ctx.tenant()?;
    let tenant = &principal.tenant_id;
    let limit = paging(ctx.query)?.limit;
    let before = millis(ctx.query, "before")?;
    let mut items = deps.records.activities(tenant, &contact.id, before, limit).await?;
    // Messages come from the contact's conversations (at most the 20 latest).
    let conversations = deps
        .conversations
        .conversations(tenant, Some(&contact.id), &ConversationFilter::default(), None, 20)
        .await?;
    for conversation in conversations.items {
        let mut after = None;
        loop {
            let page =
                deps.conversations.messages(tenant, &conversation.id, after.as_deref(), MAX_LIMIT).await?;
            items.extend(page.items.into_iter().filter(|m| before.is_none_or(|b| m.timestamp < b)).map(
                |m| Activity {
                    at: m.timestamp,
                    kind: format!("message.{}", m.direction),
                    ref_id: Some(m.id.to_string()),
                    detail: Some(m.kind),
                    actor: None,
                },
            ));
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
    }
    items.sort_by_key(|activity| std::cmp::Reverse(activity.at));
    items.truncate(usize::from(limit));
    let next = (items.len() == usize::from(limit)).then(|| items.last().map(|a| a.at)).flatten();
    Ok(json_response(StatusCode::OK, &TimelinePage { items, next }))
}

fn record_not_found() -> ApiError {
    Problem::not_found("no such record").into()
}

async fn check_assignee<A: Adapters>(
    deps: &Deps<A>,
    principal: &TenantPrincipal,
    assignee: Option<&UserId>,
) -> Result<(), ApiError> {
    match assignee {
        Some(user) if !deps.directory_user(&principal.tenant_id, user).await? => {
            Err(bad("assignee is not a user of this tenant"))
        }
        _ => Ok(()),
    }
}

/// Checks a record's fields against its kind.
fn validate_record(record: &ContactRecord) -> Result<(), ApiError> {
    let text_max = if record.kind == RecordKind::Note { 10_000 } else { 500 };
    let length = record.text.trim().chars().count();
    if !(1..=text_max).contains(&length) {
        return Err(bad(format!("text must be 1 to {text_max} characters")));
    }
    let task_fields = record.due_at.is_some() || record.assignee.is_some() || record.done_at.is_some();
    let appointment_fields =
        record.starts_at.is_some() || record.ends_at.is_some() || record.location.is_some();
    match record.kind {
        RecordKind::Note if task_fields || appointment_fields => Err(bad("a note has only text")),
        RecordKind::Task if appointment_fields => Err(bad("a task has text, due_at, assignee and done")),
        RecordKind::Appointment if task_fields => {
            Err(bad("an appointment has text, starts_at, ends_at and location"))
        }
        RecordKind::Appointment => match (record.starts_at, record.ends_at) {
            (Some(start), Some(end)) if end > start && start >= 0 => {
                if record.location.as_ref().is_some_and(|l| l.chars().count() > 500) {
                    return Err(bad("location must be up to 500 characters"));
                }
                Ok(())
            }
            _ => Err(bad("an appointment needs starts_at and a later ends_at (epoch ms)")),
        },
        _ if record.due_at.is_some_and(|d| d < 0) => Err(bad("due_at must be epoch milliseconds")),
        _ => Ok(()),
    }
}

fn record_error(error: RecordError) -> ApiError {
    match error {
        RecordError::Conflict => {
            Problem::conflict("the record changed meanwhile; read it again and retry").into()
        }
        other => other.into(),
    }
}

/// `GET /v1/contacts/{contact_id}/{kind}s`.
///
/// # Errors
/// 404 as for the contact; 400 for a bad limit or cursor.
pub async fn list_records<A: Adapters>(
    kind: RecordKind,
    ctx: Ctx<'_>,
    deps: &Deps<A>,
) -> Result<Response<Body>, ApiError> {
    let contact = visible_contact(&ctx, deps).await?;
    let paging = paging(ctx.query)?;
    let page = deps
        .records
        .records(&ctx.tenant()?.tenant_id, &contact.id, kind, paging.after.as_deref(), paging.limit)
        .await
        .map_err(record_error)?;
    Ok(json_response(StatusCode::OK, &PageView::from(page)))
}

/// `POST /v1/contacts/{contact_id}/{kind}s`.
///
/// # Errors
/// 404 as for the contact; 400 for fields that do not fit the kind.
pub async fn create_record<A: Adapters>(
    kind: RecordKind,
    ctx: Ctx<'_>,
    deps: &Deps<A>,
) -> Result<Response<Body>, ApiError> {
    let principal = ctx.tenant()?;
    let body: RecordBody = json_body(ctx.body)?;
    let contact = visible_contact(&ctx, deps).await?;
    check_assignee(deps, principal, body.assignee.as_ref()).await?;
    let now = deps.clock.now();
    let record = ContactRecord {
        id: RecordId::generate(now),
        contact_id: contact.id.clone(),
        kind,
        text: body.text.trim().to_owned(),
        due_at: body.due_at,
        assignee: body.assignee,
        done_at: None,
        starts_at: body.starts_at,
        ends_at: body.ends_at,
        location: body.location.map(|l| l.trim().to_owned()),
        author: principal.actor.clone(),
        created_at: now.as_millis(),
        updated_at: now.as_millis(),
    };
    validate_record(&record)?;
    deps.records.put_record(&principal.tenant_id, &record, None).await.map_err(record_error)?;
    let activity = Activity {
        at: now.as_millis(),
        kind: format!("{}.created", kind.as_str()),
        ref_id: Some(record.id.to_string()),
        detail: None,
        actor: actor_of(principal),
    };
    deps.records.add_activity(&principal.tenant_id, &contact.id, &activity).await.map_err(record_error)?;
    deps.audit(
        principal,
        &format!("{}.create", kind.as_str()),
        target(kind.as_str(), record.id.as_str()),
        |e| e,
    )
    .await;
    Ok(json_response(StatusCode::CREATED, &record))
}

async fn record_of<A: Adapters>(
    kind: RecordKind,
    ctx: &Ctx<'_>,
    deps: &Deps<A>,
) -> Result<(ContactView, Versioned<ContactRecord>), ApiError> {
    let contact = visible_contact(ctx, deps).await?;
    let id = path_id(ctx.param("record_id"), RecordId::parse, "record")?;
    let record = deps
        .records
        .record(&ctx.tenant()?.tenant_id, &contact.id, kind, &id)
        .await
        .map_err(record_error)?
        .ok_or_else(record_not_found)?;
    Ok((contact, record))
}

/// `PATCH /v1/contacts/{contact_id}/{kind}s/{record_id}`.
///
/// # Errors
/// 404 as for the contact or record; 400 for fields that do not fit the kind; 409 on a
/// concurrent change.
pub async fn update_record<A: Adapters>(
    kind: RecordKind,
    ctx: Ctx<'_>,
    deps: &Deps<A>,
) -> Result<Response<Body>, ApiError> {
    let principal = ctx.tenant()?;
    let body: RecordPatch = json_body(ctx.body)?;
    let (contact, Versioned { value: mut record, version }) = record_of(kind, &ctx, deps).await?;
    let now = deps.clock.now();
    let mut fields = Vec::new();
    if let Some(text) = body.text {
        record.text = text.trim().to_owned();
        fields.push("text");
    }
    if let Some(due_at) = body.due_at {
        record.due_at = due_at;
        fields.push("due_at");
    }
    if let Some(assignee) = body.assignee {
        check_assignee(deps, principal, assignee.as_ref()).await?;
        record.assignee = assignee;
        fields.push("assignee");
    }
    let completed = match body.done {
        Some(_) if kind != RecordKind::Task => return Err(bad("only tasks are done")),
        Some(true) if record.done_at.is_none() => {
            record.done_at = Some(now.as_millis());
            fields.push("done");
            true
        }
        Some(false) => {
            record.done_at = None;
            fields.push("done");
            false
        }
        _ => false,
    };
    if let Some(starts_at) = body.starts_at {
        record.starts_at = Some(starts_at);
        fields.push("starts_at");
    }
    if let Some(ends_at) = body.ends_at {
        record.ends_at = Some(ends_at);
        fields.push("ends_at");
    }
    if let Some(location) = body.location {
        record.location = location.map(|l| l.trim().to_owned());
        fields.push("location");
    }
    record.updated_at = now.as_millis();
    validate_record(&record)?;
    deps.records.put_record(&principal.tenant_id, &record, Some(version)).await.map_err(record_error)?;
    if completed {
        let activity = Activity {
            at: now.as_millis(),
            kind: "task.completed".to_owned(),
            ref_id: Some(record.id.to_string()),
            detail: None,
            actor: actor_of(principal),
        };
        deps.records
            .add_activity(&principal.tenant_id, &contact.id, &activity)
            .await
            .map_err(record_error)?;
    }
    deps.audit(
        principal,
        &format!("{}.update", kind.as_str()),
        target(kind.as_str(), record.id.as_str()),
        |e| e.with_fields(fields),
    )
    .await;
    Ok(json_response(StatusCode::OK, &record))
}

/// `DELETE /v1/contacts/{contact_id}/{kind}s/{record_id}`.
///
/// # Errors
/// 404 as for the contact or record.
pub async fn delete_record<A: Adapters>(
    kind: RecordKind,
    ctx: Ctx<'_>,
    deps: &Deps<A>,
) -> Result<Response<Body>, ApiError> {
    let principal = ctx.tenant()?;
    let (contact, record) = record_of(kind, &ctx, deps).await?;
    if !deps
        .records
        .delete_record(&principal.tenant_id, &contact.id, kind, &record.value.id)
        .await
        .map_err(record_error)?
    {
        return Err(record_not_found());
    }
    deps.audit(
        principal,
        &format!("{}.delete", kind.as_str()),
        target(kind.as_str(), record.value.id.as_str()),
        |e| e,
    )
    .await;
    Ok(no_content())
}

/// `POST /v1/contacts/import?source=…` with a CSV body.
///
/// Columns (header row required, any order, case-insensitive): `phone`, `email`, `name`,
/// `tags` (separated by `;`), `consent` (`opt_in`/`yes`/`true`/`1`, `opt_out`/`no`/`false`/`0`,
/// or empty), and `attr.<name>` for custom attributes. Each row names a person by phone or email;
/// the same person always maps to the same contact, so importing a file again changes nothing.
/// An import never opts a person back in after they opted out themselves.
///
/// # Errors
/// 400 for a file without a usable header or with more than [`MAX_IMPORT_ROWS`] rows.
pub async fn import<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let principal = ctx.tenant()?;
    let source = text(ctx.query, "source", 64)?.unwrap_or_else(|| "import".to_owned());
    let mut reader = csv::ReaderBuilder::new().flexible(true).trim(csv::Trim::All).from_reader(ctx.body);
    let header =
        reader.headers().map_err(|e| bad(format!("the first line must be a CSV header: {e}")))?.clone();
    let columns = Columns::of(&header).map_err(bad)?;
    let mut report = ImportReport::default();
    let mut record = csv::StringRecord::new();
    loop {
        let line = reader.position().line();
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                report.refuse(line, None, format!("unreadable CSV: {e}"));
                continue;
            }
        }
        if record.iter().all(str::is_empty) {
            continue;
        }
        report.rows += 1;
        if report.rows > MAX_IMPORT_ROWS {
            return Err(bad(format!("at most {MAX_IMPORT_ROWS} rows per import; split the file")));
        }
        match columns.row(&record) {
            Err((column, reason)) => report.refuse(line, Some(column), reason),
            Ok(row) => match import_row(deps, principal, &row, &source).await {
                Ok(RowOutcome::Created) => report.created += 1,
                Ok(RowOutcome::Updated) => report.updated += 1,
                Ok(RowOutcome::Unchanged) => report.unchanged += 1,
                Err(RowFailure::Refused(column, reason)) => report.refuse(line, column, reason),
                Err(RowFailure::Failed(error)) => return Err(error),
            },
        }
    }
    tracing::info!(rows = report.rows, created = report.created, failed = report.failed, "Contacts imported");
    deps.audit(principal, "contact.import", target("contact", "*"), |e| {
        e.with_count(report.created + report.updated)
    })
    .await;
    Ok(json_response(StatusCode::OK, &report))
}

impl ImportReport {
    fn refuse(&mut self, line: u64, column: Option<String>, reason: String) {
        self.failed += 1;
        if self.errors.len() < 1000 {
            self.errors.push(RowError { line, column, reason });
        }
    }
}

/// Where each known column is.
struct Columns {
    phone: Option<usize>,
    email: Option<usize>,
    name: Option<usize>,
    tags: Option<usize>,
    consent: Option<usize>,
    attributes: Vec<(String, usize)>,
}

/// One checked row.
struct Row {
    profile: ContactProfile,
    tags: Vec<String>,
    attributes: BTreeMap<String, String>,
    consent: Option<ConsentKind>,
}

enum RowOutcome {
    Created,
    Updated,
    Unchanged,
}

enum RowFailure {
    Refused(Option<String>, String),
    Failed(ApiError),
}

impl<E: Into<ApiError>> From<E> for RowFailure {
    fn from(error: E) -> Self {
        Self::Failed(error.into())
    }
}

impl Columns {
    fn of(header: &csv::StringRecord) -> Result<Self, String> {
        let mut columns =
            Self { phone: None, email: None, name: None, tags: None, consent: None, attributes: Vec::new() };
        for (index, raw) in header.iter().enumerate() {
            let name = raw.trim_start_matches('\u{feff}').trim().to_lowercase();
            let slot = match name.as_str() {
                "phone" => &mut columns.phone,
                "email" => &mut columns.email,
                "name" => &mut columns.name,
                "tags" => &mut columns.tags,
                "consent" => &mut columns.consent,
                other => match other.strip_prefix("attr.") {
                    Some(attribute) if !attribute.is_empty() => {
                        columns.attributes.push((attribute.to_owned(), index));
                        continue;
                    }
                    _ => {
                        return Err(format!(
                            "unknown column {raw:?}: use phone, email, name, tags, consent or attr.<name>"
                        ))
                    }
                },
            };
            if slot.replace(index).is_some() {
                return Err(format!("column {name} appears twice"));
            }
        }
        if columns.phone.is_none() && columns.email.is_none() {
            return Err("the header needs a phone or an email column".to_owned());
        }
        Ok(columns)
    }

    fn row(&self, record: &csv::StringRecord) -> Result<Row, (String, String)> {
        let cell = |index: Option<usize>| index.and_then(|i| record.get(i)).filter(|v| !v.is_empty());
        fn fail(column: &'static str) -> impl Fn(String) -> (String, String) {
            move |reason| (column.to_owned(), reason)
        }
        let profile = ContactProfile {
            phone: cell(self.phone).map(phone).transpose().map_err(fail("phone"))?,
            email: cell(self.email).map(email).transpose().map_err(fail("email"))?,
            name: cell(self.name).map(contact_name).transpose().map_err(fail("name"))?,
            user_id: None,
        };
        if profile.phone.is_none() && profile.email.is_none() {
            return Err(("phone".to_owned(), "a row needs a phone or an email".to_owned()));
        }
        let tags = tags(
            cell(self.tags).map(|t| t.split(';').map(str::to_owned).collect::<Vec<_>>()).unwrap_or_default(),
        )
        .map_err(fail("tags"))?;
        let consent = match cell(self.consent).map(str::to_lowercase).as_deref() {
            None => None,
            Some("opt_in" | "yes" | "true" | "1" | "y") => Some(ConsentKind::OptIn),
            Some("opt_out" | "no" | "false" | "0" | "n") => Some(ConsentKind::OptOut),
            Some(_) => return Err(("consent".to_owned(), "use opt_in, opt_out or leave empty".to_owned())),
        };
        let attributes = attributes(
            self.attributes
                .iter()
                .filter_map(|(name, index)| cell(Some(*index)).map(|v| (name.clone(), v.to_owned())))
                .collect(),
        )
        .map_err(fail("attributes"))?;
        Ok(Row { profile, tags, attributes, consent })
    }
}

async fn import_row<A: Adapters>(
    deps: &Deps<A>,
    principal: &TenantPrincipal,
    row: &Row,
    source: &str,
) -> Result<RowOutcome, RowFailure> {
    let tenant = &principal.tenant_id;
    if !exists(deps, principal, &row.profile).await? {
        if let Err(error) = within_contact_limit(deps, principal).await {
            return Err(RowFailure::Refused(None, error.0.detail));
        }
    }
    let (contact, stored) = deps.contacts.create_contact(tenant, &row.profile, deps.clock.now()).await?;
    let mut changed =
        merge(deps, principal, &contact, row.tags.clone(), row.attributes.clone()).await?.is_some();
    if let Some(kind) = row.consent {
        let current = contact.consent.as_ref();
        let opted_out_themselves =
            current.is_some_and(|c| c.state == ConsentKind::OptOut && c.source != ConsentSource::Import);
        if kind == ConsentKind::OptIn && opted_out_themselves {
            return Err(RowFailure::Refused(
                Some("consent".to_owned()),
                "the person opted out; an import cannot opt them back in".to_owned(),
            ));
        }
        if current.is_none_or(|c| c.state != kind) {
            let cause =
                format!("import:{source}:{}:{}", kind.as_str(), shared::domain::new_ulid(deps.clock.now()));
            record_consent(deps, principal, &row.profile, kind, ConsentSource::Import, &cause).await?;
            changed = true;
        }
    }
    Ok(match (stored, changed) {
        (Stored::Created, _) => RowOutcome::Created,
        (Stored::Duplicate, true) => RowOutcome::Updated,
        (Stored::Duplicate, false) => RowOutcome::Unchanged,
    })
}
