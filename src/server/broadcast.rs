//! Broadcast operators: `to`/`in`, `except`, `volatile`, `local`, acks.

use std::future::Future;
use std::rc::Rc;
use std::time::Duration;

use super::ack;
use super::error::{check_event, EmitError};
use super::payload::Payload;
use crate::shard::deliver::{AckOrigin, AckReply, Broadcast, BroadcastAck};
use crate::shard::socket::AckError;
use crate::shard::Shard;

/// A broadcast being built (Node's `BroadcastOperator`).
#[derive(Debug, Clone)]
pub struct BroadcastOperator {
    pub(super) shard: Rc<Shard>,
    pub(super) nsp: u16,
    pub(super) rooms: Vec<Box<str>>,
    pub(super) except: Vec<Box<str>>,
    pub(super) volatile: bool,
    pub(super) local: bool,
}

impl BroadcastOperator {
    pub(crate) fn new(shard: &Rc<Shard>, nsp: u16) -> Self {
        Self {
            shard: shard.clone(),
            nsp,
            rooms: Vec::new(),
            except: Vec::new(),
            volatile: false,
            local: false,
        }
    }

    /// Adds a target room (several rooms: union, each socket once).
    pub fn to(mut self, room: &str) -> Self {
        if !self.rooms.iter().any(|r| &**r == room) {
            self.rooms.push(room.into());
        }
        self
    }

    /// Same as [`Self::to`] (Node's `in`).
    pub fn within(self, room: &str) -> Self {
        self.to(room)
    }

    /// Excludes the members of `room` (or the socket with that id).
    pub fn except(mut self, room: &str) -> Self {
        self.except.push(room.into());
        self
    }

    /// Drops the packet for receivers that cannot take it right now.
    pub fn volatile(mut self) -> Self {
        self.volatile = true;
        self
    }

    /// Only this node (no cluster adapter); every shard of this process
    /// still receives it.
    pub fn local(mut self) -> Self {
        self.local = true;
        self
    }

    /// Emits `event` to every target; a reserved event name is refused
    /// ([`EmitError::ReservedEvent`]) and nothing is delivered.
    pub fn emit(self, event: &str, payload: impl Into<Payload>) -> Result<(), EmitError> {
        check_event(event)?;
        let name = self.shard.app.namespace_name(self.nsp).to_owned();
        let (payload, offset) =
            super::recovery::with_offset(&self.shard, payload.into(), self.volatile);
        let msg = payload.encode_event(self.shard.config.parser, &name, None, event);
        self.shard.broadcast(Broadcast {
            nsp: self.nsp,
            rooms: self.rooms,
            except: self.except,
            volatile: self.volatile,
            msg,
            ack: None,
            local: self.local,
            timeout: None,
            offset,
        });
        Ok(())
    }

    /// Emits `event` asking every receiver for an acknowledgement; `callback`
    /// gets all replies, or after `timeout` a timeout error with the replies
    /// received so far (Node's `timeout(ms).emit(ev, data, cb)`). A reserved
    /// event name is refused and the callback is never called.
    pub fn emit_with_ack(
        self,
        event: &str,
        payload: impl Into<Payload>,
        timeout: Duration,
        callback: impl FnOnce(BroadcastAcks) + 'static,
    ) -> Result<(), EmitError> {
        check_event(event)?;
        let shard = self.shard.clone();
        let id = shard.next_ack_id(self.nsp);
        let req = shard.start_aggregate(Box::new(callback));
        let name = shard.app.namespace_name(self.nsp).to_owned();
        let msg = payload
            .into()
            .encode_event(shard.config.parser, &name, Some(id), event);
        let timer_shard = shard.clone();
        glommio::spawn_local(async move {
            glommio::timer::sleep(timeout).await;
            timer_shard.expire_aggregate(req);
        })
        .detach();
        shard.broadcast(Broadcast {
            nsp: self.nsp,
            rooms: self.rooms,
            except: self.except,
            volatile: self.volatile,
            msg,
            ack: Some(BroadcastAck {
                origin: AckOrigin::Shard {
                    shard: shard.id,
                    req,
                },
                id,
            }),
            local: self.local,
            timeout: Some(timeout),
            offset: None,
        });
        Ok(())
    }

    /// [`Self::emit_with_ack`] as a future (socket.io's
    /// `io.timeout(ms).emitWithAck`): every receiver's reply, or after
    /// `timeout` the error with the replies received so far. A broadcast
    /// always has a timeout (a receiver on another node may vanish without
    /// a word). The packet is sent now; a reserved event name is refused.
    pub fn emit_with_ack_async(
        self,
        event: &str,
        payload: impl Into<Payload>,
        timeout: Duration,
    ) -> Result<impl Future<Output = BroadcastAcks>, EmitError> {
        let (tx, rx) = ack::channel();
        self.emit_with_ack(event, payload, timeout, move |r| tx.send(r))?;
        Ok(async move {
            rx.await
                .unwrap_or_else(|| Err((AckError::Disconnected, Vec::new())))
        })
    }
}

/// Replies of a broadcast with acks: all of them, or the error with those
/// received before it.
pub type BroadcastAcks = Result<Vec<AckReply>, (AckError, Vec<AckReply>)>;
