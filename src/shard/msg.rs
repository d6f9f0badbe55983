//! Encoded outgoing messages: encoded once, shared by every receiver.
//!
//! A [`Msg`] is one logical emit: the Engine.IO text packet carrying the
//! Socket.IO packet, followed by its binary attachments (each its own
//! Engine.IO binary packet). Every packet is stored as a complete, unmasked
//! WebSocket frame; the long-polling form of a text packet is the same
//! buffer without the frame header (a zero-copy slice), and the polling form
//! of a binary packet (`b` + base64) is derived when a polling receiver
//! drains it. A broadcast therefore allocates once, whatever the number of
//! receivers, and a receiver costs one reference-count increment.
//!
//! Engine.IO v3 receivers (`Config::allow_eio3`) read the same text frames;
//! a binary frame has another websocket form for them (`0x04` + data, or
//! `b4` + base64 text for `b64=1` clients), built once per frame by the
//! first v3 receiver and shared like the compressed form ([`Frame::wire_v3`]).

use std::rc::Rc;
use std::sync::{Arc, OnceLock};

use bytes::{BufMut, Bytes, BytesMut};
use ringcast_proto::engineio::payload::PayloadWriter;
use ringcast_proto::engineio::session::QueueItem;
use ringcast_proto::engineio::Packet;
use ringcast_proto::ws;
use smallvec::{smallvec, SmallVec};

pub use ringcast_proto::engineio::session::Control;

/// zlib level of permessage-deflate (zlib's default, as Node's `ws`).
const DEFLATE_LEVEL: u32 = 6;

/// One Engine.IO packet as a ready-to-send WebSocket frame.
#[derive(Debug)]
pub struct Frame {
    /// Frame header followed by the payload.
    pub bytes: Bytes,
    /// Length of the WebSocket header at the start of `bytes`.
    pub header_len: u8,
    /// Binary frame (raw attachment) rather than a text packet.
    pub binary: bool,
    /// The other forms of this frame, computed by the first receiver that
    /// needs one and shared by all others (through the message's `Arc`).
    /// Boxed on first use: most frames never need one (v4 clients without
    /// permessage-deflate), and inline they were 120 of a message's 192
    /// bytes, written and dropped with every ack and emit.
    forms: OnceLock<Box<Forms>>,
}

/// The lazily built forms of a [`Frame`].
#[derive(Debug, Default)]
struct Forms {
    /// The permessage-deflate form (RSV1 frame, [`Frame::wire`]); None
    /// inside when compressing does not shrink the payload.
    deflated: OnceLock<Option<Bytes>>,
    /// Engine.IO v3 binary frame: `0x04` + data.
    v3_binary: OnceLock<Bytes>,
    /// Engine.IO v3 text frame `b4` + base64, for `b64=1` clients.
    v3_base64: OnceLock<Bytes>,
}

impl Frame {
    /// The bytes to write to a websocket with `deflate` (the connection's
    /// permessage-deflate parameters and the threshold, None without the
    /// extension): the compressed frame when the payload is at least the
    /// threshold and may be compressed, else the plain frame. The
    /// compressed form does not depend on the receiver (no context
    /// takeover), so it is computed once per frame, on whichever shard
    /// needs it first.
    pub fn wire(&self, deflate: Option<(&ws::deflate::Negotiated, usize)>) -> &[u8] {
        let Some((n, threshold)) = deflate else {
            return &self.bytes;
        };
        let len = self.bytes.len() - self.header_len as usize;
        if len < threshold || !n.may_compress(len) {
            return &self.bytes;
        }
        let z = self.forms().deflated.get_or_init(|| {
            let data = ws::deflate::compress(self.payload(), DEFLATE_LEVEL)?;
            let op = if self.binary {
                ws::opcode::BINARY
            } else {
                ws::opcode::TEXT
            };
            let mut out = BytesMut::with_capacity(ws::frame_header_len(data.len()) + data.len());
            ws::encode_frame_header(op, data.len(), &mut out);
            // RSV1: the message is compressed (RFC 7692 §6).
            out[0] |= 0x40;
            out.extend_from_slice(&data);
            Some(out.freeze())
        });
        z.as_deref().unwrap_or(&self.bytes)
    }

    /// The bytes to write to an Engine.IO v3 websocket (`binary`: the
    /// client takes binary frames, no `b64=1`): text frames as for v4; a
    /// binary frame gets its type byte (`0x04` + data, Node's parser-v3
    /// `encodePacket`), or becomes the text frame `b4` + base64. The v3
    /// binary forms are never compressed.
    pub fn wire_v3(
        &self,
        deflate: Option<(&ws::deflate::Negotiated, usize)>,
        binary: bool,
    ) -> &[u8] {
        if !self.binary {
            return self.wire(deflate);
        }
        let data = self.payload();
        if binary {
            return self.forms().v3_binary.get_or_init(|| {
                let mut out =
                    BytesMut::with_capacity(ws::frame_header_len(data.len() + 1) + data.len() + 1);
                ws::encode_frame_header(ws::opcode::BINARY, data.len() + 1, &mut out);
                out.put_u8(4);
                out.extend_from_slice(data);
                out.freeze()
            });
        }
        self.forms().v3_base64.get_or_init(|| {
            use base64::Engine as _;
            let b64 = base64::engine::general_purpose::STANDARD.encode(data);
            let mut out =
                BytesMut::with_capacity(ws::frame_header_len(b64.len() + 2) + b64.len() + 2);
            ws::encode_frame_header(ws::opcode::TEXT, b64.len() + 2, &mut out);
            out.extend_from_slice(b"b4");
            out.extend_from_slice(b64.as_bytes());
            out.freeze()
        })
    }

    /// The lazily built forms, allocated by the first caller that needs one.
    fn forms(&self) -> &Forms {
        self.forms.get_or_init(Box::default)
    }

    /// The Engine.IO packet without WebSocket framing.
    pub fn payload(&self) -> &[u8] {
        &self.bytes[self.header_len as usize..]
    }

    /// Builds a text frame whose payload is `eio_type` followed by `data`.
    pub fn text(eio_type: u8, data: &[u8]) -> Self {
        let len = 1 + data.len();
        let mut out = BytesMut::with_capacity(ws::frame_header_len(len) + len);
        ws::encode_frame_header(ws::opcode::TEXT, len, &mut out);
        let header_len = out.len() as u8;
        out.put_u8(eio_type);
        out.extend_from_slice(data);
        Self {
            bytes: out.freeze(),
            header_len,
            binary: false,
            forms: OnceLock::new(),
        }
    }

    /// Builds a binary frame carrying `data` as-is.
    pub fn binary(data: &[u8]) -> Self {
        let mut out = BytesMut::with_capacity(ws::frame_header_len(data.len()) + data.len());
        ws::encode_frame_header(ws::opcode::BINARY, data.len(), &mut out);
        let header_len = out.len() as u8;
        out.extend_from_slice(data);
        Self {
            bytes: out.freeze(),
            header_len,
            binary: true,
            forms: OnceLock::new(),
        }
    }
}

/// One outgoing message: a text packet and its attachments, in send order.
#[derive(Debug)]
pub struct Msg {
    /// The frames in the order they must reach the client; the first is
    /// inline (a message without attachments allocates only its `Arc`
    /// and its bytes).
    pub frames: SmallVec<[Frame; 1]>,
    /// Total bytes on the wire (WebSocket framing), for queue accounting.
    pub wire_len: usize,
}

impl Msg {
    /// A Socket.IO packet (`sio` is its text encoding) with its attachments.
    pub fn socketio(sio: &str, attachments: &[Bytes]) -> Arc<Self> {
        let mut frames = SmallVec::with_capacity(1 + attachments.len());
        frames.push(Frame::text(b'4', sio.as_bytes()));
        frames.extend(attachments.iter().map(|a| Frame::binary(a)));
        Self::from_frames(frames)
    }

    /// A raw Engine.IO message (text), for the raw Engine.IO endpoints.
    pub fn engine_text(text: &[u8]) -> Arc<Self> {
        Self::from_frames(smallvec![Frame::text(b'4', text)])
    }

    /// A raw Engine.IO binary message.
    pub fn engine_binary(data: &[u8]) -> Arc<Self> {
        Self::from_frames(smallvec![Frame::binary(data)])
    }

    fn from_frames(frames: SmallVec<[Frame; 1]>) -> Arc<Self> {
        let wire_len = frames.iter().map(|f| f.bytes.len()).sum();
        Arc::new(Self { frames, wire_len })
    }
}

/// A pre-encoded message as the queues of one shard hold it: the `Arc`
/// crosses shards once per broadcast, then every receiver on the shard
/// holds an `Rc` of it, so queueing it costs a plain increment per
/// receiver rather than an atomic one (the atomic `lock inc` was about 5%
/// of the server's CPU in a 1,000-receiver fan-out profile, see
/// docs/benchmarks.md).
pub type LocalMsg = Rc<Arc<Msg>>;

/// An item of a session's outgoing queue.
#[derive(Debug, Clone)]
pub enum OutItem {
    /// A pre-encoded message shared by this shard's receivers of a
    /// broadcast.
    Msg(LocalMsg),
    /// A pre-encoded message queued as it was made (a unicast emit, an ack,
    /// a replayed message): one atomic increment, where wrapping it for
    /// [`OutItem::Msg`] would allocate an `Rc` for a single receiver.
    Own(Arc<Msg>),
    /// A control packet.
    Control(Control),
    /// A websocket-only frame (a pong to a websocket ping); skipped on polling.
    /// Boxed: rare, and it keeps every queue entry at 16 bytes (a `Bytes` is 32),
    /// which matters when thousands of queues hold hundreds of entries each.
    Raw(Box<Bytes>),
}

// A message without attachments fits in 80 bytes (96 with the `Arc`'s
// counts): see `Frame::forms`.
const _: () = assert!(size_of::<Msg>() <= 80);

// A queue entry stays two words (see `OutItem::Raw`).
const _: () = assert!(size_of::<OutItem>() == 16);

impl OutItem {
    /// The message this item carries (None: a control packet or a raw frame).
    #[inline]
    pub fn msg(&self) -> Option<&Msg> {
        match self {
            Self::Msg(m) => Some(m),
            Self::Own(m) => Some(m),
            Self::Control(_) | Self::Raw(_) => None,
        }
    }
}

impl QueueItem for OutItem {
    fn control(c: Control) -> Self {
        Self::Control(c)
    }

    /// Bytes this item takes on a websocket, for queue accounting.
    #[inline]
    fn wire_len(&self) -> usize {
        match self {
            Self::Msg(m) => m.wire_len,
            Self::Own(m) => m.wire_len,
            Self::Control(c) => c.ws_frame().len(),
            Self::Raw(b) => b.len(),
        }
    }

    /// Text packets are the frame's payload (a zero-copy slice); binary
    /// attachments become `b` + base64 (the codec's encoder); websocket-only
    /// frames are skipped.
    fn write_polling(&self, w: &mut PayloadWriter<'_>) {
        if let Self::Control(c) = self {
            return w.push_encoded(c.text());
        }
        for f in self.msg().map_or(&[][..], |m| &m.frames[..]) {
            if f.binary {
                let data = f.bytes.slice(f.header_len as usize..);
                w.push(&Packet::Binary(data));
            } else {
                w.push_encoded(f.payload());
            }
        }
    }

    fn has_binary(&self) -> bool {
        self.msg()
            .is_some_and(|m| m.frames.iter().any(|f| f.binary))
    }
}
