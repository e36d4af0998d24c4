//! Items of the inbox read back into the domain's views, and the message records written.

use super::*;

/// The fields of a new message record.
pub(super) struct MessageRecord<'a> {
    pub(super) key: &'a Key,
    pub(super) id: &'a MessageId,
    pub(super) conversation: &'a ConversationId,
    pub(super) contact: &'a ContactId,
    pub(super) direction: &'static str,
    pub(super) kind: &'a str,
    pub(super) sent_at: Timestamp,
    pub(super) status: MessageStatus,
}

impl MessageRecord<'_> {
    pub(super) fn into_item(self) -> Item {
        let mut item = item_with_key(self.key);
        item.insert(ENTITY.to_owned(), s("message"));
        item.insert(attr::MESSAGE_ID.to_owned(), s(self.id.as_str()));
        item.insert(attr::CONVERSATION_ID.to_owned(), s(self.conversation.as_str()));
        item.insert(attr::CONTACT_ID.to_owned(), s(self.contact.as_str()));
        item.insert(attr::DIRECTION.to_owned(), s(self.direction));
        item.insert(attr::MESSAGE_TYPE.to_owned(), s(self.kind));
        item.insert(attr::SENT_AT.to_owned(), n(self.sent_at.as_millis()));
        item.insert(attr::MESSAGE_STATUS.to_owned(), s(self.status.as_str()));
        item.insert(attr::STATUS_RANK.to_owned(), n(self.status.rank()));
        item.insert(attr::STATUS_AT.to_owned(), n(self.sent_at.as_millis()));
        item.insert(attr::STATUSES.to_owned(), AttributeValue::M(HashMap::new()));
        item
    }
}

pub(super) fn wamid_item(key: &Key, wamid: &str) -> Item {
    let mut item = item_with_key(key);
    item.insert(ENTITY.to_owned(), s("wamid"));
    item.insert(attr::WAMID.to_owned(), s(wamid));
    item
}

pub(super) fn contact_view(item: &Item) -> anyhow::Result<ContactView> {
    let consent = match (item.opt_string(attr::CONSENT_STATE), item.opt_string(attr::CONSENT_SOURCE)) {
        (Some(state), Some(source)) => Some(ConsentState {
            state: consent_kind(state).context("unknown consent state")?,
            source: consent_source(source).context("unknown consent source")?,
            at: item.number(attr::CONSENT_AT)?,
        }),
        _ => None,
    };
    Ok(ContactView {
        id: ContactId::parse(item.string(attr::CONTACT_ID)?)?,
        phone: optional_string(item, attr::PHONE),
        user_id: optional_string(item, attr::USER_ID),
        email: optional_string(item, attr::EMAIL),
        name: optional_string(item, attr::NAME),
        first_seen_at: item.number(attr::FIRST_SEEN_AT)?,
        last_seen_at: item.number(attr::LAST_SEEN_AT)?,
        last_inbound_at: item.opt_number(attr::LAST_INBOUND_AT)?,
        service_window_until: item.opt_number(attr::WINDOW_UNTIL)?,
        consent,
        restricted_at: item.opt_number(attr::RESTRICTED_AT)?,
        conversation_id: item.opt_string(attr::CONVERSATION_ID).map(ConversationId::parse).transpose()?,
        tags: match item.get(attr::TAGS) {
            Some(AttributeValue::Ss(tags)) => {
                let mut tags = tags.clone();
                tags.sort();
                tags
            }
            _ => Vec::new(),
        },
        attributes: item
            .opt_string(attr::ATTRIBUTES)
            .map(serde_json::from_str)
            .transpose()?
            .unwrap_or_default(),
        updated_at: item.opt_number(attr::UPDATED_AT)?,
    })
}

pub(super) fn conversation_view(item: &Item) -> anyhow::Result<ConversationView> {
    Ok(ConversationView {
        id: ConversationId::parse(item.string(attr::CONVERSATION_ID)?)?,
        contact_id: ContactId::parse(item.string(attr::CONTACT_ID)?)?,
        state: {
            let name = item.string(attr::STATE)?;
            ConversationState::parse(name)
                .ok_or_else(|| anyhow::anyhow!("unknown conversation state {name:?}"))?
        },
        // Items written before versions existed are at version 0.
        version: item.opt_number(VERSION)?.unwrap_or(0),
        started_at: item.number(attr::STARTED_AT)?,
        last_message_at: item.number(attr::LAST_MESSAGE_AT)?,
        assignee: item.opt_string(attr::ASSIGNEE).map(UserId::parse).transpose()?,
        // A queue stored before queues were ids, that is no valid id, reads as none: the
        // conversation is then visible to fewer agents, never to more.
        queue: item.opt_string(attr::QUEUE).and_then(|q| QueueId::parse(q).ok()),
        updated_at: item
            .opt_number::<i64>(attr::UPDATED_AT)?
            .unwrap_or_default()
            .max(item.number(attr::LAST_MESSAGE_AT)?),
        queued_at: item.opt_number(attr::QUEUED_AT)?,
        // Items written before cycles existed are in their first cycle.
        cycle_started_at: match item.opt_number(attr::CYCLE_STARTED_AT)? {
            Some(at) => at,
            None => item.number(attr::STARTED_AT)?,
        },
        first_reply_at: item.opt_number(attr::FIRST_REPLY_AT)?,
        resolved_at: item.opt_number(attr::RESOLVED_AT)?,
        snoozed_until: item.opt_number(attr::SNOOZED_UNTIL)?,
    })
}

pub(super) fn message_view(item: &Item) -> anyhow::Result<MessageView> {
    let statuses: BTreeMap<String, i64> = match item.get(attr::STATUSES) {
        Some(AttributeValue::M(map)) => map
            .iter()
            .filter_map(|(k, v)| match v {
                AttributeValue::N(at) => at.parse().ok().map(|at| (k.clone(), at)),
                _ => None,
            })
            .collect(),
        _ => BTreeMap::new(),
    };
    Ok(MessageView {
        id: MessageId::parse(item.string(attr::MESSAGE_ID)?)?,
        conversation_id: ConversationId::parse(item.string(attr::CONVERSATION_ID)?)?,
        wamid: optional_string(item, attr::WAMID),
        direction: item.string(attr::DIRECTION)?.to_owned(),
        kind: item.string(attr::MESSAGE_TYPE)?.to_owned(),
        timestamp: item.number(attr::SENT_AT)?,
        status: MessageStatus::parse(item.string(attr::MESSAGE_STATUS)?).context("unknown message status")?,
        statuses,
        error: item.opt_string(attr::ERROR).map(serde_json::from_str::<MetaError>).transpose()?,
        payload: item.opt_string(attr::RAW).map(serde_json::from_str).transpose()?,
        content_sanitized_at: item.opt_number(attr::SANITIZED_AT)?,
    })
}

pub(super) fn lead_view(item: &Item) -> anyhow::Result<LeadView> {
    let received_at = item.number(attr::RECEIVED_AT)?;
    Ok(LeadView {
        id: item.string(attr::LEADGEN_ID)?.to_owned(),
        page_id: optional_string(item, attr::PAGE_ID),
        contact_id: ContactId::parse(item.string(attr::CONTACT_ID)?)?,
        lead: serde_json::from_str(item.string(attr::LEAD)?)?,
        source: serde_json::from_str(item.string(attr::LEAD_SOURCE)?)?,
        origin: item.opt_string(attr::ORIGIN).map(serde_json::from_str).transpose()?.unwrap_or_default(),
        stage: match item.opt_string(attr::STAGE) {
            Some(stage) => LeadStage::parse(stage).context("unknown lead stage")?,
            None => LeadStage::New,
        },
        owner: item.opt_string(attr::OWNER).map(UserId::parse).transpose()?,
        received_at,
        updated_at: item.opt_number(attr::UPDATED_AT)?.unwrap_or(received_at),
    })
}
