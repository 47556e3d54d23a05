use std::net::IpAddr;

use super::*;
use crate::audit::nodes::parse_nodes;
use crate::decode::Encap;

const S: u64 = 1_000_000_000;
const MS: u64 = 1_000_000;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn path(dev: &str, src: &str, dst: &str) -> PathEnd {
    PathEnd {
        device: dev.into(),
        encap: Encap::Ipip,
        outer_src: ip(src),
        outer_dst: ip(dst),
    }
}

fn on30() -> PathEnd {
    path("ens33", "192.168.30.71", "192.168.30.72")
}

fn on26() -> PathEnd {
    path("ens32", "192.168.26.71", "192.168.26.72")
}

fn pods() -> Ends {
    Ends::Pods(ip("10.244.118.193"), ip("10.244.5.194"))
}

fn obs(ends: Ends, p: PathEnd, first_ns: u64, last_ns: u64) -> Observation {
    Observation {
        ends,
        path: p,
        packets: 3,
        first_ns,
        last_ns,
    }
}

/// Feeds one batch per second, `per_second[i]` holding (path, first, last)
/// offsets in ms within second i; returns every event.
fn run(det: &mut Detector, ends: Ends, per_second: &[Vec<(PathEnd, u64, u64)>]) -> Vec<PathChange> {
    let t0 = 1_800_000_000 * S;
    let mut all = Vec::new();
    for (i, batch) in per_second.iter().enumerate() {
        let base = t0 + i as u64 * S;
        let b = batch
            .iter()
            .map(|(p, f, l)| obs(ends.clone(), p.clone(), base + f * MS, base + l * MS))
            .collect();
        all.extend(det.observe(b, base + S));
    }
    all.extend(det.finish());
    assert_eq!(det.events(), &all[..]);
    all
}

#[test]
fn a_move_is_one_event_with_its_gap() {
    let mut det = Detector::new(Nodes::default());
    let ev = run(
        &mut det,
        pods(),
        &[
            vec![(on30(), 0, 900)],
            vec![(on30(), 0, 200), (on26(), 950, 990)],
            vec![(on26(), 0, 900)],
            vec![(on26(), 0, 900)],
        ],
    );
    assert_eq!(ev.len(), 1, "{ev:?}");
    let e = &ev[0];
    assert_eq!((e.from.clone(), e.to.clone()), (on30(), on26()));
    assert_eq!(e.gap_ms, 750);
    assert_eq!(e.count, 1);
    assert_eq!(e.last_at, None);
    assert_eq!(e.pod_pairs, 1);
    assert_eq!(e.at, rfc3339(1_800_000_001 * S + 950 * MS));
    assert_eq!(parse_rfc3339(&e.at), Some(1_800_000_001 * S + 950 * MS));
    assert_eq!(
        (e.src.as_str(), e.dst.as_str()),
        ("192.168.30.71", "192.168.30.72")
    );
}

#[test]
fn no_move_no_event() {
    let mut det = Detector::new(Nodes::default());
    let steady: Vec<_> = (0..5).map(|_| vec![(on30(), 10, 900)]).collect();
    assert_eq!(run(&mut det, pods(), &steady), vec![]);
}

#[test]
fn both_paths_at_once_is_a_split_not_a_move() {
    let mut det = Detector::new(Nodes::default());
    let both: Vec<_> = (0..4)
        .map(|_| vec![(on30(), 0, 900), (on26(), 100, 800)])
        .collect();
    assert_eq!(run(&mut det, pods(), &both), vec![]);
}

#[test]
fn the_reverse_direction_is_its_own_pair() {
    // Replies stay on 30 while requests move: one event, for the requests.
    let mut det = Detector::new(Nodes::default());
    let back = Ends::Pods(ip("10.244.5.194"), ip("10.244.118.193"));
    let reply = path("ens33", "192.168.30.72", "192.168.30.71");
    let mut all = Vec::new();
    for i in 0..4u64 {
        let base = 1_800_000_000 * S + i * S;
        let req = if i < 2 { on30() } else { on26() };
        let batch = vec![
            obs(pods(), req, base + 100 * MS, base + 100 * MS),
            obs(
                back.clone(),
                reply.clone(),
                base + 101 * MS,
                base + 101 * MS,
            ),
        ];
        all.extend(det.observe(batch, base + S));
    }
    all.extend(det.finish());
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0].to, on26());
    assert_eq!(all[0].gap_ms, 1000);
}

#[test]
fn flapping_within_a_second_is_one_event_with_a_count() {
    let mut det = Detector::new(Nodes::default());
    let ev = run(
        &mut det,
        pods(),
        &[
            vec![(on30(), 0, 100)],
            vec![(on26(), 200, 300)],
            vec![(on30(), 100, 200)],
            vec![(on26(), 0, 100)],
            vec![(on26(), 0, 900)],
            vec![(on26(), 0, 900)],
        ],
    );
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert_eq!(ev[0].count, 3);
    assert_eq!((ev[0].from.clone(), ev[0].to.clone()), (on30(), on26()));
    assert_eq!(ev[0].gap_ms, 1100);
    assert_eq!(
        ev[0].last_at.as_deref().and_then(parse_rfc3339),
        Some(1_800_000_003 * S)
    );
}

#[test]
fn a_handover_with_packets_in_flight_is_a_move_once_the_old_path_is_quiet() {
    let mut det = Detector::new(Nodes::default());
    let ev = run(
        &mut det,
        pods(),
        &[
            vec![(on30(), 0, 900)],
            vec![(on30(), 0, 520), (on26(), 500, 900)],
            vec![(on26(), 0, 900)],
        ],
    );
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert_eq!((ev[0].from.clone(), ev[0].to.clone()), (on30(), on26()));
    assert_eq!((ev[0].gap_ms, ev[0].count), (0, 1));
    assert_eq!(parse_rfc3339(&ev[0].at), Some(1_800_000_001 * S + 500 * MS));
}

#[test]
fn moves_far_apart_are_separate_events() {
    let mut det = Detector::new(Nodes::default());
    let ev = run(
        &mut det,
        pods(),
        &[
            vec![(on30(), 0, 100)],
            vec![(on26(), 0, 100)],
            vec![(on26(), 0, 100)],
            vec![(on26(), 0, 100)],
            vec![(on30(), 0, 100)],
        ],
    );
    assert_eq!(ev.len(), 2, "{ev:?}");
    assert_eq!(ev[0].to, on26());
    assert_eq!(ev[1].to, on30());
}

#[test]
fn an_event_waits_a_window_then_comes_out() {
    let mut det = Detector::new(Nodes::default());
    let t = 1_800_000_000 * S;
    assert!(det
        .observe(vec![obs(pods(), on30(), t, t)], t + S / 2)
        .is_empty());
    let moved = vec![obs(pods(), on26(), t + S, t + S)];
    assert!(det.observe(moved, t + S + S / 2).is_empty(), "still open");
    let out = det.observe(vec![], t + 2 * S);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].gap_ms, 1000);
}

#[test]
fn nodes_group_addresses_and_name_the_ends() {
    let nodes =
        parse_nodes("vms71 192.168.30.71 192.168.26.71\nvms72 192.168.30.72 192.168.26.72\n")
            .unwrap();
    let mut det = Detector::new(nodes.clone());
    let report = |p: PathEnd, at: u64| {
        let mut out = Vec::new();
        let inner = [(ip("10.244.118.193"), ip("10.244.5.194"), 2)].into_iter();
        observe::of_tunnel(&nodes, p, (2, at, at), inner, &mut out);
        out
    };
    let t = 1_800_000_000 * S;
    let a = report(on30(), t);
    assert_eq!(a[0].ends, Ends::Nodes("vms71".into(), "vms72".into()));
    det.observe(a, t + S);
    det.observe(report(on26(), t + 2 * S + 800 * MS), t + 3 * S);
    let ev = det.finish();
    assert_eq!(ev.len(), 1);
    assert_eq!((ev[0].src.as_str(), ev[0].dst.as_str()), ("vms71", "vms72"));
    assert_eq!(ev[0].gap_ms, 2800);
    assert_eq!(ev[0].pod_pairs, 0);
}

#[test]
fn without_inner_pairs_only_a_nic_change_is_a_move() {
    let mut det = Detector::new(Nodes::default());
    let mut batch = |p: PathEnd, at: u64| {
        let mut out = Vec::new();
        observe::of_tunnel(
            &Nodes::default(),
            p,
            (1, at, at),
            std::iter::empty(),
            &mut out,
        );
        det.observe(out, at + S)
    };
    let t = 1_800_000_000 * S;
    batch(on30(), t);
    batch(on26(), t + S); // another outer pair: other ends, no move
    batch(path("ens32", "192.168.30.71", "192.168.30.72"), t + 2 * S);
    det.finish();
    let ev = det.events();
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert_eq!(ev[0].from.device, "ens33");
    assert_eq!(ev[0].to.device, "ens32");
}

#[test]
fn rfc3339_reads_back() {
    for ns in [
        0,
        951_827_696_789_000_000,
        1_800_000_000_123_456_789,
        4_102_444_800 * S,
    ] {
        assert_eq!(parse_rfc3339(&rfc3339(ns)), Some(ns), "{}", rfc3339(ns));
    }
    assert_eq!(
        parse_rfc3339("2026-12-01T23:08:36Z"),
        Some(1_796_166_516 * S)
    );
    for bad in [
        "",
        "2026-13-01T00:00:00Z",
        "2026-12-01T00:00:00.Z",
        "2026-12-01 00:00:00Z",
        "2026-12-01T00:00:00.1234567890Z",
    ] {
        assert_eq!(parse_rfc3339(bad), None, "{bad}");
    }
}
