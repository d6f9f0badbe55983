//! The shard's deadline driver: a thin loop over the shard's deadline heap
//! (`shard::deadlines`). It sleeps until `Shard::poll_deadline`, reads the
//! clock and hands `now` to `Shard::handle_deadlines`; every protocol
//! decision (ping, pong timeout, `connectTimeout`) is made there, never
//! here.
//!
//! One glommio timer per shard, not one task and timer per session: see
//! `shard::deadlines` for the measurement. A deadline scheduled earlier than
//! the one the driver sleeps for wakes it (`Deadlines::park`).

use std::future::poll_fn;
use std::pin::Pin;
use std::rc::Rc;
use std::task::Poll;
use std::time::Instant;

use futures_lite::Future;
use glommio::timer::Timer;

use crate::shard::Shard;

/// Runs the shard's deadlines for as long as the shard runs.
pub(crate) async fn drive_deadlines(shard: Rc<Shard>) {
    loop {
        let next = shard.poll_deadline();
        wait(&shard, next).await;
        shard.handle_deadlines(Instant::now());
    }
}

/// Waits until `at` (forever for `None`), or less when an earlier deadline
/// is scheduled.
async fn wait(shard: &Shard, at: Option<Instant>) {
    let mut timer = at.map(|at| Timer::new(at.saturating_duration_since(Instant::now())));
    poll_fn(|cx| {
        if shard.poll_deadline() != at {
            return Poll::Ready(());
        }
        if let Some(timer) = &mut timer {
            if Pin::new(timer).poll(cx).is_ready() {
                return Poll::Ready(());
            }
        }
        shard.deadlines.borrow_mut().park(cx.waker());
        Poll::Pending
    })
    .await
}
