//! permessage-deflate on the websocket handshake (RFC 7692): which offer
//! of a client is accepted, and the `Sec-WebSocket-Extensions` line of the
//! 101. The codec is `ringcast_proto::ws::deflate`; outgoing frames are
//! compressed once per frame (`Frame::wire`), incoming ones inflated by the
//! connection's `FrameDecoder`, bounded by `max_http_buffer_size`.

use bytes::BytesMut;
use ringcast_proto::http::RequestHead;
use ringcast_proto::ws::deflate::{self, Negotiated};

use crate::config::Config;

/// The parameters agreed with this client: None when the server has
/// compression off or the client offered nothing acceptable.
pub(crate) fn negotiate(config: &Config, head: &RequestHead) -> Option<Negotiated> {
    if !config.per_message_deflate {
        return None;
    }
    let offers: Vec<&str> = head
        .headers
        .iter()
        .filter(|(k, _)| k == "sec-websocket-extensions")
        .map(|(_, v)| v.as_str())
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
