//! The server-side frame decoder (RFC 6455 §5).
//!
//! [`FrameDecoder::decode`] looks at the caller's socket buffer, validates
//! the frame header as soon as it is complete, and only then waits for the
//! payload; nothing is consumed until a whole frame is present. Unfragmented
//! data frames are returned zero-copy (split off the buffer and unmasked in
//! place); fragments are appended to one reassembly buffer whose size is
//! bounded by `max_message`.

use bytes::{Buf, Bytes, BytesMut};

use super::deflate::{Inflater, Negotiated};
use super::encode::apply_mask;
use super::{is_valid_close_code, opcode, Message, WsError};
use crate::Utf8Bytes;

/// Largest payload of a control frame.
const MAX_CONTROL_PAYLOAD: u64 = 125;

/// A fragmented message in progress.
#[derive(Debug)]
struct Partial {
    /// `opcode::TEXT` or `opcode::BINARY`.
    opcode: u8,
    data: BytesMut,
    /// Prefix of `data` already known to be valid UTF-8 (text only).
    utf8_checked: usize,
    /// RSV1 on the first frame: `data` is deflated (checked once inflated).
    compressed: bool,
}

/// A validated frame header.
struct Header {
    fin: bool,
    /// RSV1 (permessage-deflate negotiated, first frame of a data message).
    compressed: bool,
    opcode: u8,
    mask: [u8; 4],
    header_len: usize,
    payload_len: usize,
}

/// Server-side WebSocket decoder. Holds only fragment-reassembly state.
#[derive(Debug)]
pub struct FrameDecoder {
    max_message: usize,
    partial: Option<Partial>,
    /// permessage-deflate negotiated: RSV1 marks a compressed message.
    inflater: Option<Inflater>,
}

impl FrameDecoder {
    /// A decoder accepting messages (after reassembly) up to `max_message`
    /// bytes.
    pub fn new(max_message: usize) -> Self {
        Self {
            max_message,
            partial: None,
            inflater: None,
        }
    }

    /// Accepts compressed messages (RSV1) under the negotiated
    /// permessage-deflate parameters; their inflated size is bounded by
    /// `max_message` too.
    pub fn with_deflate(mut self, n: Option<&Negotiated>) -> Self {
        self.inflater = n.map(Inflater::new);
        self
    }

    /// True while a fragmented message is being reassembled.
    pub fn in_fragmented_message(&self) -> bool {
        self.partial.is_some()
    }

    /// Consumes complete frames from `buf`, unmasking in place, and returns
    /// one complete message, or `Ok(None)` when more bytes are needed. Call
    /// in a loop until it returns `Ok(None)`.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Message>, WsError> {
        loop {
            let Some(h) = self.parse_header(buf)? else {
                return Ok(None);
            };
            // `parse_header` bounded payload_len by max_message (or 125),
            // and header_len <= 14, so this cannot overflow.
            let total = h.header_len + h.payload_len;
            if buf.len() < total {
                return Ok(None);
            }
            // `split_to`, even when the frame is the whole buffer: it makes
            // the buffer shared once per connection, and the next read
            // reclaims the allocation once the payload is dropped; taking
            // the buffer instead cost a new one per frame (and a promotion
            // when the payload is cloned): +530 instructions per echo.
            let mut payload = buf.split_to(total);
            payload.advance(h.header_len);
            apply_mask(&mut payload, h.mask);

            match h.opcode {
                opcode::PING => return Ok(Some(Message::Ping(payload.freeze()))),
                opcode::PONG => return Ok(Some(Message::Pong(payload.freeze()))),
                opcode::CLOSE => return close_message(payload.freeze()).map(Some),
                opcode::CONTINUATION => {
                    let Some(p) = self.partial.as_mut() else {
                        return Err(WsError::Protocol("continuation without a started message"));
                    };
                    p.data.extend_from_slice(&payload);
                    if p.opcode == opcode::TEXT && !p.compressed {
                        p.utf8_checked = check_utf8_prefix(&p.data, p.utf8_checked, h.fin)?;
                    }
                    if h.fin {
                        // `as_mut` above proved `partial` is Some.
                        if let Some(p) = self.partial.take() {
                            if p.compressed {
                                return self.inflate(p.opcode, &p.data).map(Some);
                            }
                            return data_message(p.opcode, p.data.freeze()).map(Some);
                        }
                    }
                }
                _ => {
                    // TEXT or BINARY (parse_header rejected everything else).
                    if self.partial.is_some() {
                        return Err(WsError::Protocol(
                            "new data frame inside a fragmented message",
                        ));
                    }
                    if h.fin && h.compressed {
                        return self.inflate(h.opcode, &payload).map(Some);
                    }
                    if h.fin {
                        return data_message(h.opcode, payload.freeze()).map(Some);
                    }
                    let utf8_checked = if h.opcode == opcode::TEXT && !h.compressed {
                        check_utf8_prefix(&payload, 0, false)?
                    } else {
                        0
                    };
                    self.partial = Some(Partial {
                        opcode: h.opcode,
                        data: payload,
                        utf8_checked,
                        compressed: h.compressed,
                    });
                }
            }
        }
    }

    /// Inflates a compressed message (bounded by `max_message`) and checks
    /// a text message's UTF-8.
    fn inflate(&mut self, op: u8, data: &[u8]) -> Result<Message, WsError> {
        let Some(inflater) = self.inflater.as_mut() else {
            // parse_header accepts RSV1 only with an inflater.
            return Err(WsError::Protocol("reserved bits set"));
        };
        let out = inflater.inflate(data, self.max_message)?;
        data_message(op, Bytes::from(out))
    }

    /// Parses and validates the header at the start of `buf` without
    /// consuming it. `Ok(None)` when the header is not complete yet.
    fn parse_header(&self, buf: &[u8]) -> Result<Option<Header>, WsError> {
        let [b0, b1, ..] = *buf else { return Ok(None) };
        let fin = b0 & 0x80 != 0;
        let op = b0 & 0x0f;
        // RSV1 is permessage-deflate's bit: only with the extension, only
        // on the first frame of a data message.
        let compressed = b0 & 0x40 != 0
            && self.inflater.is_some()
            && matches!(op, opcode::TEXT | opcode::BINARY);
        if b0 & 0x30 != 0 || (b0 & 0x40 != 0 && !compressed) {
            return Err(WsError::Protocol("reserved bits set"));
        }
        let control = match op {
            opcode::CONTINUATION | opcode::TEXT | opcode::BINARY => false,
            opcode::CLOSE | opcode::PING | opcode::PONG => true,
            _ => return Err(WsError::Protocol("reserved opcode")),
        };
        if b1 & 0x80 == 0 {
            return Err(WsError::Protocol("client frame not masked"));
        }
        let (len, len_bytes) = match b1 & 0x7f {
            126 => match buf.get(2..4) {
                Some(&[a, b]) => (u64::from(u16::from_be_bytes([a, b])), 2),
                _ => return Ok(None),
            },
            127 => match buf.get(2..10).map(<[u8; 8]>::try_from) {
                Some(Ok(bytes)) => (u64::from_be_bytes(bytes), 8),
                _ => return Ok(None),
            },
            n => (u64::from(n), 0),
        };
        if len >> 63 != 0 {
            return Err(WsError::Protocol("64-bit length with the high bit set"));
        }
        if control {
            if !fin {
                return Err(WsError::Protocol("fragmented control frame"));
            }
            if len > MAX_CONTROL_PAYLOAD {
                return Err(WsError::Protocol("control frame payload over 125 bytes"));
            }
        } else {
            let buffered = self.partial.as_ref().map_or(0, |p| p.data.len());
            let limit = self.max_message.saturating_sub(buffered);
            if len > limit as u64 {
                return Err(WsError::TooLarge);
            }
        }
        let header_len = 2 + len_bytes + 4;
        let Some(mask_bytes) = buf.get(2 + len_bytes..header_len) else {
            return Ok(None);
        };
        let mut mask = [0u8; 4];
        mask.copy_from_slice(mask_bytes);
        // len <= max_message (a usize) or <= 125 here, so it fits in usize.
        let payload_len = usize::try_from(len).map_err(|_| WsError::TooLarge)?;
        Ok(Some(Header {
            fin,
            compressed,
            opcode: op,
            mask,
            header_len,
            payload_len,
        }))
    }
}

/// A whole data message; a text one is checked to be UTF-8 here, once
/// (a fragmented one was also checked piece by piece, to fail early).
fn data_message(op: u8, data: Bytes) -> Result<Message, WsError> {
    if op == opcode::TEXT {
        Utf8Bytes::try_from(data)
            .map(Message::Text)
            .map_err(|_| WsError::InvalidUtf8)
    } else {
        Ok(Message::Binary(data))
    }
}

/// Validates `data[from..]` as UTF-8 and returns the new valid prefix
/// length. An incomplete sequence at the end is allowed unless `fin`.
fn check_utf8_prefix(data: &[u8], from: usize, fin: bool) -> Result<usize, WsError> {
    let tail = data.get(from..).unwrap_or_default();
    match std::str::from_utf8(tail) {
        Ok(_) => Ok(data.len()),
        Err(e) if e.error_len().is_none() && !fin => Ok(from + e.valid_up_to()),
        Err(_) => Err(WsError::InvalidUtf8),
    }
}

/// Parses a close frame payload: empty, or a valid code plus UTF-8 reason.
fn close_message(payload: Bytes) -> Result<Message, WsError> {
    match *payload {
        [] => Ok(Message::Close(None, Bytes::new())),
        [_] => Err(WsError::Protocol("close payload of one byte")),
        [hi, lo, ..] => {
            let code = u16::from_be_bytes([hi, lo]);
            if !is_valid_close_code(code) {
                return Err(WsError::Protocol("invalid close code"));
            }
            let reason = payload.slice(2..);
            if std::str::from_utf8(&reason).is_err() {
                return Err(WsError::InvalidUtf8);
            }
            Ok(Message::Close(Some(code), reason))
        }
    }
}

#[cfg(test)]
#[path = "frame_tests.rs"]
mod tests;
