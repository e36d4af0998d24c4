//! Writing imported contacts (P02): the one upsert path of a CSV row, shared by the API (which
//! validates and stages) and the `import` function (which writes); merging tags and attributes
//! into a contact, which `POST /v1/contacts` uses too; and the sealing of staged rows.

use std::collections::BTreeMap;

use crate::domain::import::ImportRow;
use crate::domain::inbox::{
    ConsentChange, ConsentKind, ConsentSource, ContactPatch, ContactStore, ContactView, InboxError, Stored,
};
use crate::domain::ports::{EncryptionContext, OpenError, Purpose, SealError, Vault};
use crate::domain::secret::Sealed;
use crate::domain::{TenantId, Timestamp};

/// What writing a row did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowOutcome {
    /// A contact was created.
    Created,
    /// An existing contact changed.
    Updated,
    /// Nothing changed (imported before).
    Unchanged,
}

/// Why a row was not written.
#[derive(Debug, thiserror::Error)]
pub enum RowFailure {
    /// The row cannot be written as it is (a consent conflict, the plan's contact limit):
    /// reported with its line, the import goes on.
    #[error("{1}")]
    Refused(Option<String>, String),
    /// The store failed; retrying may succeed (every write is idempotent).
    #[error("writing a row failed")]
    Unknown(#[from] InboxError),
}

/// Adds `tags` and `attributes` to a contact's; `None` when nothing changed.
///
/// # Errors
/// As [`ContactStore::update_contact`].
pub async fn merge_contact<C: ContactStore>(
    contacts: &C,
    tenant: &TenantId,
    contact: &ContactView,
    tags: Vec<String>,
    attributes: BTreeMap<String, String>,
    now: Timestamp,
) -> Result<Option<ContactView>, InboxError> {
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
    contacts.update_contact(tenant, &contact.id, &patch, now).await
}

/// Creates or merges the contact of one imported row: the same person always maps to the same
/// contact, so writing a row twice changes nothing the second time. A new contact beyond
/// `contact_limit` is refused; so is an opt-in of a person who opted out themselves.
/// `cause` identifies the row's consent event (recording it twice is a no-op).
///
/// # Errors
/// [`RowFailure::Refused`]; [`RowFailure::Unknown`].
pub async fn write_row<C: ContactStore>(
    contacts: &C,
    tenant: &TenantId,
    contact_limit: u64,
    row: &ImportRow,
    cause: &str,
    now: Timestamp,
) -> Result<RowOutcome, RowFailure> {
    let profile = row.profile();
    let existing = match (&profile.phone, &profile.email) {
        (Some(phone), _) => contacts.contact_by_phone(tenant, phone).await?,
        (None, Some(email)) => contacts.contact_by_email(tenant, email).await?,
        (None, None) => return Err(RowFailure::Refused(None, "a row needs a phone or an email".to_owned())),
    };
    if existing.is_none() && contacts.contact_count(tenant).await? >= contact_limit {
        return Err(RowFailure::Refused(None, format!("the plan allows {contact_limit} contacts")));
    }
    let (contact, stored) = contacts.create_contact(tenant, &profile, now).await?;
    let mut changed = match merge_contact(
        contacts,
        tenant,
        &contact,
        row.tags.clone(),
        row.attributes.clone(),
        now,
    )
    .await
    {
        Ok(merged) => merged.is_some(),
        // Over a contact's cap once merged: this row is refused, the import goes on.
        Err(error @ InboxError::OverCap { what, .. }) => {
            return Err(RowFailure::Refused(Some(what.to_owned()), error.to_string()))
        }
        Err(error) => return Err(error.into()),
    };
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
            let cause = format!("{cause}:{}", kind.as_str());
            let change = ConsentChange {
                contact: &profile,
                kind,
                source: ConsentSource::Import,
                at: now,
                cause: &cause,
            };
            contacts.record_consent(tenant, &change, now).await?;
            changed = true;
        }
    }
    Ok(match (stored, changed) {
        (Stored::Created, _) => RowOutcome::Created,
        (Stored::Duplicate, true) => RowOutcome::Updated,
        (Stored::Duplicate, false) => RowOutcome::Unchanged,
    })
}

fn context(tenant: &TenantId) -> EncryptionContext {
    EncryptionContext { tenant_id: tenant.clone(), purpose: Purpose::ImportRows }
}

/// Seals a chunk of rows for staging, under `{tenant_id, import_rows}`; returns the encoded
/// envelope.
///
/// # Errors
/// [`SealError::Unknown`] when the key service fails (or a row cannot be serialized).
pub async fn seal_rows<V: Vault>(
    vault: &V,
    tenant: &TenantId,
    rows: &[ImportRow],
) -> Result<String, SealError> {
    let json = serde_json::to_vec(rows).map_err(|e| SealError::Unknown(anyhow::Error::new(e)))?;
    Ok(vault.seal(&context(tenant), &json).await?.encode())
}

/// Errors of [`open_rows`].
#[derive(Debug, thiserror::Error)]
pub enum OpenRowsError {
    /// The envelope is not one of this tenant's staged chunks, or was altered.
    #[error("the staged chunk does not open: {0}")]
    Refused(String),
    /// The key service failed; retrying may help.
    #[error("could not open a staged chunk")]
    Unknown(#[from] anyhow::Error),
}

/// Opens a chunk sealed by [`seal_rows`].
///
/// # Errors
/// [`OpenRowsError::Refused`]; [`OpenRowsError::Unknown`].
pub async fn open_rows<V: Vault>(
    vault: &V,
    tenant: &TenantId,
    encoded: &str,
) -> Result<Vec<ImportRow>, OpenRowsError> {
    let sealed = Sealed::decode(encoded).map_err(|e| OpenRowsError::Refused(e.to_string()))?;
    let plain = match vault.open(&context(tenant), &sealed).await {
        Ok(plain) => plain,
        Err(OpenError::Refused) => return Err(OpenRowsError::Refused("refused".to_owned())),
        Err(OpenError::Unknown(e)) => return Err(OpenRowsError::Unknown(e)),
    };
    serde_json::from_slice(plain.expose()).map_err(|e| OpenRowsError::Refused(e.to_string()))
}
