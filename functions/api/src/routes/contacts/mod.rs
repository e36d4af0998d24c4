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
    LifecycleStore, Stored, MAX_CONTACT_ATTRIBUTES, MAX_CONTACT_TAGS,
};
use shared::domain::privacy::ErasureCounts;
use shared::domain::{Clock, ContactId, PhoneNumber, RecordId, UserId};
use shared::lambda::http::{json_response, Problem};

use super::inbox::{actor_of, millis, paging, phone_filter, text, PageView, MAX_LIMIT};
use super::{json_body, no_content, nullable, path_id};
use crate::auth::TenantPrincipal;
use crate::errors::ApiError;
use crate::{target, Adapters, Ctx, Deps};

mod crud;
mod import;
mod records;
pub use crud::{create, delete, get, list, update};
pub use import::{import, import_job, ImportAccepted, ImportRefused, RowError, MAX_IMPORT_ROWS};
pub use records::{
    create_record, delete_record, list_records, timeline, update_record, RecordBody, RecordPatch,
    TimelinePage,
};

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
    if tags.len() > MAX_CONTACT_TAGS
        || tags.iter().any(|t| t.chars().count() > 64 || t.chars().any(char::is_control))
    {
        return Err("at most 50 tags of up to 64 characters".to_owned());
    }
    Ok(tags)
}

fn attributes(raw: BTreeMap<String, String>) -> Result<BTreeMap<String, String>, String> {
    let key_ok = |k: &str| {
        (1..=64).contains(&k.len())
            && k.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    };
    if raw.len() > MAX_CONTACT_ATTRIBUTES || raw.iter().any(|(k, v)| !key_ok(k) || v.chars().count() > 1000) {
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

/// Adds `tags` and `attributes` to a contact's; `None` when nothing changed (the same merge as
/// a CSV import's, [`shared::app::import::merge_contact`]).
async fn merge<A: Adapters>(
    deps: &Deps<A>,
    principal: &TenantPrincipal,
    contact: &ContactView,
    tags: Vec<String>,
    attributes: BTreeMap<String, String>,
) -> Result<Option<ContactView>, ApiError> {
    let tenant = &principal.tenant_id;
    let now = deps.clock.now();
    Ok(shared::app::import::merge_contact(&deps.contacts, tenant, contact, tags, attributes, now).await?)
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
