//! `resp::check` / `resp::parse` / `ReplyReader`: bytes from a Redis
//! connection (or anything pretending to be one).
//!
//! Checks: never panics; `parse` consumes exactly what `check` measured;
//! feeding the same bytes one at a time to a `ReplyReader` yields the same
//! replies as feeding them at once (split reads change nothing).
#![no_main]

use libfuzzer_sys::fuzz_target;
use ringcast_cluster_wire::resp::{check, parse, ReplyReader};

fuzz_target!(|data: &[u8]| {
    if let Ok((_, used)) = parse(data) {
        assert_eq!(check(data), Ok(used));
    }
    let drain = |r: &mut ReplyReader, out: &mut Vec<_>| -> bool {
        loop {
            match r.poll_reply() {
                Ok(Some(reply)) => out.push(reply),
                Ok(None) => return true,
                Err(_) => return false,
            }
        }
    };
    let (mut whole, mut at_once) = (ReplyReader::new(), Vec::new());
    whole.handle_bytes(data);
    let whole_ok = drain(&mut whole, &mut at_once);
    let (mut split, mut bytewise) = (ReplyReader::new(), Vec::new());
    let mut split_ok = true;
    for b in data {
        split.handle_bytes(std::slice::from_ref(b));
        if !drain(&mut split, &mut bytewise) {
            split_ok = false;
            break;
        }
    }
    assert_eq!(whole_ok, split_ok);
    assert_eq!(at_once, bytewise);
});
