//! `--k8s` input: a PodList, NodeList or List (or one Pod or Node) in JSON
//! or YAML, read into names (pod IP → `namespace/pod`, node address → node).
//!
//! Checked: never a panic; memory held while reading stays within a fixed
//! multiple of the text (YAML aliases included); an accepted document names
//! only addresses written in it; the names written back out as a `List` in
//! JSON read back equal, and write the same JSON again.
#![no_main]

use std::collections::BTreeSet;
use std::net::IpAddr;

use ipnet::IpNet;
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};
use tuntrace::k8s::K8sNames;
use tuntrace_fuzz::alloc;
use tuntrace_fuzz::k8s::all_strings;

/// Bytes the reader may hold per byte of text: serde's parse of an
/// object-heavy document (`[{},{},…]`) with our model's items, about 70 a
/// byte; 128 leaves room, and an alias bomb passes it by orders of magnitude.
const PER_BYTE: usize = 128;
/// What reading any document may hold on top (parser state, maps).
const BASE: usize = 256 << 10;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mark = alloc::mark();
    let mut names = K8sNames::default();
    let result = names.add_text(text);
    let held = alloc::peak_since(mark);
    assert!(
        held <= PER_BYTE * text.len() + BASE,
        "{held} bytes held reading {} bytes of text",
        text.len()
    );
    match result {
        Err(e) => assert!(!e.is_empty()),
        Ok(()) => check_accepted(text, &names),
    }
});

fn check_accepted(text: &str, names: &K8sNames) {
    let strings = all_strings(text).expect("a document the names read parses generically");
    // Every address the text writes, as an address or an address/prefix.
    let written: BTreeSet<IpAddr> = strings
        .iter()
        .filter_map(|s| {
            s.parse::<IpAddr>()
                .ok()
                .or_else(|| s.parse::<IpNet>().ok().map(|n| n.addr()))
        })
        .collect();
    for (ip, node) in names.node_addrs() {
        assert!(
            written.contains(&ip),
            "node {node} at {ip}, not in the text"
        );
    }
    let json = to_json(names, &written);
    let mut again = K8sNames::default();
    again
        .add_text(&json)
        .unwrap_or_else(|e| panic!("own JSON does not read back: {e}\n{json}"));
    // Equal maps: so every pod address of `names` is among `written` too.
    assert_eq!(&again, names, "names read back from\n{json}");
    assert_eq!(to_json(&again, &written), json, "JSON written twice");
}

/// The names as a `List` of one Node item per node address (with Calico's
/// address annotation where a subnet is known) and one Pod item per pod
/// address among `candidates`.
fn to_json(names: &K8sNames, candidates: &BTreeSet<IpAddr>) -> String {
    let mut items = Vec::new();
    for (ip, node) in names.node_addrs() {
        let item = match names.net(ip) {
            Some(net) => json!({"kind": "Node", "metadata": {"name": node, "annotations": {
                "projectcalico.org/IPv4Address": format!("{ip}/{}", net.prefix_len())}}}),
            None => json!({"kind": "Node", "metadata": {"name": node},
                "status": {"addresses": [{"type": "InternalIP", "address": ip.to_string()}]}}),
        };
        items.push(item);
    }
    for ip in candidates {
        if let Some(pod) = names.pod(*ip) {
            let mut item = json!({"kind": "Pod",
                "metadata": {"name": pod.name, "namespace": pod.namespace},
                "status": {"podIP": ip.to_string()}});
            if let Some(node) = &pod.node {
                item["spec"] = json!({ "nodeName": node });
            }
            items.push(item);
        }
    }
    let list: Value = json!({"apiVersion": "v1", "kind": "List", "items": items});
    serde_json::to_string(&list).expect("JSON")
}
