//! The exports as CSV tables (P60), one per kind of record, keyed by file name: what a page
//! holds, each table with its header (the rows of one table across pages make the whole table).

use std::collections::BTreeMap;

use serde::Serialize;
use shared::domain::audit::AuditEntry;
use shared::domain::identity::UserView;

use super::ContactExport;
use crate::errors::ApiError;
use crate::routes::csv::{opt, Csv};

/// An enum's bare JSON string (or any value's JSON), for a CSV cell.
fn json_cell<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(text)) => text,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

/// The export as CSV tables, one per kind of record, keyed by file name.
///
/// # Errors
/// When a table could not be written.
pub fn csv_bundle(
    contacts: &[ContactExport],
    audit: &[AuditEntry],
    users: Option<&[UserView]>,
) -> Result<BTreeMap<&'static str, String>, ApiError> {
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
        "restricted_at",
        "tags_json",
        "attributes_json",
        "updated_at",
    ]);
    let mut consent = Csv::new(&["contact_id", "kind", "source", "at"]);
    let mut leads = Csv::new(&[
        "contact_id",
        "id",
        "page_id",
        "received_at",
        "origin",
        "stage",
        "owner",
        "updated_at",
        "lead_json",
        "source_json",
    ]);
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
            opt(c.restricted_at),
            json_cell(&c.tags),
            json_cell(&c.attributes),
            opt(c.updated_at),
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
                json_cell(&lead.origin),
                json_cell(&lead.stage),
                opt(lead.owner.as_ref()),
                lead.updated_at.to_string(),
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
    let mut files = BTreeMap::from([
        ("audit.csv", trail.into_string()?),
        ("records.csv", records.into_string()?),
        ("timeline.csv", timeline.into_string()?),
        ("contacts.csv", people.into_string()?),
        ("consent.csv", consent.into_string()?),
        ("leads.csv", leads.into_string()?),
        ("conversations.csv", conversations.into_string()?),
        ("messages.csv", messages.into_string()?),
        ("ai_suggestions.csv", suggestions.into_string()?),
    ]);
    if let Some(users) = users {
        let mut table =
            Csv::new(&["id", "email", "name", "role", "queues_json", "status", "created_at", "updated_at"]);
        for user in users {
            table.row([
                user.id.to_string(),
                user.email.clone(),
                user.name.clone(),
                json_cell(&user.role),
                json_cell(&user.queues),
                json_cell(&user.status),
                user.created_at.to_string(),
                user.updated_at.to_string(),
            ]);
        }
        files.insert("users.csv", table.into_string()?);
    }
    Ok(files)
}
