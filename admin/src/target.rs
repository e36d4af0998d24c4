//! The stack a command acts on: the API's URL and the operator key, the AWS clients, the
//! queue and function names.

use anyhow::Context as _;
use serde_json::{json, Value};

use crate::cli::TargetArgs;
use crate::error::AdminError;
use crate::output::Output;

/// Where the operator key is read from when not `--local` (an environment variable, not a
/// flag: a flag would land in the shell history and the process list).
pub const OPERATOR_KEY_VAR: &str = "LEADLINE_OPERATOR_KEY";

/// The resolved target.
#[derive(Debug)]
pub struct Target {
    /// The tenant API's base URL, without a trailing `/`.
    pub api_url: Option<String>,
    /// The operator key.
    pub operator_key: Option<String>,
    /// The stack name (queue names).
    pub stack: String,
    /// The AWS endpoint override.
    pub endpoint_url: Option<String>,
    /// The retention function.
    pub retention_function: Option<String>,
    /// The local stack (its scheduler runs retention).
    pub local: bool,
}

impl Target {
    /// Reads `--local`'s `demo.json` (when given), the options and the environment.
    ///
    /// # Errors
    /// [`AdminError::Usage`] when `demo.json` cannot be read.
    pub fn resolve(args: TargetArgs) -> Result<Self, AdminError> {
        let mut target = Self {
            api_url: args.api_url,
            operator_key: std::env::var(OPERATOR_KEY_VAR).ok().filter(|key| !key.is_empty()),
            stack: args.stack,
            endpoint_url: args.endpoint_url,
            retention_function: args.retention_function,
            local: args.local.is_some(),
        };
        if let Some(state_dir) = args.local {
            let path = state_dir.join("demo.json");
            let text = std::fs::read_to_string(&path)
                .map_err(|e| AdminError::Usage(format!("--local: cannot read {}: {e}", path.display())))?;
            let demo: Value = serde_json::from_str(&text)
                .map_err(|e| AdminError::Usage(format!("--local: {} is not JSON: {e}", path.display())))?;
            // Options given explicitly win over the local stack's file.
            if target.api_url.is_none() {
                target.api_url = demo["base_url"].as_str().map(str::to_owned);
            }
            if target.operator_key.is_none() {
                target.operator_key = demo["operator_key"].as_str().map(str::to_owned);
            }
            // The stand-ins' endpoint, from `aws.json` (written before the functions start).
            let aws_path = state_dir.join("aws.json");
            if let Ok(text) = std::fs::read_to_string(&aws_path) {
                let aws: Value = serde_json::from_str(&text).map_err(|e| {
                    AdminError::Usage(format!("--local: {} is not JSON: {e}", aws_path.display()))
                })?;
                if target.endpoint_url.is_none() {
                    target.endpoint_url = aws["endpoint_url"].as_str().map(str::to_owned);
                }
            }
        }
        target.api_url = target.api_url.map(|url| url.trim_end_matches('/').to_owned());
        Ok(target)
    }

    /// The API's base URL.
    ///
    /// # Errors
    /// [`AdminError::Usage`] when none was given.
    pub fn api_url(&self) -> Result<&str, AdminError> {
        self.api_url.as_deref().ok_or_else(|| {
            AdminError::Usage("the API URL is needed: --api-url, LEADLINE_API_URL or --local".to_owned())
        })
    }

    /// The operator key.
    ///
    /// # Errors
    /// [`AdminError::Usage`] when none was given.
    pub fn operator_key(&self) -> Result<&str, AdminError> {
        self.operator_key.as_deref().ok_or_else(|| {
            AdminError::Usage(format!("the operator key is needed: {OPERATOR_KEY_VAR} or --local"))
        })
    }

    /// The SDK configuration: the standard chain (profiles and the rest: this runs on an
    /// operator's machine), over the functions' HTTP client, with the endpoint override when given.
    pub async fn aws(&self) -> aws_config::SdkConfig {
        let mut loader = aws_config::defaults(shared::config::aws_behavior_version())
            .http_client(shared::adapters::http::SdkHttpClient::shared());
        if let Some(endpoint) = &self.endpoint_url {
            loader = loader.endpoint_url(endpoint);
        }
        if self.local {
            // The local stand-ins take any credentials, and the stack lives in us-east-1.
            loader = loader.region("us-east-1").test_credentials();
        }
        loader.load().await
    }

    /// Runs the retention function now: the local stack's scheduler, or Lambda's Invoke.
    ///
    /// # Errors
    /// [`AdminError::Usage`] without a function name; [`AdminError::Unknown`] when the run
    /// failed.
    pub async fn run_retention(&self, out: &Output) -> Result<(), AdminError> {
        let report = if self.local {
            let url = format!("{}/_local/schedule/retention", self.api_url()?);
            let response =
                crate::api::http()?.post(&url).send().await.context("calling the local scheduler")?;
            let status = response.status();
            let body = response.text().await.context("reading the scheduler's answer")?;
            if !status.is_success() {
                return Err(anyhow::anyhow!("the retention run failed: HTTP {status}: {body}").into());
            }
            serde_json::from_str(&body).unwrap_or(Value::String(body))
        } else {
            let function = self.retention_function.as_deref().ok_or_else(|| {
                AdminError::Usage(
                    "the retention function is needed: --retention-function or LEADLINE_RETENTION_FUNCTION"
                        .to_owned(),
                )
            })?;
            let lambda = aws_sdk_lambda::Client::new(&self.aws().await);
            let answer = lambda
                .invoke()
                .function_name(function)
                .payload(aws_sdk_lambda::primitives::Blob::new(br#"{"job":"retention"}"#.to_vec()))
                .send()
                .await
                .map_err(|e| match e.as_service_error() {
                    Some(e) if e.is_resource_not_found_exception() => {
                        AdminError::NotFound(format!("function {function}"))
                    }
                    _ => {
                        AdminError::Unknown(anyhow::Error::new(e).context("invoking the retention function"))
                    }
                })?;
            let payload = answer.payload.map(|p| p.into_inner()).unwrap_or_default();
            let report: Value = serde_json::from_slice(&payload)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&payload).into_owned()));
            if let Some(error) = answer.function_error {
                return Err(anyhow::anyhow!("the retention run failed ({error}): {report}").into());
            }
            report
        };
        out.result(&json!({"retention": report}), || format!("Retention run done: {report}"));
        Ok(())
    }
}
