//! The little of WebSocket (RFC 6455) the local stack needs, written out rather than pulled in
//! as a dependency: the handshake's accept value, frames of text, ping, pong and close (no
//! extensions, no fragmented sends), and a client for the end-to-end tests. The server side
//! stands in for API Gateway's WebSocket API (`crate::live`); nothing here is deployed.

use std::time::Duration;

use anyhow::Context as _;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The GUID RFC 6455 appends to the client's key.
const ACCEPT_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
/// The largest frame either side accepts (notices are a few hundred bytes; API Gateway's
/// limit is 128 KB per message).
pub const MAX_FRAME_BYTES: u64 = 128 * 1024;

/// `Sec-WebSocket-Accept` for a client's `Sec-WebSocket-Key`.
#[must_use]
pub fn accept_value(key: &str) -> String {
    let digest = aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY,
        format!("{key}{ACCEPT_GUID}").as_bytes(),
    );
    B64.encode(digest.as_ref())
}

/// A frame's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opcode {
    /// A continuation of a fragmented message.
    Continuation,
    /// UTF-8 text.
    Text,
    /// Bytes.
    Binary,
    /// The closing handshake.
    Close,
    /// A ping (answered by a pong with its payload).
    Ping,
    /// A pong.
    Pong,
}

impl Opcode {
    const fn code(self) -> u8 {
        match self {
            Self::Continuation => 0x0,
            Self::Text => 0x1,
            Self::Binary => 0x2,
            Self::Close => 0x8,
            Self::Ping => 0x9,
            Self::Pong => 0xA,
        }
    }

    const fn of(code: u8) -> Option<Self> {
        Some(match code {
            0x0 => Self::Continuation,
            0x1 => Self::Text,
            0x2 => Self::Binary,
            0x8 => Self::Close,
            0x9 => Self::Ping,
            0xA => Self::Pong,
            _ => return None,
        })
    }
}

/// One frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Its kind.
    pub opcode: Opcode,
    /// Its payload, unmasked.
    pub payload: Vec<u8>,
}

/// Writes one final frame; `mask` (a client's frames must be masked, a server's must not).
///
/// # Errors
/// When the stream fails.
pub async fn write_frame<W: AsyncWrite + Unpin>(
    out: &mut W,
    opcode: Opcode,
    payload: &[u8],
    mask: Option<[u8; 4]>,
) -> std::io::Result<()> {
    let mut frame = Vec::with_capacity(payload.len() + 14);
    frame.push(0x80 | opcode.code());
    let masked = if mask.is_some() { 0x80 } else { 0 };
    match payload.len() {
        // The casts are exact: each arm bounds the length.
        len @ 0..=125 => frame.push(masked | u8::try_from(len).unwrap_or(125)),
        len @ 126..=0xFFFF => {
            frame.push(masked | 126);
            frame.extend_from_slice(&u16::try_from(len).unwrap_or(u16::MAX).to_be_bytes());
        }
        len => {
            frame.push(masked | 127);
            frame.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    match mask {
        Some(key) => {
            frame.extend_from_slice(&key);
            frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        }
        None => frame.extend_from_slice(payload),
    }
    out.write_all(&frame).await?;
    out.flush().await
}

/// Reads one frame (unmasking it); `None` at the end of the stream.
///
/// # Errors
/// When the stream fails, or the frame is malformed or larger than [`MAX_FRAME_BYTES`].
pub async fn read_frame<R: AsyncRead + Unpin>(input: &mut R) -> anyhow::Result<Option<Frame>> {
    let mut head = [0u8; 2];
    match input.read_exact(&mut head).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    let opcode = Opcode::of(head[0] & 0x0F).context("unknown WebSocket opcode")?;
    let masked = head[1] & 0x80 != 0;
    let len = match head[1] & 0x7F {
        126 => u64::from(input.read_u16().await?),
        127 => input.read_u64().await?,
        len => u64::from(len),
    };
    anyhow::ensure!(len <= MAX_FRAME_BYTES, "WebSocket frame of {len} bytes is too large");
    let mut key = [0u8; 4];
    if masked {
        input.read_exact(&mut key).await?;
    }
    let mut payload = vec![0u8; usize::try_from(len)?];
    input.read_exact(&mut payload).await?;
    if masked {
        for (i, byte) in payload.iter_mut().enumerate() {
            *byte ^= key[i % 4];
        }
    }
    Ok(Some(Frame { opcode, payload }))
}

/// A WebSocket client of the local stack (for the end-to-end tests).
#[derive(Debug)]
pub struct Client {
    stream: tokio::net::TcpStream,
}

/// Why [`Client::connect`] did not connect.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The server answered the handshake with this status instead of 101.
    #[error("the handshake was refused with HTTP {0}")]
    Refused(u16),
    /// The connection or the handshake failed.
    #[error("the WebSocket connection failed")]
    Failed(#[from] anyhow::Error),
}

impl Client {
    /// Opens `ws://<host_port><path_and_query>`.
    ///
    /// # Errors
    /// [`ConnectError::Refused`] with the status the server answered; [`ConnectError::Failed`].
    pub async fn connect(host_port: &str, path_and_query: &str) -> Result<Self, ConnectError> {
        let mut stream = tokio::net::TcpStream::connect(host_port).await.context("connecting")?;
        let key = B64.encode(crate::random_hex(8).context("randomness")?.as_bytes());
        let request = format!(
            "GET {path_and_query} HTTP/1.1\r\nHost: {host_port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await.context("sending the handshake")?;
        // The answer's head, byte by byte up to the blank line (frames may follow at once).
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            if head.len() >= 16 * 1024 {
                return Err(ConnectError::Failed(anyhow::anyhow!("handshake answer too long")));
            }
            let byte = stream.read_u8().await.context("reading the handshake answer")?;
            head.push(byte);
        }
        let head = String::from_utf8_lossy(&head).into_owned();
        let status: u16 = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .context("no status in the handshake answer")?;
        if status != 101 {
            return Err(ConnectError::Refused(status));
        }
        let expected = accept_value(&key);
        let accepted = head.lines().filter_map(|line| line.split_once(':')).any(|(name, value)| {
            name.eq_ignore_ascii_case("sec-websocket-accept") && value.trim() == expected
        });
        if !accepted {
            return Err(ConnectError::Failed(anyhow::anyhow!("wrong Sec-WebSocket-Accept")));
        }
        Ok(Self { stream })
    }

    /// The next text message within `wait`; `None` when none came or the server closed.
    ///
    /// # Errors
    /// When the stream fails.
    pub async fn next_text(&mut self, wait: Duration) -> anyhow::Result<Option<String>> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let frame = match tokio::time::timeout_at(deadline, read_frame(&mut self.stream)).await {
                Err(_) => return Ok(None),
                Ok(frame) => frame?,
            };
            let Some(frame) = frame else { return Ok(None) };
            match frame.opcode {
                Opcode::Text => return Ok(Some(String::from_utf8_lossy(&frame.payload).into_owned())),
                Opcode::Ping => {
                    write_frame(&mut self.stream, Opcode::Pong, &frame.payload, Some(mask()?)).await?;
                }
                Opcode::Close => return Ok(None),
                _ => {}
            }
        }
    }

    /// Sends a text message.
    ///
    /// # Errors
    /// When the stream fails.
    pub async fn send_text(&mut self, text: &str) -> anyhow::Result<()> {
        Ok(write_frame(&mut self.stream, Opcode::Text, text.as_bytes(), Some(mask()?)).await?)
    }

    /// Closes the connection (the closing handshake, then the stream).
    ///
    /// # Errors
    /// When the stream fails.
    pub async fn close(mut self) -> anyhow::Result<()> {
        write_frame(&mut self.stream, Opcode::Close, &1000u16.to_be_bytes(), Some(mask()?)).await?;
        // Wait briefly for the server's close, as the handshake asks.
        let _ = tokio::time::timeout(Duration::from_secs(2), read_frame(&mut self.stream)).await;
        Ok(self.stream.shutdown().await?)
    }
}

/// A fresh masking key.
fn mask() -> anyhow::Result<[u8; 4]> {
    let bytes = shared::kernel::random::bytes::<4>().map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_accept_value_is_rfc_6455s_example() {
        assert_eq!(accept_value("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }

    #[tokio::test]
    async fn frames_of_every_length_class_round_trip_masked_or_not() {
        for len in [0, 5, 125, 126, 300, 70_000] {
            for mask in [None, Some([1, 2, 3, 4])] {
                let payload: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
                let mut buffer = Vec::new();
                write_frame(&mut buffer, Opcode::Text, &payload, mask).await.unwrap();
                let frame = read_frame(&mut buffer.as_slice()).await.unwrap().unwrap();
                assert_eq!(frame, Frame { opcode: Opcode::Text, payload }, "{len} {mask:?}");
            }
        }
    }

    #[tokio::test]
    async fn a_frame_over_the_limit_is_refused() {
        let mut buffer = vec![0x81, 127];
        buffer.extend_from_slice(&(MAX_FRAME_BYTES + 1).to_be_bytes());
        assert!(read_frame(&mut buffer.as_slice()).await.is_err());
    }
}
