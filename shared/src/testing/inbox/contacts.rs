//! [`ContactStore`] in memory.

use super::*;

impl ContactStore for MemoryInbox {
    async fn record_consent(
        &self,
        tenant: &TenantId,
        change: &ConsentChange<'_>,
        _now: Timestamp,
    ) -> Result<Stored, InboxError> {
        let mut state = self.state()?;
        let contact = Self::contact(
            &mut state,
            tenant,
            (change.contact, ContactOrigin::of_consent(change.source)),
            change.at,
        )?;
        let current = state
            .contacts
            .iter()
            .find(|(t, c)| t == tenant && c.id == contact)
            .and_then(|(_, c)| c.consent.clone());
        let refused =
            crate::domain::inbox::consent_change_refused(current.as_ref(), change.kind, change.source);
        let duplicate = state
            .consent
            .iter()
            .any(|(t, c, cause, _)| t == tenant && *c == contact && cause == change.cause);
        if let Some(refused) = refused {
            if !duplicate {
                let event = ConsentEventView {
                    kind: change.kind,
                    source: change.source,
                    at: change.at.as_millis(),
                    refused: Some(refused),
                };
                state.consent.push((tenant.clone(), contact, change.cause.to_owned(), event));
            }
            return Err(InboxError::OptedOutByPerson);
        }
        if duplicate {
            return Ok(Stored::Duplicate);
        }
        let at = change.at.as_millis();
        let later_restriction_event = state
            .consent
            .iter()
            .any(|(t, c, _, e)| t == tenant && *c == contact && e.kind.is_restriction() && e.at > at);
        let event = ConsentEventView { kind: change.kind, source: change.source, at, refused: None };
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

    async fn contact_by_phone(
        &self,
        tenant: &TenantId,
        phone: &PhoneNumber,
    ) -> Result<Option<ContactView>, InboxError> {
        let state = self.state()?;
        let Some(id) = Self::alias(&state, tenant, &ContactKey::Phone(phone.clone())) else {
            return Ok(None);
        };
        Ok(state.contacts.iter().find(|(t, c)| t == tenant && c.id == id).map(|(_, c)| c.clone()))
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

    async fn contact_by_email(
        &self,
        tenant: &TenantId,
        email: &str,
    ) -> Result<Option<ContactView>, InboxError> {
        let state = self.state()?;
        let Some(id) = Self::alias(&state, tenant, &ContactKey::Email(email.to_owned())) else {
            return Ok(None);
        };
        Ok(state.contacts.iter().find(|(t, c)| t == tenant && c.id == id).map(|(_, c)| c.clone()))
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
        let id = Self::contact(&mut state, tenant, (profile, ContactOrigin::Business), at)?;
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
        patch.within_caps()?;
        let mut state = self.state()?;
        let Some(current) =
            state.contacts.iter().find(|(t, c)| t == tenant && &c.id == id).map(|(_, c)| c.email.clone())
        else {
            return Ok(None);
        };
        if let Some(email) = patch.email.as_ref().filter(|email| **email != current) {
            // An email is one contact's: its lookup entry moves with it.
            if let Some(new) = email {
                let key = ContactKey::Email(new.clone());
                if Self::alias(&state, tenant, &key).is_some() {
                    return Err(InboxError::EmailTaken);
                }
                state.aliases.push((tenant.clone(), key, id.clone()));
            }
            if let Some(old) = current {
                let key = ContactKey::Email(old);
                state.aliases.retain(|(t, k, owner)| !(t == tenant && *k == key && owner == id));
            }
        }
        if let Some(name) = &patch.name {
            let key = (tenant.clone(), id.clone());
            match name {
                Some(_) => state.name_origins.insert(key, ContactOrigin::Business),
                None => state.name_origins.remove(&key),
            };
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
        let state = self.state()?;
        let Some(id) = Self::alias(&state, tenant, key) else { return Ok(Vec::new()) };
        Ok(state.contacts.iter().filter(|(t, c)| t == tenant && c.id == id).map(|(_, c)| c.clone()).collect())
    }

    async fn contact_id_of(
        &self,
        tenant: &TenantId,
        key: &ContactKey,
    ) -> Result<Option<ContactId>, InboxError> {
        Ok(Self::alias(&*self.state()?, tenant, key))
    }
}
