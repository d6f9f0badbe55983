//! The simulated node's application, on the shard's [`App`] seam: one
//! namespace `/`, every connection accepted, and three events whose
//! effects the scenarios read back on the wire:
//!
//! - `fan`: broadcasts `["ping"]` with acks to every other socket of `/`
//!   (every shard), then answers the sender's ack with the first argument
//!   of every reply, sorted: `43<id>[[…]]` (on a timeout: `[null,[…]]`);
//! - `say`: broadcasts `["said", …args]` to every other socket;
//! - `echo`: answers the sender alone with `["echo", …args]`.
//!
//! Disconnects are logged with their reason, for the timeout and slow
//! consumer scenarios.

use std::any::Any;
use std::rc::Rc;
use std::sync::Mutex;

use serde_json::Value;

use crate::config::Parser;
use crate::shard::app::{App, Authorization, EngineMessage, Incoming};
use crate::shard::deliver::{AckOrigin, Broadcast, BroadcastAck};
use crate::shard::encode;
use crate::shard::session::{CloseReason, Session};
use crate::shard::{Shard, SocketKey};

/// See the module docs.
#[derive(Debug, Default)]
pub(crate) struct SimApp {
    /// (socket id, reason) of every socket that disconnected, in order.
    pub(crate) disconnects: Mutex<Vec<(String, CloseReason)>>,
}

impl SimApp {
    /// Every reason a socket disconnected with, in order.
    pub(crate) fn disconnect_reasons(&self) -> Vec<CloseReason> {
        let log = self.disconnects.lock().unwrap_or_else(|e| e.into_inner());
        log.iter().map(|(_, r)| *r).collect()
    }
}

impl App for SimApp {
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn namespace_count(&self) -> usize {
        1
    }
    fn namespace_index(&self, name: &str) -> Option<u16> {
        (name == "/").then_some(0)
    }
    fn namespace_name(&self, _idx: u16) -> &str {
        "/"
    }
    fn authorize(&self, _: u16, _: &Rc<Session>, _: &str, _: &Value) -> Authorization {
        Authorization::Ready(Ok(None))
    }
    fn handle_connect(&self, _: &Rc<Shard>, _: SocketKey) {}

    fn handle_event(&self, shard: &Rc<Shard>, key: SocketKey, event: Incoming) {
        let Some(me) = shard.socket(key) else { return };
        let others: Vec<Box<str>> = vec![me.id.as_str().into()];
        match event.event.as_str() {
            "fan" => {
                let Some(answer_id) = event.ack else { return };
                let id = shard.next_ack_id(0);
                let answer_shard = shard.clone();
                let req = shard.start_aggregate(Box::new(move |result| {
                    let (timed_out, replies) = match result {
                        Ok(r) => (false, r),
                        Err((_, r)) => (true, r),
                    };
                    let mut firsts: Vec<Value> = replies
                        .into_iter()
                        .map(|r| r.args.into_iter().next().unwrap_or(Value::Null))
                        .collect();
                    firsts.sort_by_key(Value::to_string);
                    let args = if timed_out {
                        vec![Value::Null, Value::Array(firsts)]
                    } else {
                        vec![Value::Array(firsts)]
                    };
                    let msg = encode::ack(Parser::Json, "/", answer_id, &args, &[]);
                    answer_shard.send_to_socket(key, &msg, false);
                }));
                shard.broadcast(Broadcast {
                    nsp: 0,
                    rooms: Vec::new(),
                    except: others,
                    volatile: false,
                    msg: encode::event(Parser::Json, "/", Some(id), "ping", &[], &[]),
                    ack: Some(BroadcastAck {
                        origin: AckOrigin::Shard {
                            shard: shard.id,
                            req,
                        },
                        id,
                    }),
                    local: false,
                    timeout: None,
                    offset: None,
                });
            }
            "say" => shard.broadcast(Broadcast {
                nsp: 0,
                rooms: Vec::new(),
                except: others,
                volatile: false,
                msg: encode::event(
                    Parser::Json,
                    "/",
                    None,
                    "said",
                    &event.args,
                    &event.attachments,
                ),
                ack: None,
                local: false,
                timeout: None,
                offset: None,
            }),
            "echo" => {
                let msg = encode::event(
                    Parser::Json,
                    "/",
                    None,
                    "echo",
                    &event.args,
                    &event.attachments,
                );
                shard.send_to_socket(key, &msg, false);
            }
            _ => {}
        }
    }

    fn handle_disconnect(&self, shard: &Rc<Shard>, key: SocketKey, reason: CloseReason) {
        let id = shard
            .socket(key)
            .map(|s| s.id.to_string())
            .unwrap_or_default();
        let mut log = self.disconnects.lock().unwrap_or_else(|e| e.into_inner());
        log.push((id, reason));
    }

    fn handle_engine_message(&self, _: &Rc<Shard>, _: &Rc<Session>, _: EngineMessage) {}
}
