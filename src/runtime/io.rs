//! Socket IO for one connection: reads through the shard's scratch buffer
//! (an idle connection holds no read buffer) and gathered, non-blocking
//! writes of a session's queue (one `send` or `sendmsg` for many queued
//! frames). The socket itself is socket.rs.

use std::collections::VecDeque;
use std::future::{poll_fn, Future};
use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use bytes::BytesMut;

use ringcast_proto::engineio::Protocol;
use ringcast_proto::ws::deflate::Negotiated;

use super::readiness::Interest;
use super::socket::Socket;
use crate::shard::msg::OutItem;
use crate::shard::session::Session;
use crate::shard::Shard;

/// `fut`'s output, or `None` once `limit` has passed. The timer is only
/// created when `fut` has to wait (most reads and writes complete at their
/// first poll), and `fut` is never polled twice in a row for nothing:
/// `glommio::timer::timeout` after a first poll would poll it again at once,
/// a second `recvfrom` or `sendto` that fails with `EAGAIN`.
///
/// A future of its own rather than an `async fn`: an `async fn` keeps its
/// argument and the local it is pinned in apart (rust-lang/rust#62958), so
/// the head read's future, allocated once per connection, took 1,280 bytes
/// instead of 544.
pub(crate) fn within<F: Future>(limit: Duration, fut: F) -> Within<F> {
    Within {
        fut,
        limit,
        timer: None,
    }
}

/// The future of [`within`].
pub(crate) struct Within<F> {
    fut: F,
    limit: Duration,
    timer: Option<glommio::timer::Timer>,
}

impl<F: Future> Future for Within<F> {
    type Output = Option<F::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `fut` is structurally pinned: it is never moved out of
        // `self` nor handed out unpinned, and `Within` has no `Drop` of its
        // own. `limit` and `timer` are not pinned (`Timer` is `Unpin`).
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: see above; `this.fut` stays where it is until dropped.
        let fut = unsafe { Pin::new_unchecked(&mut this.fut) };
        if let Poll::Ready(out) = fut.poll(cx) {
            return Poll::Ready(Some(out));
        }
        let limit = this.limit;
        let timer = this
            .timer
            .get_or_insert_with(|| glommio::timer::Timer::new(limit));
        match Pin::new(timer).poll(cx) {
            Poll::Ready(_) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Lets every task made ready in this executor turn run before the caller
/// writes to its socket: glommio queues a task that wakes itself behind
/// those already queued. The writes of one turn then go out together, as
/// an epoll loop's writes go out after it has read every ready socket
/// (the kernel floor's way). Written one by one between other
/// connections' parsing, each send to a peer that has just gone idle
/// wakes it again, a cross-core wake-up (an IPI) charged to this shard's
/// `send`: measured with perf on the connect storm, `sock_def_readable`'s
/// share of the server's CPU went from 9.3 % to 5.0 %. It costs one more
/// task poll per write; a write waits for the rest of the turn only.
pub(crate) async fn yield_to_turn_end() {
    futures_lite::future::yield_now().await;
}

/// How long a closing connection's input is drained at most ([`Conn::linger`]).
const LINGER: Duration = Duration::from_secs(2);
/// Most bytes [`Conn::linger`] discards.
const LINGER_BYTES: usize = 4 << 20;

/// Most iovecs gathered into one `sendmsg` (large frames, not copied).
const MAX_IOV: usize = 64;
/// Most bytes of small frames copied into one contiguous send.
const COPY_MAX: usize = 128 * 1024;
/// Frames larger than this are sent from their own buffer, not copied.
const COPY_CHUNK_MAX: usize = 4 * 1024;

/// A TCP connection with its unconsumed input.
#[derive(Debug)]
pub(crate) struct Conn {
    /// The socket.
    pub(crate) socket: Socket,
    /// Bytes read but not yet consumed; empty (no allocation) when idle.
    pub(crate) rbuf: BytesMut,
    /// Bytes of the front queue item already written (websocket mode).
    pub(crate) write_offset: usize,
    /// permessage-deflate negotiated on this websocket (see `deflate.rs`).
    pub(crate) deflate: Option<Negotiated>,
    /// How long [`Conn::write_all`] waits for the peer to take a byte
    /// (`conn::write_stall`, set when the connection is served).
    pub(crate) write_stall: Duration,
    /// The peer's address as `accept4` returned it (None: ask the socket).
    peer: Option<SocketAddr>,
}

impl Conn {
    /// Wraps an accepted or adopted socket.
    pub(crate) fn new(socket: Socket, rbuf: BytesMut) -> Self {
        Self {
            socket,
            rbuf,
            write_offset: 0,
            deflate: None,
            write_stall: Duration::from_secs(45),
            peer: None,
        }
    }

    /// The peer's address, when the accept already returned it.
    pub(crate) fn with_peer(mut self, peer: Option<SocketAddr>) -> Self {
        self.peer = peer;
        self
    }

    /// The peer's address: the one from the accept, else `getpeername`
    /// (a connection handed over by another shard).
    pub(crate) fn peer_addr(&self) -> Option<SocketAddr> {
        self.peer.or_else(|| self.socket.peer_addr())
    }

    /// Polls for more input, appended to `rbuf`. `Ready(Ok(0))` is EOF.
    pub(crate) fn poll_fill(
        &mut self,
        cx: &mut Context<'_>,
        shard: &Shard,
    ) -> Poll<io::Result<usize>> {
        let mut scratch = shard.scratch.borrow_mut();
        let n = ready!(self.socket.poll_recv(cx, &mut scratch[..]))?;
        crate::shard::stats::count_received_bytes(n);
        self.rbuf.extend_from_slice(&scratch[..n]);
        Poll::Ready(Ok(n))
    }

    /// Reads more input into `rbuf`; `Ok(0)` is EOF.
    pub(crate) async fn fill(&mut self, shard: &Shard) -> io::Result<usize> {
        poll_fn(|cx| self.poll_fill(cx, shard)).await
    }

    /// A lingering close: half-closes, then reads and discards until the
    /// peer closes too (a websocket client answers the close frame at
    /// once), [`LINGER`] has passed or [`LINGER_BYTES`] were discarded.
    /// Closing a socket with unread input sends a RST, and the peer's stack
    /// may then drop what was just written: a client still sending (a
    /// flood disconnected by its quota, the rest of an oversized frame or
    /// body) would lose the close frame or the 413 and take the close for a
    /// lost connection.
    pub(crate) async fn linger(&mut self, shard: &Shard) {
        let _ = self.socket.shutdown(std::net::Shutdown::Write);
        let _ = glommio::timer::timeout(LINGER, async {
            let mut left = LINGER_BYTES;
            while left > 0 {
                self.rbuf.clear();
                match self.fill(shard).await {
                    Ok(n) if n > 0 => left = left.saturating_sub(n),
                    _ => break,
                }
            }
            Ok(())
        })
        .await;
        self.rbuf = BytesMut::new();
    }

    /// Releases the read buffer's memory once everything was consumed.
    pub(crate) fn compact(&mut self) {
        if self.rbuf.is_empty() && self.rbuf.capacity() > 0 {
            self.rbuf = BytesMut::new();
        }
    }

    /// Writes all of `data`. A peer that takes no byte for `write_stall`
    /// (it stopped reading) fails the write with `TimedOut`, so it cannot
    /// pin the connection, its task and its descriptor; the timer is only
    /// created when a write has to wait.
    pub(crate) async fn write_all(&mut self, mut data: &[u8]) -> io::Result<()> {
        let stall = self.write_stall;
        yield_to_turn_end().await;
        while !data.is_empty() {
            let socket = &mut self.socket;
            let write = poll_fn(|cx| socket.poll_send(cx, data));
            let n = match within(stall, write).await {
                Some(r) => r?,
                None => return Err(io::ErrorKind::TimedOut.into()),
            };
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            crate::shard::stats::count_sent_bytes(n);
            data = &data[n..];
        }
        Ok(())
    }

    /// Writes the session's queue as websocket frames until it is empty
    /// (`Ready(Ok)`) or the socket is full (`Pending`, woken when writable).
    pub(crate) fn poll_flush_ws(
        &mut self,
        cx: &mut Context<'_>,
        shard: &Shard,
        session: &Session,
    ) -> Poll<io::Result<()>> {
        loop {
            let mut st = session.st.borrow_mut();
            let protocol = st.eio.protocol();
            let outbox = st.eio.queued();
            if outbox.is_empty() {
                return Poll::Ready(Ok(()));
            }
            let z = self
                .deflate
                .as_ref()
                .map(|n| (n, shard.config.per_message_deflate_threshold));
            let mut flat = shard.wscratch.borrow_mut();
            let single = single_chunk(outbox, self.write_offset, z, protocol);
            let gathered = match single {
                Some(_) => None,
                None => gather_flat(outbox, self.write_offset, z, protocol, &mut flat),
            };
            let res = if let Some(chunk) = single {
                // One frame (a reply, a lone push): sent from its own buffer,
                // no copy to gather.
                self.socket.send(chunk)
            } else if gathered.is_some() {
                // Small frames: one contiguous copy is cheaper than the kernel
                // walking (and checking) one iovec per frame, and a plain
                // `send` skips `sendmsg`'s msghdr and iovec import.
                self.socket.send(&flat)
            } else {
                // A large frame first: zero-copy iovecs.
                let mut iov: [IoSlice<'_>; MAX_IOV] = [IoSlice::new(&[]); MAX_IOV];
                let mut n_iov = 0;
                for (slot, chunk) in
                    iov.iter_mut()
                        .zip(pending_chunks(outbox, self.write_offset, z, protocol))
                {
                    *slot = IoSlice::new(chunk);
                    n_iov += 1;
                }
                self.socket.send_vectored(&iov[..n_iov])
            };
            let flat_len = flat.len();
            drop(flat);
            let written = match res {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    // Woken when writable (or with the registration's error).
                    ready!(self.socket.park::<()>(cx, Interest::Write))?;
                    continue;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Poll::Ready(Err(e)),
            };
            crate::shard::stats::count_sent_bytes(written);
            // Retire fully written items: the whole flat copy went out (the
            // common case), so what it covered is known without walking the
            // queue again; otherwise count what `written` covered.
            let (done, left) = match gathered {
                Some(g) if written == flat_len => (g.whole, g.tail),
                _ => {
                    let mut left = self.write_offset + written;
                    let mut done = 0;
                    for item in outbox {
                        let len = ws_len(item, z, protocol);
                        if left < len {
                            break;
                        }
                        left -= len;
                        done += 1;
                    }
                    (done, left)
                }
            };
            st.eio.handle_sent(done);
            self.write_offset = left;
        }
    }
}

/// The bytes still to write: every chunk of the queue, the first
/// `offset` bytes (already written) skipped.
fn pending_chunks<'a>(
    outbox: &'a VecDeque<OutItem>,
    mut offset: usize,
    z: Deflate<'a>,
    protocol: Protocol,
) -> impl Iterator<Item = &'a [u8]> {
    outbox
        .iter()
        .flat_map(move |item| ws_chunks(item, z, protocol))
        .filter_map(move |chunk| {
            if offset >= chunk.len() {
                offset -= chunk.len();
                None
            } else {
                let rest = &chunk[offset..];
                offset = 0;
                Some(rest)
            }
        })
}

/// The bytes still to write when they are one chunk of one queue item
/// (the common case of a request's reply), else `None`.
fn single_chunk<'a>(
    outbox: &'a VecDeque<OutItem>,
    offset: usize,
    z: Deflate<'a>,
    protocol: Protocol,
) -> Option<&'a [u8]> {
    if outbox.len() != 1 {
        return None;
    }
    let mut chunks = pending_chunks(outbox, offset, z, protocol);
    let first = chunks.next()?;
    chunks.next().is_none().then_some(first)
}

/// What [`gather_flat`] copied, in queue terms: `whole` items entirely
/// (the first one from the write offset on), then `tail` bytes of the next
/// item (counting the write offset when that item is the front one): the
/// queue's retirement when the whole copy is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Gathered {
    whole: usize,
    tail: usize,
}

/// Copies the leading small chunks of what is still to write into `flat`
/// (at most [`COPY_MAX`] bytes, stopping before a chunk over
/// [`COPY_CHUNK_MAX`]); `None` when the first chunk is large (send it
/// zero-copy instead).
fn gather_flat(
    outbox: &VecDeque<OutItem>,
    offset: usize,
    z: Deflate<'_>,
    protocol: Protocol,
    flat: &mut Vec<u8>,
) -> Option<Gathered> {
    flat.clear();
    // Bytes of the front item already written, still to skip.
    let mut skip = offset;
    let mut whole = 0;
    for item in outbox {
        // Bytes of this item accounted as written once `flat` goes out.
        let mut covered = 0;
        for chunk in ws_chunks(item, z, protocol) {
            let rest = if skip >= chunk.len() {
                skip -= chunk.len();
                covered += chunk.len();
                continue;
            } else {
                let rest = &chunk[skip..];
                covered += skip;
                skip = 0;
                rest
            };
            if rest.len() > COPY_CHUNK_MAX || flat.len() + rest.len() > COPY_MAX {
                if flat.is_empty() {
                    return None;
                }
                return Some(Gathered {
                    whole,
                    tail: covered,
                });
            }
            flat.extend_from_slice(rest);
            covered += rest.len();
        }
        whole += 1;
    }
    (!flat.is_empty()).then_some(Gathered { whole, tail: 0 })
}

/// The connection's permessage-deflate parameters and threshold (None:
/// not negotiated).
type Deflate<'a> = Option<(&'a Negotiated, usize)>;

/// The websocket byte chunks of a queue item (data frames compressed when
/// `z` says so; the compressed form is shared by every receiver).
/// `protocol` is the receiver's Engine.IO revision (v3 binary frames
/// have their own form, `Frame::wire_v3`).
pub(crate) fn ws_chunks<'a>(
    item: &'a OutItem,
    z: Deflate<'a>,
    protocol: Protocol,
) -> impl Iterator<Item = &'a [u8]> {
    let (frames, control) = match item {
        OutItem::Msg(m) => (&m.frames[..], None),
        OutItem::Own(m) => (&m.frames[..], None),
        OutItem::Control(c) => (&[][..], Some(c.ws_frame())),
        OutItem::Raw(b) => (&[][..], Some(&b[..])),
    };
    frames
        .iter()
        .map(move |f| match protocol {
            Protocol::V4 => f.wire(z),
            Protocol::V3 { binary } => f.wire_v3(z, binary),
        })
        .chain(control)
}

fn ws_len(item: &OutItem, z: Deflate<'_>, protocol: Protocol) -> usize {
    ws_chunks(item, z, protocol).map(<[u8]>::len).sum()
}

#[cfg(test)]
mod tests {
    use std::rc::Rc;

    use bytes::Bytes;

    use super::*;
    use crate::shard::msg::Msg;

    /// The queue walk `poll_flush_ws` falls back to: items retired and the
    /// new write offset after `written` more bytes.
    fn retire(outbox: &VecDeque<OutItem>, offset: usize, written: usize) -> (usize, usize) {
        let mut left = offset + written;
        let mut done = 0;
        for item in outbox {
            let len = ws_len(item, None, Protocol::V4);
            if left < len {
                break;
            }
            left -= len;
            done += 1;
        }
        (done, left)
    }

    #[test]
    fn a_lone_frame_is_sent_from_its_own_buffer() {
        let one = |text: &str| OutItem::Msg(Rc::new(Msg::socketio(text, &[])));
        let lone = VecDeque::from(vec![one("3[\"ok\"]")]);
        let whole: Vec<u8> = pending_chunks(&lone, 0, None, Protocol::V4)
            .flatten()
            .copied()
            .collect();
        assert_eq!(single_chunk(&lone, 0, None, Protocol::V4), Some(&whole[..]));
        // Partly written: the rest of it.
        assert_eq!(
            single_chunk(&lone, 2, None, Protocol::V4),
            Some(&whole[2..])
        );
        // Two items, or one with an attachment (two frames): gathered instead.
        let two = VecDeque::from(vec![one("2[\"a\"]"), one("2[\"b\"]")]);
        assert_eq!(single_chunk(&two, 0, None, Protocol::V4), None);
        let binary = VecDeque::from(vec![OutItem::Msg(Rc::new(Msg::socketio(
            "51-[\"c\",{\"_placeholder\":true,\"num\":0}]",
            &[Bytes::from_static(b"xyz")],
        )))]);
        assert_eq!(single_chunk(&binary, 0, None, Protocol::V4), None);
    }

    #[test]
    fn gathered_copy_retires_like_the_queue_walk() {
        let big = Bytes::from(vec![7u8; COPY_CHUNK_MAX + 1]);
        let items = || {
            VecDeque::from(vec![
                OutItem::Msg(Rc::new(Msg::socketio("2[\"a\",1]", &[]))),
                OutItem::Msg(Rc::new(Msg::socketio(
                    "51-[\"b\",{\"_placeholder\":true,\"num\":0}]",
                    &[Bytes::from_static(b"xyz")],
                ))),
                OutItem::Raw(Box::new(Bytes::from_static(b"\x8a\x00"))),
                // A large attachment: the copy stops before it.
                OutItem::Msg(Rc::new(Msg::socketio(
                    "51-[\"c\",{\"_placeholder\":true,\"num\":0}]",
                    std::slice::from_ref(&big),
                ))),
                OutItem::Msg(Rc::new(Msg::socketio("2[\"d\"]", &[]))),
            ])
        };
        let mut flat = Vec::new();
        for drop_front in 0..5 {
            let mut outbox = items();
            outbox.drain(..drop_front);
            let front = ws_len(&outbox[0], None, Protocol::V4);
            for offset in 0..front {
                let expected: Vec<u8> = pending_chunks(&outbox, offset, None, Protocol::V4)
                    .take_while(|c| c.len() <= COPY_CHUNK_MAX)
                    .flatten()
                    .copied()
                    .collect();
                match gather_flat(&outbox, offset, None, Protocol::V4, &mut flat) {
                    Some(g) => {
                        assert_eq!(flat, expected, "front {drop_front} offset {offset}");
                        assert_eq!(
                            (g.whole, g.tail),
                            retire(&outbox, offset, flat.len()),
                            "front {drop_front} offset {offset}"
                        );
                    }
                    None => assert!(expected.is_empty(), "front {drop_front} offset {offset}"),
                }
            }
        }
    }
}
