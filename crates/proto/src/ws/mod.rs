//! WebSocket (RFC 6455) framing — in progress.
