//! The idempotency records in DynamoDB (Powertools' design).
//!
//! One item per (tenant, scope, key): `idem_status` `IN_PROGRESS` or `COMPLETED`, the payload
//! hash, `in_progress_until` (epoch ms) and `expires_at` (TTL, at least seven days away).
//! A claim is one conditional PutItem that succeeds when no live record exists, or when the
//! record is an in-progress claim for the same payload whose holder ran past its deadline.
//! When it fails, DynamoDB returns the existing record (`ReturnValuesOnConditionCheckFailure`),
//! so deciding between in-progress, completed and mismatch costs no second read.

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

fn decide(existing: &Item, request: &IdempotencyRequest<'_>, now: Timestamp) -> Claim {
    if is_expired(existing, now) {
        // Raced with a replacement of an expired record; the other writer owns it now.
        return Claim::InProgress;
    }
    if existing.opt_string(attr::PAYLOAD_HASH) != Some(request.payload_hash) {
        return Claim::Mismatch;
    }
    match existing.opt_string(attr::IDEM_STATUS) {
        Some(COMPLETED) => {
            Claim::Completed { response: existing.opt_string(attr::RESPONSE).unwrap_or_default().to_owned() }
        }
        _ => Claim::InProgress,
    }
}

impl IdempotencyStore for DynamoIdempotency {
    async fn claim(
        &self,
        request: &IdempotencyRequest<'_>,
        now: Timestamp,
        in_progress_until: Timestamp,
    ) -> Result<Claim, IdempotencyError> {
        let key = keys::idempotency(request.tenant_id, request.scope, request.key);
        let mut item = item_with_key(&key);
        item.insert(attr::IDEM_STATUS.to_owned(), s(IN_PROGRESS));
        item.insert(attr::PAYLOAD_HASH.to_owned(), s(request.payload_hash));
        item.insert(attr::IN_PROGRESS_UNTIL.to_owned(), n(in_progress_until.as_millis()));
        item.insert(EXPIRES_AT.to_owned(), n(ExpiresAt::after(now, self.keep_for).epoch_secs()));
        let result = self
            .table
            .client()
            .put_item()
            .table_name(self.table.name())
            .set_item(Some(item))
            .condition_expression(
                "attribute_not_exists(#pk) OR #exp <= :now_s \
                 OR (#st = :in_progress AND #until < :now_ms AND #ph = :ph)",
            )
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#exp", EXPIRES_AT)
            .expression_attribute_names("#st", attr::IDEM_STATUS)
            .expression_attribute_names("#until", attr::IN_PROGRESS_UNTIL)
            .expression_attribute_names("#ph", attr::PAYLOAD_HASH)
            .expression_attribute_values(":now_s", n(now.as_secs()))
            .expression_attribute_values(":now_ms", n(now.as_millis()))
            .expression_attribute_values(":in_progress", s(IN_PROGRESS))
            .expression_attribute_values(":ph", s(request.payload_hash))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(Claim::Acquired),
            Err(SdkError::ServiceError(e)) => match e.into_err() {
                PutItemError::ConditionalCheckFailedException(failed) => {
                    Ok(failed.item.as_ref().map_or(Claim::InProgress, |old| decide(old, request, now)))
                }
                other => Err(anyhow::Error::new(other).context("idempotency claim failed").into()),
            },
            Err(other) => Err(anyhow::Error::new(other).context("idempotency claim failed").into()),
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
