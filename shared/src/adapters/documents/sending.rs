//! [`TemplateStore`] and [`QualityMeter`] on the document table: synced templates and sending counters.

use super::*;

// ---------------------------------------------------------------------------------------------
// Templates
// ---------------------------------------------------------------------------------------------

/// [`TemplateStore`] on a [`DocTable`].
#[derive(Debug, Clone)]
pub struct DocTemplates<D> {
    table: D,
}

impl<D: DocTable> TemplateStore for DocTemplates<D> {
    async fn replace_templates(
        &self,
        tenant: &TenantId,
        templates: &[Template],
    ) -> Result<(), TemplateError> {
        let now = self.table.now();
        let current = self.templates(tenant).await?;
        let mut writes = Vec::new();
        for gone in
            current.iter().filter(|c| !templates.iter().any(|t| t.name == c.name && t.language == c.language))
        {
            writes.push(DocWrite::Delete {
                key: keys::template(tenant, &gone.name, &gone.language),
                precondition: Precondition::None,
            });
        }
        for template in templates {
            writes.push(DocWrite::Put {
                key: keys::template(tenant, &template.name, &template.language),
                entity: "template",
                body: to_json(template)?,
                expires_at: None,
                precondition: Precondition::None,
            });
        }
        // One write at a time: a sync is idempotent, so a partial one is completed by the next.
        for write in writes {
            self.table.write_docs(vec![write], now).await.map_err(|e| TemplateError::Unknown(e.into()))?;
        }
        Ok(())
    }

    async fn template(
        &self,
        tenant: &TenantId,
        name: &str,
        language: &str,
    ) -> Result<Option<Template>, TemplateError> {
        let doc = self.table.get_doc(&keys::template(tenant, name, language), self.table.now()).await?;
        Ok(doc.as_ref().map(from_json).transpose()?.map(|v| v.value))
    }

    async fn templates(&self, tenant: &TenantId) -> Result<Vec<Template>, TemplateError> {
        let docs = all_docs(&self.table, &keys::tenant_partition(tenant), keys::TEMPLATE_PREFIX).await?;
        let mut templates: Vec<Template> =
            docs.iter().map(|doc| from_json(doc).map(|v| v.value)).collect::<Result<_, _>>()?;
        templates.sort_by(|a, b| (&a.name, &a.language).cmp(&(&b.name, &b.language)));
        Ok(templates)
    }
}

// ---------------------------------------------------------------------------------------------
// Quality counters
// ---------------------------------------------------------------------------------------------

/// [`QualityMeter`] on a [`DocTable`]: one counter item per tenant, month and metric.
#[derive(Debug, Clone)]
pub struct DocQuality<D> {
    table: D,
}

impl<D: DocTable> QualityMeter for DocQuality<D> {
    async fn count(&self, tenant: &TenantId, metric: &str, now: Timestamp) -> Result<(), QualityError> {
        // Kept 400 days: a year of months stays readable.
        let expires = ExpiresAt::after(now, std::time::Duration::from_secs(400 * 86_400));
        self.table.increment(&keys::quality(tenant, &now.utc_month(), metric), expires).await?;
        Ok(())
    }

    async fn month(
        &self,
        tenant: &TenantId,
        month: &str,
    ) -> Result<std::collections::BTreeMap<String, u64>, QualityError> {
        let prefix = keys::quality_prefix(month);
        let counters =
            self.table.counters(&keys::tenant_partition(tenant), &prefix, self.table.now()).await?;
        Ok(counters
            .into_iter()
            .filter_map(|(sk, count)| sk.strip_prefix(&prefix).map(|metric| (metric.to_owned(), count)))
            .collect())
    }
}

impl<D> DocTemplates<D> {
    /// The store on `table`.
    #[must_use]
    pub fn new(table: D) -> Self {
        Self { table }
    }
}

impl<D> DocQuality<D> {
    /// The meter on `table`.
    #[must_use]
    pub fn new(table: D) -> Self {
        Self { table }
    }
}
