//! `tuntrace autodetect` and `tuntrace routes` as a user runs them: hosts
//! given with `--host-file` (our JSON and `ip -j addr` output), JSON and
//! table output, exit codes 0 / 1 / 2. No namespaces needed.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

/// §9 Host A: Vagrant-style node with Docker and IPIP.
const HOST_A: &str = r#"{"ifaces": [
  {"name": "lo", "addrs": ["127.0.0.1/8"]},
  {"name": "eth0", "addrs": ["10.0.2.15/24"]},
  {"name": "eth1", "addrs": ["192.168.56.11/24"]},
  {"name": "docker0", "addrs": ["172.17.0.1/16"]},
  {"name": "tunl0", "addrs": ["10.244.12.192/32"]}],
 "can_reach": {"8.8.8.8": "10.0.2.15", "192.168.56.1": "192.168.56.11"},
 "default_gateway": "10.0.2.2"}"#;

/// §9 Host B as `ip -j addr` prints it (trimmed to the keys we read).
const HOST_B_IP_J: &str = r#"[
 {"ifindex": 1, "ifname": "lo", "addr_info": [{"family": "inet", "local": "127.0.0.1", "prefixlen": 8}]},
 {"ifindex": 2, "ifname": "ens33", "mtu": 1500, "addr_info": [
    {"family": "inet", "local": "192.168.30.10", "prefixlen": 24, "scope": "global"},
    {"family": "inet", "local": "192.168.30.100", "prefixlen": 32, "scope": "global"},
    {"family": "inet6", "local": "fd00:30::10", "prefixlen": 64, "scope": "global"}]},
 {"ifindex": 3, "ifname": "ens34", "addr_info": [{"family": "inet6", "local": "fe80::20c:29ff:fe12:3456", "prefixlen": 64}]},
 {"ifindex": 4, "ifname": "ens33.26", "addr_info": [{"family": "inet", "local": "192.168.26.10", "prefixlen": 24}]},
 {"ifindex": 5, "ifname": "kube-ipvs0", "addr_info": [
    {"family": "inet", "local": "10.96.0.1", "prefixlen": 32}, {"family": "inet", "local": "10.96.0.10", "prefixlen": 32}]},
 {"ifindex": 6, "ifname": "nodelocaldns", "addr_info": [{"family": "inet", "local": "169.254.20.10", "prefixlen": 32}]}]"#;

fn host_file(name: &str, text: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!("tuntrace-autodetect-{}-{name}", std::process::id()));
    std::fs::write(&p, text).unwrap();
    p
}

fn run(host: &Path, args: &[&str]) -> Output {
    let mut all = vec!["autodetect", "--host-file", host.to_str().unwrap()];
    all.extend_from_slice(args);
    common::run(&all)
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[track_caller]
fn pick(host: &Path, method: &str, extra: &[&str], iface: &str, addr: &str) {
    let mut args = vec![method, "--format", "json"];
    args.extend_from_slice(extra);
    let out = run(host, &args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{method}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out);
    assert_eq!(v["method"], method);
    assert_eq!(
        (v["interface"].as_str(), v["address"].as_str()),
        (Some(iface), Some(addr)),
        "{method}: {v:#}"
    );
    assert!(v["reason"].as_str().is_some_and(|r| !r.is_empty()));
}

#[test]
fn host_a_rows_of_the_spec() {
    let a = host_file("a.json", HOST_A);
    pick(&a, "first-found", &[], "eth1", "192.168.56.11/24");
    pick(&a, "interface=ens33,eth0", &[], "eth0", "10.0.2.15/24");
    pick(&a, "interface=eth.*", &[], "eth1", "192.168.56.11/24");
    pick(&a, "interface=eth0,", &[], "tunl0", "10.244.12.192/32");
    pick(&a, "skip-interface=eth1,ens32", &[], "eth0", "10.0.2.15/24");
    pick(&a, "can-reach=8.8.8.8", &[], "eth0", "10.0.2.15/24");
    pick(
        &a,
        "can-reach=192.168.56.1",
        &[],
        "eth1",
        "192.168.56.11/24",
    );
    pick(&a, "cidr=10.0.0.0/8", &[], "tunl0", "10.244.12.192/32");
    pick(
        &a,
        "cidr=192.168.56.0/24,10.0.2.0/24",
        &[],
        "eth1",
        "192.168.56.11/24",
    );
    let _ = std::fs::remove_file(a);
}

#[test]
fn host_b_from_ip_j_addr() {
    let b = host_file("b.json", HOST_B_IP_J);
    pick(&b, "first-found", &[], "ens33.26", "192.168.26.10/24");
    pick(&b, "interface=^ens33$", &[], "ens33", "192.168.30.10/24");
    pick(&b, "cidr=10.0.0.0/8", &[], "kube-ipvs0", "10.96.0.1/32");
    pick(
        &b,
        "kubernetes-internal-ip",
        &["--internal-ip", "192.168.30.10"],
        "ens33",
        "192.168.30.10/24",
    );
    pick(
        &b,
        "first-found",
        &["--family", "6"],
        "ens33",
        "fd00:30::10/64",
    );
    // The skipped interfaces say why.
    let v = json(&run(&b, &["first-found", "--format", "json"]));
    let skipped = v["skipped"].as_array().unwrap();
    assert!(
        skipped.iter().any(|s| s["interface"] == "nodelocaldns"
            && s["why"].as_str().unwrap().contains("nodelocaldns")),
        "{v:#}"
    );
    let _ = std::fs::remove_file(b);
}

#[test]
fn nothing_matches_exit_1_and_says_what_was_looked_at() {
    let a = host_file("a1.json", HOST_A);
    let out = run(&a, &["interface=ens33", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    assert_eq!(v["interface"], Value::Null);
    assert_eq!(v["error"]["kind"], "no-interfaces");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("eth0") && err.contains("docker0"), "{err}");
    // A bare IP in cidr= fails the whole method.
    assert_eq!(run(&a, &["cidr=10.0.2.15"]).status.code(), Some(1));
    // kubernetes-internal-ip with an address no interface holds.
    assert_eq!(
        run(
            &a,
            &["kubernetes-internal-ip", "--internal-ip", "192.168.30.50"]
        )
        .status
        .code(),
        Some(1)
    );
    let _ = std::fs::remove_file(a);
}

#[test]
fn methods_calico_rejects_exit_2() {
    let a = host_file("a2.json", HOST_A);
    for bad in ["eth1", "first-found ", "Interface=eth0"] {
        let out = run(&a, &[bad]);
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("Invalid IP autodetection method"));
    }
    let _ = std::fs::remove_file(a);
}

#[test]
fn without_a_method_every_likely_one_is_evaluated() {
    let a = host_file("a3.json", HOST_A);
    let out = run(&a, &["--format", "json"]);
    assert_eq!(out.status.code(), Some(0));
    let v = json(&out);
    let methods: Vec<&str> = v["methods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["method"].as_str().unwrap())
        .collect();
    for m in [
        "first-found",
        "interface=eth0",
        "interface=eth1",
        "skip-interface=eth1",
        "cidr=10.0.2.0/24",
        "can-reach=10.0.2.2",
    ] {
        assert!(methods.contains(&m), "{m} missing from {methods:?}");
    }
    let table = String::from_utf8_lossy(&run(&a, &[]).stdout).into_owned();
    assert!(
        table.contains("METHOD") && table.contains("192.168.56.11/24"),
        "{table}"
    );
    let _ = std::fs::remove_file(a);
}

#[test]
fn bad_host_files_name_the_file() {
    let p = host_file(
        "bad.json",
        "{\"ifaces\": [{\"name\": \"eth0\", \"addrs\": [\"10.0.0.1\"]}]}",
    );
    let out = run(&p, &["first-found"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(p.to_str().unwrap()) && err.contains("ip/prefix"),
        "{err}"
    );
    let _ = std::fs::remove_file(p);
    let out = common::run(&["autodetect", "--host-file", "/nonexistent/h.json"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn routes_json_has_the_contract_keys() {
    // Works on any host: the keys are there even when the lists are empty.
    let out = common::run(&["routes", "--format", "json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out);
    assert!(v["routes"].is_array() && v["peers"].is_array(), "{v:#}");
}

/// A point-to-point link (`ip addr add 10.0.0.1 peer 10.0.0.2/24`) as
/// `ip -j addr` prints it.
const P2P_IP_J: &str = r#"[
 {"ifindex": 1, "ifname": "lo", "addr_info": [{"family": "inet", "local": "127.0.0.1", "prefixlen": 8}]},
 {"ifindex": 2, "ifname": "ppp0", "addr_info": [
    {"family": "inet", "local": "10.0.0.1", "address": "10.0.0.2", "prefixlen": 24}]}]"#;

#[test]
fn calico_version_picks_the_point_to_point_rule_and_is_reported() {
    let p = host_file("p2p.json", P2P_IP_J);
    // Default: the current release's rules (netlink, full mask).
    let out = run(&p, &["first-found", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0));
    let v = json(&out);
    assert_eq!(v["address"], "10.0.0.1/32");
    assert_eq!(v["calico_version"], "v3.32");
    let out = run(
        &p,
        &[
            "first-found",
            "--format",
            "json",
            "--calico-version",
            "3.31",
        ],
    );
    let v = json(&out);
    assert_eq!(v["address"], "10.0.0.1/24");
    assert_eq!(v["calico_version"], "v3.31");
    // The table says which rules it applied, one value per heading.
    let table = String::from_utf8_lossy(&run(&p, &["first-found"]).stdout).into_owned();
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines[0], "method     first-found");
    assert!(lines[1].starts_with("rules      Calico v3.32 ("), "{table}");
    assert_eq!(lines[2], "interface  ppp0");
    assert_eq!(lines[3], "address    10.0.0.1/32");
    let many =
        String::from_utf8_lossy(&run(&p, &["--calico-version", "v3.31.4"]).stdout).into_owned();
    let lines: Vec<&str> = many.lines().collect();
    assert!(
        lines[0].starts_with("Picks on ") && lines[0].contains("by Calico v3.31 ("),
        "{many}"
    );
    assert_eq!(lines[1], "METHOD               INTERFACE  ADDRESS");
    assert_eq!(lines[2], "first-found          ppp0       10.0.0.1/24");
    // A version that is not one is a usage error.
    let out = run(&p, &["first-found", "--calico-version", "latest"]);
    assert_eq!(out.status.code(), Some(2));
    let _ = std::fs::remove_file(p);
}
