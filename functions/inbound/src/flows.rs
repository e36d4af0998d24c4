//! Chatbot flows in the ingest pipeline (P40): once a customer message is stored and the contact
//! center has seen it (and after any opt-out keyword is recorded, so that "STOP" is never
//! answered by a bot), the conversation's flow runs one turn through
//! [`shared::app::flows::on_customer_message`], which does it at most once per message.

use shared::app::flows::{self, CustomerMessage, FlowPorts};
use shared::domain::inbox::{ContactStore as _, ConversationView, InboxError, Stored};
use shared::domain::tenant::{RetentionSettings, TenantSettings};
use shared::domain::whatsapp::InboundMessage;
use shared::domain::{ContactId, TenantId};
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
        FlowPorts { flows: &self.flows, center: self.center_ports(), outbound: self.outbound_ports() }
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
    (message, stored): (&InboundMessage, Stored),
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
    };
    let outcome =
        flows::on_customer_message(&deps.flow_ports(), tenant, &contact, (settings, retention), &customer)
            .await
            .map_err(|e| RecordError::retryable("running the flow", e))?;
    tracing::info!(?outcome, "Flow");
    Ok(())
}
