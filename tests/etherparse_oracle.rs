//! etherparse as an independent oracle: every frame of the bundled
//! `captures/` and a range of frames `synth` writes are decoded by both, and
//! the outer IP pair and the innermost pair must agree wherever etherparse
//! can reach them.
//!
//! etherparse (0.21) reads Ethernet, VLAN tags and IP, laxly (cut packets,
//! length fields of 0), but has no GRE, VXLAN or Geneve; nested IP is
//! followed here by handing each IP-in-IP payload (protocol 4 / 41) back to
//! `LaxIpSlice::from_slice`. Where the chain reaches GRE, a tunnel UDP port
//! or a fragment, only the outer pair is compared.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

use etherparse::{IpNumber, LaxIpSlice, LaxNetSlice, LaxSlicedPacket};

use tuntrace::decode::{decode_frame, DecodeConfig, Kind};
use tuntrace::iface::IfaceTable;
use tuntrace::linktype::LinkType;
use tuntrace::sources::file::{read_file, FileOptions};
use tuntrace::synth;

type Pair = (IpAddr, IpAddr);

/// What etherparse sees past the outer header.
#[derive(Debug, PartialEq)]
enum Inside {
    /// Inner pairs of an IP-in-IP chain, outermost first; `cut` when the
    /// next inner header did not parse.
    Chain { pairs: Vec<Pair>, cut: bool },
    /// GRE, a tunnel UDP port, a fragment, a cut extension chain: out of
    /// etherparse's reach.
    Beyond,
}

fn pair_of(ip: &LaxIpSlice<'_>) -> Pair {
    match ip {
        LaxIpSlice::Ipv4(v4) => {
            let h = v4.header();
            (h.source_addr().into(), h.destination_addr().into())
        }
        LaxIpSlice::Ipv6(v6) => {
            let h = v6.header();
            (h.source_addr().into(), h.destination_addr().into())
        }
    }
}

fn payload<'a, 'b>(ip: &'b LaxIpSlice<'a>) -> &'b etherparse::LaxIpPayloadSlice<'a> {
    match ip {
        LaxIpSlice::Ipv4(v4) => v4.payload(),
        LaxIpSlice::Ipv6(v6) => v6.payload(),
    }
}

/// Follows IP-in-IP from an outer IP payload.
fn inside(mut pl: etherparse::LaxIpPayloadSlice<'_>, cfg: &DecodeConfig) -> Inside {
    let mut pairs = Vec::new();
    loop {
        if pl.fragmented {
            return Inside::Beyond;
        }
        match pl.ip_number {
            // etherparse picks the version by the first nibble; the protocol
            // number says which one must follow (RFC 2003, RFC 4213).
            IpNumber::IPV4 | IpNumber::IPV6 => match LaxIpSlice::from_slice(pl.payload) {
                Ok((ip, _))
                    if matches!(ip, LaxIpSlice::Ipv4(_)) != (pl.ip_number == IpNumber::IPV4) =>
                {
                    return Inside::Chain { pairs, cut: true }
                }
                Ok((ip, None)) => {
                    pairs.push(pair_of(&ip));
                    pl = payload(&ip).clone();
                }
                Ok((_, Some(_))) => return Inside::Beyond,
                Err(_) => return Inside::Chain { pairs, cut: true },
            },
            IpNumber::GRE => return Inside::Beyond,
            IpNumber::UDP => {
                let port = pl
                    .payload
                    .get(2..4)
                    .map(|p| u16::from_be_bytes([p[0], p[1]]));
                let tunnel_port = port
                    .is_some_and(|p| cfg.vxlan_ports.contains(&p) || cfg.geneve_ports.contains(&p));
                if tunnel_port {
                    return Inside::Beyond;
                }
                return Inside::Chain { pairs, cut: false };
            }
            _ => return Inside::Chain { pairs, cut: false },
        }
    }
}

/// How far one frame was compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Reach {
    /// etherparse found no IP.
    None,
    /// The outer pair (and whether it is a tunnel at all).
    Outer,
    /// The outer and the innermost pair, and the nesting.
    Inner,
}

/// Compares one Ethernet frame; an error says how the two differ.
fn check(frame: &[u8], cfg: &DecodeConfig) -> Result<Reach, String> {
    let ours = decode_frame(frame, LinkType::ETHERNET, cfg).kind;
    let Ok(theirs) = LaxSlicedPacket::from_ethernet(frame) else {
        return Ok(Reach::None);
    };
    let ip = match theirs.net {
        Some(LaxNetSlice::Ipv4(v4)) => LaxIpSlice::Ipv4(v4),
        Some(LaxNetSlice::Ipv6(v6)) => LaxIpSlice::Ipv6(v6),
        _ => return Ok(Reach::None),
    };
    let outer = pair_of(&ip);
    let what = inside(payload(&ip).clone(), cfg);
    let fail = |why: &str| {
        Err(format!(
            "{why}: etherparse {outer:?} {what:?}, tuntrace {ours:?}"
        ))
    };
    match (&ours, &what) {
        (Kind::Plain(p), Inside::Chain { pairs, cut: false }) if pairs.is_empty() => {
            if (p.src, p.dst) != outer {
                return fail("outer pair");
            }
            Ok(Reach::Inner)
        }
        (Kind::Tunnel(t), Inside::Chain { pairs, cut }) if !pairs.is_empty() || *cut => {
            if (t.outer_src, t.outer_dst) != outer {
                return fail("outer pair");
            }
            let innermost = t.inner.map(|i| (i.src, i.dst));
            if innermost != pairs.last().copied() {
                return fail("innermost pair");
            }
            if !cut && usize::from(t.depth) != pairs.len() {
                return fail("nesting depth");
            }
            Ok(Reach::Inner)
        }
        (Kind::Tunnel(t), Inside::Beyond) if (t.outer_src, t.outer_dst) == outer => {
            Ok(Reach::Outer)
        }
        (Kind::Plain(p), Inside::Beyond) if (p.src, p.dst) == outer => Ok(Reach::Outer),
        (Kind::Tunnel(_) | Kind::Plain(_), Inside::Beyond) => fail("outer pair"),
        _ => fail("tunnel or not"),
    }
}

/// Checks every frame; how many reached each depth of comparison.
fn check_all<'a>(frames: impl Iterator<Item = (String, &'a [u8])>) -> [usize; 3] {
    let cfg = DecodeConfig::default();
    let mut reach = [0; 3];
    for (what, f) in frames {
        match check(f, &cfg) {
            Ok(r) => reach[r as usize] += 1,
            Err(e) => panic!("{what}: {e}"),
        }
    }
    reach
}

fn v6(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

/// Frames as `synth` writes them for the tests, the benchmark and the lab:
/// every IP-in-IP flavour and nest, tags, cuts, offload lengths, fragments,
/// and the UDP / GRE tunnels whose outer pair etherparse can still check.
/// Also returns how many of them etherparse can follow only to the outer
/// pair (tunnels it lacks, fragments).
fn synth_frames() -> (Vec<Vec<u8>>, usize) {
    let mac = [2, 0, 0, 0, 0, 1];
    let eth = |et: u16, p: &[u8]| synth::ethernet(mac, mac, et, p);
    let mut out = Vec::new();
    let mut outer_only = 0;
    for i in 1..=40u8 {
        let (n1, n2) = (
            Ipv4Addr::new(192, 168, i, 10),
            Ipv4Addr::new(192, 168, i, 11),
        );
        let (p1, p2) = (Ipv4Addr::new(10, 244, i, 5), Ipv4Addr::new(10, 245, i, 7));
        let (s6, d6) = (
            v6(&format!("2001:db8::{i}")),
            v6(&format!("2001:db8:1::{i}")),
        );
        let (i6a, i6b) = (v6(&format!("fd00::{i}")), v6(&format!("fd00:1::{i}")));
        let len = usize::from(i) * 13;
        let tcp4 = synth::ipv4(p1, p2, 6, &vec![i; len]);
        let udp6 = synth::ipv6(i6a, i6b, 17, &synth::udp(5000, 53, &vec![i; len]));

        out.push(synth::calico_ipip_frame(n1, n2, p1, p2, len));
        out.push(eth(0x0800, &tcp4));
        out.push(eth(0x86DD, &udp6));
        out.push(eth(0x0800, &synth::ipv4(n1, n2, 41, &udp6)));
        out.push(eth(0x86DD, &synth::ipv6(s6, d6, 4, &tcp4)));
        out.push(eth(0x86DD, &synth::ipv6(s6, d6, 41, &udp6)));
        // A nest three deep, behind 802.1Q and 802.1ad tags.
        let nest = synth::ipv4(
            n1,
            n2,
            41,
            &synth::ipv6(s6, d6, 4, &synth::ipv4(p2, p1, 4, &tcp4)),
        );
        // The wrong version behind protocol 4: a cut chain to both.
        out.push(eth(0x0800, &synth::ipv4(n1, n2, 4, &udp6)));
        out.push(eth(0x8100, &synth::vlan(u16::from(i), 0x0800, &nest)));
        out.push(eth(
            0x88a8,
            &synth::vlan(1, 0x8100, &synth::vlan(u16::from(i), 0x0800, &nest)),
        ));
        // Offload super-frames: length fields of 0.
        let mut big4 = synth::ipv4(n1, n2, 4, &tcp4);
        big4[2..4].copy_from_slice(&[0, 0]);
        out.push(eth(0x0800, &big4));
        let mut big6 = synth::ipv6(s6, d6, 4, &tcp4);
        big6[4..6].copy_from_slice(&[0, 0]);
        out.push(eth(0x86DD, &big6));
        // Snaplen cuts: inside the inner header, and just after it.
        let f = synth::calico_ipip_frame(n1, n2, p1, p2, len);
        out.push(f[..14 + 20 + 10].to_vec());
        out.push(f[..14 + 20 + 20].to_vec());
        // Outer fragments: the first carries the inner header.
        // (Short packets fit in one.)
        let frags = synth::fragment_ipv4(&synth::ipv4(n1, n2, 4, &tcp4), 68);
        if frags.len() > 1 {
            outer_only += frags.len();
        }
        out.extend(frags.iter().map(|f| eth(0x0800, f)));
        // Tunnels etherparse cannot open: outer pair only.
        let inner_eth = eth(0x0800, &tcp4);
        let vx = synth::udp(40000, 4789, &synth::vxlan(u32::from(i), &inner_eth));
        out.push(eth(0x0800, &synth::ipv4(n1, n2, 17, &vx)));
        let gn = synth::udp(
            40000,
            6081,
            &synth::geneve(u32::from(i), 0x6558, 8, &inner_eth),
        );
        out.push(eth(0x86DD, &synth::ipv6(s6, d6, 17, &gn)));
        let gre = synth::gre(0x0800, Some(u32::from(i)), &tcp4);
        out.push(eth(0x0800, &synth::ipv4(n1, n2, 47, &gre)));
        outer_only += 3;
        // ICMP, and UDP to a port that is no tunnel.
        let echo = synth::icmp_echo(u16::from(i), 1, &vec![i; len]);
        out.push(eth(0x0800, &synth::ipv4(p1, p2, 1, &echo)));
        out.push(eth(
            0x0800,
            &synth::ipv4(n1, n2, 17, &synth::udp(1, 53, &[i; 12])),
        ));
    }
    (out, outer_only)
}

fn bundled() -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .expect("captures/")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcap" || e == "pcapng"))
        .collect();
    paths.sort();
    let mut frames = Vec::new();
    for path in paths {
        let mut ifaces = IfaceTable::new();
        read_file(&path, &FileOptions::default(), &mut ifaces, |f| {
            assert_eq!(f.linktype, LinkType::ETHERNET, "{}", path.display());
            frames.push((path.display().to_string(), f.data.to_vec()));
        })
        .unwrap_or_else(|e| panic!("{e}"));
    }
    frames
}

#[test]
fn bundled_captures_agree_with_etherparse() {
    let frames = bundled();
    let reach = check_all(
        frames
            .iter()
            .enumerate()
            .map(|(i, (file, f))| (format!("{file}, frame {i}"), &f[..])),
    );
    // The lab recordings are 200 Calico IPIP frames: all compared to the
    // innermost pair.
    assert_eq!(reach, [0, 0, 200]);
}

#[test]
fn synth_frames_agree_with_etherparse() {
    let (frames, outer_only) = synth_frames();
    let reach = check_all(
        frames
            .iter()
            .enumerate()
            .map(|(i, f)| (format!("synth frame {i}"), &f[..])),
    );
    assert_eq!(reach, [0, outer_only, frames.len() - outer_only]);
    assert!(frames.len() - outer_only >= 40 * 15, "{reach:?}");
}
