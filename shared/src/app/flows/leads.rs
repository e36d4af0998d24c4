//! A flow's answer stored on the contact's lead ([`Action::SetLeadField`], P40), through the
//! same lead store port as the API's `/v1/leads`.
//!
//! Which lead: the contact's most recently received **open** lead (stage neither `won` nor
//! `lost`): a flow qualifies the deal being worked, never a closed one. When the contact has no
//! open lead, the flow creates one (stage `new`, origin form `chatbot`, as a lead entered by the
//! business), then sets the field on it. The value was validated by the question step (a stage
//! by its `options`); a stage name that still does not parse is refused here, not stored.
//!
//! [`Action::SetLeadField`]: crate::domain::flows::Action::SetLeadField

use super::FlowPorts;
use crate::domain::flows::LeadField;
use crate::domain::ids::new_ulid;
use crate::domain::inbox::{
    ContactProfile, ContactView, LeadFilter, LeadOrigin, LeadPatch, LeadStage, LeadStore as _, LeadView,
    NewManualLead,
};
use crate::domain::{Clock as _, PhoneNumber, TenantId};
use crate::wiring::Adapters;

/// The origin form of a lead a flow created.
pub const CHATBOT_ORIGIN: &str = "chatbot";

/// Leads read per page while looking for the contact's open one.
const PAGE: u16 = 100;
/// Pages read at most (a contact with more leads than this is not a case a bot should create
/// yet another for, but reading on would be unbounded work per message).
const MAX_PAGES: usize = 10;

/// Stores `value` in `field` of the contact's lead (see the module docs); the lead as stored.
///
/// # Errors
/// Why it was not stored, for the flow's decision log (no customer text: the value is not in it).
pub(super) async fn set_lead_field<A: Adapters>(
    ports: &FlowPorts<'_, A>,
    tenant: &TenantId,
    contact: &ContactView,
    (field, value): (LeadField, &str),
) -> Result<LeadView, String> {
    // A stage that does not parse creates no lead.
    let stage = match field {
        LeadField::Stage => {
            Some(LeadStage::parse(&value.trim().to_lowercase()).ok_or("the answer names no lead stage")?)
        }
        LeadField::Campaign | LeadField::Form | LeadField::Ad => None,
    };
    let lead = match open_lead(ports, tenant, contact).await? {
        Some(lead) => lead,
        None => create(ports, tenant, contact).await?,
    };
    let mut origin = lead.origin.clone();
    let value = Some(value.trim().to_owned());
    match field {
        LeadField::Stage => {}
        LeadField::Campaign => origin.campaign = value,
        LeadField::Form => origin.form = value,
        LeadField::Ad => origin.ad = value,
    }
    let patch = LeadPatch { stage, owner: None, origin: stage.is_none().then_some(origin) };
    let now = ports.center.clock.now();
    match ports.leads.update_lead(tenant, &lead.id, &patch, now).await {
        Ok(Some(updated)) => Ok(updated),
        Ok(None) => Err("the lead is gone".to_owned()),
        Err(error) => Err(format!("the lead store failed: {error}")),
    }
}

/// The stage a flow's `lead_stage` condition sees: that of the lead [`set_lead_field`] would
/// write (the contact's open one), else that of their most recent lead (so a flow can branch on
/// a deal already won or lost); `None` when they have no lead.
///
/// # Errors
/// Why the leads could not be read, for the flow's decision log.
pub(super) async fn lead_stage<A: Adapters>(
    ports: &FlowPorts<'_, A>,
    tenant: &TenantId,
    contact: &ContactView,
) -> Result<Option<LeadStage>, String> {
    let (open, latest) = contact_leads(ports, tenant, contact).await?;
    Ok(open.or(latest).map(|lead| lead.stage))
}

/// The contact's most recently received lead that is neither won nor lost.
async fn open_lead<A: Adapters>(
    ports: &FlowPorts<'_, A>,
    tenant: &TenantId,
    contact: &ContactView,
) -> Result<Option<LeadView>, String> {
    Ok(contact_leads(ports, tenant, contact).await?.0)
}

/// The contact's most recently received open lead (neither won nor lost) and most recently
/// received lead of any stage, in one bounded scan.
async fn contact_leads<A: Adapters>(
    ports: &FlowPorts<'_, A>,
    tenant: &TenantId,
    contact: &ContactView,
) -> Result<(Option<LeadView>, Option<LeadView>), String> {
    let filter = LeadFilter { contact: Some(contact.id.clone()), ..LeadFilter::default() };
    let newer = |lead: &LeadView, than: &Option<LeadView>| {
        than.as_ref().is_none_or(|b| (lead.received_at, &lead.id) > (b.received_at, &b.id))
    };
    let (mut open, mut latest): (Option<LeadView>, Option<LeadView>) = (None, None);
    let mut after: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let page = ports
            .leads
            .leads(tenant, &filter, after.as_deref(), PAGE)
            .await
            .map_err(|e| format!("reading the contact's leads failed: {e}"))?;
        for lead in page.items {
            if !matches!(lead.stage, LeadStage::Won | LeadStage::Lost) && newer(&lead, &open) {
                open = Some(lead.clone());
            }
            if newer(&lead, &latest) {
                latest = Some(lead);
            }
        }
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    Ok((open, latest))
}

/// A new lead of the contact, as the bot's: stage `new`, origin form [`CHATBOT_ORIGIN`].
async fn create<A: Adapters>(
    ports: &FlowPorts<'_, A>,
    tenant: &TenantId,
    contact: &ContactView,
) -> Result<LeadView, String> {
    // Only what identifies the person (their phone or BSUID): the lead links to this contact.
    let profile = ContactProfile {
        phone: contact.phone.as_deref().and_then(|p| PhoneNumber::parse(p).ok()),
        user_id: contact.user_id.clone(),
        email: None,
        name: None,
    };
    let now = ports.center.clock.now();
    let id = format!("ld_{}", new_ulid(now).map_err(|e| format!("no lead id: {e}"))?);
    let origin = LeadOrigin { form: Some(CHATBOT_ORIGIN.to_owned()), ..LeadOrigin::default() };
    let lead = NewManualLead {
        id: &id,
        contact: &profile,
        stage: LeadStage::New,
        owner: None,
        origin: &origin,
        at: now,
    };
    ports.leads.create_lead(tenant, &lead).await.map_err(|e| format!("creating the lead failed: {e}"))
}
