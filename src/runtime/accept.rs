//! The accept loop of one shard: drains its SO_REUSEPORT listener with
//! `accept4` and waits through glommio only when the queue is empty.
//!
//! Why not glommio's `TcpListener::accept` alone: it toggles the listener's
//! `O_NONBLOCK` around every `accept` (`F_GETFL`, `F_SETFL`, `accept`,
//! `F_SETFL`) and drops the peer address, which the handshake then asks for
//! again (`getpeername`): five system calls per connection where the
//! kernel floor makes one. Here the listener is made non-blocking once per
//! burst, every queued connection is taken with one `accept4` that also
//! returns the peer address and sets `SOCK_CLOEXEC`, and only when the
//! queue is empty (`EAGAIN`) does the listener go back to blocking for
//! glommio's accept (which expects a blocking listener: its io_uring
//! `accept` is meant to wait, not to fail with `EAGAIN`). In the connect
//! storm's perf profile the `fcntl` and `getpeername` calls were 7.5 % of
//! the server's CPU; connections come ~100 per wait there
//! (docs/benchmarks.md, "Connect storm against the kernel floor").
//!
//! Invariant: the listener is non-blocking only inside [`drain`], which
//! never awaits, so glommio never sees it non-blocking.

use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::rc::Rc;
use std::time::Duration;

use bytes::BytesMut;
use glommio::net::{TcpListener, TcpStream};

use super::{conn, io::Conn};
use crate::shard::Shard;

/// Most connections taken in one drain before the loop yields, so a long
/// burst does not starve the connections already accepted.
const DRAIN_MAX: usize = 256;

/// Accepts connections on `listener` (a listening socket, blocking) until
/// the task is cancelled (shutdown), which closes it.
pub(super) async fn accept_loop(shard: Rc<Shard>, listener: OwnedFd) {
    let fd = listener.as_raw_fd();
    // SAFETY: the descriptor is a listening socket we own; the glommio
    // listener owns it from here on and outlives every use of `fd` below.
    let listener = unsafe { TcpListener::from_raw_fd(listener.into_raw_fd()) };
    let mut backoff = Duration::from_millis(5);
    loop {
        let drained = drain(&shard, fd);
        let waited = match drained {
            Ok(n) if n >= DRAIN_MAX => {
                glommio::executor().yield_now().await;
                continue;
            }
            // The queue is empty: wait for the next connection.
            Ok(_) => listener.accept().await.map(|s| start(&shard, s, None)),
            Err(e) => Err(e.into()),
        };
        match waited {
            Ok(()) => backoff = Duration::from_millis(5),
            Err(e) => {
                // EMFILE/ENFILE and friends: back off instead of spinning.
                tracing::warn!(error = %e, "accept failed; backing off");
                glommio::timer::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
            }
        }
    }
}

/// Takes every queued connection (at most [`DRAIN_MAX`]) without blocking;
/// the listener is blocking again when it returns.
fn drain(shard: &Rc<Shard>, fd: RawFd) -> io::Result<usize> {
    set_nonblocking(fd, true)?;
    // SAFETY: `fd` is the accept loop's listener, open while it runs.
    let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
    let sock = socket2::SockRef::from(&borrowed);
    let mut taken = 0;
    let res = loop {
        if taken == DRAIN_MAX {
            break Ok(taken);
        }
        match sock.accept() {
            Ok((s, peer)) => {
                taken += 1;
                start(shard, TcpStream::from(s), peer.as_socket());
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break Ok(taken),
            // A connection reset while queued, or a signal: try the next.
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::ECONNABORTED | libc::EINTR | libc::EPROTO)
                ) => {}
            Err(e) => break Err(e),
        }
    };
    set_nonblocking(fd, false)?;
    res
}

/// Starts the connection task of an accepted stream.
fn start(shard: &Rc<Shard>, stream: TcpStream, peer: Option<SocketAddr>) {
    let _ = stream.set_nodelay(true);
    let conn = Conn::new(stream, BytesMut::new()).with_peer(peer);
    glommio::spawn_local(conn::serve(shard.clone(), conn)).detach();
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
