//! `ringcast-floor`: the kernel floor of the benchmarks.
//!
//! A deliberately minimal WebSocket server that answers `ringcast-load`'s
//! scenarios (fanout, echo, connect, idle) with the **same bytes** ringcast
//! sends: the same Engine.IO open packet, the same `40{…}` CONNECT reply
//! and the conformance app's `42["auth",{}]` after it, the same
//! `42["msg",…]` frames and `43<id>[…]` acks, each broadcast framed
//! once and every frame queued for a connection during one event-loop turn
//! written with **one** `write` (ringcast's coalescing). It has no
//! Socket.IO parser, no session state, no heartbeat, no room table beyond a
//! vector of connections per room name, no queues bounds, no polling: the
//! CPU it spends per delivery is close to what the kernel's TCP stack costs
//! for the same traffic. `loadtest/compare.sh` reports ringcast's CPU per
//! delivery divided by this program's, per scenario: the share of the
//! server's cost that is its own code.
//!
//! One thread, epoll (mio), non-blocking sockets. Never use it for anything
//! but measuring: it trusts its client (a malformed frame closes the
//! connection, nothing more is checked).
//!
//! `ringcast-floor --port PORT`

mod conn;

use std::collections::HashMap;
use std::io::{self, Read};
use std::net::SocketAddr;

use anyhow::Context;
use clap::Parser;
use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token};
use slab::Slab;

use conn::{Action, Conn};

const LISTENER: Token = Token(usize::MAX);

#[derive(Debug, Parser)]
#[command(about = "Minimal WebSocket writer: the kernel floor of ringcast-load's scenarios")]
struct Args {
    /// Port to listen on (all interfaces).
    #[arg(long, default_value_t = 3000)]
    port: u16,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let addr = SocketAddr::from(([0, 0, 0, 0], args.port));
    let mut listener = TcpListener::bind(addr).with_context(|| format!("bind {addr}"))?;
    let mut poll = Poll::new()?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    println!("ringcast-floor listening on port {}", args.port);

    let mut conns: Slab<Conn> = Slab::new();
    let mut rooms: HashMap<Vec<u8>, Vec<usize>> = HashMap::new();
    let mut events = Events::with_capacity(1024);
    let mut scratch = vec![0u8; 64 * 1024];
    let mut dirty: Vec<usize> = Vec::new();
    let mut closing: Vec<usize> = Vec::new();
    loop {
        if let Err(e) = poll.poll(&mut events, None) {
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e.into());
        }
        for ev in &events {
            if ev.token() == LISTENER {
                accept_all(&listener, &poll, &mut conns)?;
                continue;
            }
            let id = ev.token().0;
            let Some(c) = conns.get_mut(id) else { continue };
            if ev.is_writable() && c.flush().is_err() {
                closing.push(id);
                continue;
            }
            if !ev.is_readable() {
                continue;
            }
            let mut actions = Vec::new();
            let alive = read_all(c, &mut scratch, &mut actions);
            if c.wants_flush() {
                dirty.push(id);
            }
            for a in actions {
                match a {
                    Action::Join(room) => rooms.entry(room).or_default().push(id),
                    Action::Broadcast(room, frame) => {
                        for &m in rooms.get(&room).map_or(&[][..], Vec::as_slice) {
                            if let Some(mc) = conns.get_mut(m) {
                                if !mc.wants_flush() {
                                    dirty.push(m);
                                }
                                mc.queue(&frame);
                            }
                        }
                    }
                }
            }
            if !alive {
                closing.push(id);
            }
        }
        // One write per connection per loop turn: ringcast's coalescing.
        for id in dirty.drain(..) {
            if let Some(c) = conns.get_mut(id) {
                if c.flush().is_err() {
                    closing.push(id);
                } else if c.wants_flush() {
                    let token = Token(id);
                    poll.registry().reregister(
                        c.stream(),
                        token,
                        Interest::READABLE | Interest::WRITABLE,
                    )?;
                }
            }
        }
        for id in closing.drain(..) {
            if conns.contains(id) {
                let mut c = conns.remove(id);
                let _ = poll.registry().deregister(c.stream());
                for members in rooms.values_mut() {
                    members.retain(|&m| m != id);
                }
            }
        }
    }
}

fn accept_all(listener: &TcpListener, poll: &Poll, conns: &mut Slab<Conn>) -> anyhow::Result<()> {
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                stream.set_nodelay(true)?;
                let entry = conns.vacant_entry();
                let token = Token(entry.key());
                let mut c = Conn::new(stream, entry.key());
                poll.registry()
                    .register(c.stream(), token, Interest::READABLE)?;
                entry.insert(c);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            // EMFILE and friends: the client retries; keep serving the others.
            Err(e) => {
                eprintln!("accept: {e}");
                return Ok(());
            }
        }
    }
}

/// Reads until the socket would block; false when the connection ended.
fn read_all(c: &mut Conn, scratch: &mut [u8], actions: &mut Vec<Action>) -> bool {
    loop {
        match c.stream().read(scratch) {
            Ok(0) => return false,
            Ok(n) => {
                if c.handle_bytes(&scratch[..n], actions).is_err() {
                    return false;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
}
