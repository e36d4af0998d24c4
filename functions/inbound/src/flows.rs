//! Chatbot flows in the ingest pipeline (P40): once a customer message is stored and the contact
//! center has seen it (and after any opt-out keyword is recorded, so that "STOP" is never
//! answered by a bot), the conversation's flow runs one turn through
//! [`shared::app::flows::on_customer_message`], which does it at most once per message.
//!
//! A `flow_timeout` event (queued by the `timers` job when a wait step's timeout came, in the
//! customer's own message group) runs the timeout through [`shared::app::flows::on_timeout`]:
//! once, and only if the session still waits there.

use shared::app::flows::{self, CustomerMessage, FlowPorts};
use shared::domain::events::FlowTimeout;
use shared::domain::inbox::{
    ContactStore as _, ConversationStore as _, ConversationView, InboxError, Stored,
};
use shared::domain::ports::TenantStore as _;
use shared::domain::tenant::{RetentionSettings, TenantSettings};
use shared::domain::whatsapp::InboundMessage;
use shared::domain::{ContactId, ConversationId, TenantId};
use shared::lambda::batch::RecordError;
use shared::wiring::Adapters;

use crate::Deps;

/// Where the contact center left the conversation of a message: what the flow runner needs.
#[derive(Debug, Clone)]
pub struct Arrival {
    /// The contact who wrote.
    pub contact: ContactId,
    /// The conversation after the contact center's reaction (reopening).
    pub conversation: ConversationView,
    /// The message created the conversation.
    pub new_conversation: bool,
    /// The message reopened a resolved conversation.
    pub reopened: bool,
}

impl<A: Adapters> Deps<A> {
    /// The ports the flow runner uses.
    #[must_use]
    pub fn flow_ports(&self) -> FlowPorts<'_, A> {
        FlowPorts {
            flows: &self.flows,
            center: self.center_ports(),
            outbound: self.outbound_ports(),
            timers: &self.timers,
            leads: &self.leads,
        }
    }
}

/// Runs the conversation's flow for `message`.
///
/// # Errors
/// [`RecordError::Retryable`] when a store failed before the turn was recorded.
pub async fn run<A: Adapters>(
    deps: &Deps<A>,
    tenant: &TenantId,
    (settings, retention): (&TenantSettings, &RetentionSettings),
    arrival: &Arrival,
    (message, stored, group): (&InboundMessage, Stored, Option<&str>),
) -> Result<(), RecordError> {
    let contact = deps
        .contacts
        .contact(tenant, &arrival.contact)
        .await
        .map_err(|e: InboxError| RecordError::retryable("reading the contact", e))?;
    let Some(contact) = contact else { return Ok(()) };
    let choice_id = message
        .interactive
        .as_ref()
        .and_then(|i| i.button_reply.as_ref().or(i.list_reply.as_ref()))
        .map(|r| r.id.as_str());
    let customer = CustomerMessage {
        id: &message.id,
        text: message.text_body(),
        choice_id,
        conversation: &arrival.conversation,
        new_conversation: arrival.new_conversation,
        reopened: arrival.reopened,
        first_delivery: stored == Stored::Created,
        group,
    };
    let outcome =
        flows::on_customer_message(&deps.flow_ports(), tenant, &contact, (settings, retention), &customer)
            .await
            .map_err(|e| RecordError::retryable("running the flow", e))?;
    // No flow at work is the common case (a line per message would be most of the function's
    // log bill, `docs/cost.md`); what a flow did is worth its line.
    if matches!(outcome, flows::Outcome::Idle) {
        tracing::debug!(?outcome, "Flow");
    } else {
        tracing::info!(?outcome, "Flow");
    }
    Ok(())
}

/// Runs a chatbot flow's wait timeout (see the module docs). A conversation or contact that is
/// gone, or a session that moved on, makes it a no-op.
///
/// # Errors
/// [`RecordError::Poison`] for ids that do not parse; [`RecordError::Retryable`] when a store
/// failed before the turn was recorded.
pub async fn on_timeout<A: Adapters>(
    deps: &Deps<A>,
    tenant: &TenantId,
    timeout: &FlowTimeout,
) -> Result<(), RecordError> {
    let id = ConversationId::parse(timeout.conversation_id.clone())
        .map_err(|e| RecordError::poison("flow timeout conversation", e))?;
    let conversation = deps
        .conversations
        .conversation(tenant, &id)
        .await
        .map_err(|e: InboxError| RecordError::retryable("reading the conversation", e))?;
    let Some(conversation) = conversation else { return Ok(()) };
    let contact = deps
        .contacts
        .contact(tenant, &conversation.contact_id)
        .await
        .map_err(|e: InboxError| RecordError::retryable("reading the contact", e))?;
    let Some(contact) = contact else { return Ok(()) };
    let tenant_record =
        deps.tenants.tenant(tenant).await.map_err(|e| RecordError::retryable("reading the tenant", e))?;
    let settings: TenantSettings = tenant_record.map(|t| t.settings).unwrap_or_default();
    let outcome = flows::on_timeout(&deps.flow_ports(), tenant, &contact, &settings, &conversation, timeout)
        .await
        .map_err(|e| RecordError::retryable("running the flow timeout", e))?;
    tracing::info!(?outcome, "Flow timeout");
    Ok(())
}
