//! The path-change timeline of `live`, without root: on fake NICs, vms71's
//! pod traffic first crosses ens33 (the bundled case-1 capture, underlay
//! 30), then, after a pause, only ens32 carries vms71's requests (the
//! case-2 capture's frames from 192.168.26.71, underlay 26), as when the
//! route for the peer changes on vms71 alone.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Parser;
use tuntrace::cli::{Cli, Command};
use tuntrace::iface::IfaceTable;
use tuntrace::os::fake::FakeHost;
use tuntrace::report::{PathChange, PathEnd, Report};
use tuntrace::sources::file::{read_file, FileOptions};
use tuntrace::{cmd, exit};

/// How long the test waits between the last ens33 frame and the first on ens32.
const PAUSE: Duration = Duration::from_millis(700);

fn capture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("captures")
        .join(name)
}

/// vms71's requests on ens32 in case 2: (offset from the first, orig_len, frame).
fn case2_requests() -> Vec<(Duration, u32, Vec<u8>)> {
    let mut ifaces = IfaceTable::new();
    let mut frames = Vec::new();
    let path = capture("case2-interface-vms71.pcapng");
    read_file(&path, &FileOptions::default(), &mut ifaces, |f| {
        frames.push((f.iface, f.ts_ns, f.orig_len, f.data.to_vec()));
    })
    .expect("case 2 capture reads");
    // Ethernet + IPv4: the outer source sits at bytes 26..30.
    frames.retain(|(id, _, _, d)| {
        ifaces.name(*id) == "ens32" && d.get(26..30) == Some(&[192, 168, 26, 71][..])
    });
    assert_eq!(frames.len(), 10, "case 2 holds 10 requests from vms71");
    let t0 = frames[0].1;
    frames
        .into_iter()
        .map(|(_, ts, len, d)| (Duration::from_nanos(ts - t0), len, d))
        .collect()
}

/// Runs `live` with `words` on the moving host; returns the exit code and output.
fn live_across_the_move(words: &[&str]) -> (u8, String) {
    let host = FakeHost::new()
        .nic_from(
            "ens33",
            capture("case1-interface-vms71.pcapng"),
            "ens33",
            0.25,
        )
        .quiet_nic("ens32");
    let requests = case2_requests();
    let mut all = vec![
        "tuntrace",
        "live",
        "--interval",
        "200ms",
        "--duration",
        "4s",
    ];
    all.extend_from_slice(words);
    let Command::Live(args) = Cli::try_parse_from(all).expect("flags parse").command else {
        panic!("not live");
    };
    std::thread::scope(|s| {
        s.spawn(|| {
            // Wait for case 1 to start and play out on ens33, pause, then move.
            let end = Instant::now() + Duration::from_secs(3);
            while host.pending() == 0 {
                assert!(Instant::now() < end, "ens33 did not open");
                std::thread::sleep(Duration::from_millis(2));
            }
            while host.pending() > 0 {
                assert!(Instant::now() < end, "case 1 did not play out");
                std::thread::sleep(Duration::from_millis(10));
            }
            std::thread::sleep(PAUSE);
            let start = Instant::now();
            for (offset, len, data) in requests {
                if let Some(wait) = offset.checked_sub(start.elapsed()) {
                    std::thread::sleep(wait);
                }
                assert!(host.inject("ens32", len, data), "ens32 is open");
            }
        });
        let mut out = Vec::new();
        let code = cmd::live::run_on(&host, &args, &mut out);
        (code, String::from_utf8(out).expect("utf-8 output"))
    })
}

fn on30() -> PathEnd {
    PathEnd {
        device: "ens33".into(),
        encap: tuntrace::decode::Encap::Ipip,
        outer_src: "192.168.30.71".parse().unwrap(),
        outer_dst: "192.168.30.72".parse().unwrap(),
    }
}

fn on26() -> PathEnd {
    PathEnd {
        device: "ens32".into(),
        outer_src: "192.168.26.71".parse().unwrap(),
        outer_dst: "192.168.26.72".parse().unwrap(),
        ..on30()
    }
}

#[test]
fn jsonl_says_once_that_the_requests_moved_from_ens33_to_ens32() {
    let (code, out) = live_across_the_move(&["--format", "jsonl"]);
    assert_eq!(code, exit::OK, "{out}");
    let lines: Vec<&str> = out.lines().collect();
    let events: Vec<PathChange> = lines
        .iter()
        .filter(|l| l.starts_with(r#"{"event":"path-change""#))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(events.len(), 1, "{out}");
    let e = &events[0];
    assert_eq!((&e.from, &e.to), (&on30(), &on26()));
    assert_eq!(
        (e.src.as_str(), e.dst.as_str()),
        ("192.168.30.71", "192.168.30.72")
    );
    assert_eq!((e.count, e.pod_pairs), (1, 1));
    // The pause, give or take the replay's scheduling.
    let pause = PAUSE.as_millis() as u64;
    assert!(
        (pause..pause + 600).contains(&e.gap_ms),
        "gap {} ms",
        e.gap_ms
    );
    // The closing report holds the same timeline, and the traffic it saw.
    let report: Report = serde_json::from_str(lines.last().unwrap()).expect("final report");
    assert_eq!(report.timeline, events);
    let packets = |nic: &str| {
        report
            .links
            .iter()
            .find(|l| l.interface == nic)
            .map_or(0, |l| l.tunnelled)
    };
    assert_eq!((packets("ens33"), packets("ens32")), (20, 10));
}

#[test]
fn the_table_ends_with_the_timeline() {
    let (code, out) = live_across_the_move(&["--format", "table"]);
    assert_eq!(code, exit::OK, "{out}");
    let section = out.split("timeline (UTC):\n").nth(1).expect(&out);
    let lines: Vec<&str> = section.lines().collect();
    assert_eq!(lines.len(), 1, "{out}");
    assert!(
        lines[0].contains(
            "192.168.30.71 → 192.168.30.72 moved from ens33 (192.168.30.71 → 192.168.30.72) \
             to ens32 (192.168.26.71 → 192.168.26.72) after 0."
        ),
        "{out}"
    );
    assert!(lines[0].ends_with(" s with no packets"), "{out}");
}

#[test]
fn no_move_no_event() {
    let host = FakeHost::new()
        .nic("ens32", capture("case1-interface-vms71.pcapng"), 1.0)
        .nic("ens33", capture("case1-interface-vms71.pcapng"), 1.0);
    let all = ["tuntrace", "live", "--format", "jsonl", "--duration", "1s"];
    let Command::Live(args) = Cli::try_parse_from(all).unwrap().command else {
        panic!("not live");
    };
    let mut out = Vec::new();
    assert_eq!(cmd::live::run_on(&host, &args, &mut out), exit::OK);
    let out = String::from_utf8(out).unwrap();
    let report: Report = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert_eq!(report.packets.tunnelled, 20, "{out}");
    assert!(!out.contains("path-change"), "{out}");
    assert!(report.timeline.is_empty());
}
