//! Helpers shared by the golden-vector tests.
#![allow(dead_code)]

use bytes::Bytes;
use ringcast_cluster_wire::{
    BroadcastMessage, BroadcastOpts, Channels, Flags, OptsOrder, Packet, Value, DEFAULT_KEY,
};

pub(crate) fn hex(s: &str) -> Bytes {
    assert!(s.len().is_multiple_of(2));
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect::<Vec<u8>>()
        .into()
}

pub(crate) fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

pub(crate) fn map(entries: &[(&str, Value)]) -> Value {
    Value::map(entries.iter().cloned())
}

pub(crate) fn opts(
    rooms: &[&str],
    except: &[&str],
    flags: &[(&str, Value)],
    order: OptsOrder,
) -> BroadcastOpts {
    BroadcastOpts {
        rooms: strings(rooms),
        except: strings(except),
        flags: Flags(
            flags
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
        ),
        order,
    }
}

pub(crate) fn broadcast(uid: &str, data: Vec<Value>, opts: BroadcastOpts) -> BroadcastMessage {
    BroadcastMessage {
        uid: Some(uid.to_owned()),
        packet: Packet {
            packet_type: 2,
            data,
            nsp: Some("/".to_owned()),
        },
        opts,
    }
}

/// Decodes `bytes` as a broadcast, checks it, re-encodes it exactly.
pub(crate) fn check_broadcast(bytes: &[u8], expected: &BroadcastMessage, channel: &str) {
    let payload = Bytes::copy_from_slice(bytes);
    let msg = BroadcastMessage::decode(&payload).unwrap();
    assert_eq!(&msg, expected);
    assert_eq!(msg.encode().unwrap(), payload);
    assert_eq!(expected.encode().unwrap(), payload);
    let channels = Channels::new(DEFAULT_KEY, "/");
    assert_eq!(channels.for_rooms(&msg.opts.rooms), channel);
}
