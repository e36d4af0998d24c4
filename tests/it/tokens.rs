//! Tokens stay where they are sent: the Graph client follows no redirect (a `Location` would
//! otherwise receive the `Authorization` header's token, or the next request's). Real HTTP on
//! loopback: a Graph stand-in that redirects, and the place it redirects to.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::Duration;

use shared::adapters::graph::GraphClient;
use shared::domain::ports::{FetchLeadError, LeadSource};
use shared::domain::Secret;

/// A one-thread HTTP server on a free port that answers every request with `response` and
/// reports each request's head (request line and headers) on the returned channel.
fn server(response: impl Fn(u16) -> String + Send + 'static) -> (u16, mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    let (heads, received) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream);
            let mut head = String::new();
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                head.push_str(&line);
                line.clear();
            }
            let _ = heads.send(head);
            let _ = reader.get_mut().write_all(response(port).as_bytes());
        }
    });
    (port, received)
}

#[tokio::test]
async fn the_graph_client_does_not_follow_a_redirect_with_the_token() {
    // Arrange: "Graph" redirects every request elsewhere.
    let (elsewhere, reached_elsewhere) =
        server(|_| "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}".to_owned());
    let (graph, reached_graph) = server(move |_| {
        format!(
            "HTTP/1.1 302 Found\r\nlocation: http://127.0.0.1:{elsewhere}/stolen\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
        )
    });
    let client = GraphClient::new(&format!("http://127.0.0.1:{graph}"), "v23.0").expect("client");

    // Act
    let fetched = client.fetch_lead("123456789", &Secret::new("EAAREDIRECTTOKEN")).await;

    // Assert
    assert!(matches!(fetched, Err(FetchLeadError::Refused { status: 302, .. })), "{fetched:?}");
    let head = reached_graph.recv_timeout(Duration::from_secs(5)).expect("Graph was asked");
    assert!(head.to_lowercase().contains("authorization: bearer eaaredirecttoken"), "{head}");
    assert!(
        reached_elsewhere.recv_timeout(Duration::from_millis(500)).is_err(),
        "the redirect was followed: the token went elsewhere"
    );
}
