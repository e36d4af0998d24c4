//! Tenants and usage, through the tenant API with the operator key: the API applies the same
//! validation, plan bounds and audit trail as to any caller.

use anyhow::Context as _;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::cli::TenantsCommand;
use crate::error::AdminError;
use crate::output::{confirm, Output};
use crate::target::Target;

/// An HTTP client (TLS through the provider the functions use).
///
/// # Errors
/// When the client cannot be built.
pub fn http() -> Result<reqwest::Client, AdminError> {
    Ok(shared::adapters::http::client_builder()
        .timeout(std::time::Duration::from_secs(120))
        .build()
        .context("building the HTTP client")?)
}

/// Calls the API as the operator; the JSON answer, or the problem mapped to an exit code.
async fn call(target: &Target, method: Method, path: &str, body: Option<Value>) -> Result<Value, AdminError> {
    let url = format!("{}{path}", target.api_url()?);
    let mut request = http()?.request(method.clone(), &url).bearer_auth(target.operator_key()?);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.with_context(|| format!("{method} {url}"))?;
    let status = response.status();
    let text = response.text().await.context("reading the API's answer")?;
    let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    if status.is_success() {
        return Ok(value);
    }
    // A problem+json: its detail says why.
    let detail = value["detail"].as_str().or(value["title"].as_str()).unwrap_or(&text).to_owned();
    Err(match status {
        StatusCode::NOT_FOUND => AdminError::NotFound(detail),
        StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => AdminError::Usage(detail),
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN | StatusCode::CONFLICT | StatusCode::GONE => {
            AdminError::Refused(format!("{detail} (HTTP {})", status.as_u16()))
        }
        _ => AdminError::Unknown(anyhow::anyhow!("{method} {path}: HTTP {status}: {detail}")),
    })
}

/// A tenant id as it may appear in a path.
fn tenant_path(tenant: &str) -> Result<String, AdminError> {
    let id = shared::domain::TenantId::parse(tenant)
        .map_err(|e| AdminError::Usage(format!("{tenant:?} is not a tenant id: {e}")))?;
    Ok(format!("/v1/tenants/{id}"))
}

/// One line of a tenant, for text output.
fn tenant_line(tenant: &Value) -> String {
    format!(
        "{}  {:<6}  {}",
        tenant["id"].as_str().unwrap_or("?"),
        tenant["status"].as_str().unwrap_or("?"),
        tenant["name"].as_str().unwrap_or("")
    )
}

fn tenant_text(tenant: &Value) -> String {
    let plan = &tenant["plan"];
    let mut text = format!(
        "{}\n  plan: {} requests/min, {} contacts, {} users, {} messages/month",
        tenant_line(tenant),
        plan["requests_per_minute"],
        plan["contacts"],
        plan["users"],
        plan["messages_per_month"]
    );
    if let Some(until) = tenant["reopen_until"].as_i64() {
        text.push_str(&format!("\n  closed; can be reopened until {until} (epoch ms)"));
    }
    text
}

/// `tenants …`.
///
/// # Errors
/// As the API answers.
pub async fn tenants(target: &Target, command: TenantsCommand, out: &Output) -> Result<(), AdminError> {
    match command {
        TenantsCommand::List => {
            let mut items = Vec::new();
            let mut cursor: Option<String> = None;
            loop {
                let path = match &cursor {
                    Some(cursor) => format!("/v1/tenants?limit=100&cursor={cursor}"),
                    None => "/v1/tenants?limit=100".to_owned(),
                };
                let page = call(target, Method::GET, &path, None).await?;
                items.extend(page["items"].as_array().cloned().unwrap_or_default());
                match page["next"].as_str() {
                    Some(next) => cursor = Some(next.to_owned()),
                    None => break,
                }
            }
            let text = || items.iter().map(tenant_line).collect::<Vec<_>>().join("\n");
            out.result(&json!({"items": items}), text);
        }
        TenantsCommand::Show { tenant } => {
            let view = call(target, Method::GET, &tenant_path(&tenant)?, None).await?;
            out.result(&view, || tenant_text(&view));
        }
        TenantsCommand::Create { name } => {
            let body = name.map_or_else(|| json!({}), |name| json!({"name": name}));
            let created = call(target, Method::POST, "/v1/tenants", Some(body)).await?;
            out.result(&created, || {
                format!(
                    "Tenant {} created.\nIts first admin API key (shown this once; store it now):\n{}",
                    created["tenant_id"].as_str().unwrap_or("?"),
                    created["api_key"].as_str().unwrap_or("?")
                )
            });
        }
        TenantsCommand::SetPlan { tenant, requests_per_minute, contacts, users, messages_per_month } => {
            let path = tenant_path(&tenant)?;
            let changes = [
                ("requests_per_minute", requests_per_minute.map(u64::from)),
                ("contacts", contacts),
                ("users", users.map(u64::from)),
                ("messages_per_month", messages_per_month),
            ];
            if changes.iter().all(|(_, value)| value.is_none()) {
                return Err(AdminError::Usage("give at least one limit to change".to_owned()));
            }
            let mut plan = call(target, Method::GET, &path, None).await?["plan"].clone();
            if !plan.is_object() {
                return Err(anyhow::anyhow!("the API showed the tenant without a plan").into());
            }
            for (field, value) in changes {
                if let Some(value) = value {
                    plan[field] = json!(value);
                }
            }
            let view = call(target, Method::PUT, &format!("{path}/plan"), Some(plan)).await?;
            out.result(&view, || tenant_text(&view));
        }
        TenantsCommand::Close { tenant, yes } => {
            let path = tenant_path(&tenant)?;
            if !yes && !confirm(&format!("Close tenant {tenant}? Type its id to confirm:"), &tenant) {
                return Err(AdminError::Refused(
                    "not confirmed (type the tenant id, or pass --yes)".to_owned(),
                ));
            }
            let body = json!({"confirm_tenant_id": tenant});
            let view = call(target, Method::POST, &format!("{path}/close"), Some(body)).await?;
            out.result(&view, || tenant_text(&view));
        }
        TenantsCommand::Reopen { tenant } => {
            let view = call(target, Method::POST, &format!("{}/reopen", tenant_path(&tenant)?), None).await?;
            out.result(&view, || tenant_text(&view));
        }
    }
    Ok(())
}

/// `usage <tenant>`.
///
/// # Errors
/// As the API answers.
pub async fn usage(target: &Target, tenant: &str, out: &Output) -> Result<(), AdminError> {
    let usage = call(target, Method::GET, &format!("{}/usage", tenant_path(tenant)?), None).await?;
    out.result(&usage, || {
        format!(
            "contacts: {} of {}\nusers: {} of {}",
            usage["contacts"]["used"],
            usage["contacts"]["limit"],
            usage["users"]["used"],
            usage["users"]["limit"]
        )
    });
    Ok(())
}
