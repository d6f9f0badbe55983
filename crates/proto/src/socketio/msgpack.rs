//! The msgpack parser: `socket.io-msgpack-parser` 3.0.2 (notepack.io
//! encoding), selected instead of the default JSON parser.
//!
//! # Wire format
//! Every Socket.IO packet, both directions, is **one** Engine.IO binary
//! message holding the notepack encoding of the packet object, a map
//! `{type, data, nsp, id?}`: `type` 0-4 (no BINARY_EVENT / BINARY_ACK: there
//! are no attachments), `nsp` a string, `data` as in the JSON parser
//! (CONNECT: object or absent; EVENT / ACK: array; CONNECT_ERROR:
//! `{"message": …}`), `id` an integer when an ack is involved. Binary is
//! msgpack `bin` at any depth. Over long-polling the message travels as
//! `b<base64>`, like any Engine.IO binary message.
//!
//! # Representation
//! The rest of ringcast sees exactly what the JSON parser yields: a
//! [`Packet`] whose `data` is JSON with placeholders
//! (`{"_placeholder":true,"num":N}`) plus the binaries as attachments in
//! placeholder order (depth first, as `socket.io-parser` numbers them), so
//! handlers, acks and the cluster bridge do not care which parser a server
//! uses. The encoders take that representation back and write each binary
//! as `bin` where its placeholder stands.
//!
//! # Decoder rules (`Decoder.checkPacket` of the Node parser, plus bounds)
//! - Any key order, extra keys (socket.io-client sends `options`), duplicate
//!   keys (the last wins, as in a JS object), notepack's `undefined`
//!   (`d4 00 00`) as an absent entry (`null` inside an array).
//! - `type` an integer 0-4, `nsp` a string, `id` absent or an integer.
//! - Stricter than Node, as the JSON parser is: a map shaped like a
//!   placeholder (`{"_placeholder":true,"num":N}`) is refused (it would be
//!   mistaken for a binary downstream), `id` must lie in
//!   `0..=MAX_ACK_ID`, an EVENT's first element must be a string that is
//!   not reserved (or a number), nesting is capped at [`MAX_DEPTH`] (serde
//!   JSON's limit on the JSON path) and the number of binaries at
//!   [`Limits::max_attachments`]. The message size is bounded by the Engine.IO
//!   layer (`maxHttpBufferSize`) before it reaches this decoder.
//! - Never panics; decoding is iterative (`ringcast_cluster_wire::decode_with`)
//!   and binaries are zero-copy slices of the message.
//!
//! # Encoder invariants
//! - Byte compatible with notepack (smallest integer forms, float64 for
//!   fractions, str8 …): the same bytes as [`ringcast_cluster_wire::encode_into`]
//!   of the converted value, written straight from the JSON.
//! - Infallible: an argument that cannot be encoded (nested deeper than 256
//!   levels or over 4 GiB, only possible from server code) is written as
//!   `nil` instead of failing the whole packet.
//! - A placeholder whose `num` has no attachment stays an object (callers
//!   normalize first, see `ringcast::shard::encode`).

use bytes::Bytes;
use ringcast_cluster_wire::{self as wire, Value as Wire};
use serde_json::Value;

use super::binary::count_placeholders;
use super::packet::{payload_valid, DecodeError, Limits, Packet, PacketKind, MAX_ACK_ID};

/// Deepest accepted nesting of a msgpack packet (the packet map is level 1),
/// matching serde_json's recursion limit on the JSON path.
pub const MAX_DEPTH: usize = 128;

/// Decodes one msgpack Engine.IO binary message into the packet and its
/// binaries (see the module docs for the rules). Any error means: close
/// the connection ("parse error"), as Node does.
pub fn decode(message: &Bytes, limits: &Limits) -> Result<(Packet, Vec<Bytes>), DecodeError> {
    let wire_limits = wire::Limits {
        max_depth: MAX_DEPTH,
        max_bytes: usize::MAX,
    };
    let value =
        wire::decode_with(message, &wire_limits).map_err(|_| DecodeError::InvalidMsgpack)?;
    if value.as_map().is_none() {
        return Err(DecodeError::InvalidMsgpack);
    }
    let kind = match value.get("type").and_then(Wire::as_i64) {
        Some(0) => PacketKind::Connect,
        Some(1) => PacketKind::Disconnect,
        Some(2) => PacketKind::Event,
        Some(3) => PacketKind::Ack,
        Some(4) => PacketKind::ConnectError,
        _ => return Err(DecodeError::InvalidMsgpack),
    };
    let nsp = value
        .get("nsp")
        .and_then(Wire::as_str)
        .ok_or(DecodeError::InvalidPayload)?
        .to_owned();
    let id = match value.get("id") {
        None => None,
        Some(v) => Some(
            v.as_u64()
                .filter(|&id| id <= MAX_ACK_ID)
                .ok_or(DecodeError::InvalidAckId)?,
        ),
    };
    // Binaries travel with EVENT and ACK only; elsewhere (CONNECT auth,
    // CONNECT_ERROR data) a `bin` becomes what `JSON.stringify` makes of a
    // Buffer, as the JSON parser would deliver it.
    let events = matches!(kind, PacketKind::Event | PacketKind::Ack);
    let (data, attachments) = match value.get("data") {
        Some(d) if events => {
            let (json, attachments) = wire::to_placeholders(d);
            (Some(json), attachments)
        }
        Some(d) => (Some(wire::to_json(d)), Vec::new()),
        None => (None, Vec::new()),
    };
    if attachments.len() > limits.max_attachments {
        return Err(DecodeError::TooManyAttachments);
    }
    if !payload_valid(kind, data.as_ref()) {
        return Err(DecodeError::InvalidPayload);
    }
    // A map that merely looks like a placeholder would later be taken for a
    // binary (or point at none): refused, so every placeholder is ours.
    if events && data.as_ref().map_or(0, count_placeholders) != attachments.len() {
        return Err(DecodeError::InvalidPlaceholder);
    }
    let kind = match kind {
        PacketKind::Event if !attachments.is_empty() => PacketKind::BinaryEvent,
        PacketKind::Ack if !attachments.is_empty() => PacketKind::BinaryAck,
        k => k,
    };
    let packet = Packet {
        kind,
        nsp,
        id,
        data,
        attachments: attachments.len(),
    };
    Ok((packet, attachments))
}

/// EVENT `{type: 2, data: [event, ...args], id?, nsp}` (Node's key order),
/// binaries from `attachments` in place of their placeholders.
pub fn encode_event(
    out: &mut Vec<u8>,
    nsp: &str,
    id: Option<u64>,
    event: &str,
    args: &[Value],
    attachments: &[Bytes],
) {
    out.push(0x80 | if id.is_some() { 4 } else { 3 });
    write_str(out, "type");
    out.push(PacketKind::Event as u8);
    write_str(out, "data");
    write_array_len(out, args.len() + 1);
    write_str(out, event);
    for a in args {
        write_json(out, a, attachments);
    }
    if let Some(id) = id {
        write_str(out, "id");
        write_id(out, id);
    }
    write_str(out, "nsp");
    write_str(out, nsp);
}

/// ACK `{id, type: 3, data: [args…], nsp}` (Node's key order).
pub fn encode_ack(out: &mut Vec<u8>, nsp: &str, id: u64, args: &[Value], attachments: &[Bytes]) {
    out.push(0x84);
    write_str(out, "id");
    write_id(out, id);
    write_str(out, "type");
    out.push(PacketKind::Ack as u8);
    write_str(out, "data");
    write_array_len(out, args.len());
    for a in args {
        write_json(out, a, attachments);
    }
    write_str(out, "nsp");
    write_str(out, nsp);
}

/// The server's CONNECT reply `{type: 0, data: {sid}, nsp}`.
pub fn encode_connect(out: &mut Vec<u8>, nsp: &str, sid: &str, pid: Option<&str>) {
    out.push(0x83);
    write_str(out, "type");
    out.push(PacketKind::Connect as u8);
    write_str(out, "data");
    out.push(if pid.is_some() { 0x82 } else { 0x81 });
    write_str(out, "sid");
    write_str(out, sid);
    if let Some(pid) = pid {
        // Connection state recovery's private id.
        write_str(out, "pid");
        write_str(out, pid);
    }
    write_str(out, "nsp");
    write_str(out, nsp);
}

/// CONNECT_ERROR `{type: 4, data: {message, data?}, nsp}`.
pub fn encode_connect_error(out: &mut Vec<u8>, nsp: &str, message: &str, data: Option<&Value>) {
    out.push(0x83);
    write_str(out, "type");
    out.push(PacketKind::ConnectError as u8);
    write_str(out, "data");
    out.push(if data.is_some() { 0x82 } else { 0x81 });
    write_str(out, "message");
    write_str(out, message);
    if let Some(d) = data {
        write_str(out, "data");
        write_json(out, d, &[]);
    }
    write_str(out, "nsp");
    write_str(out, nsp);
}

/// The server's DISCONNECT `{type: 1, nsp}`.
pub fn encode_disconnect(out: &mut Vec<u8>, nsp: &str) {
    out.push(0x82);
    write_str(out, "type");
    out.push(PacketKind::Disconnect as u8);
    write_str(out, "nsp");
    write_str(out, nsp);
}

/// Deepest argument nesting the encoder writes (cluster-wire's limit).
const MAX_ENCODE_DEPTH: usize = 256;

/// A JSON value with placeholders resolved against `attachments`, written
/// straight from the JSON (no intermediate value, no string copies); `nil`
/// when it cannot be encoded (see the module invariants). Produces what
/// `encode_into(&from_placeholders(v, attachments))` does (tested).
fn write_json(out: &mut Vec<u8>, v: &Value, attachments: &[Bytes]) {
    let before = out.len();
    if write_value(out, v, attachments, 1).is_none() {
        out.truncate(before);
        out.push(0xc0);
    }
}

fn write_value(out: &mut Vec<u8>, v: &Value, attachments: &[Bytes], depth: usize) -> Option<()> {
    match v {
        Value::Null => out.push(0xc0),
        Value::Bool(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => write_uint(out, u),
            (None, Some(i)) => write_int(out, i),
            _ => write_float(out, n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => write_str(out, s),
        Value::Array(items) => {
            if depth > MAX_ENCODE_DEPTH {
                return None;
            }
            write_array_len(out, items.len());
            for item in items {
                write_value(out, item, attachments, depth + 1)?;
            }
        }
        Value::Object(map) => {
            if let Some(bin) = placeholder_target(map, attachments) {
                write_bin(out, bin)?;
                return Some(());
            }
            if depth > MAX_ENCODE_DEPTH {
                return None;
            }
            write_map_len(out, map.len());
            for (k, item) in map {
                write_str(out, k);
                write_value(out, item, attachments, depth + 1)?;
            }
        }
    }
    Some(())
}

/// The attachment a placeholder object refers to (cluster-wire's rule:
/// `_placeholder: true` and a `num` indexing `attachments`).
fn placeholder_target<'a>(
    map: &serde_json::Map<String, Value>,
    attachments: &'a [Bytes],
) -> Option<&'a Bytes> {
    if attachments.is_empty() || map.get("_placeholder") != Some(&Value::Bool(true)) {
        return None;
    }
    let num = usize::try_from(map.get("num")?.as_u64()?).ok()?;
    attachments.get(num)
}

fn write_bin(out: &mut Vec<u8>, b: &[u8]) -> Option<()> {
    if let Ok(l) = u8::try_from(b.len()) {
        out.extend_from_slice(&[0xc4, l]);
    } else if let Ok(l) = u16::try_from(b.len()) {
        out.push(0xc5);
        out.extend_from_slice(&l.to_be_bytes());
    } else {
        out.push(0xc6);
        out.extend_from_slice(&u32::try_from(b.len()).ok()?.to_be_bytes());
    }
    out.extend_from_slice(b);
    Some(())
}

/// notepack: an integral finite number is an integer in its smallest
/// form, anything else float64.
fn write_float(out: &mut Vec<u8>, f: f64) {
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    const TWO_64: f64 = 18_446_744_073_709_551_616.0;
    if f.is_finite() && f.floor() == f {
        // `-0.0 >= 0.0` holds, so `-0` is `0x00` as in notepack.
        if (0.0..TWO_64).contains(&f) {
            return write_uint(out, f as u64);
        }
        if (-TWO_63..0.0).contains(&f) {
            return write_int(out, f as i64);
        }
    }
    out.push(0xcb);
    out.extend_from_slice(&f.to_bits().to_be_bytes());
}

fn write_uint(out: &mut Vec<u8>, u: u64) {
    ringcast_cluster_wire::write_uint(u, out);
}

fn write_int(out: &mut Vec<u8>, i: i64) {
    ringcast_cluster_wire::write_int(i, out);
}

fn write_id(out: &mut Vec<u8>, id: u64) {
    write_uint(out, id);
}

/// fixmap / map16 / map32.
fn write_map_len(out: &mut Vec<u8>, len: usize) {
    if len < 16 {
        out.push(0x80 | len as u8);
    } else if let Ok(l) = u16::try_from(len) {
        out.push(0xde);
        out.extend_from_slice(&l.to_be_bytes());
    } else {
        out.push(0xdf);
        out.extend_from_slice(&u32::try_from(len).unwrap_or(u32::MAX).to_be_bytes());
    }
}

/// fixstr / str8 / str16 / str32, as notepack picks them.
fn write_str(out: &mut Vec<u8>, s: &str) {
    let len = s.len();
    if len < 32 {
        out.push(0xa0 | len as u8);
    } else if let Ok(l) = u8::try_from(len) {
        out.extend_from_slice(&[0xd9, l]);
    } else if let Ok(l) = u16::try_from(len) {
        out.push(0xda);
        out.extend_from_slice(&l.to_be_bytes());
    } else {
        // Strings over 4 GiB cannot reach here: every message is bounded far
        // below by the outgoing queue limits; saturate rather than panic.
        out.push(0xdb);
        out.extend_from_slice(&u32::try_from(len).unwrap_or(u32::MAX).to_be_bytes());
    }
    out.extend_from_slice(s.as_bytes());
}

/// fixarray / array16 / array32.
fn write_array_len(out: &mut Vec<u8>, len: usize) {
    if len < 16 {
        out.push(0x90 | len as u8);
    } else if let Ok(l) = u16::try_from(len) {
        out.push(0xdc);
        out.extend_from_slice(&l.to_be_bytes());
    } else {
        out.push(0xdd);
        out.extend_from_slice(&u32::try_from(len).unwrap_or(u32::MAX).to_be_bytes());
    }
}

#[cfg(test)]
#[path = "msgpack_tests.rs"]
mod tests;
