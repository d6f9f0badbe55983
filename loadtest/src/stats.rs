//! Measurement state shared by the scenarios: latency histograms (with the
//! HdrHistogram V2 serialization used to ship them between processes), the
//! per-process result [`Part`] and its merge, and the clock.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use base64::Engine as _;
use hdrhistogram::serialization::{Deserializer, Serializer, V2Serializer};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// Microseconds on `CLOCK_MONOTONIC`: one clock for every process on the
/// machine, so a timestamp written by the publisher process can be
/// compared by a receiver in another process.
pub(crate) fn now_us() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we pass.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000 + ts.tv_nsec as u64 / 1_000
}

/// A latency histogram in microseconds (1 µs .. 1 h, 3 significant digits).
#[derive(Debug, Clone)]
pub(crate) struct Hist(Histogram<u64>);

impl Default for Hist {
    fn default() -> Self {
        let mut h = Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid bounds");
        h.auto(true);
        Self(h)
    }
}

impl Hist {
    pub(crate) fn record(&mut self, us: u64) {
        let _ = self.0.record(us.max(1));
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> u64 {
        self.0.len()
    }

    pub(crate) fn merge(&mut self, other: &Self) {
        let _ = self.0.add(&other.0);
    }

    /// HdrHistogram V2 serialization, base64.
    pub(crate) fn to_base64(&self) -> String {
        let mut buf = Vec::new();
        let _ = V2Serializer::new().serialize(&self.0, &mut buf);
        base64::engine::general_purpose::STANDARD.encode(buf)
    }

    pub(crate) fn from_base64(s: &str) -> Result<Self> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(s)
            .context("histogram base64")?;
        let h: Histogram<u64> = Deserializer::new()
            .deserialize(&mut &bytes[..])
            .map_err(|e| anyhow::anyhow!("histogram: {e:?}"))?;
        let mut out = Self::default();
        let _ = out.0.add(&h);
        Ok(out)
    }

    /// `{p50,p90,p99,p999,max,mean,count}` (nulls when empty).
    pub(crate) fn summary(&self) -> Value {
        let h = &self.0;
        if h.is_empty() {
            return json!({"p50": null, "p90": null, "p99": null, "p999": null, "max": null, "mean": null, "count": 0});
        }
        json!({
            "p50": h.value_at_quantile(0.50),
            "p90": h.value_at_quantile(0.90),
            "p99": h.value_at_quantile(0.99),
            "p999": h.value_at_quantile(0.999),
            "max": h.max(),
            "mean": (h.mean() * 10.0).round() / 10.0,
            "count": h.len(),
        })
    }
}

/// What one process measured; children send it to the parent as JSON.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Part {
    /// Deliveries (fanout), acks (echo), connections (connect/idle).
    pub(crate) delivered: u64,
    pub(crate) duplicated: u64,
    pub(crate) out_of_order: u64,
    /// Deliveries to a subscriber of another room.
    pub(crate) misrouted: u64,
    /// Received payloads that were not what was sent (echo) or unparsable.
    pub(crate) corrupt: u64,
    /// Clients that reached CONNECT ack during setup or the run.
    pub(crate) connected: u64,
    /// Connection attempts that failed.
    pub(crate) connect_failed: u64,
    /// Connected clients the server dropped later.
    pub(crate) dropped: u64,
    /// Churn cycles (connect, CONNECT ack, disconnect).
    pub(crate) cycles: u64,
    /// First and last measured activity (monotonic µs).
    pub(crate) first_us: u64,
    pub(crate) last_us: u64,
    pub(crate) errors: BTreeMap<String, u64>,
    /// Scenario-specific counters (summed over processes, reported as is).
    #[serde(default)]
    pub(crate) counters: BTreeMap<String, u64>,
    /// Fanout: joined subscribers per room.
    #[serde(default)]
    pub(crate) room_members: Vec<u64>,
    /// Latency (delivery / RTT) histogram.
    #[serde(with = "hist_b64")]
    pub(crate) latency: Hist,
    /// The part of `latency` measured by polling clients.
    #[serde(with = "hist_b64")]
    pub(crate) latency_polling: Hist,
    /// Connect-time histogram.
    #[serde(with = "hist_b64")]
    pub(crate) connect: Hist,
}

mod hist_b64 {
    use super::Hist;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(h: &Hist, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&h.to_base64())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Hist, D::Error> {
        let s = String::deserialize(d)?;
        Hist::from_base64(&s).map_err(serde::de::Error::custom)
    }
}

impl Part {
    /// Marks activity at `us` for the first/last window.
    pub(crate) fn touch(&mut self, us: u64) {
        if self.first_us == 0 || us < self.first_us {
            self.first_us = us;
        }
        self.last_us = self.last_us.max(us);
    }

    pub(crate) fn merge(&mut self, o: &Self) {
        self.delivered += o.delivered;
        self.duplicated += o.duplicated;
        self.out_of_order += o.out_of_order;
        self.misrouted += o.misrouted;
        self.corrupt += o.corrupt;
        self.connected += o.connected;
        self.connect_failed += o.connect_failed;
        self.dropped += o.dropped;
        self.cycles += o.cycles;
        if o.first_us != 0 {
            self.touch(o.first_us);
        }
        self.last_us = self.last_us.max(o.last_us);
        for (k, v) in &o.errors {
            *self.errors.entry(k.clone()).or_insert(0) += v;
        }
        for (k, v) in &o.counters {
            *self.counters.entry(k.clone()).or_insert(0) += v;
        }
        if self.room_members.len() < o.room_members.len() {
            self.room_members.resize(o.room_members.len(), 0);
        }
        for (m, o) in self.room_members.iter_mut().zip(&o.room_members) {
            *m += o;
        }
        self.latency.merge(&o.latency);
        self.latency_polling.merge(&o.latency_polling);
        self.connect.merge(&o.connect);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_roundtrip_and_merge() {
        let mut a = Hist::default();
        for v in [1, 10, 100, 1000, 5_000_000] {
            a.record(v);
        }
        let b = Hist::from_base64(&a.to_base64()).unwrap();
        assert_eq!(b.len(), 5);
        assert_eq!(b.summary()["max"], a.summary()["max"]);
        let mut p = Part {
            delivered: 2,
            latency: a,
            ..Part::default()
        };
        p.touch(50);
        let q: Part = serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
        p.merge(&q);
        assert_eq!(p.delivered, 4);
        assert_eq!(p.latency.len(), 10);
        assert_eq!((p.first_us, p.last_us), (50, 50));
    }
}
