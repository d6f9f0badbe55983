//! ringcast: a Socket.IO v4 server, thread-per-core on io_uring (glommio),
//! built for massive fan-out.
//!
//! # Layout
//! The layers, from bytes upward (each depends only on the ones above it):
//! - `ringcast_proto` (crate `crates/proto`): pure codecs — Engine.IO,
//!   Socket.IO, WebSocket frames, HTTP heads. No IO, no clock.
//! - [`shard`]: the single-threaded state of one core — sessions, sockets,
//!   rooms, broadcast delivery, the cross-shard message type.
//! - [`runtime`]: the thin IO shell — executors, listeners, the mesh of
//!   channels between shards, the per-connection tasks (HTTP long-polling,
//!   WebSocket), timers, and each shard's epoll set, where its client
//!   sockets wait (glommio's reactor sleeps on that set).
//! - [`cluster`]: the Redis bridge (one per process, plain threads) speaking
//!   `@socket.io/redis-adapter`'s protocol through `ringcast_cluster_wire`
//!   (crate `crates/cluster-wire`, a pure codec).
//! - [`server`]: the user API — namespaces, middleware, handlers, emit and
//!   broadcast operators, cluster operations.
//! - [`broker`]: the broker binary's application (config file, tokens,
//!   room permissions), built on [`server`].
//! - [`config`]: the one typed configuration, with Node's option names.
//! - `sim` (tests only): a deterministic simulation of N shards and
//!   scripted clients in one thread (see `docs/architecture.md`).
//!
//! See `docs/architecture.md` for how a broadcast and a polling request travel.

pub mod broker;
pub mod cluster;
pub mod config;
pub mod runtime;
pub mod server;
pub mod shard;
#[cfg(test)]
mod sim;

pub use config::{
    AllowFuture, AllowRequest, AllowResult, Config, Cookie, Cors, HandshakeRequest,
    OwnedHandshakeRequest, Parser, SameSite, Transports,
};
pub use shard::recovery::RecoveryConfig;

/// The README's code compiles (`cargo test --doc`).
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
