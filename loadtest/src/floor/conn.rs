//! One connection of the floor server: the HTTP upgrade, WebSocket frames
//! in (ringcast-proto's decoder), the few packets ringcast-load sends, and
//! an output buffer written with one `write` per loop turn.

use std::io::{self, Write};

use bytes::BytesMut;
use mio::net::TcpStream;
use ringcast_proto::ws::{self, FrameDecoder, Message};

/// What a connection asks of the server loop.
pub(crate) enum Action {
    /// Add this connection to the room.
    Join(Vec<u8>),
    /// Send the framed packet to every member of the room.
    Broadcast(Vec<u8>, Vec<u8>),
}

/// The client broke the little protocol the floor understands.
#[derive(Debug)]
pub(crate) struct Broken;

pub(crate) struct Conn {
    stream: TcpStream,
    sid: usize,
    upgraded: bool,
    input: BytesMut,
    decoder: FrameDecoder,
    out: Vec<u8>,
    /// Bytes of `out` already written.
    written: usize,
}

impl Conn {
    pub(crate) fn new(stream: TcpStream, sid: usize) -> Self {
        Self {
            stream,
            sid,
            upgraded: false,
            input: BytesMut::new(),
            decoder: FrameDecoder::new(1_000_000),
            out: Vec::new(),
            written: 0,
        }
    }

    pub(crate) fn stream(&mut self) -> &mut TcpStream {
        &mut self.stream
    }

    pub(crate) fn wants_flush(&self) -> bool {
        self.written < self.out.len()
    }

    /// Appends a complete frame to the output.
    pub(crate) fn queue(&mut self, frame: &[u8]) {
        self.out.extend_from_slice(frame);
    }

    /// Writes what is queued with one `write` (more only after a partial
    /// write, when the socket becomes writable again).
    pub(crate) fn flush(&mut self) -> io::Result<()> {
        if !self.wants_flush() {
            return Ok(());
        }
        match self.stream.write(&self.out[self.written..]) {
            Ok(n) => self.written += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
        if self.written == self.out.len() {
            self.out.clear();
            self.written = 0;
        }
        Ok(())
    }

    pub(crate) fn handle_bytes(
        &mut self,
        bytes: &[u8],
        actions: &mut Vec<Action>,
    ) -> Result<(), Broken> {
        self.input.extend_from_slice(bytes);
        if !self.upgraded {
            let Some(end) = find(&self.input, b"\r\n\r\n") else {
                return Ok(());
            };
            let head = self.input.split_to(end + 4);
            self.upgrade(&head)?;
        }
        while let Some(msg) = self.decoder.decode(&mut self.input).map_err(|_| Broken)? {
            match msg {
                Message::Text(t) => self.handle_packet(t.as_bytes(), actions)?,
                Message::Ping(p) => self.frame(ws::opcode::PONG, &p),
                Message::Close(..) => {
                    // Answered as RFC 6455 §5.5.1 requires and as ringcast
                    // (and `ws`) answer it; the loop writes it, then closes.
                    self.frame(ws::opcode::CLOSE, &1000u16.to_be_bytes());
                    return Err(Broken);
                }
                Message::Binary(_) | Message::Pong(_) => {}
            }
        }
        Ok(())
    }

    fn upgrade(&mut self, head: &[u8]) -> Result<(), Broken> {
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut req = httparse::Request::new(&mut headers);
        req.parse(head).map_err(|_| Broken)?;
        let key = req
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case("sec-websocket-key"))
            .ok_or(Broken)?
            .value;
        let accept = ws::accept_key(key);
        let _ = write!(
            self.out,
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
        );
        let open = format!(
            "0{{\"sid\":\"floor{:015}\",\"upgrades\":[],\"pingInterval\":25000,\"pingTimeout\":20000,\"maxPayload\":1000000}}",
            self.sid
        );
        self.frame(ws::opcode::TEXT, open.as_bytes());
        self.upgraded = true;
        Ok(())
    }

    /// One Engine.IO packet from the client.
    fn handle_packet(&mut self, p: &[u8], actions: &mut Vec<Action>) -> Result<(), Broken> {
        match p {
            b"40" => {
                let reply = format!("40{{\"sid\":\"floorsock{:011}\"}}", self.sid);
                self.frame(ws::opcode::TEXT, reply.as_bytes());
                // The conformance app's connect handler emits the handshake
                // auth right after the CONNECT reply (conformance-app.md);
                // the floor writes the same frame, in the same write.
                self.frame(ws::opcode::TEXT, br#"42["auth",{}]"#);
            }
            [b'4', b'2', rest @ ..] => self.handle_event(rest, actions)?,
            // pongs, noops, anything else: nothing to do
            _ => {}
        }
        Ok(())
    }

    /// `<ack id>["name",args…]` of namespace `/`.
    fn handle_event(&mut self, p: &[u8], actions: &mut Vec<Action>) -> Result<(), Broken> {
        let digits = p.iter().take_while(|b| b.is_ascii_digit()).count();
        let (id, body) = p.split_at(digits);
        let body = body.strip_prefix(b"[\"").ok_or(Broken)?;
        let q = find(body, b"\"").ok_or(Broken)?;
        let (name, rest) = (&body[..q], &body[q + 1..]);
        // `rest` is `,arg,arg]` or `]`
        match name {
            b"join" => {
                let room = rest.strip_prefix(b",\"").ok_or(Broken)?;
                let end = find(room, b"\"").ok_or(Broken)?;
                actions.push(Action::Join(room[..end].to_vec()));
                self.ack(id, b"true");
            }
            b"echo" => {
                let args = rest.strip_prefix(b",").unwrap_or(rest);
                let args = args.strip_suffix(b"]").ok_or(Broken)?;
                self.ack(id, args);
            }
            b"broadcast" => {
                // ,"room","event",data]
                let r = rest.strip_prefix(b",\"").ok_or(Broken)?;
                let end = find(r, b"\"").ok_or(Broken)?;
                let room = r[..end].to_vec();
                let ev = r[end + 1..].strip_prefix(b",").ok_or(Broken)?;
                let mut text = Vec::with_capacity(ev.len() + 3);
                text.extend_from_slice(b"42[");
                text.extend_from_slice(ev);
                let mut frame = BytesMut::with_capacity(text.len() + 10);
                ws::encode_frame(ws::opcode::TEXT, &text, &mut frame);
                actions.push(Action::Broadcast(room, frame.to_vec()));
            }
            _ => {}
        }
        Ok(())
    }

    fn ack(&mut self, id: &[u8], args: &[u8]) {
        if id.is_empty() {
            return;
        }
        let mut text = Vec::with_capacity(args.len() + id.len() + 4);
        text.extend_from_slice(b"43");
        text.extend_from_slice(id);
        text.push(b'[');
        text.extend_from_slice(args);
        text.push(b']');
        self.frame(ws::opcode::TEXT, &text);
    }

    fn frame(&mut self, opcode: u8, payload: &[u8]) {
        let mut f = BytesMut::with_capacity(payload.len() + 10);
        ws::encode_frame(opcode, payload, &mut f);
        self.out.extend_from_slice(&f);
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
