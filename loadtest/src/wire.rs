//! Client-side wire codecs (sans-IO): masked WebSocket frames out, unmasked
//! server frames in, HTTP/1.1 requests out and response heads in.
//!
//! `ringcast_proto::ws` is written for the server side (it rejects unmasked
//! frames and never masks), so only its header encoder, masking routine and
//! accept-key function are reused here; the decoder below is the mirror image
//! for frames a server sends. Decoders borrow from the caller's buffer and
//! never allocate.

use std::fmt::Write as _;

use bytes::BytesMut;
use ringcast_proto::ws;

/// WebSocket opcodes (re-exported for the transport code).
pub(crate) use ringcast_proto::ws::opcode;

/// Cheap xorshift generator for mask keys and `Sec-WebSocket-Key`s.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed | 1)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}

/// Appends one FIN frame with a random mask to `out`: the header from
/// `ringcast_proto::ws::encode_frame_header` with the MASK bit set, the key,
/// then `prefix` + `payload` masked in place.
pub(crate) fn write_masked_frame(
    out: &mut Vec<u8>,
    op: u8,
    prefix: &[u8],
    payload: &[u8],
    rng: &mut Rng,
) {
    let len = prefix.len() + payload.len();
    let mut head = BytesMut::with_capacity(14);
    ws::encode_frame_header(op, len, &mut head);
    head[1] |= 0x80;
    let key = (rng.next_u64() as u32).to_ne_bytes();
    out.reserve(head.len() + 4 + len);
    out.extend_from_slice(&head);
    out.extend_from_slice(&key);
    let start = out.len();
    out.extend_from_slice(prefix);
    out.extend_from_slice(payload);
    ws::apply_mask(&mut out[start..], key);
}

/// One frame found at the start of a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Frame {
    pub(crate) fin: bool,
    /// RSV1: the message is compressed (permessage-deflate, first frame).
    pub(crate) compressed: bool,
    pub(crate) opcode: u8,
    /// Offset of the payload in the buffer.
    pub(crate) start: usize,
    /// Offset just past the payload (= bytes this frame occupies).
    pub(crate) end: usize,
}

/// Parses a server (unmasked) frame at the start of `buf`. `Ok(None)` when
/// more bytes are needed; `Err` on a masked or malformed frame. RSV1 is
/// reported in [`Frame::compressed`]; whether it is allowed (permessage-deflate
/// negotiated) is the caller's check.
pub(crate) fn parse_server_frame(buf: &[u8], max: usize) -> Result<Option<Frame>, &'static str> {
    let [b0, b1, ..] = *buf else { return Ok(None) };
    if b0 & 0x30 != 0 {
        return Err("reserved bits set");
    }
    if b1 & 0x80 != 0 {
        return Err("server frame is masked");
    }
    let (len, hdr) = match b1 & 0x7f {
        126 => match buf.get(2..4) {
            Some(&[a, b]) => (u64::from(u16::from_be_bytes([a, b])), 4),
            _ => return Ok(None),
        },
        127 => match buf.get(2..10).map(<[u8; 8]>::try_from) {
            Some(Ok(b)) => (u64::from_be_bytes(b), 10),
            _ => return Ok(None),
        },
        n => (u64::from(n), 2),
    };
    if len > max as u64 {
        return Err("frame too large");
    }
    let end = hdr + len as usize;
    if buf.len() < end {
        return Ok(None);
    }
    Ok(Some(Frame {
        fin: b0 & 0x80 != 0,
        compressed: b0 & 0x40 != 0,
        opcode: b0 & 0x0f,
        start: hdr,
        end,
    }))
}

/// A parsed HTTP response head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ResponseHead {
    pub(crate) status: u16,
    /// Bytes the head occupies (body starts here).
    pub(crate) len: usize,
    pub(crate) content_length: Option<usize>,
    pub(crate) chunked: bool,
    pub(crate) close: bool,
    pub(crate) ws_accept: Option<String>,
    /// `Sec-WebSocket-Extensions` of a 101.
    pub(crate) ws_extensions: Option<String>,
}

/// Parses a response head at the start of `buf` (`Ok(None)`: incomplete).
pub(crate) fn parse_response_head(buf: &[u8]) -> Result<Option<ResponseHead>, String> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut resp = httparse::Response::new(&mut headers);
    let len = match resp.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => {
            if buf.len() > 16 * 1024 {
                return Err("response head over 16 KiB".into());
            }
            return Ok(None);
        }
        Err(e) => return Err(format!("bad HTTP response: {e}")),
    };
    let mut head = ResponseHead {
        status: resp.code.unwrap_or(0),
        len,
        content_length: None,
        chunked: false,
        close: false,
        ws_accept: None,
        ws_extensions: None,
    };
    for h in resp.headers.iter() {
        let v = std::str::from_utf8(h.value).unwrap_or("").trim();
        if h.name.eq_ignore_ascii_case("content-length") {
            head.content_length = Some(v.parse().map_err(|_| "bad Content-Length")?);
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            head.chunked = v.to_ascii_lowercase().contains("chunked");
        } else if h.name.eq_ignore_ascii_case("connection") {
            head.close = v.eq_ignore_ascii_case("close");
        } else if h.name.eq_ignore_ascii_case("sec-websocket-accept") {
            head.ws_accept = Some(v.to_owned());
        } else if h.name.eq_ignore_ascii_case("sec-websocket-extensions") {
            head.ws_extensions = Some(v.to_owned());
        }
    }
    Ok(Some(head))
}

/// Random `Sec-WebSocket-Key` (base64 of 16 bytes).
pub(crate) fn ws_key(rng: &mut Rng) -> String {
    use base64::Engine as _;
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&rng.next_u64().to_ne_bytes());
    k[8..].copy_from_slice(&rng.next_u64().to_ne_bytes());
    base64::engine::general_purpose::STANDARD.encode(k)
}

/// The `Sec-WebSocket-Accept` a server must answer for `key`.
pub(crate) fn expected_accept(key: &str) -> String {
    ws::accept_key(key.as_bytes()).to_string()
}

/// The permessage-deflate offer of `--deflate`: no context kept on either
/// side, so every message inflates on its own (one reusable inflater per
/// process, [`Inflater`]) and a server may compress a broadcast once.
pub(crate) const DEFLATE_OFFER: &str =
    "permessage-deflate; client_no_context_takeover; server_no_context_takeover";

/// Appends `GET <path>?EIO=4&transport=websocket` with upgrade headers
/// (and the permessage-deflate offer when `deflate`).
pub(crate) fn write_ws_upgrade(
    out: &mut Vec<u8>,
    host: &str,
    path: &str,
    key: &str,
    deflate: bool,
) {
    let mut s = String::with_capacity(320);
    let _ = write!(
        s,
        "GET {path}?EIO=4&transport=websocket HTTP/1.1\r\nHost: {host}\r\n\
         Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n\
         Sec-WebSocket-Version: 13\r\n"
    );
    if deflate {
        let _ = write!(s, "Sec-WebSocket-Extensions: {DEFLATE_OFFER}\r\n");
    }
    s.push_str("\r\n");
    out.extend_from_slice(s.as_bytes());
}

/// Whether a 101's `Sec-WebSocket-Extensions` accepted permessage-deflate
/// with no server context (the only form this client inflates);
/// `Err` for an extension the client did not offer.
pub(crate) fn deflate_accepted(ext: Option<&str>, offered: bool) -> Result<bool, &'static str> {
    let Some(ext) = ext.map(str::trim).filter(|e| !e.is_empty()) else {
        return Ok(false);
    };
    let mut parts = ext.split(';').map(str::trim);
    if !offered
        || !parts
            .next()
            .is_some_and(|n| n.eq_ignore_ascii_case("permessage-deflate"))
    {
        return Err("server answered an extension that was not offered");
    }
    let params: Vec<&str> = parts.collect();
    if ext.contains(',')
        || !params
            .iter()
            .any(|p| p.eq_ignore_ascii_case("server_no_context_takeover"))
    {
        return Err("server answered permessage-deflate without server_no_context_takeover");
    }
    Ok(true)
}

/// The tail a permessage-deflate sender strips (RFC 7692 section 7.2.2).
const DEFLATE_TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// Inflates permessage-deflate messages sent without context takeover:
/// one raw-deflate state for the whole process, reset before each message
/// (no allocation per message once the output buffer has grown).
pub(crate) struct Inflater {
    d: flate2::Decompress,
    /// The last message inflated.
    pub(crate) out: Vec<u8>,
}

impl std::fmt::Debug for Inflater {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inflater")
            .field("out", &self.out.len())
            .finish()
    }
}

impl Default for Inflater {
    fn default() -> Self {
        Self {
            d: flate2::Decompress::new(false),
            out: Vec::with_capacity(16 * 1024),
        }
    }
}

impl Inflater {
    /// Inflates one message (`data` as received: without the tail) into
    /// [`Self::out`]; at most `max` bytes.
    pub(crate) fn inflate(&mut self, data: &[u8], max: usize) -> Result<(), &'static str> {
        use flate2::{FlushDecompress, Status};
        self.d.reset(false);
        self.out.clear();
        for input in [data, &DEFLATE_TAIL[..]] {
            let mut at = 0usize;
            loop {
                if self.out.len() == self.out.capacity() {
                    if self.out.len() > max {
                        return Err("inflated message too large");
                    }
                    self.out.reserve(self.out.capacity().max(1024));
                }
                let (in0, out0) = (self.d.total_in(), self.out.len());
                let st = self
                    .d
                    .decompress_vec(&input[at..], &mut self.out, FlushDecompress::Sync)
                    .map_err(|_| "invalid deflate data")?;
                // Consumed by this call: at most input.len() - at.
                at += (self.d.total_in() - in0) as usize;
                if st == Status::StreamEnd {
                    return Ok(());
                }
                let stalled = self.d.total_in() == in0 && self.out.len() == out0;
                if (at >= input.len() || stalled) && self.out.len() < self.out.capacity() {
                    break;
                }
            }
        }
        if self.out.len() > max {
            return Err("inflated message too large");
        }
        Ok(())
    }
}

/// Appends a polling GET (`sid` empty for the handshake).
pub(crate) fn write_poll_get(out: &mut Vec<u8>, host: &str, path: &str, sid: &str) {
    let mut s = String::with_capacity(160);
    let _ = write!(s, "GET {path}?EIO=4&transport=polling");
    if !sid.is_empty() {
        let _ = write!(s, "&sid={sid}");
    }
    let _ = write!(s, " HTTP/1.1\r\nHost: {host}\r\nAccept: */*\r\n\r\n");
    out.extend_from_slice(s.as_bytes());
}

/// Appends a polling POST carrying `body` (an Engine.IO payload).
pub(crate) fn write_poll_post(out: &mut Vec<u8>, host: &str, path: &str, sid: &str, body: &[u8]) {
    let mut s = String::with_capacity(200);
    let _ = write!(
        s,
        "POST {path}?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: {host}\r\n\
         Content-Type: text/plain;charset=UTF-8\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    out.extend_from_slice(s.as_bytes());
    out.extend_from_slice(body);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masked_frame_roundtrips_through_the_server_decoder() {
        let mut out = Vec::new();
        let mut rng = Rng::new(7);
        write_masked_frame(&mut out, opcode::TEXT, b"4", b"2[\"x\"]", &mut rng);
        let mut buf = BytesMut::from(&out[..]);
        let msg = ws::FrameDecoder::new(1 << 20).decode(&mut buf).unwrap();
        assert_eq!(
            msg,
            Some(ws::Message::Text(ringcast_proto::Utf8Bytes::from_static(
                "42[\"x\"]"
            )))
        );
        let big = vec![b'a'; 70_000];
        out.clear();
        write_masked_frame(&mut out, opcode::TEXT, b"", &big, &mut rng);
        let mut buf = BytesMut::from(&out[..]);
        let msg = ws::FrameDecoder::new(1 << 20).decode(&mut buf).unwrap();
        let big = String::from_utf8(big).unwrap();
        assert_eq!(msg, Some(ws::Message::Text(big.into())));
    }

    #[test]
    fn server_frames() {
        let mut out = BytesMut::new();
        ws::encode_frame(opcode::TEXT, b"2", &mut out);
        ws::encode_frame(opcode::TEXT, &[b'x'; 300], &mut out);
        let f = parse_server_frame(&out, 1 << 20).unwrap().unwrap();
        assert_eq!(
            (f.fin, f.compressed, f.opcode, f.start, f.end),
            (true, false, 1, 2, 3)
        );
        let g = parse_server_frame(&out[3..], 1 << 20).unwrap().unwrap();
        assert_eq!((g.start, g.end), (4, 304));
        assert_eq!(parse_server_frame(&out[3..100], 1 << 20), Ok(None));
        assert!(parse_server_frame(&[0x81, 0x85], 10).is_err());
        assert!(parse_server_frame(&[0xa1, 0x00], 10).is_err());
        let c = parse_server_frame(&[0xc1, 0x01, 0x00], 10)
            .unwrap()
            .unwrap();
        assert!(c.compressed);
    }

    #[test]
    fn deflate_offer_and_inflate() {
        let mut out = Vec::new();
        write_ws_upgrade(&mut out, "h", "/socket.io/", "k", true);
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains(&format!("Sec-WebSocket-Extensions: {DEFLATE_OFFER}\r\n")));
        assert!(text.ends_with("\r\n\r\n"));
        // What the server answers (ringcast's and ws's forms).
        let n = ws::deflate::negotiate(DEFLATE_OFFER, false).unwrap();
        assert_eq!(deflate_accepted(Some(&n.response()), true), Ok(true));
        assert_eq!(
            deflate_accepted(
                Some("permessage-deflate; server_no_context_takeover; client_no_context_takeover"),
                true
            ),
            Ok(true)
        );
        assert_eq!(deflate_accepted(None, true), Ok(false));
        assert!(deflate_accepted(Some("permessage-deflate"), true).is_err());
        assert!(deflate_accepted(
            Some("permessage-deflate; server_no_context_takeover"),
            false
        )
        .is_err());
        // Messages compressed by the server's codec inflate back, one after
        // another on the same state, larger than the first capacity too.
        let mut inf = Inflater::default();
        for len in [10usize, 3000, 100_000, 5] {
            let msg: Vec<u8> = (0..len)
                .map(|i| b"abcabd x"[i % 8] ^ (i / 4096) as u8)
                .collect();
            let z = ws::deflate::compress(&msg, 6).unwrap_or_else(|| msg.clone());
            if z != msg {
                inf.inflate(&z, 1 << 20).unwrap();
                assert_eq!(inf.out, msg);
            }
        }
        assert!(inf
            .inflate(&ws::deflate::compress(&[b'a'; 5000], 6).unwrap(), 100)
            .is_err());
        assert!(inf.inflate(&[0xff, 0xff, 0xff], 100).is_err());
    }

    #[test]
    fn response_heads() {
        let r = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
                  Sec-WebSocket-Accept: abc\r\n\r\nrest";
        let h = parse_response_head(r).unwrap().unwrap();
        assert_eq!(h.status, 101);
        assert_eq!(h.ws_accept.as_deref(), Some("abc"));
        assert_eq!(&r[h.len..], b"rest");
        let r = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
        let h = parse_response_head(r).unwrap().unwrap();
        assert_eq!(
            (h.status, h.content_length, h.chunked),
            (200, Some(2), false)
        );
        assert_eq!(parse_response_head(b"HTTP/1.1 200 OK\r\n"), Ok(None));
        assert_eq!(
            expected_accept("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }
}
