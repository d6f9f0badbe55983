//! The accept loop of one shard: drains its SO_REUSEPORT listener with
//! `accept4` and, when the queue is empty, waits for the next connection
//! through the shard's epoll set (readiness.rs), where the listener is
//! registered like any client socket.
//!
//! Why not glommio's `TcpListener::accept`: it toggles the listener's
//! `O_NONBLOCK` around every `accept` (`F_GETFL`, `F_SETFL`, `accept`,
//! `F_SETFL`) and drops the peer address, which the handshake then asks for
//! again (`getpeername`): five system calls per connection where the
//! kernel floor makes one, and its wait is an io_uring `accept` (a poll
//! armed per wait). Here the listener is non-blocking for good, every queued
//! connection is taken with one `accept4` that also returns the peer
//! address and sets `SOCK_CLOEXEC`, and the wait is an epoll event. In the
//! connect storm's perf profile the `fcntl` and `getpeername` calls were
//! 7.5 % of the server's CPU; connections come ~100 per wait there
//! (docs/benchmarks.md, "Connect storm against the kernel floor").

use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::rc::Rc;
use std::time::Duration;

use bytes::BytesMut;

use super::readiness::Interest;
use super::socket::Socket;
use super::{conn, io::Conn};
use crate::shard::Shard;

/// Most connections taken in one drain before the loop yields, so a long
/// burst does not starve the connections already accepted.
const DRAIN_MAX: usize = 256;

/// Accepts connections on `listener` (a listening socket) until the task is
/// cancelled (shutdown), which closes it.
pub(super) async fn accept_loop(shard: Rc<Shard>, listener: OwnedFd) {
    let fd = listener.as_raw_fd();
    let mut listener = Socket::new(listener);
    if let Err(e) = set_nonblocking(fd, true) {
        tracing::error!(error = %e, "cannot make the listener non-blocking; not accepting");
        return;
    }
    let mut backoff = Duration::from_millis(5);
    loop {
        match drain(&shard, fd) {
            Ok(n) if n >= DRAIN_MAX => {
                glommio::executor().yield_now().await;
            }
            // The queue is empty: wait for the next connection.
            Ok(_) => {
                backoff = Duration::from_millis(5);
                if let Err(e) = listener.ready(Interest::Read).await {
                    tracing::error!(error = %e, "cannot wait for connections; not accepting");
                    return;
                }
            }
            Err(e) => {
                // EMFILE/ENFILE and friends: back off instead of spinning.
                tracing::warn!(error = %e, "accept failed; backing off");
                glommio::timer::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
            }
        }
    }
}

/// Takes every queued connection (at most [`DRAIN_MAX`]) without blocking.
fn drain(shard: &Rc<Shard>, fd: RawFd) -> io::Result<usize> {
    // SAFETY: `fd` is the accept loop's listener, open while it runs.
    let borrowed = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
    let sock = socket2::SockRef::from(&borrowed);
    let mut taken = 0;
    loop {
        if taken == DRAIN_MAX {
            return Ok(taken);
        }
        match sock.accept() {
            Ok((s, peer)) => {
                taken += 1;
                // SAFETY: `into_raw_fd` hands over the accepted descriptor.
                let fd = unsafe { OwnedFd::from_raw_fd(s.into_raw_fd()) };
                start(shard, Socket::new(fd), peer.as_socket());
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(taken),
            // A connection reset while queued, or a signal: try the next.
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::ECONNABORTED | libc::EINTR | libc::EPROTO)
                ) => {}
            Err(e) => return Err(e),
        }
    }
}

/// Starts the connection task of an accepted socket.
fn start(shard: &Rc<Shard>, socket: Socket, peer: Option<SocketAddr>) {
    let _ = socket.set_nodelay();
    let conn = Conn::new(socket, BytesMut::new()).with_peer(peer);
    let serve = conn::serve(shard.clone(), conn);
    // The task's future lives as long as the connection: its size is memory
    // per idle connection (288 bytes; 552 cost ~260 B more idle RSS per
    // connection, docs/benchmarks.md, "What the connect storm's gap is
    // not").
    debug_assert!(
        size_of_val(&serve) <= 320,
        "a connection's task future grew to {} bytes",
        size_of_val(&serve)
    );
    glommio::spawn_local(serve).detach();
}

/// Sets or clears `O_NONBLOCK` with one `ioctl(FIONBIO)` (no `F_GETFL`).
fn set_nonblocking(fd: RawFd, on: bool) -> io::Result<()> {
    let mut v: libc::c_int = on.into();
    // SAFETY: FIONBIO reads one c_int; `fd` is the listener, open for the
    // lifetime of the accept loop.
    if unsafe { libc::ioctl(fd, libc::FIONBIO, &mut v) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
