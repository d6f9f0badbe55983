//! The per-connection task: HTTP/1.1 requests (keep-alive) routed to the
//! Engine.IO handshake, long-polling, or a websocket upgrade.
//!
//! Routing across shards: a request naming a session owned by another shard
//! (`sid::shard_for`) is not proxied; the connection itself moves. The task
//! duplicates the descriptor, sends it with the unconsumed bytes to the
//! owner ([`ToShard::Adopt`]) and ends; the owner serves the request (and
//! the rest of the keep-alive connection, or the upgraded websocket).

use std::future::Future;
use std::rc::Rc;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use ringcast_proto::engineio::EngineError;
use ringcast_proto::http::{self, RequestHead};

use super::io::Conn;
use super::route::{route_on, Route};
use super::{handshake, polling, response, websocket};
use crate::config::Config;
use crate::shard::port::ToShard;
use crate::shard::session::Transport;
use crate::shard::Shard;

/// What the connection does after a request.
pub(crate) enum Next {
    /// Read the next request (keep-alive).
    KeepAlive,
    /// Close the connection.
    Close,
    /// Move the connection to shard `.0` with the request unconsumed.
    Handoff(usize),
    /// The connection is now this session's websocket (101 sent). The
    /// request head is dropped before the connection loop runs, so a
    /// long-lived websocket keeps none of it.
    WebSocket(Rc<crate::shard::session::Session>),
    /// The 101 for an upgrade of this polling session was sent; probe next.
    Upgrade(Rc<crate::shard::session::Session>),
}

/// How long a write may wait for the peer to take a byte: as long as the
/// heartbeat lets a silent peer live (`pingInterval + pingTimeout`), and at
/// least 5 s so that a busy client is not taken for a dead one. A client
/// whose socket stays full that long has not read our pings either.
pub(crate) fn write_stall(config: &Config) -> Duration {
    (config.ping_interval + config.ping_timeout).max(Duration::from_secs(5))
}

/// Serves one TCP connection until it closes or moves to another shard.
///
/// The task's future is allocated once per connection and lives as long as
/// the connection, so it is kept small: the HTTP phase (head reading,
/// routing, the handlers: about 3.7 KB of state, most of it for paths a
/// websocket never takes again) runs as a boxed future that is freed when
/// the request is answered, and only the websocket loop's state stays.
/// Measured in the connect storm: 3.1 KB less heap per connection, and with
/// it the page faults and heap growth of a fresh server (docs/benchmarks.md,
/// "Connect storm against the kernel floor").
///
/// A plain `fn` returning an `async move` block, not an `async fn`: an
/// `async fn` keeps its arguments in its state twice, as arguments and as
/// the locals they are moved into (rust-lang/rust#62958), which was 128
/// bytes of the 552 (`-Zprint-type-sizes`); the block's captures are its
/// only copy. With `websocket::run`'s state trimmed too, it is 288 bytes.
#[allow(
    clippy::manual_async_fn,
    reason = "an async fn would keep `conn` twice (see above)"
)]
pub(crate) fn serve(shard: Rc<Shard>, mut conn: Conn) -> impl Future<Output = ()> {
    async move {
        conn.write_stall = write_stall(&shard.config);
        loop {
            // In a block: a local holding the unboxed future across the
            // `.await` would keep its room in this task's future for the
            // connection's lifetime (measured: +1 KB per idle connection).
            let request = {
                let request = request(&shard, &mut conn);
                // Kept under glibc's large-request size (a chunk of 1,024
                // bytes, so 1,000 bytes asked): when its thread cache has
                // none to give, a large request first consolidates every
                // free small block (`malloc_consolidate`): at 1,024 bytes,
                // 4 % of a warm server's CPU samples in a connect storm
                // (docs/benchmarks.md, "The request's future and glibc's
                // consolidation").
                debug_assert!(
                    size_of_val(&request) <= 1000,
                    "the HTTP phase's future grew to {} bytes",
                    size_of_val(&request)
                );
                Box::pin(request)
            };
            let Some(next) = request.await else {
                return;
            };
            match next {
                Next::KeepAlive => continue,
                Next::Close => return,
                Next::Handoff(owner) => return handoff(&shard, conn, owner),
                Next::WebSocket(session) => {
                    return websocket::run(&shard, &mut conn, &session).await
                }
                // Boxed: the probe's and the loop's states together, only on
                // connections that upgrade.
                Next::Upgrade(session) => {
                    return Box::pin(websocket::probe_then_run(&shard, &mut conn, session)).await
                }
            }
        }
    }
}

/// Reads one request head (within `http_head_timeout`) and serves it.
/// `None`: the client closed, timed out or sent a bad head (answered).
async fn request(shard: &Rc<Shard>, conn: &mut Conn) -> Option<Next> {
    // The head has usually arrived by the time the connection is served:
    // the timer is only created when the read has to wait.
    let Some(Some((mut head, head_len))) =
        super::io::within(shard.config.http_head_timeout, read_head(shard, conn)).await
    else {
        return None;
    };
    // A session of another ringcast node: served through it (forward.rs).
    // Boxed: the proxy's state is most of a request's (2.4 KB), and only
    // requests for other nodes' sessions need it.
    if let Some((fwd, tag)) = super::forward::foreign(shard, &head) {
        return Some(Box::pin(fwd.serve(shard, conn, head, head_len, &tag)).await);
    }
    // The head is lent, not moved: an `async fn` keeps a moved argument
    // twice in its state (rust-lang/rust#62958).
    Some(dispatch(shard, conn, &mut head, head_len).await)
}

/// Reads until a complete request head is buffered. `None`: the client
/// closed (or sent a bad head, already answered).
async fn read_head(shard: &Shard, conn: &mut Conn) -> Option<(RequestHead, usize)> {
    let limits = http::Limits {
        max_head_bytes: shard.config.max_http_head_bytes,
        ..http::Limits::default()
    };
    loop {
        if !conn.rbuf.is_empty() {
            match http::parse_request(&conn.rbuf, &limits) {
                Ok(Some(h)) => return Some(h),
                Ok(None) => {}
                Err(e) => {
                    tracing::debug!(error = %e, "bad HTTP request head");
                    let mut out = BytesMut::new();
                    http::Response {
                        status: e.status(),
                        headers: &[("Content-Type", "text/plain")],
                        body: e.to_string().as_bytes(),
                        keep_alive: false,
                    }
                    .write(&mut out);
                    let _ = conn.write_all(&out).await;
                    return None;
                }
            }
        }
        match conn.fill(shard).await {
            Ok(0) | Err(_) => return None,
            Ok(_) => {}
        }
    }
}

fn handoff(shard: &Shard, mut conn: Conn, owner: usize) {
    // The duplicate is owned by the message from here on and closed by
    // whoever drops it.
    let fd = match conn.socket.dup() {
        Ok(fd) => fd,
        Err(e) => {
            tracing::warn!(error = %e, "dup failed; dropping connection");
            return;
        }
    };
    shard.stats.handoffs.set(shard.stats.handoffs.get() + 1);
    let buffered = conn.rbuf.to_vec();
    drop(conn);
    shard.mesh.send(owner, ToShard::Adopt { fd, buffered });
}

/// Serves one request where [`route`] sends it. Every handler that can
/// refuse returns the [`EngineError`]; it becomes a response here, in one
/// place ([`response::send_engine_error`]).
///
/// A plain `fn` returning an `async move` block, for the reason `serve` is
/// one (its arguments are kept once, not twice): its future is part of
/// [`request`]'s, which must stay under glibc's large-request size (see
/// `serve`).
#[allow(
    clippy::manual_async_fn,
    reason = "an async fn would keep its arguments twice (see above)"
)]
fn dispatch<'a>(
    shard: &'a Rc<Shard>,
    conn: &'a mut Conn,
    head: &'a mut RequestHead,
    head_len: usize,
) -> impl Future<Output = Next> + 'a {
    async move {
        let route = route_on(shard, head);
        if let Route::Handoff(owner) = route {
            // The owner reads the request itself: nothing is consumed.
            return Next::Handoff(owner);
        }
        // `advance`, not `split_to`: the head is discarded, and splitting would
        // turn the buffer into a shared one (an allocation).
        conn.rbuf.advance(head_len);
        let served = match route {
            Route::Handoff(owner) => Ok(Next::Handoff(owner)),
            Route::NotFound => Ok(response::not_found(shard, conn, head).await),
            // Boxed: a CORS preflight is rare and its future is the largest.
            Route::Preflight => Ok(Box::pin(response::preflight(shard, conn, head)).await),
            Route::Error(EngineError::UnknownSid) => {
                match polling::handle_get_after_close(shard, conn, head).await {
                    Some(next) => Ok(next),
                    None => Err(EngineError::UnknownSid),
                }
            }
            Route::Error(e) => Err(e),
            Route::Open {
                kind,
                transport: Transport::Polling,
                protocol,
            } => Ok(handshake::open_polling(shard, conn, head, kind, protocol).await),
            Route::Open {
                kind,
                transport: Transport::WebSocket,
                protocol,
            } => handshake::open_websocket(shard, conn, head, kind, protocol).await,
            Route::Get(session) => polling::handle_get(shard, conn, head, session).await,
            Route::Post(session) => polling::handle_post(shard, conn, head, session).await,
            Route::Upgrade(session) => websocket::upgrade(shard, conn, head, session).await,
        };
        match served {
            Ok(next) => next,
            Err(e) => response::send_engine_error(shard, conn, head, e).await,
        }
    }
}
