//! Table keys and attribute names, built here and nowhere else.
//!
//! Layout: every partition key starts with the tenant, `T#<tenant_id>`, and so does every GSI
//! partition key, so that an IAM policy with `dynamodb:LeadingKeys` can confine a tenant-scoped
//! role to its own items. The one exception is the routing family `ROUTE#…`: it maps an id Meta
//! sends (a phone number id, a page id) to the tenant that connected it, holds nothing but the
//! tenant id, and is read only by the system functions that must find the tenant first.
//! (`ROUTE#LIVE#…` maps a WebSocket connection id to its tenant the same way.)
//! Likewise the due-work families `DUE#…` and `SYSTEM#retention`: the retention run's queues
//! across tenants (tenant, request and conversation ids only) and its resume point, so that its
//! work is proportional to what is due, not to the table; and `SYSTEM#tenants`, the operator's
//! directory of tenant ids.

use crate::domain::crm::RecordKind;
use crate::domain::privacy::DayQueue;
use crate::domain::{
    ApiKeyId, AuditId, ContactId, ConversationId, ErasureId, ImportId, MessageId, RecordId, SessionId,
    SuggestionId, TenantId, Timestamp, UserId, Wamid,
};
use crate::kernel::digest::hex_sha256;

// The contact center's event log and aggregates (kept apart: this file is long enough).
mod center;
pub use center::*;
mod flows;
pub use flows::*;
// The console's WebSocket connections (issue #18).
mod live;
pub use live::*;

/// Partition key attribute.
pub const PK: &str = "PK";
/// Sort key attribute.
pub const SK: &str = "SK";
/// Partition key of the first global secondary index (tenant-leading too).
pub const GSI1PK: &str = "GSI1PK";
/// Sort key of the first global secondary index.
pub const GSI1SK: &str = "GSI1SK";
/// Name of the first global secondary index.
pub const GSI1: &str = "GSI1";
/// The TTL attribute: epoch seconds after which the item is gone (P56: reads filter on it).
pub const EXPIRES_AT: &str = "expires_at";
/// Optimistic-locking version, incremented by every versioned write.
pub const VERSION: &str = "version";
/// The kind of item (`tenant`, `api_key`, …), for exports and debugging.
pub const ENTITY: &str = "entity";

/// Attribute names of the tenant items.
pub mod attr {
    /// Tenant id (on items whose key does not carry it, e.g. routing).
    pub const TENANT_ID: &str = "tenant_id";
    /// Display name.
    pub const NAME: &str = "name";
    /// Lifecycle status.
    pub const STATUS: &str = "status";
    /// Creation time, epoch milliseconds.
    pub const CREATED_AT: &str = "created_at";
    /// Role of a credential.
    pub const ROLE: &str = "role";
    /// SHA-256 of an API key's secret.
    pub const SECRET_SHA256: &str = "secret_sha256";
    /// A tenant's settings, JSON.
    pub const SETTINGS: &str = "settings";
    /// A tenant's plan, JSON.
    pub const PLAN: &str = "plan";
    /// A tenant's sealed access-token signing key.
    pub const TOKEN_KEY: &str = "token_key";
    /// When a tenant was closed, epoch milliseconds.
    pub const CLOSED_AT: &str = "closed_at";
    /// Contact tags (a string set).
    pub const TAGS: &str = "tags";
    /// Contact custom attributes, JSON object of strings.
    pub const ATTRIBUTES: &str = "attributes";
    /// Who a conversation or lead is assigned to (a user id).
    pub const ASSIGNEE: &str = "assignee";
    /// A conversation's routing queue.
    pub const QUEUE: &str = "queue";
    /// When a record last changed, epoch milliseconds.
    pub const UPDATED_AT: &str = "updated_at";
    /// A lead's pipeline stage.
    pub const STAGE: &str = "stage";
    /// A lead's owner (a user id).
    pub const OWNER: &str = "owner";
    /// A lead's form, ad and campaign as the team names them, JSON.
    pub const ORIGIN: &str = "origin";
    /// Revocation time, epoch milliseconds.
    pub const REVOKED_AT: &str = "revoked_at";
    /// Meta phone number id.
    pub const PHONE_NUMBER_ID: &str = "phone_number_id";
    /// Display phone number.
    pub const DISPLAY_PHONE_NUMBER: &str = "display_phone_number";
    /// WhatsApp Business Account id.
    pub const WABA_ID: &str = "waba_id";
    /// Sealed access token.
    pub const ACCESS_TOKEN: &str = "access_token";
    /// Connection time, epoch milliseconds.
    pub const CONNECTED_AT: &str = "connected_at";
    /// Idempotency record status.
    pub const IDEM_STATUS: &str = "idem_status";
    /// Hash of the request an idempotency key was first used for.
    pub const PAYLOAD_HASH: &str = "payload_hash";
    /// Until when an in-progress idempotency claim holds, epoch milliseconds.
    pub const IN_PROGRESS_UNTIL: &str = "in_progress_until";
    /// Stored result of completed idempotent work.
    pub const RESPONSE: &str = "response";
    /// An AI provider's name (one of the deployment's).
    pub const AI_PROVIDER: &str = "ai_provider";
    /// The model an AI provider is asked for.
    pub const AI_MODEL: &str = "ai_model";
    /// A sealed AI provider API key.
    pub const AI_API_KEY: &str = "ai_api_key";
    /// Meta Page id.
    pub const PAGE_ID: &str = "page_id";
    /// Sealed Page access token.
    pub const PAGE_TOKEN: &str = "page_access_token";
    /// A contact's id.
    pub const CONTACT_ID: &str = "contact_id";
    /// A conversation's id.
    pub const CONVERSATION_ID: &str = "conversation_id";
    /// A message's id.
    pub const MESSAGE_ID: &str = "message_id";
    /// Phone number (E.164 digits).
    pub const PHONE: &str = "phone";
    /// Business-scoped user id.
    pub const USER_ID: &str = "user_id";
    /// Email.
    pub const EMAIL: &str = "email";
    /// First contact, epoch ms.
    pub const FIRST_SEEN_AT: &str = "first_seen_at";
    /// Latest contact, epoch ms.
    pub const LAST_SEEN_AT: &str = "last_seen_at";
    /// Latest inbound message, epoch ms.
    pub const LAST_INBOUND_AT: &str = "last_inbound_at";
    /// End of the 24 h service window, epoch ms.
    pub const WINDOW_UNTIL: &str = "service_window_until";
    /// Current consent state.
    pub const CONSENT_STATE: &str = "consent_state";
    /// Source of the current consent state.
    pub const CONSENT_SOURCE: &str = "consent_source";
    /// Time of the current consent state, epoch ms.
    pub const CONSENT_AT: &str = "consent_at";
    /// Since when processing is restricted (P63), epoch ms; absent when it is not.
    pub const RESTRICTED_AT: &str = "restricted_at";
    /// The time of the latest restriction event (restrict or lift), epoch ms: order-independent.
    pub const RESTRICTION_EVENT_AT: &str = "restriction_event_at";
    /// Consent event kind.
    pub const KIND: &str = "kind";
    /// Consent event source.
    pub const SOURCE: &str = "source";
    /// Event time, epoch ms.
    pub const AT: &str = "at";
    /// Conversation state.
    pub const STATE: &str = "state";
    /// Conversation start, epoch ms.
    pub const STARTED_AT: &str = "started_at";
    /// Latest message of a conversation, epoch ms.
    pub const LAST_MESSAGE_AT: &str = "last_message_at";
    /// Meta message id.
    pub const WAMID: &str = "wamid";
    /// Sort key of the message a wamid belongs to.
    pub const MESSAGE_SK: &str = "message_sk";
    /// `inbound` or `outbound`.
    pub const DIRECTION: &str = "direction";
    /// Message type.
    pub const MESSAGE_TYPE: &str = "message_type";
    /// When a message was sent, epoch ms.
    pub const SENT_AT: &str = "sent_at";
    /// Message status.
    pub const MESSAGE_STATUS: &str = "message_status";
    /// Rank of the message status (statuses only move up).
    pub const STATUS_RANK: &str = "status_rank";
    /// When the current status was reached, epoch ms.
    pub const STATUS_AT: &str = "status_at";
    /// Until when (epoch ms) a send invocation holds an outbound message's claim.
    pub const SENDING_UNTIL: &str = "sending_until";
    /// When (epoch ms) Meta accepted an outbound message (the pair limit counts from it).
    pub const SENT_MS: &str = "sent_ms";
    /// Map of every status reached to its time.
    pub const STATUSES: &str = "statuses";
    /// A failure's error, JSON.
    pub const ERROR: &str = "error";
    /// A message as received, JSON.
    pub const RAW: &str = "raw";
    /// A lead's leadgen id.
    pub const LEADGEN_ID: &str = "leadgen_id";
    /// A lead as Graph returned it, JSON.
    pub const LEAD: &str = "lead";
    /// A lead's webhook change, JSON.
    pub const LEAD_SOURCE: &str = "lead_source";
    /// When a lead was stored, epoch ms.
    pub const RECEIVED_AT: &str = "received_at";
    /// An AI suggestion request's id.
    pub const SUGGESTION_ID: &str = "suggestion_id";
    /// What the AI produced for a suggestion request, JSON (sealed).
    pub const AI_RESULT: &str = "ai_result";
    /// Why something was refused or failed.
    pub const REASON: &str = "reason";
    /// When work finished, epoch ms.
    pub const FINISHED_AT: &str = "finished_at";
    /// An erasure request's id.
    pub const ERASURE_ID: &str = "erasure_id";
    /// The contact ids an erasure request covers.
    pub const CONTACT_IDS: &str = "contact_ids";
    /// When a request was made, epoch ms.
    pub const REQUESTED_AT: &str = "requested_at";
    /// A deletion receipt, JSON.
    pub const RECEIPT: &str = "receipt";
    /// What an unfinished erasure deleted so far, JSON; on an idempotency claim, how far its
    /// holder got (what a takeover resumes from).
    pub const PROGRESS: &str = "progress";
    /// Retention: days after the last message a conversation is kept.
    pub const CONVERSATION_DAYS: &str = "retention_conversation_days";
    /// Retention: days after which message content is sanitized.
    pub const CONTENT_DAYS: &str = "retention_content_days";
    /// Retention: the legal hold (keep Meta data after a disconnection), a boolean.
    pub const LEGAL_HOLD: &str = "legal_hold";
    /// Which integration a queued purge is about (`whatsapp`, `leadads`).
    pub const INTEGRATION: &str = "integration";
    /// The Meta id of a disconnected integration (phone number id or Page id).
    pub const SOURCE_ID: &str = "source_id";
    /// When an integration was disconnected, epoch ms.
    pub const DISCONNECTED_AT: &str = "disconnected_at";
    /// A work queue's resume point.
    pub const CURSOR: &str = "cursor";
    /// When a queued piece of work is due, epoch ms.
    pub const DUE_AT: &str = "due_at";
    /// When Leadline last received data of a conversation, epoch ms (its retention clock).
    pub const LAST_RECEIVED_AT: &str = "last_received_at";
    /// A due-work entry's day (epoch days).
    pub const DAY: &str = "day";
    /// The timers sweep's resume point (epoch minutes).
    pub const CURSOR_MINUTE: &str = "minute";
    /// When Leadline received a message, epoch ms (the sanitizing clock).
    pub const RECEIVED_AT_MS: &str = "received_at";
    /// Set on outbound messages queued through the API: an `OUTMSG#` lookup points at them.
    pub const HAS_LOOKUP: &str = "has_lookup";
    /// When a message's content was sanitized, epoch ms.
    pub const SANITIZED_AT: &str = "content_sanitized_at";
    /// A data or index key as KMS wrapped it (binary).
    pub const WRAPPED_KEY: &str = "wrapped_key";
    /// The sort keys of a contact's lookup entries (a string set), so that erasure finds them
    /// without reading any identifier.
    pub const ALIAS_KEYS: &str = "alias_keys";
    /// Why a consent event was refused (absent on events that applied).
    pub const REFUSED: &str = "refused";
    /// Through what a contact came (a string set: `whatsapp`, `leadads`, `business`), P54.
    pub const ORIGINS: &str = "origins";
    /// Through what its name came (`whatsapp`, `leadads`, `business`), P54.
    pub const NAME_ORIGIN: &str = "name_origin";

    // The contact center (conversations' cycle fields, agents, waiting entries).
    /// Since when a conversation waits in its queue, epoch ms.
    pub const QUEUED_AT: &str = "queued_at";
    /// When a conversation's current cycle began, epoch ms.
    pub const CYCLE_STARTED_AT: &str = "cycle_started_at";
    /// The first agent reply of a conversation's current cycle, epoch ms.
    pub const FIRST_REPLY_AT: &str = "first_reply_at";
    /// When a conversation was resolved, epoch ms.
    pub const RESOLVED_AT: &str = "resolved_at";
    /// Until when a pending conversation is snoozed, epoch ms.
    pub const SNOOZED_UNTIL: &str = "snoozed_until";
    /// An agent's presence (`online`, `away`, `offline`).
    pub const PRESENCE: &str = "presence";
    /// When an agent's presence last changed, epoch ms.
    pub const PRESENCE_AT: &str = "presence_at";
    /// How many open conversations an agent may hold.
    pub const CAPACITY: &str = "capacity";
    /// How many open conversations an agent holds.
    pub const LOAD: &str = "load";
    /// When an agent was last assigned a conversation, epoch ms.
    pub const LAST_ASSIGNED_AT: &str = "last_assigned_at";
    /// Since when a waiting entry's conversation waits, epoch ms.
    pub const SINCE: &str = "since";
}

/// A primary key of the table.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    /// Partition key value.
    pub pk: String,
    /// Sort key value.
    pub sk: String,
}

/// The partition of one tenant.
#[must_use]
pub fn tenant_partition(tenant: &TenantId) -> String {
    format!("T#{tenant}")
}

/// The tenant's own record.
#[must_use]
pub fn tenant(tenant: &TenantId) -> Key {
    Key { pk: tenant_partition(tenant), sk: "TENANT".to_owned() }
}

/// The operator's directory of tenants (one entry per tenant, its id only; written with the
/// tenant, removed by its purge): listing tenants reads it instead of scanning the table.
pub const TENANT_DIRECTORY: &str = "SYSTEM#tenants";

/// A tenant's entry in [`TENANT_DIRECTORY`].
#[must_use]
pub fn tenant_directory_entry(tenant: &TenantId) -> Key {
    Key { pk: TENANT_DIRECTORY.to_owned(), sk: format!("{TENANT_DIRECTORY_PREFIX}{tenant}") }
}

/// Sort-key prefix of [`TENANT_DIRECTORY`] entries.
pub const TENANT_DIRECTORY_PREFIX: &str = "TENANT#";
/// One API key of a tenant.
#[must_use]
pub fn api_key(tenant: &TenantId, key: &ApiKeyId) -> Key {
    Key { pk: tenant_partition(tenant), sk: format!("{API_KEY_PREFIX}{key}") }
}

/// Sort-key prefix of API keys.
pub const API_KEY_PREFIX: &str = "APIKEY#";

/// The tenant's WhatsApp connection.
#[must_use]
pub fn whatsapp_connection(tenant: &TenantId) -> Key {
    Key { pk: tenant_partition(tenant), sk: "CONN#WHATSAPP".to_owned() }
}

/// Routing: which tenant connected a WhatsApp phone number id (see the module docs).
#[must_use]
pub fn whatsapp_route(phone_number_id: &str) -> Key {
    Key { pk: format!("ROUTE#WA#{}", hex_sha256(phone_number_id)), sk: "ROUTE".to_owned() }
}

/// A contact.
#[must_use]
pub fn contact(tenant: &TenantId, contact: &ContactId) -> Key {
    Key { pk: tenant_partition(tenant), sk: format!("{CONTACT_PREFIX}{contact}") }
}

/// Sort-key prefix of contacts.
pub const CONTACT_PREFIX: &str = "CONTACT#";

/// How a contact is found by an identifier (its phone number, BSUID or email): the identifier's
/// keyed hash under the tenant's blind index (`BlindIndex::hash_key`), pointing at the contact's
/// random id.
#[must_use]
pub fn contact_alias(tenant: &TenantId, kind: &str, blind_hash: &str) -> Key {
    Key { pk: tenant_partition(tenant), sk: format!("{ALIAS_PREFIX}{kind}#{blind_hash}") }
}

/// Prefix of the lookup entries' sort keys (`ALIAS#<kind>#<keyed hash>`).
pub const ALIAS_PREFIX: &str = "ALIAS#";

/// Prefix of the suppression entries' sort keys (`SUPPRESS#<kind>#<keyed hash>`).
pub const SUPPRESSION_PREFIX: &str = "SUPPRESS#";

/// An erased person's opt-out, kept so they stay unmarketable when they return (P21, P62): one
/// per identifier the erased contact had, under the same keyed hash as its lookup entry. It holds
/// no identifier and no contact id, only the opt-out's source and time.
#[must_use]
pub fn suppression(tenant: &TenantId, kind: &str, blind_hash: &str) -> Key {
    Key { pk: tenant_partition(tenant), sk: format!("{SUPPRESSION_PREFIX}{kind}#{blind_hash}") }
}

/// The suppression entry that goes with a lookup entry's sort key (`None` for another key).
#[must_use]
pub fn suppression_of_alias(tenant: &TenantId, alias_sk: &str) -> Option<Key> {
    let rest = alias_sk.strip_prefix(ALIAS_PREFIX)?;
    Some(Key { pk: tenant_partition(tenant), sk: format!("{SUPPRESSION_PREFIX}{rest}") })
}

/// The tenant's blind-index key, sealed by KMS (in the main table: it must survive in backups,
/// or no restored contact could be found again).
#[must_use]
pub fn blind_index_key(tenant: &TenantId) -> Key {
    Key { pk: tenant_partition(tenant), sk: "INDEXKEY".to_owned() }
}

/// A contact's data key, wrapped by KMS. Lives in the key table, which has no backups: deleting
/// the item makes every copy of the contact's sealed data unreadable (P64).
#[must_use]
pub fn contact_data_key(tenant: &TenantId, contact: &ContactId) -> Key {
    Key { pk: tenant_partition(tenant), sk: format!("{DATA_KEY_PREFIX}{contact}") }
}

/// Sort-key prefix of contacts' data keys in the key table.
pub const DATA_KEY_PREFIX: &str = "DATAKEY#";

/// One event of a contact's consent ledger; `cause` makes recording twice a no-op.
#[must_use]
pub fn consent_event(tenant: &TenantId, contact: &ContactId, at: Timestamp, cause: &str) -> Key {
    Key {
        pk: tenant_partition(tenant),
        sk: format!("{}{:013}#{}", consent_prefix(contact), at.as_millis(), &hex_sha256(cause)[..32]),
    }
}

/// Sort-key prefix of a contact's consent ledger (time-ordered).
#[must_use]
pub fn consent_prefix(contact: &ContactId) -> String {
    format!("CONSENT#{contact}#")
}

/// A conversation.
#[must_use]
pub fn conversation(tenant: &TenantId, conversation: &ConversationId) -> Key {
    Key { pk: tenant_partition(tenant), sk: format!("{CONVERSATION_PREFIX}{conversation}") }
}

/// Sort-key prefix of conversations.
pub const CONVERSATION_PREFIX: &str = "CONV#";

/// A message in a conversation, ordered by the time it was sent.
#[must_use]
pub fn message(tenant: &TenantId, conversation: &ConversationId, sent_at: Timestamp, id: &MessageId) -> Key {
    Key {
        pk: tenant_partition(tenant),
        sk: format!("{}{:013}#{id}", messages_prefix(conversation), sent_at.as_millis().max(0)),
    }
}

/// Sort-key prefix of a conversation's messages.
#[must_use]
pub fn messages_prefix(conversation: &ConversationId) -> String {
    format!("MSG#{conversation}#")
}

/// Where a conversation's messages sent before `at_millis` start (a descending query's
/// exclusive start).
#[must_use]
pub fn messages_before(conversation: &ConversationId, at_millis: i64) -> String {
    format!("{}{:013}", messages_prefix(conversation), at_millis.max(0))
}

/// The messages prefix of the conversation a message's sort key (from [`message`]) is in.
#[must_use]
pub fn messages_prefix_of(message_sk: &str) -> Option<String> {
    let (head, _id) = message_sk.rsplit_once('#')?;
    let (conversation, _at) = head.rsplit_once('#')?;
    conversation.starts_with("MSG#").then(|| format!("{conversation}#"))
}

/// Where a wamid's message is, and its status when no message record exists (deduplication
/// and status routing).
#[must_use]
pub fn wamid(tenant: &TenantId, wamid: &Wamid) -> Key {
    Key { pk: tenant_partition(tenant), sk: format!("WAMID#{}", hex_sha256(wamid.as_str())) }
}

/// Where an outbound message is, by Leadline's id (the API's `GET /v1/messages/{id}` and the
/// send queue's reference).
#[must_use]
pub fn outbound(tenant: &TenantId, message: &MessageId) -> Key {
    Key { pk: tenant_partition(tenant), sk: format!("OUTMSG#{message}") }
}

/// A lead, by leadgen id.
#[must_use]
pub fn lead(tenant: &TenantId, leadgen_id: &str) -> Key {
    Key { pk: tenant_partition(tenant), sk: format!("{LEAD_PREFIX}{}", hex_sha256(leadgen_id)) }
}

/// Sort-key prefix of leads.
pub const LEAD_PREFIX: &str = "LEAD#";

/// GSI1 partition of one contact: its conversations and leads.
#[must_use]
pub fn contact_index_partition(tenant: &TenantId, contact: &ContactId) -> String {
    format!("T#{tenant}#CONTACT#{contact}")
}

/// GSI1 sort key of a conversation in its contact's partition (newest last).
#[must_use]
pub fn contact_index_conversation(started_at: Timestamp, conversation: &ConversationId) -> String {
    format!("{CONVERSATION_PREFIX}{:013}#{conversation}", started_at.as_millis().max(0))
}

/// GSI1 sort key of a lead in its contact's partition.
#[must_use]
pub fn contact_index_lead(received_at: Timestamp, leadgen_id: &str) -> String {
    format!("{LEAD_PREFIX}{:013}#{}", received_at.as_millis().max(0), hex_sha256(leadgen_id))
}

/// The tenant's Lead Ads Page connection.
#[must_use]
pub fn page_connection(tenant: &TenantId) -> Key {
    Key { pk: tenant_partition(tenant), sk: "CONN#LEADADS".to_owned() }
}

/// A tenant's AI provider connection.
#[must_use]
pub fn ai_connection(tenant: &TenantId) -> Key {
    Key { pk: tenant_partition(tenant), sk: "CONN#AI".to_owned() }
}

/// Routing: which tenant connected a Facebook Page (see the module docs).
#[must_use]
pub fn page_route(page_id: &str) -> Key {
    Key { pk: format!("ROUTE#PAGE#{}", hex_sha256(page_id)), sk: "ROUTE".to_owned() }
}

/// An erasure request.
#[must_use]
pub fn erasure(tenant: &TenantId, id: &ErasureId) -> Key {
    Key { pk: tenant_partition(tenant), sk: format!("ERASURE#{id}") }
}

/// The retention run's queue of pending erasures (see the module docs), oldest first.
pub const DUE_ERASURES: &str = "DUE#erasure";

/// An entry of the erasure queue.
#[must_use]
pub fn due_erasure(tenant: &TenantId, id: &ErasureId, requested_at: Timestamp) -> Key {
    Key { pk: DUE_ERASURES.to_owned(), sk: format!("{:013}#{tenant}#{id}", requested_at.as_millis().max(0)) }
}

/// When the request of an erasure queue entry was made, read back from the entry's sort key.
#[must_use]
pub fn due_erasure_requested_at(sk: &str) -> Option<Timestamp> {
    sk.split('#').next().and_then(|millis| millis.parse::<i64>().ok()).map(Timestamp::from_millis)
}

/// The retention run's queue of closed tenants to purge after their grace period (P53).
pub const DUE_PURGE: &str = "DUE#purge";

/// A closed tenant's entry in the purge queue.
#[must_use]
pub fn due_purge(tenant: &TenantId) -> Key {
    Key { pk: DUE_PURGE.to_owned(), sk: tenant.to_string() }
}

/// The retention run's queue of data received through disconnected integrations (P54).
pub const DUE_META_PURGE: &str = "DUE#metapurge";

/// An entry of the Meta purge queue: one per tenant, integration and disconnection.
#[must_use]
pub fn due_meta_purge(tenant: &TenantId, integration: &str, disconnected_at: Timestamp) -> Key {
    Key {
        pk: DUE_META_PURGE.to_owned(),
        sk: format!("{tenant}#{integration}#{:013}", disconnected_at.as_millis()),
    }
}

/// The retention run's queue of tenants whose settings changed (see the module docs).
pub const DUE_RESTAMP: &str = "DUE#restamp";

/// An entry of the re-stamping queue.
#[must_use]
pub fn due_restamp(tenant: &TenantId) -> Key {
    Key { pk: DUE_RESTAMP.to_owned(), sk: tenant.to_string() }
}

/// Conversations queued in `queue` for `epoch_day` (days since 1970-01-01), one entry per
/// conversation (see the module docs).
#[must_use]
pub fn due_day_partition(queue: DayQueue, epoch_day: i64) -> String {
    format!("DUE#{}#{epoch_day}", queue.as_str())
}

/// An entry of a day queue.
#[must_use]
pub fn due_day(queue: DayQueue, epoch_day: i64, tenant: &TenantId, conversation: &ConversationId) -> Key {
    Key { pk: due_day_partition(queue, epoch_day), sk: format!("{tenant}#{conversation}") }
}

/// Where the retention run resumes its walk over a day queue.
#[must_use]
pub fn day_cursor(queue: DayQueue) -> Key {
    Key { pk: "SYSTEM#retention".to_owned(), sk: format!("CURSOR#{}", queue.as_str()) }
}

/// An idempotency record. The key is hashed: clients choose it freely (any characters, any
/// length up to the API's cap), and the hash keeps the sort key short and separator-free.
#[must_use]
pub fn idempotency(tenant: &TenantId, scope: &str, key: &str) -> Key {
    Key { pk: tenant_partition(tenant), sk: format!("IDEM#{scope}#{}", hex_sha256(key)) }
}

/// The attribute holding a document item's JSON (users, sessions, audit entries, records).
pub const DOC: &str = "doc";

/// A user of a tenant.
#[must_use]
pub fn user(tenant: &TenantId, user: &UserId) -> Key {
    Key { pk: tenant_partition(tenant), sk: format!("{USER_PREFIX}{user}") }
}

/// Sort-key prefix of users.
pub const USER_PREFIX: &str = "USER#";

/// A user's email, claimed within the tenant (uniqueness), hashed.
#[must_use]
pub fn user_email(tenant: &TenantId, email: &str) -> Key {
    Key { pk: tenant_partition(tenant), sk: format!("USEREMAIL#{}", hex_sha256(email)) }
}

/// A login session.
#[must_use]
pub fn session(tenant: &TenantId, session: &SessionId) -> Key {
    Key { pk: tenant_partition(tenant), sk: format!("SESSION#{session}") }
}

/// Login attempts claimed for one email in one window.
#[must_use]
pub fn login_attempts(tenant: &TenantId, email: &str, window: i64) -> Key {
    Key { pk: tenant_partition(tenant), sk: format!("LOGINTRY#{}#{window}", hex_sha256(email)) }
}

/// Anonymous requests from one source address in one minute (the address is hashed: it is
/// personal data, and only equality matters).
#[must_use]
pub fn source_window(source: &str, minute: i64) -> Key {
    Key { pk: format!("SOURCE#{}", hex_sha256(source)), sk: format!("RATE#{minute}") }
}

/// An audit entry, time-ordered.
#[must_use]
pub fn audit(tenant: &TenantId, at_millis: i64, id: &AuditId) -> Key {
    Key { pk: tenant_partition(tenant), sk: format!("{AUDIT_PREFIX}{:013}#{id}", at_millis.max(0)) }
}

/// Sort-key prefix of audit entries.
pub const AUDIT_PREFIX: &str = "AUDIT#";

/// Whom an audit entry about a person is about: kept beside the entry, expiring a year after it
/// (P52), so that the anonymization is TTL's work, not a job's.
#[must_use]
pub fn audit_person(tenant: &TenantId, at_millis: i64, id: &AuditId) -> Key {
    Key { pk: tenant_partition(tenant), sk: format!("{AUDIT_PERSON_PREFIX}{:013}#{id}", at_millis.max(0)) }
}

/// Sort-key prefix of the person links of audit entries.
pub const AUDIT_PERSON_PREFIX: &str = "AUDITPERSON#";

/// An audit entry filed under the person whose data it is about (P60), expiring a year after
/// the entry like its person link (P52): the person's share of the trail, time-ordered.
#[must_use]
pub fn audit_subject(tenant: &TenantId, contact: &ContactId, at_millis: i64, id: &AuditId) -> Key {
    Key {
        pk: tenant_partition(tenant),
        sk: format!("{}{:013}#{id}", audit_subject_prefix(contact), at_millis.max(0)),
    }
}

/// Sort-key prefix of the audit entries about one person.
#[must_use]
pub fn audit_subject_prefix(contact: &ContactId) -> String {
    format!("AUDITSUBJECT#{contact}#")
}

/// Where the person links after `at_millis` end (a descending query's exclusive start).
#[must_use]
pub fn audit_person_until(at_millis: i64) -> String {
    format!("{AUDIT_PERSON_PREFIX}{:013}", at_millis.saturating_add(1).max(0))
}

/// Where audit entries before `at_millis` start (a descending query's exclusive start).
#[must_use]
pub fn audit_before(at_millis: i64) -> String {
    format!("{AUDIT_PREFIX}{:013}", at_millis.max(0))
}

/// An AI suggestion request, beside its conversation's messages.
#[must_use]
pub fn suggestion(tenant: &TenantId, conversation: &ConversationId, id: &SuggestionId) -> Key {
    Key { pk: tenant_partition(tenant), sk: format!("{}{id}", suggestions_prefix(conversation)) }
}

/// Sort-key prefix of a conversation's suggestion requests (time-ordered: ids are ULIDs).
#[must_use]
pub fn suggestions_prefix(conversation: &ConversationId) -> String {
    format!("SUGG#{conversation}#")
}

/// Sort-key prefix of everything the team keeps about a contact (records and activities).
#[must_use]
pub fn crm_prefix(contact: &ContactId) -> String {
    format!("CRM#{contact}#")
}

/// Sort-key prefix of a contact's records of one kind.
#[must_use]
pub fn records_prefix(contact: &ContactId, kind: RecordKind) -> String {
    format!("{}{}#", crm_prefix(contact), kind.as_str())
}

/// A note, task or appointment.
#[must_use]
pub fn record(tenant: &TenantId, contact: &ContactId, kind: RecordKind, id: &RecordId) -> Key {
    Key { pk: tenant_partition(tenant), sk: format!("{}{id}", records_prefix(contact, kind)) }
}

/// Sort-key prefix of a contact's activities (time-ordered).
#[must_use]
pub fn activities_prefix(contact: &ContactId) -> String {
    format!("{}ACT#", crm_prefix(contact))
}

/// One activity of a contact.
#[must_use]
pub fn activity(tenant: &TenantId, contact: &ContactId, at_millis: i64, discriminator: &str) -> Key {
    Key {
        pk: tenant_partition(tenant),
        sk: format!(
            "{}{:013}#{}",
            activities_prefix(contact),
            at_millis.max(0),
            &hex_sha256(discriminator)[..16]
        ),
    }
}

/// Where a contact's activities before `at_millis` start (a descending query's exclusive start).
#[must_use]
pub fn activities_before(contact: &ContactId, at_millis: i64) -> String {
    format!("{}{:013}", activities_prefix(contact), at_millis.max(0))
}

/// The request counter of one tenant for one minute (epoch minutes).
#[must_use]
pub fn rate_window(tenant: &TenantId, minute: i64) -> Key {
    Key { pk: tenant_partition(tenant), sk: format!("RATE#{minute}") }
}

/// The tenant's outbound messages of one UTC month (`yyyy-mm`).
#[must_use]
pub fn messages_month(tenant: &TenantId, month: &str) -> Key {
    Key { pk: tenant_partition(tenant), sk: format!("MSGCOUNT#{month}") }
}

/// A message template, by name and language.
#[must_use]
pub fn template(tenant: &TenantId, name: &str, language: &str) -> Key {
    Key { pk: tenant_partition(tenant), sk: format!("{TEMPLATE_PREFIX}{}#{language}", hex_sha256(name)) }
}

/// Sort-key prefix of templates.
pub const TEMPLATE_PREFIX: &str = "TEMPLATE#";

/// Sort-key prefix of one month's quality counters.
#[must_use]
pub fn quality_prefix(month: &str) -> String {
    format!("QUALITY#{month}#")
}

/// One quality counter of one month.
#[must_use]
pub fn quality(tenant: &TenantId, month: &str, metric: &str) -> Key {
    Key { pk: tenant_partition(tenant), sk: format!("{}{metric}", quality_prefix(month)) }
}

/// The tenant's usage counters (contacts stored).
#[must_use]
pub fn usage(tenant: &TenantId) -> Key {
    Key { pk: tenant_partition(tenant), sk: "USAGE".to_owned() }
}

/// Counter attribute: contacts stored.
pub const CONTACT_COUNT: &str = "contacts";
/// Counter attribute of counter items.
pub const COUNT: &str = "count";

/// A CSV import job (P02).
#[must_use]
pub fn import_job(tenant: &TenantId, id: &ImportId) -> Key {
    Key { pk: tenant_partition(tenant), sk: format!("IMPORT#{id}") }
}

/// A staged chunk of an import job's rows (sealed; deleted once counted, else expiring).
#[must_use]
pub fn import_chunk(tenant: &TenantId, id: &ImportId, chunk: u32) -> Key {
    Key { pk: tenant_partition(tenant), sk: format!("IMPORT#{id}#CHUNK#{chunk:05}") }
}

/// The mark that an import chunk was counted into its job (kept as long as the job).
#[must_use]
pub fn import_chunk_counted(tenant: &TenantId, id: &ImportId, chunk: u32) -> Key {
    Key { pk: tenant_partition(tenant), sk: format!("IMPORT#{id}#COUNTED#{chunk:05}") }
}

/// The tenant's one active-import slot.
#[must_use]
pub fn import_active(tenant: &TenantId) -> Key {
    Key { pk: tenant_partition(tenant), sk: "IMPORTACTIVE".to_owned() }
}

#[cfg(test)]
mod tests;
