//! The scripted clients' side of the simulation: HTTP requests as wire
//! strings (served where `runtime::route` sends them, with the connection
//! handed to the owner shard through the mesh as the runtime does) and
//! websocket connections whose frames are read back as text.

use std::os::fd::OwnedFd;
use std::rc::Rc;

use bytes::Bytes;
use ringcast_proto::http::{self, Limits, RequestHead};
use ringcast_proto::ws::{self, Message};

use super::Sim;
use crate::runtime::handshake::{create_session, open_packet, polling_open_body};
use crate::runtime::io::ws_chunks;
use crate::runtime::polling::{begin_get_via, begin_post, get_body, handle_post_body};
use crate::runtime::route::{route_on, Route};
use crate::runtime::websocket::{
    begin_upgrade, handle_message, probe_message, ProbeStep, UpgradeStart,
};
use crate::shard::msg::Frame;
use crate::shard::port::ToShard;
use crate::shard::session::{Handshake, Session, Transport};
use ringcast_proto::engineio::Protocol;

/// The answer to a simulated HTTP request.
#[derive(Debug)]
pub(crate) enum Reply {
    /// A complete response.
    Done {
        /// Status code.
        status: u16,
        /// Body, as text.
        body: String,
    },
    /// A long-poll GET waiting for packets ([`Sim::resume`]).
    Parked(Rc<Session>),
    /// A websocket: `101` sent (and, for a new session, its open packet).
    Switched(Ws),
    /// `101` then at once a close frame: a second upgrade of a busy session
    /// (Node's answer; the session is untouched).
    SwitchedThenClosed,
}

impl Reply {
    /// The body of a complete `200` response.
    #[track_caller]
    pub(crate) fn ok(self) -> String {
        match self {
            Self::Done { status: 200, body } => body,
            other => panic!("expected a 200 response, got {other:?}"),
        }
    }
}

/// A simulated websocket connection to the shard owning `session`.
#[derive(Debug)]
pub(crate) struct Ws {
    /// The shard serving the connection.
    pub(crate) shard: usize,
    /// Its session.
    pub(crate) session: Rc<Session>,
    /// Still in the probe phase of an upgrade (before `5`).
    probing: bool,
    /// The close frame was written.
    closed: bool,
    /// Frames written before the connection loop (the open packet).
    early: Vec<String>,
}

/// The request head of a wire string.
fn parse(raw: &[u8]) -> (RequestHead, usize) {
    match http::parse_request(raw, &Limits::default()) {
        Ok(Some(h)) => h,
        other => panic!("simulated request does not parse: {other:?}"),
    }
}

/// Text of server (unmasked) websocket frames: text payloads as they are,
/// `<binary N>`, `<close>`, `<pong>`.
pub(crate) fn frames_text(mut bytes: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    while bytes.len() >= 2 {
        let opcode = bytes[0] & 0x0f;
        let (len, start) = match bytes[1] & 0x7f {
            126 => (u16::from_be_bytes([bytes[2], bytes[3]]) as usize, 4),
            127 => {
                let mut b = [0u8; 8];
                b.copy_from_slice(&bytes[2..10]);
                (u64::from_be_bytes(b) as usize, 10)
            }
            n => (n as usize, 2),
        };
        let payload = &bytes[start..start + len];
        out.push(match opcode {
            ws::opcode::TEXT => String::from_utf8_lossy(payload).into_owned(),
            ws::opcode::BINARY => format!("<binary {len}>"),
            ws::opcode::CLOSE => "<close>".to_owned(),
            ws::opcode::PONG => "<pong>".to_owned(),
            other => format!("<opcode {other}>"),
        });
        bytes = &bytes[start + len..];
    }
    out
}

/// A GET of `path?query` (`target`), optionally a websocket upgrade.
pub(crate) fn get(target: &str, upgrade: bool) -> String {
    let ws = if upgrade {
        "Connection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
    } else {
        ""
    };
    format!("GET {target} HTTP/1.1\r\nHost: sim\r\n{ws}\r\n")
}

/// A POST of `body` to `target`.
pub(crate) fn post(target: &str, body: &str) -> String {
    format!(
        "POST {target} HTTP/1.1\r\nHost: sim\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

impl Sim {
    /// Sends the request `raw` to shard `landing` (where the kernel put the
    /// connection) and serves it where `route` sends it: a request naming
    /// another shard's session moves there as `ToShard::Adopt` through the
    /// mesh (other pairs' messages may be delivered meanwhile).
    pub(crate) fn http(&mut self, landing: usize, raw: &str) -> Reply {
        let mut at = landing;
        let mut bytes = raw.as_bytes().to_vec();
        self.last_path = vec![landing];
        loop {
            let (head, head_len) = parse(&bytes);
            let shard = self.shards[at].clone();
            let session = match route_on(&shard, &head) {
                Route::Handoff(owner) => {
                    // As `conn::handoff`: the connection (any descriptor
                    // will do here) and the unconsumed bytes move.
                    shard.stats.handoffs.set(shard.stats.handoffs.get() + 1);
                    let (reader, _writer) = std::io::pipe().expect("a pipe for the handoff");
                    let fd = OwnedFd::from(reader);
                    shard.mesh.send(
                        owner,
                        ToShard::Adopt {
                            fd,
                            buffered: bytes,
                        },
                    );
                    while self.adopted.is_empty() {
                        assert!(self.deliver_one(at, owner), "the handoff reaches the owner");
                    }
                    let (owner, adoption) = self.adopted.pop_front().expect("just adopted");
                    at = owner;
                    bytes = adoption.buffered;
                    self.last_path.push(at);
                    continue;
                }
                Route::NotFound => return done(404, "Not Found"),
                Route::Preflight => return done(204, ""),
                Route::Error(e) => return done(e.http_status(), ""),
                Route::Open {
                    kind, transport, ..
                } => {
                    let handshake = Handshake {
                        address: format!("10.0.0.{at}"),
                        ..Handshake::default()
                    };
                    if transport == Transport::WebSocket {
                        if let Err(e) = crate::runtime::handshake::accept(&shard, &head) {
                            return done(e.http_status(), "");
                        }
                    }
                    let session =
                        create_session(&shard, kind, transport, Protocol::V4, handshake, self.now);
                    if transport == Transport::Polling {
                        return done(200, &polling_open_body(&shard, &session.sid));
                    }
                    let open = open_packet(&shard, &session.sid, false);
                    let frame = Frame::text(open.as_bytes()[0], &open.as_bytes()[1..]);
                    return Reply::Switched(Ws {
                        shard: at,
                        session,
                        probing: false,
                        closed: false,
                        early: frames_text(&frame.bytes),
                    });
                }
                Route::Get(s) | Route::Post(s) | Route::Upgrade(s) => s,
            };
            if head.upgrade_websocket {
                return match begin_upgrade(&shard, &head, &session) {
                    Ok(UpgradeStart::Busy(_)) => Reply::SwitchedThenClosed,
                    Ok(UpgradeStart::Probe(_switching_protocols, _deflate)) => {
                        Reply::Switched(Ws {
                            shard: at,
                            session,
                            probing: true,
                            closed: false,
                            early: Vec::new(),
                        })
                    }
                    Err(e) => done(e.http_status(), ""),
                };
            }
            if head.method == http::Method::Post {
                if let Err(e) = begin_post(&shard, &session) {
                    return done(e.http_status(), "");
                }
                let body = Bytes::copy_from_slice(&bytes[head_len..]);
                session.st.borrow_mut().eio.handle_post_done();
                handle_post_body(&shard, &session, &body, false, self.now);
                return done(200, "ok");
            }
            let relayed = head.headers.contains(crate::runtime::forward::HOP_HEADER);
            if let Err(e) = begin_get_via(&shard, &session, relayed) {
                return done(e.http_status(), "");
            }
            return self
                .resume(&session)
                .map_or(Reply::Parked(session), |b| done(200, &b));
        }
    }

    /// The answer of a parked long-poll GET if it answers now (`poll_get`).
    pub(crate) fn resume(&self, session: &Rc<Session>) -> Option<String> {
        let answer = session.st.borrow().eio.poll_get()?;
        session.st.borrow_mut().eio.handle_get_done();
        let (body, _) = get_body(session, answer);
        Some(String::from_utf8_lossy(&body).into_owned())
    }

    /// The client sends the text message `text` on `ws`; returns what the
    /// server wrote at once during the probe (`3probe`, or `<close>`).
    pub(crate) fn ws_send(&mut self, ws: &mut Ws, text: &str) -> Vec<String> {
        let msg = Message::Text(ringcast_proto::Utf8Bytes::from(text));
        if ws.probing {
            return match probe_message(&ws.session, msg) {
                ProbeStep::Answer(answer) => frames_text(answer.ws_frame()),
                ProbeStep::Upgraded => {
                    ws.probing = false;
                    Vec::new()
                }
                ProbeStep::Failed => {
                    ws.session.st.borrow_mut().eio.handle_upgrade_failed();
                    ws.closed = true;
                    vec!["<close>".to_owned()]
                }
            };
        }
        let shard = self.shards[ws.shard].clone();
        handle_message(&shard, &ws.session, self.now, msg);
        Vec::new()
    }

    /// What the server writes on `ws` now: its queue as websocket frames
    /// when it is the session's transport, then, once the session closed,
    /// what `websocket::finish` writes (the queue if it flushes on close,
    /// and a close frame).
    pub(crate) fn ws_recv(&self, ws: &mut Ws) -> Vec<String> {
        let mut out = std::mem::take(&mut ws.early);
        if ws.probing || ws.closed {
            return out;
        }
        let mut st = ws.session.st.borrow_mut();
        if st.eio.transport() != Transport::WebSocket {
            return out;
        }
        if !st.eio.is_closed() || st.eio.flushes_on_close() {
            while let Some(item) = st.eio.poll_transmit() {
                let bytes: Vec<u8> = ws_chunks(&item, None, Protocol::V4)
                    .flatten()
                    .copied()
                    .collect();
                out.extend(frames_text(&bytes));
            }
        }
        if st.eio.is_closed() {
            st.eio.clear_queue();
            ws.closed = true;
            out.push("<close>".to_owned());
        }
        out
    }
}

fn done(status: u16, body: &str) -> Reply {
    Reply::Done {
        status,
        body: body.to_owned(),
    }
}
