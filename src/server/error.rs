//! Errors of the emit API.

use ringcast_proto::socketio::RESERVED_EVENTS;

/// An emit the API refused; nothing was sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmitError {
    /// The event name is one socket.io reserves for its own use (`connect`,
    /// `connect_error`, `disconnect`, `disconnecting`, `newListener`,
    /// `removeListener`): a client receiving it would treat it as a
    /// protocol event (socket.io-client drops the connection with "parse
    /// error"), so socket.io throws and ringcast refuses. The caller
    /// reports the error to whoever asked for the emit.
    #[error("\"{0}\" is a reserved event name")]
    ReservedEvent(String),
}

/// Whether `event` is reserved (see [`EmitError::ReservedEvent`]).
pub fn is_reserved_event(event: &str) -> bool {
    RESERVED_EVENTS.contains(&event)
}

/// `Err` when `event` may not be emitted.
pub(crate) fn check_event(event: &str) -> Result<(), EmitError> {
    if is_reserved_event(event) {
        Err(EmitError::ReservedEvent(event.to_owned()))
    } else {
        Ok(())
    }
}
