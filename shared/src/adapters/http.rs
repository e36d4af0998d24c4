//! One HTTP stack per process: reqwest (hyper's HTTP/1.1 client, rustls on aws-lc-rs) carries
//! the Graph API, the AI providers and the AWS SDK's calls alike.
//!
//! The SDK would otherwise bring a client of its own — a second connection pool, HTTP/2 (`h2`
//! alone was 0.32 MB of `api`'s binary) and the system certificate store — for nothing these
//! functions use: DynamoDB, SQS, KMS and API Gateway's management API answer over HTTP/1.1, and
//! the SDK buffers the body of every operation we call (docs/performance.md, "Zip sizes").

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;

/// An HTTP client builder with TLS ready: installs aws-lc-rs as the process's rustls provider
/// (idempotent; a second install is refused and harmless), which reqwest needs before it
/// builds a client. It follows no redirect: the Graph API and AI provider clients carry a
/// token, and a redirect would hand it to wherever the `Location` points (AWS never redirects
/// these calls either).
pub fn client_builder() -> reqwest::ClientBuilder {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none())
}

/// The AWS SDK's HTTP client on reqwest: give it to the SDK configuration
/// (`SdkConfig::builder().http_client(...)`).
///
/// The SDK asks for a connector per set of timeouts ([`HttpConnectorSettings`]); each distinct
/// set gets one reqwest client, and so one connection pool, kept for the life of the process
/// (in practice there is one set). Request bodies must be in memory (every operation of the
/// clients we use sends JSON or a form); a streaming body is refused as a user error. Errors
/// are classified as the SDK's retry strategy expects: timeouts as timeouts, failures to
/// connect, send or read as I/O (retried), the rest as other errors (not retried).
#[derive(Debug, Clone, Default)]
pub struct SdkHttpClient {
    clients: Arc<Mutex<Vec<(Timeouts, reqwest::Client)>>>,
}

/// The settings a reqwest client is built with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Timeouts {
    connect: Option<Duration>,
    read: Option<Duration>,
}

impl SdkHttpClient {
    /// The client, shareable with every SDK client of the process.
    #[must_use]
    pub fn shared() -> SharedHttpClient {
        SharedHttpClient::new(Self::default())
    }

    fn client(&self, timeouts: Timeouts) -> Result<reqwest::Client, reqwest::Error> {
        let mut clients = self.clients.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, client)) = clients.iter().find(|(t, _)| *t == timeouts) {
            return Ok(client.clone());
        }
        let mut builder = client_builder();
        if let Some(connect) = timeouts.connect {
            builder = builder.connect_timeout(connect);
        }
        if let Some(read) = timeouts.read {
            builder = builder.read_timeout(read);
        }
        let client = builder.build()?;
        clients.push((timeouts, client.clone()));
        Ok(client)
    }

    fn connector(&self, timeouts: Timeouts) -> Connector {
        Connector(self.client(timeouts).map_err(|e| Arc::new(e.to_string())))
    }
}

impl HttpClient for SdkHttpClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        let timeouts = Timeouts { connect: settings.connect_timeout(), read: settings.read_timeout() };
        SharedHttpConnector::new(self.connector(timeouts))
    }
}

/// One reqwest client, or why it could not be built (reported by every call).
#[derive(Debug)]
struct Connector(Result<reqwest::Client, Arc<String>>);

impl HttpConnector for Connector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let client = self.0.clone();
        HttpConnectorFuture::new(async move {
            let client = client.map_err(|reason| {
                ConnectorError::other(format!("the HTTP client could not be built: {reason}").into(), None)
            })?;
            let response = client.execute(to_reqwest(request)?).await.map_err(classified)?;
            from_reqwest(response).await
        })
    }
}

fn to_reqwest(request: HttpRequest) -> Result<reqwest::Request, ConnectorError> {
    let request = request.try_into_http1x().map_err(|e| ConnectorError::user(e.into()))?;
    let (parts, body) = request.into_parts();
    let Some(bytes) = body.bytes() else {
        return Err(ConnectorError::user("streaming request bodies are not supported".into()));
    };
    reqwest::Request::try_from(http::Request::from_parts(parts, bytes.to_vec()))
        .map_err(|e| ConnectorError::user(e.into()))
}

async fn from_reqwest(mut response: reqwest::Response) -> Result<HttpResponse, ConnectorError> {
    let status = response.status();
    let headers = std::mem::take(response.headers_mut());
    let body = response.bytes().await.map_err(classified)?;
    let mut answer = http::Response::new(SdkBody::from(body));
    *answer.status_mut() = status;
    *answer.headers_mut() = headers;
    HttpResponse::try_from(answer).map_err(|e| ConnectorError::other(e.into(), None))
}

/// A reqwest error as the SDK's retry strategy reads it.
fn classified(error: reqwest::Error) -> ConnectorError {
    if error.is_timeout() {
        ConnectorError::timeout(error.into())
    } else if error.is_connect() || error.is_request() || error.is_body() {
        ConnectorError::io(error.into())
    } else {
        ConnectorError::other(error.into(), None)
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read as _, Write as _};
    use std::net::TcpListener;

    use super::*;

    /// A one-request HTTP server on loopback: answers `reply` and hands back what it received.
    fn serve_once(reply: &'static str) -> (String, std::thread::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let url = format!("http://{}", listener.local_addr().expect("bound"));
        let server = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().expect("a connection");
            let mut received = Vec::new();
            let mut buffer = [0_u8; 4096];
            // Headers, then the body its Content-Length announces.
            loop {
                let n = stream.read(&mut buffer).expect("readable");
                received.extend_from_slice(&buffer[..n]);
                let text = String::from_utf8_lossy(&received).to_string();
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let length = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().to_owned())
                        })
                        .and_then(|v| v.parse::<usize>().ok())
                        .unwrap_or(0);
                    if body.len() >= length || n == 0 {
                        break;
                    }
                }
            }
            stream.write_all(reply.as_bytes()).expect("writable");
            String::from_utf8_lossy(&received).to_string()
        });
        (url, server)
    }

    fn connector(connect: Option<Duration>, read: Option<Duration>) -> Connector {
        SdkHttpClient::default().connector(Timeouts { connect, read })
    }

    #[tokio::test]
    async fn a_request_goes_out_as_given_and_the_answer_comes_back_whole() {
        // Arrange
        let (url, server) = serve_once(
            "HTTP/1.1 400 Bad Request\r\nContent-Type: application/x-amz-json-1.0\r\nx-amzn-RequestId: r-1\r\nContent-Length: 17\r\n\r\n{\"__type\":\"nope\"}",
        );
        let request = http::Request::builder()
            .method("POST")
            .uri(format!("{url}/"))
            .header("x-amz-target", "DynamoDB_20120810.GetItem")
            .header("content-type", "application/x-amz-json-1.0")
            .body(SdkBody::from("{\"TableName\":\"t\"}"))
            .expect("a request");

        // Act
        let response = connector(None, None)
            .call(HttpRequest::try_from(request).expect("convertible"))
            .await
            .expect("an answer");

        // Assert
        assert_eq!(response.status().as_u16(), 400);
        assert_eq!(response.headers().get("x-amzn-requestid"), Some("r-1"));
        assert_eq!(response.body().bytes(), Some(&b"{\"__type\":\"nope\"}"[..]));
        let received = server.join().expect("the server ran");
        assert!(received.starts_with("POST / HTTP/1.1\r\n"), "{received}");
        assert!(received.contains("x-amz-target: DynamoDB_20120810.GetItem"), "{received}");
        assert!(received.ends_with("{\"TableName\":\"t\"}"), "{received}");
    }

    #[tokio::test]
    async fn nobody_listening_is_an_io_error_the_sdk_retries() {
        // Arrange: a port that was free a moment ago
        let port = TcpListener::bind("127.0.0.1:0").expect("a port").local_addr().expect("bound").port();
        let request = http::Request::builder()
            .uri(format!("http://127.0.0.1:{port}/"))
            .body(SdkBody::empty())
            .expect("a request");

        // Act
        let error = connector(Some(Duration::from_secs(2)), None)
            .call(HttpRequest::try_from(request).expect("convertible"))
            .await
            .expect_err("nobody answers");

        // Assert
        assert!(error.is_io() || error.is_timeout(), "{error:?}");
    }

    #[tokio::test]
    async fn a_silent_server_is_a_timeout() {
        // Arrange: accepts, never answers
        let listener = TcpListener::bind("127.0.0.1:0").expect("a port");
        let url = format!("http://{}/", listener.local_addr().expect("bound"));
        let request = http::Request::builder().uri(url).body(SdkBody::empty()).expect("a request");

        // Act
        let error = connector(None, Some(Duration::from_millis(200)))
            .call(HttpRequest::try_from(request).expect("convertible"))
            .await
            .expect_err("no answer in time");
        drop(listener);

        // Assert
        assert!(error.is_timeout(), "{error:?}");
    }

    #[test]
    fn one_reqwest_client_per_set_of_timeouts() {
        let client = SdkHttpClient::default();
        let a = Timeouts { connect: Some(Duration::from_secs(3)), read: None };
        let b = Timeouts { connect: None, read: None };
        client.client(a).expect("built");
        client.client(a).expect("built");
        client.client(b).expect("built");
        assert_eq!(client.clients.lock().expect("not poisoned").len(), 2);
    }
}
