//! CSV import of contact lists: streamed row by row, each row created or merged, errors reported by line.

use super::*;

/// The result of an import.
#[derive(Debug, Default, Serialize, schemars::JsonSchema)]
pub struct ImportReport {
    /// Data rows read.
    pub rows: u64,
    /// Contacts created.
    pub created: u64,
    /// Existing contacts changed.
    pub updated: u64,
    /// Rows that changed nothing (already imported).
    pub unchanged: u64,
    /// Rows refused.
    pub failed: u64,
    /// Why rows were refused (the first 1,000).
    pub errors: Vec<RowError>,
}

/// A refused row.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct RowError {
    /// The line in the file (the header is line 1).
    pub line: u64,
    /// The column at fault, when one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    /// Why.
    pub reason: String,
}

/// Largest number of data rows in one import.
pub const MAX_IMPORT_ROWS: u64 = 10_000;

/// `POST /v1/contacts/import?source=…` with a CSV body.
///
/// Columns (header row required, any order, case-insensitive): `phone`, `email`, `name`,
/// `tags` (separated by `;`), `consent` (`opt_in`/`yes`/`true`/`1`, `opt_out`/`no`/`false`/`0`,
/// or empty), and `attr.<name>` for custom attributes. Each row names a person by phone or email;
/// the same person always maps to the same contact, so importing a file again changes nothing.
/// An import never opts a person back in after they opted out themselves.
///
/// # Errors
/// 400 for a file without a usable header or with more than [`MAX_IMPORT_ROWS`] rows.
pub async fn import<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let principal = ctx.tenant()?;
    let source = text(ctx.query, "source", 64)?.unwrap_or_else(|| "import".to_owned());
    let mut reader = csv::ReaderBuilder::new().flexible(true).trim(csv::Trim::All).from_reader(ctx.body);
    let header =
        reader.headers().map_err(|e| bad(format!("the first line must be a CSV header: {e}")))?.clone();
    let columns = Columns::of(&header).map_err(bad)?;
    let mut report = ImportReport::default();
    let mut record = csv::StringRecord::new();
    loop {
        let line = reader.position().line();
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                report.refuse(line, None, format!("unreadable CSV: {e}"));
                continue;
            }
        }
        if record.iter().all(str::is_empty) {
            continue;
        }
        report.rows += 1;
        if report.rows > MAX_IMPORT_ROWS {
            return Err(bad(format!("at most {MAX_IMPORT_ROWS} rows per import; split the file")));
        }
        match columns.row(&record) {
            Err((column, reason)) => report.refuse(line, Some(column), reason),
            Ok(row) => match import_row(deps, principal, &row, &source).await {
                Ok(RowOutcome::Created) => report.created += 1,
                Ok(RowOutcome::Updated) => report.updated += 1,
                Ok(RowOutcome::Unchanged) => report.unchanged += 1,
                Err(RowFailure::Refused(column, reason)) => report.refuse(line, column, reason),
                Err(RowFailure::Failed(error)) => return Err(error),
            },
        }
    }
    tracing::info!(rows = report.rows, created = report.created, failed = report.failed, "Contacts imported");
    deps.audit(principal, "contact.import", target("contact", "*"), |e| {
        e.with_count(report.created + report.updated)
    })
    .await;
    Ok(json_response(StatusCode::OK, &report))
}

impl ImportReport {
    fn refuse(&mut self, line: u64, column: Option<String>, reason: String) {
        self.failed += 1;
        if self.errors.len() < 1000 {
            self.errors.push(RowError { line, column, reason });
        }
    }
}

/// Where each known column is.
pub(super) struct Columns {
    phone: Option<usize>,
    email: Option<usize>,
    name: Option<usize>,
    tags: Option<usize>,
    consent: Option<usize>,
    attributes: Vec<(String, usize)>,
}

/// One checked row.
pub(super) struct Row {
    profile: ContactProfile,
    tags: Vec<String>,
    attributes: BTreeMap<String, String>,
    consent: Option<ConsentKind>,
}

pub(super) enum RowOutcome {
    Created,
    Updated,
    Unchanged,
}

pub(super) enum RowFailure {
    Refused(Option<String>, String),
    Failed(ApiError),
}

impl<E: Into<ApiError>> From<E> for RowFailure {
    fn from(error: E) -> Self {
        Self::Failed(error.into())
    }
}

impl Columns {
    fn of(header: &csv::StringRecord) -> Result<Self, String> {
        let mut columns =
            Self { phone: None, email: None, name: None, tags: None, consent: None, attributes: Vec::new() };
        for (index, raw) in header.iter().enumerate() {
            let name = raw.trim_start_matches('\u{feff}').trim().to_lowercase();
            let slot = match name.as_str() {
                "phone" => &mut columns.phone,
                "email" => &mut columns.email,
                "name" => &mut columns.name,
                "tags" => &mut columns.tags,
                "consent" => &mut columns.consent,
                other => match other.strip_prefix("attr.") {
                    Some(attribute) if !attribute.is_empty() => {
                        columns.attributes.push((attribute.to_owned(), index));
                        continue;
                    }
                    _ => {
                        return Err(format!(
                            "unknown column {raw:?}: use phone, email, name, tags, consent or attr.<name>"
                        ))
                    }
                },
            };
            if slot.replace(index).is_some() {
                return Err(format!("column {name} appears twice"));
            }
        }
        if columns.phone.is_none() && columns.email.is_none() {
            return Err("the header needs a phone or an email column".to_owned());
        }
        Ok(columns)
    }

    fn row(&self, record: &csv::StringRecord) -> Result<Row, (String, String)> {
        let cell = |index: Option<usize>| index.and_then(|i| record.get(i)).filter(|v| !v.is_empty());
        fn fail(column: &'static str) -> impl Fn(String) -> (String, String) {
            move |reason| (column.to_owned(), reason)
        }
        let profile = ContactProfile {
            phone: cell(self.phone).map(phone).transpose().map_err(fail("phone"))?,
            email: cell(self.email).map(email).transpose().map_err(fail("email"))?,
            name: cell(self.name).map(contact_name).transpose().map_err(fail("name"))?,
            user_id: None,
        };
        if profile.phone.is_none() && profile.email.is_none() {
            return Err(("phone".to_owned(), "a row needs a phone or an email".to_owned()));
        }
        let tags = tags(
            cell(self.tags).map(|t| t.split(';').map(str::to_owned).collect::<Vec<_>>()).unwrap_or_default(),
        )
        .map_err(fail("tags"))?;
        let consent = match cell(self.consent).map(str::to_lowercase).as_deref() {
            None => None,
            Some("opt_in" | "yes" | "true" | "1" | "y") => Some(ConsentKind::OptIn),
            Some("opt_out" | "no" | "false" | "0" | "n") => Some(ConsentKind::OptOut),
            Some(_) => return Err(("consent".to_owned(), "use opt_in, opt_out or leave empty".to_owned())),
        };
        let attributes = attributes(
            self.attributes
                .iter()
                .filter_map(|(name, index)| cell(Some(*index)).map(|v| (name.clone(), v.to_owned())))
                .collect(),
        )
        .map_err(fail("attributes"))?;
        Ok(Row { profile, tags, attributes, consent })
    }
}

pub(super) async fn import_row<A: Adapters>(
    deps: &Deps<A>,
    principal: &TenantPrincipal,
    row: &Row,
    source: &str,
) -> Result<RowOutcome, RowFailure> {
    let tenant = &principal.tenant_id;
    if !exists(deps, principal, &row.profile).await? {
        if let Err(error) = within_contact_limit(deps, principal).await {
            return Err(RowFailure::Refused(None, error.0.detail));
        }
    }
    let (contact, stored) = deps.contacts.create_contact(tenant, &row.profile, deps.clock.now()).await?;
    let mut changed = match merge(deps, principal, &contact, row.tags.clone(), row.attributes.clone()).await {
        Ok(merged) => merged.is_some(),
        // Over a contact's cap once merged: this row is refused, the import goes on.
        Err(error @ InboxError::OverCap { what, .. }) => {
            return Err(RowFailure::Refused(Some(what.to_owned()), error.to_string()))
        }
        Err(error) => return Err(error.into()),
    };
    if let Some(kind) = row.consent {
        let current = contact.consent.as_ref();
        let opted_out_themselves =
            current.is_some_and(|c| c.state == ConsentKind::OptOut && c.source != ConsentSource::Import);
        if kind == ConsentKind::OptIn && opted_out_themselves {
            return Err(RowFailure::Refused(
                Some("consent".to_owned()),
                "the person opted out; an import cannot opt them back in".to_owned(),
            ));
        }
        if current.is_none_or(|c| c.state != kind) {
            let cause =
                format!("import:{source}:{}:{}", kind.as_str(), shared::domain::new_ulid(deps.clock.now())?);
            record_consent(deps, principal, &row.profile, kind, ConsentSource::Import, &cause).await?;
            changed = true;
        }
    }
    Ok(match (stored, changed) {
        (Stored::Created, _) => RowOutcome::Created,
        (Stored::Duplicate, true) => RowOutcome::Updated,
        (Stored::Duplicate, false) => RowOutcome::Unchanged,
    })
}
