//! `live`, `audit` (live) and `probe` on the one capture session, without
//! root: fake NICs replay the bundled lab captures in real time (case 1:
//! IPIP 192.168.30.71 ⇄ 192.168.30.72 on ens33, 10 packets each way, pods
//! 10.244.118.193 ⇄ 10.244.5.194), with kernel drops, a NIC vanishing,
//! Ctrl-C and a fake network answering the probe.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Parser;
use serde_json::Value;
use tuntrace::cli::{Cli, Command};
use tuntrace::os::fake::FakeHost;
use tuntrace::sources::live::replay::Faults;
use tuntrace::sources::live::OpenError;
use tuntrace::{cmd, exit};

const POD71: &str = "10.244.118.193";
const POD72: &str = "10.244.5.194";

fn case1() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("captures/case1-interface-vms71.pcapng")
}

/// vms71 of case 1: ens33 carries the tunnel, ens32 is quiet.
fn vms71() -> FakeHost {
    FakeHost::new()
        .nic("ens32", case1(), 1.0)
        .nic("ens33", case1(), 1.0)
}

fn args(words: &[&str]) -> Command {
    let mut all = vec!["tuntrace"];
    all.extend_from_slice(words);
    Cli::try_parse_from(all).expect("flags parse").command
}

/// Runs a command on `host`; returns the exit code and what it printed.
fn run(host: &FakeHost, words: &[&str]) -> (u8, String) {
    let mut out = Vec::new();
    let code = match args(words) {
        Command::Live(a) => cmd::live::run_on(host, &a, &mut out),
        Command::Audit(a) => cmd::audit::run_on(host, &a, &mut out),
        Command::Probe(a) => cmd::probe::run_on(host, &a, &mut out),
        other => panic!("not a capture command: {other:?}"),
    };
    (code, String::from_utf8(out).expect("utf-8 output"))
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

fn link<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["links"]
        .as_array()
        .and_then(|l| l.iter().find(|l| l["interface"] == name))
        .unwrap_or_else(|| panic!("no link {name} in {report}"))
}

/// (encap, outer src, outer dst, packets, inner src, inner dst) per tunnel row.
fn rows(report: &Value, name: &str) -> Vec<(String, String, String, u64, String, String)> {
    let mut v: Vec<_> = link(report, name)["tunnels"]
        .as_array()
        .expect("tunnels")
        .iter()
        .map(|t| {
            let inner = &t["inner"][0];
            (
                t["encap"].as_str().unwrap_or("").to_string(),
                t["outer_src"].as_str().unwrap_or("").to_string(),
                t["outer_dst"].as_str().unwrap_or("").to_string(),
                t["packets"].as_u64().unwrap_or(0),
                inner["src"].as_str().unwrap_or("").to_string(),
                inner["dst"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

fn both_ways(n: u64) -> Vec<(String, String, String, u64, String, String)> {
    let r = |a: &str, b: &str, pa: &str, pb: &str| {
        ("ipip".into(), a.into(), b.into(), n, pa.into(), pb.into())
    };
    vec![
        r("192.168.30.71", "192.168.30.72", POD71, POD72),
        r("192.168.30.72", "192.168.30.71", POD72, POD71),
    ]
}

#[test]
fn live_reports_the_tunnel_on_the_nic_that_carried_it() {
    let (code, out) = run(&vms71(), &["live", "--format", "json", "--duration", "1s"]);
    assert_eq!(code, exit::OK);
    let r = json(&out);
    assert_eq!(rows(&r, "ens33"), both_ways(10));
    assert_eq!(rows(&r, "ens32"), vec![]);
    assert_eq!(link(&r, "ens33")["capture"]["received"], 20);
    assert_eq!(r["packets"]["tunnelled"], 20);
    let sources: Vec<&str> = r["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(sources, vec!["live:ens32", "live:ens33"]);
}

#[test]
fn ctrl_c_ends_the_capture_with_the_whole_report() {
    let host = vms71();
    let started = Instant::now();
    let (code, out) = std::thread::scope(|s| {
        s.spawn(|| {
            // Once every frame was played (and counted), press Ctrl-C.
            let end = Instant::now() + Duration::from_secs(20);
            while Instant::now() < end {
                std::thread::sleep(Duration::from_millis(50));
                if host.pending() == 0 && started.elapsed() > Duration::from_millis(500) {
                    break;
                }
            }
            std::thread::sleep(Duration::from_millis(200));
            host.interrupt();
        });
        run(&host, &["live", "--format", "json", "--duration", "60s"])
    });
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "Ctrl-C did not stop the session"
    );
    assert_eq!(code, exit::OK);
    assert_eq!(rows(&json(&out), "ens33"), both_ways(10));
}

#[test]
fn kernel_drops_are_reported_per_nic() {
    let host = vms71().faults(
        "ens33",
        Faults {
            drop_every: Some(4),
            ..Faults::default()
        },
    );
    let (code, out) = run(&host, &["live", "--format", "json", "--duration", "1s"]);
    assert_eq!(code, exit::OK);
    let r = json(&out);
    let capture = &link(&r, "ens33")["capture"];
    assert_eq!(capture["dropped_by_kernel"], 5);
    assert_eq!(capture["received"], 20);
    assert_eq!(link(&r, "ens33")["packets"], 15);
}

#[test]
fn a_vanished_nic_keeps_what_it_counted_and_the_others_go_on() {
    let host = FakeHost::new()
        .nic("ens33", case1(), 1.0)
        .nic_from("ens34", case1(), "ens33", 1.0)
        .faults(
            "ens33",
            Faults {
                vanish_after: Some(6),
                ..Faults::default()
            },
        );
    let (code, out) = run(&host, &["live", "--format", "json", "--duration", "1s"]);
    assert_eq!(code, exit::OK);
    let r = json(&out);
    let gone = link(&r, "ens33");
    assert_eq!(gone["packets"], 6);
    assert!(gone["capture"]["vanished_at"]
        .as_str()
        .is_some_and(|t| t.ends_with('Z')));
    assert!(gone["capture"]["error"]
        .as_str()
        .is_some_and(|e| e.starts_with("interface vanished")));
    // ens34 replays the same file under another name: every frame counted.
    assert_eq!(link(&r, "ens34")["packets"], 20);
    assert!(link(&r, "ens34")["capture"]["vanished_at"].is_null());
}

#[test]
fn count_stops_after_exactly_n_frames() {
    let (code, out) = run(
        &vms71(),
        &[
            "live",
            "--format",
            "json",
            "--count",
            "7",
            "--duration",
            "10s",
        ],
    );
    assert_eq!(code, exit::OK);
    assert_eq!(json(&out)["packets"]["total"], 7);
}

#[test]
fn jsonl_intervals_add_up_to_the_total() {
    let (code, out) = run(
        &vms71(),
        &[
            "live",
            "--format",
            "jsonl",
            "--interval",
            "100ms",
            "--duration",
            "1s",
        ],
    );
    assert_eq!(code, exit::OK);
    let records: Vec<Value> = out.lines().map(json).collect();
    assert!(records.len() >= 5, "{} records", records.len());
    // One record per tunnel and interval.
    let counted: u64 = records
        .iter()
        .filter(|r| r["encap"] == "ipip")
        .map(|r| r["packets"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(counted, 20, "{out}");
}

#[test]
fn a_named_nic_that_cannot_open_is_an_error_a_chosen_one_is_skipped() {
    let refused = |name: &str| OpenError::Other {
        iface: name.into(),
        detail: "device busy".into(),
    };
    let host = vms71().refuse("ens32", refused("ens32"));
    let (code, _) = run(&host, &["live", "-i", "ens32", "--duration", "1s"]);
    assert_eq!(code, exit::USAGE);
    let (code, out) = run(&host, &["live", "--format", "json", "--duration", "1s"]);
    assert_eq!(code, exit::OK);
    let r = json(&out);
    assert_eq!(rows(&r, "ens33"), both_ways(10));
    assert!(r["links"]
        .as_array()
        .unwrap()
        .iter()
        .all(|l| l["interface"] != "ens32"));
    let denied = vms71().refuse(
        "ens32",
        OpenError::Permission {
            iface: "ens32".into(),
            detail: "Operation not permitted".into(),
        },
    );
    let (code, _) = run(&denied, &["live", "--duration", "1s"]);
    assert_eq!(code, exit::USAGE, "no permission stops before capturing");
}

#[test]
fn audit_live_flags_the_tunnel_on_the_unexpected_nic() {
    let host = vms71().mtu_of("ens33", 1500);
    let (code, out) = run(
        &host,
        &[
            "audit",
            "--duration",
            "1s",
            "--format",
            "json",
            "--expect-iface",
            "ens32",
        ],
    );
    assert_eq!(code, exit::FINDINGS, "{out}");
    let v = json(&out);
    let kinds: Vec<(&str, String)> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["kind"].as_str().unwrap(), f["interface"].to_string()))
        .collect();
    assert!(
        kinds
            .iter()
            .any(|(k, i)| *k == "unexpected-interface" && i.contains("ens33")),
        "{kinds:?}"
    );
    assert_eq!(rows(&v["report"], "ens33"), both_ways(10));
    let (code, out) = run(
        &vms71(),
        &[
            "audit",
            "--duration",
            "1s",
            "--format",
            "json",
            "--expect-iface",
            "ens33",
        ],
    );
    assert_eq!(code, exit::OK, "{out}");
}

#[test]
fn probe_names_the_nic_and_tunnel_both_ways() {
    let host = FakeHost::new()
        .quiet_nic("ens32")
        .quiet_nic("ens33")
        .echo_path(
            "ens33",
            ([192, 168, 30, 71].into(), [192, 168, 30, 72].into()),
            POD71.parse().unwrap(),
            true,
        );
    let (code, out) = run(&host, &["probe", POD72, "--format", "json", "-c", "2"]);
    assert_eq!(code, exit::OK, "{out}");
    let v = json(&out);
    assert_eq!(v["request"]["interface"], "ens33");
    assert_eq!(v["request"]["encap"], "ipip");
    assert_eq!(v["request"]["outer_src"], "192.168.30.71");
    assert_eq!(v["reply"]["outer_src"], "192.168.30.72");
    assert_eq!(
        (v["sent"].as_u64(), v["received"].as_u64()),
        (Some(2), Some(2))
    );
}

#[test]
fn probe_without_a_reply_says_so() {
    let host = FakeHost::new().quiet_nic("ens33").echo_path(
        "ens33",
        ([192, 168, 30, 71].into(), [192, 168, 30, 72].into()),
        POD71.parse().unwrap(),
        false,
    );
    let (code, out) = run(
        &host,
        &[
            "probe",
            POD72,
            "--format",
            "json",
            "-c",
            "1",
            "--timeout",
            "300ms",
        ],
    );
    assert_eq!(code, exit::PROBE_NO_REPLY, "{out}");
    let v = json(&out);
    assert_eq!(v["request"]["interface"], "ens33");
    assert!(v["reply"].is_null());
}

#[test]
fn a_nic_that_comes_back_is_captured_again_with_the_gap_reported() {
    let host = FakeHost::new().nic("ens33", case1(), 1.0).faults(
        "ens33",
        Faults {
            vanish_after: Some(6),
            ..Faults::default()
        },
    );
    let (code, out) = std::thread::scope(|s| {
        s.spawn(|| {
            // Deleted after 6 frames; re-created with the same name 0.5 s later.
            std::thread::sleep(Duration::from_millis(800));
            host.reappear("ens33", case1(), "ens33");
        });
        run(&host, &["live", "--format", "json", "--duration", "2500ms"])
    });
    assert_eq!(code, exit::OK);
    let r = json(&out);
    let ens33 = link(&r, "ens33");
    // 6 before the gap, all 20 of the replay after it.
    assert_eq!(ens33["packets"], 26, "{ens33}");
    let gaps = ens33["capture"]["gaps"].as_array().expect("gaps");
    assert_eq!(gaps.len(), 1, "{ens33}");
    assert!(gaps[0]["start"].as_str().is_some_and(|t| t.ends_with('Z')));
    assert!(gaps[0]["end"]
        .as_str()
        .is_some_and(|t| t > gaps[0]["start"].as_str().unwrap()));
}

#[test]
fn intervals_go_on_while_a_nic_is_down() {
    let host = FakeHost::new()
        .nic("ens33", case1(), 1.0)
        .nic_from("ens34", case1(), "ens33", 1.0)
        .faults(
            "ens33",
            Faults {
                vanish_after: Some(2),
                ..Faults::default()
            },
        );
    let (code, out) = run(
        &host,
        &[
            "live",
            "--format",
            "jsonl",
            "--interval",
            "100ms",
            "--duration",
            "1s",
        ],
    );
    assert_eq!(code, exit::OK);
    let records: Vec<Value> = out.lines().map(json).collect();
    let mut starts: Vec<&str> = records
        .iter()
        .filter(|r| r["interface"] == "ens34")
        .filter_map(|r| r["interval_start"].as_str())
        .collect();
    starts.dedup();
    // ens34's 20 frames span ~0.23 s: several intervals, not one at the end.
    assert!(starts.len() >= 2, "{out}");
    let on = |nic: &str| -> u64 {
        records
            .iter()
            .filter(|r| r["interface"] == nic)
            .map(|r| r["packets"].as_u64().unwrap_or(0))
            .sum()
    };
    assert_eq!((on("ens33"), on("ens34")), (2, 20));
}

#[test]
fn live_names_pods_and_nodes_from_k8s_lists() {
    let data = |f: &str| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data-k8s")
            .join(f)
            .display()
            .to_string()
    };
    let (pods, nodes) = (data("pods.json"), data("nodes.yaml"));
    let (code, out) = run(
        &vms71(),
        &[
            "live",
            "--format",
            "json",
            "--duration",
            "1s",
            "--k8s",
            &pods,
            "--k8s",
            &nodes,
        ],
    );
    assert_eq!(code, exit::OK);
    let r = json(&out);
    let t = link(&r, "ens33")["tunnels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["outer_src"] == "192.168.30.71")
        .cloned()
        .expect("the vms71 → vms72 tunnel");
    assert_eq!(
        (t["outer_src_node"].as_str(), t["outer_dst_node"].as_str()),
        (Some("vms71"), Some("vms72"))
    );
    assert_eq!(t["inner"][0]["src_pod"], "shop/web-0");
    let (code, _) = run(
        &vms71(),
        &["live", "--duration", "1s", "--k8s", "/nonexistent.json"],
    );
    assert_eq!(code, exit::USAGE);
}

#[test]
fn live_keeps_an_svg_picture_of_what_it_saw() {
    let path = std::env::temp_dir().join(format!("tuntrace-live-{}.svg", std::process::id()));
    let p = path.to_str().unwrap();
    let (code, _) = run(
        &vms71(),
        &[
            "live",
            "--format",
            "json",
            "--interval",
            "100ms",
            "--duration",
            "1s",
            "--svg",
            p,
        ],
    );
    assert_eq!(code, exit::OK);
    let svg = std::fs::read_to_string(&path).expect("the picture was written");
    let _ = std::fs::remove_file(&path);
    assert!(
        svg.starts_with("<?xml") || svg.starts_with("<svg"),
        "{}",
        &svg[..80.min(svg.len())]
    );
    assert!(svg.trim_end().ends_with("</svg>"), "a whole document");
    assert!(svg.contains(">ens33<"), "the NIC's label");
    assert!(
        svg.contains("IPIP 10 pkts"),
        "both arrows carry their packets"
    );
    let (code, _) = run(
        &vms71(),
        &[
            "live",
            "--duration",
            "1s",
            "--svg",
            "/nonexistent-dir/x.svg",
        ],
    );
    assert_eq!(
        code,
        exit::USAGE,
        "an unwritable --svg stops before capture"
    );
}
