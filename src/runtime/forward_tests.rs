//! Unit tests of `forward`: response heads, the hop header, the peer pool.

use super::*;

/// `Failure as usize` indexes the metric's label values.
#[test]
fn failure_labels_line_up() {
    use crate::shard::stats::FORWARD_FAILURES;
    let all = [
        (Failure::UnknownOwner, "unknown_owner"),
        (Failure::Connect, "connect"),
        (Failure::Timeout, "timeout"),
        (Failure::Closed, "closed"),
        (Failure::Broken, "broken"),
    ];
    assert_eq!(all.len(), FORWARD_FAILURES.len());
    for (f, name) in all {
        assert_eq!(FORWARD_FAILURES[f as usize], name);
    }
}

#[test]
fn hop_header_goes_last() {
    let h = b"GET /socket.io/?sid=x HTTP/1.1\r\nHost: a\r\n\r\n";
    assert_eq!(
        with_hop_header(h, "ABCDEFGH"),
        b"GET /socket.io/?sid=x HTTP/1.1\r\nHost: a\r\nX-Ringcast-Forwarded: ABCDEFGH\r\n\r\n"
    );
}

#[test]
fn response_heads() {
    let ok = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: keep-alive\r\n\r\nhello";
    let meta = |status, content_length, close, len| {
        Ok(Some(Meta {
            status,
            content_length,
            close,
            len,
        }))
    };
    assert_eq!(
        parse_response_head(ok),
        meta(200, Some(5), false, ok.len() - 5)
    );
    let close = b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\ncontent-length: 0\r\n\r\n";
    assert_eq!(
        parse_response_head(close),
        meta(400, Some(0), true, close.len())
    );
    let up = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x01a";
    assert_eq!(
        parse_response_head(up),
        meta(101, None, false, up.len() - 3)
    );
    assert_eq!(parse_response_head(b"HTTP/1.1 200 OK\r\n"), Ok(None));
    assert_eq!(parse_response_head(b"HTTP/2 200\r\n\r\n"), Err(()));
    assert_eq!(
        parse_response_head(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n"),
        Err(())
    );
    assert_eq!(
        parse_response_head(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"),
        Err(())
    );
    assert_eq!(
        parse_response_head(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"),
        Err(())
    );
    assert_eq!(parse_response_head(&[b'a'; MAX_RESPONSE_HEAD + 1]), Err(()));
    assert_eq!(parse_response_head(b"\xff\xfe\r\n\r\n"), Err(()));
}

/// Regression: with every pooled connection to a peer stale (the peer
/// closed its idle keep-alive connections), the retry dials a fresh one
/// instead of taking the next stale one, so the forward succeeds and the
/// session is not lost to an unknown-sid answer; the stale pool is emptied.
#[test]
fn retry_after_a_stale_pooled_connection_dials_afresh() {
    use futures_lite::AsyncReadExt;
    use glommio::net::TcpListener;

    glommio::LocalExecutorBuilder::default()
        .spawn(|| async {
            let peer = TcpListener::bind("127.0.0.1:0").expect("binds");
            let addr = peer.local_addr().expect("bound");
            let (tx, _rx) = crossbeam_channel::bounded(1);
            let fwd = Forwarder {
                nodes: Arc::new(Nodes::for_test("AAAAAAAA", tx)),
                idle: RefCell::new(HashMap::new()),
            };
            // Two pooled connections whose peer side is closed.
            for _ in 0..2 {
                let s = TcpStream::connect(addr).await.expect("connects");
                drop(peer.accept().await.expect("accepts"));
                fwd.put_idle(addr, s);
            }
            // The peer answers the next connection it accepts.
            let answer = glommio::spawn_local(async move {
                let mut s = peer.accept().await.expect("accepts");
                let mut buf = Vec::new();
                let mut chunk = [0u8; 256];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    let n = s.read(&mut chunk).await.expect("reads");
                    assert!(n > 0, "request head");
                    buf.extend_from_slice(&chunk[..n]);
                }
                write_all(&mut s, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                    .await
                    .expect("answers");
                s
            });
            // The client side of the relay.
            // The shard's epoll set, which the client's socket waits in.
            let epfd = crate::runtime::readiness::epoll_set().expect("epoll set");
            let ready = crate::runtime::readiness::Readiness::install(epfd);
            let ready = glommio::spawn_local(crate::runtime::readiness::run(ready));
            let front = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
            let mut client = TcpStream::connect(front.local_addr().expect("bound"))
                .await
                .expect("connects");
            // The connection is queued already: this accept does not block.
            let (accepted, _) = front.accept().expect("accepts");
            let mut conn = Conn::new(
                Socket::new(std::os::fd::OwnedFd::from(accepted)),
                bytes::BytesMut::new(),
            );
            let limits = Limits {
                head: Duration::from_secs(30),
                body: Duration::from_secs(30),
            };
            let out = fwd
                .exchange(addr, b"GET / HTTP/1.1\r\n\r\n", &mut conn, false, limits)
                .await;
            assert!(matches!(out, Ok(Relayed::KeepAlive)), "{out:?}");
            let _peer_side = answer.await;
            let want = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
            let mut got = vec![0u8; want.len()];
            client.read_exact(&mut got).await.expect("relayed");
            assert_eq!(&got[..], &want[..]);
            // The stale ones are gone; the good one is pooled.
            assert_eq!(fwd.idle.borrow().get(&addr).map(Vec::len), Some(1));
            drop(conn);
            drop(ready.cancel());
            crate::runtime::readiness::Readiness::uninstall();
        })
        .expect("executor")
        .join()
        .expect("test body");
}
