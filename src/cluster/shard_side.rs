//! The shard end of the bridge: one task per shard drains what the core
//! sends (woken by a byte on a socketpair read through glommio) into the
//! shard's one inbound handler.

use std::os::fd::{FromRawFd, IntoRawFd};
use std::rc::Rc;
use std::sync::atomic::Ordering;

use futures_lite::AsyncReadExt;

use super::ShardEnd;
use crate::shard::Shard;

/// The task draining the core's messages for `shard`.
pub(crate) async fn pump(shard: Rc<Shard>, end: ShardEnd) {
    // SAFETY: the descriptor is one end of a socketpair we own.
    let mut wake = unsafe { glommio::net::UnixStream::from_raw_fd(end.wake.into_raw_fd()) };
    let mut buf = [0u8; 64];
    loop {
        match wake.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        end.armed.store(false, Ordering::SeqCst);
        while let Ok(msg) = end.rx.try_recv() {
            // The bridge never hands over connections (only shards do).
            if shard.handle_inbound(msg).is_some() {
                tracing::error!("connection handed over by the cluster bridge; dropped");
            }
        }
    }
}
