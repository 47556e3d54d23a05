//! `tuntrace merge` over the bundled lab captures: both nodes of case 1 give
//! the NIC each direction left and arrived on; case 1's vms71 with case 2's
//! vms72 (the nodes disagree on the underlay) is flagged.

mod common;

use std::path::PathBuf;

use common::{run, TempDir};
use tuntrace::cluster::{ClusterKind, Merged, Pair};

/// `read captures/FILE --format json` written to `dir/NAME.json`.
fn report(dir: &TempDir, capture: &str, name: &str) -> PathBuf {
    let cap = format!("{}/captures/{capture}", env!("CARGO_MANIFEST_DIR"));
    let out = run(&["read", &cap, "--format", "json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let path = dir.path(&format!("{name}.json"));
    std::fs::write(&path, &out.stdout).unwrap();
    path
}

fn nodes_file() -> String {
    format!(
        "{}/tests/data-k8s/lab-nodes.txt",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// `merge FILES... --nodes lab-nodes.txt --format json EXTRA...`: (exit code, map).
fn merge(files: &[&PathBuf], extra: &[&str]) -> (i32, Merged) {
    let nodes = nodes_file();
    let mut args: Vec<&str> = vec!["merge"];
    args.extend(files.iter().map(|p| p.to_str().unwrap()));
    args.extend(["--nodes", &nodes, "--format", "json"]);
    args.extend(extra);
    let out = run(&args);
    let map = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code().unwrap(), map)
}

fn pair<'a>(m: &'a Merged, from: &str, to: &str) -> &'a Pair {
    m.pairs
        .iter()
        .find(|p| p.from == from && p.to == to)
        .unwrap_or_else(|| panic!("no pair {from} → {to} in {:?}", m.pairs))
}

/// (NIC, packets) of each side.
type Nics<'a> = Vec<(&'a str, u64)>;

fn nics(p: &Pair) -> (Nics<'_>, Nics<'_>) {
    (side(&p.left_on), side(&p.arrived_on))
}

fn side(s: &[tuntrace::report::IfaceCount]) -> Vec<(&str, u64)> {
    s.iter()
        .map(|c| (c.interface.as_str(), c.packets))
        .collect()
}

#[test]
fn case1_both_nodes_name_left_and_arrived_nics() {
    let dir = TempDir::new("merge-case1");
    // No "node" key: both nodes are at every tunnel's ends, so the file
    // name picks between them.
    let a = report(&dir, "case1-interface-vms71.pcapng", "case1-vms71");
    let b = report(&dir, "case1-interface-vms72.pcapng", "case1-vms72");
    let (code, m) = merge(&[&a, &b], &[]);
    assert_eq!(code, 0, "{:?}", m.findings);
    let names: Vec<&str> = m.nodes.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["vms71", "vms72"]);
    assert_eq!(m.pairs.len(), 2);
    let fwd = pair(&m, "vms71", "vms72");
    assert_eq!(nics(fwd), (vec![("ens33", 10)], vec![("eth0", 10)]));
    assert_eq!((fwd.sent, fwd.received), (Some(10), Some(10)));
    assert_eq!(fwd.outer[0].src.to_string(), "192.168.30.71");
    assert_eq!(fwd.encap, [tuntrace::decode::Encap::Ipip]);
    assert_eq!(fwd.inner[0].src.to_string(), "10.244.118.193");
    let back = pair(&m, "vms72", "vms71");
    assert_eq!(nics(back), (vec![("eth0", 10)], vec![("ens33", 10)]));
    assert!(m.findings.is_empty());

    // The table says the same.
    let nodes = nodes_file();
    let out = run(&[
        "merge",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "--nodes",
        &nodes,
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("vms71 → vms72"))
        .unwrap();
    let words: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(
        words,
        ["vms71", "→", "vms72", "IPIP", "ens33", "(10)", "eth0", "(10)", "10", "10"]
    );
}

#[test]
fn node_keys_and_expectations() {
    let dir = TempDir::new("merge-keys");
    let a = report(&dir, "case1-interface-vms71.pcapng", "a");
    let b = report(&dir, "case1-interface-vms72.pcapng", "b");
    // A daemon's /report: the report plus "node".
    for (p, node) in [(&a, "vms71"), (&b, "vms72")] {
        let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
        v["node"] = node.into();
        std::fs::write(p, serde_json::to_vec(&v).unwrap()).unwrap();
    }
    let (code, m) = merge(
        &[&a, &b],
        &["--expect-iface", "ens32,eth1", "--cross-subnet"],
    );
    assert_eq!(code, 4);
    let kinds: Vec<(ClusterKind, &str, &str, &str)> = m
        .findings
        .iter()
        .map(|f| {
            (
                f.kind,
                f.from.as_str(),
                f.node.as_str(),
                f.interface[0].as_str(),
            )
        })
        .collect();
    assert!(
        kinds.contains(&(ClusterKind::UnexpectedInterface, "vms71", "vms71", "ens33")),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&(ClusterKind::UnexpectedInterface, "vms71", "vms72", "eth0")),
        "{kinds:?}"
    );
    // 192.168.30.71/24 and .72/24 share a subnet: CrossSubnet would not encapsulate.
    assert!(
        kinds.contains(&(ClusterKind::EncapMode, "vms71", "vms71", "ens33")),
        "{kinds:?}"
    );
    assert_eq!(kinds.len(), 6, "{kinds:?}");
}

#[test]
fn nodes_disagreeing_on_the_underlay_are_asymmetric_and_one_sided() {
    let dir = TempDir::new("merge-asym");
    let a = report(&dir, "case1-interface-vms71.pcapng", "vms71");
    let b = report(&dir, "case2-interface-vms72.pcapng", "vms72");
    let (code, m) = merge(&[&a, &b], &[]);
    assert_eq!(code, 4);
    let fwd = pair(&m, "vms71", "vms72");
    assert_eq!(nics(fwd), (vec![("ens33", 10)], vec![("eth1", 10)]));
    let asym: Vec<_> = m
        .findings
        .iter()
        .filter(|f| f.kind == ClusterKind::Asymmetric)
        .collect();
    assert_eq!(asym.len(), 1, "{:?}", m.findings);
    assert!(
        asym[0].detail.contains("192.168.30.71 → 192.168.30.72"),
        "{}",
        asym[0].detail
    );
    assert!(
        asym[0].detail.contains("192.168.26.72 → 192.168.26.71"),
        "{}",
        asym[0].detail
    );
    let one: Vec<_> = m
        .findings
        .iter()
        .filter(|f| f.kind == ClusterKind::OneSided)
        .collect();
    assert_eq!(one.len(), 4, "{:?}", m.findings);
}

#[test]
fn unreadable_or_unplaced_inputs_exit_2_naming_the_file() {
    let dir = TempDir::new("merge-bad");
    let junk = dir.path("junk.json");
    std::fs::write(&junk, b"{\"packets\": 3}").unwrap();
    let out = run(&["merge", junk.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("junk.json: not a tuntrace JSON report"));
    let missing = dir.path("missing.json");
    let out = run(&["merge", missing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.json: cannot read"));
    // Two nodes, no names anywhere: which is which cannot be told.
    let a = report(&dir, "case1-interface-vms71.pcapng", "x");
    let b = report(&dir, "case1-interface-vms72.pcapng", "y");
    let out = run(&["merge", a.to_str().unwrap(), b.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--node-of"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // --node-of names the reports; with both addresses at every tunnel's
    // ends, --nodes still says which address is whose.
    let nodes = nodes_file();
    // The first file written another way.
    let (xa, yb) = (
        format!("{}/./x.json=vms71", dir.0.display()),
        format!("{}=vms72", b.display()),
    );
    let out = run(&[
        "merge",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "--node-of",
        &xa,
        "--node-of",
        &yb,
        "--nodes",
        &nodes,
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn one_direction_on_two_nics_is_split() {
    let dir = TempDir::new("merge-split");
    let a = report(&dir, "case1-interface-vms71.pcapng", "vms71");
    let b = report(&dir, "case1-interface-vms72.pcapng", "vms72");
    // vms71's report edited: the 71 → 72 tunnel also seen on ens32.
    let mut r: tuntrace::report::Report =
        serde_json::from_slice(&std::fs::read(&a).unwrap()).unwrap();
    let ens33 = r.links.iter().position(|l| l.interface == "ens33").unwrap();
    let t = r.links[ens33]
        .tunnels
        .iter()
        .find(|t| t.outer_src.to_string() == "192.168.30.71")
        .unwrap()
        .clone();
    let ens32 = r.links.iter().position(|l| l.interface == "ens32").unwrap();
    r.links[ens32].tunnels.push(t);
    std::fs::write(&a, serde_json::to_vec(&r).unwrap()).unwrap();
    let (code, m) = merge(&[&a, &b], &[]);
    assert_eq!(code, 4);
    let fwd = pair(&m, "vms71", "vms72");
    assert_eq!(nics(fwd).0, [("ens32", 10), ("ens33", 10)]);
    assert_eq!(fwd.sent, Some(20));
    let kinds: Vec<(ClusterKind, &str, Vec<&str>)> = m
        .findings
        .iter()
        .map(|f| {
            (
                f.kind,
                f.node.as_str(),
                f.interface.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    assert!(
        kinds.contains(&(ClusterKind::Split, "vms71", vec!["ens32", "ens33"])),
        "{kinds:?}"
    );
    // Leaves on ens32 and ens33, replies arrive on ens33 only: asymmetric too.
    assert!(
        kinds.iter().any(|k| k.0 == ClusterKind::Asymmetric),
        "{kinds:?}"
    );
    assert!(
        !kinds.iter().any(|k| k.0 == ClusterKind::OneSided),
        "{kinds:?}"
    );
}

#[test]
fn cross_subnet_flags_plain_pod_traffic_between_subnets() {
    let dir = TempDir::new("merge-plain");
    let a = report(&dir, "case1-interface-vms71.pcapng", "vms71");
    let b = report(&dir, "case1-interface-vms72.pcapng", "vms72");
    // vms71's report gains what `audit` records: pod1 → pod2 sent plain on ens33.
    let mut r: tuntrace::report::Report =
        serde_json::from_slice(&std::fs::read(&a).unwrap()).unwrap();
    r.plain.push(tuntrace::report::PlainFlowRow {
        interface: "ens33".into(),
        src: "10.244.118.193".parse().unwrap(),
        dst: "10.244.5.194".parse().unwrap(),
        proto: 1,
        packets: 7,
        bytes: 700,
        first_seen: "2026-11-25T13:46:36Z".into(),
        last_seen: "2026-11-25T13:46:37Z".into(),
    });
    std::fs::write(&a, serde_json::to_vec(&r).unwrap()).unwrap();
    // Each node alone in its subnet (/32): encapsulating between them is right.
    let nodes = dir.path("nodes.txt");
    std::fs::write(&nodes, "vms71 192.168.30.71/32\nvms72 192.168.30.72/32\n").unwrap();
    let pods = format!("{}/tests/data-k8s/pods.json", env!("CARGO_MANIFEST_DIR"));
    let out = run(&[
        "merge",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "--nodes",
        nodes.to_str().unwrap(),
        "--k8s",
        &pods,
        "--cross-subnet",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(4));
    let m: Merged = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(m.findings.len(), 1, "{:?}", m.findings);
    let f = &m.findings[0];
    assert_eq!(f.kind, ClusterKind::EncapMode);
    assert_eq!(
        (f.from.as_str(), f.to.as_str(), f.node.as_str()),
        ("vms71", "vms72", "vms71")
    );
    assert_eq!(
        (f.interface.as_slice(), f.packets),
        (&["ens33".to_string()][..], 7)
    );
    assert!(f.detail.contains("shop/web-0 → shop/db-0"), "{}", f.detail);
}
