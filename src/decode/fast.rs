//! The two commonest IPv4 packets, decoded without the general walk: Calico
//! IPIP carrying a plain IPv4 packet, and TCP between nodes. Together they
//! are most of a Kubernetes node's traffic, and the walk's generality (any
//! nesting, any encapsulation) costs several times the work of reading two
//! headers.
//!
//! Each answer here must equal the walk's, byte for byte; anything else
//! (fragments, nesting, errors, other protocols) returns `false` and the
//! walk decides. `tests::fast_path_agrees_with_the_walk` checks the two
//! against each other on every test capture and on mutated frames.

use std::net::IpAddr;

use super::{ipv4, DecodeConfig, Encap, Fragment, Inner, Kind, Plain, Tunnel};

const TCP: u8 = 6;
const UDP: u8 = 17;
const IPIP: u8 = 4;
const IPV6_IN_IP: u8 = 41;
const GRE: u8 = 47;

/// Decodes `b` (an IPv4 network layer) into `out` when it is one of the
/// common cases; returns false, leaving `out` alone, otherwise.
#[inline]
pub(super) fn ipv4(b: &[u8], cfg: &DecodeConfig, out: &mut Kind) -> bool {
    let Ok(outer) = ipv4::Packet::new_checked(b) else {
        return false;
    };
    match outer.protocol() {
        // Never a tunnel, whatever the fragment (only ICMP gets a second look).
        TCP => {
            *out = Kind::Plain(Plain {
                src: IpAddr::V4(outer.src_addr()),
                dst: IpAddr::V4(outer.dst_addr()),
                proto: TCP,
                too_big: None,
            });
            true
        }
        IPIP if outer.fragment() == Fragment::Whole => {
            let Ok(inner) = ipv4::Packet::new_checked(outer.payload()) else {
                return false;
            };
            // The walk stops at a later fragment before looking further.
            if inner.frag_offset() == 0 && !ends_walk(&inner, cfg) {
                return false;
            }
            *out = Kind::Tunnel(Tunnel {
                encap: Encap::Ipip,
                outer_src: IpAddr::V4(outer.src_addr()),
                outer_dst: IpAddr::V4(outer.dst_addr()),
                vni: None,
                fragment: Fragment::Whole,
                outer_ip_len: u32::from(outer.total_len()),
                outer_df: outer.dont_fragment(),
                inner: Some(Inner {
                    src: IpAddr::V4(inner.src_addr()),
                    dst: IpAddr::V4(inner.dst_addr()),
                    proto: inner.protocol(),
                }),
                depth: 1,
                stop: None,
            });
            true
        }
        _ => false,
    }
}

/// Whether the walk would find no further tunnel in this inner packet.
#[inline(always)]
fn ends_walk(inner: &ipv4::Packet<'_>, cfg: &DecodeConfig) -> bool {
    match inner.protocol() {
        IPIP | IPV6_IN_IP | GRE => false,
        UDP => {
            // A datagram too short for its header is no tunnel to the walk;
            // a configured VXLAN/Geneve port needs the walk's closer look.
            let p = inner.payload();
            p.len() < 8 || {
                let port = u16::from_be_bytes([p[2], p[3]]);
                !cfg.vxlan_ports.contains(&port) && !cfg.geneve_ports.contains(&port)
            }
        }
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;
    use std::path::Path;

    use super::super::{decode_frame, link, walk, Decoded};
    use super::*;
    use crate::iface::IfaceTable;
    use crate::linktype::LinkType;
    use crate::sources::file::{read_file, FileOptions};
    use crate::synth;

    /// The walk alone, as `decode_frame` was before this fast path.
    fn walk_only(data: &[u8], linktype: LinkType, cfg: &DecodeConfig) -> Decoded {
        let mut out = Decoded::default();
        match link::parse(data, linktype) {
            Ok(l) => {
                out.sll2_ifindex = l.ifindex;
                walk::walk(l.network, cfg, &mut out.kind);
            }
            Err(e) => out.kind = Kind::Undecodable(e),
        }
        out
    }

    fn agree(data: &[u8], linktype: LinkType, cfg: &DecodeConfig) -> bool {
        decode_frame(data, linktype, cfg) == walk_only(data, linktype, cfg)
    }

    #[test]
    fn fast_path_agrees_with_the_walk_on_every_test_capture() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut frames = 0u64;
        for dir in ["tests/data", "captures"] {
            let mut files: Vec<_> = std::fs::read_dir(root.join(dir))
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|e| e == "pcap" || e == "pcapng"))
                .collect();
            files.sort();
            for path in files {
                for cfg in [
                    DecodeConfig::default(),
                    DecodeConfig {
                        vxlan_ports: vec![4789, 8472, 4790],
                        geneve_ports: vec![6081],
                        max_depth: 1,
                    },
                ] {
                    let mut t = IfaceTable::new();
                    let _ = read_file(&path, &FileOptions::default(), &mut t, |f| {
                        frames += 1;
                        assert!(agree(f.data, f.linktype, &cfg), "{}", path.display());
                    });
                }
            }
        }
        assert!(frames > 1000, "only {frames} frames checked");
    }

    #[test]
    fn fast_path_agrees_with_the_walk_on_mutated_frames() {
        let (n1, n2) = (
            Ipv4Addr::new(192, 168, 1, 10),
            Ipv4Addr::new(192, 168, 1, 11),
        );
        let (p1, p2) = (Ipv4Addr::new(10, 244, 1, 5), Ipv4Addr::new(10, 244, 2, 7));
        let udp = synth::ipv4(
            p1,
            p2,
            UDP,
            &synth::udp(5353, 4789, &[0x08, 0, 0, 0, 0, 0, 1, 0]),
        );
        let seeds = [
            synth::calico_ipip_frame(n1, n2, p1, p2, 56),
            synth::ethernet([2; 6], [4; 6], 0x0800, &synth::ipv4(n1, n2, IPIP, &udp)),
            synth::ethernet([2; 6], [4; 6], 0x0800, &synth::ipv4(n1, n2, TCP, &[0; 20])),
        ];
        let cfg = DecodeConfig::default();
        let mut checked = 0;
        for seed in &seeds {
            for cut in 0..=seed.len() {
                assert!(
                    agree(&seed[..cut], LinkType::ETHERNET, &cfg),
                    "cut at {cut}"
                );
            }
            // Every byte of the link, outer and inner headers, and a bit more.
            for at in 0..seed.len().min(14 + 20 + 20 + 8) {
                for v in [
                    0x00, 0x01, 0x04, 0x06, 0x11, 0x20, 0x29, 0x2f, 0x40, 0x45, 0x46, 0x4f, 0x80,
                    0xff,
                ] {
                    let mut f = seed.clone();
                    f[at] = v;
                    assert!(agree(&f, LinkType::ETHERNET, &cfg), "byte {at} = {v:#x}");
                    checked += 1;
                }
            }
        }
        assert!(checked > 1000);
    }
}
