//! [`LivePush`] on API Gateway's Management API (`PostToConnection`).
//!
//! Kept in this crate rather than in `shared`: it is the only function that posts to
//! connections, and the Management API client would otherwise be linked into every function.

use aws_sdk_apigatewaymanagement::primitives::Blob;
use aws_sdk_apigatewaymanagement::Client;
use shared::domain::live::{LivePush, PushError};

/// The Management API of one WebSocket API stage.
#[derive(Debug, Clone)]
pub struct ManagementApi {
    client: Client,
}

impl ManagementApi {
    /// The client of the stage at `endpoint` (`https://<api id>.execute-api.<region>.amazonaws.com/<stage>`,
    /// or the local stack's address): the SDK posts to `<endpoint>/@connections/<id>`.
    #[must_use]
    pub fn new(sdk: &aws_config::SdkConfig, endpoint: &str) -> Self {
        let config = aws_sdk_apigatewaymanagement::config::Builder::from(sdk).endpoint_url(endpoint).build();
        Self { client: Client::from_conf(config) }
    }
}

impl LivePush for ManagementApi {
    async fn post(&self, connection_id: &str, data: &[u8]) -> Result<(), PushError> {
        let result =
            self.client.post_to_connection().connection_id(connection_id).data(Blob::new(data)).send().await;
        match result {
            Ok(_) => Ok(()),
            Err(error) if error.as_service_error().is_some_and(|e| e.is_gone_exception()) => {
                Err(PushError::Gone)
            }
            Err(error) => Err(PushError::Unknown(anyhow::Error::new(error).context("PostToConnection"))),
        }
    }
}
