//! The inbox's ports in memory: one [`MemoryInbox`] implements every inbox port, one file per
//! port. `contract` runs the same suites on it as on DynamoDB.

#[allow(clippy::wildcard_imports)]
use super::*;
use crate::domain::inbox::ConversationState;

mod contacts;
mod conversations;
mod ingest;
mod leads;
mod lifecycle;
mod outbound;
mod suggestions;

/// The inbox in memory, with the port's contract: messages once per wamid, statuses forward
/// only, consent once per cause, leads once per leadgen id. Pages use the item's position as
/// the cursor.
#[derive(Debug, Default, Clone)]
pub struct MemoryInbox {
    pub(super) state: Arc<Mutex<InboxState>>,
}

#[derive(Debug, Default)]
pub(super) struct InboxState {
    pub(super) contacts: Vec<(TenantId, ContactView)>,
    pub(super) conversations: Vec<(TenantId, ConversationView)>,
    pub(super) messages: Vec<(TenantId, MessageView)>,
    pub(super) consent: Vec<(TenantId, ContactId, String, ConsentEventView)>,
    pub(super) leads: Vec<(TenantId, LeadView)>,
    /// Send claims (until, epoch ms) and send times, by message.
    pub(super) send_claims: HashMap<MessageId, i64>,
    pub(super) sent_at: HashMap<MessageId, i64>,
    pub(super) suggestions: Vec<(TenantId, SuggestionView)>,
}

/// The fake's blind index of a tenant: a fixed key per tenant (a real one is random, sealed by
/// KMS), so ids stay distinct across tenants as they are in the table.
#[must_use]
pub fn fake_index(tenant: &TenantId) -> crate::domain::BlindIndex {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, tenant.as_str().as_bytes());
    let mut key = [0u8; 32];
    key.copy_from_slice(digest.as_ref());
    crate::domain::BlindIndex::new(&key)
}

pub(super) fn paginate<T: Clone>(
    all: Vec<T>,
    after: Option<&str>,
    limit: u16,
) -> Result<Page<T>, InboxError> {
    let start = match after {
        None => 0,
        Some(cursor) => cursor.parse::<usize>().map_err(|_| InboxError::InvalidCursor)?,
    };
    let end = (start + usize::from(limit.max(1))).min(all.len());
    let items = all.get(start..end).map(<[T]>::to_vec).unwrap_or_default();
    Ok(Page { items, next: (end < all.len()).then(|| end.to_string()) })
}

impl MemoryInbox {
    pub(super) fn state(&self) -> Result<std::sync::MutexGuard<'_, InboxState>, InboxError> {
        self.state.lock().map_err(|_| InboxError::Unknown(anyhow::anyhow!("poisoned")))
    }

    pub(super) fn contact(
        state: &mut InboxState,
        tenant: &TenantId,
        profile: &ContactProfile,
        at: Timestamp,
    ) -> Result<ContactId, InboxError> {
        let id = fake_index(tenant).contact_id(profile.keys().first().ok_or(InboxError::NoContact)?);
        if !state.contacts.iter().any(|(t, c)| t == tenant && c.id == id) {
            state.contacts.push((
                tenant.clone(),
                ContactView {
                    id: id.clone(),
                    phone: profile.phone.as_ref().map(|p| p.as_digits().to_owned()),
                    user_id: profile.user_id.clone(),
                    email: profile.email.clone(),
                    name: profile.name.clone(),
                    first_seen_at: at.as_millis(),
                    last_seen_at: at.as_millis(),
                    last_inbound_at: None,
                    service_window_until: None,
                    consent: None,
                    restricted_at: None,
                    conversation_id: None,
                    tags: Vec::new(),
                    attributes: std::collections::BTreeMap::new(),
                    updated_at: None,
                },
            ));
        }
        Ok(id)
    }

    pub(super) fn conversation(
        state: &mut InboxState,
        tenant: &TenantId,
        contact: &ContactId,
        at: Timestamp,
    ) -> ConversationId {
        if let Some((_, c)) =
            state.conversations.iter().find(|(t, c)| t == tenant && &c.contact_id == contact)
        {
            return c.id.clone();
        }
        let id = ConversationId::generate(at);
        state.conversations.push((
            tenant.clone(),
            ConversationView {
                id: id.clone(),
                contact_id: contact.clone(),
                state: ConversationState::Open,
                version: 0,
                started_at: at.as_millis(),
                last_message_at: at.as_millis(),
                assignee: None,
                queue: None,
                updated_at: at.as_millis(),
            },
        ));
        id
    }
}
