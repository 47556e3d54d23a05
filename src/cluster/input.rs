//! Reading the reports `merge` joins, and telling which node each is from.
//!
//! A report's node is its `"node"` key (the daemon's `/report`), else
//! `--node-of FILE=NAME`, else the node (by `--nodes`/`--k8s`) found at one
//! end of every tunnel in it; when two nodes are (two nodes talking only to
//! each other), the one whose name is part of the file name.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::Directory;
use crate::report::Report;

/// Larger files are not reports `merge` can hold (a report with every table
/// full is far smaller); refused before reading, so memory stays bounded.
const MAX_REPORT_BYTES: u64 = 512 << 20;

/// One input with its node.
#[derive(Debug, Clone)]
pub struct NodeReport {
    pub name: String,
    pub file: String,
    pub report: Report,
}

/// A report whose node name is not settled yet.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub file: PathBuf,
    pub node: Option<String>,
    pub report: Report,
}

/// Why an input cannot be used (all exit 2), naming the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError(pub String);

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Deserialize)]
struct NodeKey {
    #[serde(default)]
    node: Option<String>,
}

/// Reads one report: `read`/`live --format json` output, or `/report`.
pub fn load(path: &Path) -> Result<Loaded, LoadError> {
    let err = |m: String| LoadError(format!("{}: {m}", path.display()));
    let len = std::fs::metadata(path)
        .map_err(|e| err(format!("cannot read: {e}")))?
        .len();
    if len > MAX_REPORT_BYTES {
        return Err(err(format!("{len} bytes: too large for a report")));
    }
    let text = std::fs::read_to_string(path).map_err(|e| err(format!("cannot read: {e}")))?;
    let key: NodeKey = serde_json::from_str(&text).map_err(|e| {
        err(format!(
            "not a tuntrace JSON report (read/live --format json, or /report): {e}"
        ))
    })?;
    let report: Report = serde_json::from_str(&text).map_err(|e| {
        err(format!(
            "not a tuntrace JSON report (read/live --format json, or /report): {e}"
        ))
    })?;
    Ok(Loaded {
        file: path.to_path_buf(),
        node: key.node.filter(|n| !n.is_empty()),
        report,
    })
}

/// Settles each report's node (see the module doc) and teaches `dir` the
/// addresses the reports show for nodes it did not know.
pub fn name_reports(
    loaded: Vec<Loaded>,
    node_of: &[(PathBuf, String)],
    dir: &mut Directory,
) -> Result<Vec<NodeReport>, LoadError> {
    let mut out = Vec::new();
    for l in loaded {
        let file = l.file.display().to_string();
        let given = node_of
            .iter()
            .find(|(p, _)| same_file(p, &l.file))
            .map(|(_, n)| n.clone());
        let name = match l.node.or(given) {
            Some(n) => n,
            None => derive_name(&l.report, &l.file, dir)?,
        };
        if out.iter().any(|r: &NodeReport| r.name == name) {
            return Err(LoadError(format!(
                "{file}: a second report for node {name}: merge takes one report per node"
            )));
        }
        out.push(NodeReport {
            name,
            file,
            report: l.report,
        });
    }
    infer_addresses(&out, dir);
    for r in &out {
        let known = dir.addrs_of(&r.name);
        let ends = endpoints(&r.report);
        if !ends.is_empty() && !ends.iter().any(|a| known.contains(a)) {
            return Err(LoadError(format!(
                "{}: none of its tunnels' addresses is known to be node {}'s: give --nodes or --k8s",
                r.file, r.name
            )));
        }
    }
    Ok(out)
}

/// `./a.json` and `a.json` are one file to `--node-of`.
fn same_file(a: &Path, b: &Path) -> bool {
    a == b
        || matches!(
            (a.canonicalize(), b.canonicalize()),
            (Ok(x), Ok(y)) if x == y
        )
}

/// Every outer address in a report's tunnels.
fn endpoints(r: &Report) -> BTreeSet<IpAddr> {
    r.links
        .iter()
        .flat_map(|l| &l.tunnels)
        .flat_map(|t| [t.outer_src, t.outer_dst])
        .collect()
}

/// Addresses found at one end of every tunnel of a report.
pub(super) fn common(r: &Report) -> BTreeSet<IpAddr> {
    let mut tunnels = r.links.iter().flat_map(|l| &l.tunnels);
    let Some(first) = tunnels.next() else {
        return BTreeSet::new();
    };
    let mut set: BTreeSet<IpAddr> = [first.outer_src, first.outer_dst].into();
    for t in tunnels {
        set.retain(|a| *a == t.outer_src || *a == t.outer_dst);
    }
    set
}

fn derive_name(r: &Report, file: &Path, dir: &Directory) -> Result<String, LoadError> {
    let names: BTreeSet<&str> = common(r).into_iter().filter_map(|a| dir.node(a)).collect();
    let stem = file
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let pick: Vec<&str> = if names.len() > 1 {
        names.iter().copied().filter(|n| stem.contains(n)).collect()
    } else {
        names.iter().copied().collect()
    };
    match pick.as_slice() {
        [one] => Ok(one.to_string()),
        _ => Err(LoadError(format!(
            "{}: cannot tell which node this report is from (no \"node\" key{}): give --node-of {}=NAME",
            file.display(),
            if names.is_empty() {
                String::new()
            } else {
                format!("; it could be {}", names.into_iter().collect::<Vec<_>>().join(" or "))
            },
            file.display()
        ))),
    }
}

/// Places unnamed addresses: one at an end of every tunnel of a report, and
/// the only one there not already another node's, is that report's node's.
fn infer_addresses(reports: &[NodeReport], dir: &mut Directory) {
    loop {
        let mut learned = false;
        for r in reports {
            let common = common(&r.report);
            if common.iter().any(|a| dir.node(*a) == Some(&r.name)) {
                continue;
            }
            let open: Vec<IpAddr> = common
                .into_iter()
                .filter(|a| dir.node(*a).is_none())
                .collect();
            if let [one] = open.as_slice() {
                dir.learn(*one, &r.name);
                learned = true;
            }
        }
        if !learned {
            return;
        }
    }
}
