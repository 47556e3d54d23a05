//! `tuntrace read` on what else users hold: standard input (`-`), gzip /
//! zstd / xz-compressed captures, and `--filter`, checked against tcpdump
//! reading the same files with the same expression.

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::{bin, bundled_captures, read_json, TempDir};
use serde_json::Value;
use tuntrace::linktype::LinkType;
use tuntrace::synth::*;
use tuntrace::write::pcap::PcapWriter;
use tuntrace::write::pcapng::PcapngWriter;
use tuntrace::write::{Endian, TsResolution};

const T0: u64 = 1_764_075_600_000_000_000; // 2025-11-25T13:00:00Z
const MAC_A: [u8; 6] = [2, 0, 0, 0, 0, 1];
const MAC_B: [u8; 6] = [2, 0, 0, 0, 0, 2];

/// Runs `tuntrace ARGS` with `input` on standard input.
fn run_with_stdin(args: &[&str], input: &[u8]) -> Output {
    let mut child = Command::new(bin())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run tuntrace");
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    // A thread, so that a large input cannot deadlock against the output.
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().expect("tuntrace output");
    writer.join().unwrap();
    out
}

/// `tuntrace read ARGS --format json` with `input` on standard input.
fn read_stdin_json(args: &[&str], input: &[u8], code: i32) -> Value {
    let mut all = vec!["read"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--format", "json"]);
    let out = run_with_stdin(&all, input);
    assert_eq!(
        out.status.code(),
        Some(code),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON report")
}

/// Path changes in a report (the key is left out when there are none).
fn timeline_len(r: &Value) -> usize {
    r.get("timeline")
        .map_or(0, |t| t.as_array().expect("timeline").len())
}

/// The report with each source's name replaced by `name`.
fn renamed(mut report: Value, name: &str) -> Value {
    for s in report["sources"].as_array_mut().expect("sources") {
        s["name"] = name.into();
    }
    report
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn zstd(data: &[u8]) -> Vec<u8> {
    zstd::stream::encode_all(data, 3).unwrap()
}

fn xz(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    liblzma::read::XzEncoder::new(data, 6)
        .read_to_end(&mut out)
        .unwrap();
    out
}

type Codec = (&'static str, fn(&[u8]) -> Vec<u8>);
const CODECS: [Codec; 3] = [("gzip", gzip), ("zstd", zstd), ("xz", xz)];

#[test]
fn stdin_reads_like_the_file_except_the_name() {
    for f in bundled_captures() {
        let want = read_json(&[&f], &[], 0);
        let bytes = std::fs::read(&f).unwrap();
        // From a pipe, and redirected from the file itself.
        let piped = read_stdin_json(&["-"], &bytes, 0);
        let out = Command::new(bin())
            .args(["read", "-", "--format", "json"])
            .stdin(std::fs::File::open(&f).unwrap())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0));
        let redirected: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(piped["sources"][0]["name"], "-");
        assert_eq!(piped, redirected, "{}", f.display());
        let mut want = renamed(want, "-");
        if f.to_string_lossy().contains("timeline") {
            // Read once, standard input stays out of the timeline's pass.
            assert!(timeline_len(&want) > 0);
            want.as_object_mut().unwrap().remove("timeline");
        }
        assert_eq!(piped, want, "{}", f.display());
    }
}

#[test]
fn stdin_among_files_and_only_once() {
    let files = bundled_captures();
    let (a, b, c) = (&files[0], &files[2], &files[4]);
    let input = std::fs::read(b).unwrap();
    let (sa, sc) = (a.to_str().unwrap(), c.to_str().unwrap());
    let mixed = read_stdin_json(&[sa, "-", sc], &input, 0);
    let want = read_json(&[a, b, c], &[], 0);
    let names: Vec<&str> = mixed["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, [sa, "-", sc]);
    assert_eq!(mixed["links"], want["links"]);
    assert_eq!(mixed["packets"], want["packets"]);
    assert_eq!(mixed["sources"][1]["packets"], 20);

    let out = run_with_stdin(&["read", "-", sa, "-"], &input);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("more than once"), "{err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn classic_pcap_from_stdin_is_labelled_stdin_or_by_iface() {
    let dir = TempDir::new("stdin-classic");
    let p = ethernet_mix(&dir, "x.pcap", false);
    let bytes = std::fs::read(&p).unwrap();
    let r = read_stdin_json(&["-"], &bytes, 0);
    assert_eq!(r["links"][0]["interface"], "stdin");
    let r = read_stdin_json(&["-", "--iface", "ens33"], &bytes, 0);
    assert_eq!(r["links"][0]["interface"], "ens33");
    assert_eq!(r["packets"]["total"], 60);
}

#[test]
fn compressed_captures_read_like_the_plain_ones() {
    let dir = TempDir::new("compressed");
    for f in bundled_captures() {
        let want = read_json(&[&f], &[], 0);
        let bytes = std::fs::read(&f).unwrap();
        for (name, codec) in CODECS {
            // Named .pcap: the magic decides, not the name.
            let p = dir.path(&format!("{name}.pcap"));
            std::fs::write(&p, codec(&bytes)).unwrap();
            let got = read_json(&[&p], &[], 0);
            let shown = p.display().to_string();
            assert_eq!(got, renamed(want.clone(), &shown), "{name} {}", f.display());
            let piped = read_stdin_json(&["-"], &codec(&bytes), 0);
            assert_eq!(
                piped["links"],
                want["links"],
                "{name} {} from stdin",
                f.display()
            );
            assert_eq!(piped["packets"], want["packets"]);
        }
    }
}

#[test]
fn concatenated_gzip_members_and_zstd_frames_read_whole() {
    let dir = TempDir::new("concatenated");
    let f = &bundled_captures()[0];
    let bytes = std::fs::read(f).unwrap();
    let want = read_json(&[f], &[], 0);
    // Cut mid-block: a member boundary means nothing to the capture.
    let cut = bytes.len() / 3 + 1;
    for (name, codec) in [CODECS[0], CODECS[1]] {
        let mut two = codec(&bytes[..cut]);
        two.extend(codec(&bytes[cut..]));
        let p = dir.path(&format!("two.{name}"));
        std::fs::write(&p, &two).unwrap();
        let got = read_json(&[&p], &[], 0);
        assert_eq!(got["links"], want["links"], "{name}");
        assert_eq!(got["sources"][0]["packets"], 20, "{name}");
    }
}

/// A classic pcap of `n` IPIP frames (~600 KB for 5000): enough for every
/// codec to have handed out some whole packets before a cut.
fn many_ipip(path: &Path, n: u32) {
    let mut w = PcapWriter::new(
        std::fs::File::create(path).unwrap(),
        LinkType::ETHERNET,
        65535,
        Endian::Little,
        TsResolution::Nano,
    )
    .unwrap();
    for i in 0..n {
        let fr = calico_ipip_frame(
            Ipv4Addr::new(192, 168, 30, 71),
            Ipv4Addr::new(192, 168, 30, 72),
            Ipv4Addr::new(10, 244, 118, 193),
            Ipv4Addr::new(10, 244, 5, (i % 200) as u8),
            64 + (i % 13) as usize,
        );
        w.write_packet(T0 + u64::from(i) * 1_000_000, fr.len() as u32, &fr)
            .unwrap();
    }
    w.finish().unwrap();
}

#[test]
fn a_cut_compressed_stream_reports_what_was_read_and_exits_3() {
    let dir = TempDir::new("cut");
    let plain = dir.path("ens33.pcap");
    many_ipip(&plain, 5000);
    let bytes = std::fs::read(&plain).unwrap();
    for (name, codec) in CODECS {
        let c = codec(&bytes);
        let p = dir.path(&format!("cut-{name}.pcap.{name}"));
        std::fs::write(&p, &c[..c.len() * 3 / 4]).unwrap();
        let shown = p.display().to_string();
        for (r, from) in [
            (read_json(&[&p], &[], 3), shown.as_str()),
            (read_stdin_json(&["-"], &c[..c.len() * 3 / 4], 3), "-"),
        ] {
            let src = &r["sources"][0];
            let packets = src["packets"].as_u64().unwrap();
            assert!(packets > 0 && packets < 5000, "{name}: {src}");
            assert_eq!(r["packets"]["total"], packets);
            let err = src["error"].as_str().unwrap();
            assert!(
                err.starts_with(&format!("{from}: damaged at byte")),
                "{err}"
            );
            assert!(err.contains(&format!("{name} stream damaged")), "{err}");
            assert!(err.contains(&format!("after {packets} packets")), "{err}");
            assert!(src["damaged_at"].as_u64().unwrap() > 24);
        }
    }
}

#[test]
fn compressed_non_captures_exit_2_naming_the_compression() {
    let dir = TempDir::new("not-capture");
    for (name, codec) in CODECS {
        let p = dir.path(&format!("notes.txt.{name}"));
        std::fs::write(&p, codec(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")).unwrap();
        let out = common::run(&["read", p.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "{name}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&format!(
                "{}: not a capture file: {name}-compressed: expected a pcap",
                p.display()
            )),
            "{err}"
        );
        assert!(err.contains("found bytes 47 45 54 20"), "{err}");
    }
}

// ---- --filter, against tcpdump -------------------------------------------

/// The IPv4 packets of the synthetic mix: IPIP, VXLAN, plain pod traffic and
/// something outside the cluster, by turns.
fn l3_mix(i: u32) -> Vec<u8> {
    let ip = Ipv4Addr::new;
    let icmp = icmp_echo(7, i as u16, &[0; 24]);
    match i % 4 {
        0 => {
            let inner = ipv4(ip(10, 244, 1, 2), ip(10, 244, 3, 4), 1, &icmp);
            ipv4(ip(192, 168, 30, 71), ip(192, 168, 30, 72), 4, &inner)
        }
        1 => {
            let inner = ipv4(ip(10, 244, 5, 6), ip(10, 244, 7, 8), 1, &icmp);
            let l2 = ethernet(MAC_A, MAC_B, 0x0800, &inner);
            let vx = udp(40000 + i as u16, 4789, &vxlan(4096, &l2));
            ipv4(ip(192, 168, 26, 71), ip(192, 168, 26, 72), 17, &vx)
        }
        2 => ipv4(ip(10, 244, 9, 9), ip(10, 244, 9, 10), 1, &icmp),
        _ => ipv4(
            ip(172, 16, 0, 1),
            ip(172, 16, 0, 2),
            17,
            &udp(5353, 53, &[1; 20]),
        ),
    }
}

/// 60 frames of [`l3_mix`] on Ethernet, every third VLAN-tagged; classic
/// pcap or pcapng with two interfaces.
fn ethernet_mix(dir: &TempDir, name: &str, pcapng: bool) -> PathBuf {
    let p = dir.path(name);
    let frames: Vec<Vec<u8>> = (0..60)
        .map(|i| {
            let l3 = l3_mix(i);
            if i % 3 == 0 {
                ethernet(MAC_A, MAC_B, 0x8100, &vlan(30, 0x0800, &l3))
            } else {
                ethernet(MAC_A, MAC_B, 0x0800, &l3)
            }
        })
        .collect();
    let file = std::fs::File::create(&p).unwrap();
    if pcapng {
        let mut w = PcapngWriter::new(file, Endian::Big).unwrap();
        let a = w.add_interface("ens32", LinkType::ETHERNET, 65535).unwrap();
        let b = w.add_interface("ens33", LinkType::ETHERNET, 65535).unwrap();
        for (i, fr) in frames.iter().enumerate() {
            let on = if i % 2 == 0 { a } else { b };
            w.write_epb(on, T0 + i as u64, fr.len() as u32, fr).unwrap();
        }
        w.finish().unwrap();
    } else {
        let mut w = PcapWriter::new(
            file,
            LinkType::ETHERNET,
            65535,
            Endian::Little,
            TsResolution::Micro,
        )
        .unwrap();
        for (i, fr) in frames.iter().enumerate() {
            w.write_packet(T0 + i as u64 * 1000, fr.len() as u32, fr)
                .unwrap();
        }
        w.finish().unwrap();
    }
    p
}

/// [`l3_mix`] as classic pcap of `linktype` (LINUX_SLL or RAW).
fn l3_file(dir: &TempDir, name: &str, linktype: LinkType) -> PathBuf {
    let p = dir.path(name);
    let file = std::fs::File::create(&p).unwrap();
    let mut w = PcapWriter::new(file, linktype, 65535, Endian::Big, TsResolution::Micro).unwrap();
    for i in 0..40 {
        let l3 = l3_mix(i);
        let fr = if linktype == LinkType::LINUX_SLL {
            sll(0x0800, &l3)
        } else {
            l3
        };
        w.write_packet(T0 + u64::from(i) * 1000, fr.len() as u32, &fr)
            .unwrap();
    }
    w.finish().unwrap();
    p
}

const EXPRESSIONS: [&str; 6] = [
    "host 192.168.30.72",
    "ip proto 4",
    "udp port 4789",
    "vlan and ip",
    "not net 10.244.0.0/16",
    "host 10.244.9.10 or net 172.16.0.0/12",
];

/// What the comparison looks at: totals, and packets per tunnel (encap,
/// outer pair, VNI), per interface when `per_link`, else summed over them
/// (tcpdump writes classic pcap, which drops pcapng's interface names).
fn counts(r: &Value, per_link: bool) -> (Value, BTreeMap<String, u64>) {
    let mut tunnels = BTreeMap::new();
    for l in r["links"].as_array().unwrap() {
        let link = if per_link {
            l["interface"].as_str().unwrap()
        } else {
            "*"
        };
        if per_link {
            *tunnels.entry(format!("{link} all")).or_default() += l["packets"].as_u64().unwrap();
        }
        for t in l["tunnels"].as_array().unwrap() {
            let key = format!(
                "{link} {} {} {} {}",
                t["encap"], t["outer_src"], t["outer_dst"], t["vni"]
            );
            *tunnels.entry(key).or_default() += t["packets"].as_u64().unwrap();
        }
    }
    (r["packets"].clone(), tunnels)
}

/// `tcpdump -r FILE EXPR -w -`: the filtered capture, or tcpdump's error.
fn tcpdump(file: &Path, expr: &str) -> Result<Vec<u8>, String> {
    let out = Command::new("tcpdump")
        .arg("-r")
        .arg(file)
        .args([expr, "-w", "-"])
        .output()
        .expect("tcpdump, which .ci/deps installs");
    if out.status.success() {
        Ok(out.stdout)
    } else {
        let err = String::from_utf8_lossy(&out.stderr);
        let msg = err.lines().last().unwrap_or_default();
        Err(msg.trim_start_matches("tcpdump: ").to_string())
    }
}

/// `read F --filter E` counts what `tcpdump -r F E -w - | read -` counts,
/// and fails (exit 2, libpcap's message) where tcpdump does. Returns how
/// many expressions compiled.
fn compare_with_tcpdump(file: &Path, per_link: bool) -> usize {
    let f = file.to_str().unwrap();
    let mut compiled = 0;
    for expr in EXPRESSIONS {
        let label = ["--iface", "cap"];
        match tcpdump(file, expr) {
            Ok(filtered) => {
                compiled += 1;
                let ours = read_json(&[file], &["--filter", expr, label[0], label[1]], 0);
                let theirs = read_stdin_json(&["-", label[0], label[1]], &filtered, 0);
                assert_eq!(
                    counts(&ours, per_link),
                    counts(&theirs, per_link),
                    "{f} --filter {expr:?}"
                );
                assert_eq!(ours["sources"][0]["packets"], ours["packets"]["total"]);
            }
            Err(msg) => {
                let out = common::run(&["read", f, "--filter", expr]);
                assert_eq!(out.status.code(), Some(2), "{f} --filter {expr:?}");
                let err = String::from_utf8_lossy(&out.stderr);
                assert!(err.contains(&msg), "{f} {expr:?}: {err} lacks {msg:?}");
                assert!(err.contains(f), "{err}");
                assert!(out.stdout.is_empty(), "no report");
            }
        }
    }
    compiled
}

#[test]
fn filter_counts_what_tcpdump_keeps_on_the_bundled_captures() {
    for f in bundled_captures() {
        assert_eq!(compare_with_tcpdump(&f, false), EXPRESSIONS.len());
    }
    // The bundled captures hold IPIP only: one expression that keeps part.
    let f = &bundled_captures()[0];
    let r = read_json(&[f], &["--filter", "src host 192.168.30.71"], 0);
    assert_eq!(r["packets"]["total"], 10);
}

#[test]
fn filter_counts_what_tcpdump_keeps_on_every_link_type() {
    let dir = TempDir::new("filter");
    let eth = ethernet_mix(&dir, "eth.pcap", false);
    let ng = ethernet_mix(&dir, "eth.pcapng", true);
    assert_eq!(compare_with_tcpdump(&eth, true), EXPRESSIONS.len());
    assert_eq!(compare_with_tcpdump(&ng, false), EXPRESSIONS.len());
    // `vlan` does not compile for cooked or raw captures, in tcpdump either.
    let sll = l3_file(&dir, "sll.pcap", LinkType::LINUX_SLL);
    let raw = l3_file(&dir, "raw.pcap", LinkType::RAW);
    assert_eq!(compare_with_tcpdump(&sll, true), EXPRESSIONS.len() - 1);
    assert_eq!(compare_with_tcpdump(&raw, true), EXPRESSIONS.len() - 1);

    // The mix has every kind: the expressions keep what they should.
    let kept = |f: &Path, e: &str| read_json(&[f], &["--filter", e], 0)["packets"]["total"].clone();
    assert_eq!(kept(&eth, "udp port 4789"), 10, "untagged VXLAN only");
    assert_eq!(kept(&eth, "vlan and ip"), 20);
    assert_eq!(kept(&eth, "ip proto 4"), 10, "untagged IPIP only");
    assert_eq!(
        kept(&ng, "not net 10.244.0.0/16"),
        50,
        "tagged frames are not ip"
    );
    assert_eq!(kept(&raw, "ip proto 4"), 10);
}

#[test]
fn filter_applies_to_compressed_and_stdin_input_and_the_timeline() {
    let dir = TempDir::new("filter-more");
    let eth = ethernet_mix(&dir, "eth.pcap", false);
    let gz = dir.path("eth.gz");
    std::fs::write(&gz, gzip(&std::fs::read(&eth).unwrap())).unwrap();
    let filter = ["--filter", "udp port 4789"];
    let plain = read_json(&[&eth], &filter, 0);
    let compressed = read_json(&[&gz], &filter, 0);
    assert_eq!(
        plain["links"].to_string().replace("\"eth\"", "X"),
        compressed["links"].to_string().replace("\"eth\"", "X")
    );
    let piped = read_stdin_json(
        &["-", "--iface", "eth", filter[0], filter[1]],
        &std::fs::read(&gz).unwrap(),
        0,
    );
    assert_eq!(piped["links"], plain["links"]);
    assert_eq!(plain["packets"]["total"], 10);

    // The timeline's second pass reads with the filter too: the move from
    // ens33 to ens32 is seen through a filter that keeps both, and there
    // is none once ens32's subnet is filtered out.
    let tl = bundled_captures()
        .into_iter()
        .find(|f| f.to_string_lossy().contains("timeline"))
        .unwrap();
    let all = read_json(&[&tl], &[], 0);
    assert!(timeline_len(&all) > 0);
    let ipip = read_json(&[&tl], &["--filter", "ip proto 4"], 0);
    assert_eq!(ipip["timeline"], all["timeline"]);
    let only30 = read_json(&[&tl], &["--filter", "net 192.168.30.0/24"], 0);
    assert_eq!(timeline_len(&only30), 0);
    assert!(
        only30["packets"]["total"].as_u64().unwrap() < all["packets"]["total"].as_u64().unwrap()
    );
}

#[test]
fn a_bad_expression_exits_2_with_libpcaps_message_and_no_report() {
    let f = &bundled_captures()[0];
    let out = common::run(&["read", f.to_str().unwrap(), "--filter", "host and and"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("syntax error"), "{err}");
    assert!(
        err.contains("--filter does not compile for link type EN10MB"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
}
