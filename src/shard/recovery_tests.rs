//! Unit tests of the recovery store.

use super::*;

fn cfg(max_bytes: usize) -> RecoveryConfig {
    RecoveryConfig {
        max_disconnection_duration: Duration::from_secs(10),
        skip_middlewares: true,
        max_bytes,
        node: 7,
    }
}

fn msg(text: &str) -> Arc<Msg> {
    Msg::socketio(text, &[])
}

fn rooms(r: &[&str]) -> Vec<Box<str>> {
    r.iter().map(|s| (*s).into()).collect()
}

fn persisted(now: Instant) -> Persisted {
    Persisted {
        sid: "S".into(),
        nsp: 0,
        rooms: rooms(&["S", "a"]),
        data: None,
        at: now,
    }
}

fn texts(m: &[Arc<Msg>]) -> Vec<String> {
    m.iter()
        .map(|m| String::from_utf8_lossy(&m.frames[0].payload()[1..]).into_owned())
        .collect()
}

#[test]
fn offsets_round_trip_and_reject_garbage() {
    let o = Offset {
        node: 0xdead_beef,
        origin: 3,
        seq: 0xabc,
    };
    assert_eq!(o.encode(), "deadbeef.3.abc");
    assert_eq!(Offset::parse(&o.encode()), Some(o));
    for bad in [
        "",
        ".",
        "1.",
        ".1",
        "x.1",
        "1.1",
        "1.1.1.1",
        "1.11111.1",
        "1.1.zz",
        "123456789.1.1",
    ] {
        assert_eq!(Offset::parse(bad), None, "{bad}");
    }
    assert_eq!(pid_owner(&new_pid(0xabc, 5)), Some((0xabc, 5)));
    for bad in ["nope", "1.2", "1..x", ".2.x", "zz.1.x", "1.123456789.x"] {
        assert_eq!(pid_owner(bad), None, "{bad}");
    }
}

#[test]
fn replays_after_offset_filtered_by_rooms_in_order() {
    let now = Instant::now();
    let mut s = RecoveryStore::new(&cfg(1 << 20));
    let mut offs = Vec::new();
    for (text, r, ex) in [
        ("2[1]", vec![], vec![]),
        ("2[2]", rooms(&["a"]), vec![]),
        ("2[3]", rooms(&["b"]), vec![]),
        ("2[4]", vec![], rooms(&["S"])),
        ("2[5]", rooms(&["S"]), vec![]),
        ("2[6]", vec![], vec![]),
    ] {
        let o = s.next_offset(0);
        s.handle_packet(o, 0, &r, &ex, &msg(text), now);
        offs.push(o);
    }
    s.persist("p".into(), persisted(now));
    let (r, _) = s.take("p", &offs[0].encode(), 0, now).expect("recovers");
    assert_eq!(r.sid.as_ref(), "S");
    assert_eq!(texts(&r.missed), ["2[2]", "2[5]", "2[6]"]);
    assert_eq!((s.sessions(), s.session_bytes()), (0, 0));
    // Taken: a second attempt fails.
    assert_eq!(
        s.take("p", &offs[0].encode(), 0, now).err(),
        Some(Miss::UnknownSession)
    );
}

#[test]
fn unknown_offset_or_expired_session_fails() {
    let now = Instant::now();
    let mut s = RecoveryStore::new(&cfg(1 << 20));
    let o = s.next_offset(0);
    s.handle_packet(o, 0, &[], &[], &msg("2[1]"), now);
    s.persist("p".into(), persisted(now));
    assert_eq!(
        s.take("p", "7.0.99", 0, now).err(),
        Some(Miss::UnknownOffset)
    );
    s.persist("q".into(), persisted(now));
    let later = now + Duration::from_secs(11);
    assert_eq!(
        s.take("q", &o.encode(), 0, later).err(),
        Some(Miss::UnknownSession)
    );
    assert_eq!(s.packets(), 0);
    assert_eq!(s.bytes(), 0);
    assert_eq!((s.sessions(), s.session_bytes()), (0, 0));
}

#[test]
fn byte_bound_evicts_oldest_and_counts() {
    let now = Instant::now();
    let one = ENTRY_OVERHEAD + msg("2[1]").wire_len;
    let mut s = RecoveryStore::new(&cfg(one * 3));
    let mut offs = Vec::new();
    for i in 0..10 {
        let o = s.next_offset(0);
        s.handle_packet(o, 0, &[], &[], &msg(&format!("2[{i}]")), now);
        offs.push(o);
        assert!(s.bytes() <= one * 3);
    }
    assert_eq!(s.packets(), 3);
    assert_eq!(s.bytes(), one * 3);
    s.persist("p".into(), persisted(now));
    // The offset was evicted: clean failure.
    assert_eq!(
        s.take("p", &offs[2].encode(), 0, now).err(),
        Some(Miss::UnknownOffset)
    );
    s.persist("p".into(), persisted(now));
    let (r, _) = s.take("p", &offs[7].encode(), 0, now).expect("kept");
    assert_eq!(texts(&r.missed), ["2[8]", "2[9]"]);
}

#[test]
fn other_shard_adds_what_the_owner_had_not_seen() {
    let now = Instant::now();
    // Shard 1 owns the session; shard 0 attaches the socket.
    let mut owner = RecoveryStore::new(&cfg(1 << 20));
    let mut here = RecoveryStore::new(&cfg(1 << 20));
    let a1 = here.next_offset(0);
    let b1 = owner.next_offset(1);
    // Owner handled b1 then a1; here handled a1, b1, then a2 which the
    // owner had not received yet when it answered.
    owner.handle_packet(b1, 0, &[], &[], &msg("b1"), now);
    owner.handle_packet(a1, 0, &[], &[], &msg("a1"), now);
    here.handle_packet(a1, 0, &[], &[], &msg("a1"), now);
    here.handle_packet(b1, 0, &[], &[], &msg("b1"), now);
    let a2 = here.next_offset(0);
    here.handle_packet(a2, 0, &[], &[], &msg("a2"), now);
    owner.persist("p".into(), persisted(now));
    let (r, _) = owner.take("p", &b1.encode(), 0, now).expect("recovers");
    assert_eq!(texts(&r.missed), ["a1"]);
    let more = here
        .replay_after(&r.watermark, 0, &r.rooms)
        .expect("nothing evicted");
    assert_eq!(texts(&more), ["a2"]);
}

/// Regression: a socket recovered on shard X with a pid owned by shard Y
/// vanishes again; X hands Y its record (the session was kept on X, where
/// the next recovery, asking Y, never looked). Y recovers it: X's tail
/// after the offset, data as JSON, X's watermark for the attaching shard.
#[test]
fn owner_recovers_a_record_from_the_shard_the_socket_lived_on() {
    use super::super::recovery_cluster::{SessionRecord, TAIL_BYTES, TAIL_MAX};
    let now = Instant::now();
    let mut x = RecoveryStore::new(&cfg(1 << 20));
    let mut y = RecoveryStore::new(&cfg(1 << 20));
    let r = rooms(&["S", "a"]);
    let o1 = x.next_offset(1);
    x.handle_packet(o1, 0, &[], &[], &msg("x1"), now);
    let o2 = x.next_offset(1);
    x.handle_packet(o2, 0, &rooms(&["b"]), &[], &msg("not for S"), now);
    let o3 = x.next_offset(1);
    x.handle_packet(o3, 0, &rooms(&["S"]), &[], &msg("x3"), now);
    let record = || SessionRecord {
        pid: "1.7.p".into(),
        sid: "S".into(),
        nsp: 0,
        tail: x.tail(0, &r, TAIL_MAX, TAIL_BYTES),
        rooms: r.clone(),
        data: Some(serde_json::json!({"k": 1})),
        watermark: x.watermark(),
        ttl: Duration::from_secs(10),
        writer: None,
    };
    y.keep_record(record(), now);
    assert_eq!(y.sessions(), 1);
    assert!(y.session_bytes() > 0);
    // Another namespace: not this session, and it stays.
    assert_eq!(
        y.take("1.7.p", &o1.encode(), 1, now).err(),
        Some(Miss::UnknownSession)
    );
    let (got, data) = y.take("1.7.p", &o1.encode(), 0, now).expect("recovers");
    assert_eq!(texts(&got.missed), ["x3"]);
    assert_eq!(got.sid.as_ref(), "S");
    assert_eq!(data.map(|d| d.to_json()), Some(serde_json::json!({"k": 1})));
    assert_eq!(got.watermark, x.watermark());
    assert_eq!((y.sessions(), y.session_bytes()), (0, 0));
    // Taken once; a record expires like a session.
    assert_eq!(
        y.take("1.7.p", &o1.encode(), 0, now).err(),
        Some(Miss::UnknownSession)
    );
    y.keep_record(record(), now);
    y.expire(now + Duration::from_secs(11));
    assert_eq!((y.sessions(), y.session_bytes()), (0, 0));
}

#[test]
fn origins_silent_for_two_lifetimes_are_forgotten() {
    // ttl 10 s: a restarted node's origin (node 9) stops; ours goes on.
    let mut s = RecoveryStore::new(&cfg(1 << 20));
    let t0 = Instant::now();
    let gone = Offset {
        node: 9,
        origin: 0,
        seq: 5,
    };
    s.handle_packet(gone, 0, &[], &[], &msg("2[\"x\"]"), t0);
    let mine = |s: &mut RecoveryStore, at| {
        let o = s.next_offset(0);
        s.handle_packet(o, 0, &[], &[], &msg("2[\"y\"]"), at);
    };
    mine(&mut s, t0 + Duration::from_secs(15));
    assert!(s.watermark().iter().any(|&(k, _)| k == gone.key()));
    // 20 s without a packet of node 9 is not yet forgotten (2 × ttl).
    mine(&mut s, t0 + Duration::from_secs(20));
    assert!(s.watermark().iter().any(|&(k, _)| k == gone.key()));
    mine(&mut s, t0 + Duration::from_secs(23));
    let wm = s.watermark();
    assert!(!wm.iter().any(|&(k, _)| k == gone.key()), "{wm:?}");
    assert_eq!(wm.len(), 1, "our own origin stays");
    // Its evictions go too: a recovery with a watermark that never saw
    // node 9 is not refused for them.
    assert!(s.replay_after(&wm, 0, &rooms(&["S"])).is_some());
}
