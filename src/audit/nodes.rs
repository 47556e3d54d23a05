//! `--nodes FILE`: node names and their addresses, so findings say `vms72`
//! instead of an IP, and IPIP from a non-node address can be flagged.
//!
//! Formats: text lines `NAME ADDR [ADDR...]` (`#` starts a comment; an
//! address may carry a `/prefix`: `merge` uses it as the node's subnet), or JSON, either
//! `{"NAME": ["ADDR", ...]}` or `[{"name": "NAME", "addresses": [...]}]`.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;

use serde_json::Value;

/// Address → node name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Nodes {
    by_addr: BTreeMap<IpAddr, String>,
    /// The subnet of an address written with a `/prefix` (for `merge`).
    nets: BTreeMap<IpAddr, ipnet::IpNet>,
}

impl Nodes {
    pub fn name(&self, ip: IpAddr) -> Option<&str> {
        self.by_addr.get(&ip).map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.by_addr.is_empty()
    }

    /// (address, node name), address order.
    pub fn entries(&self) -> impl Iterator<Item = (IpAddr, &str)> {
        self.by_addr.iter().map(|(a, n)| (*a, n.as_str()))
    }

    /// The subnet of `ip` when the file gave a prefix.
    pub fn net(&self, ip: IpAddr) -> Option<ipnet::IpNet> {
        self.nets.get(&ip).copied()
    }

    /// `vms72 (192.168.26.72)`, or the bare address for strangers.
    pub fn label(&self, ip: IpAddr) -> String {
        match self.name(ip) {
            Some(n) => format!("{n} ({ip})"),
            None => ip.to_string(),
        }
    }

    /// The node an address belongs to, or the address itself.
    pub fn identity(&self, ip: IpAddr) -> String {
        self.name(ip)
            .map(str::to_string)
            .unwrap_or_else(|| ip.to_string())
    }

    /// Adds a node address from another source (`--k8s`); an address the
    /// file already gives keeps the file's name.
    pub fn add(&mut self, name: &str, ip: IpAddr) {
        self.by_addr.entry(ip).or_insert_with(|| name.to_string());
    }

    fn insert(&mut self, name: &str, addr: &str) -> Result<(), String> {
        let bare = addr.split('/').next().unwrap_or(addr);
        let ip: IpAddr = bare
            .parse()
            .map_err(|_| format!("node {name}: {addr:?} is not an IP address"))?;
        if let Some(other) = self.by_addr.get(&ip) {
            if other != name {
                return Err(format!("{ip} is listed for both {other} and {name}"));
            }
        }
        self.by_addr.insert(ip, name.to_string());
        if let Ok(net) = addr.parse::<ipnet::IpNet>() {
            self.nets.insert(ip, net.trunc());
        }
        Ok(())
    }
}

/// Reads `path`; errors name the file and line.
pub fn read_nodes(path: &Path) -> Result<Nodes, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    parse_nodes(&text).map_err(|e| format!("{}: {e}", path.display()))
}

pub fn parse_nodes(text: &str) -> Result<Nodes, String> {
    let t = text.trim_start();
    if t.starts_with('{') || t.starts_with('[') {
        return parse_json(t);
    }
    let mut nodes = Nodes::default();
    for (n, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("");
        let mut words = line.split_whitespace();
        let Some(name) = words.next() else { continue };
        let mut any = false;
        for addr in words {
            nodes
                .insert(name, addr)
                .map_err(|e| format!("line {}: {e}", n + 1))?;
            any = true;
        }
        if !any {
            return Err(format!(
                "line {}: node {name} has no address (expected `NAME ADDR...`)",
                n + 1
            ));
        }
    }
    Ok(nodes)
}

fn parse_json(t: &str) -> Result<Nodes, String> {
    let v: Value = serde_json::from_str(t).map_err(|e| format!("not JSON: {e}"))?;
    let mut nodes = Nodes::default();
    let mut add = |name: &str, addrs: &Value| -> Result<(), String> {
        let list = addrs
            .as_array()
            .ok_or_else(|| format!("node {name}: expected a list of addresses"))?;
        for a in list {
            nodes.insert(name, a.as_str().unwrap_or_default())?;
        }
        Ok(())
    };
    match &v {
        Value::Object(m) => {
            for (name, addrs) in m {
                add(name, addrs)?;
            }
        }
        Value::Array(list) => {
            for (i, e) in list.iter().enumerate() {
                let name = e["name"]
                    .as_str()
                    .ok_or_else(|| format!("entry {i}: no \"name\""))?;
                add(name, &e["addresses"])?;
            }
        }
        _ => return Err("expected an object or a list".into()),
    }
    Ok(nodes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_json() {
        let n = parse_nodes(
            "# lab\nvms71 192.168.26.71 192.168.30.71/24\nvms72 192.168.26.72 192.168.30.72\n",
        )
        .unwrap();
        assert_eq!(n.name("192.168.30.71".parse().unwrap()), Some("vms71"));
        assert_eq!(
            n.label("192.168.26.72".parse().unwrap()),
            "vms72 (192.168.26.72)"
        );
        assert_eq!(n.identity("10.0.0.1".parse().unwrap()), "10.0.0.1");
        let j = parse_nodes(r#"{"a": ["10.0.0.1"], "b": ["10.0.0.2"]}"#).unwrap();
        assert_eq!(j.name("10.0.0.2".parse().unwrap()), Some("b"));
        let k = parse_nodes(r#"[{"name": "a", "addresses": ["fd00::1"]}]"#).unwrap();
        assert_eq!(k.name("fd00::1".parse().unwrap()), Some("a"));
    }

    #[test]
    fn errors_name_the_line() {
        assert!(parse_nodes("a 10.0.0.1\nb\n")
            .unwrap_err()
            .starts_with("line 2"));
        assert!(parse_nodes("a x").unwrap_err().contains("not an IP"));
        assert!(parse_nodes("a 10.0.0.1\nb 10.0.0.1")
            .unwrap_err()
            .contains("both"));
    }
}
