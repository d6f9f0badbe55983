//! Free loopback ports for the servers tests start as child processes.
//!
//! Why not bind a `TcpListener` to port 0 and drop it: a listening socket,
//! even one open for a moment, is copied into any child that another test
//! thread forks in that moment, and stays open in that child until its
//! `exec`. A readiness probe (connect until it succeeds) could then connect
//! to that stray copy before the server has even bound the port, and the
//! test's next connection is refused or reset (seen in `broker_access`: the
//! probe succeeded 31 ms before the broker's `bind`). Here the port is found
//! by a socket that is bound but never listens, so nothing can connect to
//! it, and it sets `SO_REUSEADDR` and `SO_REUSEPORT`, so the server's own
//! bind succeeds even while a stray copy lingers in a forked child.

use std::net::{Ipv4Addr, SocketAddr};

use socket2::{Domain, Socket, Type};

/// A loopback port that no socket was listening on when this returned.
pub(crate) fn free_port() -> u16 {
    // Invariant: a TCP socket can be created and bound to port 0 on loopback
    // on any machine the tests run on.
    let s = Socket::new(Domain::IPV4, Type::STREAM, None).expect("a TCP socket");
    s.set_reuse_address(true).expect("SO_REUSEADDR");
    s.set_reuse_port(true).expect("SO_REUSEPORT");
    s.bind(&SocketAddr::from((Ipv4Addr::LOCALHOST, 0)).into())
        .expect("binding port 0 on loopback");
    s.local_addr()
        .ok()
        .and_then(|a| a.as_socket())
        .expect("an inet address")
        .port()
}
