//! `tuntrace audit --read`: captures built with the project's own writers,
//! one per problem; each finding kind must fire on the right interface and
//! pair, and a clean capture must stay clean. No root needed.

mod common;

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use tuntrace::audit::{Audited, Finding, Severity};
use tuntrace::decode::Encap;
use tuntrace::linktype::LinkType;
use tuntrace::synth::{self, calico_ipip_frame, ethernet, fragment_ipv4, ipv4, udp, vxlan};
use tuntrace::write::pcapng::PcapngWriter;
use tuntrace::write::Endian;

const N71: Ipv4Addr = Ipv4Addr::new(192, 168, 30, 71);
const N72: Ipv4Addr = Ipv4Addr::new(192, 168, 30, 72);
const M71: Ipv4Addr = Ipv4Addr::new(192, 168, 26, 71);
const M72: Ipv4Addr = Ipv4Addr::new(192, 168, 26, 72);
const P1: Ipv4Addr = Ipv4Addr::new(10, 244, 118, 193);
const P2: Ipv4Addr = Ipv4Addr::new(10, 244, 5, 194);
const MAC_A: [u8; 6] = [2, 0, 0, 0, 0, 1];
const MAC_B: [u8; 6] = [2, 0, 0, 0, 0, 2];
const NODES: &str = "vms71 192.168.26.71 192.168.30.71\nvms72 192.168.26.72 192.168.30.72\n";

/// A temp dir removed on drop.
struct Dir(PathBuf);

impl Dir {
    fn new(test: &str) -> Dir {
        let p = std::env::temp_dir().join(format!("tuntrace-audit-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Dir(p)
    }
    fn file(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Writes a pcapng with one Ethernet interface per name; frames are
/// (interface index, bytes), 1 ms apart.
fn capture(dir: &Dir, name: &str, ifaces: &[&str], frames: &[(u32, Vec<u8>)]) -> PathBuf {
    let p = dir.0.join(name);
    let mut w = PcapngWriter::new(std::fs::File::create(&p).unwrap(), Endian::Little).unwrap();
    for i in ifaces {
        w.add_interface(i, LinkType::ETHERNET, 65535).unwrap();
    }
    for (n, (i, f)) in frames.iter().enumerate() {
        let ts = 1_700_000_000_000_000_000 + n as u64 * 1_000_000;
        w.write_epb(*i, ts, f.len() as u32, f).unwrap();
    }
    w.finish().unwrap();
    p
}

fn ipip(os: Ipv4Addr, od: Ipv4Addr, is: Ipv4Addr, id: Ipv4Addr) -> Vec<u8> {
    calico_ipip_frame(os, od, is, id, 56)
}

fn eth(ip: &[u8]) -> Vec<u8> {
    ethernet(MAC_A, MAC_B, 0x0800, ip)
}

/// Healthy pod pings both ways on ens33.
fn clean_frames() -> Vec<(u32, Vec<u8>)> {
    let mut v = Vec::new();
    for _ in 0..3 {
        v.push((0, ipip(N71, N72, P1, P2)));
        v.push((0, ipip(N72, N71, P2, P1)));
    }
    v
}

/// Runs `tuntrace audit --format json --read FILE ARGS...`; checks the exit
/// code and that the JSON reads back through the model unchanged.
fn audit(file: &Path, args: &[&str], code: i32) -> Vec<Finding> {
    let out = Command::new(common::bin())
        .args(["audit", "--format", "json", "--read"])
        .arg(file)
        .args(args)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout:\n{text}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    let typed: Audited =
        serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("{e}: {text}"));
    assert_eq!(
        serde_json::to_value(&typed).unwrap(),
        v,
        "JSON → Audited → JSON"
    );
    assert!(!typed.report.links.is_empty(), "the report rides along");
    typed.findings
}

fn kinds(f: &[Finding]) -> Vec<&str> {
    f.iter().map(|x| x.kind.as_str()).collect()
}

fn only<'a>(f: &'a [Finding], kind: &str) -> Vec<&'a Finding> {
    f.iter().filter(|x| x.kind.as_str() == kind).collect()
}

fn ip(s: &str) -> Option<std::net::IpAddr> {
    Some(s.parse().unwrap())
}

#[test]
fn clean_capture_has_no_findings() {
    let d = Dir::new("clean");
    let nodes = d.file("nodes.txt", NODES);
    let f = capture(&d, "clean.pcapng", &["ens33", "ens32"], &clean_frames());
    let nodes = nodes.to_str().unwrap();
    let found = audit(
        &f,
        &[
            "--expect-iface",
            "ens33",
            "--pod-cidr",
            "10.244.0.0/16",
            "--nodes",
            nodes,
            "--expect-cidr",
            "192.168.30.0/24",
        ],
        0,
    );
    assert!(found.is_empty(), "{found:#?}");
    let out = common::run(&["audit", "--read", f.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("clean:"));
}

#[test]
fn tunnel_on_an_excluded_interface() {
    let d = Dir::new("iface");
    let mut frames = clean_frames();
    frames.push((1, ipip(M71, M72, P1, P2)));
    let f = capture(&d, "c.pcapng", &["ens33", "ens32"], &frames);
    let found = audit(&f, &["--expect-iface", "ens33"], 4);
    assert_eq!(kinds(&found), ["unexpected-interface"]);
    let x = &found[0];
    assert_eq!(
        (x.interfaces(), x.outer_src, x.outer_dst),
        ("ens32".into(), ip("192.168.26.71"), ip("192.168.26.72"))
    );
    assert_eq!((x.packets, x.severity), (1, Severity::Error));
    assert!(x.first_seen.as_ref().unwrap().starts_with("2023-11-14T"));
    // The same traffic outside --expect-cidr.
    let found = audit(&f, &["--expect-cidr", "192.168.30.0/24"], 4);
    assert_eq!(kinds(&found), ["unexpected-interface"]);
    assert_eq!(found[0].interfaces(), "ens32");
}

#[test]
fn expect_method_against_a_host_file() {
    let d = Dir::new("method");
    let host = d.file(
        "host.json",
        r#"[{"ifindex":1,"ifname":"lo","addr_info":[{"family":"inet","local":"127.0.0.1","prefixlen":8}]},
            {"ifindex":2,"ifname":"ens32","addr_info":[{"family":"inet","local":"192.168.26.71","prefixlen":24}]},
            {"ifindex":3,"ifname":"ens33","addr_info":[{"family":"inet","local":"192.168.30.71","prefixlen":24}]}]"#,
    );
    let f = capture(&d, "c.pcapng", &["ens33", "ens32"], &clean_frames());
    let h = host.to_str().unwrap();
    assert!(audit(
        &f,
        &["--host-file", h, "--expect-method", "interface=ens33,eth0"],
        0
    )
    .is_empty());
    let found = audit(
        &f,
        &["--host-file", h, "--expect-method", "interface=ens32,eth1"],
        4,
    );
    assert_eq!(
        kinds(&found),
        ["unexpected-interface", "unexpected-interface"]
    );
    assert!(
        found[0].detail.contains("picks ens32 192.168.26.71/24"),
        "{found:#?}"
    );
    // A method calico-node rejects is a usage error.
    let out = common::run(&[
        "audit",
        "--read",
        f.to_str().unwrap(),
        "--host-file",
        h,
        "--expect-method",
        "eth1",
    ]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn asymmetric_path_between_two_nics() {
    let d = Dir::new("asym");
    let mut frames = Vec::new();
    for _ in 0..2 {
        frames.push((0, ipip(N71, N72, P1, P2)));
        frames.push((1, ipip(M72, M71, P2, P1)));
    }
    let f = capture(&d, "c.pcapng", &["ens33", "ens32"], &frames);
    let found = audit(&f, &[], 4);
    assert_eq!(kinds(&found), ["asymmetric-path"]);
    assert_eq!(found[0].interfaces(), "ens33, ens32");
    assert_eq!(found[0].packets, 4);
    assert!(found[0]
        .first_seen
        .as_ref()
        .unwrap()
        .starts_with("2023-11-14T"));
    // With node names the node pair is recognised too (still one finding).
    let nodes = d.file("nodes.txt", NODES);
    let found = audit(&f, &["--nodes", nodes.to_str().unwrap()], 4);
    assert_eq!(kinds(&found), ["asymmetric-path"]);
    assert!(found[0].detail.contains("vms71"), "{found:#?}");
}

#[test]
fn peer_reached_on_two_nics_needs_node_names() {
    let d = Dir::new("twonics");
    let frames = vec![(0, ipip(N71, N72, P1, P2)), (1, ipip(M71, M72, P1, P2))];
    let f = capture(&d, "c.pcapng", &["ens33", "ens32"], &frames);
    assert!(audit(&f, &[], 0).is_empty());
    let nodes = d.file("nodes.txt", NODES);
    let found = audit(&f, &["--nodes", nodes.to_str().unwrap()], 4);
    assert_eq!(kinds(&found), ["unexpected-interface"]);
    assert_eq!(found[0].interfaces(), "ens32, ens33");
    assert_eq!(found[0].severity, Severity::Warning);
}

#[test]
fn outer_fragments_and_near_mtu() {
    let d = Dir::new("frag");
    let inner = ipv4(P1, P2, 1, &synth::icmp_echo(1, 1, &[0; 2972]));
    let outer = ipv4(N71, N72, 4, &inner);
    let mut frames: Vec<(u32, Vec<u8>)> = fragment_ipv4(&outer, 1500)
        .into_iter()
        .map(|p| (0, eth(&p)))
        .collect();
    frames.push((1, ipip(M71, M72, P1, P2)));
    let f = capture(&d, "c.pcapng", &["ens33", "ens32"], &frames);
    let found = audit(&f, &[], 4);
    let frag = only(&found, "fragmentation");
    assert_eq!(frag.len(), 1, "{found:#?}");
    assert_eq!(
        (frag[0].interfaces(), frag[0].outer_dst),
        ("ens33".into(), ip("192.168.30.72"))
    );
    assert_eq!(frag[0].packets, 3);
    let near = only(&found, "near-mtu");
    assert_eq!(near.len(), 1);
    assert_eq!(
        (near[0].interfaces(), near[0].severity),
        ("ens33".into(), Severity::Info)
    );
    // A smaller MTU makes the small packets on ens32 near it too.
    let found = audit(&f, &["--mtu", "110"], 4);
    assert_eq!(only(&found, "near-mtu").len(), 2);
}

#[test]
fn icmp_too_big_quoting_a_tunnel_packet() {
    let d = Dir::new("toobig");
    let quoted = ipv4(
        N71,
        N72,
        4,
        &ipv4(P1, P2, 1, &synth::icmp_echo(1, 1, &[0; 1400])),
    );
    let mut icmp = vec![3, 4, 0, 0, 0, 0];
    icmp.extend_from_slice(&1400u16.to_be_bytes());
    icmp.extend_from_slice(&quoted[..48]);
    let router = Ipv4Addr::new(192, 168, 30, 1);
    let mut frames = clean_frames();
    frames.push((0, eth(&ipv4(router, N71, 1, &icmp))));
    // An unrelated ICMP error (port unreachable about DNS) is not one.
    let dns = ipv4(N71, router, 17, &udp(5353, 53, &[0; 20]));
    let mut other = vec![3, 3, 0, 0, 0, 0, 0, 0];
    other.extend_from_slice(&dns);
    frames.push((0, eth(&ipv4(router, N71, 1, &other))));
    let f = capture(&d, "c.pcapng", &["ens33"], &frames);
    let found = audit(&f, &[], 4);
    assert_eq!(kinds(&found), ["icmp-too-big"]);
    let x = &found[0];
    assert_eq!(
        (x.interfaces(), x.outer_src, x.outer_dst),
        ("ens33".into(), ip("192.168.30.71"), ip("192.168.30.72"))
    );
    assert!(x.detail.contains("1400-byte MTU"));
}

#[test]
fn pod_addresses_outside_the_pool_and_outside_the_tunnel() {
    let d = Dir::new("pods");
    let mut frames = clean_frames();
    // VXLAN carrying a pair outside the pool.
    let inner = ethernet(
        MAC_A,
        MAC_B,
        0x0800,
        &ipv4(Ipv4Addr::new(172, 16, 0, 1), P2, 17, &udp(1, 2, &[0; 8])),
    );
    frames.push((
        0,
        eth(&ipv4(N71, N72, 17, &udp(40000, 4789, &vxlan(4096, &inner)))),
    ));
    // Pod traffic on ens32 without a tunnel.
    frames.push((1, eth(&ipv4(P1, P2, 1, &synth::icmp_echo(9, 1, &[0; 8])))));
    let f = capture(&d, "c.pcapng", &["ens33", "ens32"], &frames);
    // Without --pod-cidr these checks cannot run.
    assert!(audit(&f, &[], 0).is_empty());
    let found = audit(&f, &["--pod-cidr", "10.244.0.0/16"], 4);
    assert_eq!(
        kinds(&found),
        ["unencapsulated-pod-traffic", "outside-pod-cidr"]
    );
    let (u, o) = (&found[0], &found[1]);
    assert_eq!(
        (u.interfaces(), u.outer_src, u.outer_dst),
        ("ens32".into(), ip("10.244.118.193"), ip("10.244.5.194"))
    );
    assert_eq!(
        (o.interfaces(), o.encap, o.packets),
        ("ens33".into(), Some(Encap::Vxlan), 1)
    );
}

#[test]
fn ipip_from_an_unknown_address() {
    let d = Dir::new("peer");
    let mut frames = clean_frames();
    frames.push((0, ipip(Ipv4Addr::new(192, 168, 30, 99), N71, P2, P1)));
    let f = capture(&d, "c.pcapng", &["ens33"], &frames);
    let nodes = d.file("nodes.txt", NODES);
    let found = audit(&f, &["--nodes", nodes.to_str().unwrap()], 4);
    assert_eq!(kinds(&found), ["unknown-peer"]);
    assert_eq!(
        (found[0].outer_src, found[0].interfaces()),
        (ip("192.168.30.99"), "ens33".into())
    );
    assert!(found[0].detail.contains("vms71 (192.168.30.71)"));
    // A bad nodes file is a usage error naming the file and line.
    let bad = d.file("bad.txt", "vms71\n");
    let out = common::run(&[
        "audit",
        "--read",
        f.to_str().unwrap(),
        "--nodes",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad.txt: line 1"));
}

#[test]
fn missing_file_is_a_usage_error_naming_it() {
    let out = common::run(&["audit", "--read", "/nonexistent/x.pcap"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/x.pcap"));
}

#[test]
fn ignored_kinds_do_not_count() {
    let d = Dir::new("ignore");
    let f = capture(&d, "c.pcapng", &["ens33"], &clean_frames());
    assert_eq!(
        kinds(&audit(&f, &["--mtu", "110"], 4)),
        ["near-mtu", "near-mtu"]
    );
    assert!(audit(&f, &["--mtu", "110", "--ignore", "near-mtu"], 0).is_empty());
    let out = common::run(&[
        "audit",
        "--read",
        f.to_str().unwrap(),
        "--ignore",
        "nonsense",
    ]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn expect_method_ignores_the_other_nodes_nics() {
    let d = Dir::new("method2");
    let host = d.file(
        "host.json",
        r#"{"ifaces": [{"name": "ens32", "addrs": ["192.168.26.71/24"]}, {"name": "ens33", "addrs": ["192.168.30.71/24"]}]}"#,
    );
    // vms71's ens33 and vms72's eth0 in one file: vms72's NIC is not judged by vms71's method.
    let mut frames = clean_frames();
    frames.extend(clean_frames().into_iter().map(|(_, f)| (1, f)));
    let f = capture(&d, "c.pcapng", &["ens33", "eth0"], &frames);
    let h = host.to_str().unwrap();
    assert!(audit(
        &f,
        &["--host-file", h, "--expect-method", "interface=ens33"],
        0
    )
    .is_empty());
    let found = audit(
        &f,
        &["--host-file", h, "--expect-method", "interface=ens32"],
        4,
    );
    assert!(
        found.iter().all(|x| x.interfaces() == "ens33"),
        "{found:#?}"
    );
}

#[test]
fn audit_table_pins_its_header_and_a_row() {
    let d = Dir::new("table");
    let f = capture(&d, "c.pcapng", &["ens33"], &clean_frames());
    let out = common::run(&["audit", "--read", f.to_str().unwrap(), "--mtu", "110"]);
    assert_eq!(out.status.code(), Some(4));
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    // Six pings, three each way, in two tunnel rows both near a 110-byte MTU.
    assert_eq!(lines[0], "2 findings (6 packets, 2 tunnel rows):", "{text}");
    assert_eq!(lines[1], "");
    assert_eq!(
        lines[2],
        "info    near-mtu                   ens33          \
         192.168.30.71 → 192.168.30.72  3 packets, first 2023-11-14T22:13:20.000000Z"
    );
    assert_eq!(
        lines[3],
        "        outer packets up to 104 bytes come within a few bytes of the 110-byte MTU of \
         ens33: any extra header on the path (VLAN, another tunnel) drops or fragments them; \
         3 carry DF, so they are dropped, not fragmented"
    );
    assert_eq!(lines.len(), 7, "{text}");
}
