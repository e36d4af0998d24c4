//! Purges of what a tenant no longer keeps: conversations and leads of a disconnected
//! integration (P54), and a closed tenant's data after its grace period (P53).

#[allow(clippy::wildcard_imports)]
use super::*;

/// Items deleted per purge step.
const PURGE_BUDGET: u16 = 200;

/// Deletes what tenants received through integrations they disconnected (P54): the WhatsApp
/// conversations begun before the disconnection, with their messages and statuses, or the
/// leads of the Page received before it. Contacts stay (they are the tenant's records, and may
/// come from forms, imports or agents); their next message opens a new conversation. Skipped
/// when the tenant's legal hold is on by the time the run comes, or when the integration turns
/// out to be still connected as before (the disconnection failed after queueing).
pub(crate) async fn purge_disconnected<A: Adapters>(
    deps: &Deps<A>,
    deadline: Deadline,
) -> Result<(TaskReport, bool), RunError> {
    let mut report = TaskReport { name: "purge_disconnected".to_owned(), finished: 0, items: 0 };
    let due =
        deps.purges.due_meta_purges(25).await.map_err(|e| failed("reading the Meta purge queue", &e))?;
    for purge in due {
        if purge_applies(deps, &purge).await? {
            let done = match purge.integration {
                Integration::WhatsApp => purge_conversations(deps, &purge, deadline, &mut report).await?,
                Integration::LeadAds => purge_leads(deps, &purge, deadline, &mut report).await?,
            } && disconnect::forget_contacts(deps, &purge, deadline, &mut report).await?;
            if !done {
                return Ok((report, false));
            }
            tracing::info!(tenant_id = %purge.tenant, integration = purge.integration.as_str(), "Meta data of a disconnected integration deleted");
            let what =
                system("integration.data_deletion", target("integration", purge.integration.as_str()), 0);
            trail::record(&deps.audit, &purge.tenant, Job::Retention, what, deps.clock.now()).await;
        }
        deps.purges.finish_meta_purge(&purge).await.map_err(|e| failed("dequeueing a Meta purge", &e))?;
        report.finished += 1;
    }
    Ok((report, true))
}

/// Whether a queued Meta purge is still to be done (see [`purge_disconnected`]).
pub(crate) async fn purge_applies<A: Adapters>(deps: &Deps<A>, purge: &MetaPurge) -> Result<bool, RunError> {
    let Some(tenant) =
        deps.tenants.tenant(&purge.tenant).await.map_err(|e| failed("reading a tenant", &e))?
    else {
        return Ok(false); // Purged with everything else.
    };
    if tenant.retention.legal_hold {
        tracing::info!(tenant_id = %purge.tenant, "Meta data kept under the tenant's legal hold");
        return Ok(false);
    }
    let connected_before = match purge.integration {
        Integration::WhatsApp => deps
            .connections
            .whatsapp_connection(&purge.tenant)
            .await
            .map_err(|e| failed("reading a connection", &e))?
            .map(|c| (c.phone_number_id, c.connected_at)),
        Integration::LeadAds => deps
            .connections
            .page_connection(&purge.tenant)
            .await
            .map_err(|e| failed("reading a connection", &e))?
            .map(|c| (c.page_id, c.connected_at)),
    }
    .is_some_and(|(id, at)| id == purge.source_id && at < purge.disconnected_at);
    Ok(!connected_before)
}

/// Deletes the tenant's conversations begun before the disconnection; `false` when the
/// deadline came first.
pub(crate) async fn purge_conversations<A: Adapters>(
    deps: &Deps<A>,
    purge: &MetaPurge,
    deadline: Deadline,
    report: &mut TaskReport,
) -> Result<bool, RunError> {
    let every = ConversationFilter::default();
    let mut after: Option<String> = None;
    loop {
        let page = deps
            .conversations
            .conversations(&purge.tenant, None, &every, after.as_deref(), 100)
            .await
            .map_err(|e| failed("listing conversations", &e))?;
        for conversation in page.items.iter().filter(|c| c.started_at <= purge.disconnected_at.as_millis()) {
            // P52: before it goes (a failure leaves it listed for the next run).
            shared::app::analytics::before_removal(
                &deps.events,
                &purge.tenant,
                conversation,
                deps.clock.now(),
            )
            .await
            .map_err(|e| failed("anonymizing a conversation's events", &e))?;
            loop {
                if deadline.passed() {
                    return Ok(false);
                }
                match deps
                    .lifecycle
                    .delete_conversation(&purge.tenant, &conversation.id, ERASE_BUDGET)
                    .await
                    .map_err(|e| failed("deleting a conversation", &e))?
                {
                    Expiry::Deleted(counts) => {
                        report.items += counts.total();
                        break;
                    }
                    Expiry::Partial(counts) => report.items += counts.total(),
                    Expiry::NotDue => break,
                }
            }
        }
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(true),
        }
    }
}

/// Deletes the leads of the disconnected Page received before the disconnection; `false` when
/// the deadline came first.
pub(crate) async fn purge_leads<A: Adapters>(
    deps: &Deps<A>,
    purge: &MetaPurge,
    deadline: Deadline,
    report: &mut TaskReport,
) -> Result<bool, RunError> {
    let every = LeadFilter::default();
    let mut after: Option<String> = None;
    loop {
        if deadline.passed() {
            return Ok(false);
        }
        let page = deps
            .leads
            .leads(&purge.tenant, &every, after.as_deref(), 100)
            .await
            .map_err(|e| failed("listing leads", &e))?;
        for lead in page.items.iter().filter(|l| {
            l.page_id.as_deref() == Some(purge.source_id.as_str())
                && l.received_at <= purge.disconnected_at.as_millis()
        }) {
            if deps
                .lifecycle
                .delete_lead(&purge.tenant, &lead.id)
                .await
                .map_err(|e| failed("deleting a lead", &e))?
            {
                report.items += 1;
            }
        }
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(true),
        }
    }
}

/// Purges closed tenants whose grace period is over (P53): everything in their partition, their
/// routing and queue entries. A tenant reopened meanwhile is left alone, one closed again later
/// is re-queued for its new date.
pub(crate) async fn purge_closed_tenants<A: Adapters>(
    deps: &Deps<A>,
    deadline: Deadline,
) -> Result<(TaskReport, bool), RunError> {
    let mut report = TaskReport { name: "purge_closed_tenants".to_owned(), finished: 0, items: 0 };
    let now = deps.clock.now();
    let due = deps.purges.due_purges(now, 25).await.map_err(|e| failed("reading the purge queue", &e))?;
    for tenant in due {
        let record = deps.tenants.tenant(&tenant).await.map_err(|e| failed("reading a tenant", &e))?;
        // No record: a purge that stopped half-way (the tenant item goes early) — finish it.
        if let Some(record) = record {
            match record.closed_at.filter(|_| record.status == TenantStatus::Closed) {
                None => {
                    deps.purges.cancel_purge(&tenant).await.map_err(|e| failed("dequeueing a purge", &e))?;
                    continue;
                }
                Some(closed_at)
                    if closed_at.as_millis() + CLOSURE_GRACE_DAYS * 86_400_000 > now.as_millis() =>
                {
                    let due = Timestamp::from_millis(closed_at.as_millis() + CLOSURE_GRACE_DAYS * 86_400_000);
                    deps.purges
                        .queue_purge(&tenant, due)
                        .await
                        .map_err(|e| failed("re-queueing a purge", &e))?;
                    continue;
                }
                Some(_) => {}
            }
        }
        loop {
            if deadline.passed() {
                return Ok((report, false));
            }
            let deleted = deps
                .purges
                .purge_tenant(&tenant, PURGE_BUDGET)
                .await
                .map_err(|e| failed("purging a tenant", &e))?;
            report.items += deleted;
            if deleted == 0 {
                break;
            }
        }
        deps.purges.cancel_purge(&tenant).await.map_err(|e| failed("dequeueing a purge", &e))?;
        tracing::info!(tenant_id = %tenant, "Closed tenant purged after its grace period");
        report.finished += 1;
    }
    Ok((report, true))
}
