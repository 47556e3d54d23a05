//! Who is who: outer address → node (from `--nodes`, `--k8s` and what the
//! reports themselves show), a node address's subnet, inner address → pod.

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnet::IpNet;

use crate::audit::nodes::Nodes;
use crate::k8s::{K8sNames, PodRef};

#[derive(Debug, Clone, Default)]
pub struct Directory {
    nodes: Nodes,
    k8s: K8sNames,
    /// Addresses placed by reading the reports (see `input::infer`).
    learned: BTreeMap<IpAddr, String>,
}

impl Directory {
    pub fn new(nodes: Option<Nodes>, k8s: K8sNames) -> Self {
        Self {
            nodes: nodes.unwrap_or_default(),
            k8s,
            learned: BTreeMap::new(),
        }
    }

    /// The node an outer address belongs to.
    pub fn node(&self, ip: IpAddr) -> Option<&str> {
        self.nodes
            .name(ip)
            .or_else(|| self.k8s.node(ip))
            .or_else(|| self.learned.get(&ip).map(String::as_str))
    }

    /// The node name, or the address itself for a stranger.
    pub fn node_or_addr(&self, ip: IpAddr) -> String {
        self.node(ip)
            .map(str::to_string)
            .unwrap_or_else(|| ip.to_string())
    }

    pub fn learn(&mut self, ip: IpAddr, node: &str) {
        self.learned.insert(ip, node.to_string());
    }

    /// The subnet a node address sits in, when a prefix was given.
    pub fn net(&self, ip: IpAddr) -> Option<IpNet> {
        self.nodes.net(ip).or_else(|| self.k8s.net(ip))
    }

    pub fn pod(&self, ip: IpAddr) -> Option<&PodRef> {
        self.k8s.pod(ip)
    }

    /// Every known address of `node`.
    pub fn addrs_of(&self, node: &str) -> Vec<IpAddr> {
        let mut v: Vec<IpAddr> = self
            .nodes
            .entries()
            .chain(self.k8s.node_addrs())
            .chain(self.learned.iter().map(|(a, n)| (*a, n.as_str())))
            .filter(|(_, n)| *n == node)
            .map(|(a, _)| a)
            .collect();
        v.sort();
        v.dedup();
        v
    }

    /// Whether two nodes share a subnet: `None` when no prefix is known.
    pub fn same_subnet(&self, a: &str, b: &str) -> Option<bool> {
        let nets: Vec<IpNet> = self
            .addrs_of(a)
            .into_iter()
            .filter_map(|ip| self.net(ip))
            .collect();
        if nets.is_empty() {
            return None;
        }
        let theirs = self.addrs_of(b);
        Some(nets.iter().any(|n| theirs.iter().any(|ip| n.contains(ip))))
    }
}
