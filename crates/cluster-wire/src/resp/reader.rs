//! The buffer between a socket and [`parse`]: bytes in, replies out.

use bytes::{Buf, BytesMut};

use super::frame::{parse, Reply, RespError};

/// Reassembles replies from reads of any size.
///
/// Call order: [`Self::handle_bytes`] with what the socket returned, then
/// [`Self::poll_reply`] until it returns `Ok(None)` (read more) or an error
/// (drop the connection).
#[derive(Debug, Default)]
pub struct ReplyReader {
    buf: BytesMut,
}

impl ReplyReader {
    /// An empty reader.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends bytes read from the connection.
    pub fn handle_bytes(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// The next complete reply, `None` when more bytes are needed.
    pub fn poll_reply(&mut self) -> Result<Option<Reply>, RespError> {
        if self.buf.is_empty() {
            return Ok(None);
        }
        match parse(&self.buf) {
            Ok((reply, used)) => {
                self.buf.advance(used);
                Ok(Some(reply))
            }
            Err(RespError::Incomplete) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Bytes received but not yet returned as a reply.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_split_across_reads() {
        let mut r = ReplyReader::new();
        r.handle_bytes(b"+O");
        assert_eq!(r.poll_reply(), Ok(None));
        r.handle_bytes(b"K\r\n:1\r\n$2\r");
        assert_eq!(r.poll_reply(), Ok(Some(Reply::Status("OK".into()))));
        assert_eq!(r.poll_reply(), Ok(Some(Reply::Int(1))));
        assert_eq!(r.poll_reply(), Ok(None));
        r.handle_bytes(b"\nab\r\n");
        assert_eq!(r.poll_reply(), Ok(Some(Reply::Bulk(Some(b"ab".to_vec())))));
        assert_eq!(r.buffered(), 0);
    }

    #[test]
    fn garbage_is_an_error() {
        let mut r = ReplyReader::new();
        r.handle_bytes(b"hello\r\n");
        assert!(matches!(r.poll_reply(), Err(RespError::Invalid(_))));
    }
}
