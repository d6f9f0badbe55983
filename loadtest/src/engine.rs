//! The client engine: one thread, one `mio` (epoll, edge-triggered) poller,
//! many non-blocking sockets.
//!
//! Reads go into one shared 256 KiB buffer and are parsed in place; only
//! the incomplete tail of a frame or HTTP response is copied into the
//! socket's own (usually empty) carry-over buffer. Writes are appended to a
//! per-socket buffer and flushed once per poll iteration, so many small
//! messages leave in one `write`. The protocol handling per transport lives
//! in [`crate::transport`]; scenarios drive clients through [`Handler`].

use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use slab::Slab;

use crate::wire::{Inflater, Rng};

/// Where to connect.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(crate) addr: SocketAddr,
    /// `Host` header value.
    pub(crate) host: String,
    /// Socket.IO path with trailing slash (`/socket.io/`).
    pub(crate) path: String,
    /// Source address to bind (extra processes use 127.0.0.2, …).
    pub(crate) bind: Option<IpAddr>,
    /// The Socket.IO CONNECT packet after the Engine.IO `4`: `0`, or
    /// `0{"token":…}` with `--auth` (the auth payload, e.g. a JWT).
    pub(crate) connect_packet: Vec<u8>,
}

/// Client transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    WebSocket,
    Polling,
}

/// Client life cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    Idle,
    Connecting,
    Connected,
    Closed,
}

/// One Socket.IO client (namespace `/`).
#[derive(Debug)]
pub(crate) struct Client {
    pub(crate) kind: Kind,
    /// Index into [`Engine::targets`] (the `--url` list, round-robin).
    pub(crate) target: usize,
    pub(crate) state: State,
    /// Engine.IO session id (polling requests need it).
    pub(crate) sid: String,
    /// WebSocket, or the polling GET socket.
    pub(crate) main: Option<usize>,
    /// Polling POST socket (keep-alive, opened on demand).
    pub(crate) post: Option<usize>,
    /// Polling: Engine.IO payload waiting for the next POST.
    pub(crate) pending: Vec<u8>,
    /// Polling: the body of the POST in flight (kept for one retry).
    pub(crate) post_body: Vec<u8>,
    pub(crate) post_inflight: bool,
    /// Polling: times the POST in flight was resent on a new socket.
    pub(crate) post_retries: u8,
}

/// What a socket carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Ws,
    Get,
    Post,
}

/// Where a socket is in its byte stream.
#[derive(Debug)]
pub(crate) enum Phase {
    /// Waiting for an HTTP response head.
    Head,
    /// Reading a body of known length.
    Body(usize),
    /// Reading a chunked body (decoder, decoded bytes so far).
    Chunked(ringcast_proto::http::ChunkedDecoder, bytes::BytesMut),
    /// WebSocket frames.
    Frames,
}

#[derive(Debug)]
pub(crate) struct Sock {
    pub(crate) stream: TcpStream,
    /// Owning client, `None` once orphaned (closing after the flush).
    pub(crate) cid: Option<usize>,
    pub(crate) role: Role,
    pub(crate) phase: Phase,
    pub(crate) inbuf: Vec<u8>,
    pub(crate) wbuf: Vec<u8>,
    wpos: usize,
    connected: bool,
    dirty: bool,
    pub(crate) dead: bool,
    pub(crate) close_after_flush: bool,
    /// The server announced `Connection: close` on the current response.
    pub(crate) close_after_response: bool,
    /// Bytes of a response received on this socket for the current request.
    pub(crate) got_response_bytes: bool,
    pub(crate) ws_key: String,
    /// permessage-deflate was negotiated on this WebSocket.
    pub(crate) deflate: bool,
    /// WebSocket fragment reassembly (rare).
    pub(crate) frag: Vec<u8>,
}

/// Scenario callbacks. All run on the engine thread; `eng` may be used to
/// send, connect and disconnect (including the client being reported).
pub(crate) trait Handler {
    fn on_connected(&mut self, eng: &mut Engine, cid: usize);
    fn on_event(&mut self, eng: &mut Engine, cid: usize, name: &[u8], args: &[u8]);
    fn on_ack(&mut self, eng: &mut Engine, cid: usize, id: u64, args: &[u8]);
    /// The client failed or the server closed it (not called for
    /// [`Engine::disconnect`]).
    fn on_closed(&mut self, eng: &mut Engine, cid: usize, reason: &str);
    /// Called every loop iteration; returns how long the engine may sleep,
    /// or `None` to stop the loop.
    fn on_tick(&mut self, eng: &mut Engine, now: Instant) -> Option<Duration>;
}

pub(crate) struct Engine {
    poll: Poll,
    events: Option<Events>,
    pub(crate) socks: Slab<Sock>,
    pub(crate) clients: Vec<Client>,
    rbuf: Vec<u8>,
    dirty: Vec<usize>,
    graveyard: Vec<usize>,
    /// The servers (`--url`, comma-separated): client `i` of a process
    /// connects to `targets[i % len]`, so the first client (a fan-out's
    /// publisher) is on the first.
    pub(crate) targets: Vec<Target>,
    /// Offer permessage-deflate on WebSocket upgrades (`--deflate`).
    pub(crate) deflate: bool,
    /// Inflates compressed messages (no context takeover: one for all);
    /// taken out while a message is handled.
    pub(crate) inflater: Option<Box<Inflater>>,
    /// permessage-deflate counters, reported as `ws_deflate_*`: upgrades
    /// that negotiated it, messages inflated, their wire and inflated bytes.
    pub(crate) deflate_stats: [u64; 4],
    pub(crate) rng: Rng,
    /// Failures by reason.
    pub(crate) errors: std::collections::BTreeMap<String, u64>,
    /// Failures found where no handler was at hand, reported next iteration.
    deferred: Vec<(usize, String)>,
}

impl Engine {
    pub(crate) fn new(targets: Vec<Target>, deflate: bool, seed: u64) -> io::Result<Self> {
        assert!(
            !targets.is_empty(),
            "cli::parse_targets returns at least one"
        );
        Ok(Self {
            poll: Poll::new()?,
            events: Some(Events::with_capacity(1024)),
            socks: Slab::new(),
            clients: Vec::new(),
            rbuf: vec![0; 256 * 1024],
            dirty: Vec::new(),
            graveyard: Vec::new(),
            targets,
            deflate,
            inflater: Some(Box::default()),
            deflate_stats: [0; 4],
            rng: Rng::new(seed),
            errors: Default::default(),
            deferred: Vec::new(),
        })
    }

    /// Adds an idle client and returns its id.
    pub(crate) fn add_client(&mut self, kind: Kind) -> usize {
        let target = self.clients.len() % self.targets.len();
        self.clients.push(Client {
            kind,
            target,
            state: State::Idle,
            sid: String::new(),
            main: None,
            post: None,
            pending: Vec::new(),
            post_body: Vec::new(),
            post_inflight: false,
            post_retries: 0,
        });
        self.clients.len() - 1
    }

    /// Records a failure to report through `on_closed` on the next loop
    /// iteration (used where no handler is at hand).
    pub(crate) fn defer_fail(&mut self, cid: usize, reason: String) {
        self.deferred.push((cid, reason));
    }

    pub(crate) fn count_error(&mut self, reason: &str) {
        let r: String = reason.chars().take(120).collect();
        *self.errors.entry(r).or_insert(0) += 1;
    }

    /// Opens a non-blocking TCP connection for `cid` and registers it.
    pub(crate) fn open_sock(&mut self, cid: usize, role: Role) -> io::Result<usize> {
        use socket2::{Domain, Protocol, SockAddr, Socket, Type};
        let target = &self.targets[self.clients[cid].target];
        let (addr, bind) = (target.addr, target.bind);
        let s = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
        s.set_nonblocking(true)?;
        s.set_nodelay(true)?;
        if let Some(ip) = bind {
            let one: libc::c_int = 1;
            // SAFETY: plain setsockopt on a socket we own, with a c_int value.
            unsafe {
                libc::setsockopt(
                    s.as_raw_fd(),
                    libc::IPPROTO_IP,
                    libc::IP_BIND_ADDRESS_NO_PORT,
                    (&one as *const libc::c_int).cast(),
                    size_of::<libc::c_int>() as libc::socklen_t,
                );
            }
            s.bind(&SockAddr::from(SocketAddr::new(ip, 0)))?;
        }
        match s.connect(&SockAddr::from(addr)) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
            Err(e) => return Err(e),
        }
        let mut stream = TcpStream::from_std(std::net::TcpStream::from(s));
        let entry = self.socks.vacant_entry();
        let id = entry.key();
        self.poll.registry().register(
            &mut stream,
            Token(id),
            Interest::READABLE | Interest::WRITABLE,
        )?;
        entry.insert(Sock {
            stream,
            cid: Some(cid),
            role,
            phase: Phase::Head,
            inbuf: Vec::new(),
            wbuf: Vec::new(),
            wpos: 0,
            connected: false,
            dirty: false,
            dead: false,
            close_after_flush: false,
            close_after_response: false,
            got_response_bytes: false,
            ws_key: String::new(),
            deflate: false,
            frag: Vec::new(),
        });
        Ok(id)
    }

    /// Marks a socket as having bytes to write (flushed before the next poll).
    pub(crate) fn mark_dirty(&mut self, sid: usize) {
        if let Some(s) = self.socks.get_mut(sid) {
            if !s.dirty {
                s.dirty = true;
                self.dirty.push(sid);
            }
        }
    }

    /// Closes a socket at the end of this iteration.
    pub(crate) fn kill_sock(&mut self, sid: usize) {
        if let Some(s) = self.socks.get_mut(sid) {
            if !s.dead {
                s.dead = true;
                self.graveyard.push(sid);
            }
        }
    }

    /// Writes what the socket will take; closes it if so requested.
    fn flush(&mut self, sid: usize) -> io::Result<()> {
        let Some(s) = self.socks.get_mut(sid) else {
            return Ok(());
        };
        if s.dead || !s.connected {
            return Ok(());
        }
        while s.wpos < s.wbuf.len() {
            match s.stream.write(&s.wbuf[s.wpos..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => s.wpos += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        s.wbuf.clear();
        s.wpos = 0;
        if s.close_after_flush {
            self.kill_sock(sid);
        }
        Ok(())
    }

    fn flush_dirty<H: Handler>(&mut self, h: &mut H) {
        let mut i = 0;
        while i < self.dirty.len() {
            let sid = self.dirty[i];
            i += 1;
            if let Some(s) = self.socks.get_mut(sid) {
                s.dirty = false;
            }
            if let Err(e) = self.flush(sid) {
                self.sock_failed(sid, &format!("write: {e}"), h);
            }
        }
        self.dirty.clear();
    }

    fn bury(&mut self) {
        for sid in std::mem::take(&mut self.graveyard) {
            if let Some(s) = self.socks.try_remove(sid) {
                let mut s = s;
                let _ = self.poll.registry().deregister(&mut s.stream);
            }
        }
    }

    /// Runs the loop until the handler's `on_tick` returns `None`.
    pub(crate) fn run<H: Handler>(&mut self, h: &mut H) {
        let mut events = self
            .events
            .take()
            .unwrap_or_else(|| Events::with_capacity(1024));
        loop {
            for (cid, reason) in std::mem::take(&mut self.deferred) {
                self.fail(cid, &reason, h);
            }
            let Some(wait) = h.on_tick(self, Instant::now()) else {
                break;
            };
            self.flush_dirty(h);
            self.bury();
            if let Err(e) = self.poll.poll(&mut events, Some(wait)) {
                if e.kind() != io::ErrorKind::Interrupted {
                    self.count_error(&format!("poll: {e}"));
                }
                continue;
            }
            for ev in events.iter() {
                let sid = ev.token().0;
                if self.socks.get(sid).is_none_or(|s| s.dead) {
                    continue;
                }
                if ev.is_writable() {
                    self.on_writable(sid, h);
                }
                if ev.is_readable() || ev.is_read_closed() || ev.is_error() {
                    self.on_readable(sid, h);
                }
            }
            self.flush_dirty(h);
            self.bury();
        }
        self.flush_dirty(h);
        self.events = Some(events);
    }

    fn on_writable<H: Handler>(&mut self, sid: usize, h: &mut H) {
        let s = &mut self.socks[sid];
        if !s.connected {
            match s.stream.take_error() {
                Ok(None) => s.connected = true,
                Ok(Some(e)) | Err(e) => {
                    return self.sock_failed(sid, &format!("connect: {e}"), h);
                }
            }
        }
        if let Err(e) = self.flush(sid) {
            self.sock_failed(sid, &format!("write: {e}"), h);
        }
    }

    /// Reads until `WouldBlock`, handing each batch to the transport parser.
    fn on_readable<H: Handler>(&mut self, sid: usize, h: &mut H) {
        let mut rbuf = std::mem::take(&mut self.rbuf);
        let mut inbuf = std::mem::take(&mut self.socks[sid].inbuf);
        loop {
            let s = &mut self.socks[sid];
            let n = match s.stream.read(&mut rbuf) {
                Ok(0) => {
                    self.sock_eof(sid, h);
                    break;
                }
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.sock_failed(sid, &format!("read: {e}"), h);
                    break;
                }
            };
            let res = if inbuf.is_empty() {
                let r = self.process(sid, &rbuf[..n], h);
                if let Ok(used) = r {
                    inbuf.extend_from_slice(&rbuf[used..n]);
                }
                r
            } else {
                inbuf.extend_from_slice(&rbuf[..n]);
                let r = self.process(sid, &inbuf, h);
                if let Ok(used) = r {
                    inbuf.drain(..used);
                }
                r
            };
            if let Err(e) = res {
                self.sock_failed(sid, &e, h);
                break;
            }
            if self.socks[sid].dead {
                break;
            }
        }
        if let Some(s) = self.socks.get_mut(sid) {
            if !s.dead {
                if inbuf.capacity() > 1 << 20 && inbuf.len() < 4096 {
                    inbuf.shrink_to(4096);
                }
                s.inbuf = inbuf;
            }
        }
        self.rbuf = rbuf;
    }

    /// Stops the loop's bookkeeping for a client's sockets and marks it
    /// closed, reporting `reason` to the handler.
    pub(crate) fn fail<H: Handler>(&mut self, cid: usize, reason: &str, h: &mut H) {
        if self.clients[cid].state == State::Closed || self.clients[cid].state == State::Idle {
            return;
        }
        self.count_error(reason);
        self.detach(cid, false);
        self.clients[cid].state = State::Closed;
        h.on_closed(self, cid, reason);
    }

    /// Detaches the sockets of a client; with `linger` they are orphaned and
    /// closed once their pending bytes are written.
    pub(crate) fn detach(&mut self, cid: usize, linger: bool) {
        let c = &mut self.clients[cid];
        let socks = [c.main.take(), c.post.take()];
        c.pending.clear();
        c.post_inflight = false;
        c.sid.clear();
        for sid in socks.into_iter().flatten() {
            if linger {
                if let Some(s) = self.socks.get_mut(sid) {
                    s.cid = None;
                    s.close_after_flush = true;
                }
                self.mark_dirty(sid);
            } else {
                self.kill_sock(sid);
            }
        }
    }
}
