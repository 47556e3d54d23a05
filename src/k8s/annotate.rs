//! The `--k8s` keys added to a report's JSON: `outer_src_node` /
//! `outer_dst_node` on each tunnel row and `src_pod` / `dst_pod` on each
//! inner pair, where the names know the address. The address keys stay, so
//! a consumer without names reads the same report.

use std::net::IpAddr;

use serde_json::Value;

use super::K8sNames;

/// Adds the name keys to a serialised report (`links[].tunnels[]`).
pub fn annotate_report(report: &mut Value, names: &K8sNames) {
    let Some(links) = report.get_mut("links").and_then(Value::as_array_mut) else {
        return;
    };
    for link in links {
        let Some(tunnels) = link.get_mut("tunnels").and_then(Value::as_array_mut) else {
            continue;
        };
        for t in tunnels {
            name_key(t, "outer_src", "outer_src_node", |ip| {
                names.node(ip).map(str::to_string)
            });
            name_key(t, "outer_dst", "outer_dst_node", |ip| {
                names.node(ip).map(str::to_string)
            });
            let Some(inner) = t.get_mut("inner").and_then(Value::as_array_mut) else {
                continue;
            };
            for p in inner {
                name_key(p, "src", "src_pod", |ip| names.pod(ip).map(|p| p.label()));
                name_key(p, "dst", "dst_pod", |ip| names.pod(ip).map(|p| p.label()));
            }
        }
    }
}

fn name_key(obj: &mut Value, addr_key: &str, key: &str, name: impl Fn(IpAddr) -> Option<String>) {
    let Some(ip) = obj
        .get(addr_key)
        .and_then(Value::as_str)
        .and_then(|s| s.parse().ok())
    else {
        return;
    };
    if let (Some(n), Some(map)) = (name(ip), obj.as_object_mut()) {
        map.insert(key.to_string(), Value::String(n));
    }
}
