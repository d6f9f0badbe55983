//! The handshake side of `max_connections_per_ip` (spec broker.md §8): a
//! new session from an address already at its cap is refused with HTTP 429,
//! on polling and before a websocket upgrade (no 101 is sent).
//!
//! The count itself lives in `shard::quota` (one table per server, summed
//! over its shards). The check here and the count taken when the session is
//! registered (`Shard::insert_session`) run in the same turn of the shard,
//! with no `.await` between them, so one shard never admits two sessions on
//! one free slot; shards racing on the last slot can overshoot the cap by
//! at most `shards - 1` (see docs/decisions.md). That is why the handshake
//! checks after the `allow_request` hook, which may await: checked before
//! it, every handshake waiting in the hook would pass on the same slot.

use ringcast_proto::http::RequestHead;

use super::conn::Next;
use super::io::Conn;
use super::response::{cors_headers, send_response};
use crate::shard::quota::Quota;
use crate::shard::Shard;

/// `Some(next)` when the handshake on `conn` is refused (the 429 is sent).
pub(crate) async fn refuse_over_cap(
    shard: &Shard,
    conn: &mut Conn,
    head: &RequestHead,
) -> Option<Next> {
    if shard.config.max_connections_per_ip == 0 {
        return None;
    }
    let ip = conn.peer_addr()?.ip();
    if shard.quota.admits_address(ip) {
        return None;
    }
    shard.quota.refuse(
        Quota::ConnectionsPerIp,
        shard.id,
        &format!("{ip} at max_connections_per_ip"),
    );
    let mut headers = vec![("Content-Type", "text/plain")];
    if !head.upgrade_websocket {
        headers.extend(cors_headers(shard, head).iter().copied());
    }
    let keep_alive = !head.upgrade_websocket
        && head.keep_alive
        && !head.chunked
        && head.content_length.unwrap_or(0) == 0;
    Some(send_response(conn, 429, &headers, b"Too Many Requests", keep_alive).await)
}
