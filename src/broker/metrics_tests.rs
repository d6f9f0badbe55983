//! Unit tests of the Prometheus exposition.

use super::*;

/// Every line is a HELP, a TYPE or a sample `name{labels} integer`,
/// and every sample belongs to the family declared just before it.
#[test]
fn text_format_is_strict() {
    let api = ApiCounts::default();
    api.count("/api/emit", 200, Duration::from_micros(700));
    api.count("/api/emit", 401, Duration::from_secs(9));
    let mut shard = StatsSnapshot {
        websocket: 1,
        deliveries: 3,
        queued_bytes: 10,
        received_bytes: 100,
        sent_bytes: 200,
        broadcasts: 4,
        broadcast_receivers: 40,
        acks_pending_socket: 1,
        acks_pending_broadcast: 2,
        ack_timeouts: 5,
        ..Default::default()
    };
    shard.packets[10] = 7; // event
    shard.packets[3] = 1; // pong
    shard.disconnects[2] = 3; // ping timeout
    let mut text = render(&[shard, shard], &BridgeHealth::default(), &api);
    let mut hooks = HookStats::default();
    hooks.connect.calls = 3;
    hooks.connect.failures = 1;
    hooks.connect.timeouts = 1;
    hooks.connect.latency_us_sum = 1_500_000;
    hooks.connect.latency_buckets[0] = 2; // <= 1 ms
    hooks.connect.latency_buckets[LATENCY_BUCKETS_MS.len()] = 1; // over 5 s
    let per_shard = ShardMetrics {
        stats: shard,
        hooks,
    };
    render_hooks(&[per_shard.clone(), per_shard], &mut text);
    assert!(text.ends_with('\n'));
    let mut current = String::new();
    let mut families = std::collections::HashSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let name = rest.split(' ').next().unwrap_or_default();
            assert!(families.insert(name.to_owned()), "family {name} twice");
            current = name.to_owned();
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap_or_default();
            assert_eq!(name, current);
            assert!(
                kind == "gauge" || kind == "counter" || kind == "histogram",
                "{line}"
            );
            if kind == "counter" {
                assert!(name.ends_with("_total"), "{name}");
            }
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap_or_default();
        let name = series.split('{').next().unwrap_or_default();
        if name.ends_with("_sum") {
            value.parse::<f64>().unwrap_or_else(|_| panic!("{line}"));
        } else {
            value.parse::<u64>().unwrap_or_else(|_| panic!("{line}"));
        }
        let base = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s))
            .filter(|b| *b == current)
            .unwrap_or(name);
        assert_eq!(base, current, "{line}");
        assert!(name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c == '_' || c.is_ascii_digit()));
        if let Some(labels) = series.strip_prefix(name).filter(|l| !l.is_empty()) {
            let inner = labels
                .strip_prefix('{')
                .and_then(|l| l.strip_suffix('}'))
                .unwrap_or_else(|| panic!("{line}"));
            for pair in inner.split(',') {
                let (k, v) = pair.split_once('=').unwrap_or_else(|| panic!("{line}"));
                assert!(k.chars().all(|c| c.is_ascii_lowercase() || c == '_'));
                assert!(v.len() >= 2 && v.starts_with('"') && v.ends_with('"'));
                assert!(!v[1..v.len() - 1].contains(['"', '\\', '\n']), "{line}");
            }
        }
    }
    assert!(text.contains("ringcast_connections{transport=\"websocket\"} 2\n"));
    assert!(text.contains("ringcast_deliveries_total 6\n"));
    assert!(text.contains("ringcast_shard_connections{shard=\"1\"} 1\n"));
    assert!(text.contains("ringcast_shard_queued_bytes{shard=\"0\"} 10\n"));
    assert!(text.contains("ringcast_api_requests_total{path=\"/api/emit\",code=\"401\"} 1\n"));
    assert!(text.contains("ringcast_redis_connected 0\n"));
    for expected in [
        "ringcast_received_bytes_total 200\n",
        "ringcast_sent_bytes_total 400\n",
        "ringcast_packets_received_total{type=\"event\"} 14\n",
        "ringcast_packets_received_total{type=\"pong\"} 2\n",
        "ringcast_packets_received_total{type=\"binary_ack\"} 0\n",
        "ringcast_broadcasts_total{origin=\"local\"} 8\n",
        "ringcast_broadcasts_total{origin=\"cluster\"} 0\n",
        "ringcast_broadcast_receivers_total 80\n",
        "ringcast_acks_pending{kind=\"socket\"} 2\n",
        "ringcast_acks_pending{kind=\"broadcast\"} 4\n",
        "ringcast_ack_timeouts_total 10\n",
        "ringcast_recovery_kept_sessions 0\n",
        "ringcast_recovery_kept_bytes{kind=\"packets\"} 0\n",
        "ringcast_disconnects_total{reason=\"ping_timeout\"} 6\n",
        "ringcast_disconnects_total{reason=\"slow_consumer\"} 0\n",
        "ringcast_cluster_dropped_total{where=\"from_shards\"} 0\n",
        "ringcast_hook_calls_total{hook=\"connect\"} 6\n",
        "ringcast_hook_calls_total{hook=\"event\"} 0\n",
        "ringcast_hook_timeouts_total{hook=\"connect\"} 2\n",
        "ringcast_hook_duration_seconds_bucket{hook=\"connect\",le=\"0.001\"} 4\n",
        "ringcast_hook_duration_seconds_bucket{hook=\"connect\",le=\"5\"} 4\n",
        "ringcast_hook_duration_seconds_bucket{hook=\"connect\",le=\"+Inf\"} 6\n",
        "ringcast_hook_duration_seconds_sum{hook=\"connect\"} 3\n",
    ] {
        assert!(text.contains(expected), "missing {expected}");
    }
    let h = "ringcast_api_request_duration_seconds";
    assert!(text.contains(&format!(
        "{h}_bucket{{path=\"/api/emit\",le=\"0.0005\"}} 0\n"
    )));
    assert!(text.contains(&format!(
        "{h}_bucket{{path=\"/api/emit\",le=\"0.001\"}} 1\n"
    )));
    assert!(text.contains(&format!("{h}_bucket{{path=\"/api/emit\",le=\"5\"}} 1\n")));
    assert!(text.contains(&format!("{h}_bucket{{path=\"/api/emit\",le=\"+Inf\"}} 2\n")));
    assert!(text.contains(&format!("{h}_count{{path=\"/api/emit\"}} 2\n")));
}
