//! Rights of data subjects: export (P60) and erasure with a receipt (P62). Admins only.
//!
//! A person is named by `phone` (E.164) or `email`. Erasure requests keep the derived contact
//! ids, never the identifier itself; the next retention run carries them out.

use std::collections::BTreeMap;

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde::{Deserialize, Serialize};
use shared::domain::audit::{AuditEntry, AuditFilter, AuditLog as _};
use shared::domain::identity::{Directory as _, UserView};
use shared::domain::inbox::{ContactFilter, ContactKey, ContactStore};
use shared::domain::ports::{ConnectionStore, TenantStore};
use shared::domain::privacy::{ErasureCounts, ErasureReceipt, ErasureRequest, ErasureStatus, ErasureStore};
use shared::domain::{Clock, ContactId, ErasureId, PhoneNumber, TenantId};
use shared::kernel::Page;
use shared::lambda::http::{json_response, Problem};

use super::export::{self, tables::csv_bundle, Budget, Part, Resume, BATCH, CSV_PAGE_BYTES, PAGE_BYTES};
pub use super::export::{ContactExport, ConversationExport};
use super::inbox::Query;
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

/// Everything stored about one person, or (when `next` is given) one page of it.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Export {
    /// Who.
    pub subject: Subject,
    /// When the export was made, epoch ms.
    pub exported_at: i64,
    /// Each contact record the identifier leads to, with everything linked to it. On a page:
    /// the part of each that the page holds (a contact or conversation continued on the next
    /// page appears there again with the rest of its lists).
    pub contacts: Vec<ContactExport>,
    /// The audit entries about the person's data (what the team did with their contact, leads,
    /// conversations, messages and records), newest first per contact.
    pub audit: Vec<AuditEntry>,
    /// When the export is too large for one answer: pass as `cursor` (with the same `phone` or
    /// `email`) for the next page; absent on the last (and on an export that fits in one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
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
    /// `ai_suggestions.csv`. On a page: the rows that page holds, under each table's header.
    pub files: BTreeMap<&'static str, String>,
    /// As in the JSON export.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// `format=json` (default) or `format=csv`.
fn wants_csv(query: &Query) -> Result<bool, ApiError> {
    match query.get("format").map(String::as_str) {
        None | Some("json") => Ok(false),
        Some("csv") => Ok(true),
        Some(_) => Err(Problem::bad_request("format must be json or csv").into()),
    }
}

/// Where the next page of a person's export starts.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "s")]
enum PersonAt {
    /// In the data of the `index`th contact the identifier leads to.
    #[serde(rename = "c")]
    Contact {
        #[serde(rename = "i")]
        index: usize,
        #[serde(rename = "w")]
        part: Part,
    },
    /// In the audit entries about the `index`th contact.
    #[serde(rename = "a")]
    Audit {
        #[serde(rename = "i")]
        index: usize,
        #[serde(rename = "w")]
        at: Resume,
    },
}

/// `GET /v1/privacy/export?phone=…|email=…[&format=csv][&cursor=…]`: every stored datum about
/// that person, a page at a time when it is too large for one answer (see [`export`](super::export)).
///
/// # Errors
/// 403 unless a tenant admin calls; 400 unless exactly one valid identifier is given, or for a
/// cursor this export did not hand out.
pub async fn export<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let principal = ctx.tenant()?;
    let tenant = &principal.tenant_id;
    let csv = wants_csv(ctx.query)?;
    let (key, subject) =
        subject(ctx.query.get("phone").map(String::as_str), ctx.query.get("email").map(String::as_str))?;
    let mut position =
        export::decode(ctx.query)?.unwrap_or(PersonAt::Contact { index: 0, part: Part::START });
    let found = deps.contacts.find_contacts(tenant, &key).await?;
    let mut budget = Budget::new(if csv { CSV_PAGE_BYTES } else { PAGE_BYTES });
    let (mut contacts, mut audit) = (Vec::new(), Vec::new());
    let next = loop {
        match position {
            PersonAt::Contact { index, part } => {
                let Some(contact) = found.get(index).cloned() else {
                    position = PersonAt::Audit { index: 0, at: Resume::default() };
                    continue;
                };
                let (share, left) =
                    export::contact_page(deps, tenant, contact, part.clone(), &mut budget).await?;
                if left.as_ref() != Some(&part) {
                    contacts.push(share);
                }
                match left {
                    Some(part) => break Some(PersonAt::Contact { index, part }),
                    None => position = PersonAt::Contact { index: index + 1, part: Part::START },
                }
            }
            PersonAt::Audit { index, at } => {
                let Some(contact) = found.get(index) else { break None };
                let (log, id) = (&deps.audit, &contact.id);
                match export::section(at, &mut budget, &mut audit, |after| async move {
                    log.entries_about(tenant, id, after.as_deref(), BATCH).await
                })
                .await?
                {
                    Some(at) => break Some(PersonAt::Audit { index, at }),
                    None => position = PersonAt::Audit { index: index + 1, at: Resume::default() },
                }
            }
        }
    };
    let messages: usize = contacts.iter().flat_map(|c| &c.conversations).map(|c| c.messages.len()).sum();
    tracing::info!(
        contacts = found.len(),
        messages,
        csv,
        more = next.is_some(),
        "Personal data export page served"
    );
    // Nobody with this identifier: the entry says so without naming anyone.
    let subject_id = deps.contacts.contact_id_of(tenant, &key).await?;
    let subject_id = subject_id.as_ref().map_or("none", ContactId::as_str);
    deps.audit(principal, "privacy.export", target("contact", subject_id), |e| {
        e.with_count(found.len() as u64).with_fields([if csv { "format=csv" } else { "format=json" }])
    })
    .await;
    let exported_at = deps.clock.now().as_millis();
    let next = next.as_ref().and_then(export::encode);
    let body = if csv {
        let files = csv_bundle(&contacts, &audit, None)?;
        PersonExport::Csv(CsvExport { subject, exported_at, files, next })
    } else {
        PersonExport::Json(Export { subject, exported_at, contacts, audit, next })
    };
    Ok(json_response(StatusCode::OK, &body))
}

/// One page of the tenant-wide export.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct TenantExportPage {
    /// The tenant's own records and settings (first page only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant: Option<TenantRecords>,
    /// When, epoch ms.
    pub exported_at: i64,
    /// Its users (JSON; never a password hash, session or secret).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub users: Option<Vec<UserView>>,
    /// Contacts with everything linked to them (JSON). A contact or conversation continued on
    /// the next page appears there again with the rest of its lists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contacts: Option<Vec<ContactExport>>,
    /// Its audit trail, newest first (JSON).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audit: Option<Vec<AuditEntry>>,
    /// The same as CSV tables (`format=csv`), with `users.csv`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub files: Option<BTreeMap<&'static str, String>>,
    /// Pass as `cursor` for the next page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// The tenant's own records: organisation, settings, retention, plan and connections (never a
/// token or key).
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct TenantRecords {
    /// The tenant, its settings, retention and plan.
    #[serde(flatten)]
    pub tenant: super::tenants::TenantView,
    /// The WhatsApp connection.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub whatsapp: Option<super::whatsapp::ConnectionView>,
    /// The Lead Ads Page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lead_ads: Option<super::leadads::LeadAdsPageView>,
    /// The AI provider (never its key).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ai: Option<super::ai::AiConnectionView>,
}

/// Where the next page of the tenant export starts.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "s")]
enum TenantAt {
    /// In the users.
    #[serde(rename = "u")]
    Users {
        #[serde(rename = "w")]
        at: Resume,
    },
    /// In the contacts: `list` points at the current one, `part` says where in it.
    #[serde(rename = "c")]
    Contacts {
        #[serde(rename = "l")]
        list: Resume,
        #[serde(rename = "w", default, skip_serializing_if = "Option::is_none")]
        part: Option<Part>,
    },
    /// In the audit trail.
    #[serde(rename = "a")]
    Audit {
        #[serde(rename = "w")]
        at: Resume,
    },
}

async fn tenant_records<A: Adapters>(deps: &Deps<A>, tenant: &TenantId) -> Result<TenantRecords, ApiError> {
    let record = deps
        .tenants
        .tenant(tenant)
        .await?
        .ok_or_else(|| ApiError::from(Problem::not_found("tenant not found")))?;
    Ok(TenantRecords {
        tenant: (&record).into(),
        whatsapp: deps.connections.whatsapp_connection(tenant).await?.as_ref().map(Into::into),
        lead_ads: deps.connections.page_connection(tenant).await?.as_ref().map(Into::into),
        ai: deps.connections.ai_connection(tenant).await?.as_ref().map(Into::into),
    })
}

/// What one page of the tenant export holds.
#[derive(Debug, Default)]
struct TenantShare {
    users: Vec<UserView>,
    contacts: Vec<ContactExport>,
    audit: Vec<AuditEntry>,
}

/// Fills `budget` from `position` on; where the next page starts.
async fn tenant_page<A: Adapters>(
    deps: &Deps<A>,
    tenant: &TenantId,
    mut position: TenantAt,
    budget: &mut Budget,
    share: &mut TenantShare,
) -> Result<Option<TenantAt>, ApiError> {
    loop {
        position = match position {
            TenantAt::Users { at } => {
                let directory = &deps.directory;
                let left = export::section(at, budget, &mut share.users, |after| async move {
                    let page = directory.users(tenant, after.as_deref(), BATCH).await?;
                    Ok::<_, ApiError>(Page {
                        items: page.items.iter().map(UserView::from).collect(),
                        next: page.next,
                    })
                })
                .await?;
                match left {
                    Some(at) => return Ok(Some(TenantAt::Users { at })),
                    None => TenantAt::Contacts { list: Resume::default(), part: None },
                }
            }
            TenantAt::Contacts { list, mut part } => {
                if !budget.read() {
                    return Ok(Some(TenantAt::Contacts { list, part }));
                }
                let page = deps
                    .contacts
                    .contacts(tenant, &ContactFilter::default(), list.after.as_deref(), BATCH)
                    .await?;
                for (index, contact) in page.items.into_iter().enumerate().skip(usize::from(list.skip)) {
                    let here = Resume::at(list.after.clone(), index);
                    let from = part.take().unwrap_or(Part::START);
                    let (exported, left) =
                        export::contact_page(deps, tenant, contact, from.clone(), budget).await?;
                    // A page that filled up before giving anything of this contact leaves it whole
                    // to the next.
                    if left.as_ref() != Some(&from) {
                        share.contacts.push(exported);
                    }
                    if let Some(left) = left {
                        return Ok(Some(TenantAt::Contacts { list: here, part: Some(left) }));
                    }
                }
                match page.next {
                    Some(next) => TenantAt::Contacts { list: Resume::at(Some(next), 0), part: None },
                    None => TenantAt::Audit { at: Resume::default() },
                }
            }
            TenantAt::Audit { at } => {
                let (log, every) = (&deps.audit, &AuditFilter::default());
                let left = export::section(at, budget, &mut share.audit, |after| async move {
                    log.entries(tenant, every, after.as_deref(), BATCH).await
                })
                .await?;
                return Ok(left.map(|at| TenantAt::Audit { at }));
            }
        };
    }
}

/// `GET /v1/privacy/export/tenant[?cursor=…&format=csv]`: all of the tenant's data, a bounded
/// page at a time: its own records and settings (first page), its users, its contacts with
/// everything linked to them, its audit trail.
///
/// # Errors
/// 403 unless a tenant admin calls; 400 for a bad cursor or format.
pub async fn tenant_export<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let principal = ctx.tenant()?;
    let tenant_id = &principal.tenant_id;
    let csv = wants_csv(ctx.query)?;
    let position: Option<TenantAt> = export::decode(ctx.query)?;
    let tenant = match position {
        Some(_) => None,
        None => Some(tenant_records(deps, tenant_id).await?),
    };
    let mut budget = Budget::new(if csv { CSV_PAGE_BYTES } else { PAGE_BYTES });
    let mut share = TenantShare::default();
    let start = position.unwrap_or(TenantAt::Users { at: Resume::default() });
    let next = tenant_page(deps, tenant_id, start, &mut budget, &mut share).await?;
    tracing::info!(
        users = share.users.len(),
        contacts = share.contacts.len(),
        audit = share.audit.len(),
        csv,
        more = next.is_some(),
        "Tenant export page served"
    );
    deps.audit(principal, "privacy.tenant_export", target("tenant", tenant_id.as_str()), |e| {
        e.with_count(share.contacts.len() as u64)
    })
    .await;
    let TenantShare { users, contacts, audit } = share;
    let (users, contacts, audit, files) = if csv {
        (None, None, None, Some(csv_bundle(&contacts, &audit, Some(&users))?))
    } else {
        (Some(users), Some(contacts), Some(audit), None)
    };
    let body = TenantExportPage {
        tenant,
        exported_at: deps.clock.now().as_millis(),
        users,
        contacts,
        audit,
        files,
        next: next.as_ref().and_then(export::encode),
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
