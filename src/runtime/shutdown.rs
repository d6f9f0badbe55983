//! Shutdown as a future: each shard's main task awaits
//! [`StopSignal::wait`]; a [`Stopper`] completes it from any thread by
//! waking the stored wakers (glommio queues a foreign wake and kicks the
//! executor). An idle shard sleeps until there is work; nothing polls a flag.

use std::future::poll_fn;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};

/// The stop request the shards await: set once, from any thread.
#[derive(Debug)]
pub(crate) struct StopSignal {
    stopped: AtomicBool,
    /// The waker of each shard's main task (index: shard id).
    wakers: Mutex<Vec<Option<Waker>>>,
}

impl StopSignal {
    pub(crate) fn new(shards: usize) -> Self {
        Self {
            stopped: AtomicBool::new(false),
            wakers: Mutex::new(vec![None; shards]),
        }
    }

    /// Sets the request and wakes every shard waiting on it.
    pub(crate) fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
        let wakers = std::mem::take(&mut *self.wakers.lock().unwrap_or_else(|p| p.into_inner()));
        for w in wakers.into_iter().flatten() {
            w.wake();
        }
    }

    /// Completes once [`StopSignal::stop`] was called.
    pub(crate) async fn wait(&self, shard: usize) {
        poll_fn(|cx| {
            if self.stopped.load(Ordering::SeqCst) {
                return Poll::Ready(());
            }
            let mut wakers = self.wakers.lock().unwrap_or_else(|p| p.into_inner());
            // Checked again under the lock: `stop` takes the wakers after
            // setting the flag, so a waker stored here is either woken or
            // sees the flag.
            if self.stopped.load(Ordering::SeqCst) {
                return Poll::Ready(());
            }
            if let Some(slot) = wakers.get_mut(shard) {
                *slot = Some(cx.waker().clone());
            }
            Poll::Pending
        })
        .await
    }
}

/// Stops a running server from any thread (cheap to clone).
#[derive(Debug, Clone)]
pub struct Stopper(pub(crate) Arc<StopSignal>);

impl Stopper {
    /// Asks every shard to close its sessions and exit. Idempotent.
    pub fn stop(&self) {
        self.0.stop();
    }
}
