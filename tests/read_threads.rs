//! `read` on several threads gives, byte for byte, the JSON report of a
//! one-thread read: any thread count, parts forced small so that synthetic
//! files are cut in many places, classic pcap and pcapng, limits, damage.

mod common;

use std::net::Ipv4Addr;
use std::path::Path;

use common::TempDir;
use tuntrace::cli::Format;
use tuntrace::decode::DecodeConfig;
use tuntrace::flows::{FlowTable, Limits};
use tuntrace::iface::IfaceTable;
use tuntrace::k8s::K8sNames;
use tuntrace::linktype::LinkType;
use tuntrace::pipeline::{read_parts, read_threads, Pipeline};
use tuntrace::report::{build_report, SourceInfo};
use tuntrace::sources::file::{read_file, split_plan_parts, FileError, FileOptions, ReadSummary};
use tuntrace::synth::{ethernet, icmp_echo, ipv4, set_df, udp, vxlan};
use tuntrace::write::{Endian, PcapWriter, PcapngWriter, TsResolution};

/// The JSON report of one file read into `table`.
fn json(
    table: &FlowTable,
    ifaces: &IfaceTable,
    path: &Path,
    r: &Result<ReadSummary, FileError>,
) -> String {
    let mut info = SourceInfo {
        name: path.display().to_string(),
        packets: table.total,
        error: None,
        damaged_at: None,
        oversize_records: None,
    };
    match r {
        Ok(s) => info.oversize_records = (s.oversize > 0).then_some(s.oversize),
        Err(e) => {
            if let FileError::Damaged { offset, .. } = e {
                info.damaged_at = Some(*offset);
            }
            info.error = Some(e.to_string());
        }
    }
    let report = build_report(table, ifaces, vec![info]);
    let mut out = Vec::new();
    tuntrace::render::render_named(&report, Format::Json, 5, &K8sNames::default(), &mut out)
        .unwrap();
    String::from_utf8(out).unwrap()
}

/// One-thread read: the report and the result, checked against
/// [`reference`].
fn one_thread(path: &Path, limits: Limits) -> (String, Result<ReadSummary, FileError>) {
    let mut table = FlowTable::new(limits);
    let mut ifaces = IfaceTable::new();
    let cfg = DecodeConfig::default();
    let r = read_threads(
        &mut table,
        path,
        &FileOptions::default(),
        &cfg,
        &mut ifaces,
        1,
    );
    let got = json(&table, &ifaces, path, &r);
    assert_eq!(got, reference(path, limits), "{}", path.display());
    (got, r)
}

/// The report of the live path's counting, one frame at a time
/// (`Pipeline::feed`: the full decode, no batch, nothing counted ahead of
/// a batch): the reference every faster way of reading must equal.
fn reference(path: &Path, limits: Limits) -> String {
    let mut pipeline = Pipeline::new(DecodeConfig::default(), limits);
    let mut ifaces = IfaceTable::new();
    let r = read_file(path, &FileOptions::default(), &mut ifaces, |f| {
        pipeline.feed(f);
    });
    json(&pipeline.table, &ifaces, path, &r)
}

/// Every bundled capture: a one-thread read gives the reference's report,
/// limits or not. (They are short: counting ahead of a batch, which needs
/// a batch counted first, is exercised by the synthetic files above.)
#[test]
fn bundled_captures_read_as_the_reference_counts_them() {
    let files = common::bundled_captures();
    let tight = Limits {
        max_tunnels: 2,
        max_pairs_per_tunnel: 2,
        max_pairs_total: 3,
        track_plain: true,
    };
    for path in &files {
        for limits in [Limits::default(), tight] {
            let (got, r) = one_thread(path, limits);
            assert!(r.is_ok(), "{}: {r:?}", path.display());
            assert!(got.contains("\"tunnelled\""), "{got}");
        }
    }
}

/// Checks that 1 to 8 threads, with parts of each size in `parts`, give the
/// one-thread report; returns it.
fn every_split_matches(path: &Path, limits: Limits, parts: &[u64]) -> String {
    let (want, want_r) = one_thread(path, limits);
    let cfg = DecodeConfig::default();
    for &part in parts {
        for threads in 1..=8 {
            let mut table = FlowTable::new(limits);
            let mut ifaces = IfaceTable::new();
            let opts = FileOptions::default();
            let plan = split_plan_parts(path, &opts, &mut ifaces, part).expect("a plan");
            assert!(plan.parts() >= 3, "{} parts of {part}", plan.parts());
            let out = read_parts(&mut table, plan, &opts, &cfg, &mut ifaces, threads);
            let got = json(&table, &ifaces, path, &out.result);
            assert_eq!(
                got,
                want,
                "{} with parts of {part} bytes on {threads} threads",
                path.display()
            );
            assert_eq!(
                format!("{:?}", out.result.as_ref().map(|s| (s.frames, s.bytes))),
                format!("{:?}", want_r.as_ref().map(|s| (s.frames, s.bytes))),
            );
        }
    }
    want
}

/// A frame of a pseudo-random mix: IPIP and VXLAN between `nodes` nodes with
/// `pods` pods each, plain traffic; `x` is the generator's state.
fn frame(x: &mut u64, nodes: u64, pods: u64) -> Vec<u8> {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    let v = *x;
    let (na, nb) = ((v >> 5) % nodes, (v >> 11) % nodes);
    let node = |n: u64| Ipv4Addr::new(192, 168, 30, n as u8 + 1);
    let pod = |n: u64, k: u64| Ipv4Addr::new(10, 244, n as u8, (k % pods) as u8 + 2);
    let payload = vec![(v >> 40) as u8; (v >> 20) as usize % 300];
    let inner = ipv4(
        pod(na, v >> 3),
        pod(nb, v >> 17),
        1,
        &icmp_echo(7, 1, &payload),
    );
    let mut outer = match v % 4 {
        0 | 1 => ipv4(node(na), node(nb), 4, &inner),
        2 => {
            let eth_inner = ethernet([2; 6], [4; 6], 0x0800, &inner);
            ipv4(
                node(na),
                node(nb),
                17,
                &udp(40000, 4789, &vxlan(4096, &eth_inner)),
            )
        }
        _ => ipv4(node(na), node(nb), 6, &[0; 40]),
    };
    // DF on about half of them, as Calico copies it from the inner packet.
    set_df(&mut outer, v >> 30 & 1 == 1);
    ethernet([1; 6], [2; 6], 0x0800, &outer)
}

fn classic(path: &Path, endian: Endian, res: TsResolution, n: usize, nodes: u64, pods: u64) {
    let file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut w = PcapWriter::new(file, LinkType::ETHERNET, 65535, endian, res).unwrap();
    let mut x = 0x2545_f491_u64;
    for i in 0..n {
        let f = frame(&mut x, nodes, pods);
        w.write_packet(
            1_700_000_000_000_000_000 + i as u64 * 1_000,
            f.len() as u32,
            &f,
        )
        .unwrap();
    }
    w.finish().unwrap();
}

#[test]
fn classic_both_orders_and_units_any_thread_count() {
    let dir = TempDir::new("threads-classic");
    for (endian, res) in [
        (Endian::Little, TsResolution::Micro),
        (Endian::Big, TsResolution::Nano),
    ] {
        let path = dir.path("ens33.pcap");
        classic(&path, endian, res, 3000, 4, 6);
        let want = every_split_matches(&path, Limits::default(), &[60_000, 200_000]);
        assert!(
            want.contains("\"packets\": 3000") || want.contains("\"packets\":3000"),
            "{want}"
        );
        assert!(want.contains("ipip") && want.contains("vxlan"), "{want}");
    }
}

#[test]
fn small_limits_spill_and_are_still_equal() {
    let dir = TempDir::new("threads-limits");
    let path = dir.path("ens33.pcap");
    classic(&path, Endian::Little, TsResolution::Micro, 3000, 9, 40);
    let limits = Limits {
        max_tunnels: 12,
        max_pairs_per_tunnel: 5,
        max_pairs_total: 40,
        track_plain: true,
    };
    let want = every_split_matches(&path, limits, &[50_000]);
    assert!(want.contains("inner_other"), "no spill: {want}");
}

/// A little-endian, microsecond, Ethernet classic pcap writer to `path`.
fn ethernet_writer(path: &Path) -> PcapWriter<std::io::BufWriter<std::fs::File>> {
    let file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    PcapWriter::new(
        file,
        LinkType::ETHERNET,
        65535,
        Endian::Little,
        TsResolution::Micro,
    )
    .unwrap()
}

/// A fast-path frame counted a few frames late (its lookups overlapped
/// with the next frames') still takes its place in file order: an IPIP
/// tunnel met before a VXLAN one gets the only tunnel slot, and the VXLAN
/// one goes to the interface's other tunnels, as one frame at a time
/// counts them.
#[test]
fn frames_counted_late_keep_file_order_under_limits() {
    let dir = TempDir::new("threads-order");
    let path = dir.path("ens33.pcap");
    let node = |n| Ipv4Addr::new(192, 168, 30, n);
    let inner = ipv4(
        Ipv4Addr::new(10, 244, 1, 2),
        Ipv4Addr::new(10, 244, 3, 2),
        1,
        &icmp_echo(7, 1, &[0; 8]),
    );
    let eth = |payload: &[u8]| ethernet([1; 6], [2; 6], 0x0800, payload);
    let plain = eth(&ipv4(node(1), node(2), 6, &[0; 40]));
    let ipip = eth(&ipv4(node(1), node(3), 4, &inner));
    let vxlan_frame = eth(&ipv4(
        node(1),
        node(4),
        17,
        &udp(
            40000,
            4789,
            &vxlan(4096, &ethernet([2; 6], [4; 6], 0x0800, &inner)),
        ),
    ));
    // Plain frames first, enough for a batch to be counted: the interface
    // is then known, and the IPIP frame is counted late, not batched.
    let frames = std::iter::repeat_n(&plain, 300).chain([&ipip, &vxlan_frame, &ipip]);
    let mut w = ethernet_writer(&path);
    for (i, f) in frames.enumerate() {
        let t = 1_700_000_000_000_000_000 + i as u64 * 1_000;
        w.write_packet(t, f.len() as u32, f).unwrap();
    }
    w.finish().unwrap();
    let limits = Limits {
        max_tunnels: 1,
        max_pairs_per_tunnel: 5,
        max_pairs_total: 10,
        track_plain: true,
    };
    let (got, r) = one_thread(&path, limits);
    assert!(r.is_ok(), "{r:?}");
    let report: serde_json::Value = serde_json::from_str(&got).unwrap();
    let link = common::link(&report, "ens33");
    let ipip_row = common::tunnel(link, "ipip", "192.168.30.1", "192.168.30.3");
    assert_eq!(common::u(&ipip_row["packets"]), 2, "{got}");
    assert_eq!(common::u(&link["other_tunnels"]["packets"]), 1, "{got}");
}

/// Three sections: little-endian Ethernet + raw, big-endian with other
/// names and link types, then little-endian again; Simple Packet Blocks.
fn pcapng(path: &Path, n: usize) {
    let mut out = Vec::new();
    let mut x = 0x9e37_79b9_u64;
    for (s, endian) in [Endian::Little, Endian::Big, Endian::Little]
        .into_iter()
        .enumerate()
    {
        let mut w = PcapngWriter::new(Vec::new(), endian).unwrap();
        let names = [["ens33", "eth1"], ["tunl0", "ens33"], ["eth9", "ens4"]][s];
        w.add_interface(names[0], LinkType::ETHERNET, 0).unwrap();
        w.add_interface(names[1], LinkType::RAW, 0).unwrap();
        for i in 0..n {
            let f = frame(&mut x, 5, 7);
            let t = 1_700_000_000_000_000_000 + (s * n + i) as u64 * 1_000;
            match i % 13 {
                12 => w.write_spb(f.len() as u32, &f).unwrap(),
                k if k % 2 == 1 => w.write_epb(1, t, f.len() as u32 - 14, &f[14..]).unwrap(),
                _ => w.write_epb(0, t, f.len() as u32, &f).unwrap(),
            }
        }
        out.extend(w.into_inner());
    }
    std::fs::write(path, out).unwrap();
}

#[test]
fn pcapng_sections_byte_orders_and_link_types() {
    let dir = TempDir::new("threads-pcapng");
    let path = dir.path("three.pcapng");
    pcapng(&path, 1000);
    let want = every_split_matches(&path, Limits::default(), &[40_000, 150_000]);
    for name in ["ens33", "eth1", "tunl0", "eth9", "ens4"] {
        assert!(want.contains(&format!("\"{name}\"")), "{name}: {want}");
    }
}

/// A packet whose bytes are a chain of plausible record headers, right where
/// the planner looks for a cut.
#[test]
fn packet_imitating_record_headers_at_a_cut() {
    let dir = TempDir::new("threads-imitate");
    let path = dir.path("ens33.pcap");
    let mut w = ethernet_writer(&path);
    let mut x = 7u64;
    let t0 = 1_700_000_000u64;
    let mut at = 24u64;
    for i in 0..4000u64 {
        let f = if i % 50 == 0 {
            // 40 fake 16-byte record headers of 8-byte records.
            let mut fake = Vec::new();
            for _ in 0..40 {
                for v in [t0 as u32, 1, 8, 8] {
                    fake.extend(v.to_le_bytes());
                }
                fake.extend([0x45; 8]);
            }
            fake
        } else {
            frame(&mut x, 3, 4)
        };
        w.write_packet(t0 * 1_000_000_000 + i * 1000, f.len() as u32, &f)
            .unwrap();
        at += 16 + f.len() as u64;
    }
    w.finish().unwrap();
    assert_eq!(std::fs::metadata(&path).unwrap().len(), at);
    every_split_matches(&path, Limits::default(), &[30_000, 77_777]);
}

#[test]
fn damaged_and_truncated_files_fail_at_the_same_offset() {
    let dir = TempDir::new("threads-damage");
    let path = dir.path("ens33.pcap");
    classic(&path, Endian::Little, TsResolution::Micro, 3000, 4, 6);
    let good = std::fs::read(&path).unwrap();
    // A record length past the limit somewhere in the last third.
    let mut at = 24usize;
    let mut n = 0;
    while n < 2100 {
        let caplen = u32::from_le_bytes(good[at + 8..at + 12].try_into().unwrap());
        at += 16 + caplen as usize;
        n += 1;
    }
    let mut bad = good.clone();
    bad[at + 8..at + 12].copy_from_slice(&0x0100_0000u32.to_le_bytes());
    std::fs::write(&path, &bad).unwrap();
    let (_, r) = one_thread(&path, Limits::default());
    match r {
        Err(FileError::Damaged {
            offset,
            frames_before,
            ..
        }) => assert_eq!((offset, frames_before), (at as u64, 2100)),
        other => panic!("{other:?}"),
    }
    let want = every_split_matches(&path, Limits::default(), &[50_000]);
    assert!(want.contains(&format!("{at}")), "{want}");

    // The last record cut short.
    std::fs::write(&path, &good[..good.len() - 3]).unwrap();
    let (_, r) = one_thread(&path, Limits::default());
    assert!(
        matches!(
            r,
            Err(FileError::Damaged {
                frames_before: 2999,
                ..
            })
        ),
        "{r:?}"
    );
    every_split_matches(&path, Limits::default(), &[50_000]);

    // pcapng: the last block cut short.
    let ng = dir.path("three.pcapng");
    pcapng(&ng, 600);
    let full = std::fs::read(&ng).unwrap();
    std::fs::write(&ng, &full[..full.len() - 9]).unwrap();
    let (_, r) = one_thread(&ng, Limits::default());
    assert!(
        matches!(
            r,
            Err(FileError::Damaged {
                frames_before: 1799,
                ..
            })
        ),
        "{r:?}"
    );
    every_split_matches(&ng, Limits::default(), &[30_000]);
}

/// The flag: any count gives the same report; 0 is refused.
#[test]
fn threads_flag_on_the_command_line() {
    let dir = TempDir::new("threads-cli");
    let path = dir.path("ens33.pcap");
    classic(&path, Endian::Little, TsResolution::Micro, 500, 3, 4);
    let one = common::read_json(&[&path], &["--threads", "1"], 0);
    let four = common::read_json(&[&path], &["--threads", "4"], 0);
    assert_eq!(one, four);
    assert_eq!(one["packets"]["total"], 500);
    let out = common::run(&["read", path.to_str().unwrap(), "--threads", "0"]);
    assert_eq!(out.status.code(), Some(2));
}
