//! Typed configuration from the environment, failing fast with the name of what is missing.
//!
//! Functions read their settings through a lookup closure (`std::env::var` in `main`, a map in
//! tests), so configuration parsing is tested without touching the process environment.

use std::str::FromStr;
use std::time::Duration;

use aws_credential_types::provider::SharedCredentialsProvider;
use aws_credential_types::Credentials;

use crate::adapters::http::SdkHttpClient;

use crate::domain::ai::AiProviders;
use crate::domain::Secret;

/// `url` without a trailing slash, if it is `https://` (P19) or plain `http://` on loopback.
fn checked_url(name: &'static str, url: &str) -> Result<String, ConfigError> {
    let url = url.trim().trim_end_matches('/').to_owned();
    let loopback = ["http://127.0.0.1:", "http://127.0.0.1/", "http://localhost:", "http://localhost/"]
        .iter()
        .any(|prefix| url.starts_with(prefix));
    if url.starts_with("https://") || loopback {
        Ok(url)
    } else {
        Err(ConfigError::Invalid {
            name,
            reason: "must be an https:// URL (http:// only on loopback)".to_owned(),
        })
    }
}

/// Why the configuration could not be read. The message names the variable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A required variable is unset or empty.
    #[error("missing environment variable {0}")]
    Missing(&'static str),
    /// A variable is set but unusable.
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid {
        /// The variable.
        name: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

/// Reads variables through a lookup function.
#[derive(Debug, Clone, Copy)]
pub struct Env<F>(pub F);

impl Env<fn(&str) -> Option<String>> {
    /// The process environment.
    #[must_use]
    pub fn process() -> Self {
        Self(|name| std::env::var(name).ok())
    }
}

impl<F: Fn(&str) -> Option<String>> Env<F> {
    /// A variable that must be set and non-empty.
    ///
    /// # Errors
    /// [`ConfigError::Missing`] naming it.
    pub fn required(&self, name: &'static str) -> Result<String, ConfigError> {
        (self.0)(name).filter(|v| !v.trim().is_empty()).ok_or(ConfigError::Missing(name))
    }

    /// A variable that may be unset.
    #[must_use]
    pub fn optional(&self, name: &'static str) -> Option<String> {
        (self.0)(name).filter(|v| !v.trim().is_empty())
    }

    /// A required secret (kept out of `Debug`).
    ///
    /// # Errors
    /// [`ConfigError::Missing`] naming it.
    pub fn secret(&self, name: &'static str) -> Result<Secret, ConfigError> {
        self.required(name).map(Secret::new)
    }

    /// A URL that must be `https://` (P19: TLS to every outside service); plain `http://` is
    /// accepted only on the loopback interface, where the local stack's sandbox runs.
    ///
    /// # Errors
    /// [`ConfigError::Missing`]; [`ConfigError::Invalid`] for any other scheme or host.
    pub fn https_url(&self, name: &'static str) -> Result<String, ConfigError> {
        checked_url(name, &self.required(name)?)
    }

    /// The AI providers the deployment offers (`AI_PROVIDERS`, P31): `name=base_url` pairs
    /// separated by commas, each URL as for [`Env::https_url`]; none when unset (then no tenant
    /// can connect one, and nothing is ever sent to an AI provider).
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming the bad entry.
    pub fn ai_providers(&self, name: &'static str) -> Result<AiProviders, ConfigError> {
        let Some(spec) = self.optional(name) else { return Ok(AiProviders::default()) };
        let mut pairs = Vec::new();
        for entry in spec.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let invalid =
                |reason: &str| ConfigError::Invalid { name, reason: format!("{entry:?}: {reason}") };
            let (provider, url) = entry.split_once('=').ok_or_else(|| invalid("expected name=https://…"))?;
            let provider = provider.trim();
            let name_ok = (1..=32).contains(&provider.len())
                && provider
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-'));
            if !name_ok {
                return Err(invalid("the name must be 1 to 32 of a-z, 0-9, _ and -"));
            }
            pairs.push((provider.to_owned(), checked_url(name, url)?));
        }
        Ok(AiProviders::new(pairs))
    }

    /// A parsed variable with a default when unset.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] when set but not parseable.
    pub fn parsed_or<T>(&self, name: &'static str, default: T) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        match self.optional(name) {
            None => Ok(default),
            Some(raw) => {
                raw.trim().parse().map_err(|e: T::Err| ConfigError::Invalid { name, reason: e.to_string() })
            }
        }
    }
}

/// The SDK behavior version every client uses, pinned: `latest()` would change retry, timeout
/// and checksum defaults silently with a lock-file update. Move it deliberately, with a test run.
#[must_use]
pub fn aws_behavior_version() -> aws_config::BehaviorVersion {
    aws_config::BehaviorVersion::v2026_01_12()
}

/// The SDK's connect timeout, as its default configuration has it.
const AWS_CONNECT_TIMEOUT: Duration = Duration::from_millis(3100);

/// The shared AWS SDK configuration, from what Lambda puts in a function's environment: the
/// region (`AWS_REGION`, or `AWS_DEFAULT_REGION`), the execution role's credentials
/// (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`), and `AWS_ENDPOINT_URL`
/// when set (the local stack points it at moto), so production code has no local-mode branch.
/// Calls go through the process's one HTTP client ([`SdkHttpClient`]); retries, connect timeout
/// and the credentials cache are the SDK's defaults for [`aws_behavior_version`] (its clients
/// add Tokio's sleep and the system clock themselves).
///
/// Only these, not the SDK's default chain: its profile files, SSO, web identity, container and
/// instance-metadata providers have nothing to find in a Lambda function (the role's
/// credentials are in the environment for the life of the process), and linking them, with the
/// STS client they need, took ~0.26 MB of every function's binary, and resolving it was work at
/// every start (docs/performance.md, "Zip sizes", "Init time and idle memory").
///
/// # Errors
/// [`ConfigError::Missing`] naming the region or credential variable that is not set.
pub fn aws_sdk_config<F: Fn(&str) -> Option<String>>(
    env: &Env<F>,
) -> Result<aws_config::SdkConfig, ConfigError> {
    let region = env.optional("AWS_REGION").or_else(|| env.optional("AWS_DEFAULT_REGION"));
    let region = region.ok_or(ConfigError::Missing("AWS_REGION"))?;
    let credentials = Credentials::new(
        env.required("AWS_ACCESS_KEY_ID")?,
        env.required("AWS_SECRET_ACCESS_KEY")?,
        env.optional("AWS_SESSION_TOKEN"),
        None,
        "environment",
    );
    let mut sdk = aws_config::SdkConfig::builder()
        .behavior_version(aws_behavior_version())
        .region(aws_config::Region::new(region.trim().to_owned()))
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .identity_cache(aws_config::identity::IdentityCache::lazy().build())
        .retry_config(aws_config::retry::RetryConfig::standard())
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder().connect_timeout(AWS_CONNECT_TIMEOUT).build(),
        )
        .http_client(SdkHttpClient::shared());
    if let Some(endpoint) = env.optional("AWS_ENDPOINT_URL") {
        sdk = sdk.endpoint_url(endpoint.trim());
    }
    Ok(sdk.build())
}

/// The SDK configuration of the local stack and the tests: moto (or the stack's recorder in
/// front of it) at `endpoint`, `us-east-1` and the fixed credentials moto accepts, made by
/// [`aws_sdk_config`] from these variables, as a function makes its own.
///
/// # Errors
/// None in practice (every variable [`aws_sdk_config`] requires is given); its [`ConfigError`].
pub fn local_aws_sdk_config(endpoint: &str) -> Result<aws_config::SdkConfig, ConfigError> {
    aws_sdk_config(&Env(|name: &str| match name {
        "AWS_REGION" => Some("us-east-1".to_owned()),
        "AWS_ACCESS_KEY_ID" | "AWS_SECRET_ACCESS_KEY" => Some("test".to_owned()),
        "AWS_ENDPOINT_URL" => Some(endpoint.to_owned()),
        _ => None,
    }))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env<impl Fn(&str) -> Option<String>> {
        let map: HashMap<String, String> =
            pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        Env(move |name: &str| map.get(name).cloned())
    }

    #[test]
    fn missing_variable_is_named() {
        let env = env(&[("EMPTY", " ")]);
        assert_eq!(env.required("TABLE_NAME"), Err(ConfigError::Missing("TABLE_NAME")));
        assert_eq!(env.required("EMPTY"), Err(ConfigError::Missing("EMPTY")));
    }

    #[test]
    fn outside_urls_must_be_https() {
        let env = env(&[
            ("GOOD", "https://graph.facebook.com/"),
            ("LOCAL", "http://127.0.0.1:8080/_sandbox/graph"),
            ("PLAIN", "http://graph.facebook.com"),
            ("SNEAKY", "http://127.0.0.1.evil.example"),
        ]);
        assert_eq!(env.https_url("GOOD").as_deref(), Ok("https://graph.facebook.com"));
        assert!(env.https_url("LOCAL").is_ok());
        assert!(matches!(env.https_url("PLAIN"), Err(ConfigError::Invalid { .. })));
        assert!(matches!(env.https_url("SNEAKY"), Err(ConfigError::Invalid { .. })));
    }

    #[test]
    fn ai_providers_are_named_https_urls_and_none_when_unset() {
        let env = env(&[
            ("GOOD", "openai=https://api.openai.com/v1/, local=http://127.0.0.1:9/ai/v1"),
            ("PLAIN", "openai=http://api.openai.com/v1"),
            ("UNNAMED", "https://api.openai.com/v1"),
            ("BAD_NAME", "Open AI=https://api.openai.com/v1"),
        ]);
        let providers = env.ai_providers("GOOD").unwrap();
        assert_eq!(providers.names(), ["local", "openai"]);
        assert_eq!(providers.base_url("openai"), Some("https://api.openai.com/v1"));
        assert_eq!(env.ai_providers("UNSET"), Ok(AiProviders::default()));
        for name in ["PLAIN", "UNNAMED", "BAD_NAME"] {
            assert!(matches!(env.ai_providers(name), Err(ConfigError::Invalid { .. })), "{name}");
        }
    }

    #[test]
    fn parsed_values_default_and_reject_garbage() {
        let env = env(&[("N", "12"), ("BAD", "twelve")]);
        assert_eq!(env.parsed_or("N", 1_u32), Ok(12));
        assert_eq!(env.parsed_or("UNSET", 7_u32), Ok(7));
        assert!(matches!(env.parsed_or("BAD", 1_u32), Err(ConfigError::Invalid { name: "BAD", .. })));
    }

    #[test]
    fn the_sdk_configuration_comes_from_lambdas_variables_and_names_what_is_missing() {
        // Arrange
        let complete = [
            ("AWS_DEFAULT_REGION", "eu-west-1"),
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("AWS_SESSION_TOKEN", "token"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"),
        ];
        let without =
            |name: &str| env(&complete.iter().copied().filter(|(n, _)| *n != name).collect::<Vec<_>>());

        // Act
        let sdk = aws_sdk_config(&env(&complete)).expect("complete");
        let local = aws_sdk_config(&env(&[
            ("AWS_REGION", "us-east-1"),
            ("AWS_DEFAULT_REGION", "eu-west-1"),
            ("AWS_ACCESS_KEY_ID", "a"),
            ("AWS_SECRET_ACCESS_KEY", "b"),
        ]))
        .expect("complete");

        // Assert
        assert_eq!(sdk.region().map(|r| r.as_ref().to_owned()), Some("eu-west-1".to_owned()));
        assert_eq!(sdk.endpoint_url(), Some("http://127.0.0.1:5000"));
        assert!(sdk.http_client().is_some() && sdk.credentials_provider().is_some());
        assert_eq!(sdk.behavior_version(), Some(aws_behavior_version()));
        assert_eq!(
            local.region().map(|r| r.as_ref().to_owned()),
            Some("us-east-1".to_owned()),
            "AWS_REGION first"
        );
        assert_eq!(local.endpoint_url(), None);
        assert_eq!(
            aws_sdk_config(&without("AWS_DEFAULT_REGION")).err(),
            Some(ConfigError::Missing("AWS_REGION"))
        );
        assert_eq!(
            aws_sdk_config(&without("AWS_ACCESS_KEY_ID")).err(),
            Some(ConfigError::Missing("AWS_ACCESS_KEY_ID"))
        );
        assert_eq!(
            aws_sdk_config(&without("AWS_SECRET_ACCESS_KEY")).err(),
            Some(ConfigError::Missing("AWS_SECRET_ACCESS_KEY"))
        );
        assert!(aws_sdk_config(&without("AWS_SESSION_TOKEN")).is_ok(), "long-term keys have no token");
    }
}
