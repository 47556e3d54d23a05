//! `--events FILE|-`: what changed, as JSON lines for log shippers — a
//! tunnel's path (the NICs it carried packets on in an interval) changing,
//! and audit findings appearing or going. Built from the interval reports.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::net::IpAddr;

use serde::Serialize;

use crate::report::Report;

use super::model::encap_label;
use crate::timefmt::rfc3339;

/// A tunnel: encap, outer pair, VNI.
type TunnelKey = (String, IpAddr, IpAddr, Option<u32>);

#[derive(Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
enum Event<'a> {
    /// The NICs a tunnel used changed (`from` empty: first seen).
    PathChange {
        time: &'a str,
        node: &'a str,
        encap: &'a str,
        outer_src: IpAddr,
        outer_dst: IpAddr,
        vni: Option<u32>,
        from: &'a [String],
        to: &'a [String],
    },
    /// An audit finding appeared (`state: new`) or went (`resolved`).
    Finding {
        time: &'a str,
        node: &'a str,
        state: &'a str,
        kind: &'a str,
        device: &'a str,
    },
}

/// Remembers the last path of each tunnel and the findings in force.
pub struct EventLog {
    node: String,
    out: Box<dyn Write + Send>,
    paths: BTreeMap<TunnelKey, Vec<String>>,
    findings: BTreeSet<(String, String)>,
    failed: bool,
}

impl EventLog {
    pub fn new(node: &str, out: Box<dyn Write + Send>) -> EventLog {
        EventLog {
            node: node.to_string(),
            out,
            paths: BTreeMap::new(),
            findings: BTreeSet::new(),
            failed: false,
        }
    }

    /// Compares the interval `iv` (ending at `now_ns`) and the current
    /// findings with what was seen before; writes one line per change.
    pub fn interval(&mut self, iv: &Report, findings: &[(String, String)], now_ns: u64) {
        let time = rfc3339(now_ns);
        let mut now: BTreeMap<TunnelKey, Vec<String>> = BTreeMap::new();
        for link in &iv.links {
            for t in &link.tunnels {
                let key = (encap_label(t), t.outer_src, t.outer_dst, t.vni);
                now.entry(key).or_default().push(link.interface.clone());
            }
        }
        let mut lines = Vec::new();
        for (key, mut devices) in now {
            devices.sort();
            devices.dedup();
            let before = self.paths.get(&key).cloned().unwrap_or_default();
            if before != devices {
                lines.push(line(&Event::PathChange {
                    time: &time,
                    node: &self.node,
                    encap: &key.0,
                    outer_src: key.1,
                    outer_dst: key.2,
                    vni: key.3,
                    from: &before,
                    to: &devices,
                }));
                self.paths.insert(key, devices);
            }
        }
        let current: BTreeSet<(String, String)> = findings.iter().cloned().collect();
        for (state, set) in [
            ("new", current.difference(&self.findings)),
            ("resolved", self.findings.difference(&current)),
        ] {
            for (kind, device) in set {
                lines.push(line(&Event::Finding {
                    time: &time,
                    node: &self.node,
                    state,
                    kind,
                    device,
                }));
            }
        }
        self.findings = current;
        self.write(&lines);
    }

    fn write(&mut self, lines: &[String]) {
        if self.failed || lines.is_empty() {
            return;
        }
        let written = lines
            .iter()
            .try_for_each(|l| self.out.write_all(l.as_bytes()))
            .and_then(|_| self.out.flush());
        if let Err(e) = written {
            eprintln!("tuntrace: warning: --events: {e}; no more events are written");
            self.failed = true;
        }
    }
}

fn line(e: &Event<'_>) -> String {
    let mut s = serde_json::to_string(e).unwrap_or_default();
    s.push('\n');
    s
}
