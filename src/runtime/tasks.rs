//! The session timer: a thin driver of the protocol state's deadlines
//! (heartbeat ping, pong timeout, Socket.IO `connectTimeout`; see
//! `ringcast_proto::engineio::session`). It sleeps until
//! `poll_timeout`, reads the clock, and hands `now` to
//! `Shard::handle_session_timeout`; every protocol decision is made there,
//! never here.
//!
//! One timer task per session, not one per shard: a glommio timer is an
//! entry in the executor's timer wheel (no syscall of its own), and a
//! per-shard heap would need lazy deletion plus re-insertion whenever a pong
//! moves a session's deadline earlier (a `pingInterval` shorter than the
//! pending `pingTimeout`). The task parks its waker on the session, so a
//! pong (which moves the deadline) or a close (which removes it) wakes it at
//! once, and its memory is released without waiting for the next deadline.

use std::future::poll_fn;
use std::pin::Pin;
use std::rc::Rc;
use std::task::Poll;
use std::time::Instant;

use futures_lite::Future;
use glommio::timer::Timer;

use crate::shard::session::Session;
use crate::shard::Shard;

/// Starts the timer task of a new session.
pub(crate) fn spawn_session_timer(shard: &Rc<Shard>, session: &Rc<Session>) {
    glommio::spawn_local(timer(shard.clone(), session.clone())).detach();
}

/// Waits until `at`, or less when the session's next deadline changes
/// (a pong, a close).
async fn wait(session: &Session, at: Instant) {
    let mut timer = Timer::new(at.saturating_duration_since(Instant::now()));
    poll_fn(|cx| {
        if session.poll_timeout() != Some(at) {
            return Poll::Ready(());
        }
        if Pin::new(&mut timer).poll(cx).is_ready() {
            return Poll::Ready(());
        }
        *session.timer.borrow_mut() = Some(cx.waker().clone());
        Poll::Pending
    })
    .await
}

async fn timer(shard: Rc<Shard>, session: Rc<Session>) {
    while let Some(at) = session.poll_timeout() {
        wait(&session, at).await;
        shard.handle_session_timeout(&session, Instant::now());
    }
}
