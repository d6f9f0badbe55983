//! The per-session timer task: the heartbeat (ping every `pingInterval`,
//! close when no pong within `pingTimeout`, counted from the ping) and the
//! Socket.IO `connectTimeout` (a session that joined no namespace by then is
//! closed), in one task per session to keep an idle connection small.
//!
//! The task parks its waker on the session, so closing the session (or a
//! pong) wakes it at once, and its memory is released without waiting for
//! the next tick.

use std::future::poll_fn;
use std::pin::Pin;
use std::rc::Rc;
use std::task::Poll;
use std::time::Instant;

use futures_lite::Future;
use glommio::timer::Timer;

use crate::shard::msg::Control;
use crate::shard::session::{CloseReason, Push, Session, SessionKind};
use crate::shard::Shard;

/// Starts the timer task of a new session.
pub(crate) fn spawn_session_timers(shard: &Rc<Shard>, session: &Rc<Session>) {
    glommio::spawn_local(timers(shard.clone(), session.clone())).detach();
}

/// Waits until `deadline`, or less when the session closes or (with
/// `until_pong`) a pong arrives.
async fn wait(session: &Session, deadline: Instant, until_pong: bool) {
    let mut timer = Timer::new(deadline.saturating_duration_since(Instant::now()));
    poll_fn(|cx| {
        if session.is_closed() || (until_pong && session.pong_seen.get()) {
            return Poll::Ready(());
        }
        if Pin::new(&mut timer).poll(cx).is_ready() {
            return Poll::Ready(());
        }
        *session.pong_waker.borrow_mut() = Some(cx.waker().clone());
        Poll::Pending
    })
    .await
}

async fn timers(shard: Rc<Shard>, session: Rc<Session>) {
    let interval = shard.config.ping_interval;
    let timeout = shard.config.ping_timeout;
    let start = Instant::now();
    let mut ping_at = start + interval;
    let mut pong_deadline: Option<Instant> = None;
    let mut connect_deadline =
        (session.kind == SessionKind::SocketIo).then(|| start + shard.config.connect_timeout);
    loop {
        let heartbeat = pong_deadline.unwrap_or(ping_at);
        let next = connect_deadline.map_or(heartbeat, |c| c.min(heartbeat));
        wait(&session, next, pong_deadline.is_some()).await;
        if session.is_closed() {
            return;
        }
        let now = Instant::now();
        if connect_deadline.is_some_and(|c| now >= c) {
            connect_deadline = None;
            if session.st.borrow().sockets.is_empty() {
                tracing::debug!(sid = %session.sid, "no namespace joined within connectTimeout");
                return shard.close_session(&session, CloseReason::ConnectTimeout);
            }
        }
        match pong_deadline {
            Some(_) if session.pong_seen.get() => {
                pong_deadline = None;
                ping_at = now + interval;
            }
            Some(d) if now >= d => {
                tracing::debug!(sid = %session.sid, "ping timeout");
                return shard.close_session(&session, CloseReason::PingTimeout);
            }
            Some(_) => {}
            None if now >= ping_at => {
                session.release_idle_memory();
                session.pong_seen.set(false);
                match session.push_control(Control::Ping) {
                    Push::Queued | Push::Dropped => {}
                    Push::Overflow => return shard.handle_overflow(&session),
                    Push::Closed => return,
                }
                pong_deadline = Some(now + timeout);
            }
            None => {}
        }
    }
}
