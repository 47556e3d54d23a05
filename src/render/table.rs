//! The human table: per interface, its kernel counters when live, its
//! tunnels with their top inner pairs, then a one-line verdict; after the
//! interfaces, warnings for tunnels seen on several links, the decode stops
//! and the inputs that failed.

use std::io::{self, Write};

use crate::k8s::K8sNames;
use crate::report::{layer_name, reason_name, Link, Report, TunnelRow};

pub fn render(report: &Report, top: usize, out: &mut dyn Write) -> io::Result<()> {
    render_named(report, top, None, out)
}

/// The table with `--k8s` names: outer addresses as `node (address)`,
/// inner ones as `namespace/pod`.
pub fn render_named(
    report: &Report,
    top: usize,
    names: Option<&K8sNames>,
    out: &mut dyn Write,
) -> io::Result<()> {
    let p = &report.packets;
    writeln!(
        out,
        "{}: {} tunnelled, {} undecodable",
        plural(p.total, "packet"),
        p.tunnelled,
        p.undecodable
    )?;
    for link in &report.links {
        writeln!(out)?;
        render_link(link, top, names, out)?;
    }
    if !report.multi_interface.is_empty() {
        writeln!(out)?;
        for m in &report.multi_interface {
            let on: Vec<String> = m
                .interfaces
                .iter()
                .map(|i| format!("{} ({} pkts)", i.interface, i.packets))
                .collect();
            writeln!(
                out,
                "! {} {} → {}{} seen on {} interfaces: {}",
                m.encap.label(),
                m.outer_src,
                m.outer_dst,
                vni_suffix(m.vni),
                m.interfaces.len(),
                on.join(", ")
            )?;
        }
    }
    if !report.decode_stops.is_empty() {
        writeln!(out)?;
        let parts: Vec<String> = report
            .decode_stops
            .iter()
            .map(|s| {
                let (layer, reason) = (layer_name(s.layer), reason_name(s.reason));
                format!("{layer} {reason}: {}", s.packets)
            })
            .collect();
        writeln!(out, "decode stops: {}", parts.join(", "))?;
    }
    for s in &report.sources {
        if let Some(e) = &s.error {
            writeln!(out, "! {}: {}", s.name, e)?;
        }
    }
    Ok(())
}

fn render_link(
    link: &Link,
    top: usize,
    names: Option<&K8sNames>,
    out: &mut dyn Write,
) -> io::Result<()> {
    writeln!(
        out,
        "{}: {}, {}, {} tunnelled",
        link.interface,
        plural(link.packets, "packet"),
        human_bytes(link.bytes),
        link.tunnelled
    )?;
    if let Some(c) = &link.capture {
        let mut line = format!(
            "  capture: {} received, {} dropped by kernel, {} dropped by interface",
            c.received, c.dropped_by_kernel, c.dropped_by_interface
        );
        if let Some(t) = &c.vanished_at {
            line.push_str(&format!("; interface vanished at {t}"));
        }
        if let Some(e) = &c.error {
            line.push_str(&format!("; {e}"));
        }
        writeln!(out, "{line}")?;
    }
    if !link.tunnels.is_empty() {
        let rows: Vec<[String; 7]> = link
            .tunnels
            .iter()
            .map(|t| tunnel_cells(t, names))
            .collect();
        let head = [
            "ENCAP",
            "OUTER SRC",
            "OUTER DST",
            "VNI/KEY",
            "PACKETS",
            "BYTES",
            "FRAGS",
        ];
        let mut w = head.map(str::len);
        for r in &rows {
            for (i, c) in r.iter().enumerate() {
                w[i] = w[i].max(c.chars().count());
            }
        }
        let line = |c: [&str; 7]| {
            format!(
                "  {:<w0$}  {:<w1$} → {:<w2$}  {:<w3$}  {:>w4$}  {:>w5$}  {:>w6$}",
                c[0],
                c[1],
                c[2],
                c[3],
                c[4],
                c[5],
                c[6],
                w0 = w[0],
                w1 = w[1],
                w2 = w[2],
                w3 = w[3],
                w4 = w[4],
                w5 = w[5],
                w6 = w[6]
            )
        };
        writeln!(out, "{}", line(head))?;
        for (t, r) in link.tunnels.iter().zip(&rows) {
            writeln!(out, "{}", line(r.each_ref().map(String::as_str)))?;
            writeln!(out, "      {} … {}", t.first_seen, t.last_seen)?;
            for pair in t.inner.iter().take(top) {
                writeln!(
                    out,
                    "      inner {} → {}  {} pkts, {}",
                    inner(pair.src, names),
                    inner(pair.dst, names),
                    pair.packets,
                    human_bytes(pair.bytes)
                )?;
            }
            if t.inner.len() > top {
                let rest: u64 = t.inner[top..].iter().map(|p| p.packets).sum();
                writeln!(
                    out,
                    "      … {} more inner pairs, {} pkts",
                    t.inner.len() - top,
                    rest
                )?;
            }
            if let Some(o) = &t.inner_other {
                writeln!(
                    out,
                    "      other inner pairs (over the limit): {} pkts",
                    o.packets
                )?;
            }
            if t.no_inner > 0 {
                writeln!(out, "      no inner pair readable: {} pkts", t.no_inner)?;
            }
        }
    }
    if let Some(o) = &link.other_tunnels {
        writeln!(
            out,
            "  other tunnels (over the limit): {} pkts, {}",
            o.packets,
            human_bytes(o.bytes)
        )?;
    }
    writeln!(out, "  verdict: {}", verdict(link))
}

fn inner(ip: std::net::IpAddr, names: Option<&K8sNames>) -> String {
    names.map_or_else(|| ip.to_string(), |n| n.inner_label(ip))
}

fn tunnel_cells(t: &TunnelRow, names: Option<&K8sNames>) -> [String; 7] {
    let outer = |ip: std::net::IpAddr| names.map_or_else(|| ip.to_string(), |n| n.outer_label(ip));
    [
        t.encap.label().to_string(),
        outer(t.outer_src),
        outer(t.outer_dst),
        t.vni.map(|v| v.to_string()).unwrap_or_else(|| "-".into()),
        t.packets.to_string(),
        t.bytes.to_string(),
        t.fragments.to_string(),
    ]
}

/// `ens33 carries IPIP 192.168.30.71 → 192.168.30.72 (10 pkts, pods a → b)`.
pub fn verdict(link: &Link) -> String {
    if link.tunnels.is_empty() {
        return format!(
            "{} carries no tunnel traffic ({} seen)",
            link.interface,
            plural(link.packets, "packet")
        );
    }
    let parts: Vec<String> = link
        .tunnels
        .iter()
        .take(4)
        .map(|t| {
            let pods = match t.inner.first() {
                Some(p) if t.inner.len() == 1 => format!(", pods {} → {}", p.src, p.dst),
                Some(p) => format!(
                    ", pods {} → {} and {} more pairs",
                    p.src,
                    p.dst,
                    t.inner.len() - 1
                ),
                None => String::new(),
            };
            format!(
                "{} {} → {}{} ({} pkts{})",
                t.encap.label(),
                t.outer_src,
                t.outer_dst,
                vni_suffix(t.vni),
                t.packets,
                pods
            )
        })
        .collect();
    let more = link.tunnels.len().saturating_sub(4);
    let tail = if more > 0 {
        format!(" and {more} more tunnels")
    } else {
        String::new()
    };
    format!("{} carries {}{}", link.interface, parts.join("; "), tail)
}

fn vni_suffix(vni: Option<u32>) -> String {
    vni.map(|v| format!(" vni {v}")).unwrap_or_default()
}

/// `1 packet`, `2 packets`.
pub fn plural(n: u64, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}

pub fn human_bytes(b: u64) -> String {
    const UNITS: [&str; 4] = ["KB", "MB", "GB", "TB"];
    if b < 1000 {
        return format!("{b} B");
    }
    let mut v = b as f64;
    let mut unit = "B";
    for u in UNITS {
        if v < 1000.0 {
            break;
        }
        v /= 1000.0;
        unit = u;
    }
    format!("{v:.1} {unit}")
}
