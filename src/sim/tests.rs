//! The simulation scenarios (issue 9, item 3). Each runs in milliseconds
//! on one thread: time moves only through `Sim::advance`.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use super::client::{get, post};
use super::{Reply, Sim, Ws};
use crate::config::{Config, Parser};
use crate::shard::deliver::{AckOrigin, Broadcast, BroadcastAck};
use crate::shard::encode;
use crate::shard::port::{ToCluster, ToShard};
use crate::shard::session::CloseReason;

const POLL_OPEN: &str = "/socket.io/?EIO=4&transport=polling";
const WS_OPEN: &str = "/socket.io/?EIO=4&transport=websocket";

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn polling(sid: &str) -> String {
    format!("{POLL_OPEN}&sid={sid}")
}

/// A websocket session opened on `shard` and connected to `/`, its open
/// packet and CONNECT reply read.
fn open_ws(sim: &mut Sim, shard: usize) -> Ws {
    let Reply::Switched(mut ws) = sim.http(shard, &get(WS_OPEN, true)) else {
        panic!("a websocket handshake switches protocols");
    };
    let open = sim.ws_recv(&mut ws);
    assert!(
        open.len() == 1 && open[0].starts_with("0{\"sid\":\""),
        "{open:?}"
    );
    assert_eq!(sim.ws_send(&mut ws, "40"), Vec::<String>::new());
    let connect = sim.ws_recv(&mut ws);
    assert!(
        connect.len() == 1 && connect[0].starts_with("40{\"sid\":\""),
        "{connect:?}"
    );
    ws
}

/// A polling session opened on `shard`; returns its sid.
fn open_polling(sim: &mut Sim, shard: usize) -> String {
    let body = sim.http(shard, &get(POLL_OPEN, false)).ok();
    assert!(body.starts_with("0{\"sid\":\""), "{body}");
    let open: serde_json::Value = serde_json::from_str(&body[1..]).expect("open packet JSON");
    open["sid"]
        .as_str()
        .expect("sid in the open packet")
        .to_owned()
}

#[test]
fn cross_shard_broadcast_collects_acks_from_every_shard() {
    let mut sim = Sim::new(3, Config::default(), 1);
    let mut clients: Vec<Ws> = (0..6).map(|i| open_ws(&mut sim, i % 3)).collect();
    // Shard 0's first namespace-wide ack id is 0 (`counter * n + shard`).
    sim.ws_send(&mut clients[0], "421[\"fan\"]");
    sim.run_until_idle();
    for (i, c) in clients.iter_mut().enumerate().skip(1) {
        assert_eq!(sim.ws_recv(c), ["420[\"ping\"]"], "client {i}");
        sim.ws_send(c, &format!("430[{i}]"));
    }
    // Replies on shards 1 and 2 are still in the mesh: no answer yet.
    assert_eq!(sim.ws_recv(&mut clients[0]), Vec::<String>::new());
    sim.run_until_idle();
    assert_eq!(sim.ws_recv(&mut clients[0]), ["431[[1,2,3,4,5]]"]);
    assert!(sim.bridge_out.iter().all(|q| q.borrow().is_empty()));
}

#[test]
fn another_nodes_broadcast_with_acks_reports_to_the_bridge_from_every_shard() {
    let mut sim = Sim::new(3, Config::default(), 7);
    let mut clients: Vec<Ws> = (0..6).map(|i| open_ws(&mut sim, i % 3)).collect();
    let id = 1 << 40;
    let b = Arc::new(Broadcast {
        nsp: 0,
        rooms: Vec::new(),
        except: Vec::new(),
        volatile: false,
        msg: encode::event(Parser::Json, "/", Some(id), "remote", &[], &[]),
        ack: Some(BroadcastAck {
            origin: AckOrigin::Bridge { key: 7 },
            id,
        }),
        local: true,
        timeout: None,
        offset: None,
    });
    for shard in 0..3 {
        sim.bridge_delivers(shard, ToShard::Broadcast(b.clone()));
    }
    sim.run_until_idle();
    for (i, c) in clients.iter_mut().enumerate() {
        assert_eq!(sim.ws_recv(c), ["421099511627776[\"remote\"]"]);
        sim.ws_send(c, &format!("431099511627776[{i}]"));
    }
    for (shard, q) in sim.bridge_out.iter().enumerate() {
        let q = q.borrow();
        assert!(
            matches!(
                q.iter().collect::<Vec<_>>().as_slice(),
                [
                    ToCluster::AckCount { key: 7, count: 2 },
                    ToCluster::AckReply { key: 7, .. },
                    ToCluster::AckReply { key: 7, .. },
                ]
            ),
            "shard {shard}: {q:?}"
        );
    }
}

#[test]
fn polling_requests_on_another_shard_are_served_by_the_owner() {
    let mut sim = Sim::new(3, Config::default(), 2);
    let sid = open_polling(&mut sim, 0);
    let q = polling(&sid);
    assert_eq!(sim.http(1, &post(&q, "40")).ok(), "ok");
    assert_eq!(
        sim.last_path,
        [1, 0],
        "route hands the request to the owner"
    );
    let body = sim.http(2, &get(&q, false)).ok();
    assert!(body.starts_with("40{\"sid\":\""), "{body}");
    assert_eq!(sim.last_path, [2, 0]);
    // A long-poll parked on the owner after a handoff, released by packets
    // that another connection (landing on a third shard) brought in.
    let Reply::Parked(parked) = sim.http(1, &get(&q, false)) else {
        panic!("an empty queue parks the GET");
    };
    assert_eq!(sim.resume(&parked), None);
    let two = "42[\"echo\",1]\x1e42[\"echo\",2]";
    assert_eq!(sim.http(2, &post(&q, two)).ok(), "ok");
    assert_eq!(sim.resume(&parked).as_deref(), Some(two));
    assert_eq!(sim.shards[1].stats.handoffs.get(), 2);
    assert_eq!(sim.shards[2].stats.handoffs.get(), 2);
    assert_eq!(sim.shards[0].stats.handoffs.get(), 0);
    // The owner serves without a handoff.
    assert_eq!(sim.http(0, &post(&q, "42[\"echo\",3]")).ok(), "ok");
    assert_eq!(sim.last_path, [0]);
}

#[test]
fn a_handed_off_get_travels_behind_what_its_shard_sent_before() {
    // Per pair of shards the mesh keeps order, so a connection moved from
    // shard 1 to the owner arrives after shard 1's earlier broadcast: the
    // GET answers at once with it instead of parking.
    for seed in 0..8 {
        let mut sim = Sim::new(2, Config::default(), seed);
        let mut sender = open_ws(&mut sim, 1);
        let sid = open_polling(&mut sim, 0);
        let q = polling(&sid);
        assert_eq!(sim.http(0, &post(&q, "40")).ok(), "ok");
        assert!(sim.http(0, &get(&q, false)).ok().starts_with("40{"));
        sim.ws_send(&mut sender, "42[\"say\",1]");
        assert_eq!(sim.http(1, &get(&q, false)).ok(), "42[\"said\",1]");
        assert_eq!(sim.last_path, [1, 0]);
    }
}

#[test]
fn polling_to_websocket_upgrade_with_requests_on_different_shards() {
    let mut sim = Sim::new(3, Config::default(), 3);
    let sid = open_polling(&mut sim, 0);
    let q = polling(&sid);
    assert_eq!(sim.http(1, &post(&q, "40")).ok(), "ok");
    assert!(sim.http(2, &get(&q, false)).ok().starts_with("40{"));
    let Reply::Parked(parked) = sim.http(1, &get(&q, false)) else {
        panic!("an empty queue parks the GET");
    };
    let Reply::Switched(mut ws) = sim.http(2, &get(&format!("{WS_OPEN}&sid={sid}"), true)) else {
        panic!("the upgrade switches protocols");
    };
    assert_eq!(sim.last_path, [2, 0]);
    assert_eq!(ws.shard, 0);
    // A second upgrade while this one probes gets 101 and a close (Node).
    let again = sim.http(1, &get(&format!("{WS_OPEN}&sid={sid}"), true));
    assert!(matches!(again, Reply::SwitchedThenClosed), "{again:?}");
    assert_eq!(sim.ws_send(&mut ws, "2probe"), ["3probe"]);
    // The parked GET is released with a noop so the client pauses polling.
    assert_eq!(sim.resume(&parked).as_deref(), Some("6"));
    // A GET arriving during the probe (on yet another shard) gets one too.
    assert_eq!(sim.http(1, &get(&q, false)).ok(), "6");
    assert_eq!(sim.ws_send(&mut ws, "5"), Vec::<String>::new());
    sim.ws_send(&mut ws, "42[\"echo\",1]");
    assert_eq!(sim.ws_recv(&mut ws), ["42[\"echo\",1]"]);
    // Polling is over for this session, wherever the request lands.
    let late = sim.http(1, &get(&q, false));
    assert!(matches!(late, Reply::Done { status: 400, .. }), "{late:?}");
}

#[test]
fn a_failed_probe_keeps_the_session_on_polling() {
    let mut sim = Sim::new(2, Config::default(), 8);
    let sid = open_polling(&mut sim, 1);
    let q = polling(&sid);
    assert_eq!(sim.http(0, &post(&q, "40")).ok(), "ok");
    assert!(sim.http(0, &get(&q, false)).ok().starts_with("40{"));
    let Reply::Switched(mut ws) = sim.http(0, &get(&format!("{WS_OPEN}&sid={sid}"), true)) else {
        panic!("the upgrade switches protocols");
    };
    // Anything but `2probe` / `5` ends the probe with a close frame.
    assert_eq!(sim.ws_send(&mut ws, "4hello"), ["<close>"]);
    assert_eq!(sim.http(0, &post(&q, "42[\"echo\",1]")).ok(), "ok");
    assert_eq!(sim.http(0, &get(&q, false)).ok(), "42[\"echo\",1]");
}

#[test]
fn heartbeat_pings_and_pong_timeout_fire_at_their_exact_instants() {
    // Defaults: pingInterval 25 s, pingTimeout 20 s.
    let mut sim = Sim::new(2, Config::default(), 4);
    let mut ws = open_ws(&mut sim, 1);
    let sid = open_polling(&mut sim, 0);
    let q = polling(&sid);
    assert_eq!(sim.http(1, &post(&q, "40")).ok(), "ok");
    assert!(sim.http(1, &get(&q, false)).ok().starts_with("40{"));
    let Reply::Parked(parked) = sim.http(1, &get(&q, false)) else {
        panic!("an empty queue parks the GET");
    };

    sim.advance(ms(25_000 - 1));
    assert_eq!(sim.ws_recv(&mut ws), Vec::<String>::new());
    assert_eq!(sim.resume(&parked), None);
    sim.advance(ms(1));
    assert_eq!(sim.ws_recv(&mut ws), ["2"]);
    assert_eq!(sim.resume(&parked).as_deref(), Some("2"));

    // A pong 5 s later moves the next ping to 30 s + 25 s.
    sim.advance(ms(5_000));
    sim.ws_send(&mut ws, "3");
    assert_eq!(sim.http(0, &post(&q, "3")).ok(), "ok");
    sim.advance(ms(25_000 - 1));
    assert_eq!(sim.ws_recv(&mut ws), Vec::<String>::new());
    sim.advance(ms(1));
    assert_eq!(sim.ws_recv(&mut ws), ["2"]);

    // No pong: the session ends exactly pingTimeout after the ping.
    sim.advance(ms(20_000 - 1));
    assert!(!ws.session.is_closed());
    assert!(sim.app.disconnect_reasons().is_empty());
    sim.advance(ms(1));
    assert_eq!(
        ws.session.st.borrow().eio.closed(),
        Some(CloseReason::PingTimeout)
    );
    assert_eq!(sim.ws_recv(&mut ws), ["<close>"]);
    assert_eq!(
        sim.app.disconnect_reasons(),
        [CloseReason::PingTimeout, CloseReason::PingTimeout]
    );
    assert!(sim.shards[0].session(&sid).is_none());
}

#[test]
fn connect_timeout_fires_at_the_deadline_for_sessions_without_a_namespace() {
    let config = Config {
        // No heartbeat before the connect deadline.
        ping_interval: ms(60_000),
        connect_timeout: ms(45_000),
        ..Config::default()
    };
    let mut sim = Sim::new(2, config, 5);
    let joined = open_polling(&mut sim, 0);
    let idle = open_polling(&mut sim, 1);
    assert_eq!(sim.http(1, &post(&polling(&joined), "40")).ok(), "ok");
    assert!(sim
        .http(0, &get(&polling(&joined), false))
        .ok()
        .starts_with("40{"));
    let Reply::Parked(idle_get) = sim.http(0, &get(&polling(&idle), false)) else {
        panic!("an empty queue parks the GET");
    };

    sim.advance(ms(45_000 - 1));
    assert_eq!(sim.resume(&idle_get), None);
    assert!(sim.shards[1].session(&idle).is_some());
    sim.advance(ms(1));
    assert_eq!(sim.resume(&idle_get).as_deref(), Some("1"));
    assert_eq!(
        idle_get.st.borrow().eio.closed(),
        Some(CloseReason::ConnectTimeout)
    );
    assert!(sim.shards[1].session(&idle).is_none());
    assert!(
        sim.shards[0].session(&joined).is_some(),
        "a joined session stays"
    );
    let gone = sim.http(0, &get(&polling(&idle), false));
    assert!(matches!(gone, Reply::Done { status: 400, .. }), "{gone:?}");
}

#[test]
fn slow_consumer_over_max_buffered_bytes_is_disconnected() {
    let config = Config {
        max_buffered_bytes: 100,
        ..Config::default()
    };
    let mut sim = Sim::new(2, config, 6);
    let mut slow = open_ws(&mut sim, 0);
    let mut fast = open_ws(&mut sim, 0);
    let mut sender = open_ws(&mut sim, 1);
    let said = "42[\"said\",\"xxxxxxxxxx\"]";
    // A text frame under 126 bytes has a 2-byte header.
    let fit = 100 / (said.len() + 2);
    assert_eq!(fit, 4);
    for _ in 0..fit {
        sim.ws_send(&mut sender, "42[\"say\",\"xxxxxxxxxx\"]");
        sim.run_until_idle();
        assert_eq!(sim.ws_recv(&mut fast), [said]);
        assert!(!slow.session.is_closed());
    }
    sim.ws_send(&mut sender, "42[\"say\",\"xxxxxxxxxx\"]");
    sim.run_until_idle();
    assert_eq!(sim.ws_recv(&mut fast), [said]);
    assert_eq!(
        slow.session.st.borrow().eio.closed(),
        Some(CloseReason::SlowConsumer)
    );
    assert_eq!(sim.shards[0].stats.slow_consumers.get(), 1);
    assert_eq!(sim.app.disconnect_reasons(), [CloseReason::SlowConsumer]);
    // Nothing queued is flushed to a consumer that cannot keep up.
    assert_eq!(sim.ws_recv(&mut slow), ["<close>"]);
}

#[test]
fn broadcasts_from_several_shards_reach_a_receiver_in_per_sender_order() {
    let mut orders = HashSet::new();
    for seed in 0..16 {
        let mut sim = Sim::new(4, Config::default(), seed);
        let mut rx = open_ws(&mut sim, 0);
        let mut senders: Vec<Ws> = (0..4).map(|s| open_ws(&mut sim, s)).collect();
        for i in 1..=5 {
            for (s, tx) in senders.iter_mut().enumerate() {
                sim.ws_send(tx, &format!("42[\"say\",\"s{s}\",{i}]"));
            }
        }
        sim.run_until_idle();
        let got = sim.ws_recv(&mut rx);
        assert_eq!(got.len(), 20, "seed {seed}: {got:?}");
        for s in 0..4 {
            let tag = format!("\"s{s}\"");
            let from_s: Vec<&String> = got.iter().filter(|f| f.contains(&tag)).collect();
            let want: Vec<String> = (1..=5)
                .map(|i| format!("42[\"said\",\"s{s}\",{i}]"))
                .collect();
            assert_eq!(from_s, want.iter().collect::<Vec<_>>(), "seed {seed}");
        }
        orders.insert(got);
    }
    assert!(
        orders.len() > 1,
        "the seeds interleave the senders differently"
    );
}

/// A long-poll GET relayed by another ringcast node (hop header) gives way
/// to a newer GET of its session instead of being refused as an overlap:
/// the relaying node died and the load balancer sent the GET again. A
/// direct GET over a direct GET is still Node's overlap error.
#[test]
fn relayed_get_gives_way_to_a_newer_get() {
    let mut sim = Sim::new(1, Config::default(), 1);
    let sid = open_polling(&mut sim, 0);
    assert_eq!(sim.http(0, &post(&polling(&sid), "40")).ok(), "ok");
    assert!(sim
        .http(0, &get(&polling(&sid), false))
        .ok()
        .starts_with("40"));
    let relayed = format!(
        "GET {} HTTP/1.1\r\nHost: sim\r\nX-Ringcast-Forwarded: ABCDEFGH\r\n\r\n",
        polling(&sid)
    );
    let Reply::Parked(session) = sim.http(0, &relayed) else {
        panic!("the relayed GET parks");
    };
    let first = session.st.borrow().get_gen;
    let Reply::Parked(_) = sim.http(0, &get(&polling(&sid), false)) else {
        panic!("the newer GET parks in its place");
    };
    assert!(!session.is_closed(), "no overlap error");
    assert_ne!(
        session.st.borrow().get_gen,
        first,
        "the relayed GET is superseded"
    );
    let overlap = sim.http(0, &get(&polling(&sid), false));
    assert!(
        matches!(overlap, Reply::Done { status: 400, .. }),
        "{overlap:?}"
    );
    assert!(session.is_closed(), "a direct overlap closes the session");
}
