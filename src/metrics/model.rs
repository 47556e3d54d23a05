//! The series the daemon exposes, built from reports (render-level: it reads
//! a [`Report`], never the flow table). Names as exposed (the crate appends
//! `_total`, `_seconds` and `_info`):
//!
//! - `tuntrace_tunnel_{packets,bytes,fragments}_total` and
//!   `tuntrace_tunnel_last_seen_timestamp_seconds`, labels `device, direction,
//!   encap, outer_src, outer_dst, vni`: one series per tunnel row of the
//!   cumulative report (bounded by peers × NICs; never expire);
//! - `tuntrace_pair_packets_total` (opt-in): one series per inner pair seen
//!   in the intervals, at most `max_pairs`, the rest in one `"other"` series
//!   per device, direction and encap; removed after `pair_ttl` unseen;
//! - `tuntrace_capture_packets_total{device}`,
//!   `tuntrace_capture_dropped_total{device,reason}`;
//! - `tuntrace_series{family}`, `tuntrace_pairs_overflow_total`,
//!   `tuntrace_build_info{version,revision}`.
//!
//! No `node` label: Prometheus adds it when relabelling the scrape target.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::{Registry, Unit};

use crate::report::{PathChange, Report, TunnelRow};

use super::labels::{
    DeviceLabels, DropLabels, FamilyLabels, FindingLabels, PairLabels, PathChangeLabels,
    PickLabels, TunnelLabels,
};
pub use super::shared::Shared;

/// What the exporter is told to do.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `--node`, `$NODE_NAME` or the host name (for `/report` only).
    pub node: String,
    /// This node's addresses: a tunnel whose outer source is one of them is
    /// `egress`, any other `ingress`.
    pub local: Vec<IpAddr>,
    /// `--metrics-pairs`.
    pub pairs: bool,
    /// `--metrics-max-pairs`.
    pub max_pairs: usize,
    /// `--metrics-pair-ttl`.
    pub pair_ttl: Duration,
    /// Expectations were given: expose `tuntrace_audit_findings`.
    pub audit: bool,
    /// `--expect-method` was given: expose `tuntrace_autodetect_info`.
    pub autodetect: bool,
}

/// One chosen NIC as the session last saw it.
#[derive(Debug, Clone, Default)]
pub struct NicState {
    pub name: String,
    pub received: u64,
    pub dropped_by_kernel: u64,
    pub dropped_by_interface: u64,
    /// Why it stopped capturing (`None`: it captures).
    pub stopped: Option<String>,
}

type Seconds = Gauge<f64, AtomicU64>;

/// The metric families, kept to update them.
struct Families {
    tunnel_packets: Family<TunnelLabels, Counter>,
    tunnel_bytes: Family<TunnelLabels, Counter>,
    tunnel_fragments: Family<TunnelLabels, Counter>,
    tunnel_last_seen: Family<TunnelLabels, Seconds>,
    pair_packets: Family<PairLabels, Counter>,
    capture_packets: Family<DeviceLabels, Counter>,
    capture_dropped: Family<DropLabels, Counter>,
    series: Family<FamilyLabels, Gauge>,
    pairs_overflow: Counter,
    findings: Family<FindingLabels, Gauge>,
    autodetect: Family<PickLabels, Gauge>,
    path_changes: Family<PathChangeLabels, Counter>,
}

/// Updates the series from each interval; owns what the HTTP side reads.
pub struct Exporter {
    set: Settings,
    fam: Families,
    shared: Arc<Shared>,
    /// Tunnel series → packets when last grown (for last-seen).
    tunnels: HashMap<TunnelLabels, u64>,
    /// Pair series by name → when last seen (ns).
    pairs: HashMap<PairLabels, u64>,
    /// The `"other"` pair series (per device, direction, encap).
    overflow: HashMap<PairLabels, ()>,
    /// The findings series exposed now.
    finding_series: Vec<FindingLabels>,
    /// The autodetect series exposed now.
    pick: Option<PickLabels>,
}

impl Exporter {
    pub fn new(set: Settings) -> Exporter {
        let mut reg = Registry::with_prefix("tuntrace");
        let fam = Families {
            tunnel_packets: Family::default(),
            tunnel_bytes: Family::default(),
            tunnel_fragments: Family::default(),
            tunnel_last_seen: Family::default(),
            pair_packets: Family::default(),
            capture_packets: Family::default(),
            capture_dropped: Family::default(),
            series: Family::default(),
            pairs_overflow: Counter::default(),
            findings: Family::default(),
            autodetect: Family::default(),
            path_changes: Family::default(),
        };
        reg.register(
            "path_changes",
            "Moves of the traffic to a peer from one NIC/underlay to another (flaps folded in)",
            fam.path_changes.clone(),
        );
        reg.register(
            "tunnel_packets",
            "Tunnel packets per NIC and outer pair, seen from this node",
            fam.tunnel_packets.clone(),
        );
        reg.register(
            "tunnel_bytes",
            "Tunnel bytes (outer frames) per NIC and outer pair",
            fam.tunnel_bytes.clone(),
        );
        reg.register(
            "tunnel_fragments",
            "Fragmented outer packets per NIC and outer pair",
            fam.tunnel_fragments.clone(),
        );
        reg.register_with_unit(
            "tunnel_last_seen_timestamp",
            "When the tunnel last carried a packet (Unix time)",
            Unit::Seconds,
            fam.tunnel_last_seen.clone(),
        );
        if set.pairs {
            reg.register(
                "pair_packets",
                "Inner (pod) pair packets per NIC and tunnel; bounded by --metrics-max-pairs",
                fam.pair_packets.clone(),
            );
        }
        reg.register(
            "capture_packets",
            "Frames the kernel handed to the capture, per NIC",
            fam.capture_packets.clone(),
        );
        reg.register(
            "capture_dropped",
            "Frames lost before the capture, per NIC (reason: kernel or interface)",
            fam.capture_dropped.clone(),
        );
        if set.audit {
            reg.register(
                "audit_findings",
                "Audit findings on the cumulative report, per kind and device (comma-separated for path findings)",
                fam.findings.clone(),
            );
        }
        if set.autodetect {
            reg.register(
                "autodetect_info",
                "The interface and address --expect-method picks on this node now",
                fam.autodetect.clone(),
            );
        }
        reg.register(
            "series",
            "Series the exporter currently exposes, per family",
            fam.series.clone(),
        );
        reg.register(
            "pairs_overflow",
            "Pair sightings folded into the \"other\" pair series (once per pair and interval)",
            fam.pairs_overflow.clone(),
        );
        reg.register(
            "build",
            "tuntrace's version",
            Info::new(vec![
                ("version", env!("CARGO_PKG_VERSION")),
                (
                    "revision",
                    option_env!("TUNTRACE_REVISION").unwrap_or("unknown"),
                ),
            ]),
        );
        let shared = Arc::new(Shared {
            registry: reg,
            node: set.node.clone(),
            report: RwLock::new(None),
            ready: RwLock::new(Err("capture has not started yet".into())),
        });
        Exporter {
            set,
            fam,
            shared,
            tunnels: HashMap::new(),
            pairs: HashMap::new(),
            overflow: HashMap::new(),
            finding_series: Vec::new(),
            pick: None,
        }
    }

    /// What the HTTP side serves.
    pub fn shared(&self) -> Arc<Shared> {
        self.shared.clone()
    }

    /// Folds in one interval: `total` is the cumulative report, `interval`
    /// the report of the interval ending at `now_ns` (pairs come from it,
    /// so new pairs get a series even once the table's pair bound is full).
    pub fn update(
        &mut self,
        total: Report,
        interval: Option<&Report>,
        nics: &[NicState],
        findings: &[(String, String)],
        now_ns: u64,
    ) {
        if self.set.audit {
            self.findings_from(findings);
        }
        self.tunnels_from(&total, now_ns);
        if let (true, Some(iv)) = (self.set.pairs, interval) {
            self.pairs_from(iv, now_ns);
        }
        self.capture_from(nics);
        let series = [
            ("tunnel", self.tunnels.len()),
            ("pair", self.pairs.len() + self.overflow.len()),
            ("capture", nics.len()),
        ];
        for (family, n) in series {
            self.fam
                .series
                .get_or_create(&FamilyLabels { family })
                .set(n as i64);
        }
        let stopped: Vec<String> = nics
            .iter()
            .filter_map(|n| n.stopped.as_ref().map(|why| format!("{}: {why}", n.name)))
            .collect();
        let ready = if stopped.is_empty() {
            Ok(())
        } else {
            Err(stopped.join("; "))
        };
        *self.shared.ready.write().unwrap_or_else(|p| p.into_inner()) = ready;
        *self
            .shared
            .report
            .write()
            .unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(total));
    }

    /// Counts settled path changes; the peer is the far end seen from
    /// this node (the receiver of traffic this node sent, else the sender).
    pub fn path_changes(&mut self, changes: &[PathChange]) {
        for e in changes {
            let egress = self.direction(e.from.outer_src) == "egress";
            let labels = PathChangeLabels {
                peer: if egress { e.dst.clone() } else { e.src.clone() },
                from_device: e.from.device.clone(),
                to_device: e.to.device.clone(),
            };
            self.fam
                .path_changes
                .get_or_create(&labels)
                .inc_by(u64::from(e.count));
        }
    }

    fn direction(&self, outer_src: IpAddr) -> &'static str {
        if self.set.local.contains(&outer_src) {
            "egress"
        } else {
            "ingress"
        }
    }

    fn tunnel_labels(&self, device: &str, t: &TunnelRow) -> TunnelLabels {
        TunnelLabels {
            device: device.to_string(),
            direction: self.direction(t.outer_src),
            encap: encap_label(t),
            outer_src: t.outer_src.to_string(),
            outer_dst: t.outer_dst.to_string(),
            vni: t.vni.map(|v| v.to_string()).unwrap_or_default(),
        }
    }

    fn tunnels_from(&mut self, total: &Report, now_ns: u64) {
        let now = now_ns as f64 / 1e9;
        for link in &total.links {
            for t in &link.tunnels {
                let labels = self.tunnel_labels(&link.interface, t);
                raise(&self.fam.tunnel_packets.get_or_create(&labels), t.packets);
                raise(&self.fam.tunnel_bytes.get_or_create(&labels), t.bytes);
                raise(
                    &self.fam.tunnel_fragments.get_or_create(&labels),
                    t.fragments,
                );
                let seen = self.tunnels.entry(labels.clone()).or_insert(0);
                if *seen != t.packets {
                    *seen = t.packets;
                    self.fam.tunnel_last_seen.get_or_create(&labels).set(now);
                }
            }
        }
    }

    fn pairs_from(&mut self, iv: &Report, now_ns: u64) {
        for link in &iv.links {
            for t in &link.tunnels {
                let base = PairLabels {
                    device: link.interface.clone(),
                    direction: self.direction(t.outer_src),
                    encap: encap_label(t),
                    outer_src: t.outer_src.to_string(),
                    outer_dst: t.outer_dst.to_string(),
                    inner_src: String::new(),
                    inner_dst: String::new(),
                };
                for p in &t.inner {
                    let labels = PairLabels {
                        inner_src: p.src.to_string(),
                        inner_dst: p.dst.to_string(),
                        ..base.clone()
                    };
                    if self.pairs.contains_key(&labels) || self.pairs.len() < self.set.max_pairs {
                        self.fam
                            .pair_packets
                            .get_or_create(&labels)
                            .inc_by(p.packets);
                        self.pairs.insert(labels, now_ns);
                    } else {
                        self.fam.pairs_overflow.inc();
                        self.other(&base, p.packets);
                    }
                }
                if let Some(o) = &t.inner_other {
                    self.fam.pairs_overflow.inc();
                    self.other(&base, o.packets);
                }
            }
        }
        let ttl = self.set.pair_ttl.as_nanos() as u64;
        let fam = &self.fam.pair_packets;
        self.pairs.retain(|labels, seen| {
            let keep = now_ns.saturating_sub(*seen) < ttl;
            if !keep {
                fam.remove(labels);
            }
            keep
        });
    }

    /// Adds to the `"other"` pair series of `base`'s device, direction, encap.
    fn other(&mut self, base: &PairLabels, packets: u64) {
        let labels = PairLabels {
            outer_src: "other".into(),
            outer_dst: "other".into(),
            inner_src: "other".into(),
            inner_dst: "other".into(),
            ..base.clone()
        };
        self.fam.pair_packets.get_or_create(&labels).inc_by(packets);
        self.overflow.insert(labels, ());
    }

    /// `--expect-method`'s pick (method, device, address), or none: the
    /// old series goes when the pick changes.
    pub fn set_pick(&mut self, pick: Option<(&str, &str, IpAddr)>) {
        let labels = pick.map(|(method, device, address)| PickLabels {
            method: method.to_string(),
            device: device.to_string(),
            address: address.to_string(),
        });
        if let Some(l) = &labels {
            self.fam.autodetect.get_or_create(l).set(1);
        }
        if let Some(old) = self.pick.take() {
            if labels.as_ref() != Some(&old) {
                self.fam.autodetect.remove(&old);
            }
        }
        self.pick = labels;
    }

    /// Sets the findings gauges anew: a resolved finding's series goes.
    fn findings_from(&mut self, findings: &[(String, String)]) {
        let mut counts: HashMap<FindingLabels, i64> = HashMap::new();
        for (kind, device) in findings {
            let labels = FindingLabels {
                kind: kind.clone(),
                device: device.clone(),
            };
            *counts.entry(labels).or_default() += 1;
        }
        // Set the new values before removing the old series: a scrape in
        // between never sees the family empty.
        for (labels, n) in &counts {
            self.fam.findings.get_or_create(labels).set(*n);
        }
        for gone in self
            .finding_series
            .iter()
            .filter(|l| !counts.contains_key(*l))
        {
            self.fam.findings.remove(gone);
        }
        self.finding_series = counts.into_keys().collect();
    }

    fn capture_from(&mut self, nics: &[NicState]) {
        for n in nics {
            let device = || n.name.clone();
            raise(
                &self
                    .fam
                    .capture_packets
                    .get_or_create(&DeviceLabels { device: device() }),
                n.received,
            );
            for (reason, v) in [
                ("kernel", n.dropped_by_kernel),
                ("interface", n.dropped_by_interface),
            ] {
                raise(
                    &self.fam.capture_dropped.get_or_create(&DropLabels {
                        device: device(),
                        reason,
                    }),
                    v,
                );
            }
        }
    }
}

/// Sets a counter to a cumulative value (counters only go up).
fn raise(c: &Counter, to: u64) {
    let now = c.get();
    if to > now {
        c.inc_by(to - now);
    }
}

/// The encap's name as the JSON report spells it (through serde, so it
/// holds whether the row's encap is a string or a typed enum).
#[allow(clippy::needless_borrows_for_generic_args)]
pub(crate) fn encap_label(t: &TunnelRow) -> String {
    match serde_json::to_value(&t.encap) {
        Ok(serde_json::Value::String(s)) => s,
        _ => "unknown".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::Encap;
    use crate::report::PathEnd;

    fn end(device: &str, src: [u8; 4], dst: [u8; 4]) -> PathEnd {
        PathEnd {
            device: device.into(),
            encap: Encap::Ipip,
            outer_src: src.into(),
            outer_dst: dst.into(),
        }
    }

    #[test]
    fn path_changes_count_per_peer_and_devices() {
        let mut x = Exporter::new(Settings {
            node: "vms71".into(),
            local: vec![[192, 168, 30, 71].into(), [192, 168, 26, 71].into()],
            pairs: false,
            max_pairs: 10,
            pair_ttl: Duration::from_secs(600),
            audit: false,
            autodetect: false,
        });
        let moved = |src: &str, dst: &str, from: PathEnd, to: PathEnd, count| PathChange {
            src: src.into(),
            dst: dst.into(),
            from,
            to,
            at: "2026-12-01T12:03:07Z".into(),
            gap_ms: 800,
            count,
            last_at: None,
            pod_pairs: 1,
        };
        // vms71's own traffic to vms72 moved (egress: the peer is the receiver) ...
        x.path_changes(&[moved(
            "vms71",
            "vms72",
            end("ens33", [192, 168, 30, 71], [192, 168, 30, 72]),
            end("ens32", [192, 168, 26, 71], [192, 168, 26, 72]),
            1,
        )]);
        // ... and vms72's traffic to vms71 flapped three times (ingress).
        x.path_changes(&[moved(
            "vms72",
            "vms71",
            end("ens33", [192, 168, 30, 72], [192, 168, 30, 71]),
            end("ens32", [192, 168, 26, 72], [192, 168, 26, 71]),
            3,
        )]);
        let text = x.shared().metrics_text();
        assert!(
            text.contains(
                r#"tuntrace_path_changes_total{peer="vms72",from_device="ens33",to_device="ens32"} 4"#
            ),
            "{text}"
        );
        assert!(!text.contains("node="), "no node label");
    }
}
