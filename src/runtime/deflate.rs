//! permessage-deflate on the websocket handshake (RFC 7692): which offer
//! of a client is accepted, and the `Sec-WebSocket-Extensions` line of the
//! 101. The codec is `ringcast_proto::ws::deflate`; outgoing frames are
//! compressed once per frame (`Frame::wire`), incoming ones inflated by the
//! connection's `FrameDecoder`, bounded by `max_http_buffer_size`.
//!
//! Also HTTP compression of long-poll responses (Node's `httpCompression`,
//! on with the same flag): a body at or over the threshold to a request
//! whose `Accept-Encoding` accepts `gzip` (preferred) or `deflate` (a zlib
//! stream, RFC 1950, as Node's `zlib.createDeflate`) is compressed.

use std::io::Write;

use bytes::BytesMut;
use ringcast_proto::http::RequestHead;
use ringcast_proto::ws::deflate::{self, Negotiated};

use super::conn::Next;
use super::io::Conn;
use super::response::{cors_headers, send_response};
use crate::config::Config;
use crate::shard::Shard;

/// The parameters agreed with this client: None when the server has
/// compression off or the client offered nothing acceptable.
pub(crate) fn negotiate(config: &Config, head: &RequestHead) -> Option<Negotiated> {
    if !config.per_message_deflate {
        return None;
    }
    let offers: Vec<&str> = head
        .headers
        .iter()
        .filter(|&(k, _)| k == "sec-websocket-extensions")
        .map(|(_, v)| v)
        .collect();
    if offers.is_empty() {
        return None;
    }
    deflate::negotiate(&offers.join(","), config.per_message_deflate_client_context)
}

/// Adds `Sec-WebSocket-Extensions` to a 101 response in `out` (before the
/// blank line that ends it).
pub(crate) fn add_header(n: &Negotiated, out: &mut BytesMut) {
    if out.ends_with(b"\r\n\r\n") {
        out.truncate(out.len() - 2);
        out.extend_from_slice(
            format!("Sec-WebSocket-Extensions: {}\r\n\r\n", n.response()).as_bytes(),
        );
    }
}

/// An HTTP content coding of polling responses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Coding {
    Gzip,
    Deflate,
}

impl Coding {
    /// The `Content-Encoding` value.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Gzip => "gzip",
            Self::Deflate => "deflate",
        }
    }
}

/// The coding for a polling response of `len` bytes: None when
/// compression is off, the body is under the threshold, or the request's
/// `Accept-Encoding` accepts neither (a `q=0` refuses a coding).
pub(crate) fn http_coding(config: &Config, head: &RequestHead, len: usize) -> Option<Coding> {
    if !config.per_message_deflate || len < config.per_message_deflate_threshold {
        return None;
    }
    let (mut gzip, mut deflate) = (false, false);
    for (_, v) in head.headers.iter().filter(|&(k, _)| k == "accept-encoding") {
        for item in v.split(',') {
            let mut parts = item.split(';').map(str::trim);
            let name = parts.next().unwrap_or_default().to_ascii_lowercase();
            let refused = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            if refused {
                continue;
            }
            match name.as_str() {
                "gzip" => gzip = true,
                "deflate" => deflate = true,
                "*" => gzip = true,
                _ => {}
            }
        }
    }
    if gzip {
        Some(Coding::Gzip)
    } else if deflate {
        Some(Coding::Deflate)
    } else {
        None
    }
}

/// `body` compressed with `coding` (zlib's default level, as Node).
pub(crate) fn http_compress(coding: Coding, body: &[u8]) -> std::io::Result<Vec<u8>> {
    use flate2::write::{GzEncoder, ZlibEncoder};
    use flate2::Compression;
    let out = Vec::with_capacity(body.len() / 2 + 64);
    match coding {
        Coding::Gzip => {
            let mut e = GzEncoder::new(out, Compression::default());
            e.write_all(body)?;
            e.finish()
        }
        Coding::Deflate => {
            let mut e = ZlibEncoder::new(out, Compression::default());
            e.write_all(body)?;
            e.finish()
        }
    }
}

/// Sends a polling data response compressed when [`http_coding`] picks a
/// coding (Node's headers: `Content-Encoding`, `Vary: Accept-Encoding`);
/// None: the caller sends it as is.
pub(crate) async fn respond_compressed(
    shard: &Shard,
    conn: &mut Conn,
    head: &RequestHead,
    body: &[u8],
    content_type: &str,
) -> Option<Next> {
    let coding = http_coding(&shard.config, head, body.len())?;
    let z = match http_compress(coding, body) {
        Ok(z) => z,
        Err(e) => {
            tracing::debug!(error = %e, "http compression failed; sending as is");
            return None;
        }
    };
    let mut headers = vec![
        ("Content-Type", content_type),
        ("Cache-Control", "no-store"),
        ("Content-Encoding", coding.name()),
        ("Vary", "Accept-Encoding"),
    ];
    headers.extend(cors_headers(shard, head).iter().copied());
    Some(send_response(conn, 200, &headers, &z, head.keep_alive).await)
}
