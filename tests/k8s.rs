//! `--k8s`: pods and nodes named from hand-written PodList / NodeList / List
//! files (tests/data-k8s/) over the bundled case-1 captures.

mod common;

use common::{read_json, run, TempDir};
use tuntrace::cluster::Merged;

fn data(name: &str) -> String {
    format!("{}/tests/data-k8s/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn capture(name: &str) -> std::path::PathBuf {
    format!("{}/captures/{name}", env!("CARGO_MANIFEST_DIR")).into()
}

#[test]
fn read_json_gains_pod_and_node_keys_and_keeps_addresses() {
    let (pods, nodes) = (data("pods.json"), data("nodes.yaml"));
    let cap = capture("case1-interface-vms71.pcapng");
    let v = read_json(&[&cap], &["--k8s", &pods, "--k8s", &nodes], 0);
    let t = common::tunnel(
        common::link(&v, "ens33"),
        "ipip",
        "192.168.30.71",
        "192.168.30.72",
    );
    assert_eq!(t["outer_src_node"], "vms71");
    assert_eq!(t["outer_dst_node"], "vms72");
    assert_eq!(t["outer_src"], "192.168.30.71");
    let p = &t["inner"][0];
    assert_eq!(
        (p["src"].as_str(), p["dst"].as_str()),
        (Some("10.244.118.193"), Some("10.244.5.194"))
    );
    assert_eq!(
        (p["src_pod"].as_str(), p["dst_pod"].as_str()),
        (Some("shop/web-0"), Some("shop/db-0"))
    );
    // The report still reads back through the typed model.
    let r: tuntrace::report::Report = serde_json::from_value(v).unwrap();
    assert_eq!(r.packets.tunnelled, 20);
}

#[test]
fn read_table_names_pods_and_nodes() {
    let cap = capture("case1-interface-vms71.pcapng");
    let out = run(&["read", cap.to_str().unwrap(), "--k8s", &data("list.yaml")]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    // list.yaml has vms71 (its annotation address) and web-0 only.
    assert!(
        text.contains("IPIP   vms71 (192.168.30.71) → 192.168.30.72 "),
        "{text}"
    );
    assert!(
        text.contains("inner shop/web-0 → 10.244.5.194  10 pkts"),
        "{text}"
    );
}

#[test]
fn merge_needs_no_nodes_file_with_k8s_nodes() {
    let dir = TempDir::new("k8s-merge");
    let mut files = Vec::new();
    for n in ["vms71", "vms72"] {
        let cap = capture(&format!("case1-interface-{n}.pcapng"));
        let out = run(&["read", cap.to_str().unwrap(), "--format", "json"]);
        let p = dir.path(&format!("{n}.json"));
        std::fs::write(&p, out.stdout).unwrap();
        files.push(p.display().to_string());
    }
    let out = run(&[
        "merge",
        &files[0],
        &files[1],
        "--k8s",
        &data("nodes.yaml"),
        "--k8s",
        &data("pods.json"),
        "--format",
        "json",
        "--cross-subnet",
    ]);
    let m: Merged = serde_json::from_slice(&out.stdout).unwrap();
    let p = m
        .pairs
        .iter()
        .find(|p| p.from == "vms71" && p.to == "vms72")
        .unwrap();
    assert_eq!(p.left_on[0].interface, "ens33");
    assert_eq!(p.arrived_on[0].interface, "eth0");
    assert_eq!(p.inner[0].src_pod.as_deref(), Some("shop/web-0"));
    assert_eq!(p.inner[0].dst_pod.as_deref(), Some("shop/db-0"));
    // 192.168.30.71/24 (annotation) and .72 share a subnet: encap-mode.
    assert_eq!(out.status.code(), Some(4));
    assert!(m
        .findings
        .iter()
        .all(|f| f.kind == tuntrace::cluster::ClusterKind::EncapMode));
    assert_eq!(m.findings.len(), 2);
}

#[test]
fn audit_names_peers_from_k8s_nodes() {
    let cap = capture("case1-interface-vms71.pcapng");
    let out = run(&[
        "audit",
        "--read",
        cap.to_str().unwrap(),
        "--expect-iface",
        "ens32",
        "--k8s",
        &data("nodes.yaml"),
    ]);
    assert_eq!(out.status.code(), Some(4));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("vms71 (192.168.30.71) → vms72 (192.168.30.72)"),
        "{text}"
    );
}

#[test]
fn wrong_kind_or_unreadable_exits_2_naming_the_file() {
    let cap = capture("case1-interface-vms71.pcapng");
    for (file, says) in [
        (data("services.json"), "kind ServiceList"),
        (data("absent.json"), "cannot read"),
        (data("lab-nodes.txt"), "not a Kubernetes list"),
    ] {
        for cmd in [
            vec!["read", cap.to_str().unwrap()],
            vec!["audit", "--read", cap.to_str().unwrap()],
        ] {
            let mut args = cmd.clone();
            args.extend(["--k8s", &file]);
            let out = run(&args);
            assert_eq!(out.status.code(), Some(2), "{args:?}");
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                err.contains(&format!("--k8s {file}: ")) && err.contains(says),
                "{err}"
            );
        }
    }
}
