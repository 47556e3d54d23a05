//! Issue 4 end to end in the two-node lab (tests/lab): for each of the
//! seed's five IP_AUTODETECTION_METHOD cases, `autodetect` picks the node
//! addresses, the tunnel is set up from that answer as Calico would, and the
//! predicted link (`routes`), the observed one (`live`), `probe` and
//! `audit --expect-method` must agree. Then the path problems: outer
//! fragments, packets at the MTU, an asymmetric path, IPIP from a stranger.
//!
//! Needs root (skips with a reason otherwise; fails under CI=true).

mod lab;

use std::process::{Command, Output};
use std::time::Duration;

use lab::{can_run, script, tuntrace_bin, Lab, Mode, Underlay, POD1, POD2};
use serde_json::Value;

/// Runs `tuntrace ARGS` in `node` to completion, whatever its exit code.
fn tt(lab: &Lab, node: &str, args: &[&str]) -> Output {
    Command::new("ip")
        .args(["netns", "exec", &lab.ns(node), tuntrace_bin()])
        .args(args)
        .output()
        .expect("run tuntrace in the lab")
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[track_caller]
fn code(out: &Output, want: i32) {
    assert_eq!(
        out.status.code(),
        Some(want),
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `autodetect METHOD --format json` in `node`: (interface, address without prefix).
fn autodetect(lab: &Lab, node: &str, method: &str) -> (String, String) {
    let out = tt(lab, node, &["autodetect", method, "--format", "json"]);
    code(&out, 0);
    let v = json(&out);
    assert_eq!(v["method"], method);
    let addr = v["address"].as_str().unwrap();
    (
        v["interface"].as_str().unwrap().to_string(),
        addr.split('/').next().unwrap().to_string(),
    )
}

/// The NICs that carried tunnel traffic in a `live`/`audit` report.
fn tunnel_nics(report: &Value) -> Vec<String> {
    report["links"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| !l["tunnels"].as_array().unwrap().is_empty())
        .map(|l| l["interface"].as_str().unwrap().to_string())
        .collect()
}

/// The underlay whose vms72 address is `addr`.
fn underlay_of(addr72: &str) -> Underlay {
    if addr72 == Underlay::Net30.node_ip(72) {
        Underlay::Net30
    } else {
        assert_eq!(addr72, Underlay::Net26.node_ip(72), "unexpected pick");
        Underlay::Net26
    }
}

/// `audit --expect-method METHOD` over a 3 s live capture in vms71 while pod1 pings pod2.
fn audit_method(lab: &Lab, method: &str) -> lab::Finished {
    let t = lab.tuntrace(
        "vms71",
        &[
            "audit",
            "--duration",
            "3s",
            "--expect-method",
            method,
            "--format",
            "json",
        ],
    );
    lab.ping(3);
    t.finish(Duration::from_secs(10))
}

/// One seed case: `method` must put the tunnel on `expect` (vms71's NIC, vms72's NIC).
fn seed_case(test: &str, method: &str, expect: (&str, &str), wrong_method: &str) {
    if !can_run(test) {
        return;
    }
    // 1. What calico-node would pick on each node.
    let probe_lab = Lab::new(Underlay::Net30, Mode::RawOnly);
    let (nic71, addr71) = autodetect(&probe_lab, "vms71", method);
    let (nic72, addr72) = autodetect(&probe_lab, "vms72", method);
    drop(probe_lab);
    assert_eq!((nic71.as_str(), nic72.as_str()), expect, "{method}");
    // 2. Tunnel endpoints from those answers: `<peer block> via <peer address> dev tunl0 onlink`.
    let u = underlay_of(&addr72);
    assert_eq!(u.node_ip(71), addr71);
    let lab = Lab::new(u, Mode::Ipip);
    assert_eq!(
        autodetect(&lab, "vms71", method),
        (nic71.clone(), addr71.clone())
    );
    // 3. Predicted path.
    let out = tt(&lab, "vms71", &["routes", "--format", "json"]);
    code(&out, 0);
    let routes = json(&out);
    assert_eq!(routes["routes"][0]["block"], "10.244.5.192/26");
    assert_eq!(routes["routes"][0]["via"], addr72.as_str());
    assert_eq!(routes["routes"][0]["dev"], "tunl0");
    let peer = &routes["peers"][0];
    assert_eq!(
        (peer["peer"].as_str(), peer["interface"].as_str()),
        (Some(addr72.as_str()), Some(nic71.as_str()))
    );
    assert_eq!(peer["source"], addr71.as_str());
    // 4. Observed path.
    let t = lab.tuntrace("vms71", &["live", "--format", "json"]);
    lab.ping(3);
    let live = t.stop();
    assert_eq!(live.code, Some(0), "{}", live.stderr);
    assert_eq!(
        tunnel_nics(&live.json()),
        vec![nic71.clone()],
        "predicted {nic71}"
    );
    // 5. The probe names the same link both ways.
    let out = tt(&lab, "vms71", &["probe", POD2, "--format", "json"]);
    code(&out, 0);
    let p = json(&out);
    assert_eq!(p["target"], POD2);
    for (leg, src, dst) in [("request", &addr71, &addr72), ("reply", &addr72, &addr71)] {
        let l = &p[leg];
        assert_eq!(l["interface"], nic71.as_str(), "{leg}: {p:#}");
        assert_eq!(l["encap"], "ipip");
        assert_eq!(
            (l["outer_src"].as_str(), l["outer_dst"].as_str()),
            (Some(src.as_str()), Some(dst.as_str()))
        );
    }
    assert!(p["rtt_ms"].as_f64().unwrap() > 0.0);
    // 6. The audit passes with the method in force and fails with the other one.
    let ok = audit_method(&lab, method);
    assert_eq!(ok.code, Some(0), "{}\n{}", ok.stdout, ok.stderr);
    assert!(ok.json()["findings"].as_array().unwrap().is_empty());
    assert!(
        !tunnel_nics(&ok.json()["report"]).is_empty(),
        "the audit saw the pings"
    );
    let bad = audit_method(&lab, wrong_method);
    assert_eq!(bad.code, Some(4), "{}\n{}", bad.stdout, bad.stderr);
    let f = bad.json()["findings"].as_array().unwrap().clone();
    assert!(
        !f.is_empty()
            && f.iter()
                .all(|x| x["kind"] == "unexpected-interface" && x["interface"] == nic71.as_str()),
        "{f:#?}"
    );
}

#[test]
fn case1_interface_ens33_eth0() {
    seed_case(
        "case1",
        "interface=ens33,eth0",
        ("ens33", "eth0"),
        "interface=ens32,eth1",
    );
}

#[test]
fn case2_interface_ens32_eth1() {
    seed_case(
        "case2",
        "interface=ens32,eth1",
        ("ens32", "eth1"),
        "interface=ens33,eth0",
    );
}

#[test]
fn case3_skip_interface_eth1_ens32() {
    seed_case(
        "case3",
        "skip-interface=eth1,ens32",
        ("ens33", "eth0"),
        "cidr=192.168.26.0/24",
    );
}

#[test]
fn case4_can_reach_192_168_30_1() {
    seed_case(
        "case4",
        "can-reach=192.168.30.1",
        ("ens33", "eth0"),
        "interface=ens32,eth1",
    );
}

#[test]
fn case5_cidr_192_168_26_0() {
    seed_case(
        "case5",
        "cidr=192.168.26.0/24",
        ("ens32", "eth1"),
        "can-reach=192.168.30.1",
    );
}

/// Starts `audit ARGS --duration 3s --format json` in vms71 (3 s: on a
/// loaded machine the test's traffic may take a second to start).
fn audit_live(lab: &Lab, args: &[&str]) -> lab::Tracer {
    let mut all = vec!["audit", "--duration", "3s", "--format", "json"];
    all.extend_from_slice(args);
    lab.tuntrace("vms71", &all)
}

fn findings(f: &lab::Finished, kind: &str) -> Vec<Value> {
    f.json()["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["kind"] == kind)
        .cloned()
        .collect()
}

#[test]
fn fragmented_outer_packets() {
    if !can_run("fragmented_outer_packets") {
        return;
    }
    let lab = Lab::new(Underlay::Net30, Mode::RawOnly);
    let t = audit_live(&lab, &["-i", "ens33"]);
    // 3000-byte inner packets, outer DF clear: the kernel fragments the outer packet.
    lab.exec(
        "vms71",
        &[
            "python3",
            &script("ipip_send.py"),
            "192.168.30.72",
            POD1,
            POD2,
            "2",
            "--size",
            "3000",
            "--fragment",
        ],
    );
    let f = t.finish(Duration::from_secs(10));
    assert_eq!(f.code, Some(4), "{}", f.stderr);
    let frag = findings(&f, "fragmentation");
    assert_eq!(frag.len(), 1, "{}", f.stdout);
    assert_eq!(
        (frag[0]["interface"].as_str(), frag[0]["outer_dst"].as_str()),
        (Some("ens33"), Some("192.168.30.72"))
    );
    assert!(
        frag[0]["packets"].as_u64().unwrap() >= 6,
        "3 fragments per packet"
    );
    assert_eq!(
        findings(&f, "near-mtu").len(),
        1,
        "the 1500-byte first fragments sit at the MTU"
    );
}

#[test]
fn big_pings_through_tunl0_fill_the_mtu() {
    if !can_run("big_pings_through_tunl0_fill_the_mtu") {
        return;
    }
    let lab = Lab::new(Underlay::Net30, Mode::Ipip);
    let t = audit_live(&lab, &["-i", "ens33"]);
    // tunl0 MTU 1480: the pod fragments the inner packet, each piece fits, outer packets are 1500 bytes.
    lab.exec(
        "pod1",
        &[
            "ping", "-q", "-c", "2", "-i", "0.1", "-s", "3000", "-W", "2", POD2,
        ],
    );
    let f = t.finish(Duration::from_secs(10));
    assert_eq!(f.code, Some(4), "{}", f.stderr);
    let near = findings(&f, "near-mtu");
    assert_eq!(near.len(), 2, "both directions: {}", f.stdout);
    assert!(near.iter().all(|n| n["interface"] == "ens33"));
    assert!(
        findings(&f, "fragmentation").is_empty(),
        "no outer fragments: {}",
        f.stdout
    );
}

/// Ends (by pid) the encapsulator the fixture started in `node`, points
/// `node`'s tunnel route at `via`, and starts a fresh encapsulator (it reads
/// the routes once, at start); the returned guard ends it.
fn reroute_tunnel(lab: &Lab, node: &str, block: &str, via: &str) -> Encap {
    let ns = lab.ns(node);
    let pids = Command::new("ip")
        .args(["netns", "pids", &ns])
        .output()
        .unwrap();
    for pid in String::from_utf8_lossy(&pids.stdout).split_whitespace() {
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmdline).contains("tun_encap.py") {
            let pid: i32 = pid.parse().unwrap();
            // SAFETY: kill(2) on the encapsulator our own lab started.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            while std::path::Path::new(&format!("/proc/{pid}/cmdline")).exists()
                && !std::fs::read(format!("/proc/{pid}/cmdline"))
                    .unwrap_or_default()
                    .is_empty()
            {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
    lab.ip(
        node,
        &[
            "route", "replace", block, "via", via, "dev", "tunl0", "proto", "bird", "onlink",
        ],
    );
    let mut child = Command::new("ip")
        .args([
            "netns",
            "exec",
            &ns,
            "python3",
            &script("tun_encap.py"),
            "tunl0",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    let _ = std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    );
    let enc = Encap(child);
    assert_eq!(line.trim(), "ready");
    enc
}

/// Our encapsulator: ended (by pid) and reaped on drop.
struct Encap(std::process::Child);

impl Drop for Encap {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn asymmetric_path_30_out_26_back() {
    if !can_run("asymmetric_path_30_out_26_back") {
        return;
    }
    // vms71 tunnels to vms72 over underlay 30; vms72's route back goes over 26.
    let lab = Lab::new(Underlay::Net30, Mode::Ipip);
    let _encap = reroute_tunnel(&lab, "vms72", "10.244.118.192/26", "192.168.26.71");
    let peer_nic = |node: &str| {
        let r = json(&tt(&lab, node, &["routes", "--format", "json"]));
        r["peers"][0]["interface"].as_str().unwrap().to_string()
    };
    assert_eq!(
        (peer_nic("vms71"), peer_nic("vms72")),
        ("ens33".into(), "eth1".into())
    );
    let nodes = std::env::temp_dir().join(format!("tuntrace-nodes-{}", lab.prefix));
    std::fs::write(
        &nodes,
        "vms71 192.168.26.71 192.168.30.71\nvms72 192.168.26.72 192.168.30.72\n",
    )
    .unwrap();
    let t = audit_live(&lab, &["--nodes", nodes.to_str().unwrap()]);
    lab.ping(3);
    let f = t.finish(Duration::from_secs(10));
    let _ = std::fs::remove_file(&nodes);
    assert_eq!(f.code, Some(4), "{}", f.stderr);
    let a = findings(&f, "asymmetric-path");
    assert_eq!(a.len(), 1, "{}", f.stdout);
    assert_eq!(a[0]["interface"], "ens33, ens32");
    assert_eq!(a[0]["packets"], 6);
    assert!(
        a[0]["detail"].as_str().unwrap().contains("vms71 → vms72"),
        "{}",
        f.stdout
    );
}

#[test]
fn ipip_from_an_address_no_node_has() {
    if !can_run("ipip_from_an_address_no_node_has") {
        return;
    }
    let lab = Lab::new(Underlay::Net30, Mode::RawOnly);
    let nodes = std::env::temp_dir().join(format!(
        "tuntrace-nodes-{}-{}",
        std::process::id(),
        lab.prefix
    ));
    std::fs::write(
        &nodes,
        "vms71 192.168.26.71 192.168.30.71\nvms72 192.168.26.72 192.168.30.72\n",
    )
    .unwrap();
    let t = audit_live(&lab, &["--nodes", nodes.to_str().unwrap()]);
    lab.send_ipip("vms72", "192.168.30.71", POD2, POD1, 2);
    lab.inject_ipip("vms72", "eth0", ("192.168.30.99", "192.168.30.71"), 3);
    let f = t.finish(Duration::from_secs(10));
    let _ = std::fs::remove_file(&nodes);
    assert_eq!(f.code, Some(4), "{}", f.stderr);
    let u = findings(&f, "unknown-peer");
    assert_eq!(u.len(), 1, "only the stranger: {}", f.stdout);
    assert_eq!(
        (u[0]["interface"].as_str(), u[0]["outer_src"].as_str()),
        (Some("ens33"), Some("192.168.30.99"))
    );
    assert_eq!(u[0]["packets"], 3);
}

#[test]
fn probe_and_audit_see_pod_traffic_without_a_tunnel() {
    if !can_run("probe_and_audit_see_pod_traffic_without_a_tunnel") {
        return;
    }
    // RawOnly has no tunl0: route pod2's block straight over ens33, unencapsulated.
    let lab = Lab::new(Underlay::Net30, Mode::RawOnly);
    lab.ip(
        "vms71",
        &[
            "route",
            "add",
            "10.244.5.192/26",
            "via",
            "192.168.30.72",
            "dev",
            "ens33",
        ],
    );
    lab.ip(
        "vms72",
        &[
            "route",
            "add",
            "10.244.118.192/26",
            "via",
            "192.168.30.71",
            "dev",
            "eth0",
        ],
    );
    let out = tt(
        &lab,
        "vms71",
        &[
            "probe",
            POD2,
            "--count",
            "1",
            "--timeout",
            "500ms",
            "--format",
            "json",
        ],
    );
    code(&out, 7);
    let p = json(&out);
    assert_eq!(p["request"], Value::Null);
    assert!(
        p["verdict"].as_str().unwrap().contains("plain ICMP"),
        "{p:#}"
    );
    assert_eq!(p["sightings"][0]["interface"], "ens33");
    let t = audit_live(&lab, &["--pod-cidr", "10.244.0.0/16"]);
    lab.ping(2);
    let f = t.finish(Duration::from_secs(10));
    assert_eq!(f.code, Some(4), "{}", f.stderr);
    let u = findings(&f, "unencapsulated-pod-traffic");
    assert!(
        !u.is_empty() && u.iter().all(|x| x["interface"] == "ens33"),
        "{}",
        f.stdout
    );
}

#[test]
fn probe_without_a_reply() {
    if !can_run("probe_without_a_reply") {
        return;
    }
    let lab = Lab::new(Underlay::Net30, Mode::Ipip);
    // pod2 cannot answer: no route back.
    lab.ip("pod2", &["route", "del", "default"]);
    let out = tt(
        &lab,
        "vms71",
        &[
            "probe",
            POD2,
            "--count",
            "2",
            "--timeout",
            "300ms",
            "--format",
            "json",
        ],
    );
    code(&out, 5);
    let p = json(&out);
    assert_eq!(
        (
            p["request"]["interface"].as_str(),
            p["request"]["encap"].as_str()
        ),
        (Some("ens33"), Some("ipip"))
    );
    assert_eq!(
        (p["reply"].clone(), p["rtt_ms"].clone()),
        (Value::Null, Value::Null)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("no reply"));
}

#[test]
fn vxlan_routes_and_probe_name_the_underlay() {
    if !can_run("vxlan_routes_and_probe_name_the_underlay") {
        return;
    }
    let lab = Lab::new(Underlay::Net26, Mode::Vxlan);
    let out = tt(&lab, "vms71", &["routes", "--format", "json"]);
    code(&out, 0);
    let r = json(&out);
    assert_eq!(
        (
            r["routes"][0]["dev"].as_str(),
            r["routes"][0]["via"].as_str()
        ),
        (Some("vxlan.calico"), Some("10.244.5.192"))
    );
    let peer = &r["peers"][0];
    assert_eq!(peer["underlay"], "192.168.26.72", "{r:#}");
    assert_eq!(
        (peer["interface"].as_str(), peer["source"].as_str()),
        (Some("ens32"), Some("192.168.26.71"))
    );
    let out = tt(
        &lab,
        "vms71",
        &["probe", POD2, "--count", "2", "--format", "json"],
    );
    code(&out, 0);
    let p = json(&out);
    for (leg, src, dst) in [
        ("request", "192.168.26.71", "192.168.26.72"),
        ("reply", "192.168.26.72", "192.168.26.71"),
    ] {
        let l = &p[leg];
        assert_eq!(
            (
                l["interface"].as_str(),
                l["encap"].as_str(),
                l["vni"].as_u64()
            ),
            (Some("ens32"), Some("vxlan"), Some(4096)),
            "{p:#}"
        );
        assert_eq!(
            (l["outer_src"].as_str(), l["outer_dst"].as_str()),
            (Some(src), Some(dst))
        );
    }
    // The table says the same for humans.
    let out = tt(&lab, "vms71", &["probe", POD2, "--count", "1"]);
    code(&out, 0);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("request  ens32        vxlan   192.168.26.71 → 192.168.26.72"),
        "{text}"
    );
    let out = tt(&lab, "vms71", &["routes"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("192.168.26.72") && text.contains("ens32"),
        "{text}"
    );
}
