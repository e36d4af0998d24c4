//! The idempotency records in DynamoDB (Powertools' design).
//!
//! One item per (tenant, scope, key): `idem_status` `IN_PROGRESS` or `COMPLETED`, the payload
//! hash, `in_progress_until` (epoch ms) and `expires_at` (TTL, at least seven days away).
//! A claim is one conditional PutItem that succeeds when no live record exists. When it fails,
//! DynamoDB returns the existing record (`ReturnValuesOnConditionCheckFailure`), so deciding
//! between in-progress, completed and mismatch costs no second read. A claim in progress for
//! the same payload whose holder ran past its deadline is taken over with a second, conditional
//! write on the old deadline (compare-and-swap), which keeps the holder's `progress` note.

use std::time::Duration;

use anyhow::Context as _;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure;

use super::item::{item_with_key, key_attributes, n, s, Item, ItemExt};
use super::keys::{self, attr, EXPIRES_AT, PK};
use super::table::{is_expired, Table};
use crate::domain::ports::{Claim, IdempotencyError, IdempotencyRequest, IdempotencyStore};
use crate::domain::{ExpiresAt, Timestamp};

const IN_PROGRESS: &str = "IN_PROGRESS";
const COMPLETED: &str = "COMPLETED";

/// Meta retries a webhook for seven days: no record may be forgotten sooner.
pub const MIN_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);

/// [`IdempotencyStore`] on the single table.
#[derive(Debug, Clone)]
pub struct DynamoIdempotency {
    table: Table,
    keep_for: Duration,
}

impl DynamoIdempotency {
    /// Records are kept for `keep_for`, and never less than [`MIN_RETENTION`].
    #[must_use]
    pub fn new(table: Table, keep_for: Duration) -> Self {
        Self { table, keep_for: keep_for.max(MIN_RETENTION) }
    }
}

/// What an existing record means to a claim.
enum Existing {
    /// The answer.
    Decided(Claim),
    /// A claim in progress for this payload whose holder ran past this deadline (epoch ms).
    Lapsed(i64),
}

fn decide(existing: &Item, request: &IdempotencyRequest<'_>, now: Timestamp) -> Existing {
    if is_expired(existing, now) {
        // Raced with a replacement of an expired record; the other writer owns it now.
        return Existing::Decided(Claim::InProgress);
    }
    if existing.opt_string(attr::PAYLOAD_HASH) != Some(request.payload_hash) {
        return Existing::Decided(Claim::Mismatch);
    }
    match existing.opt_string(attr::IDEM_STATUS) {
        Some(COMPLETED) => Existing::Decided(Claim::Completed {
            response: existing.opt_string(attr::RESPONSE).unwrap_or_default().to_owned(),
        }),
        _ => match existing.opt_number::<i64>(attr::IN_PROGRESS_UNTIL).ok().flatten() {
            Some(until) if until < now.as_millis() => Existing::Lapsed(until),
            _ => Existing::Decided(Claim::InProgress),
        },
    }
}

impl IdempotencyStore for DynamoIdempotency {
    async fn claim(
        &self,
        request: &IdempotencyRequest<'_>,
        now: Timestamp,
        in_progress_until: Timestamp,
    ) -> Result<Claim, IdempotencyError> {
        self.claim_with(request, now, in_progress_until, None).await
    }

    async fn claim_noting(
        &self,
        request: &IdempotencyRequest<'_>,
        now: Timestamp,
        in_progress_until: Timestamp,
        progress: &str,
    ) -> Result<Claim, IdempotencyError> {
        self.claim_with(request, now, in_progress_until, Some(progress)).await
    }

    async fn note(&self, request: &IdempotencyRequest<'_>, progress: &str) -> Result<(), IdempotencyError> {
        let key = keys::idempotency(request.tenant_id, request.scope, request.key);
        let result = self
            .table
            .client()
            .update_item()
            .table_name(self.table.name())
            .set_key(Some(key_attributes(&key)))
            .update_expression("SET #prog = :prog")
            .condition_expression("#st = :in_progress AND #ph = :ph")
            .expression_attribute_names("#prog", attr::PROGRESS)
            .expression_attribute_names("#st", attr::IDEM_STATUS)
            .expression_attribute_names("#ph", attr::PAYLOAD_HASH)
            .expression_attribute_values(":prog", s(progress))
            .expression_attribute_values(":in_progress", s(IN_PROGRESS))
            .expression_attribute_values(":ph", s(request.payload_hash))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) => match e.into_service_error() {
                UpdateItemError::ConditionalCheckFailedException(_) => Err(IdempotencyError::ClaimLost),
                other => Err(anyhow::Error::new(other).context("idempotency note failed").into()),
            },
        }
    }

    async fn complete(
        &self,
        request: &IdempotencyRequest<'_>,
        response: &str,
        now: Timestamp,
    ) -> Result<(), IdempotencyError> {
        let key = keys::idempotency(request.tenant_id, request.scope, request.key);
        let result = self
            .table
            .client()
            .update_item()
            .table_name(self.table.name())
            .set_key(Some(key_attributes(&key)))
            .update_expression("SET #st = :completed, #resp = :resp, #exp = :exp REMOVE #until")
            .condition_expression("#st = :in_progress AND #ph = :ph")
            .expression_attribute_names("#st", attr::IDEM_STATUS)
            .expression_attribute_names("#resp", attr::RESPONSE)
            .expression_attribute_names("#exp", EXPIRES_AT)
            .expression_attribute_names("#until", attr::IN_PROGRESS_UNTIL)
            .expression_attribute_names("#ph", attr::PAYLOAD_HASH)
            .expression_attribute_values(":completed", s(COMPLETED))
            .expression_attribute_values(":in_progress", s(IN_PROGRESS))
            .expression_attribute_values(":resp", s(response))
            .expression_attribute_values(":ph", s(request.payload_hash))
            .expression_attribute_values(":exp", n(ExpiresAt::after(now, self.keep_for).epoch_secs()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) => match e.into_service_error() {
                UpdateItemError::ConditionalCheckFailedException(_) => Err(IdempotencyError::ClaimLost),
                other => Err(anyhow::Error::new(other).context("idempotency complete failed").into()),
            },
        }
    }

    async fn release(&self, request: &IdempotencyRequest<'_>) -> Result<(), IdempotencyError> {
        let key = keys::idempotency(request.tenant_id, request.scope, request.key);
        let result = self
            .table
            .client()
            .delete_item()
            .table_name(self.table.name())
            .set_key(Some(key_attributes(&key)))
            .condition_expression("#st = :in_progress AND #ph = :ph")
            .expression_attribute_names("#st", attr::IDEM_STATUS)
            .expression_attribute_names("#ph", attr::PAYLOAD_HASH)
            .expression_attribute_values(":in_progress", s(IN_PROGRESS))
            .expression_attribute_values(":ph", s(request.payload_hash))
            .send()
            .await
            .map_err(|e| e.into_service_error());
        match result {
            Ok(_) => Ok(()),
            Err(DeleteItemError::ConditionalCheckFailedException(_)) => Err(IdempotencyError::ClaimLost),
            Err(other) => Err(IdempotencyError::Unknown(
                anyhow::Error::new(other).context("idempotency release failed"),
            )),
        }
    }
}

impl DynamoIdempotency {
    /// [`IdempotencyStore::claim`], with `progress` noted in the claim's own write when given.
    async fn claim_with(
        &self,
        request: &IdempotencyRequest<'_>,
        now: Timestamp,
        in_progress_until: Timestamp,
        progress: Option<&str>,
    ) -> Result<Claim, IdempotencyError> {
        let key = keys::idempotency(request.tenant_id, request.scope, request.key);
        let mut item = item_with_key(&key);
        item.insert(attr::IDEM_STATUS.to_owned(), s(IN_PROGRESS));
        item.insert(attr::PAYLOAD_HASH.to_owned(), s(request.payload_hash));
        if let Some(progress) = progress {
            item.insert(attr::PROGRESS.to_owned(), s(progress));
        }
        item.insert(attr::IN_PROGRESS_UNTIL.to_owned(), n(in_progress_until.as_millis()));
        item.insert(EXPIRES_AT.to_owned(), n(ExpiresAt::after(now, self.keep_for).epoch_secs()));
        let result = self
            .table
            .client()
            .put_item()
            .table_name(self.table.name())
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk) OR #exp <= :now_s")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#exp", EXPIRES_AT)
            .expression_attribute_values(":now_s", n(now.as_secs()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let existing = match result {
            Ok(_) => return Ok(Claim::Acquired),
            Err(SdkError::ServiceError(e)) => match e.into_err() {
                PutItemError::ConditionalCheckFailedException(failed) => failed.item,
                other => return Err(anyhow::Error::new(other).context("idempotency claim failed").into()),
            },
            Err(other) => return Err(anyhow::Error::new(other).context("idempotency claim failed").into()),
        };
        let Some(existing) = existing else { return Ok(Claim::InProgress) };
        match decide(&existing, request, now) {
            Existing::Decided(claim) => Ok(claim),
            Existing::Lapsed(old_until) => {
                let claim = self.take_over(request, &existing, old_until, in_progress_until).await?;
                // Taken over from a holder that noted nothing: this holder's note now.
                if let (Claim::Acquired, Some(progress)) = (&claim, progress) {
                    self.note(request, progress).await?;
                }
                Ok(claim)
            }
        }
    }

    /// Takes over a claim whose holder ran past `old_until`, if nobody else did first (the
    /// condition is on the old deadline), keeping the holder's note.
    async fn take_over(
        &self,
        request: &IdempotencyRequest<'_>,
        existing: &Item,
        old_until: i64,
        in_progress_until: Timestamp,
    ) -> Result<Claim, IdempotencyError> {
        let key = keys::idempotency(request.tenant_id, request.scope, request.key);
        let progress = existing.opt_string(attr::PROGRESS);
        // The note read is the note kept: a late note of the old holder fails the takeover.
        let mut update = self
            .table
            .client()
            .update_item()
            .table_name(self.table.name())
            .set_key(Some(key_attributes(&key)))
            .update_expression("SET #until = :until")
            .expression_attribute_names("#prog", attr::PROGRESS);
        let noted = match progress {
            Some(progress) => {
                update = update.expression_attribute_values(":prog", s(progress));
                "#prog = :prog"
            }
            None => "attribute_not_exists(#prog)",
        };
        let result = update
            .condition_expression(format!("#st = :in_progress AND #until = :old AND #ph = :ph AND {noted}"))
            .expression_attribute_names("#st", attr::IDEM_STATUS)
            .expression_attribute_names("#until", attr::IN_PROGRESS_UNTIL)
            .expression_attribute_names("#ph", attr::PAYLOAD_HASH)
            .expression_attribute_values(":until", n(in_progress_until.as_millis()))
            .expression_attribute_values(":old", n(old_until))
            .expression_attribute_values(":in_progress", s(IN_PROGRESS))
            .expression_attribute_values(":ph", s(request.payload_hash))
            .send()
            .await;
        match result {
            Ok(_) => Ok(match progress {
                Some(progress) => Claim::Resumed { progress: progress.to_owned() },
                None => Claim::Acquired,
            }),
            Err(e) => match e.into_service_error() {
                // Someone else took it over (or finished) first.
                UpdateItemError::ConditionalCheckFailedException(_) => Ok(Claim::InProgress),
                other => Err(anyhow::Error::new(other).context("idempotency takeover failed").into()),
            },
        }
    }
}

/// Reads a claim's state directly; used by tests and diagnostics.
///
/// # Errors
/// When the table read fails.
pub async fn peek_status(
    table: &Table,
    request: &IdempotencyRequest<'_>,
    now: Timestamp,
) -> anyhow::Result<Option<String>> {
    let key = keys::idempotency(request.tenant_id, request.scope, request.key);
    let item = table.get(&key, now).await.context("idempotency peek")?;
    Ok(item.and_then(|i| i.opt_string(attr::IDEM_STATUS).map(str::to_owned)))
}
