//! What the audit checks against: the user's expectations, resolved (the
//! method evaluated on a host), plus the MTU per interface.

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use super::nodes::Nodes;

/// The interface and address `--expect-method` picks, and the host's own
/// addresses (to tell this node's tunnels from others in multi-node files).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MethodPick {
    pub method: String,
    pub interface: String,
    pub address: IpNet,
    #[serde(skip)]
    pub local_addrs: Vec<IpAddr>,
    /// The host's interface names: a capture interface not among them
    /// belongs to another node (multi-node file sets).
    #[serde(skip)]
    pub local_ifaces: Vec<String>,
}

/// Everything the checks need besides the report.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Expect {
    /// `--expect-iface`: tunnel traffic belongs on these NICs only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ifaces: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<MethodPick>,
    /// `--expect-cidr`: outer addresses belong in these networks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cidrs: Vec<IpNet>,
    /// `--pod-cidr`: the IP pools.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pod_cidrs: Vec<IpNet>,
    #[serde(skip)]
    pub nodes: Option<Nodes>,
    /// MTU when an interface has none of its own in `iface_mtu`.
    pub mtu: u32,
    /// Per-interface MTU (live capture).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub iface_mtu: BTreeMap<String, u32>,
    /// Outer packets within this many bytes of the MTU are "near" it.
    pub mtu_margin: u32,
}

impl Expect {
    pub fn new() -> Self {
        Self {
            mtu: 1500,
            mtu_margin: 8,
            ..Self::default()
        }
    }

    pub fn mtu_of(&self, iface: &str) -> u32 {
        self.iface_mtu.get(iface).copied().unwrap_or(self.mtu)
    }

    pub fn in_pods(&self, ip: IpAddr) -> bool {
        self.pod_cidrs.iter().any(|c| c.contains(&ip))
    }

    /// Node name or the address, for messages.
    pub fn label(&self, ip: IpAddr) -> String {
        match &self.nodes {
            Some(n) => n.label(ip),
            None => ip.to_string(),
        }
    }

    /// The node an address belongs to (the address itself when unknown).
    pub fn identity(&self, ip: IpAddr) -> String {
        match &self.nodes {
            Some(n) => n.identity(ip),
            None => ip.to_string(),
        }
    }
}
