//! Codec micro-benchmarks (`ringcast_proto`, in memory, no IO).
//!
//! - Socket.IO: encode / decode a text EVENT carrying a small JSON object, and
//!   a BINARY_EVENT with one attachment (decode includes reassembly); the
//!   server's ACK reply to an echo, JSON and shared frame (`encode/ack_msg`);
//!   the fast EVENT decoder (`decode/text_event_fast`, arguments kept as
//!   text) and a whole echo request, decode to ACK `Msg`, both ways
//!   (`echo/decode_and_ack_values`, `echo/decode_and_ack_text`), and the
//!   broker's relay of `publish`(room, event, data) both ways (`relay/*`);
//! - Engine.IO: a long-polling payload of 10 packets joined by `0x1e`
//!   (encode with `PayloadWriter`, decode with `payload::decode`), and the
//!   server's own GET path: draining a session queue of shared, pre-encoded
//!   messages with `Session::poll_payload` (what `runtime::polling` runs:
//!   the same `PayloadWriter`, text packets copied once from their frames);
//! - WebSocket: decoding masked client frames (one small text frame, a
//!   1 KiB binary frame, and a 10-frame read as it comes off a socket);
//!   the upgrade's request head parsed (a browser's and the load
//!   generator's) and its `Sec-WebSocket-Accept` key.
//!
//! Run: `cargo bench --bench codec` (add `-- --quick` for a short run).

use bytes::{BufMut, Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use ringcast::shard::msg::{Control, Msg, OutItem};
use ringcast_proto::engineio::session::{Session, SessionConfig, Transport};
use ringcast_proto::engineio::{self, payload};
use ringcast_proto::socketio::{self, Limits, Reassembler};
use ringcast_proto::ws::{self, FrameDecoder, Message};
use serde_json::{json, Value};
use std::hint::black_box;
use std::time::{Duration, Instant};

/// The small JSON object used as event data throughout.
fn small_object() -> Value {
    json!({"user": "alice", "room": "lobby", "text": "hello, world", "ts": 1_700_000_000_u64, "tags": ["a", "b"]})
}

/// `42["chat",{...}]` without the Engine.IO `4`.
fn text_event() -> String {
    let mut out = String::new();
    socketio::encode_event(&mut out, "/", None, "chat", &[small_object()], 0);
    out
}

/// `51-["file",{"name":"a.bin","data":{"_placeholder":true,"num":0}}]` and its attachment.
fn binary_event() -> (String, Bytes) {
    let arg = json!({"name": "a.bin", "data": socketio::placeholder(0)});
    let mut out = String::new();
    socketio::encode_event(&mut out, "/", None, "file", &[arg], 1);
    (out, Bytes::from(vec![0xab_u8; 1024]))
}

/// A masked client frame (FIN set), as a browser sends it.
fn masked_frame(opcode: u8, payload: &[u8], mask: [u8; 4]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 14);
    out.push(0x80 | opcode);
    match payload.len() {
        n if n < 126 => out.push(0x80 | n as u8),
        n if n <= 0xffff => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&mask);
    let start = out.len();
    out.extend_from_slice(payload);
    ws::apply_mask(&mut out[start..], mask);
    out
}

fn socketio_codec(c: &mut Criterion) {
    let mut g = c.benchmark_group("socketio");
    let args = [small_object()];
    let text = text_event();
    g.throughput(Throughput::Elements(1));

    g.bench_function("encode/text_event", |b| {
        let mut out = String::with_capacity(128);
        b.iter(|| {
            out.clear();
            socketio::encode_event(&mut out, "/", None, black_box("chat"), black_box(&args), 0);
            black_box(out.len())
        })
    });
    // Reference point, not a ringcast path: the same JSON written by serde_json
    // straight into a byte vector (what the text_event encode costs beyond it
    // is the prefix plus ringcast's `io::Write` adapter into a `String`).
    g.bench_function("encode/text_event_reference_serde_json_to_vec", |b| {
        let mut out = Vec::with_capacity(128);
        b.iter(|| {
            out.clear();
            out.extend_from_slice(b"2[\"chat\",");
            serde_json::to_writer(&mut out, black_box(&args[0])).unwrap();
            out.push(b']');
            black_box(out.len())
        })
    });
    // The server's whole reply to an echo request (`ack.send(payload)`):
    // the ACK packet's JSON plus its shared websocket frame (`Msg`), as
    // `server::Payload::encode_ack` builds it once per acknowledgement.
    g.bench_function("encode/ack_msg", |b| {
        b.iter(|| {
            ringcast::shard::encode::ack(
                ringcast::config::Parser::Json,
                "/",
                black_box(12345),
                black_box(&args),
                &[],
            )
        })
    });
    g.bench_function("decode/text_event", |b| {
        let limits = Limits::default();
        b.iter(|| socketio::Packet::decode(black_box(&text), &limits).unwrap())
    });
    g.bench_function("decode/text_event_fast", |b| {
        let limits = Limits::default();
        b.iter(|| socketio::Packet::decode_event(black_box(&text), &limits).unwrap())
    });
    // A server's whole work on one echo request, packet text in, ACK `Msg`
    // out (the load generator's `echo` stamp, 64 B): through `Value`s
    // (`Packet::decode`, what every event took before the fast path) and
    // with the arguments kept as text (`Packet::decode_event` + `Args`).
    let echo = r#"21234["echo",{"s":17,"t":1234567890,"p":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}]"#;
    g.bench_function("echo/decode_and_ack_values", |b| {
        let limits = Limits::default();
        b.iter(|| {
            let p = socketio::Packet::decode(black_box(echo), &limits).unwrap();
            let Some(Value::Array(mut items)) = p.data else {
                unreachable!()
            };
            let name = items.remove(0);
            black_box(name);
            ringcast::shard::encode::ack(
                ringcast::config::Parser::Json,
                &p.nsp,
                p.id.unwrap(),
                &items,
                &[],
            )
        })
    });
    // The broker's relay (`publish`(room, event, data)): read the room and
    // event names, keep `data`, encode the EVENT for the room; through
    // values, and from the received text (`Args::str_at`, `Args::keep`).
    let publish = r#"21234["publish","chat:1","message",{"s":17,"t":1234567890,"p":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}]"#;
    g.bench_function("relay/decode_and_encode_values", |b| {
        let limits = Limits::default();
        b.iter(|| {
            let p = socketio::Packet::decode(black_box(publish), &limits).unwrap();
            let Some(Value::Array(items)) = p.data else {
                unreachable!()
            };
            let room = items[1].as_str().unwrap();
            let event = items[2].as_str().unwrap();
            black_box(room);
            ringcast::shard::encode::event(
                ringcast::config::Parser::Json,
                &p.nsp,
                None,
                event,
                &items[3..],
                &[],
            )
        })
    });
    g.bench_function("relay/decode_and_encode_text", |b| {
        let limits = Limits::default();
        b.iter(|| {
            let ev = socketio::Packet::decode_event(black_box(publish), &limits).unwrap();
            let room = ev.args.str_at(0).unwrap();
            let event = ev.args.str_at(1).unwrap().to_owned();
            black_box(room);
            let mut data = ev.args;
            data.keep(2);
            ringcast::shard::encode::event(
                ringcast::config::Parser::Json,
                ev.nsp,
                None,
                &event,
                &data,
                &[],
            )
        })
    });
    g.bench_function("echo/decode_and_ack_text", |b| {
        let limits = Limits::default();
        b.iter(|| {
            let ev = socketio::Packet::decode_event(black_box(echo), &limits).unwrap();
            black_box(&ev.event);
            ringcast::shard::encode::ack(
                ringcast::config::Parser::Json,
                ev.nsp,
                ev.id.unwrap(),
                &ev.args,
                &[],
            )
        })
    });

    let (bin_text, attachment) = binary_event();
    let bin_args = [json!({"name": "a.bin", "data": socketio::placeholder(0)})];
    g.bench_function("encode/binary_event_1_attachment", |b| {
        // The text part plus the attachment as a ready websocket frame, as a
        // broadcast encodes it once.
        let mut out = String::with_capacity(128);
        let mut frames = BytesMut::with_capacity(2048);
        b.iter(|| {
            out.clear();
            frames.clear();
            socketio::encode_event(&mut out, "/", None, "file", black_box(&bin_args), 1);
            ws::encode_frame(ws::opcode::BINARY, black_box(&attachment), &mut frames);
            black_box((out.len(), frames.len()))
        })
    });
    g.bench_function("decode/binary_event_1_attachment", |b| {
        let limits = Limits::default();
        b.iter(|| {
            let p = socketio::Packet::decode(black_box(&bin_text), &limits).unwrap();
            let mut r = Reassembler::new(p);
            r.push(attachment.clone());
            r.finish()
        })
    });
    g.finish();
}

fn engineio_payload(c: &mut Criterion) {
    let mut g = c.benchmark_group("engineio_polling");
    // 10 packets: 8 message events, a ping and a noop.
    let msg = ringcast_proto::Utf8Bytes::from(text_event());
    let mut packets: Vec<engineio::Packet> = (0..8)
        .map(|_| engineio::Packet::Message(msg.clone()))
        .collect();
    packets.push(engineio::Packet::Ping(Bytes::new()));
    packets.push(engineio::Packet::Noop);
    let mut body = BytesMut::new();
    {
        let mut w = payload::PayloadWriter::new(&mut body);
        for p in &packets {
            w.push(p);
        }
    }
    let body = body.freeze();
    assert_eq!(payload::decode(&body, 16).unwrap().len(), 10);
    g.throughput(Throughput::Elements(10));

    g.bench_function("encode/payload_10_packets", |b| {
        let mut out = BytesMut::with_capacity(body.len() + 16);
        b.iter(|| {
            out.clear();
            let mut w = payload::PayloadWriter::new(&mut out);
            for p in black_box(&packets) {
                w.push(p);
            }
            black_box(out.len())
        })
    });
    g.bench_function("decode/payload_10_packets", |b| {
        b.iter(|| payload::decode(black_box(&body), 16).unwrap())
    });

    // The server's GET: the same 10 packets queued on a session as the
    // shard queues them (one shared `LocalMsg` per event, controls by
    // value), drained by `poll_payload`.
    let event = std::rc::Rc::new(Msg::socketio(&text_event(), &[]));
    let fill = || {
        let config = SessionConfig {
            ping_interval: Duration::from_secs(25),
            ping_timeout: Duration::from_secs(20),
            connect_timeout: None,
            max_buffered_bytes: 1 << 20,
            protocol: engineio::Protocol::V4,
        };
        let mut s = Session::<OutItem>::new(config, Transport::Polling, Instant::now());
        for _ in 0..8 {
            s.push(OutItem::Msg(event.clone()), false);
        }
        s.push_control(Control::Ping);
        s.push_control(Control::Noop);
        s
    };
    let mut drained = BytesMut::new();
    assert_eq!(fill().poll_payload(&mut drained), 10);
    assert_eq!(
        drained, body,
        "the server's GET body is the codec's payload"
    );
    g.bench_function("encode/session_poll_payload_10_packets", |b| {
        let mut out = BytesMut::with_capacity(body.len() + 16);
        b.iter_batched_ref(
            fill,
            |s| {
                out.clear();
                black_box(s.poll_payload(&mut out))
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

fn websocket_decode(c: &mut Criterion) {
    let mut g = c.benchmark_group("websocket_decode");
    let mask = [0x37, 0xfa, 0x21, 0x3d];
    // `42["chat",{...}]`: the typical small client event.
    let mut text = b"4".to_vec();
    text.extend_from_slice(text_event().as_bytes());
    let small = masked_frame(ws::opcode::TEXT, &text, mask);
    let bin_1k = masked_frame(ws::opcode::BINARY, &[0x5a; 1024], mask);
    let ten: Vec<u8> = (0..10).flat_map(|_| small.iter().copied()).collect();

    let cases: [(&str, &[u8], usize); 3] = [
        ("masked_text_event", &small, 1),
        ("masked_binary_1KiB", &bin_1k, 1),
        ("masked_text_event_x10_one_read", &ten, 10),
    ];
    for (name, wire, frames) in cases {
        g.throughput(Throughput::Elements(frames as u64));
        g.bench_function(name, |b| {
            let mut dec = FrameDecoder::new(1_000_000);
            b.iter_batched_ref(
                // a fresh socket buffer (decoding unmasks in place)
                || {
                    let mut buf = BytesMut::with_capacity(wire.len());
                    buf.put_slice(wire);
                    buf
                },
                |buf| {
                    let mut n = 0;
                    while let Some(m) = dec.decode(buf).unwrap() {
                        debug_assert!(matches!(m, Message::Text(_) | Message::Binary(_)));
                        black_box(m);
                        n += 1;
                    }
                    assert_eq!(n, frames);
                },
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
}

/// A websocket upgrade as a browser sends it (Chrome 131's header set).
const BROWSER_UPGRADE: &[u8] = b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n\
Host: chat.example.com\r\nConnection: Upgrade\r\nPragma: no-cache\r\n\
Cache-Control: no-cache\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 \
(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36\r\nUpgrade: websocket\r\n\
Origin: https://chat.example.com\r\nSec-WebSocket-Version: 13\r\n\
Accept-Encoding: gzip, deflate, br, zstd\r\nAccept-Language: en-US,en;q=0.9\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n";

/// The same upgrade as `ringcast-load` sends it (the connect storm's).
const LOADGEN_UPGRADE: &[u8] = b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n\
Host: 127.0.0.1:3000\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

/// What a new websocket connection costs the protocol core before any
/// Socket.IO packet: the request head's parse and the accept key.
fn websocket_handshake(c: &mut Criterion) {
    let mut g = c.benchmark_group("websocket_handshake");
    let limits = ringcast_proto::http::Limits::default();
    for (name, head) in [("browser", BROWSER_UPGRADE), ("loadgen", LOADGEN_UPGRADE)] {
        g.bench_function(format!("parse_request/{name}"), |b| {
            b.iter(|| {
                let parsed = ringcast_proto::http::parse_request(black_box(head), &limits);
                black_box(parsed.unwrap().unwrap())
            })
        });
    }
    g.bench_function("accept_key", |b| {
        b.iter(|| ws::accept_key(black_box(b"dGhlIHNhbXBsZSBub25jZQ==")))
    });
    g.finish();
}

criterion_group!(
    benches,
    socketio_codec,
    engineio_payload,
    websocket_decode,
    websocket_handshake
);
criterion_main!(benches);
