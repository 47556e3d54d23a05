//! `live --metrics` on fake NICs (no root): the daemon replays case 1 (IPIP
//! 192.168.30.71 ⇄ 192.168.30.72 on ens33, 10 packets each way, pods
//! 10.244.118.193 ⇄ 10.244.5.194; ens32 quiet) and a test client scrapes it
//! over loopback.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Parser;
use serde_json::Value;
use tuntrace::cli::{Cli, Command};
use tuntrace::os::fake::FakeHost;
use tuntrace::{cmd, exit};

const TUNNEL_OUT: &str = r#"tuntrace_tunnel_packets_total{device="ens33",direction="egress",encap="ipip",outer_src="192.168.30.71",outer_dst="192.168.30.72",vni=""} 10"#;
const TUNNEL_IN: &str = r#"tuntrace_tunnel_packets_total{device="ens33",direction="ingress",encap="ipip",outer_src="192.168.30.72",outer_dst="192.168.30.71",vni=""} 10"#;

fn case1() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("captures/case1-interface-vms71.pcapng")
}

/// vms71 of case 1, owning 192.168.30.71.
fn vms71() -> FakeHost {
    FakeHost::new()
        .nic("ens32", case1(), 1.0)
        .nic("ens33", case1(), 1.0)
        .address([192, 168, 30, 71].into())
        .address([192, 168, 26, 71].into())
}

/// A loopback port nobody listens on (bound, read, released).
fn free_addr() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    l.local_addr().unwrap()
}

/// `GET path` over loopback: (status, body); `None` while nothing listens.
fn get(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut raw = String::new();
    s.read_to_string(&mut raw).ok()?;
    let (head, body) = raw.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, body.to_string()))
}

/// Polls `path` until `ok(status, body)` holds; panics after 20 s.
fn wait_for(addr: SocketAddr, path: &str, ok: impl Fn(u16, &str) -> bool) -> String {
    let end = Instant::now() + Duration::from_secs(20);
    let mut last = None;
    while Instant::now() < end {
        if let Some((status, body)) = get(addr, path) {
            if ok(status, &body) {
                return body;
            }
            last = Some((status, body));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{path} never became as expected; last answer: {last:?}");
}

/// Runs `live WORDS` on `host` while `client` talks to it, then Ctrl-C.
fn with_daemon(host: &FakeHost, words: &[&str], client: impl FnOnce(SocketAddr)) -> (u8, String) {
    let addr = free_addr();
    let listen = addr.to_string();
    let mut all = vec!["tuntrace", "live", "--metrics", &listen];
    all.extend_from_slice(words);
    let Command::Live(args) = Cli::try_parse_from(all).expect("flags parse").command else {
        panic!("not live");
    };
    std::thread::scope(|s| {
        let daemon = s.spawn(|| {
            let mut out = Vec::new();
            let code = cmd::live::run_on(host, &args, &mut out);
            (code, String::from_utf8(out).expect("utf-8"))
        });
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| client(addr)));
        host.interrupt();
        let ran = daemon.join().expect("daemon thread");
        if let Err(p) = outcome {
            std::panic::resume_unwind(p);
        }
        ran
    })
}

fn lines_of<'a>(text: &'a str, prefix: &str) -> Vec<&'a str> {
    text.lines().filter(|l| l.starts_with(prefix)).collect()
}

#[test]
fn metrics_name_the_nic_direction_and_outer_pair() {
    let host = vms71();
    let (code, out) = with_daemon(
        &host,
        &["--format", "json", "--interval", "100ms", "--metrics-pairs"],
        |addr| {
            let m = wait_for(addr, "/metrics", |st, b| {
                st == 200 && b.contains(TUNNEL_OUT) && b.contains(TUNNEL_IN)
            });
            let tunnels = lines_of(&m, "tuntrace_tunnel_packets_total");
            assert_eq!(tunnels.len(), 2, "{m}");
            assert!(tunnels.contains(&TUNNEL_OUT) && tunnels.contains(&TUNNEL_IN));
            assert!(!m.contains(r#"device="ens32",direction"#), "{m}");
            for line in [
                "# TYPE tuntrace_tunnel_packets counter",
                "# TYPE tuntrace_tunnel_last_seen_timestamp_seconds gauge",
                "# UNIT tuntrace_tunnel_last_seen_timestamp_seconds seconds",
                r#"tuntrace_pair_packets_total{device="ens33",direction="egress",encap="ipip",outer_src="192.168.30.71",outer_dst="192.168.30.72",inner_src="10.244.118.193",inner_dst="10.244.5.194"} 10"#,
                r#"tuntrace_pair_packets_total{device="ens33",direction="ingress",encap="ipip",outer_src="192.168.30.72",outer_dst="192.168.30.71",inner_src="10.244.5.194",inner_dst="10.244.118.193"} 10"#,
                r#"tuntrace_capture_dropped_total{device="ens33",reason="kernel"} 0"#,
                r#"tuntrace_capture_dropped_total{device="ens32",reason="interface"} 0"#,
                r#"tuntrace_series{family="tunnel"} 2"#,
                r#"tuntrace_series{family="pair"} 2"#,
                "tuntrace_pairs_overflow_total 0",
                concat!(
                    r#"tuntrace_build_info{version=""#,
                    env!("CARGO_PKG_VERSION"),
                    r#"",revision="#
                ),
                "# EOF",
            ] {
                assert!(m.contains(line), "no {line:?} in\n{m}");
            }
            let fragments = r#"tuntrace_tunnel_fragments_total{device="ens33",direction="egress",encap="ipip",outer_src="192.168.30.71",outer_dst="192.168.30.72",vni=""} 0"#;
            assert!(m.contains(fragments), "{m}");
            let seen = lines_of(&m, "tuntrace_tunnel_last_seen_timestamp_seconds{");
            assert_eq!(seen.len(), 2, "{m}");
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs_f64();
            for l in seen {
                let t: f64 = l.rsplit(' ').next().unwrap().parse().unwrap();
                assert!((now - t).abs() < 60.0, "{l} is not about now ({now})");
            }
            assert!(
                !m.contains("node="),
                "the exporter sets no node label:\n{m}"
            );
            assert!(m.contains(r#"tuntrace_capture_packets_total{device="ens33"} "#));
            let (st, body) = get(addr, "/healthz").expect("healthz");
            assert_eq!((st, body.as_str()), (200, "ok\n"));
            let (st, _) = get(addr, "/readyz").expect("readyz");
            assert_eq!(st, 200);
            let (st, body) = get(addr, "/report").expect("report");
            assert_eq!(st, 200);
            let r: Value = serde_json::from_str(&body).expect("report is JSON");
            assert_eq!(r["node"], "fakehost");
            let ens33 = r["links"]
                .as_array()
                .unwrap()
                .iter()
                .find(|l| l["interface"] == "ens33")
                .expect("ens33 in /report");
            assert_eq!(ens33["packets"], 20);
            assert_eq!(r["packets"]["tunnelled"], 20);
        },
    );
    assert_eq!(code, exit::OK);
    let r: Value = serde_json::from_str(&out).expect("final report is JSON");
    assert_eq!(r["packets"]["tunnelled"], 20);
}

#[test]
fn readyz_says_which_nic_stopped_capturing() {
    let host = vms71();
    let (code, _) = with_daemon(&host, &["--interval", "100ms"], |addr| {
        wait_for(addr, "/readyz", |st, _| st == 200);
        assert!(host.vanish("ens32"), "ens32 was opened");
        let body = wait_for(addr, "/readyz", |st, _| st == 503);
        assert!(
            body.starts_with("not ready: ens32: interface vanished"),
            "{body}"
        );
        // Liveness stays: a NIC that is down must not restart the pod.
        assert_eq!(get(addr, "/healthz").map(|r| r.0), Some(200));
    });
    assert_eq!(code, exit::OK);
}

#[test]
fn pair_series_are_bounded_and_expire() {
    let host = vms71();
    let (code, _) = with_daemon(
        &host,
        &[
            "--interval",
            "100ms",
            "--metrics-pairs",
            "--metrics-max-pairs",
            "1",
            "--metrics-pair-ttl",
            "1s",
            "--node",
            "vms71",
        ],
        |addr| {
            let m = wait_for(addr, "/metrics", |_, b| {
                b.contains(TUNNEL_OUT) && b.contains(TUNNEL_IN)
            });
            let pairs = lines_of(&m, "tuntrace_pair_packets_total{");
            let (other, named): (Vec<&str>, Vec<&str>) = pairs
                .iter()
                .partition(|l| l.contains(r#"inner_src="other""#));
            assert_eq!(named.len(), 1, "{m}");
            assert_eq!(other.len(), 1, "{m}");
            assert!(other[0].contains(r#"outer_src="other",outer_dst="other""#));
            let sum: u64 = pairs
                .iter()
                .map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
                .sum();
            assert_eq!(sum, 20, "{m}");
            assert!(!m.contains("tuntrace_pairs_overflow_total 0\n"), "{m}");
            assert!(m.contains(r#"tuntrace_series{family="pair"} 2"#), "{m}");
            // Once the replay is over, the named pair is not seen again and
            // goes after its TTL; the tunnel series stay.
            let m = wait_for(addr, "/metrics", |_, b| {
                !b.contains(r#"inner_src="10.244."#)
            });
            assert!(m.contains(TUNNEL_OUT), "{m}");
            let (_, body) = get(addr, "/report").unwrap();
            let r: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(r["node"], "vms71");
        },
    );
    assert_eq!(code, exit::OK);
}

#[test]
fn a_taken_address_exits_2_before_capturing() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let host = vms71();
    let Command::Live(args) = Cli::try_parse_from(["tuntrace", "live", "--metrics", &addr])
        .unwrap()
        .command
    else {
        panic!("not live");
    };
    let started = Instant::now();
    let mut out = Vec::new();
    assert_eq!(cmd::live::run_on(&host, &args, &mut out), exit::USAGE);
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(out.is_empty());
    // No NIC was opened: a vanish finds nothing to act on.
    assert!(!host.vanish("ens33"));
}

#[test]
fn audit_findings_follow_the_expectations() {
    let host = vms71();
    let (code, _) = with_daemon(
        &host,
        &["--interval", "100ms", "--expect-iface", "ens32"],
        |addr| {
            let m = wait_for(addr, "/metrics", |_, b| {
                b.contains(TUNNEL_OUT) && b.contains(TUNNEL_IN)
            });
            let findings = lines_of(&m, "tuntrace_audit_findings{");
            assert_eq!(
                findings,
                vec![r#"tuntrace_audit_findings{kind="unexpected-interface",device="ens33"} 2"#],
                "{m}"
            );
        },
    );
    assert_eq!(code, exit::OK);
    // Without expectations the family is not there at all.
    let (_, _) = with_daemon(&vms71(), &["--interval", "100ms"], |addr| {
        let m = wait_for(addr, "/metrics", |_, b| b.contains(TUNNEL_OUT));
        assert!(!m.contains("tuntrace_audit_findings"), "{m}");
    });
}

#[test]
fn events_log_first_paths_and_findings_as_json_lines() {
    let dir = std::env::temp_dir().join(format!("tuntrace-events-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("events.jsonl");
    let path = file.to_str().unwrap().to_string();
    // ens34 replays ens33's frames too: the tunnel is on both NICs.
    let host = vms71().nic_from("ens34", case1(), "ens33", 1.0);
    let (code, _) = with_daemon(
        &host,
        &[
            "--interval",
            "100ms",
            "--events",
            &path,
            "--expect-iface",
            "ens32",
            "--node",
            "vms71",
        ],
        |addr| {
            wait_for(addr, "/metrics", |_, b| {
                b.contains(TUNNEL_OUT) && b.contains(&TUNNEL_OUT.replace("ens33", "ens34"))
            });
        },
    );
    assert_eq!(code, exit::OK);
    let text = std::fs::read_to_string(&file).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let events: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    // Each direction is first seen (from nothing), every change starts where
    // the last one ended, and the NICs named are the two that carried it.
    for (src, dst) in [
        ("192.168.30.71", "192.168.30.72"),
        ("192.168.30.72", "192.168.30.71"),
    ] {
        let paths: Vec<&Value> = events
            .iter()
            .filter(|e| {
                e["event"] == "path-change" && e["outer_src"] == src && e["outer_dst"] == dst
            })
            .collect();
        assert!(!paths.is_empty(), "{text}");
        assert_eq!(paths[0]["from"], serde_json::json!([]), "{text}");
        assert_eq!(paths[0]["encap"], "ipip");
        for w in paths.windows(2) {
            assert_eq!(w[1]["from"], w[0]["to"], "{text}");
        }
        let mut nics: Vec<&str> = paths
            .iter()
            .flat_map(|e| {
                e["to"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|n| n.as_str().unwrap())
            })
            .collect();
        nics.sort();
        nics.dedup();
        assert_eq!(nics, ["ens33", "ens34"], "{text}");
    }
    assert!(events
        .iter()
        .all(|e| e["node"] == "vms71" && e["time"].as_str().is_some_and(|t| t.ends_with('Z'))));
    let new: Vec<(&str, &str)> = events
        .iter()
        .filter(|e| e["event"] == "finding" && e["state"] == "new")
        .map(|e| (e["kind"].as_str().unwrap(), e["device"].as_str().unwrap()))
        .collect();
    assert!(new.contains(&("unexpected-interface", "ens33")), "{text}");
    assert!(new.contains(&("unexpected-interface", "ens34")), "{text}");
}

#[test]
fn autodetect_info_follows_the_method_pick_and_drives_the_audit() {
    let dir = std::env::temp_dir().join(format!("tuntrace-method-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("host.json");
    let host_with = |nics: &[(&str, &str)]| {
        let ifaces: Vec<String> = nics
            .iter()
            .map(|(n, a)| format!(r#"{{"name": "{n}", "addrs": ["{a}/24"]}}"#))
            .collect();
        std::fs::write(&file, format!(r#"{{"ifaces": [{}]}}"#, ifaces.join(","))).unwrap();
    };
    // 192.168.26.71 on ens32: the method picks ens32, so the tunnel on
    // ens33 is unexpected.
    host_with(&[("ens32", "192.168.26.71"), ("ens33", "192.168.30.71")]);
    let path = file.to_str().unwrap().to_string();
    let host = vms71();
    let method = "cidr=192.168.26.0/24";
    let (code, _) = with_daemon(
        &host,
        &[
            "--interval",
            "100ms",
            "--expect-method",
            method,
            "--host-file",
            &path,
        ],
        |addr| {
            let ens32 = format!(
                r#"tuntrace_autodetect_info{{method="{method}",device="ens32",address="192.168.26.71"}} 1"#
            );
            let m = wait_for(addr, "/metrics", |_, b| {
                b.contains(TUNNEL_OUT) && b.contains(&ens32)
            });
            assert!(
                m.contains(
                    r#"tuntrace_audit_findings{kind="unexpected-interface",device="ens33"}"#
                ),
                "{m}"
            );
            // The address moves to ens33: so does the pick, and the old series goes.
            host_with(&[("ens32", "10.9.9.9"), ("ens33", "192.168.26.71")]);
            let ens33 = ens32.replace("ens32", "ens33");
            let m = wait_for(addr, "/metrics", |_, b| b.contains(&ens33));
            assert_eq!(
                lines_of(&m, "tuntrace_autodetect_info{"),
                vec![ens33.as_str()],
                "{m}"
            );
        },
    );
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(code, exit::OK);
}
