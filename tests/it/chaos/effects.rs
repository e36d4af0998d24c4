//! Counting the effects of a round: what the stores, the event log and the sandbox hold.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::Value;
use shared::adapters::documents::DocEventLog;
use shared::adapters::dynamo::keys::{self, attr};
use shared::adapters::dynamo::{DynamoInbox, Table};
use shared::domain::center::{EventKind, EventLog};
use shared::domain::inbox::ContactStore;
use shared::domain::{MessageId, PhoneNumber, TenantId};

/// Expected against found for one effect.
#[derive(Debug, Default, Clone, Copy)]
pub struct Count {
    pub expected: usize,
    pub found: usize,
    pub lost: usize,
    pub duplicated: usize,
}

impl Count {
    pub fn of(expected: &HashMap<String, usize>, found: &HashMap<String, usize>) -> Self {
        let mut count =
            Self { expected: expected.values().sum(), found: found.values().sum(), ..Self::default() };
        for (key, want) in expected {
            let got = found.get(key).copied().unwrap_or(0);
            count.lost += want.saturating_sub(got);
            count.duplicated += got.saturating_sub(*want);
        }
        count.duplicated +=
            found.iter().filter(|(k, _)| !expected.contains_key(*k)).map(|(_, n)| n).sum::<usize>();
        count
    }

    pub fn cell(&self) -> String {
        format!("{}/{}", self.expected, self.found)
    }
}

/// The sends the sandbox took (answered 2xx): each message's id (from its callback data) and
/// the wamid Meta gave it (made up when the answer did not parse: the status then finds the
/// message by its callback data alone).
pub async fn taken_sends(http: &reqwest::Client, sandbox: &str) -> Vec<(MessageId, String)> {
    let entries: Vec<Value> =
        http.get(format!("{sandbox}/outbox")).send().await.expect("outbox").json().await.expect("json");
    entries
        .iter()
        .filter(|e| e["method"] == "POST" && e["path"].as_str().is_some_and(|p| p.ends_with("/messages")))
        .filter(|e| e["response_status"].as_u64().is_some_and(|s| (200..300).contains(&s)))
        .filter_map(|e| {
            let id = shared::domain::outbound::message_of_callback(
                e["body"]["biz_opaque_callback_data"].as_str()?,
            )?;
            let wamid = e["response_body"]["messages"][0]["id"].as_str().map_or_else(
                || format!("wamid.LOST{}", infra::random_hex(8).expect("random")),
                str::to_owned,
            );
            Some((id, wamid))
        })
        .collect()
}

/// Inbound messages stored, per person (by phone).
pub async fn stored_inbound(
    setup: &DynamoInbox,
    table: &Table,
    tenant: &TenantId,
    phones: &[String],
) -> HashMap<String, usize> {
    let mut phone_of: HashMap<String, String> = HashMap::new();
    for phone in phones {
        let parsed = PhoneNumber::parse(phone).expect("phone");
        if let Some(contact) = setup.contact_by_phone(tenant, &parsed).await.expect("read") {
            phone_of.insert(contact.id.as_str().to_owned(), phone.clone());
        }
    }
    let mut found: HashMap<String, usize> = HashMap::new();
    let mut start = None;
    loop {
        let page = table
            .client()
            .query()
            .table_name(table.name())
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :msg)")
            .expression_attribute_names("#pk", keys::PK)
            .expression_attribute_names("#sk", keys::SK)
            .expression_attribute_values(":pk", AttributeValue::S(keys::tenant_partition(tenant)))
            .expression_attribute_values(":msg", AttributeValue::S("MSG#".to_owned()))
            .set_exclusive_start_key(start)
            .send()
            .await
            .expect("query");
        for item in page.items() {
            let inbound =
                item.get(attr::DIRECTION).and_then(|d| d.as_s().ok()).is_some_and(|d| d == "inbound");
            let contact = item.get(attr::CONTACT_ID).and_then(|c| c.as_s().ok());
            if let (true, Some(contact)) = (inbound, contact) {
                let who = phone_of.get(contact).cloned().unwrap_or_else(|| format!("contact {contact}"));
                *found.entry(who).or_default() += 1;
            }
        }
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            return found;
        }
    }
}

/// The contact center's `received` events per wamid, and its `opened` events per conversation.
pub async fn center_events(
    table: &Table,
    tenant: &TenantId,
) -> (HashMap<String, usize>, HashMap<String, usize>) {
    let log = DocEventLog::new(table.clone());
    let mut found: HashMap<String, usize> = HashMap::new();
    let mut opened: HashMap<String, usize> = HashMap::new();
    let mut after: Option<String> = None;
    loop {
        let page = log.events(tenant, (0, i64::MAX), after.as_deref(), 500).await.expect("events");
        for event in page.items.iter().filter(|e| e.kind == EventKind::Received) {
            let wamid = event.id.rsplit_once("#received#").map_or(event.id.as_str(), |(_, w)| w);
            *found.entry(wamid.to_owned()).or_default() += 1;
        }
        for event in page.items.iter().filter(|e| e.kind == EventKind::Opened) {
            let conversation = event.conversation_id.as_ref().map_or("?", |c| c.as_str());
            *opened.entry(conversation.to_owned()).or_default() += 1;
        }
        after = page.next;
        if after.is_none() {
            return (found, opened);
        }
    }
}
