use super::*;

fn n(bits: u8, ctx: bool) -> Negotiated {
    Negotiated {
        server_max_window_bits: bits,
        client_context_takeover: ctx,
    }
}

#[test]
fn rfc7692_hello_vectors_inflate() {
    // §7.2.3.1: "Hello" compressed (frame c1 07 f2 48 cd c9 c9 07 00).
    let mut i = Inflater::new(&n(15, false));
    assert_eq!(
        i.inflate(&[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00], 100)
            .unwrap(),
        b"Hello"
    );
    // §7.2.3.3: a stored (uncompressed) block.
    assert_eq!(
        i.inflate(
            &[0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00],
            100
        )
        .unwrap(),
        b"Hello"
    );
    // §7.2.3.2: the second "Hello" sharing the first's window (context takeover).
    let mut i = Inflater::new(&n(15, true));
    assert_eq!(
        i.inflate(&[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00], 100)
            .unwrap(),
        b"Hello"
    );
    assert_eq!(
        i.inflate(&[0xf2, 0x00, 0x11, 0x00, 0x00], 100).unwrap(),
        b"Hello"
    );
}

#[test]
fn compress_matches_the_rfc_hello_and_round_trips() {
    // "Hello" does not shrink: sent as is.
    assert_eq!(compress(b"Hello", 6), None);
    let big: Vec<u8> = (0..5000u32)
        .flat_map(|i| format!("{i},").into_bytes())
        .collect();
    let c = compress(&big, 6).unwrap();
    assert!(c.len() < big.len());
    assert!(!c.ends_with(&TAIL));
    let mut i = Inflater::new(&n(15, false));
    assert_eq!(i.inflate(&c, big.len()).unwrap(), big);
    // The same input gives the same bytes (shared by every receiver).
    assert_eq!(compress(&big, 6).unwrap(), c);
    // 1 MiB of zeros, inflated exactly at the limit and refused one byte under.
    let zeros = vec![0u8; 1 << 20];
    let c = compress(&zeros, 6).unwrap();
    assert_eq!(i.inflate(&c, 1 << 20).unwrap().len(), 1 << 20);
    assert_eq!(i.inflate(&c, (1 << 20) - 1), Err(WsError::TooLarge));
}

#[test]
fn inflate_bombs_and_garbage_are_refused() {
    // ~1 GiB of zeros would come out of ~1 MiB: refused at the limit.
    let zeros = vec![0u8; 64 << 20];
    let c = compress(&zeros, 9).unwrap();
    let mut i = Inflater::new(&n(15, false));
    assert_eq!(i.inflate(&c, 1_000_000), Err(WsError::TooLarge));
    assert!(matches!(
        i.inflate(&[0xff, 0xff, 0xff, 0xff, 0x12], 1000),
        Err(WsError::Protocol(_))
    ));
    for bytes in [&[][..], &[0x00], &[0x03, 0x00], &[0xf2, 0x48]] {
        // Never a panic; an empty block list inflates to nothing.
        let _ = i.inflate(bytes, 1000);
    }
}

#[test]
fn negotiation() {
    assert_eq!(
        negotiate("permessage-deflate; client_max_window_bits", false),
        Some(n(15, false))
    );
    assert_eq!(
        negotiate("permessage-deflate; client_max_window_bits", true),
        Some(n(15, true))
    );
    assert_eq!(
        negotiate("permessage-deflate; client_no_context_takeover", true),
        Some(n(15, false))
    );
    // An unacceptable first offer falls back to the next one.
    assert_eq!(
        negotiate(
            "permessage-deflate; server_max_window_bits=20, permessage-deflate; server_max_window_bits=10",
            false
        ),
        Some(n(10, false))
    );
    assert_eq!(negotiate("x-webkit-deflate-frame", false), None);
    assert_eq!(negotiate("permessage-deflate; foo", false), None);
    assert_eq!(
        negotiate(
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            false
        ),
        None
    );
    assert_eq!(
        negotiate("permessage-deflate; server_max_window_bits", false),
        None
    );
    assert_eq!(
        n(15, false).response(),
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
    );
    assert_eq!(
        n(9, true).response(),
        "permessage-deflate; server_no_context_takeover; server_max_window_bits=9"
    );
    assert!(n(9, false).may_compress(512));
    assert!(!n(9, false).may_compress(513));
    assert!(n(15, false).may_compress(1 << 30));
}

/// A masked client frame (mask 0) with RSV1 as given.
fn client_frame(first: u8, payload: &[u8]) -> bytes::BytesMut {
    let mut b = bytes::BytesMut::new();
    b.extend_from_slice(&[first]);
    match payload.len() {
        l @ 0..=125 => b.extend_from_slice(&[0x80 | l as u8]),
        l @ 126..=0xffff => {
            b.extend_from_slice(&[0x80 | 126]);
            b.extend_from_slice(&(l as u16).to_be_bytes());
        }
        l => {
            b.extend_from_slice(&[0x80 | 127]);
            b.extend_from_slice(&(l as u64).to_be_bytes());
        }
    }
    b.extend_from_slice(&[0, 0, 0, 0]);
    b.extend_from_slice(payload);
    b
}

#[test]
fn decoder_inflates_rsv1_messages_and_refuses_bombs() {
    use super::super::{FrameDecoder, Message};
    let neg = n(15, false);
    let hello = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
    let mut d = FrameDecoder::new(1000).with_deflate(Some(&neg));
    let mut buf = client_frame(0xc1, &hello);
    assert_eq!(
        d.decode(&mut buf).unwrap(),
        Some(Message::Text(crate::Utf8Bytes::from_static("Hello")))
    );
    // Fragmented: RSV1 on the first frame only.
    let mut buf = client_frame(0x41, &hello[..3]);
    buf.extend_from_slice(&client_frame(0x80, &hello[3..]));
    assert_eq!(
        d.decode(&mut buf).unwrap(),
        Some(Message::Text(crate::Utf8Bytes::from_static("Hello")))
    );
    // RSV1 on a continuation or a control frame, or without the extension.
    let mut buf = client_frame(0x41, &hello[..3]);
    buf.extend_from_slice(&client_frame(0xc0, &hello[3..]));
    assert!(matches!(d.decode(&mut buf), Err(WsError::Protocol(_))));
    let mut d = FrameDecoder::new(1000).with_deflate(Some(&neg));
    assert!(matches!(
        d.decode(&mut client_frame(0xc9, b"")),
        Err(WsError::Protocol(_))
    ));
    let mut plain = FrameDecoder::new(1000);
    assert!(matches!(
        plain.decode(&mut client_frame(0xc1, &hello)),
        Err(WsError::Protocol(_))
    ));
    // A bomb: 10 MB of zeros in a ~10 KB frame, limit 1 MB -> 1009.
    let bomb = compress(&vec![0u8; 10_000_000], 9).unwrap();
    let mut d = FrameDecoder::new(1_000_000).with_deflate(Some(&neg));
    let err = d.decode(&mut client_frame(0xc2, &bomb)).unwrap_err();
    assert_eq!(err.close_code(), 1009);
    // Inflated text that is not UTF-8.
    let bad = compress(&[0xff; 2000], 6).unwrap();
    let mut d = FrameDecoder::new(1_000_000).with_deflate(Some(&neg));
    assert_eq!(
        d.decode(&mut client_frame(0xc1, &bad)).unwrap_err(),
        WsError::InvalidUtf8
    );
}
