//! Writes the fuzz targets' seed corpora (`fuzz/seeds/<target>/`) from the
//! repository's own captures and from frames and files `synth` and the
//! `write` module make. Run by hand when the formats change:
//! `cargo test --test fuzz_seeds -- --ignored`. Never from ../shared.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use tuntrace::cli::Format;
use tuntrace::decode::DecodeConfig;
use tuntrace::flows::Limits;
use tuntrace::iface::IfaceTable;
use tuntrace::linktype::LinkType;
use tuntrace::pipeline::Pipeline;
use tuntrace::render;
use tuntrace::report::{build_report, SourceInfo};
use tuntrace::sources::file::{read_file, FileOptions};
use tuntrace::synth;
use tuntrace::write::{Endian, PcapWriter, PcapngWriter, TsResolution};

fn seeds(target: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/seeds")
        .join(target);
    std::fs::create_dir_all(&dir).expect("seed directory");
    dir
}

fn captures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("captures/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcapng"))
        .collect();
    v.sort();
    v
}

/// One frame of every shape the decoder knows, as (link type, bytes).
fn frames() -> Vec<(LinkType, Vec<u8>)> {
    let (n1, n2) = (
        Ipv4Addr::new(192, 168, 30, 71),
        Ipv4Addr::new(192, 168, 30, 72),
    );
    let (p1, p2) = (Ipv4Addr::new(10, 244, 1, 5), Ipv4Addr::new(10, 244, 2, 7));
    let (v1, v2) = (
        Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1),
        Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2),
    );
    let eth = |t: u16, p: &[u8]| synth::ethernet([2; 6], [4; 6], t, p);
    let inner = synth::ipv4(p1, p2, 1, &synth::icmp_echo(7, 1, &[0xab; 16]));
    let inner6 = synth::ipv6(v1, v2, 58, &[0x80, 0, 0, 0, 0, 7, 0, 1]);
    let e = LinkType::ETHERNET;
    let mut out = vec![
        (e, synth::calico_ipip_frame(n1, n2, p1, p2, 32)),
        (e, eth(0x0800, &synth::ipv4(n1, n2, 6, &[0; 20]))),
        (
            e,
            eth(
                0x0800,
                &synth::ipv4(
                    n1,
                    n2,
                    17,
                    &synth::udp(40000, 4789, &synth::vxlan(4096, &eth(0x0800, &inner))),
                ),
            ),
        ),
        (
            e,
            eth(
                0x0800,
                &synth::ipv4(
                    n1,
                    n2,
                    17,
                    &synth::udp(
                        40000,
                        6081,
                        &synth::geneve(77, 0x6558, 8, &eth(0x0800, &inner)),
                    ),
                ),
            ),
        ),
        (
            e,
            eth(
                0x0800,
                &synth::ipv4(n1, n2, 47, &synth::gre(0x0800, Some(9), &inner)),
            ),
        ),
        (e, eth(0x0800, &synth::ipv4(n1, n2, 41, &inner6))),
        (e, eth(0x86dd, &synth::ipv6(v1, v2, 4, &inner))),
        (e, eth(0x86dd, &synth::ipv6(v1, v2, 41, &inner6))),
        (
            e,
            eth(
                0x8100,
                &synth::vlan(30, 0x0800, &synth::ipv4(n1, n2, 4, &inner)),
            ),
        ),
        (
            e,
            eth(
                0x0800,
                &synth::ipv4(n1, n2, 4, &synth::ipv4(p1, p2, 4, &inner)),
            ),
        ),
        (
            LinkType::LINUX_SLL,
            synth::sll(0x0800, &synth::ipv4(n1, n2, 4, &inner)),
        ),
        (
            LinkType::LINUX_SLL2,
            synth::sll2(3, 0x0800, &synth::ipv4(n1, n2, 4, &inner)),
        ),
        (
            LinkType::NULL,
            synth::null_loopback(2, false, &synth::ipv4(n1, n2, 4, &inner)),
        ),
        (
            LinkType::LOOP,
            synth::null_loopback(24, true, &synth::ipv6(v1, v2, 4, &inner)),
        ),
        (LinkType::RAW, synth::ipv4(n1, n2, 4, &inner)),
        (LinkType::IPV6, synth::ipv6(v1, v2, 41, &inner6)),
    ];
    for frag in synth::fragment_ipv4(
        &synth::ipv4(n1, n2, 4, &synth::ipv4(p1, p2, 17, &[1; 120])),
        68,
    ) {
        out.push((e, eth(0x0800, &frag)));
    }
    out
}

/// The `decode_frame` target's header byte that picks `lt` (see the target).
fn pick(lt: LinkType) -> u8 {
    const ORDER: [u32; 11] = [0, 1, 12, 14, 101, 108, 113, 228, 229, 276, 147];
    let i = ORDER
        .iter()
        .position(|&x| x == lt.0)
        .expect("a listed link type");
    (128..=255u8)
        .find(|p| usize::from(*p) % ORDER.len() == i)
        .expect("a pick")
}

#[test]
#[ignore = "writes fuzz/seeds; run by hand"]
fn write_fuzz_seeds() {
    let mut written = 0;
    let mut put = |dir: &Path, name: &str, bytes: &[u8]| {
        std::fs::write(dir.join(name), bytes).expect("seed written");
        written += 1;
    };

    // read_file: the bundled captures, and pcap/pcapng files our writers make.
    let dir = seeds("read_file");
    for c in captures() {
        put(
            &dir,
            c.file_name().unwrap().to_str().unwrap(),
            &std::fs::read(&c).unwrap(),
        );
    }
    let all = frames();
    for (endian, res, name) in [
        (Endian::Little, TsResolution::Micro, "synth-le-us.pcap"),
        (Endian::Big, TsResolution::Nano, "synth-be-ns.pcap"),
    ] {
        let mut w = PcapWriter::new(Vec::new(), LinkType::ETHERNET, 65535, endian, res).unwrap();
        for (i, (_, f)) in all
            .iter()
            .filter(|(l, _)| *l == LinkType::ETHERNET)
            .enumerate()
        {
            w.write_packet(
                1_700_000_000_000_000_000 + i as u64 * 1000,
                f.len() as u32,
                f,
            )
            .unwrap();
        }
        put(&dir, name, &w.into_inner());
    }
    for (endian, res, name) in [
        (Endian::Little, TsResolution::Micro, "synth-le-us.pcapng"),
        (Endian::Big, TsResolution::Nano, "synth-be-ns.pcapng"),
    ] {
        let mut w = PcapngWriter::with_resolution(Vec::new(), endian, res).unwrap();
        let mut ids = Vec::new();
        for (lt, _) in &all {
            if !ids.iter().any(|(l, _)| l == lt) {
                let id = w.add_interface(&format!("if{}", lt.0), *lt, 65535).unwrap();
                ids.push((*lt, id));
            }
        }
        for (i, (lt, f)) in all.iter().enumerate() {
            let id = ids.iter().find(|(l, _)| l == lt).unwrap().1;
            w.write_epb(
                id,
                1_700_000_000_000_000_000 + i as u64 * 1000,
                f.len() as u32 + 4,
                f,
            )
            .unwrap();
        }
        w.write_spb(60, &all[0].1).unwrap_or(());
        put(&dir, name, &w.into_inner());
    }

    // decode_frame: [pick, max depth, flags, vxlan port, geneve port, frame].
    let dir = seeds("decode_frame");
    for (i, (lt, f)) in all.iter().enumerate() {
        let p = if *lt == LinkType::ETHERNET {
            0
        } else {
            pick(*lt)
        };
        let mut s = vec![p, 7, 3, 0x12, 0xb5, 0x17, 0xc1];
        s.extend_from_slice(f);
        put(&dir, &format!("synth-{i:02}-{}", lt.name()), &s);
    }
    for c in captures().iter().take(2) {
        let mut t = IfaceTable::new();
        let mut n = 0;
        read_file(c, &FileOptions::default(), &mut t, |fr| {
            if n < 8 {
                let mut s = vec![
                    if fr.linktype == LinkType::ETHERNET {
                        0
                    } else {
                        pick(fr.linktype)
                    },
                    7,
                    0,
                    0,
                    0,
                    0,
                    0,
                ];
                s.extend_from_slice(fr.data);
                std::fs::write(
                    seeds("decode_frame")
                        .join(format!("{}-{n}", c.file_stem().unwrap().to_str().unwrap())),
                    &s,
                )
                .unwrap();
                n += 1;
            }
        })
        .unwrap();
        assert_eq!(n, 8, "{}", c.display());
    }

    // split_equals_one_pass: [flags, damage offset, damage, records...].
    let dir = seeds("split_equals_one_pass");
    for (flags, name) in [
        (0u8, "eth-le"),
        (3, "eth-be-ns"),
        (8 | 1, "damaged"),
        (16, "cut-tail"),
    ] {
        let mut s = vec![flags, 0, 40, 0xff, 0xff, 0, 0];
        for (_, f) in all
            .iter()
            .filter(|(l, f)| *l == LinkType::ETHERNET && f.len() <= 255)
        {
            s.extend_from_slice(&[f.len() as u8, 0]);
            s.extend_from_slice(f);
        }
        put(&dir, name, &s);
    }
    let mut s = vec![4u8, 0, 0, 0, 0, 0, 0];
    for (_, f) in all.iter().filter(|(l, _)| *l == LinkType::RAW) {
        s.extend_from_slice(&[f.len() as u8, 10]);
        s.extend_from_slice(f);
    }
    put(&dir, "raw-oversize", &s);

    // report_json: reports of the captures, as `read --format json` writes them.
    let dir = seeds("report_json");
    for (i, c) in captures().iter().enumerate().step_by(3) {
        let limits = Limits {
            track_plain: true,
            ..Limits::default()
        };
        let mut pipeline = Pipeline::new(DecodeConfig::default(), limits);
        let mut t = IfaceTable::new();
        let s = read_file(c, &FileOptions::default(), &mut t, |f| {
            pipeline.feed(f);
        })
        .unwrap();
        let info = SourceInfo {
            name: c.display().to_string(),
            packets: s.frames,
            error: None,
            damaged_at: None,
            oversize_records: None,
        };
        let report = build_report(&pipeline.table, &t, vec![info]);
        let mut out = Vec::new();
        let format = if i % 2 == 0 {
            Format::Json
        } else {
            Format::Jsonl
        };
        render::render(&report, format, 10, &mut out).unwrap();
        assert!(report.packets.tunnelled > 0);
        put(
            &dir,
            &format!("{}.json", c.file_stem().unwrap().to_str().unwrap()),
            &out,
        );
    }

    // host_file: `ip -j addr` output and our own host JSON.
    let dir = seeds("host_file");
    put(&dir, "ip-j-addr.json", br#"[{"ifindex":1,"ifname":"lo","addr_info":[{"family":"inet","local":"127.0.0.1","prefixlen":8}]},{"ifindex":3,"ifname":"ens33","addr_info":[{"family":"inet","local":"192.168.30.71","prefixlen":24},{"family":"inet6","local":"fe80::1","prefixlen":64}]},{"ifindex":4,"ifname":"tunl0"},{"ifindex":5,"ifname":"ppp0","addr_info":[{"family":"inet","local":"10.0.0.1","address":"10.0.0.2","prefixlen":24},{"family":"inet6","local":"fd00::1","address":"fd00::2","prefixlen":64}]}]"#);
    put(&dir, "own.json", br#"{"ifaces":[{"name":"eth0","index":2,"addrs":["10.0.2.15/24","2001:db8::15/64"]},{"name":"docker0","addrs":["172.17.0.1/16"]}],"can_reach":{"8.8.8.8":"10.0.2.15"},"default_gateway":"10.0.2.2","internal_ips":["10.0.2.15","2001:db8::15"]}"#);

    // calico_method: one method string per seed.
    let dir = seeds("calico_method");
    for (i, m) in [
        "first-found",
        "",
        "interface=ens.*",
        "interface=eth0, ens33 ,",
        "skip-interface=docker.*,veth.*",
        "cidr=192.168.0.0/16,fd00::/8",
        "cidr=10.0.0.1",
        "can-reach=8.8.8.8",
        "can-reach=www.example.com",
        "kubernetes-internal-ip",
        "interface=((x?){40}){30}",
        "interface=eth{1",
        "interface=a{,5}",
        r"interface=\Qvxlan.calico\E",
        r"interface=[[:alpha:]]+\d",
        r"interface=\pL+\b",
        "interface=(?i)ENS33",
        "interface=[a-z[]+",
        "interface=a**",
        r"interface=\141",
        "interface=(?P<n>eth)0",
        "first-found ",
    ]
    .iter()
    .enumerate()
    {
        put(&dir, &format!("method-{i:02}"), m.as_bytes());
    }
    // k8s_names: the `--k8s` test files, and a list using a YAML anchor.
    let dir = seeds("k8s_names");
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data-k8s");
    let mut files: Vec<PathBuf> = std::fs::read_dir(data)
        .expect("tests/data-k8s")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    for f in &files {
        put(
            &dir,
            f.file_name().unwrap().to_str().unwrap(),
            &std::fs::read(f).unwrap(),
        );
    }
    put(&dir, "anchors.yaml", b"kind: PodList\nitems:\n- metadata: &m {name: web, namespace: shop}\n  spec: {nodeName: vms71}\n  status: {podIP: 10.244.1.5, podIPs: [{ip: 10.244.1.5}, {ip: 'fd00::5'}]}\n- metadata: *m\n  status: {podIP: 10.244.1.6}\n");

    assert!(written > 50, "{written} seeds");
}
