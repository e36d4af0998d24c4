//! [`LifecycleStore`] in memory.

use super::*;

impl LifecycleStore for MemoryInbox {
    async fn delete_conversation(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        budget: u32,
    ) -> Result<Expiry, InboxError> {
        Ok(remove_conversation(&mut *self.state()?, tenant, conversation, budget))
    }

    async fn forget_integration_contacts(
        &self,
        tenant: &TenantId,
        integration: Integration,
        before: Timestamp,
        after: Option<&str>,
    ) -> Result<(ErasureCounts, Option<String>), InboxError> {
        let origin = ContactOrigin::Meta(integration);
        let page = {
            let state = self.state()?;
            let all: Vec<ContactView> =
                state.contacts.iter().filter(|(t, _)| t == tenant).map(|(_, c)| c.clone()).collect();
            paginate(all, after, 25)?
        };
        let mut counts = ErasureCounts::default();
        // The page's positions shift as contacts go: continue from where the survivors end.
        let mut removed = 0;
        for contact in &page.items {
            let key = (tenant.clone(), contact.id.clone());
            let origins = self.state()?.origins.get(&key).cloned().unwrap_or_default();
            if !origins.contains(&origin) {
                continue;
            }
            let linked = {
                let state = self.state()?;
                state.conversations.iter().any(|(t, c)| t == tenant && c.contact_id == contact.id)
                    || state.leads.iter().any(|(t, l)| t == tenant && l.contact_id == contact.id)
            };
            if origins.len() == 1 && contact.first_seen_at <= before.as_millis() && !linked {
                loop {
                    let pass = self.erase_contact(tenant, &contact.id, 200).await?;
                    counts.add(&pass);
                    if pass.total() == 0 {
                        break;
                    }
                }
                removed += 1;
                continue;
            }
            let mut state = self.state()?;
            let state = &mut *state;
            let from_it = |source| ContactOrigin::of_consent(source) == origin;
            let before_count = state.consent.len();
            state.consent.retain(|(t, c, _, e)| {
                !(t == tenant
                    && *c == contact.id
                    && e.kind == crate::domain::inbox::ConsentKind::OptIn
                    && from_it(e.source))
            });
            counts.consent_events += (before_count - state.consent.len()) as u64;
            let name_from_it = state.name_origins.get(&key) == Some(&origin);
            if name_from_it {
                state.name_origins.remove(&key);
            }
            if let Some(set) = state.origins.get_mut(&key) {
                set.remove(&origin);
            }
            if let Some((_, view)) =
                state.contacts.iter_mut().find(|(t, c)| t == tenant && c.id == contact.id)
            {
                if name_from_it {
                    view.name = None;
                }
                if view
                    .consent
                    .as_ref()
                    .is_some_and(|c| c.state == crate::domain::inbox::ConsentKind::OptIn && from_it(c.source))
                {
                    view.consent = None;
                }
            }
        }
        let next = page.next.map(|cursor| {
            let position = cursor.parse::<usize>().unwrap_or(0).saturating_sub(removed);
            position.to_string()
        });
        Ok((counts, next))
    }

    async fn delete_lead(&self, tenant: &TenantId, id: &str) -> Result<bool, InboxError> {
        let mut state = self.state()?;
        let before = state.leads.len();
        state.leads.retain(|(t, l)| !(t == tenant && l.id == id));
        Ok(state.leads.len() < before)
    }

    async fn expire_conversation(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        now: Timestamp,
        budget: u32,
    ) -> Result<Expiry, InboxError> {
        let mut state = self.state()?;
        let live = state.conversations.iter().any(|(t, c)| t == tenant && &c.id == conversation);
        let expires = state.expiry.get(&(tenant.clone(), conversation.clone())).map(|(_, expires)| *expires);
        if live && expires.is_none_or(|expires| expires > now.as_millis()) {
            return Ok(Expiry::NotDue);
        }
        Ok(remove_conversation(&mut state, tenant, conversation, budget))
    }

    async fn sanitize_conversation(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        content_age: std::time::Duration,
        now: Timestamp,
        budget: u32,
    ) -> Result<(u64, bool), InboxError> {
        let mut state = self.state()?;
        let state = &mut *state;
        let age = i64::try_from(content_age.as_millis()).unwrap_or(i64::MAX);
        let received_before = now.as_millis().saturating_sub(age);
        let mut sanitized = 0u64;
        for (t, message) in &mut state.messages {
            if t != tenant || &message.conversation_id != conversation || message.payload.is_none() {
                continue;
            }
            let Some(&received) = state.received_at.get(&(tenant.clone(), message.id.clone())) else {
                continue;
            };
            if received > received_before {
                continue;
            }
            if sanitized >= u64::from(budget) {
                return Ok((sanitized, true));
            }
            message.payload = None;
            message.content_sanitized_at = Some(now.as_millis());
            sanitized += 1;
        }
        Ok((sanitized, false))
    }

    async fn restamp_conversations(
        &self,
        tenant: &TenantId,
        settings: RetentionSettings,
        after: Option<&str>,
        limit: u16,
        _earliest_day: i64,
    ) -> Result<Option<String>, InboxError> {
        let mut state = self.state()?;
        let ttl = i64::try_from(settings.conversation_ttl().as_millis()).unwrap_or(i64::MAX);
        let theirs: Vec<(ConversationId, i64)> = state
            .conversations
            .iter()
            .filter(|(t, _)| t == tenant)
            .map(|(_, c)| (c.id.clone(), c.last_message_at))
            .collect();
        let page = paginate(theirs, after, limit)?;
        for (conversation, last_message_at) in page.items {
            let entry = state.expiry.entry((tenant.clone(), conversation)).or_insert((last_message_at, 0));
            entry.1 = entry.0.saturating_add(ttl);
        }
        Ok(page.next)
    }

    async fn erase_contact(
        &self,
        tenant: &TenantId,
        contact: &ContactId,
        budget: u32,
    ) -> Result<ErasureCounts, InboxError> {
        let mut state = self.state()?;
        let state = &mut *state;
        let mut left = u64::from(budget.max(1));
        let mut counts = ErasureCounts::default();
        // Children first: each conversation's messages, then the conversation.
        let conversations: Vec<ConversationId> = state
            .conversations
            .iter()
            .filter(|(t, c)| t == tenant && &c.contact_id == contact)
            .map(|(_, c)| c.id.clone())
            .collect();
        for conversation in &conversations {
            let pass =
                remove_conversation(state, tenant, conversation, u32::try_from(left).unwrap_or(u32::MAX));
            let (Expiry::Deleted(pass) | Expiry::Partial(pass)) = pass else { continue };
            left = left.saturating_sub(pass.messages + pass.conversations);
            counts.add(&pass);
            if left == 0 {
                return Ok(counts);
            }
        }
        if state.conversations.iter().any(|(t, c)| t == tenant && &c.contact_id == contact) {
            return Ok(counts);
        }
        counts.leads = take(&mut state.leads, &mut left, |(t, l)| t == tenant && &l.contact_id == contact);
        counts.consent_events =
            take(&mut state.consent, &mut left, |(t, c, _, _)| t == tenant && c == contact);
        let rest = state.leads.iter().any(|(t, l)| t == tenant && &l.contact_id == contact)
            || state.consent.iter().any(|(t, c, _, _)| t == tenant && c == contact);
        if rest || left == 0 {
            return Ok(counts);
        }
        // Last, the contact and its aliases: only once nothing else of it is left. An opt-out
        // outlives them as a suppression entry per identifier; any other state clears those.
        let opt_out = state
            .contacts
            .iter()
            .find(|(t, c)| t == tenant && &c.id == contact)
            .and_then(|(_, c)| c.consent.clone())
            .filter(|c| c.state == crate::domain::inbox::ConsentKind::OptOut);
        let identifiers: Vec<ContactKey> = state
            .aliases
            .iter()
            .filter(|(t, _, owner)| t == tenant && owner == contact)
            .map(|(_, k, _)| k.clone())
            .collect();
        state.suppressions.retain(|(t, k, _)| !(t == tenant && identifiers.contains(k)));
        if let Some(opt_out) = opt_out {
            state.suppressions.extend(identifiers.into_iter().map(|k| (tenant.clone(), k, opt_out.clone())));
        }
        let before = state.aliases.len();
        state.aliases.retain(|(t, _, owner)| !(t == tenant && owner == contact));
        counts.contact_aliases = (before - state.aliases.len()) as u64;
        let before = state.contacts.len();
        state.contacts.retain(|(t, c)| !(t == tenant && &c.id == contact));
        counts.contacts = (before - state.contacts.len()) as u64;
        Ok(counts)
    }
}

/// Removes up to `*left` of the items `matches` accepts, counting them down from `left`.
fn take<T>(items: &mut Vec<T>, left: &mut u64, matches: impl Fn(&T) -> bool) -> u64 {
    let mut taken = 0;
    items.retain(|item| {
        if taken < *left && matches(item) {
            taken += 1;
            false
        } else {
            true
        }
    });
    *left -= taken;
    taken
}

/// Deletes up to `budget` of a conversation's messages, then (once none is left) the
/// conversation itself and its contact's link to it.
fn remove_conversation(
    state: &mut InboxState,
    tenant: &TenantId,
    conversation: &ConversationId,
    budget: u32,
) -> Expiry {
    let mut counts = ErasureCounts::default();
    let mut left = u64::from(budget.max(1));
    let removed: Vec<MessageId> = state
        .messages
        .iter()
        .filter(|(t, m)| t == tenant && &m.conversation_id == conversation)
        .take(usize::try_from(left).unwrap_or(usize::MAX))
        .map(|(_, m)| m.id.clone())
        .collect();
    counts.messages = take(&mut state.messages, &mut left, |(t, m)| t == tenant && removed.contains(&m.id));
    counts.message_id_records = counts.messages;
    for id in &removed {
        state.send_claims.remove(&(tenant.clone(), id.clone()));
        state.sent_at.remove(&(tenant.clone(), id.clone()));
        state.received_at.remove(&(tenant.clone(), id.clone()));
    }
    if state.messages.iter().any(|(t, m)| t == tenant && &m.conversation_id == conversation) {
        return Expiry::Partial(counts);
    }
    // Then what was derived from them: the AI suggestion requests; last, the conversation.
    let mut unbounded = u64::MAX;
    counts.ai_suggestions = take(&mut state.suggestions, &mut unbounded, |(t, s)| {
        t == tenant && &s.conversation_id == conversation
    });
    let suggestions = &state.suggestions;
    state.suggestion_expiry.retain(|(t, id), _| t != tenant || suggestions.iter().any(|(_, s)| &s.id == id));
    // With the conversation go its agent's load and its waiting entry (the table's one write).
    let removed = state.conversations.iter().find(|(t, c)| t == tenant && &c.id == conversation).cloned();
    if let Some((_, view)) = &removed {
        let moves = crate::domain::inbox::CenterMoves::removal(view);
        center::move_center(state, tenant, view, &moves, Timestamp::from_millis(0));
    }
    counts.conversations =
        take(&mut state.conversations, &mut unbounded, |(t, c)| t == tenant && &c.id == conversation);
    state.expiry.remove(&(tenant.clone(), conversation.clone()));
    for (t, contact) in &mut state.contacts {
        if t == tenant && contact.conversation_id.as_ref() == Some(conversation) {
            contact.conversation_id = None;
        }
    }
    Expiry::Deleted(counts)
}
