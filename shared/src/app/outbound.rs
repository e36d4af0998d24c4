//! Submitting an outbound message (P20–P22, P25): the sending policy, the agent's scope, the
//! template pre-flight and the plan's monthly limit are checked, then the message is stored as
//! `queued` and put on `outbound.fifo` for `send`. The API's `POST /v1/messages` submits through
//! here; `inbound` holds the same ports ([`OutboundPorts`]) so that its replies (the chatbot
//! flows of issue #17) refuse exactly the same things — its unit test submits one today.

use crate::domain::inbox::{
    AgentScope, ContactStore as _, ConversationFilter, ConversationStore as _, MessageStatus,
    NewOutboundMessage, OutboundStore as _, Unsent,
};
use crate::domain::outbound::{
    check_policy, InvalidMessage, OutboundBody, Refusal, SendJob, TemplateStore as _,
};
use crate::domain::ports::{Admission, ConnectionStore as _, Queue as _, RateLimiter as _, TenantStore as _};
use crate::domain::whatsapp::MetaError;
use crate::domain::{Clock, ContactId, MessageId, PhoneNumber, TenantId};
use crate::wiring::Adapters;

/// The ports submitting a message uses, borrowed from the caller's dependencies.
#[derive(Debug)]
pub struct OutboundPorts<'a, A: Adapters> {
    /// The recipient, found by phone number.
    pub contacts: &'a A::Contacts,
    /// An agent's conversations (their scope).
    pub conversations: &'a A::Conversations,
    /// The message, stored as queued (or failed when it cannot be queued).
    pub outbox: &'a A::Outbound,
    /// Tenants (plan, retention).
    pub tenants: &'a A::Tenants,
    /// The tenant's WhatsApp connection (nothing is queued without one).
    pub connections: &'a A::Connections,
    /// Message templates as synced from Meta.
    pub templates: &'a A::Templates,
    /// Monthly message counts.
    pub limiter: &'a A::Limiter,
    /// `outbound.fifo`.
    pub queue: &'a A::Queue,
    /// The time source.
    pub clock: &'a A::Clock,
}

/// One message to submit.
#[derive(Debug, Clone, Copy)]
pub struct Submission<'a> {
    /// The tenant sending it.
    pub tenant: &'a TenantId,
    /// The message, checked against the Cloud API's rules ([`OutboundBody::parse`]).
    pub body: &'a OutboundBody,
    /// For an agent, what they may see: they message only contacts of those conversations.
    /// `None` for everyone else (managers, admins, the chatbot).
    pub scope: Option<&'a AgentScope>,
    /// The id to store the message under. An idempotent caller reserves (and notes) it before
    /// submitting, so that its retry after a crash finds what was stored ([`resume`]) rather
    /// than storing a second message; `None` makes a new one.
    pub id: Option<&'a MessageId>,
}

/// A message stored and on its way to `send` (or, resumed, however far it got).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// Leadline's id of the message.
    pub id: MessageId,
    /// `queued` when submitted; where it is now when resumed.
    pub status: MessageStatus,
    /// The contact it is addressed to (`None` when a crashed submission is resumed: it was
    /// audited when first accepted).
    pub contact: Option<ContactId>,
}

impl Accepted {
    /// The quality counter (P24) an accepted message adds one to.
    pub const QUALITY_METRIC: &'static str = "accepted";
}

/// Errors of [`submit`]: one case per refusal, then [`SubmitError::Unknown`].
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// The body breaks a Cloud API rule. [`submit`] takes a parsed body; this is the error of
    /// [`OutboundBody::parse`], which callers run first, so that one enum covers the whole use.
    #[error("invalid message: {0}")]
    Invalid(#[from] InvalidMessage),
    /// The sending policy refused it (consent, opt-out, restriction, 24 h window).
    #[error("refused by the sending policy: {0:?}")]
    Policy(Refusal),
    /// A mark-as-read for a number that is no contact of the tenant (the policy lets reads
    /// through; there is no conversation to mark).
    #[error("the recipient is not a contact")]
    NoContact,
    /// An agent may message only contacts of conversations they may see; a number nobody knows
    /// is answered the same, and before the policy, so that the answer tells nothing about a
    /// number outside the agent's scope.
    #[error("the contact has no conversation the agent may see")]
    NotVisibleToAgent,
    /// No synced template has this name and language.
    #[error("no template {name} in {language}")]
    UnknownTemplate {
        /// The template's name.
        name: String,
        /// Its language code.
        language: String,
    },
    /// The template is not approved, or its parameters do not match.
    #[error("template mismatch: {0}")]
    TemplateMismatch(String),
    /// The tenant does not exist (closed and purged).
    #[error("tenant not found")]
    TenantNotFound,
    /// The tenant has no WhatsApp number connected.
    #[error("no WhatsApp number connected")]
    NotConnected,
    /// The plan's monthly message limit is reached (P25).
    #[error("the plan allows {limit} messages per month")]
    PlanLimit {
        /// Messages per month the plan allows.
        limit: u64,
    },
    /// `outbound.fifo` did not take the message; it is recorded as failed, nothing is sent,
    /// and the caller may submit it again.
    #[error("the send queue is unavailable")]
    NotQueued,
    /// A store failed.
    #[error("submitting the message failed")]
    Unknown(#[from] anyhow::Error),
}

impl SubmitError {
    /// The quality counter (P24) this refusal adds one to: `refused.<reason>` for what the
    /// tenant's messages or settings got wrong; `None` for what says nothing about sending
    /// quality (a bad body, the agent's scope, the plan, an outage).
    #[must_use]
    pub const fn quality_metric(&self) -> Option<&'static str> {
        match self {
            Self::Policy(Refusal::UnknownRecipient) | Self::NoContact => Some("refused.unknown_recipient"),
            Self::Policy(Refusal::OptedOut) => Some("refused.opted_out"),
            Self::Policy(Refusal::Restricted) => Some("refused.restricted"),
            Self::Policy(Refusal::NoConsent) => Some("refused.no_consent"),
            Self::Policy(Refusal::OutsideWindow) => Some("refused.outside_window"),
            Self::UnknownTemplate { .. } => Some("refused.unknown_template"),
            Self::TemplateMismatch(_) => Some("refused.template_mismatch"),
            Self::NotConnected => Some("refused.not_connected"),
            Self::Invalid(_)
            | Self::NotVisibleToAgent
            | Self::TenantNotFound
            | Self::PlanLimit { .. }
            | Self::NotQueued
            | Self::Unknown(_) => None,
        }
    }
}

fn unknown(error: impl Into<anyhow::Error>) -> SubmitError {
    SubmitError::Unknown(error.into())
}

/// Checks `submission` against the agent's scope, the policy, the template and the plan, stores
/// the message as `queued` and enqueues it. A message the queue does not take is marked failed
/// (nothing is sent) and answered [`SubmitError::NotQueued`].
///
/// # Errors
/// The [`SubmitError`] case of the first refusal, in the order above;
/// [`SubmitError::Unknown`] when a store fails.
pub async fn submit<A: Adapters>(
    ports: &OutboundPorts<'_, A>,
    submission: &Submission<'_>,
) -> Result<Accepted, SubmitError> {
    let Submission { tenant, body, scope, id } = *submission;
    let now = ports.clock.now();
    let contact = ports.contacts.contact_by_phone(tenant, &body.to).await.map_err(unknown)?;
    // The scope first: an agent gets the same answer for a number outside it as for one nobody
    // knows, whatever its consent or restriction (the policy's answers would tell them).
    if let Some(scope) = scope {
        let visible = match &contact {
            None => false,
            Some(contact) => {
                let filter =
                    ConversationFilter { visible_to: Some(scope.clone()), ..ConversationFilter::default() };
                let page = ports
                    .conversations
                    .conversations(tenant, Some(&contact.id), &filter, None, 1)
                    .await
                    .map_err(unknown)?;
                !page.items.is_empty()
            }
        };
        if !visible {
            return Err(SubmitError::NotVisibleToAgent);
        }
    }
    check_policy(contact.as_ref(), body, now).map_err(SubmitError::Policy)?;
    let contact = contact.ok_or(SubmitError::NoContact)?;
    if let Some(used) = &body.template {
        let template = ports.templates.template(tenant, &used.name, &used.language).await.map_err(unknown)?;
        let template = template.ok_or_else(|| SubmitError::UnknownTemplate {
            name: used.name.clone(),
            language: used.language.clone(),
        })?;
        template.accepts(used).map_err(SubmitError::TemplateMismatch)?;
    }
    // Plan and retention only: the caller checked the tenant is active (the API's credentials,
    // inbound's collecting), which refreshed what `tenant_settings` answers from.
    let tenant_record =
        ports.tenants.tenant_settings(tenant).await.map_err(unknown)?.ok_or(SubmitError::TenantNotFound)?;
    if ports.connections.whatsapp_connection(tenant).await.map_err(unknown)?.is_none() {
        return Err(SubmitError::NotConnected);
    }
    // Marking as read sends nothing to the person: it does not count against the plan.
    if body.kind != "read" {
        let limit = tenant_record.plan.messages_per_month;
        if let Admission::Limited { .. } =
            ports.limiter.admit_message(tenant, limit, now).await.map_err(unknown)?
        {
            return Err(SubmitError::PlanLimit { limit });
        }
    }
    let id = match id {
        Some(id) => id.clone(),
        None => MessageId::generate(now).map_err(unknown)?,
    };
    let graph_body = body.graph_body.to_string();
    let message = NewOutboundMessage {
        id: &id,
        contact: &contact.id,
        kind: &body.kind,
        body: &graph_body,
        at: now,
        retention: tenant_record.retention,
    };
    ports.outbox.store_outbound(tenant, &message, now).await.map_err(unknown)?;
    enqueue(ports, tenant, &id, &body.to).await?;
    Ok(Accepted { id, status: MessageStatus::Queued, contact: Some(contact.id.clone()) })
}

/// Finishes a submission that a crash interrupted, from the id it reserved: a message stored
/// under `id` that is still `queued` is enqueued again — harmless if it was enqueued before:
/// `outbound.fifo` drops a duplicate by message id for five minutes, and beyond that `send`
/// sends only a queued message whose claim it takes. `Ok(None)` when nothing was stored under
/// `id` (the caller submits it again, under that id).
///
/// # Errors
/// [`SubmitError::NotQueued`] (the message is then failed, as [`submit`] does);
/// [`SubmitError::Unknown`].
pub async fn resume<A: Adapters>(
    ports: &OutboundPorts<'_, A>,
    tenant: &TenantId,
    id: &MessageId,
    recipient: &PhoneNumber,
) -> Result<Option<Accepted>, SubmitError> {
    let Some(stored) = ports.outbox.outbound(tenant, id).await.map_err(unknown)? else {
        return Ok(None);
    };
    if stored.status == MessageStatus::Queued {
        enqueue(ports, tenant, id, recipient).await?;
    }
    Ok(Some(Accepted { id: stored.id, status: stored.status, contact: None }))
}

/// Puts a stored message on `outbound.fifo` (deduplicated by its id); a message the queue does
/// not take is marked failed.
async fn enqueue<A: Adapters>(
    ports: &OutboundPorts<'_, A>,
    tenant: &TenantId,
    id: &MessageId,
    recipient: &PhoneNumber,
) -> Result<(), SubmitError> {
    let job = SendJob { v: 1, tenant_id: tenant.clone(), message_id: id.clone() };
    if let Err(error) = ports.queue.send_batch(&[job.queue_message(recipient)]).await {
        tracing::error!(error = format!("{error:#}"), "Outbound message not queued");
        // Stored but never sent: record why, so the message does not wait as `queued` forever.
        let reason = MetaError {
            code: 0,
            title: Some("not queued".to_owned()),
            message: Some("the message could not be queued; send it again".to_owned()),
            error_data: None,
            href: None,
        };
        ports
            .outbox
            .mark_unsent(tenant, id, Unsent::Failed, &reason, ports.clock.now())
            .await
            .map_err(unknown)?;
        return Err(SubmitError::NotQueued);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::json;

    use super::*;
    use crate::adapters::documents::{DocRateLimiter, DocTemplates};
    use crate::domain::inbox::IngestStore as _;
    use crate::domain::inbox::{ContactProfile, NewInboundMessage};
    use crate::domain::outbound::Template;
    use crate::domain::ports::{EncryptionContext, Purpose, Vault as _};
    use crate::domain::tenant::{ApiKey, RetentionSettings, Role, Tenant, WhatsAppConnection};
    use crate::domain::{PhoneNumber, Timestamp, UserId, Wamid};
    use crate::testing::{LocalVault, ManualClock, MemoryDocs, MemoryInbox, MemoryQueue, MemoryTenantStore};

    const PHONE: &str = "5511988887777";

    struct TestPorts {
        inbox: MemoryInbox,
        tenants: MemoryTenantStore,
        templates: DocTemplates<MemoryDocs>,
        limiter: DocRateLimiter<MemoryDocs>,
        queue: MemoryQueue,
        clock: ManualClock,
        tenant: TenantId,
    }

    impl TestPorts {
        fn ports(&self) -> OutboundPorts<'_, crate::testing::Fakes> {
            OutboundPorts {
                contacts: &self.inbox,
                conversations: &self.inbox,
                outbox: &self.inbox,
                tenants: &self.tenants,
                connections: &self.tenants,
                templates: &self.templates,
                limiter: &self.limiter,
                queue: &self.queue,
                clock: &self.clock,
            }
        }

        async fn submit(
            &self,
            body: serde_json::Value,
            scope: Option<&AgentScope>,
        ) -> Result<Accepted, SubmitError> {
            let body = OutboundBody::parse(&body)?;
            submit(&self.ports(), &Submission { tenant: &self.tenant, body: &body, scope, id: None }).await
        }
    }

    /// A connected tenant allowed `messages_per_month`, whose contact wrote a minute ago.
    async fn fakes(messages_per_month: u64, connected: bool) -> TestPorts {
        let now = Timestamp::from_secs(1_800_000_000);
        let docs = MemoryDocs::default();
        let fakes = TestPorts {
            inbox: MemoryInbox::default(),
            tenants: MemoryTenantStore::default(),
            templates: DocTemplates::new(docs.clone()),
            limiter: DocRateLimiter::new(docs),
            queue: MemoryQueue::default(),
            clock: ManualClock::at(now),
            tenant: TenantId::generate(now).unwrap(),
        };
        let tenant = &fakes.tenant;
        let context = |purpose| EncryptionContext { tenant_id: tenant.clone(), purpose };
        let signing = LocalVault.seal(&context(Purpose::TokenSigningKey), b"k").await.unwrap();
        let mut record = Tenant::new(tenant.clone(), "T".into(), now, signing);
        record.plan.messages_per_month = messages_per_month;
        let key = ApiKey::generate(tenant.clone(), now).unwrap().record("a", Role::Admin, now);
        fakes.tenants.create_tenant(&record, &key).await.unwrap();
        if connected {
            let token = LocalVault.seal(&context(Purpose::WhatsAppAccessToken), b"EAA").await.unwrap();
            let connection = WhatsAppConnection {
                phone_number_id: "106540352242922".into(),
                display_phone_number: "15550100001".into(),
                waba_id: "102290129340398".into(),
                access_token: token,
                connected_at: now,
            };
            fakes.tenants.connect_whatsapp(tenant, &connection).await.unwrap();
        }
        let profile = ContactProfile { phone: PhoneNumber::parse(PHONE).ok(), ..ContactProfile::default() };
        let wamid = Wamid::parse("wamid.IN1").unwrap();
        let inbound = NewInboundMessage {
            wamid: &wamid,
            from: &profile,
            sent_at: now,
            kind: "text",
            raw: "{}",
            retention: RetentionSettings::default(),
        };
        fakes.inbox.store_inbound_message(tenant, &inbound, now).await.unwrap();
        fakes.clock.advance(Duration::from_secs(60));
        fakes
    }

    fn text(to: &str) -> serde_json::Value {
        json!({"to": to, "type": "text", "text": {"body": "hello"}})
    }

    fn template(parameters: usize) -> serde_json::Value {
        let parameters: Vec<_> =
            (0..parameters).map(|i| json!({"type": "text", "text": i.to_string()})).collect();
        json!({"to": PHONE, "type": "template", "template": {"name": "order_update", "language": {"code": "pt_BR"},
            "components": [{"type": "body", "parameters": parameters}]}})
    }

    #[tokio::test]
    async fn an_accepted_message_is_stored_queued_and_enqueued_once() {
        let fakes = fakes(10, true).await;

        let accepted = fakes.submit(text(PHONE), None).await.unwrap();

        let stored = fakes.inbox.outbound(&fakes.tenant, &accepted.id).await.unwrap().unwrap();
        assert_eq!((stored.status, stored.kind.as_str()), (MessageStatus::Queued, "text"));
        let sent = fakes.queue.sent();
        assert_eq!(sent.len(), 1);
        let job: SendJob = serde_json::from_str(&sent[0].body).unwrap();
        assert_eq!(job, SendJob { v: 1, tenant_id: fakes.tenant.clone(), message_id: accepted.id.clone() });
        assert_eq!(sent[0].dedup_id.as_deref(), Some(accepted.id.as_str()));
        assert_eq!(Accepted::QUALITY_METRIC, "accepted");
    }

    #[tokio::test]
    async fn the_policy_refuses_with_its_reason_and_nothing_is_stored_or_sent() {
        let fakes = fakes(10, true).await;
        fakes.clock.advance(Duration::from_secs(25 * 3600));

        let closed = fakes.submit(text(PHONE), None).await.unwrap_err();
        let stranger = fakes.submit(text("5511977776666"), None).await.unwrap_err();
        let read = json!({"to": "5511977776666", "status": "read", "message_id": "wamid.X"});
        let read_to_stranger = fakes.submit(read, None).await.unwrap_err();

        assert!(matches!(closed, SubmitError::Policy(Refusal::OutsideWindow)), "{closed:?}");
        assert_eq!(closed.quality_metric(), Some("refused.outside_window"));
        assert!(matches!(stranger, SubmitError::Policy(Refusal::UnknownRecipient)), "{stranger:?}");
        assert!(matches!(read_to_stranger, SubmitError::NoContact), "{read_to_stranger:?}");
        assert_eq!(read_to_stranger.quality_metric(), Some("refused.unknown_recipient"));
        assert!(fakes.queue.sent().is_empty());
    }

    #[tokio::test]
    async fn an_agent_messages_only_contacts_of_conversations_they_see() {
        let fakes = fakes(10, true).await;
        let scope = AgentScope {
            user: Some(UserId::parse("usr_a").unwrap()),
            queues: vec![crate::domain::QueueId::parse("sales").unwrap()],
        };

        let refused = fakes.submit(text(PHONE), Some(&scope)).await.unwrap_err();

        assert!(matches!(refused, SubmitError::NotVisibleToAgent), "{refused:?}");
        assert_eq!(refused.quality_metric(), None);
        assert!(fakes.queue.sent().is_empty());
    }

    #[tokio::test]
    async fn an_agent_learns_nothing_about_a_number_outside_their_scope() {
        use crate::domain::inbox::{ConsentChange, ConsentKind, ConsentSource};
        // Arrange: the known contact opts out; another number is nobody's.
        let fakes = fakes(10, true).await;
        let scope = AgentScope { user: Some(UserId::parse("usr_a").unwrap()), queues: vec![] };
        let profile = ContactProfile { phone: PhoneNumber::parse(PHONE).ok(), ..ContactProfile::default() };
        let now = fakes.clock.now();
        let change = ConsentChange {
            contact: &profile,
            kind: ConsentKind::OptOut,
            source: ConsentSource::Keyword,
            at: now,
            cause: "wamid.STOP",
        };
        fakes.inbox.record_consent(&fakes.tenant, &change, now).await.unwrap();

        // Act
        let opted_out = fakes.submit(text(PHONE), Some(&scope)).await.unwrap_err();
        let stranger = fakes.submit(text("5511977776666"), Some(&scope)).await.unwrap_err();
        let as_manager = fakes.submit(text(PHONE), None).await.unwrap_err();

        // Assert: the same answer for both, never the policy's; a manager gets the policy's.
        assert!(matches!(opted_out, SubmitError::NotVisibleToAgent), "{opted_out:?}");
        assert!(matches!(stranger, SubmitError::NotVisibleToAgent), "{stranger:?}");
        assert!(matches!(as_manager, SubmitError::Policy(Refusal::OptedOut)), "{as_manager:?}");
        assert!(fakes.queue.sent().is_empty());
    }

    #[tokio::test]
    async fn templates_must_be_synced_and_take_their_parameters() {
        let fakes = fakes(10, true).await;
        let unknown = fakes.submit(template(1), None).await.unwrap_err();
        let synced = Template::from_graph(&json!({"name": "order_update", "language": "pt_BR",
            "status": "APPROVED", "category": "UTILITY",
            "components": [{"type": "BODY", "text": "Olá {{1}}, seu pedido {{2}} saiu."}]}))
        .unwrap();
        fakes.templates.replace_templates(&fakes.tenant, &[synced]).await.unwrap();

        let mismatch = fakes.submit(template(1), None).await.unwrap_err();
        let accepted = fakes.submit(template(2), None).await;

        assert!(
            matches!(&unknown, SubmitError::UnknownTemplate { name, language } if name == "order_update" && language == "pt_BR"),
            "{unknown:?}"
        );
        assert_eq!(unknown.quality_metric(), Some("refused.unknown_template"));
        assert!(matches!(mismatch, SubmitError::TemplateMismatch(_)), "{mismatch:?}");
        assert_eq!(mismatch.quality_metric(), Some("refused.template_mismatch"));
        assert!(accepted.is_ok(), "{accepted:?}");
    }

    #[tokio::test]
    async fn a_tenant_without_a_number_or_past_its_plan_is_refused() {
        let unconnected = fakes(10, true).await;
        unconnected.tenants.disconnect_whatsapp(&unconnected.tenant).await.unwrap();
        let limited = fakes(1, true).await;

        let not_connected = unconnected.submit(text(PHONE), None).await.unwrap_err();
        let first = limited.submit(text(PHONE), None).await;
        let over = limited.submit(text(PHONE), None).await.unwrap_err();
        let read = json!({"to": PHONE, "status": "read", "message_id": "wamid.IN1"});
        let read_is_free = limited.submit(read, None).await;

        assert!(matches!(not_connected, SubmitError::NotConnected), "{not_connected:?}");
        assert_eq!(not_connected.quality_metric(), Some("refused.not_connected"));
        assert!(first.is_ok());
        assert!(matches!(over, SubmitError::PlanLimit { limit: 1 }), "{over:?}");
        assert_eq!(over.quality_metric(), None);
        assert!(read_is_free.is_ok(), "marking as read does not count: {read_is_free:?}");
    }

    #[tokio::test]
    async fn a_message_the_queue_does_not_take_is_marked_failed() {
        let fakes = fakes(10, true).await;
        fakes.queue.set_failing(true);

        let refused = fakes.submit(text(PHONE), None).await.unwrap_err();

        assert!(matches!(refused, SubmitError::NotQueued), "{refused:?}");
        assert_eq!(refused.quality_metric(), None);
        let filter = ConversationFilter::default();
        let conversations = fakes.inbox.conversations(&fakes.tenant, None, &filter, None, 1).await.unwrap();
        let conversation = &conversations.items[0].id;
        let messages = fakes.inbox.messages(&fakes.tenant, conversation, None, 10).await.unwrap().items;
        let failed = messages.iter().find(|m| m.direction == "outbound").unwrap();
        assert_eq!(failed.status, MessageStatus::Failed);
        assert_eq!(failed.error.as_ref().and_then(|e| e.title.as_deref()), Some("not queued"));
    }

    #[test]
    fn a_body_the_cloud_api_refuses_is_invalid_and_counts_nothing() {
        let invalid = SubmitError::from(OutboundBody::parse(&text("12")).unwrap_err());

        assert!(matches!(&invalid, SubmitError::Invalid(e) if e.field == "to"));
        assert_eq!(invalid.quality_metric(), None);
    }
}
