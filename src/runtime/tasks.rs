//! Per-session timers: the heartbeat (ping every `pingInterval`, close when
//! no pong within `pingTimeout`, counted from the ping) and the Socket.IO
//! `connectTimeout`.
//!
//! The heartbeat task parks its waker on the session, so closing the
//! session wakes it at once and its memory is released without waiting for
//! the next tick.

use std::future::poll_fn;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::task::Poll;
use std::time::Duration;

use futures_lite::Future;
use glommio::timer::Timer;

use crate::shard::msg::Control;
use crate::shard::session::{CloseReason, Push, Session, SessionKind};
use crate::shard::Shard;

/// Starts the timers of a new session.
pub(crate) fn spawn_session_timers(shard: &Rc<Shard>, session: &Rc<Session>) {
    glommio::spawn_local(heartbeat(shard.clone(), session.clone())).detach();
    if session.kind == SessionKind::SocketIo {
        let weak = Rc::downgrade(session);
        let shard = shard.clone();
        glommio::spawn_local(connect_timeout(shard, weak)).detach();
    }
}

/// Waits `dur`, or less when the session closes or (with `until_pong`) a
/// pong arrives. Returns true when the wait was cut short.
async fn wait(session: &Session, dur: Duration, until_pong: bool) -> bool {
    let mut timer = Timer::new(dur);
    poll_fn(|cx| {
        if session.is_closed() || (until_pong && session.pong_seen.get()) {
            return Poll::Ready(true);
        }
        if Pin::new(&mut timer).poll(cx).is_ready() {
            return Poll::Ready(false);
        }
        *session.pong_waker.borrow_mut() = Some(cx.waker().clone());
        Poll::Pending
    })
    .await
}

async fn heartbeat(shard: Rc<Shard>, session: Rc<Session>) {
    let interval = shard.config.ping_interval;
    let timeout = shard.config.ping_timeout;
    loop {
        wait(&session, interval, false).await;
        if session.is_closed() {
            return;
        }
        session.pong_seen.set(false);
        match session.push_control(Control::Ping) {
            Push::Queued | Push::Dropped => {}
            Push::Overflow => return shard.handle_overflow(&session),
            Push::Closed => return,
        }
        let got_pong = wait(&session, timeout, true).await;
        if session.is_closed() {
            return;
        }
        if !got_pong {
            tracing::debug!(sid = %session.sid, "ping timeout");
            shard.close_session(&session, CloseReason::PingTimeout);
            return;
        }
    }
}

async fn connect_timeout(shard: Rc<Shard>, session: Weak<Session>) {
    glommio::timer::sleep(shard.config.connect_timeout).await;
    let Some(session) = session.upgrade() else {
        return;
    };
    let idle = session.st.borrow().sockets.is_empty();
    if idle && !session.is_closed() {
        tracing::debug!(sid = %session.sid, "no namespace joined within connectTimeout");
        shard.close_session(&session, CloseReason::ConnectTimeout);
    }
}
