//! Tests of the shard's epoll readiness (readiness.rs): registration,
//! wake-ups, drained sockets and the epoll descriptor's glommio wait.

use std::future::poll_fn;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::task::Poll;

use super::*;

/// Runs `body` on a glommio executor with a shard's readiness installed
/// and its task running.
fn on_shard<F: std::future::Future<Output = ()> + 'static>(body: fn() -> F) {
    glommio::LocalExecutorBuilder::default()
        .spawn(move || async move {
            let r = Readiness::install(epoll_set().expect("epoll set"));
            let task = glommio::spawn_local(run(r));
            body().await;
            drop(task.cancel());
            Readiness::uninstall();
        })
        .expect("executor")
        .join()
        .expect("test body");
}

/// Parks the current task on `fd` for `interest`, then waits until it is
/// woken: only an event for `fd` can wake it.
async fn woken(fd: RawFd, token: &mut Option<Token>, interest: Interest) {
    let mut parked = false;
    poll_fn(|cx| {
        if parked {
            return Poll::Ready(());
        }
        park(fd, token, interest, cx.waker()).expect("parks");
        parked = true;
        Poll::Pending
    })
    .await;
}

/// A socket pair whose first end parked its reader (registering it)
/// and was woken by one byte the other end wrote after that.
async fn woken_by_input() -> (UnixStream, UnixStream, Option<Token>) {
    let (a, mut b) = UnixStream::pair().expect("socketpair");
    a.set_nonblocking(true).expect("non-blocking");
    let mut token = None;
    let writer = glommio::spawn_local(async move {
        // Runs after the reader parked (the reader is polled first).
        b.write_all(b"x").expect("writes");
        b
    });
    woken(a.as_raw_fd(), &mut token, Interest::Read).await;
    let b = writer.await;
    (a, b, token)
}

#[test]
fn input_wakes_the_parked_reader() {
    on_shard(|| async {
        let (a, _b, token) = woken_by_input().await;
        let mut buf = [0u8; 4];
        assert_eq!((&a).read(&mut buf).expect("input is there"), 1);
        deregister(a.as_raw_fd(), token.expect("registered"));
    });
}

/// `park_drained` as the connection task calls it, with `waker`.
fn drained(token: Option<Token>, waker: &Waker) -> bool {
    park_drained(token, waker).expect("a registration of this shard")
}

/// Whether an input event was harvested for `token` since the flag
/// was last cleared.
fn reported(token: Token) -> bool {
    CURRENT.with(|c| {
        let c = c.borrow();
        let r = c.as_ref().expect("installed");
        let mut slots = r.slots.borrow_mut();
        Readiness::slot(&mut slots, token).is_some_and(|s| s.readable)
    })
}

#[test]
fn a_drained_socket_waits_for_input_without_reading() {
    on_shard(|| async {
        let (a, mut b, token) = woken_by_input().await;
        let waker = poll_fn(|cx| Poll::Ready(cx.waker().clone())).await;
        // The event that woke the reader says: read.
        assert!(drained(token, &waker));
        let mut buf = [0u8; 4];
        assert_eq!((&a).read(&mut buf).expect("input"), 1, "a short read");
        // Nothing was reported since that read: wait, without a read.
        assert!(!drained(token, &waker));
        // Input from now on wakes the parked reader.
        let mut parked = true;
        let writer = glommio::spawn_local(async move {
            b.write_all(b"y").expect("writes");
            b
        });
        poll_fn(|cx| {
            if std::mem::take(&mut parked) {
                assert!(!drained(token, cx.waker()), "parks");
                return Poll::Pending;
            }
            Poll::Ready(())
        })
        .await;
        assert!(drained(token, &waker));
        assert_eq!((&a).read(&mut buf).expect("input"), 1);
        let _b = writer.await;
        deregister(a.as_raw_fd(), token.expect("registered"));
    });
}

#[test]
fn input_reported_while_the_reader_runs_is_not_lost() {
    on_shard(|| async {
        let (a, mut b) = UnixStream::pair().expect("socketpair");
        a.set_nonblocking(true).expect("non-blocking");
        let mut token = None;
        b.write_all(b"x").expect("writes");
        woken(a.as_raw_fd(), &mut token, Interest::Read).await;
        let token_now = token.expect("registered");
        let waker = poll_fn(|cx| Poll::Ready(cx.waker().clone())).await;
        assert!(drained(token, &waker));
        let mut buf = [0u8; 4];
        assert_eq!((&a).read(&mut buf).expect("input"), 1);
        // Input arrives and is harvested while the reader is not parked
        // (it is running, or was woken by something else).
        b.write_all(b"y").expect("writes");
        while !reported(token_now) {
            glommio::executor().yield_now().await;
        }
        assert!(drained(token, &waker), "the drained socket reads");
        assert_eq!((&a).read(&mut buf).expect("input"), 1);
        deregister(a.as_raw_fd(), token_now);
    });
}

#[test]
fn room_wakes_the_parked_writer() {
    on_shard(|| async {
        let (mut a, mut b) = UnixStream::pair().expect("socketpair");
        a.set_nonblocking(true).expect("non-blocking");
        // Fill the send buffer.
        let chunk = [7u8; 4096];
        let mut queued = 0;
        loop {
            match a.write(&chunk) {
                Ok(n) => queued += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => panic!("write: {e}"),
            }
        }
        // Registered for reading first: the write interest is added later.
        let mut token = None;
        CURRENT.with(|c| {
            let c = c.borrow();
            let r = c.as_ref().expect("installed");
            token = Some(
                r.register(a.as_raw_fd(), Interest::Read)
                    .expect("registers"),
            );
        });
        let reader = glommio::spawn_local(async move {
            let mut buf = vec![0u8; queued];
            b.read_exact(&mut buf).expect("drains");
            b
        });
        woken(a.as_raw_fd(), &mut token, Interest::Write).await;
        assert!(a.write(b"more").expect("room") > 0);
        let _b = reader.await;
        deregister(a.as_raw_fd(), token.expect("registered"));
    });
}

#[test]
fn a_stale_token_wakes_nothing() {
    let r = Readiness {
        epfd: epoll_set().expect("epoll set"),
        slots: RefCell::new(slab::Slab::new()),
        generation: Cell::new(0),
    };
    let (a, _b) = UnixStream::pair().expect("socketpair");
    let old = r
        .register(a.as_raw_fd(), Interest::Read)
        .expect("registers");
    r.deregister(a.as_raw_fd(), old);
    let new = r
        .register(a.as_raw_fd(), Interest::Read)
        .expect("registers");
    assert_eq!(old.key(), new.key(), "the slot is reused");
    let mut slots = r.slots.borrow_mut();
    assert!(Readiness::slot(&mut slots, old).is_none());
    assert!(Readiness::slot(&mut slots, new).is_some());
}

/// The glommio poll that puts an idle shard to sleep: it completes once
/// the epoll set has an event, and not before.
#[test]
fn the_epoll_set_is_awaited_through_glommio() {
    glommio::LocalExecutorBuilder::default()
        .spawn(|| async move {
            let r = Readiness::install(epoll_set().expect("epoll set"));
            let (a, mut b) = UnixStream::pair().expect("socketpair");
            r.register(a.as_raw_fd(), Interest::Read)
                .expect("registers");
            let epfd = r.epfd.as_raw_fd();
            let mut wait = Box::pin(wait_readable(epfd));
            // Nothing is ready: however often the executor runs, it waits.
            for _ in 0..10 {
                assert!(futures_lite::future::poll_once(&mut wait).await.is_none());
                glommio::executor().yield_now().await;
            }
            b.write_all(b"x").expect("writes");
            wait.await.expect("wakes");
            Readiness::uninstall();
        })
        .expect("executor")
        .join()
        .expect("test body");
}
