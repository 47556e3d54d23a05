//! A host described in a file, so autodetection can be evaluated for a node
//! we are not on (or in tests, without namespaces).
//!
//! Two formats, told apart by the top-level JSON value:
//! * an array: `ip -j addr` output as is (interfaces in `ip link` order,
//!   `addr_info[]` with `family`, `local`, `prefixlen`, and `address` for
//!   the peer of a point-to-point address), read by the rules of the Calico
//!   version given (see [`calico_address`]);
//! * an object: `{"ifaces": [{"name", "index"?, "addrs": ["ip/len", ...]}],
//!   "can_reach"?: {"DEST": "SOURCE IP"}, "default_gateway"?: "IP",
//!   "internal_ips"?: ["IP", ...]}`; the optional keys stand in for what
//!   only the real kernel knows.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;

use ipnet::IpNet;
use serde_json::Value;

use super::autodetect::{Family, Host, HostIface, Resolver};
use super::host::{calico_address, AddrEntry};
use super::version::CalicoVersion;

/// A host read from a file, with the route answers it carries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostFile {
    pub host: Host,
    /// `can-reach=` destination → the source address the kernel would use.
    pub can_reach: BTreeMap<String, IpAddr>,
    pub default_gateway: Option<IpAddr>,
    pub internal_ips: Vec<IpAddr>,
}

impl Resolver for HostFile {
    fn route_source(&self, dest: &str, family: Family) -> Result<IpAddr, String> {
        match self.can_reach.get(dest) {
            Some(ip) if family.matches(*ip) => Ok(*ip),
            Some(ip) => Err(format!("the host file routes {dest:?} from {ip}, not an {family} address")),
            None => Err(format!(
                "the host file has no route answer for {dest:?} (add \"can_reach\": {{\"{dest}\": \"SOURCE\"}})"
            )),
        }
    }
}

/// Reads and parses `path` by `version`'s rules; errors name the file.
pub fn read_host_file(path: &Path, version: CalicoVersion) -> Result<HostFile, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    parse_host_file_as(&text, version).map_err(|e| format!("{}: {e}", path.display()))
}

/// Parses either format (see the module doc) by the current Calico's rules.
pub fn parse_host_file(text: &str) -> Result<HostFile, String> {
    parse_host_file_as(text, CalicoVersion::default())
}

/// Parses either format by `version`'s rules.
pub fn parse_host_file_as(text: &str, version: CalicoVersion) -> Result<HostFile, String> {
    let v: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    match v {
        Value::Array(links) => Ok(HostFile {
            host: from_ip_json(&links, version)?,
            ..HostFile::default()
        }),
        Value::Object(_) => from_own(&v),
        _ => Err("expected `ip -j addr` output (an array) or an object with \"ifaces\"".into()),
    }
}

/// An `addr_info` entry back as the kernel's dump entry. `ip` prints
/// `address` only when IFA_ADDRESS differs from IFA_LOCAL (a peer), and
/// `local` for both; an IPv4 entry always carries both attributes, an
/// ordinary IPv6 one only IFA_ADDRESS.
fn dump_entry(index: u32, local: IpAddr, peer: Option<IpAddr>, prefix_len: u8) -> AddrEntry {
    let (address, local) = match peer {
        Some(p) => (Some(p), Some(local)),
        None if local.is_ipv4() => (Some(local), Some(local)),
        None => (Some(local), None),
    };
    AddrEntry {
        index,
        prefix_len,
        address,
        local,
    }
}

fn from_ip_json(links: &[Value], version: CalicoVersion) -> Result<Host, String> {
    let mut ifaces = Vec::with_capacity(links.len());
    for (i, l) in links.iter().enumerate() {
        let name = l["ifname"]
            .as_str()
            .ok_or_else(|| format!("entry {i}: no \"ifname\" (is this `ip -j addr` output?)"))?;
        let index = l["ifindex"].as_u64().unwrap_or(i as u64 + 1) as u32;
        let mut addrs = Vec::new();
        for a in l["addr_info"].as_array().map(Vec::as_slice).unwrap_or(&[]) {
            let (Some(local), Some(plen)) = (a["local"].as_str(), a["prefixlen"].as_u64()) else {
                continue;
            };
            let ip: IpAddr = local
                .parse()
                .map_err(|_| format!("{name}: bad address {local:?}"))?;
            IpNet::new(ip, plen.min(255) as u8)
                .map_err(|_| format!("{name}: bad prefix length {plen} for {local}"))?;
            let peer = match a["address"].as_str() {
                Some(p) => Some(
                    p.parse::<IpAddr>()
                        .map_err(|_| format!("{name}: bad peer address {p:?}"))?,
                ),
                None => None,
            };
            let entry = dump_entry(index, ip, peer, plen as u8);
            if let Some(net) = calico_address(&entry, version) {
                addrs.push(net);
            }
        }
        ifaces.push(HostIface {
            name: name.to_string(),
            index,
            addrs,
        });
    }
    Ok(Host { ifaces })
}

fn ip_of(v: &Value, what: &str) -> Result<IpAddr, String> {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("{what}: expected an IP address, got {v}"))
}

fn from_own(v: &Value) -> Result<HostFile, String> {
    let list = v["ifaces"]
        .as_array()
        .ok_or("expected \"ifaces\": [{\"name\": ..., \"addrs\": [...]}]")?;
    let mut ifaces = Vec::with_capacity(list.len());
    for (i, e) in list.iter().enumerate() {
        let name = e["name"]
            .as_str()
            .ok_or_else(|| format!("ifaces[{i}]: no \"name\""))?;
        let mut addrs = Vec::new();
        for a in e["addrs"].as_array().map(Vec::as_slice).unwrap_or(&[]) {
            let s = a.as_str().unwrap_or_default();
            let net: IpNet = s
                .parse()
                .map_err(|_| format!("{name}: address {a} is not ip/prefix"))?;
            addrs.push(net);
        }
        ifaces.push(HostIface {
            name: name.to_string(),
            index: e["index"].as_u64().unwrap_or(i as u64 + 1) as u32,
            addrs,
        });
    }
    let mut out = HostFile {
        host: Host { ifaces },
        ..HostFile::default()
    };
    if let Some(m) = v["can_reach"].as_object() {
        for (dest, src) in m {
            out.can_reach
                .insert(dest.clone(), ip_of(src, &format!("can_reach {dest}"))?);
        }
    }
    if !v["default_gateway"].is_null() {
        out.default_gateway = Some(ip_of(&v["default_gateway"], "default_gateway")?);
    }
    for ip in v["internal_ips"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[])
    {
        out.internal_ips.push(ip_of(ip, "internal_ips")?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_ip_json_addr() {
        let text = r#"[{"ifindex":1,"ifname":"lo","addr_info":[{"family":"inet","local":"127.0.0.1","prefixlen":8}]},
            {"ifindex":3,"ifname":"ens33","addr_info":[{"family":"inet","local":"192.168.30.71","prefixlen":24},
            {"family":"inet6","local":"fe80::1","prefixlen":64}]},{"ifindex":4,"ifname":"tunl0"}]"#;
        let h = parse_host_file(text).unwrap().host;
        assert_eq!(h.ifaces.len(), 3);
        assert_eq!(h.ifaces[1].index, 3);
        assert_eq!(
            h.ifaces[1].addrs[0],
            "192.168.30.71/24".parse::<IpNet>().unwrap()
        );
        assert_eq!(h.ifaces[1].addrs.len(), 2);
        assert!(h.ifaces[2].addrs.is_empty());
    }

    #[test]
    fn point_to_point_by_version() {
        let text = r#"[{"ifindex":5,"ifname":"ppp0","addr_info":[
            {"family":"inet","local":"10.0.0.1","address":"10.0.0.2","prefixlen":24},
            {"family":"inet6","local":"fd00::1","address":"fd00::2","prefixlen":64},
            {"family":"inet6","local":"fd00:1::1","prefixlen":64}]}]"#;
        let addrs = |v: CalicoVersion| -> Vec<String> {
            parse_host_file_as(text, v).unwrap().host.ifaces[0]
                .addrs
                .iter()
                .map(|a| a.to_string())
                .collect()
        };
        assert_eq!(
            addrs(CalicoVersion::new(3, 32)),
            ["10.0.0.1/32", "fd00::1/128", "fd00:1::1/64"]
        );
        assert_eq!(
            addrs(CalicoVersion::new(3, 31)),
            ["10.0.0.1/24", "fd00::1/64", "fd00:1::1/64"]
        );
        assert!(parse_host_file(&text.replace("10.0.0.2", "x"))
            .unwrap_err()
            .contains("peer"));
    }

    #[test]
    fn reads_own_format_with_routes() {
        let text = r#"{"ifaces":[{"name":"eth0","addrs":["10.0.2.15/24"]}],
            "can_reach":{"8.8.8.8":"10.0.2.15"},"internal_ips":["10.0.2.15"]}"#;
        let f = parse_host_file(text).unwrap();
        assert_eq!(f.host.ifaces[0].index, 1);
        assert_eq!(
            f.route_source("8.8.8.8", Family::V4),
            Ok("10.0.2.15".parse().unwrap())
        );
        assert!(f.route_source("1.1.1.1", Family::V4).is_err());
        assert_eq!(f.internal_ips.len(), 1);
    }

    #[test]
    fn rejects_garbage_with_a_reason() {
        assert!(parse_host_file("3").unwrap_err().contains("expected"));
        assert!(parse_host_file("[{}]").unwrap_err().contains("ifname"));
        assert!(
            parse_host_file(r#"{"ifaces":[{"name":"a","addrs":["x"]}]}"#)
                .unwrap_err()
                .contains("ip/prefix")
        );
    }
}
