//! `read`'s path-change timeline from files that span a change (no root):
//! the bundled lab capture of vms71 while its tunnel route moved from the
//! 30 to the 26 underlay (captures/timeline/switch-30-to-26-vms71.pcapng), and the
//! case-1 and case-2 captures read together.

use std::path::PathBuf;
use std::process::Command;

use tuntrace::report::{PathEnd, Report, TunnelRow};
use tuntrace::timeline::parse_rfc3339;

fn capture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("captures")
        .join(name)
}

/// `tuntrace read ARGS`: exit code and stdout.
fn read(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tuntrace"))
        .arg("read")
        .args(args)
        .output()
        .expect("run tuntrace");
    let text = String::from_utf8(out.stdout).expect("utf-8");
    (out.status.code().unwrap_or(-1), text)
}

fn json(args: &[&str]) -> Report {
    let mut all = vec!["--format", "json"];
    all.extend_from_slice(args);
    let (code, out) = read(&all);
    assert_eq!(code, 0, "{out}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

fn end(device: &str, src: &str, dst: &str) -> PathEnd {
    PathEnd {
        device: device.into(),
        encap: tuntrace::decode::Encap::Ipip,
        outer_src: src.parse().unwrap(),
        outer_dst: dst.parse().unwrap(),
    }
}

/// The tunnel row of `report` on `nic` from `src`.
fn row<'a>(report: &'a Report, nic: &str, src: &str) -> &'a TunnelRow {
    let link = report.links.iter().find(|l| l.interface == nic).unwrap();
    let src: std::net::IpAddr = src.parse().unwrap();
    link.tunnels.iter().find(|t| t.outer_src == src).unwrap()
}

fn switch() -> String {
    capture("timeline/switch-30-to-26-vms71.pcapng")
        .display()
        .to_string()
}

#[test]
fn the_bundled_switch_reads_as_one_move_of_vms71s_requests() {
    let r = json(&[&switch()]);
    assert_eq!(r.timeline.len(), 1, "{:#?}", r.timeline);
    let e = &r.timeline[0];
    assert_eq!(e.from, end("ens33", "192.168.30.71", "192.168.30.72"));
    assert_eq!(e.to, end("ens32", "192.168.26.71", "192.168.26.72"));
    assert_eq!((e.count, e.pod_pairs, e.last_at.clone()), (1, 1, None));
    assert_eq!(
        (e.src.as_str(), e.dst.as_str()),
        ("192.168.30.71", "192.168.30.72")
    );
    // At the first request on ens32, after the last one on ens33.
    let (old, new) = (
        row(&r, "ens33", "192.168.30.71"),
        row(&r, "ens32", "192.168.26.71"),
    );
    assert_eq!(e.at, new.first_seen);
    let ns = |s: &str| parse_rfc3339(s).unwrap();
    assert_eq!(
        e.gap_ms,
        (ns(&new.first_seen) - ns(&old.last_seen)) / 1_000_000
    );
    assert!(e.gap_ms > 0 && e.gap_ms < 500, "{e:?}");
    // The replies stayed on ens33 all along.
    let replies = row(&r, "ens33", "192.168.30.72");
    assert!(ns(&replies.first_seen) < ns(&old.last_seen));
    assert!(ns(&replies.last_seen) > ns(&new.first_seen));
}

#[test]
fn nodes_name_the_ends() {
    let dir = std::env::temp_dir().join(format!("tt-timeline-read-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let nodes = dir.join("nodes.txt");
    std::fs::write(
        &nodes,
        "vms71 192.168.30.71 192.168.26.71\nvms72 192.168.30.72 192.168.26.72\n",
    )
    .unwrap();
    let nodes = nodes.display().to_string();
    let r = json(&["--nodes", &nodes, &switch()]);
    assert_eq!(r.timeline.len(), 1, "{:#?}", r.timeline);
    let e = &r.timeline[0];
    assert_eq!((e.src.as_str(), e.dst.as_str()), ("vms71", "vms72"));
    assert_eq!(
        (e.from.device.as_str(), e.to.device.as_str()),
        ("ens33", "ens32")
    );
    let (code, table) = read(&["--nodes", &nodes, &switch()]);
    assert_eq!(code, 0);
    let section = table.split("timeline (UTC):\n").nth(1).expect(&table);
    assert_eq!(section.lines().count(), 1, "{table}");
    let want = "vms71 → vms72 moved from ens33 (192.168.30.71 → 192.168.30.72) to ens32 \
                (192.168.26.71 → 192.168.26.72) after 0.";
    assert!(section.contains(want), "{table}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_bad_nodes_file_is_a_usage_error_naming_it() {
    let out = Command::new(env!("CARGO_BIN_EXE_tuntrace"))
        .args(["read", "--nodes", "/nonexistent/nodes.txt", &switch()])
        .output()
        .expect("run tuntrace");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--nodes") && err.contains("/nonexistent/nodes.txt"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn one_underlay_only_has_no_timeline() {
    let r = json(&[&capture("case1-interface-vms71.pcapng")
        .display()
        .to_string()]);
    assert_eq!(r.packets.tunnelled, 20);
    assert!(r.timeline.is_empty());
    let (_, out) = read(&[
        "--format",
        "json",
        capture("case1-interface-vms71.pcapng").to_str().unwrap(),
    ]);
    assert!(!out.contains("\"timeline\""), "{out}");
}

#[test]
fn case1_then_case2_moves_both_directions() {
    let (c1, c2) = (
        capture("case1-interface-vms71.pcapng"),
        capture("case2-interface-vms71.pcapng"),
    );
    // Given in either order: the timeline follows the capture times.
    for files in [[&c1, &c2], [&c2, &c1]] {
        let args: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let r = json(&args);
        let mut moves: Vec<(PathEnd, PathEnd)> = r
            .timeline
            .iter()
            .map(|e| (e.from.clone(), e.to.clone()))
            .collect();
        moves.sort();
        assert_eq!(
            moves,
            vec![
                (
                    end("ens33", "192.168.30.71", "192.168.30.72"),
                    end("ens32", "192.168.26.71", "192.168.26.72")
                ),
                (
                    end("ens33", "192.168.30.72", "192.168.30.71"),
                    end("ens32", "192.168.26.72", "192.168.26.71")
                ),
            ],
            "{:#?}",
            r.timeline
        );
    }
}

/// Writes a pcapng with NICs ens33 (underlay 30) and ens32 (underlay 26):
/// pod 10.244.118.193 → 10.244.5.194 every 10 ms for `n` frames, frame `i`
/// on ens32 when `on26(i)`. Returns its path.
fn synthetic(name: &str, n: u64, on26: impl Fn(u64) -> bool) -> PathBuf {
    use std::net::Ipv4Addr;
    use tuntrace::linktype::LinkType;
    use tuntrace::write::{pcapng::PcapngWriter, Endian};
    let dir = std::env::temp_dir().join(format!("tt-timeline-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("vms71.pcapng");
    let file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let mut w = PcapngWriter::new(file, Endian::Little).unwrap();
    let ens33 = w.add_interface("ens33", LinkType::ETHERNET, 65535).unwrap();
    let ens32 = w.add_interface("ens32", LinkType::ETHERNET, 65535).unwrap();
    let (p1, p2) = (
        Ipv4Addr::new(10, 244, 118, 193),
        Ipv4Addr::new(10, 244, 5, 194),
    );
    let mut frame = Vec::new();
    for i in 0..n {
        let (id, net) = if on26(i) { (ens32, 26) } else { (ens33, 30) };
        let (a, b) = (
            Ipv4Addr::new(192, 168, net, 71),
            Ipv4Addr::new(192, 168, net, 72),
        );
        frame.clear();
        tuntrace::synth::write_calico_ipip_frame(&mut frame, a, b, p1, p2, 84);
        let ts = 1_800_000_000_000_000_000 + i * 10_000_000;
        w.write_epb(id, ts, frame.len() as u32, &frame).unwrap();
    }
    w.finish().unwrap();
    path
}

#[test]
fn synthetic_move_split_and_flapping() {
    // 3 s: the first half on ens33, the rest on ens32.
    let moved = synthetic("move", 300, |i| i >= 150);
    let r = json(&[moved.to_str().unwrap()]);
    assert_eq!(r.timeline.len(), 1, "{:#?}", r.timeline);
    let e = &r.timeline[0];
    assert_eq!(e.from, end("ens33", "192.168.30.71", "192.168.30.72"));
    assert_eq!(e.to, end("ens32", "192.168.26.71", "192.168.26.72"));
    assert_eq!((e.gap_ms, e.count), (10, 1));
    assert_eq!(parse_rfc3339(&e.at), Some(1_800_000_001_500_000_000));

    // Both NICs all along (every other frame): a split, no timeline.
    let split = synthetic("split", 300, |i| i % 2 == 1);
    let r = json(&[split.to_str().unwrap()]);
    assert_eq!(r.packets.tunnelled, 300);
    assert!(r.timeline.is_empty(), "{:#?}", r.timeline);

    // Back and forth every 300 ms for 1.2 s, then ens32 for good: one
    // event with 4 moves (ens32 at 1.0 s, ens33 at 1.3, ens32 at 1.6 ...).
    let flaps = synthetic("flaps", 400, |i| match i {
        0..=99 => false,
        100..=219 => (i - 100) / 30 % 2 == 0,
        _ => true,
    });
    let r = json(&[flaps.to_str().unwrap()]);
    assert_eq!(r.timeline.len(), 1, "{:#?}", r.timeline);
    let e = &r.timeline[0];
    assert_eq!(
        (e.from.device.as_str(), e.to.device.as_str()),
        ("ens33", "ens32")
    );
    assert_eq!(e.count, 5, "{e:?}");
    assert_eq!(parse_rfc3339(&e.at), Some(1_800_000_001_000_000_000));
    let last = e.last_at.as_deref().and_then(parse_rfc3339);
    assert_eq!(last, Some(1_800_000_002_200_000_000));
    for f in [moved, split, flaps] {
        let _ = std::fs::remove_dir_all(f.parent().unwrap());
    }
}
