//! `merge`: reports from several nodes joined into one path map. For each
//! ordered node pair: the encapsulation, the NIC the traffic left on (the
//! sender's report), the NIC it arrived on (the receiver's report), packets
//! on each side, and what is wrong with the picture (asymmetric, split,
//! one-sided, unexpected interface, CrossSubnet encapsulation mode).
//!
//! Pure functions of typed reports and a [`Directory`] of names, above
//! `report` and beside `audit`, so the command, the picture and tests share
//! them.

mod checks;
mod directory;
mod input;
mod pairs;
mod single;

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::audit::Expect;
use crate::decode::Encap;
use crate::report::IfaceCount;

pub use directory::Directory;
pub use input::{load, name_reports, LoadError, Loaded, NodeReport};
pub use pairs::merge;
pub use single::single;

/// Inner pairs kept per node pair (the rest are summed in `inner_other`).
pub const MAX_INNER: usize = 32;

/// What the checks compare against.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `--expect-iface` / `--expect-cidr`, as `audit` reads them.
    pub expect: Expect,
    /// `--cross-subnet`: Calico's CrossSubnet mode is in force.
    pub cross_subnet: bool,
}

/// `tuntrace merge --format json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Merged {
    pub nodes: Vec<NodeInfo>,
    pub pairs: Vec<Pair>,
    pub findings: Vec<ClusterFinding>,
}

/// One input report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeInfo {
    pub name: String,
    pub file: String,
    /// Its own outer addresses seen in its tunnels.
    pub addresses: Vec<IpAddr>,
    /// Every NIC its report has, with or without traffic.
    pub interfaces: Vec<String>,
}

/// Traffic from one node to another (or to an address no input names).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pair {
    pub from: String,
    pub to: String,
    pub encap: Vec<Encap>,
    /// The distinct outer address pairs.
    pub outer: Vec<OuterPair>,
    /// NICs it left on, from the sender's report (empty when not seen there).
    pub left_on: Vec<IfaceCount>,
    /// NICs it arrived on, from the receiver's report.
    pub arrived_on: Vec<IfaceCount>,
    /// Packets in the sender's report; `None` when that report is not an input.
    pub sent: Option<u64>,
    /// Packets in the receiver's report; `None` when that report is not an input.
    pub received: Option<u64>,
    /// Inner pairs (the sender's view when it has one), most packets first.
    pub inner: Vec<InnerPair>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub inner_other: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// One outer address pair of a direction, with packets on each side (0
/// where that side's report has none or is not an input).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct OuterPair {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub sent: u64,
    pub received: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InnerPair {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub packets: u64,
    /// `namespace/pod` when `--k8s` names it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src_pod: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dst_pod: Option<String>,
}

/// What a cluster finding is about; serde writes the names the README lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClusterKind {
    Asymmetric,
    Split,
    OneSided,
    UnexpectedInterface,
    EncapMode,
}

impl ClusterKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ClusterKind::Asymmetric => "asymmetric",
            ClusterKind::Split => "split",
            ClusterKind::OneSided => "one-sided",
            ClusterKind::UnexpectedInterface => "unexpected-interface",
            ClusterKind::EncapMode => "encap-mode",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterFinding {
    pub kind: ClusterKind,
    pub from: String,
    pub to: String,
    /// The node whose NICs are concerned, and those NICs.
    pub node: String,
    pub interface: Vec<String>,
    pub packets: u64,
    pub detail: String,
}
