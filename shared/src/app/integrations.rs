//! Disconnecting a Meta integration (P54): routing stops at once, so nothing more is collected,
//! and unless the tenant's legal hold is on, what was received through the integration is
//! queued for deletion by the next retention run.

use crate::domain::ports::{ConnectionStore, TenantStore};
use crate::domain::privacy::{Integration, MetaPurge, PurgeStore};
use crate::domain::{Clock, TenantId};

/// What [`disconnect`] did with the data received through the integration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Disconnected {
    /// True when the tenant's legal hold kept the data (no deletion queued).
    pub held: bool,
}

impl Disconnected {
    /// What became of the data, as the audit trail records it (`data=…`).
    #[must_use]
    pub const fn data_field(self) -> &'static str {
        if self.held {
            "data=kept_under_legal_hold"
        } else {
            "data=deletion_queued"
        }
    }
}

/// Errors of [`disconnect`].
#[derive(Debug, thiserror::Error)]
pub enum DisconnectError {
    /// The integration is not connected (or the tenant is gone).
    #[error("{} is not connected", .0.as_str())]
    NotConnected(Integration),
    /// A store failed.
    #[error("disconnecting the integration failed")]
    Unknown(#[from] anyhow::Error),
}

fn unknown(error: impl Into<anyhow::Error>) -> DisconnectError {
    DisconnectError::Unknown(error.into())
}

/// Disconnects `integration` from `tenant`. The purge is queued before the disconnection is
/// written, so that no disconnection is left without one; the retention run drops it if the
/// integration turns out to be still connected as before.
///
/// # Errors
/// [`DisconnectError::NotConnected`]; [`DisconnectError::Unknown`] when a store fails.
pub async fn disconnect<N, K, P, C>(
    tenants: &N,
    connections: &K,
    purges: &P,
    clock: &C,
    tenant: &TenantId,
    integration: Integration,
) -> Result<Disconnected, DisconnectError>
where
    N: TenantStore,
    K: ConnectionStore,
    P: PurgeStore,
    C: Clock,
{
    let source_id = match integration {
        Integration::WhatsApp => {
            connections.whatsapp_connection(tenant).await.map_err(unknown)?.map(|c| c.phone_number_id)
        }
        Integration::LeadAds => {
            connections.page_connection(tenant).await.map_err(unknown)?.map(|c| c.page_id)
        }
    };
    let source_id = source_id.ok_or(DisconnectError::NotConnected(integration))?;
    let record =
        tenants.tenant(tenant).await.map_err(unknown)?.ok_or(DisconnectError::NotConnected(integration))?;
    let held = record.retention.legal_hold;
    if !held {
        let purge =
            MetaPurge { tenant: tenant.clone(), integration, source_id, disconnected_at: clock.now() };
        purges.queue_meta_purge(&purge).await.map_err(unknown)?;
    }
    let disconnected = match integration {
        Integration::WhatsApp => connections.disconnect_whatsapp(tenant).await.map_err(unknown)?,
        Integration::LeadAds => connections.disconnect_page(tenant).await.map_err(unknown)?,
    };
    if !disconnected {
        return Err(DisconnectError::NotConnected(integration));
    }
    tracing::info!(integration = integration.as_str(), held, "Integration disconnected");
    Ok(Disconnected { held })
}
