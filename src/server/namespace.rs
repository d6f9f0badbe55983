//! Registration of a namespace's middleware and handlers.
//!
//! Every registration point takes a synchronous closure (`on`,
//! `on_connect`, ...) or one returning a future (`on_async`,
//! `on_connect_async`, ...). A synchronous handler runs inline on the
//! shard, as cheap as a function call (no task, no allocation for the
//! dispatch); an async handler is called at once (its body up to the first
//! `.await` runs when the task first polls it) and its future runs as a
//! task on the socket's shard (`glommio::spawn_local`), so a handler may
//! await a timer, a channel or any `!Send` future of that shard.
//!
//! Stored uniformly as closures answering `Option<LocalFuture>`: `None`
//! for synchronous handlers, so dispatch spawns nothing for them.

use std::future::Future;
use std::sync::Arc;

use ahash::AHashMap;
use bytes::Bytes;
use ringcast_proto::socketio::Args;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::cluster::ServerSideEvent;
use super::connect::ConnectRequest;
use super::payload::Payload;
use super::socket::{Event, Socket};
use crate::shard::app::LocalFuture;
use crate::shard::session::CloseReason;
use crate::shard::Refusal;

pub(crate) type Spawned = Option<LocalFuture<()>>;
pub(crate) type EventHandler = dyn Fn(&Socket, Event) -> Spawned + Send + Sync;
pub(crate) type AnyHandler = dyn Fn(&Socket, &Event) -> Spawned + Send + Sync;
pub(crate) type ConnectHandler = dyn Fn(&Socket) -> Spawned + Send + Sync;
pub(crate) type DisconnectHandler = dyn Fn(&Socket, CloseReason) -> Spawned + Send + Sync;
pub(crate) type ServerSideHandler = dyn Fn(ServerSideEvent) -> Spawned + Send + Sync;
pub(crate) type OutgoingHandler = dyn Fn(&Socket, &str, &Payload) + Send + Sync;
pub(crate) type Middleware = dyn Fn(&ConnectRequest) -> Step + Send + Sync;

/// One connect middleware's answer.
pub(crate) enum Step {
    /// Decided now.
    Done(Result<(), Refusal>),
    /// Decided when the future resolves.
    Later(LocalFuture<Result<(), Refusal>>),
}

/// Whether a slow async handler holds back the next events of its socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EventOrder {
    /// Node's behaviour (the default): every event starts its handler on
    /// arrival, in arrival order; handlers of one socket that await
    /// interleave (a slow handler does not hold back the next event).
    #[default]
    Concurrent,
    /// One handler at a time per socket: an event arriving while an async
    /// handler of the same socket (event, catch-all, connect or
    /// disconnect) is still running waits for it, then runs; order of
    /// arrival is kept. A socket that never awaits pays nothing more.
    /// The waiting events are queued without a bound (as the tasks of
    /// [`Self::Concurrent`] are): a client is held to the session's input
    /// limits, not to the speed of its handlers.
    Serial,
}

/// Typed arguments of an event (see [`NamespaceBuilder::on_typed`]).
#[derive(Debug)]
pub struct Data<T> {
    /// The arguments, deserialized: the single argument itself when the
    /// client sent one (or a 1-tuple of it), otherwise the argument list
    /// as a tuple, array or sequence-like struct.
    pub args: T,
    /// Binary attachments in placeholder order; an argument holding binary
    /// deserializes from its placeholder `{"_placeholder":true,"num":N}`,
    /// `N` indexing this list.
    pub attachments: Vec<Bytes>,
}

/// The answer to an event whose typed arguments do not parse, when the
/// client asked for an acknowledgement: `{"error": "invalid payload",
/// "message": <serde's description>}`. Without an ack the event is
/// dropped and counted ([`super::malformed_payloads`]).
pub const INVALID_PAYLOAD: &str = "invalid payload";

/// Handlers of one namespace.
#[derive(Default)]
pub struct NamespaceBuilder {
    pub(crate) name: String,
    pub(crate) middleware: Vec<Arc<Middleware>>,
    pub(crate) on_connect: Vec<Arc<ConnectHandler>>,
    pub(crate) on_disconnect: Vec<Arc<DisconnectHandler>>,
    pub(crate) events: AHashMap<String, Arc<EventHandler>>,
    pub(crate) any: Vec<Arc<AnyHandler>>,
    pub(crate) fallback: Option<Arc<EventHandler>>,
    pub(crate) outgoing: Vec<Arc<OutgoingHandler>>,
    pub(crate) server_side: AHashMap<String, Arc<ServerSideHandler>>,
    pub(crate) order: EventOrder,
}

fn boxed<F: Future<Output = ()> + 'static>(f: F) -> Spawned {
    Some(Box::pin(f))
}

impl NamespaceBuilder {
    /// Adds connect middleware (Node's `nsp.use`); an `Err` refuses the
    /// connection with CONNECT_ERROR. Middleware runs in the order added;
    /// it may attach data to the socket ([`ConnectRequest::set_data`]).
    pub fn use_middleware(
        &mut self,
        f: impl Fn(&ConnectRequest) -> Result<(), Refusal> + Send + Sync + 'static,
    ) -> &mut Self {
        self.middleware.push(Arc::new(move |r| Step::Done(f(r))));
        self
    }

    /// Adds async connect middleware (a token lookup): the socket's CONNECT
    /// reply waits for the future; other sockets, and this session's other
    /// namespaces, do not. When the session closes meanwhile, the verdict
    /// is discarded (no socket, no connect handler).
    pub fn use_middleware_async<F>(
        &mut self,
        f: impl Fn(ConnectRequest) -> F + Send + Sync + 'static,
    ) -> &mut Self
    where
        F: Future<Output = Result<(), Refusal>> + 'static,
    {
        self.middleware
            .push(Arc::new(move |r| Step::Later(Box::pin(f(r.clone())))));
        self
    }

    /// Runs on every new connection (Node's `nsp.on("connection")`).
    pub fn on_connect(&mut self, f: impl Fn(&Socket) + Send + Sync + 'static) -> &mut Self {
        self.on_connect.push(Arc::new(move |s| {
            f(s);
            None
        }));
        self
    }

    /// [`Self::on_connect`] with an async handler.
    pub fn on_connect_async<F: Future<Output = ()> + 'static>(
        &mut self,
        f: impl Fn(Socket) -> F + Send + Sync + 'static,
    ) -> &mut Self {
        self.on_connect.push(Arc::new(move |s| boxed(f(s.clone()))));
        self
    }

    /// Runs when a socket disconnects, with Node's reason.
    pub fn on_disconnect(
        &mut self,
        f: impl Fn(&Socket, CloseReason) + Send + Sync + 'static,
    ) -> &mut Self {
        self.on_disconnect.push(Arc::new(move |s, r| {
            f(s, r);
            None
        }));
        self
    }

    /// [`Self::on_disconnect`] with an async handler (the socket is no
    /// longer connected, its data still readable).
    pub fn on_disconnect_async<F: Future<Output = ()> + 'static>(
        &mut self,
        f: impl Fn(Socket, CloseReason) -> F + Send + Sync + 'static,
    ) -> &mut Self {
        self.on_disconnect
            .push(Arc::new(move |s, r| boxed(f(s.clone(), r))));
        self
    }

    /// Handles `event` for every socket of the namespace.
    pub fn on(
        &mut self,
        event: &str,
        f: impl Fn(&Socket, Event) + Send + Sync + 'static,
    ) -> &mut Self {
        self.events.insert(
            event.to_owned(),
            Arc::new(move |s, e| {
                f(s, e);
                None
            }),
        );
        self
    }

    /// Handles `event` with an async handler (it may answer the ack after
    /// awaiting: `ev.take_ack()` before the first `.await`, or at any time).
    pub fn on_async<F: Future<Output = ()> + 'static>(
        &mut self,
        event: &str,
        f: impl Fn(Socket, Event) -> F + Send + Sync + 'static,
    ) -> &mut Self {
        self.events.insert(
            event.to_owned(),
            Arc::new(move |s, e| boxed(f(s.clone(), e))),
        );
        self
    }

    /// Handles `event` with typed arguments and a typed acknowledgement:
    /// the arguments deserialize as `T` (see [`Data`]); the handler's
    /// result is sent as the ack's single argument when the client asked
    /// for one (and dropped otherwise).
    ///
    /// Arguments that do not deserialize never reach the handler: the
    /// client's ack, if it asked for one, gets `{"error": "invalid
    /// payload", "message": ...}` ([`INVALID_PAYLOAD`]); otherwise the
    /// event is dropped and counted ([`super::malformed_payloads`]).
    pub fn on_typed<T, R, F>(
        &mut self,
        event: &str,
        f: impl Fn(Socket, Data<T>) -> F + Send + Sync + 'static,
    ) -> &mut Self
    where
        T: DeserializeOwned,
        R: Serialize,
        F: Future<Output = R> + 'static,
    {
        self.events.insert(
            event.to_owned(),
            Arc::new(move |s, mut e| {
                let ack = e.take_ack();
                let args = match parse_args::<T>(&e.payload.args) {
                    Ok(args) => args,
                    Err(err) => {
                        super::count_malformed();
                        tracing::debug!(event = %e.name, %err, "typed handler: invalid payload");
                        if let Some(ack) = ack {
                            ack.send(serde_json::json!({
                                "error": INVALID_PAYLOAD,
                                "message": err.to_string(),
                            }));
                        }
                        return None;
                    }
                };
                let data = Data {
                    args,
                    attachments: std::mem::take(&mut e.payload.attachments),
                };
                let fut = f(s.clone(), data);
                boxed(async move {
                    let r = fut.await;
                    if let Some(ack) = ack {
                        ack.send(Payload::new().arg(r));
                    }
                })
            }),
        );
        self
    }

    /// Sees every incoming event, also those with a handler, before that
    /// handler runs (Node's `socket.onAny`). Listeners run in the order
    /// added; the event's ack stays for the handler.
    pub fn on_any(&mut self, f: impl Fn(&Socket, &Event) + Send + Sync + 'static) -> &mut Self {
        self.any.push(Arc::new(move |s, e| {
            f(s, e);
            None
        }));
        self
    }

    /// [`Self::on_any`] with an async listener, given the event's name and
    /// a copy of its arguments (a copy only for sockets of namespaces that
    /// register one).
    pub fn on_any_async<F: Future<Output = ()> + 'static>(
        &mut self,
        f: impl Fn(Socket, String, Payload) -> F + Send + Sync + 'static,
    ) -> &mut Self {
        self.any.push(Arc::new(move |s, e| {
            boxed(f(s.clone(), e.name.clone(), e.payload.clone()))
        }));
        self
    }

    /// Handles events that have no specific handler (what `on_any` was
    /// before ringcast followed socket.io's `onAny`).
    pub fn on_fallback(&mut self, f: impl Fn(&Socket, Event) + Send + Sync + 'static) -> &mut Self {
        self.fallback = Some(Arc::new(move |s, e| {
            f(s, e);
            None
        }));
        self
    }

    /// [`Self::on_fallback`] with an async handler.
    pub fn on_fallback_async<F: Future<Output = ()> + 'static>(
        &mut self,
        f: impl Fn(Socket, Event) -> F + Send + Sync + 'static,
    ) -> &mut Self {
        self.fallback = Some(Arc::new(move |s, e| boxed(f(s.clone(), e))));
        self
    }

    /// Sees every event the server emits to one socket of the namespace
    /// (Node's `socket.onAnyOutgoing`): `socket.emit` and
    /// `socket.emit_with_ack` (and their future forms), before the packet
    /// is queued. Broadcasts are not reported: they are encoded once for
    /// all receivers and a per-receiver hook would cost the fan-out.
    pub fn on_any_outgoing(
        &mut self,
        f: impl Fn(&Socket, &str, &Payload) + Send + Sync + 'static,
    ) -> &mut Self {
        self.outgoing.push(Arc::new(f));
        self
    }

    /// Handles `event` sent by another node of the cluster with
    /// `serverSideEmit` (Node's `io.on(event)` for server-side events).
    /// Runs on one shard of this node.
    pub fn on_server_side(
        &mut self,
        event: &str,
        f: impl Fn(ServerSideEvent) + Send + Sync + 'static,
    ) -> &mut Self {
        self.server_side.insert(
            event.to_owned(),
            Arc::new(move |e| {
                f(e);
                None
            }),
        );
        self
    }

    /// [`Self::on_server_side`] with an async handler (it may ack after
    /// awaiting).
    pub fn on_server_side_async<F: Future<Output = ()> + 'static>(
        &mut self,
        event: &str,
        f: impl Fn(ServerSideEvent) -> F + Send + Sync + 'static,
    ) -> &mut Self {
        self.server_side
            .insert(event.to_owned(), Arc::new(move |e| boxed(f(e))));
        self
    }

    /// Whether a slow async handler holds back its socket's next events
    /// ([`EventOrder::Concurrent`], Node's behaviour, by default).
    pub fn event_order(&mut self, order: EventOrder) -> &mut Self {
        self.order = order;
        self
    }
}

/// `T` from the argument list: the single argument itself, else (or when
/// that fails) the list as a sequence.
fn parse_args<T: DeserializeOwned>(args: &Args) -> Result<T, serde_json::Error> {
    if args.len() == 1 {
        // Keep serde's message for the single argument when the sequence
        // form fails too (it is the one the author most likely meant).
        let single = match args.text_at(0) {
            Some(text) => serde_json::from_str(text),
            None => T::deserialize(&args[0]),
        };
        return single.or_else(|err| args.parse().map_err(|_| err));
    }
    // Received text is deserialized as it is, without building values.
    args.parse()
}

#[cfg(test)]
mod tests {
    use super::parse_args;
    use ringcast_proto::socketio::{Args, Limits, Packet};
    use serde_json::json;

    fn values(v: Vec<serde_json::Value>) -> Args {
        Args::from(v)
    }

    /// The arguments of `2["ev",<list>]` as received (kept as text).
    fn text(list: &str) -> Args {
        let packet = format!("2[\"ev\",{list}]");
        let args = Packet::decode_event(&packet, &Limits::default())
            .unwrap()
            .args;
        assert!(args.is_raw());
        args
    }

    #[test]
    fn single_argument_or_tuple() {
        for (one, two, bad) in [
            (
                values(vec![json!("hi")]),
                values(vec![json!(1), json!("a")]),
                values(vec![json!("x")]),
            ),
            (text(r#""hi""#), text(r#"1,"a""#), text(r#""x""#)),
        ] {
            let s: String = parse_args(&one).unwrap();
            assert_eq!(s, "hi");
            let t: (String,) = parse_args(&one).unwrap();
            assert_eq!(t.0, "hi");
            let p: (i64, String) = parse_args(&two).unwrap();
            assert_eq!(p, (1, "a".to_owned()));
            let err = parse_args::<(i64, i64)>(&bad).unwrap_err();
            assert!(err.to_string().contains("invalid type"), "{err}");
        }
        assert!(parse_args::<u8>(&values(vec![])).is_err());
    }
}
