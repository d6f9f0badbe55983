//! A shard's TCP socket (a client connection, or its listener): plain
//! non-blocking system calls, woken through the shard's epoll set
//! (readiness.rs) when one would block.
//!
//! Why not glommio's `TcpStream`: it arms a new io_uring poll each time a
//! read leaves it without input, and wrapping a socket arms one at once;
//! see readiness.rs for what that cost. The sockets a shard dials itself
//! (Redis, hooks, forwarding to another node) stay on glommio's streams:
//! they are few and not on the request path.
//!
//! Invariant: the descriptor's epoll registration is removed before the
//! descriptor is closed ([`Drop`]) or duplicated for another shard, which
//! drops this socket right after ([`Socket::dup`]).

use std::future::poll_fn;
use std::io::{self, IoSlice};
use std::marker::PhantomData;
use std::net::{Shutdown, SocketAddr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::task::{Context, Poll};

use super::readiness::{self, Interest, Token};

/// A TCP socket owned by one shard.
#[derive(Debug)]
pub(crate) struct Socket {
    fd: OwnedFd,
    /// The registration in the shard's epoll set, made the first time an
    /// operation would block.
    ready: Option<Token>,
    /// The last read came back short: the receive queue was empty then, so
    /// the next read waits for an input event instead of asking the kernel
    /// first (readiness::park_drained). Saves the `recv` that would fail
    /// with `EAGAIN` after each request, and after each wake of a
    /// connection task that only writes (a broadcast's receivers).
    drained: bool,
    /// Not `Send`: the registration belongs to this shard's epoll set and
    /// must be removed on this thread (another shard's slots would match a
    /// token by accident).
    _shard: PhantomData<*const ()>,
}

impl Drop for Socket {
    fn drop(&mut self) {
        if let Some(token) = self.ready.take() {
            readiness::deregister(self.fd.as_raw_fd(), token);
        }
    }
}

impl AsRawFd for Socket {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl Socket {
    /// Takes a connected TCP socket (accepted, or handed over by another
    /// shard). Every operation is non-blocking whatever its `O_NONBLOCK`.
    pub(crate) fn new(fd: OwnedFd) -> Self {
        Self {
            fd,
            ready: None,
            drained: false,
            _shard: PhantomData,
        }
    }

    /// Reads into `buf`; `Ready(Ok(0))` is EOF. `Pending`: woken when there
    /// is input.
    pub(crate) fn poll_recv(
        &mut self,
        cx: &Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        if self.drained {
            match readiness::park_drained(self.ready, cx.waker()) {
                Ok(true) => self.drained = false,
                Ok(false) => return Poll::Pending,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
        loop {
            // SAFETY: `buf` is valid for writes of its length for the call.
            let n = unsafe {
                raw(
                    libc::SYS_recvfrom,
                    [
                        self.fd.as_raw_fd() as libc::c_long,
                        buf.as_mut_ptr() as libc::c_long,
                        buf.len() as libc::c_long,
                        libc::MSG_DONTWAIT as libc::c_long,
                        0,
                        0,
                    ],
                )
            };
            match result(n) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return self.park(cx, Interest::Read);
                }
                Ok(n) => {
                    self.drained = n > 0 && n < buf.len();
                    return Poll::Ready(Ok(n));
                }
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }

    /// Writes from `buf`. `Pending`: woken when there is room.
    pub(crate) fn poll_send(&mut self, cx: &Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        loop {
            match self.send(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return self.park(cx, Interest::Write);
                }
                other => return Poll::Ready(other),
            }
        }
    }

    /// Parks the task until the socket is ready for `interest`, after an
    /// operation failed with `WouldBlock`: always `Pending`, or the
    /// registration's error.
    pub(crate) fn park<T>(&mut self, cx: &Context<'_>, interest: Interest) -> Poll<io::Result<T>> {
        match readiness::park(self.fd.as_raw_fd(), &mut self.ready, interest, cx.waker()) {
            Ok(()) => Poll::Pending,
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    /// Waits until the socket is ready for `interest` (woken once; the
    /// wake may be spurious, so retry the operation and wait again).
    pub(crate) async fn ready(&mut self, interest: Interest) -> io::Result<()> {
        let mut parked = false;
        poll_fn(|cx| {
            if parked {
                return Poll::Ready(Ok(()));
            }
            parked = true;
            self.park(cx, interest)
        })
        .await
    }

    /// One non-blocking `send` (`MSG_NOSIGNAL`: a closed peer is an error,
    /// not a signal).
    pub(crate) fn send(&self, buf: &[u8]) -> io::Result<usize> {
        // SAFETY: `buf` is valid for reads of `buf.len()` bytes for the call.
        result(unsafe {
            raw(
                libc::SYS_sendto,
                [
                    self.fd.as_raw_fd() as libc::c_long,
                    buf.as_ptr() as libc::c_long,
                    buf.len() as libc::c_long,
                    (libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL) as libc::c_long,
                    0,
                    0,
                ],
            )
        })
    }

    /// One non-blocking gathered send (`MSG_NOSIGNAL`).
    pub(crate) fn send_vectored(&self, iov: &[IoSlice<'_>]) -> io::Result<usize> {
        // SAFETY: `IoSlice` is ABI-compatible with `iovec` (std guarantees it
        // on Unix); the slices outlive the call, and msghdr is fully
        // initialized.
        result(unsafe {
            let mut msg: libc::msghdr = std::mem::zeroed();
            msg.msg_iov = iov.as_ptr() as *mut libc::iovec;
            msg.msg_iovlen = iov.len() as _;
            raw(
                libc::SYS_sendmsg,
                [
                    self.fd.as_raw_fd() as libc::c_long,
                    &msg as *const libc::msghdr as libc::c_long,
                    (libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL) as libc::c_long,
                    0,
                    0,
                    0,
                ],
            )
        })
    }

    /// Shuts down one or both directions.
    pub(crate) fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        socket2::SockRef::from(&self.fd).shutdown(how)
    }

    /// The peer's address (`getpeername`).
    pub(crate) fn peer_addr(&self) -> Option<SocketAddr> {
        socket2::SockRef::from(&self.fd)
            .peer_addr()
            .ok()?
            .as_socket()
    }

    /// Turns Nagle's algorithm off (writes are coalesced already).
    pub(crate) fn set_nodelay(&self) -> io::Result<()> {
        socket2::SockRef::from(&self.fd).set_nodelay(true)
    }

    /// A duplicate of the descriptor for another shard, taken out of this
    /// shard's epoll set first (epoll keys registrations by file, so the
    /// duplicate would otherwise keep reporting here). Drop `self` next.
    pub(crate) fn dup(&mut self) -> io::Result<OwnedFd> {
        if let Some(token) = self.ready.take() {
            readiness::deregister(self.fd.as_raw_fd(), token);
        }
        // SAFETY: plain system call on an open descriptor; the result is checked.
        let fd = unsafe { libc::fcntl(self.fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 0) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a new descriptor we own.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }
}

/// A system call made directly (`syscall(2)`), not through libc's
/// `recv`/`send`/`sendmsg`: those are pthread cancellation points, and in a
/// process with more than one thread each call flips the thread's
/// cancellation state twice with atomic read-modify-writes (2.5 % of the
/// server's CPU in echo). Nothing in ringcast uses pthread cancellation.
///
/// # Safety
/// As for the system call `nr` with these arguments.
unsafe fn raw(nr: libc::c_long, a: [libc::c_long; 6]) -> isize {
    // SAFETY: the caller's contract; `syscall` passes the arguments through.
    unsafe { libc::syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]) as isize }
}

/// A system call's byte count, or its error.
fn result(n: isize) -> io::Result<usize> {
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}
