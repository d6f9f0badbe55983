//! Encoding commands (arrays of bulk strings, the only form Redis needs).

/// The RESP2 encoding of the command `args` (`*N`, then `$len` + bytes each).
pub fn command<A: AsRef<[u8]>>(args: &[A]) -> Vec<u8> {
    let mut out =
        Vec::with_capacity(16 + args.iter().map(|a| a.as_ref().len() + 16).sum::<usize>());
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for a in args {
        let a = a.as_ref();
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_arrays_of_bulk_strings() {
        assert_eq!(
            command(&["SSUBSCRIBE", "socket.io#/#"]),
            b"*2\r\n$10\r\nSSUBSCRIBE\r\n$12\r\nsocket.io#/#\r\n"
        );
        assert_eq!(command::<&str>(&[]), b"*0\r\n");
        assert_eq!(
            command(&[&b"PUBLISH"[..], b"c", b"\r\n\x00"]),
            b"*3\r\n$7\r\nPUBLISH\r\n$1\r\nc\r\n$3\r\n\r\n\x00\r\n"
        );
    }
}
