//! `tuntrace merge REPORT...`: one path map from several nodes' reports.
//! Exit 0 when clean, 4 with findings, 2 on an unreadable input.

use std::io::Write;
use std::path::PathBuf;

use crate::audit::{read_nodes, Expect};
use crate::cli::{MergeArgs, MergeFormat};
use crate::cluster::{self, ClusterFinding, Directory, Merged, Options, Pair};
use crate::exit;
use crate::k8s::K8sNames;
use crate::report::IfaceCount;

pub fn run(args: &MergeArgs) -> u8 {
    run_to(args, &mut std::io::stdout())
}

pub fn run_to(args: &MergeArgs, out: &mut dyn Write) -> u8 {
    let merged = match build(args) {
        Ok(m) => m,
        Err(e) => {
            super::error(e);
            return exit::USAGE;
        }
    };
    let written = match args.format {
        MergeFormat::Svg => crate::render::svg::render(&merged, out),
        MergeFormat::Json => serde_json::to_writer_pretty(&mut *out, &merged)
            .map_err(std::io::Error::from)
            .and_then(|_| writeln!(out)),
        MergeFormat::Table => table(&merged, out),
    };
    if let Err(e) = written {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            super::error(format!("writing the path map: {e}"));
            return exit::USAGE;
        }
    }
    if merged.findings.is_empty() {
        exit::OK
    } else {
        exit::FINDINGS
    }
}

/// Reads every input and merges; `Err` names the file and the problem.
pub fn build(args: &MergeArgs) -> Result<Merged, String> {
    let mut node_of = Vec::new();
    for spec in &args.node_of {
        match spec.rsplit_once('=') {
            Some((f, n)) if !f.is_empty() && !n.is_empty() => {
                node_of.push((PathBuf::from(f), n.to_string()))
            }
            _ => return Err(format!("--node-of {spec:?}: expected FILE=NAME")),
        }
    }
    let nodes = match &args.nodes {
        Some(p) => Some(read_nodes(p)?),
        None => None,
    };
    let k8s = K8sNames::read(&args.k8s)?;
    let mut dir = Directory::new(nodes, k8s);
    let loaded = args
        .files
        .iter()
        .map(|p| cluster::load(p))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    let reports = cluster::name_reports(loaded, &node_of, &mut dir).map_err(|e| e.to_string())?;
    let mut expect = Expect::new();
    expect.ifaces = args
        .expect_iface
        .iter()
        .filter(|s| !s.is_empty())
        .cloned()
        .collect();
    expect.cidrs = args.expect_cidr.iter().map(|c| c.trunc()).collect();
    let opts = Options {
        expect,
        cross_subnet: args.cross_subnet,
    };
    Ok(cluster::merge(&reports, &dir, &opts))
}

fn sides(v: &[IfaceCount], seen: Option<u64>) -> String {
    match seen {
        None => "(no report)".into(),
        Some(_) if v.is_empty() => "-".into(),
        Some(_) => v
            .iter()
            .map(|c| format!("{} ({})", c.interface, c.packets))
            .collect::<Vec<_>>()
            .join(", "),
    }
}

fn count(n: Option<u64>) -> String {
    n.map(|n| n.to_string()).unwrap_or_else(|| "-".into())
}

fn row(p: &Pair) -> [String; 6] {
    [
        format!("{} → {}", p.from, p.to),
        p.encap
            .iter()
            .map(|e| e.label())
            .collect::<Vec<_>>()
            .join("+"),
        sides(&p.left_on, p.sent),
        sides(&p.arrived_on, p.received),
        count(p.sent),
        count(p.received),
    ]
}

/// Pairs as aligned columns, then the findings.
fn table(m: &Merged, out: &mut dyn Write) -> std::io::Result<()> {
    let names: Vec<&str> = m.nodes.iter().map(|n| n.name.as_str()).collect();
    writeln!(out, "{} nodes: {}", m.nodes.len(), names.join(", "))?;
    let head = [
        "PAIR",
        "ENCAP",
        "LEFT ON (sender)",
        "ARRIVED ON (receiver)",
        "SENT",
        "RECEIVED",
    ]
    .map(String::from);
    let rows: Vec<[String; 6]> = m.pairs.iter().map(row).collect();
    let mut width = [0usize; 6];
    for r in std::iter::once(&head).chain(&rows) {
        for (w, c) in width.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    writeln!(out)?;
    for r in std::iter::once(&head).chain(&rows) {
        let mut line = String::new();
        for (i, (c, w)) in r.iter().zip(width).enumerate() {
            let pad = w - c.chars().count();
            if i >= 4 {
                line.push_str(&" ".repeat(pad));
                line.push_str(c);
            } else {
                line.push_str(c);
                line.push_str(&" ".repeat(pad));
            }
            line.push_str("  ");
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    if m.pairs.is_empty() {
        writeln!(out, "(no tunnel between the nodes)")?;
    }
    writeln!(out)?;
    if m.findings.is_empty() {
        writeln!(out, "no findings")?;
    }
    for f in &m.findings {
        finding(f, out)?;
    }
    Ok(())
}

fn finding(f: &ClusterFinding, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(
        out,
        "! {} {} → {} on {} {}: {}",
        f.kind.as_str(),
        f.from,
        f.to,
        f.node,
        f.interface.join(", "),
        f.detail
    )
}
