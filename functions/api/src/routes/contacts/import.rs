//! CSV import of contact lists as a job (P02): the request validates the whole file — nothing is
//! written unless every row is valid — then stages the rows sealed in chunks, queues one message
//! per chunk for the `import` function and answers 202 with the job; `GET /v1/imports/{id}`
//! shows its progress.

use lambda_http::http::{header, HeaderValue};
use shared::app::import::seal_rows;
use shared::domain::import::{self as jobs, ChunkMessage, ImportJob, ImportRow, ImportStore as _};
use shared::domain::ports::{Queue as _, QueueMessage};
use shared::domain::ImportId;

pub use shared::domain::import::RowError;

use super::*;

/// Largest number of data rows in one import (413 beyond; the body is capped at
/// [`crate::MAX_IMPORT_BYTES`] too).
pub const MAX_IMPORT_ROWS: u64 = 50_000;
/// How many row errors a refused file lists (the count covers them all).
pub const MAX_LISTED_ERRORS: usize = 100;

/// `202` to `POST /v1/contacts/import`.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ImportAccepted {
    /// The job: `GET /v1/imports/{id}` for its progress.
    #[serde(flatten)]
    pub job: ImportJob,
}

/// `422` to `POST /v1/contacts/import`: a problem with the file's row errors.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ImportRefused {
    /// The problem.
    #[serde(flatten)]
    pub problem: Problem,
    /// Rows refused.
    pub error_count: u64,
    /// The first refused rows (at most 100), by line.
    pub errors: Vec<RowError>,
}

/// `POST /v1/contacts/import?source=…` with a CSV body.
///
/// Columns (header row required, any order, case-insensitive): `phone`, `email`, `name`,
/// `tags`, `consent` (`opt_in`/`yes`/`true`/`1`, `opt_out`/`no`/`false`/`0`, or empty), and
/// `attr.<name>` for custom attributes. Fields are separated by `,` or `;` (whichever the header
/// line uses); tags within a cell by the other one. A UTF-8 BOM is ignored. Each row names a
/// person by phone or email; the same person always maps to the same contact, so importing a
/// file again changes nothing. An import never opts a person back in after they opted out
/// themselves (such rows are reported by the job).
///
/// # Errors
/// 400 for a file without a usable header; 413 beyond [`MAX_IMPORT_ROWS`]; 422 with every
/// refused row (nothing written) when any row is invalid; 409 while another import of the
/// tenant runs.
pub async fn import<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let principal = ctx.tenant()?;
    let tenant = &principal.tenant_id;
    let source = text(ctx.query, "source", 64)?.unwrap_or_else(|| "import".to_owned());
    let rows = match parse(ctx.body)? {
        Ok(rows) => rows,
        Err(refusal) => return Ok(refusal),
    };
    if let Some(active) = deps.imports.active(tenant).await? {
        return Err(crate::errors::import_running(&active));
    }
    let now = deps.clock.now();
    let chunks = jobs::chunks(&rows).map_err(anyhow::Error::new)?;
    let mut sealed = Vec::with_capacity(chunks.len());
    for chunk in &chunks {
        sealed.push(seal_rows(&deps.vault, tenant, chunk).await?);
    }
    let id = ImportId::generate(now)?;
    let count = u32::try_from(chunks.len()).map_err(anyhow::Error::new)?;
    let job = ImportJob::queued(id.clone(), source, rows.len() as u64, count, now);
    deps.imports.stage(tenant, &job, &sealed, now).await?;
    let messages: Vec<QueueMessage> = (0..count)
        .map(|chunk| {
            let message = ChunkMessage { tenant_id: tenant.clone(), import_id: id.clone(), chunk };
            Ok(QueueMessage {
                body: serde_json::to_string(&message)?,
                group_id: Some(id.to_string()),
                dedup_id: Some(format!("{id}:{chunk}")),
            })
        })
        .collect::<Result<_, serde_json::Error>>()
        .map_err(anyhow::Error::new)?;
    if let Err(error) = deps.import_queue.send_batch(&messages).await {
        // The job can never finish: end it, so that it frees the tenant's slot.
        if let Err(error) =
            deps.imports.fail(tenant, &id, "the job could not be queued", deps.clock.now()).await
        {
            tracing::error!(error = format!("{error:#}"), "Unqueued import not ended");
        }
        return Err(anyhow::Error::new(error).into());
    }
    tracing::info!(rows = job.rows, chunks = count, import_id = %id, "Contact import queued");
    deps.audit(principal, "contact.import", target("import", id.to_string()), |e| e.with_count(job.rows))
        .await;
    let mut response = json_response(StatusCode::ACCEPTED, &ImportAccepted { job });
    if let Ok(location) = HeaderValue::from_str(&format!("/v1/imports/{id}")) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// `GET /v1/imports/{import_id}`: the job's progress, counts and row errors.
///
/// # Errors
/// 404 for an unknown (or another tenant's, or expired) job.
pub async fn import_job<A: Adapters>(ctx: Ctx<'_>, deps: &Deps<A>) -> Result<Response<Body>, ApiError> {
    let principal = ctx.tenant()?;
    let not_found = || ApiError::from(Problem::not_found("no such import"));
    let id = ImportId::parse(ctx.param("import_id")).map_err(|_| not_found())?;
    let job = deps.imports.job(&principal.tenant_id, &id).await?.ok_or_else(not_found)?;
    Ok(json_response(StatusCode::OK, &job))
}

/// Reads and checks the whole file: its rows, or the 422 that lists the refused ones.
fn parse(body: &[u8]) -> Result<Result<Vec<ImportRow>, Response<Body>>, ApiError> {
    let body = body.strip_prefix("\u{feff}".as_bytes()).unwrap_or(body);
    let delimiter = delimiter(body);
    let mut reader =
        csv::ReaderBuilder::new().delimiter(delimiter).flexible(true).trim(csv::Trim::All).from_reader(body);
    let header =
        reader.headers().map_err(|e| bad(format!("the first line must be a CSV header: {e}")))?.clone();
    let columns = Columns::of(&header, if delimiter == b';' { ',' } else { ';' }).map_err(bad)?;
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    let mut error_count = 0u64;
    let mut data_rows = 0u64;
    let mut record = csv::StringRecord::new();
    loop {
        let line = reader.position().line();
        let outcome = match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) if record.iter().all(str::is_empty) => continue,
            Ok(true) => columns.row(line, &record),
            Err(e) => Err((None, format!("unreadable CSV: {e}"))),
        };
        data_rows += 1;
        if data_rows > MAX_IMPORT_ROWS {
            return Err(too_many_rows());
        }
        match outcome {
            Ok(row) => rows.push(row),
            Err((column, reason)) => {
                error_count += 1;
                if errors.len() < MAX_LISTED_ERRORS {
                    errors.push(RowError { line, column, reason });
                }
            }
        }
    }
    if error_count > 0 {
        let problem = Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-rows",
            "Invalid rows",
            format!("{error_count} rows are invalid; nothing was imported"),
        );
        let mut response =
            json_response(StatusCode::UNPROCESSABLE_ENTITY, &ImportRefused { problem, error_count, errors });
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        return Ok(Err(response));
    }
    if rows.is_empty() {
        return Err(bad("the file has no data rows"));
    }
    Ok(Ok(rows))
}

fn too_many_rows() -> ApiError {
    ApiError(Problem::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload-too-large",
        "Payload too large",
        format!("at most {MAX_IMPORT_ROWS} rows per import; split the file"),
    ))
}

/// `;` when the header line has more semicolons than commas outside quotes, else `,`.
fn delimiter(body: &[u8]) -> u8 {
    let (mut commas, mut semicolons, mut quoted) = (0usize, 0usize, false);
    for byte in body {
        match byte {
            b'\n' | b'\r' if !quoted => break,
            b'"' => quoted = !quoted,
            b',' if !quoted => commas += 1,
            b';' if !quoted => semicolons += 1,
            _ => {}
        }
    }
    if semicolons > commas {
        b';'
    } else {
        b','
    }
}

/// Where each known column is.
struct Columns {
    phone: Option<usize>,
    email: Option<usize>,
    name: Option<usize>,
    tags: Option<usize>,
    consent: Option<usize>,
    attributes: Vec<(String, usize)>,
    tag_separator: char,
}

impl Columns {
    fn of(header: &csv::StringRecord, tag_separator: char) -> Result<Self, String> {
        let mut columns = Self {
            phone: None,
            email: None,
            name: None,
            tags: None,
            consent: None,
            attributes: Vec::new(),
            tag_separator,
        };
        for (index, raw) in header.iter().enumerate() {
            let name = raw.trim().to_lowercase();
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

    fn row(&self, line: u64, record: &csv::StringRecord) -> Result<ImportRow, (Option<String>, String)> {
        let cell = |index: Option<usize>| index.and_then(|i| record.get(i)).filter(|v| !v.is_empty());
        fn fail(column: &'static str) -> impl Fn(String) -> (Option<String>, String) {
            move |reason| (Some(column.to_owned()), reason)
        }
        let phone = cell(self.phone).map(phone).transpose().map_err(fail("phone"))?;
        let email = cell(self.email).map(email).transpose().map_err(fail("email"))?;
        let name = cell(self.name).map(contact_name).transpose().map_err(fail("name"))?;
        if phone.is_none() && email.is_none() {
            return Err((Some("phone".to_owned()), "a row needs a phone or an email".to_owned()));
        }
        let tags = tags(
            cell(self.tags)
                .map(|t| t.split(self.tag_separator).map(str::to_owned).collect::<Vec<_>>())
                .unwrap_or_default(),
        )
        .map_err(fail("tags"))?;
        let consent = match cell(self.consent).map(str::to_lowercase).as_deref() {
            None => None,
            Some("opt_in" | "yes" | "true" | "1" | "y") => Some(ConsentKind::OptIn),
            Some("opt_out" | "no" | "false" | "0" | "n") => Some(ConsentKind::OptOut),
            Some(_) => {
                return Err((Some("consent".to_owned()), "use opt_in, opt_out or leave empty".to_owned()))
            }
        };
        let attributes = attributes(
            self.attributes
                .iter()
                .filter_map(|(name, index)| cell(Some(*index)).map(|v| (name.clone(), v.to_owned())))
                .collect(),
        )
        .map_err(fail("attributes"))?;
        let row = ImportRow { line, phone, email, name, tags, attributes, consent };
        if serde_json::to_vec(&row).map_or(true, |json| json.len() > jobs::ROW_BYTES) {
            return Err((None, format!("a row holds at most {} KB", jobs::ROW_BYTES / 1024)));
        }
        Ok(row)
    }
}

/// The CSV import reader under the stable fuzzer (`shared::testing::fuzz`): no file panics it.
/// A smoke on every `cargo test`; `infra/fuzz.sh` runs the long one.
#[cfg(test)]
mod fuzz_tests {
    use shared::testing::fuzz;

    fn seeds() -> Vec<Vec<u8>> {
        [
            "phone,name,tags,consent,email,attr.city\n+5511988880001,Ana,vip;new,yes,ana@example.com,Recife\n5511988880002,\"Souza, B\",,opt_out,,\n",
            "\u{feff}phone;name;tags\r\n5511988880003;Carla;a,b\r\n\r\n5511988880004;\"Dé \"\"D\"\"\";\n",
            "email\nx@example.com\n\"y@example.com\"\n",
            "Phone , Name\n 5511988880005 , =cmd\n",
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect()
    }

    fn dictionary() -> Vec<Vec<u8>> {
        [
            "phone", "email", "name", "tags", "consent", "attr.", "opt_in", "opt_out", "+55", "@", "\"", ";",
            ",",
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect()
    }

    fn target(input: &[u8]) {
        let _ = super::parse(input);
    }

    #[test]
    fn fuzz_csv_import_smoke() {
        let report = fuzz::run("csv_import", &seeds(), &dictionary(), 3_000, target);
        assert_eq!(report.executions, 3_000);
    }

    #[test]
    #[ignore = "long: infra/fuzz.sh"]
    fn fuzz_csv_import_long() {
        let report =
            fuzz::run("csv_import", &seeds(), &dictionary(), fuzz::executions_from_env(10_000_000), target);
        eprintln!("fuzz csv_import: {report}");
    }
}
