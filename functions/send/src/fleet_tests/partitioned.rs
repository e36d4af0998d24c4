//! The in-memory inbox, partitioned by recipient as DynamoDB partitions a table by key: the
//! fake keeps one tenant's items in plain vectors behind one lock (fine for a test, a scan per
//! call), which at 10,000 messages costs milliseconds of CPU per send and would measure the
//! fake, not the fleet. Each partition is a [`MemoryInbox`] holding some recipients, their
//! conversations and their messages, so every call the send path makes is the fake's own logic
//! over a few dozen items.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, Mutex};

use shared::domain::inbox::{
    ConsentChange, ConsentEventView, ContactFilter, ContactKey, ContactPatch, ContactProfile, ContactStore,
    ContactView, InboxError, MessageView, NewOutboundMessage, OutboundClaim, OutboundStore, Stored, Unsent,
};
use shared::domain::whatsapp::MetaError;
use shared::domain::{ContactId, ConversationId, MessageId, PhoneNumber, TenantId, Timestamp, Wamid};
use shared::kernel::Page;
use shared::testing::MemoryInbox;

/// [`MemoryInbox`] partitions, and where each contact and message went; clones share them.
#[derive(Debug, Clone, Default)]
pub(super) struct Partitioned {
    parts: Vec<MemoryInbox>,
    contacts: Arc<Mutex<HashMap<ContactId, usize>>>,
    messages: Arc<Mutex<HashMap<MessageId, usize>>>,
}

impl Partitioned {
    /// `parts` partitions (at least one).
    pub(super) fn new(parts: usize) -> Self {
        Self { parts: (0..parts.max(1)).map(|_| MemoryInbox::default()).collect(), ..Self::default() }
    }

    /// The partition of a phone number.
    pub(super) fn of_phone(&self, phone: &PhoneNumber) -> &MemoryInbox {
        let mut hasher = DefaultHasher::new();
        phone.as_digits().hash(&mut hasher);
        let index = usize::try_from(hasher.finish() % self.parts.len() as u64).unwrap_or(0);
        &self.parts[index]
    }

    fn index_of(&self, part: &MemoryInbox) -> usize {
        self.parts.iter().position(|p| std::ptr::eq(p, part)).unwrap_or(0)
    }

    fn of_profile(&self, profile: &ContactProfile) -> &MemoryInbox {
        profile.phone.as_ref().map_or(&self.parts[0], |phone| self.of_phone(phone))
    }

    /// The partition of a contact seen before; any partition answers "absent" for another.
    fn of_contact(&self, id: &ContactId) -> &MemoryInbox {
        let index = self.contacts.lock().ok().and_then(|c| c.get(id).copied()).unwrap_or(0);
        &self.parts[index]
    }

    /// The partition of a message stored through this store; any answers "absent" for another.
    fn of_message(&self, id: &MessageId) -> &MemoryInbox {
        let index = self.messages.lock().ok().and_then(|m| m.get(id).copied()).unwrap_or(0);
        &self.parts[index]
    }

    fn seen(&self, part: &MemoryInbox, contact: Option<&ContactView>) {
        if let (Some(contact), Ok(mut contacts)) = (contact, self.contacts.lock()) {
            contacts.insert(contact.id.clone(), self.index_of(part));
        }
    }
}

impl ContactStore for Partitioned {
    async fn contact_by_phone(
        &self,
        tenant: &TenantId,
        phone: &PhoneNumber,
    ) -> Result<Option<ContactView>, InboxError> {
        let part = self.of_phone(phone);
        let found = part.contact_by_phone(tenant, phone).await?;
        self.seen(part, found.as_ref());
        Ok(found)
    }

    async fn contact_by_email(
        &self,
        tenant: &TenantId,
        email: &str,
    ) -> Result<Option<ContactView>, InboxError> {
        for part in &self.parts {
            if let Some(found) = part.contact_by_email(tenant, email).await? {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }

    async fn contact(&self, tenant: &TenantId, id: &ContactId) -> Result<Option<ContactView>, InboxError> {
        self.of_contact(id).contact(tenant, id).await
    }

    async fn create_contact(
        &self,
        tenant: &TenantId,
        profile: &ContactProfile,
        at: Timestamp,
    ) -> Result<(ContactView, Stored), InboxError> {
        let part = self.of_profile(profile);
        let (contact, stored) = part.create_contact(tenant, profile, at).await?;
        self.seen(part, Some(&contact));
        Ok((contact, stored))
    }

    async fn update_contact(
        &self,
        tenant: &TenantId,
        id: &ContactId,
        patch: &ContactPatch,
        at: Timestamp,
    ) -> Result<Option<ContactView>, InboxError> {
        self.of_contact(id).update_contact(tenant, id, patch, at).await
    }

    async fn contact_count(&self, tenant: &TenantId) -> Result<u64, InboxError> {
        let mut count = 0;
        for part in &self.parts {
            count += part.contact_count(tenant).await?;
        }
        Ok(count)
    }

    async fn contacts(
        &self,
        tenant: &TenantId,
        filter: &ContactFilter,
        after: Option<&str>,
        limit: u16,
    ) -> Result<Page<ContactView>, InboxError> {
        match self.parts.as_slice() {
            [only] => only.contacts(tenant, filter, after, limit).await,
            // One cursor over many partitions is the table's job; the send path never lists.
            _ => Err(InboxError::Unknown(anyhow::anyhow!(
                "listing contacts across partitions is not modelled"
            ))),
        }
    }

    async fn find_contacts(
        &self,
        tenant: &TenantId,
        key: &ContactKey,
    ) -> Result<Vec<ContactView>, InboxError> {
        let mut found = Vec::new();
        for part in &self.parts {
            found.extend(part.find_contacts(tenant, key).await?);
        }
        Ok(found)
    }

    async fn contact_id_of(
        &self,
        tenant: &TenantId,
        key: &ContactKey,
    ) -> Result<Option<ContactId>, InboxError> {
        for part in &self.parts {
            if let Some(id) = part.contact_id_of(tenant, key).await? {
                return Ok(Some(id));
            }
        }
        Ok(None)
    }

    async fn record_consent(
        &self,
        tenant: &TenantId,
        change: &ConsentChange<'_>,
        now: Timestamp,
    ) -> Result<Stored, InboxError> {
        self.of_profile(change.contact).record_consent(tenant, change, now).await
    }

    async fn consent_ledger(
        &self,
        tenant: &TenantId,
        contact: &ContactId,
    ) -> Result<Vec<ConsentEventView>, InboxError> {
        self.of_contact(contact).consent_ledger(tenant, contact).await
    }
}

impl OutboundStore for Partitioned {
    async fn store_outbound(
        &self,
        tenant: &TenantId,
        message: &NewOutboundMessage<'_>,
        now: Timestamp,
    ) -> Result<MessageView, InboxError> {
        let part = self.of_contact(message.contact);
        let stored = part.store_outbound(tenant, message, now).await?;
        if let Ok(mut messages) = self.messages.lock() {
            messages.insert(message.id.clone(), self.index_of(part));
        }
        Ok(stored)
    }

    async fn outbound(&self, tenant: &TenantId, id: &MessageId) -> Result<Option<MessageView>, InboxError> {
        self.of_message(id).outbound(tenant, id).await
    }

    async fn claim_outbound(
        &self,
        tenant: &TenantId,
        id: &MessageId,
        until: Timestamp,
        now: Timestamp,
    ) -> Result<OutboundClaim, InboxError> {
        self.of_message(id).claim_outbound(tenant, id, until, now).await
    }

    async fn release_outbound(
        &self,
        tenant: &TenantId,
        id: &MessageId,
        until: Timestamp,
    ) -> Result<(), InboxError> {
        self.of_message(id).release_outbound(tenant, id, until).await
    }

    async fn previous_send(
        &self,
        tenant: &TenantId,
        id: &MessageId,
    ) -> Result<Option<Timestamp>, InboxError> {
        self.of_message(id).previous_send(tenant, id).await
    }

    async fn mark_sent(
        &self,
        tenant: &TenantId,
        id: &MessageId,
        wamid: Option<&Wamid>,
        at: Timestamp,
    ) -> Result<(), InboxError> {
        self.of_message(id).mark_sent(tenant, id, wamid, at).await
    }

    async fn mark_unknown(
        &self,
        tenant: &TenantId,
        id: &MessageId,
        at: Timestamp,
    ) -> Result<bool, InboxError> {
        self.of_message(id).mark_unknown(tenant, id, at).await
    }

    async fn fail_unknown(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        unknown_before: Timestamp,
        error: &MetaError,
        at: Timestamp,
    ) -> Result<u64, InboxError> {
        let mut failed = 0;
        for part in &self.parts {
            failed += part.fail_unknown(tenant, conversation, unknown_before, error, at).await?;
        }
        Ok(failed)
    }

    async fn mark_unsent(
        &self,
        tenant: &TenantId,
        id: &MessageId,
        how: Unsent,
        error: &MetaError,
        at: Timestamp,
    ) -> Result<(), InboxError> {
        self.of_message(id).mark_unsent(tenant, id, how, error, at).await
    }
}
