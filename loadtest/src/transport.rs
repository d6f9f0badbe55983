//! The two transports on top of [`Engine`]'s sockets.
//!
//! - WebSocket: `GET …?EIO=4&transport=websocket` upgrade (accept key
//!   checked), then masked text frames out and unmasked frames in.
//! - Polling: a long-poll GET socket (handshake `GET` without sid, then a
//!   new `GET` as soon as each response is read) and a keep-alive POST
//!   socket with at most one POST in flight; packets queued meanwhile are
//!   joined with `0x1e` into the next POST. A POST whose keep-alive socket
//!   the server closed before answering is retried once on a new socket.
//!
//! Both feed Engine.IO text packets to [`Engine::on_eio_text`], which
//! answers pings, completes the Socket.IO CONNECT and reports events and
//! acks to the [`Handler`].

use ringcast_proto::engineio::payload::SEPARATOR;
use ringcast_proto::http::ChunkedDecoder;

use crate::engine::{Engine, Handler, Kind, Phase, Role, State};
use crate::sio::{classify, Incoming};
use crate::wire::{self, opcode};

/// Largest frame or response body accepted from the server.
const MAX_MESSAGE: usize = 64 << 20;

impl Engine {
    /// Starts connecting `cid` (TCP, then the transport handshake, then the
    /// Socket.IO CONNECT). Completion is reported by `on_connected`,
    /// failure by `on_closed`.
    pub(crate) fn connect(&mut self, cid: usize) {
        let kind = self.clients[cid].kind;
        let role = if kind == Kind::WebSocket {
            Role::Ws
        } else {
            Role::Get
        };
        self.clients[cid].state = State::Connecting;
        self.clients[cid].sid.clear();
        self.clients[cid].post_retries = 0;
        let sid = match self.open_sock(cid, role) {
            Ok(s) => s,
            Err(e) => return self.defer_fail(cid, format!("connect: {e}")),
        };
        self.clients[cid].main = Some(sid);
        let s = &mut self.socks[sid];
        let t = &self.targets[self.clients[cid].target];
        if role == Role::Ws {
            s.ws_key = wire::ws_key(&mut self.rng);
            wire::write_ws_upgrade(&mut s.wbuf, &t.host, &t.path, &s.ws_key, self.deflate);
        } else {
            wire::write_poll_get(&mut s.wbuf, &t.host, &t.path, "");
        }
        self.mark_dirty(sid);
    }

    /// Leaves `/` and closes the connection (no `on_closed`); the client
    /// becomes idle and may be connected again at once.
    pub(crate) fn disconnect(&mut self, cid: usize) {
        let c = &mut self.clients[cid];
        if matches!(c.state, State::Connecting | State::Connected) {
            match c.kind {
                Kind::WebSocket => {
                    if let Some(sid) = c.main {
                        let s = &mut self.socks[sid];
                        if matches!(s.phase, Phase::Frames) {
                            wire::write_masked_frame(
                                &mut s.wbuf,
                                opcode::TEXT,
                                b"41",
                                b"",
                                &mut self.rng,
                            );
                            wire::write_masked_frame(
                                &mut s.wbuf,
                                opcode::CLOSE,
                                &1000u16.to_be_bytes(),
                                b"",
                                &mut self.rng,
                            );
                        }
                    }
                }
                Kind::Polling if !c.sid.is_empty() => {
                    let post = match c.post {
                        Some(p) => Ok(p),
                        None => self.open_sock(cid, Role::Post),
                    };
                    if let Ok(p) = post {
                        self.clients[cid].post = Some(p);
                        let c = &self.clients[cid];
                        let (sid, t) = (&c.sid, &self.targets[c.target]);
                        let s = &mut self.socks[p];
                        wire::write_poll_post(&mut s.wbuf, &t.host, &t.path, sid, b"41\x1e1");
                    }
                }
                Kind::Polling => {}
            }
        }
        self.detach(cid, true);
        self.clients[cid].state = State::Idle;
    }

    /// Sends a Socket.IO packet (`2["x",1]`; the Engine.IO `4` is added).
    pub(crate) fn send(&mut self, cid: usize, sio: &[u8]) {
        self.send_eio(cid, b'4', sio);
    }

    fn send_eio(&mut self, cid: usize, ty: u8, data: &[u8]) {
        let c = &mut self.clients[cid];
        match c.kind {
            Kind::WebSocket => {
                if let Some(sid) = c.main {
                    let s = &mut self.socks[sid];
                    wire::write_masked_frame(&mut s.wbuf, opcode::TEXT, &[ty], data, &mut self.rng);
                    self.mark_dirty(sid);
                }
            }
            Kind::Polling => {
                if !c.pending.is_empty() {
                    c.pending.push(SEPARATOR);
                }
                c.pending.push(ty);
                c.pending.extend_from_slice(data);
                self.kick_post(cid);
            }
        }
    }

    /// Starts a POST with everything queued, unless one is in flight.
    fn kick_post(&mut self, cid: usize) {
        let c = &mut self.clients[cid];
        if c.post_inflight || c.pending.is_empty() || c.sid.is_empty() {
            return;
        }
        std::mem::swap(&mut c.pending, &mut c.post_body);
        c.pending.clear();
        c.post_inflight = true;
        self.write_post(cid);
    }

    fn write_post(&mut self, cid: usize) {
        let p = match self.clients[cid].post {
            Some(p) => p,
            None => match self.open_sock(cid, Role::Post) {
                Ok(p) => p,
                Err(e) => return self.defer_fail(cid, format!("connect (POST): {e}")),
            },
        };
        let c = &mut self.clients[cid];
        c.post = Some(p);
        let s = &mut self.socks[p];
        let t = &self.targets[c.target];
        s.got_response_bytes = false;
        wire::write_poll_post(&mut s.wbuf, &t.host, &t.path, &c.sid, &c.post_body);
        self.mark_dirty(p);
    }

    /// Parses what arrived on a socket; returns the bytes consumed.
    pub(crate) fn process<H: Handler>(
        &mut self,
        sid: usize,
        data: &[u8],
        h: &mut H,
    ) -> Result<usize, String> {
        let mut off = 0;
        while off < data.len() {
            let Some(s) = self.socks.get_mut(sid).filter(|s| !s.dead) else {
                break;
            };
            let rest = &data[off..];
            s.got_response_bytes = true;
            match &mut s.phase {
                Phase::Head => {
                    let Some(head) = wire::parse_response_head(rest)? else {
                        break;
                    };
                    off += head.len;
                    if s.role == Role::Ws {
                        if head.status != 101 {
                            return Err(format!("websocket upgrade answered HTTP {}", head.status));
                        }
                        if head.ws_accept.as_deref() != Some(&wire::expected_accept(&s.ws_key)) {
                            return Err("bad Sec-WebSocket-Accept".into());
                        }
                        s.deflate =
                            wire::deflate_accepted(head.ws_extensions.as_deref(), self.deflate)?;
                        self.deflate_stats[0] += u64::from(s.deflate);
                        s.phase = Phase::Frames;
                    } else {
                        if head.status != 200 {
                            return Err(format!(
                                "polling {:?} answered HTTP {}",
                                s.role, head.status
                            ));
                        }
                        s.close_after_response = head.close;
                        s.phase = if head.chunked {
                            Phase::Chunked(ChunkedDecoder::new(MAX_MESSAGE), bytes::BytesMut::new())
                        } else {
                            Phase::Body(head.content_length.unwrap_or(0))
                        };
                    }
                }
                Phase::Body(n) => {
                    let n = *n;
                    if rest.len() < n {
                        break;
                    }
                    off += n;
                    self.on_http_body(sid, &rest[..n], h);
                }
                Phase::Chunked(dec, out) => {
                    let mut input = bytes::BytesMut::from(rest);
                    let done = dec
                        .decode(&mut input, out)
                        .map_err(|e| format!("chunked body: {e}"))?;
                    off += rest.len() - input.len();
                    if !done {
                        break;
                    }
                    let body = std::mem::take(out);
                    self.on_http_body(sid, &body, h);
                }
                Phase::Frames => {
                    let Some(f) = wire::parse_server_frame(rest, MAX_MESSAGE)? else {
                        break;
                    };
                    off += f.end;
                    self.on_frame(sid, f, &rest[f.start..f.end], h)?;
                }
            }
        }
        Ok(off)
    }

    fn on_frame<H: Handler>(
        &mut self,
        sid: usize,
        f: wire::Frame,
        payload: &[u8],
        h: &mut H,
    ) -> Result<(), String> {
        let Some(cid) = self.socks[sid].cid else {
            return Ok(());
        };
        if f.compressed
            && (!self.socks[sid].deflate || f.opcode == opcode::CONTINUATION || f.opcode >= 8)
        {
            return Err(
                "RSV1 set without permessage-deflate on a data frame's first fragment".into(),
            );
        }
        match f.opcode {
            opcode::TEXT if f.fin && !f.compressed => self.on_eio_text(cid, payload, h),
            opcode::TEXT if f.fin => self.on_compressed_text(cid, payload, h)?,
            opcode::TEXT | opcode::BINARY | opcode::CONTINUATION => {
                let s = &mut self.socks[sid];
                if f.opcode != opcode::CONTINUATION {
                    s.frag.clear();
                    // The first byte: the opcode, with RSV1's bit when compressed.
                    s.frag.push(f.opcode | if f.compressed { 0x40 } else { 0 });
                }
                s.frag.extend_from_slice(payload);
                if f.fin {
                    let msg = std::mem::take(&mut s.frag);
                    match msg.first() {
                        Some(&opcode::TEXT) => self.on_eio_text(cid, &msg[1..], h),
                        Some(&op) if op == opcode::TEXT | 0x40 => {
                            self.on_compressed_text(cid, &msg[1..], h)?;
                        }
                        _ => {}
                    }
                }
            }
            opcode::PING => {
                let s = &mut self.socks[sid];
                wire::write_masked_frame(&mut s.wbuf, opcode::PONG, b"", payload, &mut self.rng);
                self.mark_dirty(sid);
            }
            opcode::CLOSE => self.fail(cid, "server sent a websocket close frame", h),
            _ => {}
        }
        Ok(())
    }

    /// A compressed text message: inflated into the engine's buffer, then
    /// handled as any text message.
    fn on_compressed_text<H: Handler>(
        &mut self,
        cid: usize,
        data: &[u8],
        h: &mut H,
    ) -> Result<(), String> {
        // Only None while a message is handled, and handling one never
        // inflates another (on_eio_text does not read sockets).
        let mut inf = self.inflater.take().unwrap_or_default();
        let r = inf.inflate(data, MAX_MESSAGE);
        if r.is_ok() {
            let st = &mut self.deflate_stats;
            st[1] += 1;
            st[2] += data.len() as u64;
            st[3] += inf.out.len() as u64;
            self.on_eio_text(cid, &inf.out, h);
        }
        self.inflater = Some(inf);
        r.map_err(str::to_owned)
    }

    fn on_http_body<H: Handler>(&mut self, sid: usize, body: &[u8], h: &mut H) {
        let s = &mut self.socks[sid];
        s.phase = Phase::Head;
        s.got_response_bytes = false;
        let (role, close) = (s.role, s.close_after_response);
        let Some(cid) = s.cid else { return };
        if role == Role::Post {
            let c = &mut self.clients[cid];
            c.post_inflight = false;
            c.post_retries = 0;
            if close {
                self.kill_sock(sid);
                self.clients[cid].post = None;
            }
            return self.kick_post(cid);
        }
        for seg in body.split(|&b| b == SEPARATOR).filter(|s| !s.is_empty()) {
            self.on_eio_text(cid, seg, h);
            if self.clients[cid].main != Some(sid) {
                return;
            }
        }
        // Next long-poll.
        let mut next = sid;
        if close {
            self.kill_sock(sid);
            match self.open_sock(cid, Role::Get) {
                Ok(n) => next = n,
                Err(e) => return self.fail(cid, &format!("connect (GET): {e}"), h),
            }
            self.clients[cid].main = Some(next);
        }
        let c = &self.clients[cid];
        let t = &self.targets[c.target];
        let s = &mut self.socks[next];
        wire::write_poll_get(&mut s.wbuf, &t.host, &t.path, &c.sid);
        self.mark_dirty(next);
    }

    /// One Engine.IO text packet for client `cid`.
    fn on_eio_text<H: Handler>(&mut self, cid: usize, text: &[u8], h: &mut H) {
        let state = self.clients[cid].state;
        if !matches!(state, State::Connecting | State::Connected) {
            return;
        }
        match classify(text) {
            Incoming::Event { name, args } => {
                if state == State::Connected {
                    h.on_event(self, cid, name, args);
                }
            }
            Incoming::Ack { id, args } => h.on_ack(self, cid, id, args),
            Incoming::Ping(d) => self.send_eio(cid, b'3', d),
            Incoming::Open(hs) => {
                self.clients[cid].sid = hs.sid;
                let t = self.clients[cid].target;
                let packet = std::mem::take(&mut self.targets[t].connect_packet);
                self.send_eio(cid, b'4', &packet);
                self.targets[t].connect_packet = packet;
            }
            Incoming::Connected => {
                if state == State::Connecting {
                    self.clients[cid].state = State::Connected;
                    h.on_connected(self, cid);
                }
            }
            Incoming::Close => self.fail(cid, "server closed the engine.io session", h),
            Incoming::ConnectError(m) => self.fail(cid, &format!("connect_error: {m}"), h),
            Incoming::Disconnected => self.fail(cid, "server disconnected the socket", h),
            Incoming::Invalid(e) => self.fail(cid, &format!("protocol error: {e}"), h),
            Incoming::Ignored => {}
        }
    }

    /// The peer closed a socket.
    pub(crate) fn sock_eof<H: Handler>(&mut self, sid: usize, h: &mut H) {
        self.sock_failed(sid, "connection closed by the server", h);
    }

    /// A socket failed (EOF, reset, connect error).
    pub(crate) fn sock_failed<H: Handler>(&mut self, sid: usize, reason: &str, h: &mut H) {
        let Some(s) = self.socks.get(sid) else { return };
        let (role, cid, got) = (s.role, s.cid, s.got_response_bytes);
        self.kill_sock(sid);
        let Some(cid) = cid else { return };
        if role == Role::Post {
            // A keep-alive POST socket the server closed: reopen on demand,
            // and resend the POST in flight if it got no answer at all.
            let c = &mut self.clients[cid];
            c.post = None;
            if c.post_inflight {
                if got || c.post_retries >= 2 {
                    return self.fail(cid, &format!("POST: {reason}"), h);
                }
                c.post_retries += 1;
                self.write_post(cid);
            }
            return;
        }
        let what = if role == Role::Ws {
            "websocket"
        } else {
            "polling GET"
        };
        self.fail(cid, &format!("{what}: {reason}"), h);
    }
}
