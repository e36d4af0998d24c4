//! In-memory fakes of the ports, for unit tests of handlers (enabled by the `test-util`
//! feature). Integration tests use the real adapters against moto instead.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use crate::adapters::kms::{open_with, seal_with};
use crate::domain::ai::{AiConnection, SuggestionOutcome, SuggestionStatus, SuggestionStore, SuggestionView};
use crate::domain::inbox::{
    ConsentChange, ConsentEventView, ConsentState, ContactFilter, ContactKey, ContactPatch, ContactProfile,
    ContactView, ConversationFilter, ConversationPatch, ConversationView, Expiry, InboxError, InboxStore,
    LeadFilter, LeadOrigin, LeadPatch, LeadStage, LeadView, MessageStatus, MessageView, NewInboundMessage,
    NewLead, NewManualLead, NewOutboundMessage, OutboundClaim, StatusChange, StatusOutcome, Stored, Unsent,
};
use crate::domain::ports::{
    ConnectError, CreateTenantError, EncryptionContext, EnqueueError, OpenError, Queue, QueueMessage,
    SealError, TenantStore, TenantStoreError, TenantUpdate, Vault,
};
use crate::domain::privacy::{
    DayQueue, ErasureCounts, ErasureReceipt, ErasureRequest, ErasureStatus, MetaPurge, PrivacyError,
    PrivacyStore,
};
use crate::domain::secret::Sealed;
use crate::domain::tenant::{
    ApiKeyRecord, PageConnection, RetentionSettings, Tenant, TenantStatus, WhatsAppConnection,
};
use crate::domain::whatsapp::MetaError;
use crate::domain::{
    ApiKeyId, Clock, ContactId, ConversationId, ErasureId, ExpiresAt, MessageId, PhoneNumber, SecretBytes,
    SuggestionId, TenantId, Timestamp, Wamid,
};
use crate::kernel::Page;

/// A clock the test sets and moves.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    /// A clock at `now`.
    #[must_use]
    pub fn at(now: Timestamp) -> Self {
        Self(Arc::new(AtomicI64::new(now.as_millis())))
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: std::time::Duration) {
        let millis = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.0.fetch_add(millis, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_millis(self.0.load(Ordering::SeqCst))
    }
}

/// A vault that wraps data keys with a key held in memory instead of KMS. Real AES-256-GCM, and
/// the context is bound exactly as with KMS, so "wrong tenant cannot open" holds here too.
#[derive(Debug, Default)]
pub struct LocalVault;

const LOCAL_MASTER_KEY: [u8; 32] = [42; 32];

impl Vault for LocalVault {
    async fn seal(&self, context: &EncryptionContext, plaintext: &[u8]) -> Result<Sealed, SealError> {
        let data_key = crate::kernel::random::bytes::<32>().map_err(anyhow::Error::from)?;
        let wrapped = seal_with(&LOCAL_MASTER_KEY, vec![0], context, &data_key)?;
        let mut sealed = seal_with(&data_key, Vec::new(), context, plaintext)?;
        sealed.wrapped_key = wrapped.encode().into_bytes();
        Ok(sealed)
    }

    async fn open(&self, context: &EncryptionContext, sealed: &Sealed) -> Result<SecretBytes, OpenError> {
        let wrapped = std::str::from_utf8(&sealed.wrapped_key).map_err(|_| OpenError::Refused)?;
        let wrapped = Sealed::decode(wrapped).map_err(|_| OpenError::Refused)?;
        let data_key = open_with(&LOCAL_MASTER_KEY, context, &wrapped).ok_or(OpenError::Refused)?;
        open_with(data_key.expose(), context, sealed).ok_or(OpenError::Refused)
    }
}

/// A queue that keeps what was sent, and can be told to fail.
#[derive(Debug, Default, Clone)]
pub struct MemoryQueue {
    sent: Arc<Mutex<Vec<QueueMessage>>>,
    failing: Arc<Mutex<bool>>,
}

impl MemoryQueue {
    /// Everything sent so far.
    #[must_use]
    pub fn sent(&self) -> Vec<QueueMessage> {
        self.sent.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Makes every later send fail (or succeed again).
    pub fn set_failing(&self, failing: bool) {
        if let Ok(mut f) = self.failing.lock() {
            *f = failing;
        }
    }
}

impl Queue for MemoryQueue {
    async fn send_batch(&self, messages: &[QueueMessage]) -> Result<(), EnqueueError> {
        crate::adapters::sqs::chunk(messages)?;
        if self.failing.lock().map(|f| *f).unwrap_or(false) {
            return Err(anyhow::anyhow!("queue unavailable (test)").into());
        }
        self.sent.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.extend_from_slice(messages);
        Ok(())
    }
}

/// Tenants in memory.
#[derive(Debug, Default, Clone)]
pub struct MemoryTenantStore {
    state: Arc<Mutex<TenantState>>,
}

#[derive(Debug, Default)]
struct TenantState {
    tenants: HashMap<TenantId, Tenant>,
    keys: HashMap<(TenantId, ApiKeyId), ApiKeyRecord>,
    connections: HashMap<TenantId, WhatsAppConnection>,
    routes: HashMap<String, TenantId>,
    pages: HashMap<TenantId, PageConnection>,
    page_routes: HashMap<String, TenantId>,
    ai: HashMap<TenantId, AiConnection>,
}

impl MemoryTenantStore {
    fn state(&self) -> anyhow::Result<std::sync::MutexGuard<'_, TenantState>> {
        self.state.lock().map_err(|_| anyhow::anyhow!("poisoned"))
    }
}

impl TenantStore for MemoryTenantStore {
    async fn create_tenant(
        &self,
        tenant: &Tenant,
        admin_key: &ApiKeyRecord,
    ) -> Result<(), CreateTenantError> {
        let mut state = self.state()?;
        if state.tenants.contains_key(&tenant.id) {
            return Err(CreateTenantError::AlreadyExists);
        }
        state.tenants.insert(tenant.id.clone(), tenant.clone());
        state.keys.insert((tenant.id.clone(), admin_key.id.clone()), admin_key.clone());
        Ok(())
    }

    async fn tenant(&self, tenant_id: &TenantId) -> Result<Option<Tenant>, TenantStoreError> {
        Ok(self.state()?.tenants.get(tenant_id).cloned())
    }

    async fn set_retention(
        &self,
        tenant_id: &TenantId,
        settings: RetentionSettings,
    ) -> Result<(), TenantStoreError> {
        if let Some(tenant) = self.state()?.tenants.get_mut(tenant_id) {
            tenant.retention = settings;
        }
        Ok(())
    }

    async fn update_tenant(
        &self,
        tenant_id: &TenantId,
        update: &TenantUpdate,
    ) -> Result<bool, TenantStoreError> {
        let mut state = self.state()?;
        let Some(tenant) = state.tenants.get_mut(tenant_id) else { return Ok(false) };
        match update {
            TenantUpdate::Profile { name, settings } => {
                tenant.name.clone_from(name);
                tenant.settings = settings.clone();
            }
            TenantUpdate::Closure(at) => {
                tenant.closed_at = *at;
                tenant.status = if at.is_some() { TenantStatus::Closed } else { TenantStatus::Active };
            }
            TenantUpdate::Plan(plan) => tenant.plan = *plan,
        }
        Ok(true)
    }

    async fn create_api_key(&self, record: &ApiKeyRecord) -> Result<(), TenantStoreError> {
        self.state()?.keys.insert((record.tenant_id.clone(), record.id.clone()), record.clone());
        Ok(())
    }

    async fn api_keys(&self, tenant_id: &TenantId) -> Result<Vec<ApiKeyRecord>, TenantStoreError> {
        let mut keys: Vec<ApiKeyRecord> =
            self.state()?.keys.values().filter(|k| &k.tenant_id == tenant_id).cloned().collect();
        keys.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(keys)
    }

    async fn revoke_api_key(
        &self,
        tenant_id: &TenantId,
        key_id: &ApiKeyId,
        at: Timestamp,
    ) -> Result<bool, TenantStoreError> {
        let mut state = self.state()?;
        match state.keys.get_mut(&(tenant_id.clone(), key_id.clone())) {
            Some(key) if key.revoked_at.is_none() => {
                key.revoked_at = Some(at);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn api_key(
        &self,
        tenant_id: &TenantId,
        key_id: &ApiKeyId,
    ) -> Result<Option<ApiKeyRecord>, TenantStoreError> {
        Ok(self.state()?.keys.get(&(tenant_id.clone(), key_id.clone())).cloned())
    }

    async fn connect_whatsapp(
        &self,
        tenant_id: &TenantId,
        connection: &WhatsAppConnection,
    ) -> Result<(), ConnectError> {
        let mut state = self.state()?;
        if state.tenants.get(tenant_id).map(|t| t.status) != Some(TenantStatus::Active) {
            return Err(ConnectError::TenantNotFound);
        }
        if state.routes.get(&connection.phone_number_id).is_some_and(|owner| owner != tenant_id) {
            return Err(ConnectError::TakenByAnotherTenant);
        }
        if let Some(old) = state.connections.insert(tenant_id.clone(), connection.clone()) {
            state.routes.remove(&old.phone_number_id);
        }
        state.routes.insert(connection.phone_number_id.clone(), tenant_id.clone());
        Ok(())
    }

    async fn whatsapp_connection(
        &self,
        tenant_id: &TenantId,
    ) -> Result<Option<WhatsAppConnection>, TenantStoreError> {
        Ok(self.state()?.connections.get(tenant_id).cloned())
    }

    async fn disconnect_whatsapp(&self, tenant_id: &TenantId) -> Result<bool, TenantStoreError> {
        let mut state = self.state()?;
        let Some(old) = state.connections.remove(tenant_id) else {
            return Ok(false);
        };
        state.routes.remove(&old.phone_number_id);
        Ok(true)
    }

    async fn tenant_for_phone_number_id(
        &self,
        phone_number_id: &str,
    ) -> Result<Option<TenantId>, TenantStoreError> {
        Ok(self.state()?.routes.get(phone_number_id).cloned())
    }

    async fn connect_page(
        &self,
        tenant_id: &TenantId,
        connection: &PageConnection,
    ) -> Result<(), ConnectError> {
        let mut state = self.state()?;
        if state.tenants.get(tenant_id).map(|t| t.status) != Some(TenantStatus::Active) {
            return Err(ConnectError::TenantNotFound);
        }
        if state.page_routes.get(&connection.page_id).is_some_and(|owner| owner != tenant_id) {
            return Err(ConnectError::TakenByAnotherTenant);
        }
        if let Some(old) = state.pages.insert(tenant_id.clone(), connection.clone()) {
            state.page_routes.remove(&old.page_id);
        }
        state.page_routes.insert(connection.page_id.clone(), tenant_id.clone());
        Ok(())
    }

    async fn page_connection(
        &self,
        tenant_id: &TenantId,
    ) -> Result<Option<PageConnection>, TenantStoreError> {
        Ok(self.state()?.pages.get(tenant_id).cloned())
    }

    async fn disconnect_page(&self, tenant_id: &TenantId) -> Result<bool, TenantStoreError> {
        let mut state = self.state()?;
        let Some(old) = state.pages.remove(tenant_id) else {
            return Ok(false);
        };
        state.page_routes.remove(&old.page_id);
        Ok(true)
    }

    async fn connect_ai(&self, tenant_id: &TenantId, connection: &AiConnection) -> Result<(), ConnectError> {
        let mut state = self.state()?;
        if state.tenants.get(tenant_id).map(|t| t.status) != Some(TenantStatus::Active) {
            return Err(ConnectError::TenantNotFound);
        }
        state.ai.insert(tenant_id.clone(), connection.clone());
        Ok(())
    }

    async fn ai_connection(&self, tenant_id: &TenantId) -> Result<Option<AiConnection>, TenantStoreError> {
        Ok(self.state()?.ai.get(tenant_id).cloned())
    }

    async fn disconnect_ai(&self, tenant_id: &TenantId) -> Result<bool, TenantStoreError> {
        Ok(self.state()?.ai.remove(tenant_id).is_some())
    }

    async fn tenant_for_page_id(&self, page_id: &str) -> Result<Option<TenantId>, TenantStoreError> {
        Ok(self.state()?.page_routes.get(page_id).cloned())
    }
}

/// The inbox in memory, with the port's contract: messages once per wamid, statuses forward
/// only, consent once per cause, leads once per leadgen id. Pages use the item's position as
/// the cursor.
#[derive(Debug, Default, Clone)]
pub struct MemoryInbox {
    state: Arc<Mutex<InboxState>>,
}

#[derive(Debug, Default)]
struct InboxState {
    contacts: Vec<(TenantId, ContactView)>,
    conversations: Vec<(TenantId, ConversationView)>,
    messages: Vec<(TenantId, MessageView)>,
    consent: Vec<(TenantId, ContactId, String, ConsentEventView)>,
    leads: Vec<(TenantId, LeadView)>,
    /// Send claims (until, epoch ms) and send times, by message.
    send_claims: HashMap<MessageId, i64>,
    sent_at: HashMap<MessageId, i64>,
    suggestions: Vec<(TenantId, SuggestionView)>,
}

impl SuggestionStore for MemoryInbox {
    async fn create_suggestion(
        &self,
        tenant: &TenantId,
        suggestion: &SuggestionView,
        _expires_at: ExpiresAt,
    ) -> Result<(), InboxError> {
        self.state()?.suggestions.push((tenant.clone(), suggestion.clone()));
        Ok(())
    }

    async fn suggestion(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        id: &SuggestionId,
    ) -> Result<Option<SuggestionView>, InboxError> {
        Ok(self
            .state()?
            .suggestions
            .iter()
            .find(|(t, s)| t == tenant && &s.conversation_id == conversation && &s.id == id)
            .map(|(_, s)| s.clone()))
    }

    async fn finish_suggestion(
        &self,
        tenant: &TenantId,
        suggestion: &SuggestionView,
        outcome: &SuggestionOutcome,
        at: Timestamp,
    ) -> Result<bool, InboxError> {
        let mut state = self.state()?;
        let Some((_, stored)) = state
            .suggestions
            .iter_mut()
            .find(|(t, s)| t == tenant && s.id == suggestion.id && s.status == SuggestionStatus::Pending)
        else {
            return Ok(false);
        };
        match outcome {
            SuggestionOutcome::Ready(result) => {
                stored.status = SuggestionStatus::Ready;
                stored.result.clone_from(result);
            }
            SuggestionOutcome::Refused(refusal) => {
                stored.status = SuggestionStatus::Refused;
                stored.reason = Some(refusal.code().to_owned());
            }
            SuggestionOutcome::Failed(why) => {
                stored.status = SuggestionStatus::Failed;
                stored.reason = Some(why.clone());
            }
        }
        stored.finished_at = Some(at.as_millis());
        Ok(true)
    }

    async fn suggestions(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
    ) -> Result<Vec<SuggestionView>, InboxError> {
        Ok(self
            .state()?
            .suggestions
            .iter()
            .filter(|(t, s)| t == tenant && &s.conversation_id == conversation)
            .map(|(_, s)| s.clone())
            .collect())
    }
}

/// The fake's blind index of a tenant: a fixed key per tenant (a real one is random, sealed by
/// KMS), so ids stay distinct across tenants as they are in the table.
#[must_use]
pub fn fake_index(tenant: &TenantId) -> crate::domain::BlindIndex {
    crate::domain::BlindIndex::new(&crate::kernel::digest::sha256(tenant.as_str().as_bytes()))
}

fn paginate<T: Clone>(all: Vec<T>, after: Option<&str>, limit: u16) -> Result<Page<T>, InboxError> {
    let start = match after {
        None => 0,
        Some(cursor) => cursor.parse::<usize>().map_err(|_| InboxError::InvalidCursor)?,
    };
    let end = (start + usize::from(limit.max(1))).min(all.len());
    let items = all.get(start..end).map(<[T]>::to_vec).unwrap_or_default();
    Ok(Page { items, next: (end < all.len()).then(|| end.to_string()) })
}

impl MemoryInbox {
    fn state(&self) -> Result<std::sync::MutexGuard<'_, InboxState>, InboxError> {
        self.state.lock().map_err(|_| InboxError::Unknown(anyhow::anyhow!("poisoned")))
    }

    fn contact(
        state: &mut InboxState,
        tenant: &TenantId,
        profile: &ContactProfile,
        at: Timestamp,
    ) -> Result<ContactId, InboxError> {
        let id = fake_index(tenant)
            .contact_id(profile.keys().first().ok_or(InboxError::NoContact)?)
            .map_err(anyhow::Error::from)?;
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

    fn conversation(
        state: &mut InboxState,
        tenant: &TenantId,
        contact: &ContactId,
        at: Timestamp,
    ) -> Result<ConversationId, InboxError> {
        if let Some((_, c)) =
            state.conversations.iter().find(|(t, c)| t == tenant && &c.contact_id == contact)
        {
            return Ok(c.id.clone());
        }
        let id = ConversationId::generate(at).map_err(anyhow::Error::from)?;
        state.conversations.push((
            tenant.clone(),
            ConversationView {
                id: id.clone(),
                contact_id: contact.clone(),
                state: "open".into(),
                started_at: at.as_millis(),
                last_message_at: at.as_millis(),
                assignee: None,
                queue: None,
                updated_at: at.as_millis(),
            },
        ));
        Ok(id)
    }
}

impl InboxStore for MemoryInbox {
    async fn store_inbound_message(
        &self,
        tenant: &TenantId,
        message: &NewInboundMessage<'_>,
        _now: Timestamp,
    ) -> Result<Stored, InboxError> {
        let mut state = self.state()?;
        if state
            .messages
            .iter()
            .any(|(t, m)| t == tenant && m.wamid.as_deref() == Some(message.wamid.as_str()))
        {
            return Ok(Stored::Duplicate);
        }
        let contact = Self::contact(&mut state, tenant, message.from, message.sent_at)?;
        if let Some((_, view)) = state.contacts.iter_mut().find(|(t, c)| t == tenant && c.id == contact) {
            // The 24 h customer-service window, as the DynamoDB inbox keeps it.
            let at = message.sent_at.as_millis();
            if view.last_inbound_at.is_none_or(|last| last < at) {
                view.last_inbound_at = Some(at);
                view.service_window_until = Some(at + 24 * 3_600_000);
            }
        }
        let conversation = Self::conversation(&mut state, tenant, &contact, message.sent_at)?;
        state.messages.push((
            tenant.clone(),
            MessageView {
                id: MessageId::generate(message.sent_at).map_err(anyhow::Error::from)?,
                conversation_id: conversation,
                wamid: Some(message.wamid.as_str().to_owned()),
                direction: "inbound".into(),
                kind: message.kind.to_owned(),
                timestamp: message.sent_at.as_millis(),
                status: MessageStatus::Received,
                statuses: std::collections::BTreeMap::new(),
                error: None,
                payload: serde_json::from_str(message.raw).ok(),
                content_sanitized_at: None,
            },
        ));
        Ok(Stored::Created)
    }

    async fn store_outbound(
        &self,
        tenant: &TenantId,
        message: &NewOutboundMessage<'_>,
        _now: Timestamp,
    ) -> Result<MessageView, InboxError> {
        let mut state = self.state()?;
        if let Some((_, existing)) = state.messages.iter().find(|(t, m)| t == tenant && &m.id == message.id) {
            return Ok(existing.clone());
        }
        if !state.contacts.iter().any(|(t, c)| t == tenant && &c.id == message.contact) {
            return Err(InboxError::NoContact);
        }
        let conversation = Self::conversation(&mut state, tenant, message.contact, message.at)?;
        let view = MessageView {
            id: message.id.clone(),
            conversation_id: conversation,
            wamid: None,
            direction: "outbound".into(),
            kind: message.kind.to_owned(),
            timestamp: message.at.as_millis(),
            status: MessageStatus::Queued,
            statuses: std::collections::BTreeMap::new(),
            error: None,
            payload: serde_json::from_str(message.body).ok(),
            content_sanitized_at: None,
        };
        state.messages.push((tenant.clone(), view.clone()));
        Ok(view)
    }

    async fn outbound(&self, tenant: &TenantId, id: &MessageId) -> Result<Option<MessageView>, InboxError> {
        Ok(self.state()?.messages.iter().find(|(t, m)| t == tenant && &m.id == id).map(|(_, m)| m.clone()))
    }

    async fn claim_outbound(
        &self,
        tenant: &TenantId,
        id: &MessageId,
        until: Timestamp,
        now: Timestamp,
    ) -> Result<OutboundClaim, InboxError> {
        let mut state = self.state()?;
        let Some((_, message)) = state.messages.iter().find(|(t, m)| t == tenant && &m.id == id) else {
            return Ok(OutboundClaim::Missing);
        };
        if message.status != MessageStatus::Queued {
            return Ok(OutboundClaim::Handled);
        }
        match state.send_claims.get(id) {
            Some(&held) if held >= now.as_millis() => Ok(OutboundClaim::Held(Timestamp::from_millis(held))),
            _ => {
                state.send_claims.insert(id.clone(), until.as_millis());
                Ok(OutboundClaim::Acquired)
            }
        }
    }

    async fn release_outbound(
        &self,
        _tenant: &TenantId,
        id: &MessageId,
        until: Timestamp,
    ) -> Result<(), InboxError> {
        let mut state = self.state()?;
        if state.send_claims.get(id) == Some(&until.as_millis()) {
            state.send_claims.remove(id);
        }
        Ok(())
    }

    async fn previous_send(
        &self,
        tenant: &TenantId,
        id: &MessageId,
    ) -> Result<Option<Timestamp>, InboxError> {
        let state = self.state()?;
        let Some((_, message)) = state.messages.iter().find(|(t, m)| t == tenant && &m.id == id) else {
            return Ok(None);
        };
        Ok(state
            .messages
            .iter()
            .filter(|(t, m)| {
                t == tenant
                    && m.conversation_id == message.conversation_id
                    && m.id != *id
                    && m.timestamp <= message.timestamp
            })
            .filter_map(|(_, m)| state.sent_at.get(&m.id).copied())
            .max()
            .map(Timestamp::from_millis))
    }

    async fn mark_sent(
        &self,
        tenant: &TenantId,
        id: &MessageId,
        wamid: Option<&Wamid>,
        at: Timestamp,
    ) -> Result<(), InboxError> {
        let mut state = self.state()?;
        state.sent_at.insert(id.clone(), at.as_millis());
        if let Some((_, message)) = state.messages.iter_mut().find(|(t, m)| t == tenant && &m.id == id) {
            message.wamid = wamid.map(|w| w.as_str().to_owned()).or(message.wamid.take());
            if message.status.rank() < MessageStatus::Sent.rank() {
                message.status = MessageStatus::Sent;
                message.statuses.insert("sent".into(), at.as_millis());
            }
        }
        Ok(())
    }

    async fn mark_unsent(
        &self,
        tenant: &TenantId,
        id: &MessageId,
        how: Unsent,
        error: &MetaError,
        _at: Timestamp,
    ) -> Result<(), InboxError> {
        let mut state = self.state()?;
        if let Some((_, message)) = state.messages.iter_mut().find(|(t, m)| t == tenant && &m.id == id) {
            let status = match how {
                Unsent::Blocked => MessageStatus::Blocked,
                Unsent::Failed => MessageStatus::Failed,
            };
            if message.status.rank() < status.rank() {
                message.status = status;
                message.error = Some(error.clone());
            }
        }
        Ok(())
    }

    async fn apply_status(
        &self,
        tenant: &TenantId,
        change: &StatusChange<'_>,
        _now: Timestamp,
    ) -> Result<StatusOutcome, InboxError> {
        let mut state = self.state()?;
        let by_callback = change.callback.and_then(crate::domain::outbound::message_of_callback);
        let Some((_, message)) = state.messages.iter_mut().find(|(t, m)| {
            t == tenant
                && (m.wamid.as_deref() == Some(change.wamid.as_str()) || by_callback.as_ref() == Some(&m.id))
        }) else {
            return Ok(if by_callback.is_some() { StatusOutcome::Gone } else { StatusOutcome::Stale });
        };
        message.statuses.entry(change.meta_status.to_owned()).or_insert(change.at.as_millis());
        if change.status.rank() <= message.status.rank() {
            return Ok(StatusOutcome::Stale);
        }
        message.status = change.status;
        message.error = change.error.cloned();
        Ok(StatusOutcome::Applied)
    }

    async fn record_consent(
        &self,
        tenant: &TenantId,
        change: &ConsentChange<'_>,
        _now: Timestamp,
    ) -> Result<Stored, InboxError> {
        let mut state = self.state()?;
        let contact = Self::contact(&mut state, tenant, change.contact, change.at)?;
        if state.consent.iter().any(|(t, c, cause, _)| t == tenant && *c == contact && cause == change.cause)
        {
            return Ok(Stored::Duplicate);
        }
        let at = change.at.as_millis();
        let later_restriction_event = state
            .consent
            .iter()
            .any(|(t, c, _, e)| t == tenant && *c == contact && e.kind.is_restriction() && e.at > at);
        let event = ConsentEventView { kind: change.kind, source: change.source, at };
        state.consent.push((tenant.clone(), contact.clone(), change.cause.to_owned(), event));
        if let Some((_, view)) = state.contacts.iter_mut().find(|(t, c)| t == tenant && c.id == contact) {
            if change.kind.is_restriction() {
                if !later_restriction_event {
                    view.restricted_at =
                        (change.kind == crate::domain::inbox::ConsentKind::Restrict).then_some(at);
                }
            } else if view.consent.as_ref().is_none_or(|c| c.at <= change.at.as_millis()) {
                view.consent = Some(ConsentState {
                    state: change.kind,
                    source: change.source,
                    at: change.at.as_millis(),
                });
            }
        }
        Ok(Stored::Created)
    }

    async fn lead_exists(&self, tenant: &TenantId, leadgen_id: &str) -> Result<bool, InboxError> {
        Ok(self.state()?.leads.iter().any(|(t, l)| t == tenant && l.id == leadgen_id))
    }

    async fn store_lead(
        &self,
        tenant: &TenantId,
        lead: &NewLead<'_>,
        now: Timestamp,
    ) -> Result<Stored, InboxError> {
        let mut state = self.state()?;
        if state.leads.iter().any(|(t, l)| t == tenant && l.id == lead.leadgen_id) {
            return Ok(Stored::Duplicate);
        }
        let contact_id = Self::contact(&mut state, tenant, lead.contact, now)?;
        state.leads.push((
            tenant.clone(),
            LeadView {
                id: lead.leadgen_id.to_owned(),
                page_id: Some(lead.page_id.to_owned()),
                contact_id,
                lead: serde_json::from_str(lead.lead_json).unwrap_or_default(),
                source: serde_json::from_str(lead.change_json).unwrap_or_default(),
                origin: LeadOrigin::default(),
                stage: LeadStage::New,
                owner: None,
                received_at: now.as_millis(),
                updated_at: now.as_millis(),
            },
        ));
        Ok(Stored::Created)
    }

    async fn contact_by_phone(
        &self,
        tenant: &TenantId,
        phone: &PhoneNumber,
    ) -> Result<Option<ContactView>, InboxError> {
        let id =
            fake_index(tenant).contact_id(&ContactKey::Phone(phone.clone())).map_err(anyhow::Error::from)?;
        Ok(self.state()?.contacts.iter().find(|(t, c)| t == tenant && c.id == id).map(|(_, c)| c.clone()))
    }

    async fn contacts(
        &self,
        tenant: &TenantId,
        filter: &ContactFilter,
        after: Option<&str>,
        limit: u16,
    ) -> Result<Page<ContactView>, InboxError> {
        let all = self
            .state()?
            .contacts
            .iter()
            .filter(|(t, c)| t == tenant && filter.tag.as_ref().is_none_or(|tag| c.tags.contains(tag)))
            .map(|(_, c)| c.clone())
            .collect();
        paginate(all, after, limit)
    }

    async fn conversations(
        &self,
        tenant: &TenantId,
        contact: Option<&ContactId>,
        filter: &ConversationFilter,
        after: Option<&str>,
        limit: u16,
    ) -> Result<Page<ConversationView>, InboxError> {
        let all = self
            .state()?
            .conversations
            .iter()
            .filter(|(t, c)| t == tenant && contact.is_none_or(|id| &c.contact_id == id) && filter.accepts(c))
            .map(|(_, c)| c.clone())
            .collect();
        paginate(all, after, limit)
    }

    async fn contact_by_email(
        &self,
        tenant: &TenantId,
        email: &str,
    ) -> Result<Option<ContactView>, InboxError> {
        Ok(self
            .state()?
            .contacts
            .iter()
            .find(|(t, c)| t == tenant && c.email.as_deref() == Some(email))
            .map(|(_, c)| c.clone()))
    }

    async fn contact(&self, tenant: &TenantId, id: &ContactId) -> Result<Option<ContactView>, InboxError> {
        Ok(self.state()?.contacts.iter().find(|(t, c)| t == tenant && &c.id == id).map(|(_, c)| c.clone()))
    }

    async fn create_contact(
        &self,
        tenant: &TenantId,
        profile: &ContactProfile,
        at: Timestamp,
    ) -> Result<(ContactView, Stored), InboxError> {
        let mut state = self.state()?;
        let before = state.contacts.len();
        let id = Self::contact(&mut state, tenant, profile, at)?;
        let stored = if state.contacts.len() > before { Stored::Created } else { Stored::Duplicate };
        let view = state.contacts.iter().find(|(t, c)| t == tenant && c.id == id).map(|(_, c)| c.clone());
        Ok((view.ok_or(InboxError::NoContact)?, stored))
    }

    async fn update_contact(
        &self,
        tenant: &TenantId,
        id: &ContactId,
        patch: &ContactPatch,
        at: Timestamp,
    ) -> Result<Option<ContactView>, InboxError> {
        let mut state = self.state()?;
        if let Some(Some(email)) = &patch.email {
            if state
                .contacts
                .iter()
                .any(|(t, c)| t == tenant && &c.id != id && c.email.as_ref() == Some(email))
            {
                return Err(InboxError::EmailTaken);
            }
        }
        let Some((_, contact)) = state.contacts.iter_mut().find(|(t, c)| t == tenant && &c.id == id) else {
            return Ok(None);
        };
        if let Some(name) = &patch.name {
            contact.name.clone_from(name);
        }
        if let Some(email) = &patch.email {
            contact.email.clone_from(email);
        }
        if let Some(tags) = &patch.tags {
            contact.tags.clone_from(tags);
        }
        if let Some(attributes) = &patch.attributes {
            contact.attributes.clone_from(attributes);
        }
        contact.updated_at = Some(at.as_millis());
        Ok(Some(contact.clone()))
    }

    async fn contact_count(&self, tenant: &TenantId) -> Result<u64, InboxError> {
        Ok(self.state()?.contacts.iter().filter(|(t, _)| t == tenant).count() as u64)
    }

    async fn update_conversation(
        &self,
        tenant: &TenantId,
        id: &ConversationId,
        patch: &ConversationPatch,
        at: Timestamp,
    ) -> Result<Option<ConversationView>, InboxError> {
        let mut state = self.state()?;
        let Some((_, conversation)) =
            state.conversations.iter_mut().find(|(t, c)| t == tenant && &c.id == id)
        else {
            return Ok(None);
        };
        if let Some(state) = &patch.state {
            conversation.state.clone_from(state);
        }
        if let Some(assignee) = &patch.assignee {
            conversation.assignee.clone_from(assignee);
        }
        if let Some(queue) = &patch.queue {
            conversation.queue.clone_from(queue);
        }
        conversation.updated_at = at.as_millis();
        Ok(Some(conversation.clone()))
    }

    async fn create_lead(&self, tenant: &TenantId, lead: &NewManualLead<'_>) -> Result<LeadView, InboxError> {
        let mut state = self.state()?;
        let contact_id = Self::contact(&mut state, tenant, lead.contact, lead.at)?;
        let view = LeadView {
            id: lead.id.to_owned(),
            page_id: None,
            contact_id,
            lead: serde_json::json!({"name": lead.contact.name, "email": lead.contact.email}),
            source: serde_json::json!({}),
            origin: lead.origin.clone(),
            stage: lead.stage,
            owner: lead.owner.cloned(),
            received_at: lead.at.as_millis(),
            updated_at: lead.at.as_millis(),
        };
        state.leads.push((tenant.clone(), view.clone()));
        Ok(view)
    }

    async fn lead(&self, tenant: &TenantId, id: &str) -> Result<Option<LeadView>, InboxError> {
        Ok(self.state()?.leads.iter().find(|(t, l)| t == tenant && l.id == id).map(|(_, l)| l.clone()))
    }

    async fn update_lead(
        &self,
        tenant: &TenantId,
        id: &str,
        patch: &LeadPatch,
        at: Timestamp,
    ) -> Result<Option<LeadView>, InboxError> {
        let mut state = self.state()?;
        let Some((_, lead)) = state.leads.iter_mut().find(|(t, l)| t == tenant && l.id == id) else {
            return Ok(None);
        };
        if let Some(stage) = patch.stage {
            lead.stage = stage;
        }
        if let Some(owner) = &patch.owner {
            lead.owner.clone_from(owner);
        }
        if let Some(origin) = &patch.origin {
            lead.origin = origin.clone();
        }
        lead.updated_at = at.as_millis();
        Ok(Some(lead.clone()))
    }

    async fn conversation(
        &self,
        tenant: &TenantId,
        id: &ConversationId,
    ) -> Result<Option<ConversationView>, InboxError> {
        Ok(self
            .state()?
            .conversations
            .iter()
            .find(|(t, c)| t == tenant && &c.id == id)
            .map(|(_, c)| c.clone()))
    }

    async fn messages(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        after: Option<&str>,
        limit: u16,
    ) -> Result<Page<MessageView>, InboxError> {
        let mut all: Vec<MessageView> = self
            .state()?
            .messages
            .iter()
            .filter(|(t, m)| t == tenant && &m.conversation_id == conversation)
            .map(|(_, m)| m.clone())
            .collect();
        all.sort_by_key(|m| m.timestamp);
        paginate(all, after, limit)
    }

    async fn latest_messages(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        limit: u16,
    ) -> Result<Vec<MessageView>, InboxError> {
        let all = self.messages(tenant, conversation, None, u16::MAX).await?.items;
        Ok(all[all.len().saturating_sub(usize::from(limit))..].to_vec())
    }

    async fn consent_ledger(
        &self,
        tenant: &TenantId,
        contact: &ContactId,
    ) -> Result<Vec<ConsentEventView>, InboxError> {
        let mut events: Vec<ConsentEventView> = self
            .state()?
            .consent
            .iter()
            .filter(|(t, c, _, _)| t == tenant && c == contact)
            .map(|(_, _, _, e)| e.clone())
            .collect();
        events.sort_by_key(|e| e.at);
        Ok(events)
    }

    async fn find_contacts(
        &self,
        tenant: &TenantId,
        key: &ContactKey,
    ) -> Result<Vec<ContactView>, InboxError> {
        let id = fake_index(tenant).contact_id(key).map_err(anyhow::Error::from)?;
        Ok(self
            .state()?
            .contacts
            .iter()
            .filter(|(t, c)| t == tenant && c.id == id)
            .map(|(_, c)| c.clone())
            .collect())
    }

    async fn contact_id_of(&self, tenant: &TenantId, key: &ContactKey) -> Result<ContactId, InboxError> {
        fake_index(tenant).contact_id(key).map_err(|e| anyhow::Error::from(e).into())
    }

    async fn delete_conversation(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        _budget: u32,
    ) -> Result<Expiry, InboxError> {
        let mut state = self.state()?;
        let mut counts = ErasureCounts::default();
        let before = state.messages.len();
        state.messages.retain(|(t, m)| !(t == tenant && &m.conversation_id == conversation));
        counts.messages = (before - state.messages.len()) as u64;
        let before = state.conversations.len();
        state.conversations.retain(|(t, c)| !(t == tenant && &c.id == conversation));
        counts.conversations = (before - state.conversations.len()) as u64;
        for (t, contact) in &mut state.contacts {
            if t == tenant && contact.conversation_id.as_ref() == Some(conversation) {
                contact.conversation_id = None;
            }
        }
        Ok(Expiry::Deleted(counts))
    }

    async fn delete_lead(&self, tenant: &TenantId, id: &str) -> Result<bool, InboxError> {
        let mut state = self.state()?;
        let before = state.leads.len();
        state.leads.retain(|(t, l)| !(t == tenant && l.id == id));
        Ok(state.leads.len() < before)
    }

    /// Conversations in memory do not expire: the fake keeps no retention clock.
    async fn expire_conversation(
        &self,
        _tenant: &TenantId,
        _conversation: &ConversationId,
        _now: Timestamp,
        _budget: u32,
    ) -> Result<Expiry, InboxError> {
        Ok(Expiry::NotDue)
    }

    async fn sanitize_conversation(
        &self,
        _tenant: &TenantId,
        _conversation: &ConversationId,
        _content_age: std::time::Duration,
        _now: Timestamp,
        _budget: u32,
    ) -> Result<(u64, bool), InboxError> {
        Ok((0, false))
    }

    async fn restamp_conversations(
        &self,
        _tenant: &TenantId,
        _settings: RetentionSettings,
        _after: Option<&str>,
        _limit: u16,
        _earliest_day: i64,
    ) -> Result<Option<String>, InboxError> {
        Ok(None)
    }

    async fn erase_contact(
        &self,
        tenant: &TenantId,
        contact: &ContactId,
        _budget: u32,
    ) -> Result<ErasureCounts, InboxError> {
        let mut state = self.state()?;
        let mut counts = ErasureCounts::default();
        let conversations: Vec<ConversationId> = state
            .conversations
            .iter()
            .filter(|(t, c)| t == tenant && &c.contact_id == contact)
            .map(|(_, c)| c.id.clone())
            .collect();
        let before = state.messages.len();
        state.messages.retain(|(t, m)| !(t == tenant && conversations.contains(&m.conversation_id)));
        counts.messages = (before - state.messages.len()) as u64;
        counts.message_id_records = counts.messages;
        let before = state.conversations.len();
        state.conversations.retain(|(t, c)| !(t == tenant && &c.contact_id == contact));
        counts.conversations = (before - state.conversations.len()) as u64;
        let before = state.leads.len();
        state.leads.retain(|(t, l)| !(t == tenant && &l.contact_id == contact));
        counts.leads = (before - state.leads.len()) as u64;
        let before = state.consent.len();
        state.consent.retain(|(t, c, _, _)| !(t == tenant && c == contact));
        counts.consent_events = (before - state.consent.len()) as u64;
        let before = state.contacts.len();
        state.contacts.retain(|(t, c)| !(t == tenant && &c.id == contact));
        counts.contacts = (before - state.contacts.len()) as u64;
        Ok(counts)
    }

    async fn leads(
        &self,
        tenant: &TenantId,
        filter: &LeadFilter,
        after: Option<&str>,
        limit: u16,
    ) -> Result<Page<LeadView>, InboxError> {
        let all = self
            .state()?
            .leads
            .iter()
            .filter(|(t, l)| t == tenant && filter.accepts(l))
            .map(|(_, l)| l.clone())
            .collect();
        paginate(all, after, limit)
    }
}

/// Erasure requests in memory.
#[derive(Debug, Default, Clone)]
pub struct MemoryPrivacy {
    requests: Arc<Mutex<Vec<(TenantId, ErasureRequest)>>>,
    /// The purge queue: tenant → due, epoch ms.
    purges: Arc<Mutex<HashMap<TenantId, i64>>>,
    /// The Meta purge queue.
    meta_purges: Arc<Mutex<Vec<MetaPurge>>>,
}

impl MemoryPrivacy {
    fn purges(&self) -> Result<std::sync::MutexGuard<'_, HashMap<TenantId, i64>>, PrivacyError> {
        self.purges.lock().map_err(|_| PrivacyError::Unknown(anyhow::anyhow!("poisoned")))
    }

    fn meta_purges(&self) -> Result<std::sync::MutexGuard<'_, Vec<MetaPurge>>, PrivacyError> {
        self.meta_purges.lock().map_err(|_| PrivacyError::Unknown(anyhow::anyhow!("poisoned")))
    }

    fn requests(&self) -> Result<std::sync::MutexGuard<'_, Vec<(TenantId, ErasureRequest)>>, PrivacyError> {
        self.requests.lock().map_err(|_| PrivacyError::Unknown(anyhow::anyhow!("poisoned")))
    }
}

impl PrivacyStore for MemoryPrivacy {
    async fn queue_purge(&self, tenant: &TenantId, due: Timestamp) -> Result<(), PrivacyError> {
        self.purges()?.insert(tenant.clone(), due.as_millis());
        Ok(())
    }

    async fn cancel_purge(&self, tenant: &TenantId) -> Result<(), PrivacyError> {
        self.purges()?.remove(tenant);
        Ok(())
    }

    async fn queue_meta_purge(&self, purge: &MetaPurge) -> Result<(), PrivacyError> {
        self.meta_purges()?.push(purge.clone());
        Ok(())
    }

    async fn due_meta_purges(&self, limit: u16) -> Result<Vec<MetaPurge>, PrivacyError> {
        Ok(self.meta_purges()?.iter().take(usize::from(limit)).cloned().collect())
    }

    async fn finish_meta_purge(&self, purge: &MetaPurge) -> Result<(), PrivacyError> {
        self.meta_purges()?.retain(|p| p != purge);
        Ok(())
    }

    async fn due_purges(&self, now: Timestamp, limit: u16) -> Result<Vec<TenantId>, PrivacyError> {
        let mut due: Vec<TenantId> =
            self.purges()?.iter().filter(|(_, at)| **at <= now.as_millis()).map(|(t, _)| t.clone()).collect();
        due.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        due.truncate(usize::from(limit));
        Ok(due)
    }

    /// This fake holds only erasure requests: those of the tenant go.
    async fn purge_tenant(&self, tenant: &TenantId, _budget: u16) -> Result<u64, PrivacyError> {
        let mut requests = self.requests()?;
        let before = requests.len();
        requests.retain(|(t, _)| t != tenant);
        Ok((before - requests.len()) as u64)
    }

    async fn request_erasure(&self, tenant: &TenantId, request: &ErasureRequest) -> Result<(), PrivacyError> {
        self.requests()?.push((tenant.clone(), request.clone()));
        Ok(())
    }

    async fn erasure(
        &self,
        tenant: &TenantId,
        id: &ErasureId,
    ) -> Result<Option<ErasureRequest>, PrivacyError> {
        Ok(self.requests()?.iter().find(|(t, r)| t == tenant && &r.id == id).map(|(_, r)| r.clone()))
    }

    async fn due_erasures(&self, limit: u16) -> Result<Vec<(TenantId, ErasureId)>, PrivacyError> {
        Ok(self
            .requests()?
            .iter()
            .filter(|(_, r)| r.status == ErasureStatus::Pending)
            .take(usize::from(limit))
            .map(|(t, r)| (t.clone(), r.id.clone()))
            .collect())
    }

    async fn record_progress(
        &self,
        tenant: &TenantId,
        id: &ErasureId,
        progress: &ErasureCounts,
    ) -> Result<(), PrivacyError> {
        if let Some((_, request)) = self.requests()?.iter_mut().find(|(t, r)| t == tenant && &r.id == id) {
            request.progress = progress.clone();
        }
        Ok(())
    }

    async fn day_cursor(&self, _queue: DayQueue) -> Result<Option<i64>, PrivacyError> {
        Ok(None)
    }

    async fn set_day_cursor(&self, _queue: DayQueue, _day: i64) -> Result<(), PrivacyError> {
        Ok(())
    }

    /// The in-memory inbox keeps no retention clock, so nothing is ever queued.
    async fn due_on(
        &self,
        _queue: DayQueue,
        _day: i64,
        _limit: u16,
    ) -> Result<Vec<(TenantId, ConversationId)>, PrivacyError> {
        Ok(Vec::new())
    }

    async fn drop_due(
        &self,
        _queue: DayQueue,
        _day: i64,
        _tenant: &TenantId,
        _conversation: &ConversationId,
    ) -> Result<(), PrivacyError> {
        Ok(())
    }

    async fn due_restamps(&self, _limit: u16) -> Result<Vec<(TenantId, Option<String>)>, PrivacyError> {
        Ok(Vec::new())
    }

    async fn restamp_progress(&self, _tenant: &TenantId, _next: Option<&str>) -> Result<(), PrivacyError> {
        Ok(())
    }

    async fn complete_erasure(
        &self,
        tenant: &TenantId,
        receipt: &ErasureReceipt,
    ) -> Result<(), PrivacyError> {
        if let Some((_, request)) =
            self.requests()?.iter_mut().find(|(t, r)| t == tenant && r.id == receipt.request_id)
        {
            request.status = ErasureStatus::Done;
            request.contacts.clear();
            request.receipt = Some(receipt.clone());
        }
        Ok(())
    }
}

/// An in-memory [`DocTable`](crate::adapters::documents::DocTable): the document repositories
/// (`DocDirectory`, `DocAuditLog`, `DocRecords`, `DocRateLimiter`) run on it unchanged.
#[derive(Debug, Default, Clone)]
pub struct MemoryDocs {
    items: Arc<Mutex<std::collections::BTreeMap<(String, String), MemoryDoc>>>,
}

#[derive(Debug, Clone)]
struct MemoryDoc {
    body: String,
    version: u64,
    count: u64,
    expires_at: Option<ExpiresAt>,
}

mod docs {
    use super::{MemoryDoc, MemoryDocs};
    use crate::adapters::documents::{DocTable, DocWrite, DocWriteError, Precondition, StoredDoc};
    use crate::adapters::dynamo::keys::Key;
    use crate::domain::{ExpiresAt, Timestamp};

    fn live(doc: &MemoryDoc, now: Timestamp) -> bool {
        doc.expires_at.is_none_or(|e| !e.is_expired(now))
    }

    impl MemoryDocs {
        fn lock(
            &self,
        ) -> anyhow::Result<std::sync::MutexGuard<'_, std::collections::BTreeMap<(String, String), MemoryDoc>>>
        {
            self.items.lock().map_err(|_| anyhow::anyhow!("poisoned"))
        }
    }

    impl DocTable for MemoryDocs {
        async fn get_doc(&self, key: &Key, now: Timestamp) -> anyhow::Result<Option<StoredDoc>> {
            Ok(self
                .lock()?
                .get(&(key.pk.clone(), key.sk.clone()))
                .filter(|d| live(d, now))
                .map(|d| StoredDoc { sk: key.sk.clone(), body: d.body.clone(), version: d.version }))
        }

        async fn query_docs(
            &self,
            pk: &str,
            prefix: &str,
            after: Option<&str>,
            (limit, forward): (u16, bool),
            now: Timestamp,
        ) -> anyhow::Result<(Vec<StoredDoc>, Option<String>)> {
            let items = self.lock()?;
            let mut matching: Vec<StoredDoc> = items
                .iter()
                .filter(|((p, sk), doc)| p == pk && sk.starts_with(prefix) && live(doc, now))
                .filter(|((_, sk), _)| {
                    after.is_none_or(|a| if forward { sk.as_str() > a } else { sk.as_str() < a })
                })
                .map(|((_, sk), d)| StoredDoc { sk: sk.clone(), body: d.body.clone(), version: d.version })
                .collect();
            if !forward {
                matching.reverse();
            }
            let limit = usize::from(limit.max(1));
            let next = (matching.len() > limit).then(|| matching[limit - 1].sk.clone());
            matching.truncate(limit);
            Ok((matching, next))
        }

        async fn write_docs(&self, writes: Vec<DocWrite>, now: Timestamp) -> Result<(), DocWriteError> {
            let mut items = self.lock()?;
            for (index, write) in writes.iter().enumerate() {
                let (key, precondition) = match write {
                    DocWrite::Put { key, precondition, .. } | DocWrite::Delete { key, precondition } => {
                        (key, precondition)
                    }
                };
                let current = items.get(&(key.pk.clone(), key.sk.clone())).filter(|d| live(d, now));
                let holds = match precondition {
                    Precondition::None => true,
                    Precondition::Absent => current.is_none(),
                    Precondition::Version(v) => current.is_some_and(|d| d.version == *v),
                };
                if !holds {
                    return Err(DocWriteError::Conflict { index });
                }
            }
            for write in writes {
                match write {
                    DocWrite::Put { key, body, expires_at, precondition, .. } => {
                        let version = match precondition {
                            Precondition::Version(v) => v + 1,
                            _ => 1,
                        };
                        items.insert((key.pk, key.sk), MemoryDoc { body, version, count: 0, expires_at });
                    }
                    DocWrite::Delete { key, .. } => {
                        items.remove(&(key.pk, key.sk));
                    }
                }
            }
            Ok(())
        }

        async fn increment(&self, key: &Key, expires_at: ExpiresAt) -> anyhow::Result<u64> {
            let mut items = self.lock()?;
            let doc = items.entry((key.pk.clone(), key.sk.clone())).or_insert(MemoryDoc {
                body: String::new(),
                version: 0,
                count: 0,
                expires_at: Some(expires_at),
            });
            doc.count += 1;
            Ok(doc.count)
        }

        async fn increment_within(
            &self,
            key: &Key,
            limit: u64,
            expires_at: ExpiresAt,
        ) -> anyhow::Result<Option<u64>> {
            let mut items = self.lock()?;
            let doc = items.entry((key.pk.clone(), key.sk.clone())).or_insert(MemoryDoc {
                body: String::new(),
                version: 0,
                count: 0,
                expires_at: Some(expires_at),
            });
            if doc.count >= limit {
                return Ok(None);
            }
            doc.count += 1;
            Ok(Some(doc.count))
        }

        async fn counters(
            &self,
            pk: &str,
            prefix: &str,
            now: Timestamp,
        ) -> anyhow::Result<Vec<(String, u64)>> {
            Ok(self
                .lock()?
                .iter()
                .filter(|((p, sk), doc)| p == pk && sk.starts_with(prefix) && live(doc, now))
                .map(|((_, sk), doc)| (sk.clone(), doc.count))
                .collect())
        }

        async fn counter(&self, key: &Key, now: Timestamp) -> anyhow::Result<u64> {
            Ok(self
                .lock()?
                .get(&(key.pk.clone(), key.sk.clone()))
                .filter(|d| live(d, now))
                .map_or(0, |d| d.count))
        }
    }
}

/// A scripted Cloud API: records what was sent, answers wamids, and fails with the Meta errors
/// a test queues.
#[derive(Debug, Default, Clone)]
pub struct MemoryCloud {
    state: Arc<Mutex<CloudState>>,
}

#[derive(Debug, Default)]
struct CloudState {
    sent: Vec<(String, serde_json::Value)>,
    faults: std::collections::VecDeque<MetaError>,
    templates: Vec<serde_json::Value>,
}

impl MemoryCloud {
    /// The bodies sent, with the phone number id they went from.
    #[must_use]
    pub fn sent(&self) -> Vec<(String, serde_json::Value)> {
        self.state.lock().map(|s| s.sent.clone()).unwrap_or_default()
    }

    /// The next send fails with this Meta error code.
    pub fn fail_next(&self, code: i64) {
        if let Ok(mut state) = self.state.lock() {
            state.faults.push_back(MetaError {
                code,
                title: Some(format!("error {code}")),
                message: None,
                error_data: None,
                href: None,
            });
        }
    }

    /// What `message_templates` answers.
    pub fn set_templates(&self, templates: Vec<serde_json::Value>) {
        if let Ok(mut state) = self.state.lock() {
            state.templates = templates;
        }
    }
}

impl crate::domain::ports::CloudApi for MemoryCloud {
    async fn send_message(
        &self,
        phone_number_id: &str,
        _token: &crate::domain::Secret,
        body: &serde_json::Value,
    ) -> Result<Option<String>, crate::domain::ports::CloudApiError> {
        let mut state = self.state.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
        if let Some(error) = state.faults.pop_front() {
            return Err(crate::domain::ports::CloudApiError::Meta { http_status: 400, error });
        }
        state.sent.push((phone_number_id.to_owned(), body.clone()));
        Ok((body.get("status").is_none()).then(|| format!("wamid.MEMORY{}", state.sent.len())))
    }

    async fn message_templates(
        &self,
        _waba_id: &str,
        _token: &crate::domain::Secret,
    ) -> Result<Vec<serde_json::Value>, crate::domain::ports::CloudApiError> {
        Ok(self.state.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.templates.clone())
    }
}

/// Idempotency records in memory (same decisions as the DynamoDB store: a claim holds until
/// its deadline, a completed key replays its answer, another payload is a mismatch).
#[derive(Debug, Default, Clone)]
pub struct MemoryIdempotency {
    records: Arc<Mutex<HashMap<IdemKey, IdemRecord>>>,
}

/// Tenant, scope, key.
type IdemKey = (TenantId, String, String);

#[derive(Debug, Clone)]
struct IdemRecord {
    payload_hash: String,
    until: Timestamp,
    response: Option<String>,
}

impl crate::domain::ports::IdempotencyStore for MemoryIdempotency {
    async fn claim(
        &self,
        request: &crate::domain::ports::IdempotencyRequest<'_>,
        now: Timestamp,
        in_progress_until: Timestamp,
    ) -> Result<crate::domain::ports::Claim, crate::domain::ports::IdempotencyError> {
        use crate::domain::ports::Claim;
        let mut records = self.records.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
        let key = (request.tenant_id.clone(), request.scope.to_owned(), request.key.to_owned());
        if let Some(existing) = records.get(&key) {
            if existing.payload_hash != request.payload_hash {
                return Ok(Claim::Mismatch);
            }
            if let Some(response) = &existing.response {
                return Ok(Claim::Completed { response: response.clone() });
            }
            if existing.until > now {
                return Ok(Claim::InProgress);
            }
        }
        records.insert(
            key,
            IdemRecord {
                payload_hash: request.payload_hash.to_owned(),
                until: in_progress_until,
                response: None,
            },
        );
        Ok(Claim::Acquired)
    }

    async fn complete(
        &self,
        request: &crate::domain::ports::IdempotencyRequest<'_>,
        response: &str,
        _now: Timestamp,
    ) -> Result<(), crate::domain::ports::IdempotencyError> {
        let mut records = self.records.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
        let key = (request.tenant_id.clone(), request.scope.to_owned(), request.key.to_owned());
        match records.get_mut(&key) {
            Some(record) => {
                record.response = Some(response.to_owned());
                Ok(())
            }
            None => Err(crate::domain::ports::IdempotencyError::ClaimLost),
        }
    }

    async fn release(
        &self,
        request: &crate::domain::ports::IdempotencyRequest<'_>,
    ) -> Result<(), crate::domain::ports::IdempotencyError> {
        let mut records = self.records.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
        let key = (request.tenant_id.clone(), request.scope.to_owned(), request.key.to_owned());
        // Only a claim in progress is released; a completed one keeps its answer.
        match records.get(&key) {
            Some(record) if record.response.is_none() => {
                records.remove(&key);
                Ok(())
            }
            _ => Err(crate::domain::ports::IdempotencyError::ClaimLost),
        }
    }
}

/// One call the fake AI provider received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AiCall {
    /// The provider's base URL.
    pub base_url: String,
    /// The model asked for.
    pub model: String,
    /// The key presented.
    pub api_key: String,
    /// The system instructions.
    pub instructions: String,
    /// The turns' text, in order.
    pub texts: Vec<String>,
}

/// An AI provider in memory: records every call, answers with set content or an error status.
#[derive(Debug, Clone, Default)]
pub struct MemoryAi {
    calls: Arc<Mutex<Vec<AiCall>>>,
    /// `Some(status)`: answer with that HTTP status (429 and 5xx: unavailable; others: refused).
    failing: Arc<Mutex<Option<u16>>>,
    /// The answer's content; two replies as JSON when unset.
    answer: Arc<Mutex<Option<String>>>,
}

/// What [`MemoryAi`] answers unless told otherwise.
pub const MEMORY_AI_REPLIES: [&str; 2] = ["Hello [name], how can I help?", "Thanks for writing!"];

impl MemoryAi {
    /// The calls so far.
    #[must_use]
    pub fn calls(&self) -> Vec<AiCall> {
        self.calls.lock().map(|c| c.clone()).unwrap_or_default()
    }

    /// Answers the following calls with `status` (`None`: succeed again).
    pub fn fail_with(&self, status: Option<u16>) {
        if let Ok(mut failing) = self.failing.lock() {
            *failing = status;
        }
    }

    /// Answers the following calls with `content`.
    pub fn answer_with(&self, content: &str) {
        if let Ok(mut answer) = self.answer.lock() {
            *answer = Some(content.to_owned());
        }
    }
}

impl crate::domain::ai::AiProvider for MemoryAi {
    async fn complete(
        &self,
        call: &crate::domain::ai::ProviderCall<'_>,
        instructions: &str,
        turns: &[crate::domain::ai::Turn],
    ) -> Result<String, crate::domain::ai::AiProviderError> {
        use crate::domain::ai::AiProviderError;
        let failing = *self.failing.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
        self.calls.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.push(AiCall {
            base_url: call.base_url.to_owned(),
            model: call.model.to_owned(),
            api_key: call.api_key.expose().to_owned(),
            instructions: instructions.to_owned(),
            texts: turns.iter().map(|t| t.text.as_str().to_owned()).collect(),
        });
        match failing {
            Some(status) if status == 429 || status >= 500 => {
                Err(AiProviderError::Unavailable(anyhow::anyhow!("HTTP {status}")))
            }
            Some(status) => Err(AiProviderError::Refused { status }),
            None => {
                let answer = self.answer.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.clone();
                Ok(answer.unwrap_or_else(|| serde_json::json!({"replies": MEMORY_AI_REPLIES}).to_string()))
            }
        }
    }
}
