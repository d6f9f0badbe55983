//! permessage-deflate (RFC 7692): negotiation, compression of server
//! messages and bounded inflation of client messages.
//!
//! # Invariants
//! - The server never keeps compression context between messages: every
//!   response carries `server_no_context_takeover`, so a message's
//!   compressed bytes depend only on its payload and the level. That is what
//!   lets a broadcast be compressed once and the same bytes be written to
//!   every receiver (Node compresses per socket).
//! - `server_max_window_bits=N` below 15 is honoured without a smaller
//!   deflate window: only payloads of at most 2^N bytes are compressed
//!   ([`Negotiated::may_compress`]); with no context, a back-reference can
//!   never reach further than the payload's own length.
//! - Inflation is bounded: the output of one message never exceeds the
//!   caller's limit ([`Inflater::inflate`] fails with
//!   [`super::WsError::TooLarge`], close 1009), whatever the ratio.
//! - Client context takeover (a window kept across messages, ~40 KiB per
//!   connection) only when the server allows it; otherwise every response
//!   carries `client_no_context_takeover` and each message is inflated with
//!   a fresh, dropped-after state.

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use super::WsError;

/// The tail a sync flush ends with; removed by the sender, appended by the
/// receiver (RFC 7692 §7.2.1, §7.2.2).
const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// Parameters agreed for one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiated {
    /// The client's `server_max_window_bits` (15 when it set none).
    pub server_max_window_bits: u8,
    /// The client keeps its compression context between messages (the
    /// server inflates with a per-connection window).
    pub client_context_takeover: bool,
}

impl Negotiated {
    /// Whether a payload of `len` bytes may be compressed under these
    /// parameters (see the module invariants).
    pub fn may_compress(&self, len: usize) -> bool {
        self.server_max_window_bits >= 15 || len <= 1usize << self.server_max_window_bits
    }

    /// The `Sec-WebSocket-Extensions` value of the 101.
    pub fn response(&self) -> String {
        let mut s = String::from("permessage-deflate; server_no_context_takeover");
        if !self.client_context_takeover {
            s.push_str("; client_no_context_takeover");
        }
        if self.server_max_window_bits < 15 {
            s.push_str(&format!(
                "; server_max_window_bits={}",
                self.server_max_window_bits
            ));
        }
        s
    }
}

/// Picks the first acceptable `permessage-deflate` offer of a
/// `Sec-WebSocket-Extensions` value (several headers joined with `,`).
/// An offer with an unknown, repeated or invalid parameter is declined
/// (RFC 7692 §5); None when no offer is acceptable: no extension.
/// `allow_client_context`: whether the server keeps a window per
/// connection for clients that use context takeover.
pub fn negotiate(offers: &str, allow_client_context: bool) -> Option<Negotiated> {
    offers
        .split(',')
        .find_map(|offer| parse_offer(offer, allow_client_context))
}

fn parse_offer(offer: &str, allow_client_context: bool) -> Option<Negotiated> {
    let mut parts = offer.split(';').map(str::trim);
    if !parts.next()?.eq_ignore_ascii_case("permessage-deflate") {
        return None;
    }
    let (mut snct, mut cnct, mut smwb, mut cmwb) = (false, false, None, false);
    for p in parts {
        let (k, v) = match p.split_once('=') {
            Some((k, v)) => (k.trim(), Some(v.trim().trim_matches('"'))),
            None => (p, None),
        };
        let bits = |v: Option<&str>| {
            v.and_then(|v| v.parse::<u8>().ok())
                .filter(|b| (8..=15).contains(b))
        };
        match k.to_ascii_lowercase().as_str() {
            "server_no_context_takeover" if v.is_none() && !snct => snct = true,
            "client_no_context_takeover" if v.is_none() && !cnct => cnct = true,
            "server_max_window_bits" if smwb.is_none() => smwb = Some(bits(v)?),
            "client_max_window_bits" if !cmwb => {
                if v.is_some() {
                    bits(v)?;
                }
                cmwb = true;
            }
            _ => return None,
        }
    }
    Some(Negotiated {
        server_max_window_bits: smwb.unwrap_or(15),
        client_context_takeover: allow_client_context && !cnct,
    })
}

/// Compresses one message's payload (raw deflate, sync flush, the
/// trailing `00 00 ff ff` removed); None when the result is not smaller
/// than the payload (the message is then sent as is).
pub fn compress(payload: &[u8], level: u32) -> Option<Vec<u8>> {
    let mut c = Compress::new(Compression::new(level.min(9)), false);
    // Deflate's worst case: stored blocks, 5 bytes per 64 KiB, plus the flush.
    let mut out = Vec::with_capacity(payload.len() + payload.len() / 1024 + 64);
    loop {
        // total_in <= payload.len(), so it fits a usize.
        let at = c.total_in() as usize;
        c.compress_vec(&payload[at..], &mut out, FlushCompress::Sync)
            .ok()?;
        // Done once every byte went in and the flush had room to finish.
        if c.total_in() as usize == payload.len() && out.len() < out.capacity() {
            break;
        }
        out.reserve(out.capacity().max(1024));
    }
    if out.ends_with(&TAIL) {
        out.truncate(out.len() - TAIL.len());
    }
    (out.len() < payload.len()).then_some(out)
}

/// The inflating side of one connection: a window kept between messages
/// only with client context takeover.
#[derive(Debug)]
pub struct Inflater {
    /// Kept state (context takeover); None: a fresh state per message.
    kept: Option<Box<Decompress>>,
}

impl Inflater {
    /// An inflater for `n`'s parameters.
    pub fn new(n: &Negotiated) -> Self {
        Self {
            kept: n
                .client_context_takeover
                .then(|| Box::new(Decompress::new(false))),
        }
    }

    /// Inflates one message (`data` without the tail); at most `max`
    /// output bytes, else [`WsError::TooLarge`]. A corrupt stream is a
    /// protocol error (close 1002); the inflater must not be reused then.
    pub fn inflate(&mut self, data: &[u8], max: usize) -> Result<Vec<u8>, WsError> {
        let mut fresh;
        let context = self.kept.is_some();
        let d: &mut Decompress = match &mut self.kept {
            Some(d) => d,
            None => {
                fresh = Decompress::new(false);
                &mut fresh
            }
        };
        let first = data.len().saturating_mul(4).clamp(64, max.max(64));
        let mut out: Vec<u8> = Vec::with_capacity(first);
        'inputs: for input in [data, &TAIL[..]] {
            let mut at = 0usize;
            loop {
                if out.len() == out.capacity() {
                    // Grow, never past the limit plus one byte.
                    let room = (max + 1 - out.len()).min(out.len().max(1024));
                    out.reserve_exact(room);
                }
                let (before_in, before_out) = (d.total_in(), out.len());
                let status = d
                    .decompress_vec(&input[at..], &mut out, FlushDecompress::Sync)
                    .map_err(|_| WsError::Protocol("invalid deflate data"))?;
                // What this call consumed: at most `input.len() - at`.
                at += (d.total_in() - before_in) as usize;
                if out.len() > max {
                    return Err(WsError::TooLarge);
                }
                if status == Status::StreamEnd {
                    if context {
                        // A final block would end the shared window.
                        return Err(WsError::Protocol("deflate stream ended"));
                    }
                    break 'inputs;
                }
                let stalled = d.total_in() == before_in && out.len() == before_out;
                if (at >= input.len() || stalled) && out.len() < out.capacity() {
                    break;
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
#[path = "deflate_tests.rs"]
mod tests;
