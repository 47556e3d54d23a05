//! The few Kubernetes fields tuntrace reads, as serde types (no k8s-openapi:
//! its full Pod and Node types are a large build for six fields).

use std::collections::BTreeMap;

use serde::Deserialize;

/// Calico's node annotations holding an address of the node.
pub const CALICO_ADDRESS_KEYS: [&str; 4] = [
    "projectcalico.org/IPv4Address",
    "projectcalico.org/IPv6Address",
    "projectcalico.org/IPv4IPIPTunnelAddr",
    "projectcalico.org/IPv4VXLANTunnelAddr",
];

/// A list, or one object (then its own fields are used).
#[derive(Debug, Deserialize)]
pub struct Doc {
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub items: Vec<Item>,
    #[serde(default)]
    pub metadata: Meta,
    #[serde(default)]
    pub spec: Spec,
    #[serde(default)]
    pub status: Status,
}

impl Doc {
    pub fn into_item(self) -> Item {
        Item {
            kind: Some(self.kind),
            metadata: self.metadata,
            spec: self.spec,
            status: self.status,
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct Item {
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub metadata: Meta,
    #[serde(default)]
    pub spec: Spec,
    #[serde(default)]
    pub status: Status,
}

#[derive(Debug, Default, Deserialize)]
pub struct Meta {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Spec {
    #[serde(default, rename = "nodeName")]
    pub node_name: Option<String>,
    #[serde(default, rename = "hostNetwork")]
    pub host_network: bool,
}

#[derive(Debug, Default, Deserialize)]
pub struct Status {
    #[serde(default, rename = "podIP")]
    pub pod_ip: Option<String>,
    #[serde(default, rename = "podIPs")]
    pub pod_ips: Vec<PodIp>,
    #[serde(default)]
    pub addresses: Vec<NodeAddress>,
}

#[derive(Debug, Deserialize)]
pub struct PodIp {
    pub ip: String,
}

#[derive(Debug, Deserialize)]
pub struct NodeAddress {
    #[serde(rename = "type")]
    pub kind: String,
    pub address: String,
}

/// JSON when it looks like JSON (better messages), else YAML.
pub fn parse(text: &str) -> Result<Doc, String> {
    if text.trim_start().starts_with('{') {
        serde_json::from_str(text).map_err(|e| format!("not a Kubernetes list (JSON): {e}"))
    } else {
        super::guard::check_yaml_expansion(text)?;
        serde_yaml::from_str(text).map_err(|e| format!("not a Kubernetes list (YAML): {e}"))
    }
}
