//! `--k8s FILE`: what `kubectl get pods -A -o json|yaml` and `kubectl get
//! nodes -o json|yaml` print (a `PodList`, a `NodeList`, a `List` of both, or
//! a single `Pod`/`Node`), read into a lookup: pod IP → `namespace/pod`,
//! node address → node name (with its subnet when Calico's annotation gives
//! one). Only the fields used are modelled; everything else is ignored.

mod annotate;
mod guard;
mod model;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ipnet::IpNet;

use model::Item;

pub use annotate::annotate_report;

/// Files larger than this are not Kubernetes lists a user means (64 MiB
/// holds well over 50,000 pods); refusing them keeps memory bounded.
const MAX_FILE_BYTES: u64 = 64 << 20;

/// A pod: where its name and node come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodRef {
    pub namespace: String,
    pub name: String,
    pub node: Option<String>,
}

impl PodRef {
    /// `namespace/pod`, as kubectl users write it.
    pub fn label(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

/// Names from every `--k8s` file. A name is shared by all the addresses
/// it names (one allocation, not one copy per address): a pod or node with
/// a long name and many addresses stays the size of its text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct K8sNames {
    nodes: BTreeMap<IpAddr, Arc<str>>,
    nets: BTreeMap<IpAddr, IpNet>,
    pods: BTreeMap<IpAddr, Arc<PodRef>>,
}

impl K8sNames {
    /// Reads each file; the error names the file and what was wrong.
    pub fn read(paths: &[PathBuf]) -> Result<Self, String> {
        let mut names = K8sNames::default();
        for p in paths {
            names
                .add_file(p)
                .map_err(|e| format!("--k8s {}: {e}", p.display()))?;
        }
        Ok(names)
    }

    /// The node an outer address belongs to.
    pub fn node(&self, ip: IpAddr) -> Option<&str> {
        self.nodes.get(&ip).map(|n| &**n)
    }

    /// The pod holding an inner address.
    pub fn pod(&self, ip: IpAddr) -> Option<&PodRef> {
        self.pods.get(&ip).map(|p| &**p)
    }

    /// The node address with its prefix (Calico's `IPv4Address` annotation).
    pub fn net(&self, ip: IpAddr) -> Option<IpNet> {
        self.nets.get(&ip).copied()
    }

    /// (address, node name) of every node address, address order.
    pub fn node_addrs(&self) -> impl Iterator<Item = (IpAddr, &str)> {
        self.nodes.iter().map(|(a, n)| (*a, &**n))
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty() && self.pods.is_empty()
    }

    /// `vms72 (192.168.30.72)` for a node address, else the address: the
    /// tables' form of an outer address.
    pub fn outer_label(&self, ip: IpAddr) -> String {
        match self.node(ip) {
            Some(n) => format!("{n} ({ip})"),
            None => ip.to_string(),
        }
    }

    /// `namespace/pod` for a pod address, else the address: the tables'
    /// form of an inner address.
    pub fn inner_label(&self, ip: IpAddr) -> String {
        match self.pod(ip) {
            Some(p) => p.label(),
            None => ip.to_string(),
        }
    }

    fn add_file(&mut self, path: &Path) -> Result<(), String> {
        let len = std::fs::metadata(path)
            .map_err(|e| format!("cannot read: {e}"))?
            .len();
        if len > MAX_FILE_BYTES {
            return Err(format!(
                "{len} bytes: larger than {MAX_FILE_BYTES}, not a pod or node list"
            ));
        }
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read: {e}"))?;
        self.add_text(&text)
    }

    /// Adds one document (JSON or YAML).
    pub fn add_text(&mut self, text: &str) -> Result<(), String> {
        let doc = model::parse(text)?;
        match doc.kind.as_str() {
            "PodList" | "NodeList" | "List" => {
                let item_kind = doc.kind.strip_suffix("List").unwrap_or_default();
                for (i, item) in doc.items.into_iter().enumerate() {
                    self.add_item(item, item_kind)
                        .map_err(|e| format!("item {i}: {e}"))?;
                }
            }
            "Pod" | "Node" => {
                let kind = doc.kind.clone();
                self.add_item(doc.into_item(), &kind)?;
            }
            "" => return Err("no \"kind\": expected a PodList, NodeList or List".into()),
            k => return Err(format!("kind {k}: expected a PodList, NodeList or List")),
        }
        Ok(())
    }

    fn add_item(&mut self, item: Item, list_kind: &str) -> Result<(), String> {
        let kind = item.kind.as_deref().unwrap_or(list_kind);
        match kind {
            "Pod" => self.add_pod(item),
            "Node" => self.add_node(item),
            // A `List` may hold other objects (services...): not ours.
            _ => Ok(()),
        }
    }

    fn add_pod(&mut self, item: Item) -> Result<(), String> {
        // A host-network pod has its node's address: that name is the node's.
        if item.spec.host_network {
            return Ok(());
        }
        let pod = Arc::new(PodRef {
            namespace: item.metadata.namespace.unwrap_or_else(|| "default".into()),
            name: item.metadata.name,
            node: item.spec.node_name,
        });
        let mut ips: Vec<&str> = item.status.pod_ips.iter().map(|p| p.ip.as_str()).collect();
        if let Some(ip) = &item.status.pod_ip {
            ips.push(ip);
        }
        for ip in ips {
            let addr = parse_ip(ip).map_err(|e| format!("pod {}: {e}", pod.label()))?;
            self.pods.insert(addr, Arc::clone(&pod));
        }
        Ok(())
    }

    fn add_node(&mut self, item: Item) -> Result<(), String> {
        let name: Arc<str> = item.metadata.name.into();
        for a in &item.status.addresses {
            if a.kind == "InternalIP" || a.kind == "ExternalIP" {
                let ip = parse_ip(&a.address).map_err(|e| format!("node {name}: {e}"))?;
                self.nodes.insert(ip, Arc::clone(&name));
            }
        }
        for key in model::CALICO_ADDRESS_KEYS {
            let Some(v) = item.metadata.annotations.get(key) else {
                continue;
            };
            let bad = || format!("node {name}: annotation {key}: {v:?} is not an address");
            let (ip, net) = match v.parse::<IpNet>() {
                Ok(n) => (n.addr(), Some(n)),
                Err(_) => (v.parse::<IpAddr>().map_err(|_| bad())?, None),
            };
            self.nodes.insert(ip, Arc::clone(&name));
            // The tunnel addresses (/32) name the node, not its subnet.
            if key.ends_with("IPv4Address") || key.ends_with("IPv6Address") {
                if let Some(n) = net {
                    self.nets.insert(ip, n.trunc());
                }
            }
        }
        Ok(())
    }
}

fn parse_ip(s: &str) -> Result<IpAddr, String> {
    s.parse().map_err(|_| format!("{s:?} is not an IP address"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NODES: &str = r#"{"apiVersion":"v1","kind":"NodeList","items":[{"metadata":{"name":"vms71",
      "annotations":{"projectcalico.org/IPv4Address":"192.168.30.71/24",
      "projectcalico.org/IPv4IPIPTunnelAddr":"10.244.118.192"}},
      "status":{"addresses":[{"type":"InternalIP","address":"192.168.26.71"},
      {"type":"Hostname","address":"vms71"}]}}]}"#;

    #[test]
    fn nodes_from_addresses_and_calico_annotations() {
        let mut n = K8sNames::default();
        n.add_text(NODES).unwrap();
        for ip in ["192.168.26.71", "192.168.30.71", "10.244.118.192"] {
            assert_eq!(n.node(ip.parse().unwrap()), Some("vms71"), "{ip}");
        }
        assert_eq!(
            n.net("192.168.30.71".parse().unwrap()),
            Some("192.168.30.0/24".parse().unwrap())
        );
        assert_eq!(n.net("10.244.118.192".parse().unwrap()), None);
    }

    #[test]
    fn yaml_pod_list_and_wrong_kinds() {
        let mut n = K8sNames::default();
        n.add_text(
            "apiVersion: v1\nkind: PodList\nitems:\n- metadata:\n    name: web\n    namespace: shop\n  spec:\n    nodeName: vms71\n  status:\n    podIP: 10.244.118.193\n    podIPs:\n    - ip: 10.244.118.193\n",
        )
        .unwrap();
        let p = n.pod("10.244.118.193".parse().unwrap()).unwrap();
        assert_eq!(p.label(), "shop/web");
        assert_eq!(p.node.as_deref(), Some("vms71"));
        assert!(n
            .add_text(r#"{"kind":"ServiceList","items":[]}"#)
            .unwrap_err()
            .contains("ServiceList"));
        assert!(n
            .add_text(r#"{"items":[]}"#)
            .unwrap_err()
            .contains("no \"kind\""));
        assert!(n.add_text("- a\n- b\n").is_err());
    }
}
