//! Where a request goes: one pure function of the request head, the
//! configuration and the session it names (if this shard owns one), so
//! every routing rule is unit-tested without a socket.
//!
//! The order of the checks is Node's engine.io: unknown path (404), then
//! the owner shard of a named session (the connection moves there before
//! anything is consumed), CORS preflight, the transport, then either the
//! session's request (long-poll GET, POST, websocket upgrade) or a
//! handshake.

use ringcast_proto::engineio::{EngineError, Protocol};
use ringcast_proto::http::{Method, RequestHead};
use ringcast_proto::sid;

use std::rc::Rc;

use crate::config::Config;
use crate::shard::session::{Session, SessionKind, Transport};
use crate::shard::Shard;

/// What the connection does with a request. `S` is the session handle the
/// lookup returned.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Route<S> {
    /// No endpoint at this path: `404 Not Found`.
    NotFound,
    /// The named session belongs to shard `.0`: move the connection there
    /// with the request unconsumed.
    Handoff(usize),
    /// `OPTIONS`: the CORS preflight answer.
    Preflight,
    /// Refused: the one engine error answer (`runtime::response`).
    Error(EngineError),
    /// A new session on `transport` (polling GET, or websocket upgrade).
    Open {
        /// Socket.IO or a raw Engine.IO endpoint.
        kind: SessionKind,
        /// The first transport.
        transport: Transport,
        /// The client's Engine.IO revision (v3 only on the Socket.IO path
        /// with `Config::allow_eio3`).
        protocol: Protocol,
    },
    /// The long-poll GET of a polling session.
    Get(S),
    /// The POST of a polling session.
    Post(S),
    /// A websocket upgrade of a polling session.
    Upgrade(S),
}

/// The endpoint a path maps to.
pub(crate) fn endpoint(config: &Config, path: &str) -> Option<SessionKind> {
    let same = |p: &str| path == p || path.strip_suffix('/') == p.strip_suffix('/');
    if same(&config.path) {
        return Some(SessionKind::SocketIo);
    }
    config
        .engine_paths
        .iter()
        .position(|p| same(p))
        .map(|i| SessionKind::Engine(i as u16))
}

/// Routes a request on shard `here` of `nshards`. `lookup` finds a session
/// this shard owns, with its current transport.
pub(crate) fn route<S>(
    head: &RequestHead,
    config: &Config,
    here: usize,
    nshards: usize,
    lookup: impl FnOnce(&str) -> Option<(S, Transport)>,
) -> Route<S> {
    let Some(kind) = endpoint(config, &head.path) else {
        return Route::NotFound;
    };
    if let Some(id) = head.query.sid.as_deref() {
        if nshards > 1 && sid::is_well_formed(id) {
            let owner = sid::shard_for(id, nshards);
            if owner != here {
                return Route::Handoff(owner);
            }
        }
    }
    if head.method == Method::Options {
        return Route::Preflight;
    }
    let transport = match head.query.transport.as_deref() {
        Some("polling") if config.transports.polling => Transport::Polling,
        Some("websocket") if config.transports.websocket => Transport::WebSocket,
        _ => return Route::Error(EngineError::UnknownTransport),
    };
    if head.upgrade_websocket && transport != Transport::WebSocket {
        return Route::Error(EngineError::BadRequest);
    }
    if let Some(id) = head.query.sid.as_deref() {
        let Some((session, current)) = lookup(id) else {
            return Route::Error(EngineError::UnknownSid);
        };
        if head.upgrade_websocket {
            return Route::Upgrade(session);
        }
        if current != transport || transport != Transport::Polling {
            return Route::Error(EngineError::BadRequest);
        }
        return match head.method {
            Method::Get => Route::Get(session),
            Method::Post => Route::Post(session),
            _ => Route::Error(EngineError::BadRequest),
        };
    }
    if head.method != Method::Get {
        return Route::Error(EngineError::BadHandshakeMethod);
    }
    let protocol = match head.query.eio.as_deref() {
        Some("4") => Protocol::V4,
        Some("3") if config.allow_eio3 && kind == SessionKind::SocketIo => Protocol::V3 {
            binary: !head.query.b64,
        },
        _ => return Route::Error(EngineError::UnsupportedProtocolVersion),
    };
    if transport == Transport::WebSocket && !head.upgrade_websocket {
        return Route::Error(EngineError::BadRequest);
    }
    Route::Open {
        kind,
        transport,
        protocol,
    }
}

/// [`route`] on `shard`, looking the named session up in its table (what
/// the connection task and the simulation tests both call).
pub(crate) fn route_on(shard: &Shard, head: &RequestHead) -> Route<Rc<Session>> {
    route(head, &shard.config, shard.id, shard.nshards, |id| {
        let session = shard.session(id)?;
        let transport = session.st.borrow().eio.transport();
        Some((session, transport))
    })
}

#[cfg(test)]
mod tests {
    use ringcast_proto::http::{parse_request, Limits};

    use super::*;

    /// A session id that `shard_for` maps to shard `want` of `n`.
    fn sid_on(want: usize, n: usize) -> String {
        (0..)
            .map(|i| format!("AAAAAAAAAAAAAAAAA{i:03}"))
            .find(|s| sid::is_well_formed(s) && sid::shard_for(s, n) == want)
            .expect("some id maps to every shard")
    }

    fn head(wire: &str) -> RequestHead {
        match parse_request(wire.as_bytes(), &Limits::default()) {
            Ok(Some((h, _))) => h,
            other => panic!("test request does not parse: {other:?}"),
        }
    }

    fn get(target: &str) -> RequestHead {
        head(&format!("GET {target} HTTP/1.1\r\nHost: x\r\n\r\n"))
    }

    fn ws(target: &str) -> RequestHead {
        head(&format!(
            "GET {target} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ))
    }

    fn config() -> Config {
        Config {
            engine_paths: vec!["/engine.io/".into()],
            ..Config::default()
        }
    }

    /// Routes on shard 0 of 1 with a session `known` on `t`.
    fn one(h: &RequestHead, t: Transport) -> Route<&'static str> {
        route(h, &config(), 0, 1, |id| {
            (id == "known").then_some(("known", t))
        })
    }

    #[test]
    fn handshakes() {
        let c = config();
        assert_eq!(
            one(
                &get("/socket.io/?EIO=4&transport=polling"),
                Transport::Polling
            ),
            Route::Open {
                kind: SessionKind::SocketIo,
                transport: Transport::Polling,
                protocol: Protocol::V4,
            }
        );
        assert_eq!(
            one(
                &ws("/socket.io/?EIO=4&transport=websocket"),
                Transport::Polling
            ),
            Route::Open {
                kind: SessionKind::SocketIo,
                transport: Transport::WebSocket,
                protocol: Protocol::V4,
            }
        );
        assert_eq!(
            one(
                &get("/engine.io/?EIO=4&transport=polling"),
                Transport::Polling
            ),
            Route::Open {
                kind: SessionKind::Engine(0),
                transport: Transport::Polling,
                protocol: Protocol::V4,
            }
        );
        assert_eq!(endpoint(&c, "/engine.io/"), Some(SessionKind::Engine(0)));
        assert_eq!(endpoint(&c, "/engine.io"), None, "paths match exactly");
        assert_eq!(endpoint(&c, "/other/"), None);
    }

    #[test]
    fn eio3_only_when_allowed_and_only_for_socketio() {
        let c = Config {
            allow_eio3: true,
            ..config()
        };
        let open = |h: &RequestHead| route(h, &c, 0, 1, |_| None::<((), Transport)>);
        assert_eq!(
            open(&get("/socket.io/?EIO=3&transport=polling")),
            Route::Open {
                kind: SessionKind::SocketIo,
                transport: Transport::Polling,
                protocol: Protocol::V3 { binary: true },
            }
        );
        assert_eq!(
            open(&get("/socket.io/?EIO=3&transport=polling&b64=1")),
            Route::Open {
                kind: SessionKind::SocketIo,
                transport: Transport::Polling,
                protocol: Protocol::V3 { binary: false },
            }
        );
        assert_eq!(
            open(&ws("/socket.io/?EIO=3&transport=websocket")),
            Route::Open {
                kind: SessionKind::SocketIo,
                transport: Transport::WebSocket,
                protocol: Protocol::V3 { binary: true },
            }
        );
        assert_eq!(
            open(&get("/engine.io/?EIO=3&transport=polling")),
            Route::Error(EngineError::UnsupportedProtocolVersion)
        );
        assert_eq!(
            open(&get("/socket.io/?EIO=2&transport=polling")),
            Route::Error(EngineError::UnsupportedProtocolVersion)
        );
    }

    #[test]
    fn refusals_in_node_order() {
        let p = Transport::Polling;
        assert_eq!(
            one(&get("/nope/?EIO=4&transport=polling"), p),
            Route::NotFound
        );
        assert_eq!(
            one(&get("/socket.io/?EIO=4&transport=carrier-pigeon"), p),
            Route::Error(EngineError::UnknownTransport)
        );
        assert_eq!(
            one(&get("/socket.io/?EIO=3&transport=polling"), p),
            Route::Error(EngineError::UnsupportedProtocolVersion)
        );
        assert_eq!(
            one(
                &head("POST /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"),
                p
            ),
            Route::Error(EngineError::BadHandshakeMethod)
        );
        assert_eq!(
            one(&get("/socket.io/?EIO=4&transport=websocket"), p),
            Route::Error(EngineError::BadRequest),
            "websocket transport without an upgrade"
        );
        assert_eq!(
            one(&ws("/socket.io/?EIO=4&transport=polling"), p),
            Route::Error(EngineError::BadRequest),
            "an upgrade on the polling transport"
        );
        assert_eq!(
            one(&get("/socket.io/?EIO=4&transport=polling&sid=unknown"), p),
            Route::Error(EngineError::UnknownSid)
        );
        let no_polling = Config {
            transports: crate::config::Transports {
                polling: false,
                websocket: true,
            },
            ..config()
        };
        assert_eq!(
            route(
                &get("/socket.io/?EIO=4&transport=polling"),
                &no_polling,
                0,
                1,
                |_| None::<((), Transport)>
            ),
            Route::Error(EngineError::UnknownTransport)
        );
    }

    #[test]
    fn session_requests() {
        let p = Transport::Polling;
        let target = "/socket.io/?EIO=4&transport=polling&sid=known";
        assert_eq!(one(&get(target), p), Route::Get("known"));
        let post = head(&format!(
            "POST {target} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n"
        ));
        assert_eq!(one(&post, p), Route::Post("known"));
        assert_eq!(
            one(&ws("/socket.io/?EIO=4&transport=websocket&sid=known"), p),
            Route::Upgrade("known")
        );
        // Polling requests on a session that upgraded are refused.
        assert_eq!(
            one(&get(target), Transport::WebSocket),
            Route::Error(EngineError::BadRequest)
        );
        let put = head(&format!("PUT {target} HTTP/1.1\r\nHost: x\r\n\r\n"));
        assert_eq!(one(&put, p), Route::Error(EngineError::BadRequest));
        let options = head(&format!("OPTIONS {target} HTTP/1.1\r\nHost: x\r\n\r\n"));
        assert_eq!(one(&options, p), Route::Preflight);
    }

    #[test]
    fn sessions_of_other_shards_move_the_connection() {
        let c = config();
        let there = sid_on(2, 3);
        let h = get(&format!("/socket.io/?EIO=4&transport=polling&sid={there}"));
        assert_eq!(
            route(&h, &c, 0, 3, |_| None::<((), Transport)>),
            Route::Handoff(2)
        );
        // Even before the transport or the method is looked at.
        let h = head(&format!(
            "OPTIONS /socket.io/?transport=bogus&sid={there} HTTP/1.1\r\nHost: x\r\n\r\n"
        ));
        assert_eq!(
            route(&h, &c, 1, 3, |_| None::<((), Transport)>),
            Route::Handoff(2)
        );
        // The owner serves it; one shard never hands off.
        let h = get(&format!("/socket.io/?EIO=4&transport=polling&sid={there}"));
        assert_eq!(
            route(&h, &c, 2, 3, |_| None::<((), Transport)>),
            Route::Error(EngineError::UnknownSid)
        );
        assert_eq!(
            route(&h, &c, 0, 1, |_| None::<((), Transport)>),
            Route::Error(EngineError::UnknownSid)
        );
    }
}
