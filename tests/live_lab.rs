//! `tuntrace live` in the namespace lab: real IPIP and VXLAN crossing veth
//! "cables", tuntrace running inside each node. Needs root (skipped with a
//! reason otherwise; a failure under CI=true).

mod lab;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use lab::{can_run, Lab, Mode, Underlay, POD1, POD2};
use serde_json::Value;

/// One tunnel row, reduced to what the cases pin.
#[derive(Debug, PartialEq, Eq, Clone)]
struct Row {
    encap: String,
    outer: (String, String),
    vni: Option<u64>,
    packets: u64,
    inner: Vec<(String, String, u64)>,
}

fn rows(report: &Value, iface: &str) -> Vec<Row> {
    let link = report["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["interface"] == iface)
        .unwrap_or_else(|| panic!("no link {iface} in {report:#}"));
    let mut out: Vec<Row> = link["tunnels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| Row {
            encap: t["encap"].as_str().unwrap().into(),
            outer: (
                t["outer_src"].as_str().unwrap().into(),
                t["outer_dst"].as_str().unwrap().into(),
            ),
            vni: t["vni"].as_u64(),
            packets: t["packets"].as_u64().unwrap(),
            inner: t["inner"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| {
                    (
                        p["src"].as_str().unwrap().into(),
                        p["dst"].as_str().unwrap().into(),
                        p["packets"].as_u64().unwrap(),
                    )
                })
                .collect(),
        })
        .collect();
    out.sort_by(|a, b| a.outer.cmp(&b.outer));
    out
}

fn capture(report: &Value, iface: &str) -> Value {
    report["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["interface"] == iface)
        .map(|l| l["capture"].clone())
        .unwrap_or(Value::Null)
}

fn row(
    encap: &str,
    src: &str,
    dst: &str,
    vni: Option<u64>,
    packets: u64,
    inner: (&str, &str),
) -> Row {
    Row {
        encap: encap.into(),
        outer: (src.into(), dst.into()),
        vni,
        packets,
        inner: vec![(inner.0.into(), inner.1.into(), packets)],
    }
}

/// Both directions of a pod1 ⇄ pod2 conversation between `a` and `b`.
fn both_ways(encap: &str, a: &str, b: &str, vni: Option<u64>, n: u64) -> Vec<Row> {
    let mut v = vec![
        row(encap, a, b, vni, n, (POD1, POD2)),
        row(encap, b, a, vni, n, (POD2, POD1)),
    ];
    v.sort_by(|x, y| x.outer.cmp(&y.outer));
    v
}

/// Pod pings over the given underlay: the tunnel is on exactly one NIC pair.
fn pings_on(underlay: Underlay, mode: Mode, test: &str) {
    if !can_run(test) {
        return;
    }
    let lab = Lab::new(underlay, mode);
    let t71 = lab.tuntrace("vms71", &["live", "--format", "json", "--duration", "20s"]);
    let t72 = lab.tuntrace("vms72", &["live", "--format", "json", "--duration", "20s"]);
    lab.ping(5);
    let (r71, r72) = (t71.stop(), t72.stop());
    assert_eq!(r71.code, Some(0), "{}", r71.stderr);
    assert!(r71.stderr.contains("chose ens32, ens33"), "{}", r71.stderr);
    assert!(
        r71.stderr
            .contains("cali1a2b3c4d5e6 (Calico excludes ^cali.*)"),
        "{}",
        r71.stderr
    );
    let (j71, j72) = (r71.json(), r72.json());
    let (on71, on72) = underlay.nics();
    let (off71, off72) = match underlay {
        Underlay::Net30 => ("ens32", "eth1"),
        Underlay::Net26 => ("ens33", "eth0"),
    };
    let (a, b) = (underlay.node_ip(71), underlay.node_ip(72));
    let (encap, vni) = match mode {
        Mode::Vxlan => ("vxlan", Some(4096)),
        _ => ("ipip", None),
    };
    let want = both_ways(encap, &a, &b, vni, 5);
    assert_eq!(rows(&j71, on71), want, "vms71 {on71}");
    assert_eq!(rows(&j72, on72), want, "vms72 {on72}");
    assert_eq!(rows(&j71, off71), vec![], "vms71 {off71}");
    assert_eq!(rows(&j72, off72), vec![], "vms72 {off72}");
    assert_eq!(capture(&j71, on71)["dropped_by_kernel"], 0);
    assert_eq!(j71["multi_interface"], Value::Array(vec![]));
}

#[test]
fn case1_underlay30_ipip_on_ens33_eth0() {
    pings_on(Underlay::Net30, Mode::Ipip, "case1");
}

#[test]
fn case2_underlay26_ipip_on_ens32_eth1() {
    pings_on(Underlay::Net26, Mode::Ipip, "case2");
}

#[test]
fn case3_vxlan_vni4096_on_ens33_eth0() {
    pings_on(Underlay::Net30, Mode::Vxlan, "case3");
}

#[test]
fn case2b_raw_socket_counts_are_exact() {
    if !can_run("case2b") {
        return;
    }
    let lab = Lab::new(Underlay::Net26, Mode::RawOnly);
    let t = lab.tuntrace(
        "vms71",
        &[
            "live",
            "-i",
            "ens32",
            "-i",
            "ens33",
            "--format",
            "json",
            "--count",
            "17",
            "--duration",
            "20s",
        ],
    );
    lab.send_ipip("vms71", "192.168.26.72", POD1, POD2, 17);
    let r = t.finish(Duration::from_secs(25));
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let j = r.json();
    assert_eq!(
        rows(&j, "ens32"),
        vec![row(
            "ipip",
            "192.168.26.71",
            "192.168.26.72",
            None,
            17,
            (POD1, POD2)
        )]
    );
    assert_eq!(rows(&j, "ens33"), vec![]);
    assert_eq!(j["packets"]["total"], 17);
}

#[test]
fn case4_injected_on_ens32_is_reported_where_it_crossed() {
    if !can_run("case4") {
        return;
    }
    let lab = Lab::new(Underlay::Net30, Mode::RawOnly);
    let t = lab.tuntrace("vms71", &["live", "--format", "json", "--duration", "20s"]);
    lab.inject_ipip("vms71", "ens32", ("192.168.30.71", "192.168.30.72"), 7);
    lab.send_ipip("vms71", "192.168.30.72", POD1, POD2, 5);
    let r = t.stop();
    let j = r.json();
    let (a, b) = ("192.168.30.71", "192.168.30.72");
    assert_eq!(
        rows(&j, "ens32"),
        vec![row("ipip", a, b, None, 7, (POD1, POD2))]
    );
    assert_eq!(
        rows(&j, "ens33"),
        vec![row("ipip", a, b, None, 5, (POD1, POD2))]
    );
    let multi = j["multi_interface"].as_array().unwrap();
    assert_eq!(multi.len(), 1, "{multi:?}");
    assert_eq!(multi[0]["outer_src"], a);
    let on: Vec<(&str, u64)> = multi[0]["interfaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["interface"].as_str().unwrap(),
                i["packets"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(on, vec![("ens32", 7), ("ens33", 5)]);
}

#[test]
fn case5_nic_deleted_mid_capture() {
    if !can_run("case5") {
        return;
    }
    let lab = Lab::new(Underlay::Net30, Mode::RawOnly);
    let mut t = lab.tuntrace("vms71", &["live", "--format", "json", "--duration", "20s"]);
    lab.send_ipip("vms71", "192.168.30.72", POD1, POD2, 4);
    lab.ip("vms71", &["link", "del", "ens32"]);
    let warn = t.wait_for("ens32 vanished", Duration::from_secs(5));
    assert!(warn.contains("other interfaces keep capturing"), "{warn}");
    lab.send_ipip("vms71", "192.168.30.72", POD1, POD2, 6);
    let r = t.stop();
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let j = r.json();
    assert_eq!(
        rows(&j, "ens33"),
        vec![row(
            "ipip",
            "192.168.30.71",
            "192.168.30.72",
            None,
            10,
            (POD1, POD2)
        )]
    );
    let gone = capture(&j, "ens32");
    assert!(
        gone["vanished_at"]
            .as_str()
            .is_some_and(|s| s.ends_with('Z')),
        "{gone}"
    );
    assert!(capture(&j, "ens33")["vanished_at"].is_null());
}

/// Per-interface tunnel packet counts of a report.
fn per_iface(j: &Value) -> Vec<(String, String, String, u64)> {
    let mut v = Vec::new();
    for l in j["links"].as_array().unwrap() {
        for t in l["tunnels"].as_array().unwrap() {
            v.push((
                l["interface"].as_str().unwrap().to_string(),
                t["outer_src"].as_str().unwrap().to_string(),
                t["outer_dst"].as_str().unwrap().to_string(),
                t["packets"].as_u64().unwrap(),
            ));
        }
    }
    v.sort();
    v
}

#[test]
fn case6_signals_give_report_and_readable_pcapng() {
    if !can_run("case6") {
        return;
    }
    let lab = Lab::new(Underlay::Net30, Mode::Ipip);
    let dir = std::env::temp_dir().join(format!("{}-case6", lab.prefix));
    std::fs::create_dir_all(&dir).unwrap();
    let f71 = dir.join("vms71.pcapng");
    let f72 = dir.join("vms72.pcapng");
    let t71 = lab.tuntrace(
        "vms71",
        &["live", "--format", "json", "--write", f71.to_str().unwrap()],
    );
    let t72 = lab.tuntrace(
        "vms72",
        &["live", "--format", "json", "--write", f72.to_str().unwrap()],
    );
    lab.ping(4);
    // An inner destination in vms72's blackhole: no reply comes back.
    lab.send_ipip("vms71", "192.168.26.72", POD1, "10.244.5.250", 3);
    t71.signal(libc::SIGTERM);
    t72.signal(libc::SIGINT);
    let (r71, r72) = (
        t71.finish(Duration::from_secs(10)),
        t72.finish(Duration::from_secs(10)),
    );
    for (r, f, want) in [
        (&r71, &f71, vec![("ens32", 3u64), ("ens33", 8)]),
        (&r72, &f72, vec![("eth0", 8), ("eth1", 3)]),
    ] {
        assert_eq!(r.code, Some(0), "{}", r.stderr);
        let live = r.json();
        let read = Command::new(lab::tuntrace_bin())
            .args(["read", f.to_str().unwrap(), "--format", "json"])
            .output()
            .unwrap();
        assert!(
            read.status.success(),
            "{}",
            String::from_utf8_lossy(&read.stderr)
        );
        let back: Value = serde_json::from_slice(&read.stdout).unwrap();
        assert_eq!(per_iface(&live), per_iface(&back));
        let mut sums: Vec<(String, u64)> = Vec::new();
        for (i, _, _, n) in per_iface(&live) {
            match sums.iter_mut().find(|(s, _)| *s == i) {
                Some(e) => e.1 += n,
                None => sums.push((i, n)),
            }
        }
        let want: Vec<(String, u64)> = want.into_iter().map(|(i, n)| (i.to_string(), n)).collect();
        assert_eq!(sums, want);
        if let Ok(out) = Command::new("tshark")
            .args([
                "-r",
                f.to_str().unwrap(),
                "-T",
                "fields",
                "-e",
                "frame.interface_name",
            ])
            .output()
        {
            let text = String::from_utf8_lossy(&out.stdout);
            for (iface, n) in &want {
                assert_eq!(
                    text.lines().filter(|l| l.trim() == iface).count() as u64,
                    *n,
                    "tshark {iface}"
                );
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn case7_burst_of_50_loses_nothing() {
    if !can_run("case7") {
        return;
    }
    let lab = Lab::new(Underlay::Net30, Mode::RawOnly);
    let args = [
        "live",
        "--format",
        "json",
        "--count",
        "50",
        "--duration",
        "20s",
    ];
    let t = lab.tuntrace("vms71", &args);
    // Also with --write: full snaplen, so the handle runs in block mode.
    let file = std::env::temp_dir().join(format!("{}-burst.pcapng", lab.prefix));
    let mut with_write = args.to_vec();
    with_write.extend(["--write", file.to_str().unwrap()]);
    let tw = lab.tuntrace("vms71", &with_write);
    let sent = lab.send_ipip("vms71", "192.168.30.72", POD1, POD2, 50);
    for r in [
        t.finish(Duration::from_secs(25)),
        tw.finish(Duration::from_secs(25)),
    ] {
        let j = r.json();
        let want = row(
            "ipip",
            "192.168.30.71",
            "192.168.30.72",
            None,
            50,
            (POD1, POD2),
        );
        assert_eq!(rows(&j, "ens33"), vec![want], "{sent}");
        let cap = capture(&j, "ens33");
        assert_eq!(cap["dropped_by_kernel"], 0, "{cap}");
        assert_eq!(cap["received"], 50, "{cap}");
    }
    let _ = std::fs::remove_file(&file);
    eprintln!("case7: {}", sent.trim());
}

#[test]
fn jsonl_streams_interval_records() {
    if !can_run("jsonl") {
        return;
    }
    let lab = Lab::new(Underlay::Net30, Mode::RawOnly);
    let t = lab.tuntrace(
        "vms71",
        &[
            "live",
            "--format",
            "jsonl",
            "--interval",
            "200ms",
            "--duration",
            "20s",
        ],
    );
    lab.send_ipip("vms71", "192.168.30.72", POD1, POD2, 3);
    std::thread::sleep(Duration::from_millis(500));
    lab.send_ipip("vms71", "192.168.30.72", POD1, POD2, 2);
    let r = t.stop();
    let lines: Vec<Value> = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let (last, records) = lines.split_last().unwrap();
    assert_eq!(
        per_iface(last),
        vec![(
            "ens33".into(),
            "192.168.30.71".into(),
            "192.168.30.72".into(),
            5
        )]
    );
    assert!(records.len() >= 2, "{}", r.stdout);
    let sum: u64 = records.iter().map(|r| r["packets"].as_u64().unwrap()).sum();
    assert_eq!(sum, 5);
    assert!(records
        .iter()
        .all(|r| r["interface"] == "ens33" && r["interval_start"].is_string()));
}

#[test]
fn unknown_interface_lists_the_real_ones() {
    let out = Command::new(lab::tuntrace_bin())
        .args(["live", "-i", "nosuch0", "--duration", "1s"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("nosuch0") && err.contains("lo"), "{err}");
}

#[test]
fn no_permission_names_root_and_capabilities() {
    if !can_run("no_permission") {
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    // A copy nobody can execute wherever the checkout lives.
    let dir = std::env::temp_dir().join(format!("tt{}-noperm", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let bin = dir.join("tuntrace");
    std::fs::copy(lab::tuntrace_bin(), &bin).unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = Command::new(&bin)
        .args(["live", "-i", "lo", "--duration", "1s"])
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("root") && err.contains("CAP_NET_RAW") && err.contains("lo"),
        "{err}"
    );
}

/// The seed's five IP_AUTODETECTION_METHOD cases and the underlay each picks.
pub const CAPTURE_CASES: [(&str, Underlay); 5] = [
    ("case1-interface", Underlay::Net30),
    ("case2-interface", Underlay::Net26),
    ("case3-skip-interface", Underlay::Net30),
    ("case4-can-reach", Underlay::Net30),
    ("case5-cidr", Underlay::Net26),
];

/// Regenerates `captures/` (tests/lab/record_captures.sh runs this):
/// per case, pod1 pings pod2 10 times through the TUN tunl0 while
/// `tuntrace live --write` records both NICs of each node.
#[test]
#[ignore = "writes captures/; run tests/lab/record_captures.sh"]
fn record_captures() {
    if !can_run("record_captures") {
        return;
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
    std::fs::create_dir_all(&dir).unwrap();
    for (name, underlay) in CAPTURE_CASES {
        let lab = Lab::new(underlay, Mode::Ipip);
        let f71 = dir.join(format!("{name}-vms71.pcapng"));
        let f72 = dir.join(format!("{name}-vms72.pcapng"));
        let t71 = lab.tuntrace(
            "vms71",
            &["live", "--format", "json", "--write", f71.to_str().unwrap()],
        );
        let t72 = lab.tuntrace(
            "vms72",
            &["live", "--format", "json", "--write", f72.to_str().unwrap()],
        );
        lab.exec(
            "pod1",
            &["ping", "-q", "-c", "10", "-i", "0.02", "-W", "2", POD2],
        );
        for r in [t71.stop(), t72.stop()] {
            assert_eq!(r.code, Some(0), "{}", r.stderr);
            let total = r.json()["packets"]["total"].as_u64().unwrap();
            assert_eq!(total, 20, "{name}: {}", r.stdout);
        }
        eprintln!("recorded {name}");
    }
}

/// `--all-traffic` on the TUN tunl0 (raw IP, DLT 12) and ens33 at once: the
/// file says LINKTYPE_RAW for tunl0 and reads back with the same counts.
#[test]
fn all_traffic_on_tunl0_and_ens33_writes_both_link_types() {
    if !can_run("all_traffic_tunl0") {
        return;
    }
    let lab = Lab::new(Underlay::Net30, Mode::Ipip);
    let dir = std::env::temp_dir().join(format!("{}-tunl0", lab.prefix));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("both.pcapng");
    let args = [
        "live",
        "-i",
        "tunl0",
        "-i",
        "ens33",
        "--all-traffic",
        "--format",
        "json",
        "--write",
        f.to_str().unwrap(),
    ];
    let t = lab.tuntrace("vms71", &args);
    lab.ping(3);
    let live = t.stop().json();
    let link = |j: &Value, name: &str| {
        let l = j["links"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["interface"] == name)
            .unwrap()
            .clone();
        (
            l["packets"].as_u64().unwrap(),
            l["tunnelled"].as_u64().unwrap(),
        )
    };
    assert_eq!(link(&live, "tunl0"), (6, 0), "inner pod packets, plain");
    // Everything else on ens33 too (the ARP exchange before the first packet).
    assert_eq!(link(&live, "ens33").1, 6);
    let read = Command::new(lab::tuntrace_bin())
        .args(["read", f.to_str().unwrap(), "--format", "json"])
        .output()
        .unwrap();
    assert!(
        read.status.success(),
        "{}",
        String::from_utf8_lossy(&read.stderr)
    );
    let back: Value = serde_json::from_slice(&read.stdout).unwrap();
    assert_eq!(link(&back, "tunl0"), (6, 0));
    assert_eq!(link(&back, "ens33"), link(&live, "ens33"));
    if let Ok(out) = Command::new("tshark")
        .args([
            "-r",
            f.to_str().unwrap(),
            "-T",
            "fields",
            "-e",
            "frame.interface_name",
            "-e",
            "ip.src",
        ])
        .output()
    {
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            text.lines()
                .filter(|l| l.starts_with("tunl0\t10.244."))
                .count(),
            6,
            "{text}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Outer IPv4 fragments: the default filter keeps later fragments (no ports,
/// no inner header) so whole trains are counted on the tunnel.
#[test]
fn outer_fragments_are_all_counted() {
    if !can_run("outer_fragments") {
        return;
    }
    let lab = Lab::new(Underlay::Net30, Mode::RawOnly);
    let t = lab.tuntrace(
        "vms71",
        &[
            "live",
            "--format",
            "json",
            "--count",
            "12",
            "--duration",
            "20s",
        ],
    );
    // 3000-byte ICMP payload: 3028-byte inner packet, 3 outer fragments at MTU 1500.
    let script = lab::script("ipip_send.py");
    lab.exec(
        "vms71",
        &[
            "python3",
            &script,
            "192.168.30.72",
            POD1,
            POD2,
            "4",
            "--size",
            "3000",
            "--fragment",
        ],
    );
    let j = t.finish(Duration::from_secs(25)).json();
    let link = &j["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["interface"] == "ens33")
        .unwrap()
        .clone();
    let tun = &link["tunnels"][0];
    assert_eq!(
        (tun["encap"].as_str(), tun["packets"].as_u64()),
        (Some("ipip"), Some(12)),
        "{tun}"
    );
    assert_eq!(tun["fragments"], 12, "{tun}");
    assert_eq!(
        tun["no_inner"], 8,
        "later fragments carry no inner header: {tun}"
    );
    assert_eq!(tun["inner"][0]["packets"], 4, "{tun}");
}

/// A NIC taken down and brought back up: capture resumes on it by itself,
/// every packet sent before and after is counted, and the report shows the
/// gap (issue 12's fault list; tcpdump's own handle dies with the NIC).
#[test]
fn nic_down_and_up_resumes_capture_with_a_gap() {
    if !can_run("nic_down_and_up_resumes_capture_with_a_gap") {
        return;
    }
    let lab = Lab::new(Underlay::Net30, Mode::RawOnly);
    let mut t = lab.tuntrace(
        "vms71",
        &[
            "live",
            "-i",
            "ens33",
            "--format",
            "json",
            "--duration",
            "30s",
        ],
    );
    lab.send_ipip("vms71", "192.168.30.72", POD1, POD2, 40);
    std::thread::sleep(Duration::from_millis(300));
    lab.ip("vms71", &["link", "set", "ens33", "down"]);
    let warn = t.wait_for("ens33 stopped capturing", Duration::from_secs(5));
    assert!(warn.contains("other interfaces keep capturing"), "{warn}");
    std::thread::sleep(Duration::from_secs(1));
    lab.ip("vms71", &["link", "set", "ens33", "up"]);
    let back = t.wait_for(
        "ens33 is back",
        Duration::from_secs(2) + Duration::from_millis(500),
    );
    assert!(back.contains("capturing on it again"), "{back}");
    lab.send_ipip("vms71", "192.168.30.72", POD1, POD2, 40);
    std::thread::sleep(Duration::from_millis(300));
    let r = t.stop();
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let j = r.json();
    assert_eq!(
        rows(&j, "ens33"),
        vec![row(
            "ipip",
            "192.168.30.71",
            "192.168.30.72",
            None,
            80,
            (POD1, POD2)
        )]
    );
    let gaps = capture(&j, "ens33")["gaps"].clone();
    let gaps = gaps.as_array().expect("a gap in the report");
    assert_eq!(gaps.len(), 1, "{gaps:?}");
    let (start, end) = (gaps[0]["start"].as_str(), gaps[0]["end"].as_str());
    assert!(
        start.is_some_and(|s| end.is_some_and(|e| e > s)),
        "{gaps:?}"
    );
}

/// `Uid:` and `CapEff:` of a running process.
fn identity(pid: i32) -> (String, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_string())
            .unwrap_or_default()
    };
    let cap = u64::from_str_radix(&field("CapEff:"), 16).expect("CapEff");
    (field("Uid:"), cap)
}

/// After opening its NICs and its file, `live` runs as `nobody` with only
/// CAP_NET_RAW (bit 13, kept to reopen a NIC that comes back), and capture,
/// the report and the pcapng file still work.
#[test]
fn live_drops_to_nobody_and_keeps_capturing() {
    if !can_run("live_drops_to_nobody_and_keeps_capturing") {
        return;
    }
    let lab = Lab::new(Underlay::Net30, Mode::RawOnly);
    let dir = std::env::temp_dir().join(format!("{}-privs", lab.prefix));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("vms71.pcapng");
    let t = lab.tuntrace(
        "vms71",
        &[
            "live",
            "-i",
            "ens33",
            "--format",
            "json",
            "--duration",
            "20s",
            "--write",
            file.to_str().unwrap(),
        ],
    );
    captures_after_the_drop(&lab, t, "running as nobody", &file, 12);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A running `live` on vms71 ens33 that announced `running` has dropped
/// to uid 65534 with CAP_NET_RAW alone, then counts `n` IPIP packets in its
/// report and in its `--write` file.
fn captures_after_the_drop(lab: &Lab, mut t: lab::Tracer, running: &str, file: &Path, n: u32) {
    let said = t.wait_for("running as", Duration::from_secs(2));
    assert!(said.contains(running), "{said}");
    let (uid, cap_eff) = identity(t.pid());
    assert!(
        uid.split_whitespace().all(|u| u == "65534"),
        "real, effective, saved and fs uid are nobody's: {uid}"
    );
    assert_eq!(cap_eff, 1 << 13, "CapEff is CAP_NET_RAW alone");
    lab.send_ipip("vms71", "192.168.30.72", POD1, POD2, n);
    std::thread::sleep(Duration::from_millis(300));
    let r = t.stop();
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let expect = vec![row(
        "ipip",
        "192.168.30.71",
        "192.168.30.72",
        None,
        u64::from(n),
        (POD1, POD2),
    )];
    assert_eq!(rows(&r.json(), "ens33"), expect);
    let read = Command::new(lab::tuntrace_bin())
        .args(["read", "--format", "json", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        read.status.success(),
        "{}",
        String::from_utf8_lossy(&read.stderr)
    );
    let back: Value = serde_json::from_slice(&read.stdout).unwrap();
    assert_eq!(rows(&back, "ens33"), expect);
}

/// Without root: a copy of the binary with only the CAP_NET_RAW and
/// CAP_NET_ADMIN file capabilities (`setcap`, as the README documents), run
/// as `nobody`, captures, writes its file and reports; after opening its NIC
/// it keeps CAP_NET_RAW alone.
#[test]
fn live_runs_without_root_on_file_capabilities() {
    if !can_run("live_runs_without_root_on_file_capabilities") {
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let lab = Lab::new(Underlay::Net30, Mode::RawOnly);
    let dir = std::env::temp_dir().join(format!("{}-fcaps", lab.prefix));
    std::fs::create_dir_all(&dir).unwrap();
    std::os::unix::fs::chown(&dir, Some(65534), Some(65534)).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let bin = dir.join("tuntrace");
    std::fs::copy(lab::tuntrace_bin(), &bin).unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let setcap = Command::new("setcap")
        .args(["cap_net_raw,cap_net_admin=ep", bin.to_str().unwrap()])
        .output()
        .expect("setcap (libcap2-bin, installed by .ci/deps)");
    assert!(
        setcap.status.success(),
        "setcap: {}",
        String::from_utf8_lossy(&setcap.stderr)
    );
    let file = dir.join("vms71.pcapng");
    let t = lab.tracer_from(
        "vms71",
        &[
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
            bin.to_str().unwrap(),
            "live",
            "-i",
            "ens33",
            "--format",
            "json",
            "--duration",
            "20s",
            "--write",
            file.to_str().unwrap(),
        ],
    );
    captures_after_the_drop(&lab, t, "running as uid 65534", &file, 9);
    let _ = std::fs::remove_dir_all(&dir);
}
