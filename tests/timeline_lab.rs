//! The path-change timeline in the namespace lab (issue 10, item 4): pod1
//! pings pod2 over underlay 30 (case 1); mid-capture the test points vms71's
//! tunnel route for vms72's pods at the 26 underlay (what calico-node does
//! after the autodetection method changes). vms72's route stays, so the
//! requests move (vms71 ens33 → ens32, vms72 eth0 → eth1) and the replies
//! do not: `live` must report exactly one path change on each node, at the
//! switch, and `read` of what `live --write` saved the same timeline.
//! Needs root (skipped with a reason otherwise; a failure under CI=true).

mod lab;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lab::{can_run, tuntrace_bin, Lab, Mode, Underlay};
use tuntrace::report::{PathChange, PathEnd, Report};
use tuntrace::timeline::parse_rfc3339;

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

fn end(device: &str, src: &str, dst: &str) -> PathEnd {
    PathEnd {
        device: device.into(),
        encap: tuntrace::decode::Encap::Ipip,
        outer_src: src.parse().unwrap(),
        outer_dst: dst.parse().unwrap(),
    }
}

/// The path-change events of a jsonl run, and its closing report.
fn events(jsonl: &str) -> (Vec<PathChange>, Report) {
    let events = jsonl
        .lines()
        .filter(|l| l.starts_with(r#"{"event":"path-change""#))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let last = jsonl.lines().last().unwrap_or_default();
    let report = serde_json::from_str(last).unwrap_or_else(|e| panic!("{e}: {jsonl}"));
    (events, report)
}

/// `tuntrace read --format json FILE`.
fn read_back(file: &Path) -> Report {
    let out = Command::new(tuntrace_bin())
        .args(["read", "--format", "json"])
        .arg(file)
        .output()
        .expect("run tuntrace read");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("read's JSON")
}

#[test]
fn moving_the_tunnel_route_is_one_path_change_on_each_node() {
    if !can_run("timeline_lab") {
        return;
    }
    let lab = Lab::new(Underlay::Net30, Mode::Ipip);
    let dir = std::env::temp_dir().join(format!("{}-timeline", lab.prefix));
    std::fs::create_dir_all(&dir).unwrap();
    let file = |node: &str| dir.join(format!("{node}.pcapng"));
    let trace = |node: &str| {
        let f = file(node).display().to_string();
        let args = ["live", "--format", "jsonl", "--interval", "200ms"];
        let more = ["--duration", "30s", "--write", &f];
        lab.tuntrace(node, &[&args[..], &more[..]].concat())
    };
    let (t71, t72) = (trace("vms71"), trace("vms72"));
    let switched = std::thread::scope(|s| {
        let pings = s.spawn(|| lab.ping(60)); // 3 s at 20 per second
        std::thread::sleep(Duration::from_millis(1200));
        let before = now_ns();
        lab.move_tunnel_route("vms71", "192.168.26.72");
        let after = now_ns();
        pings.join().expect("pings");
        (before, after)
    });
    let (r71, r72) = (t71.stop(), t72.stop());
    assert_eq!(r71.code, Some(0), "{}", r71.stderr);
    assert_eq!(r72.code, Some(0), "{}", r72.stderr);

    let (e71, rep71) = events(&r71.stdout);
    let (e72, rep72) = events(&r72.stdout);
    assert_eq!(e71.len(), 1, "vms71: {}", r71.stdout);
    assert_eq!(e72.len(), 1, "vms72: {}", r72.stdout);
    let (a, b) = (&e71[0], &e72[0]);
    assert_eq!(a.from, end("ens33", "192.168.30.71", "192.168.30.72"));
    assert_eq!(a.to, end("ens32", "192.168.26.71", "192.168.26.72"));
    assert_eq!(b.from, end("eth0", "192.168.30.71", "192.168.30.72"));
    assert_eq!(b.to, end("eth1", "192.168.26.71", "192.168.26.72"));
    for e in [a, b] {
        assert_eq!((e.count, e.pod_pairs), (1, 1), "{e:?}");
        let at = parse_rfc3339(&e.at).expect("at is RFC 3339");
        assert!(
            at + 1_000_000_000 > switched.1 && at < switched.0 + 1_000_000_000,
            "{} not within 1 s of the switch at {}",
            e.at,
            tuntrace::timefmt::rfc3339(switched.0)
        );
        // Pings every 50 ms: the gap is about one interval between them.
        assert!(e.gap_ms < 500, "{e:?}");
    }
    assert_eq!(rep71.timeline, e71);
    assert_eq!(rep72.timeline, e72);

    // What `--write` saved gives the same timeline to `read`.
    for (node, live) in [("vms71", &e71), ("vms72", &e72)] {
        let read = read_back(&file(node));
        assert_eq!(
            &read.timeline,
            live,
            "{node}: read of {}",
            file(node).display()
        );
    }
    if let Ok(to) = std::env::var("TUNTRACE_RECORD_SWITCH") {
        // Refreshes the bundled capture (see captures/README.md).
        let to = PathBuf::from(to).join("switch-30-to-26-vms71.pcapng");
        std::fs::copy(file("vms71"), &to).expect("copy the capture");
        eprintln!("wrote {}", to.display());
    }
    let _ = std::fs::remove_dir_all(&dir);
}
