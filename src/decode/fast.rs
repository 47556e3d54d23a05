//! The two commonest IPv4 packets, decoded without the general walk: Calico
//! IPIP carrying a plain IPv4 packet, and TCP between nodes. Together they
//! are most of a Kubernetes node's traffic, and the walk's generality (any
//! nesting, any encapsulation) costs several times the work of reading two
//! headers.
//!
//! Each answer here must equal the walk's, byte for byte; anything else
//! (fragments, nesting, errors, other protocols) returns `None` and the
//! walk decides. [`Quick`] is also what file reading counts directly,
//! without building the walk's richer [`Kind`]. `tests::fast_path_agrees_with_the_walk` checks the two
//! against each other on every test capture and on mutated frames.

use std::net::{IpAddr, Ipv4Addr};

use super::{be16, be32, ipv4, link, DecodeConfig, Encap, Fragment, Inner, Kind, Plain, Tunnel};
use crate::linktype::LinkType;

use super::ip::Protocol;

// Plain numbers, so the matches below compile exactly as they always did.
const TCP: u8 = Protocol::Tcp.number();
const UDP: u8 = Protocol::Udp.number();
const IPIP: u8 = Protocol::Ipv4.number();
const IPV6_IN_IP: u8 = Protocol::Ipv6.number();
const GRE: u8 = Protocol::Gre.number();

/// A frame the fast path decoded, in the few words that counting needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quick {
    /// IPv4 in IPv4, not fragmented, carrying an IPv4 packet that is no
    /// further tunnel. Addresses as big-endian numbers.
    Ipip {
        outer_src: u32,
        outer_dst: u32,
        inner_src: u32,
        inner_dst: u32,
        inner_proto: u8,
        /// The outer total length field.
        outer_len: u16,
        outer_df: bool,
    },
    /// IPv4 TCP (never a tunnel).
    Tcp { src: u32, dst: u32 },
}

impl Quick {
    /// The same frame as the walk describes it.
    pub fn kind(&self) -> Kind {
        let v4 = |a: u32| IpAddr::V4(Ipv4Addr::from(a));
        match *self {
            Quick::Ipip {
                outer_src,
                outer_dst,
                inner_src,
                inner_dst,
                inner_proto,
                outer_len,
                outer_df,
            } => Kind::Tunnel(Tunnel {
                encap: Encap::Ipip,
                outer_src: v4(outer_src),
                outer_dst: v4(outer_dst),
                vni: None,
                fragment: Fragment::Whole,
                outer_ip_len: u32::from(outer_len),
                outer_df,
                inner: Some(Inner {
                    src: v4(inner_src),
                    dst: v4(inner_dst),
                    proto: inner_proto,
                }),
                depth: 1,
                stop: None,
            }),
            Quick::Tcp { src, dst } => Kind::Plain(Plain {
                src: v4(src),
                dst: v4(dst),
                proto: TCP,
                too_big: None,
            }),
        }
    }
}

/// The fast path on a whole frame: Ethernet without a VLAN tag, carrying
/// IPv4. `None` for anything else, which `decode_frame` handles.
#[inline(always)]
pub fn quick_frame(data: &[u8], linktype: LinkType, cfg: &DecodeConfig) -> Option<Quick> {
    if linktype != LinkType::ETHERNET || data.len() < link::ETHERNET_LEN || data[12..14] != [8, 0] {
        return None;
    }
    quick_ipv4(&data[link::ETHERNET_LEN..], cfg)
}

/// The fast path on an IPv4 network layer.
///
/// The checks of [`ipv4::Packet::new_checked`] and the walk, written on
/// fixed 20-byte header arrays (no bounds check per field) and inlined into
/// the callers' loops: file reading spends a fifth of its instructions here.
#[inline(always)]
pub(super) fn quick_ipv4(b: &[u8], cfg: &DecodeConfig) -> Option<Quick> {
    let (outer, hl) = header(b)?;
    let total = usize::from(be16(outer, 2));
    let flags = be16(outer, 6);
    match outer[9] {
        // Never a tunnel, whatever the fragment (only ICMP gets a second look).
        TCP => Some(Quick::Tcp {
            src: be32(outer, 12),
            dst: be32(outer, 16),
        }),
        // Whole (no offset, no MF). Total length 0 (an offload super-frame):
        // the walk counts the captured length, which `Quick` does not carry.
        IPIP if flags & 0x3fff == 0 && total != 0 => {
            let payload = &b[hl..total.min(b.len())];
            let (inner, ihl) = header(payload)?;
            // The walk stops at a later fragment before looking further.
            if be16(inner, 6) & 0x1fff == 0 && !ends_walk(inner, ihl, payload, cfg) {
                return None;
            }
            Some(Quick::Ipip {
                outer_src: be32(outer, 12),
                outer_dst: be32(outer, 16),
                inner_src: be32(inner, 12),
                inner_dst: be32(inner, 16),
                inner_proto: inner[9],
                outer_len: total as u16,
                outer_df: flags & 0x4000 != 0,
            })
        }
        _ => None,
    }
}

/// The fixed part of an IPv4 header and the header's length, when
/// [`ipv4::Packet::new_checked`] accepts `b`.
#[inline(always)]
fn header(b: &[u8]) -> Option<(&[u8; ipv4::HEADER_LEN], usize)> {
    let h: &[u8; ipv4::HEADER_LEN] = b.get(..ipv4::HEADER_LEN)?.try_into().ok()?;
    // Version 4 and an IHL of at least 5 words, in one comparison.
    if !(0x45..=0x4f).contains(&h[0]) {
        return None;
    }
    let hl = usize::from(h[0] & 0x0f) * 4;
    let total = usize::from(be16(h, 2));
    if b.len() < hl || (total != 0 && total < hl) {
        return None;
    }
    Some((h, hl))
}

/// Whether the walk would find no further tunnel in this inner packet
/// (`inner` the fixed header of `packet`, `ihl` its length).
#[inline(always)]
fn ends_walk(
    inner: &[u8; ipv4::HEADER_LEN],
    ihl: usize,
    packet: &[u8],
    cfg: &DecodeConfig,
) -> bool {
    match inner[9] {
        IPIP | IPV6_IN_IP | GRE => false,
        UDP => {
            // A datagram too short for its header is no tunnel to the walk;
            // a configured VXLAN/Geneve port needs the walk's closer look.
            let total = usize::from(be16(inner, 2));
            let end = if total == 0 {
                packet.len()
            } else {
                total.min(packet.len())
            };
            let p = &packet[ihl..end];
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
    use super::super::{decode_frame, link, walk, Decoded};
    use super::*;
    use crate::iface::IfaceTable;
    use crate::sources::file::{bundled_captures, read_file, FileOptions};
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

    /// `decode_frame` (fast path inside) and `quick_frame` both agree with
    /// the walk alone.
    fn agree(data: &[u8], linktype: LinkType, cfg: &DecodeConfig) -> bool {
        let walked = walk_only(data, linktype, cfg);
        let quick_agrees = match quick_frame(data, linktype, cfg) {
            Some(q) => walked.sll2_ifindex.is_none() && q.kind() == walked.kind,
            None => true,
        };
        quick_agrees && decode_frame(data, linktype, cfg) == walked
    }

    #[test]
    fn fast_path_agrees_with_the_walk_on_every_test_capture() {
        let mut frames = 0u64;
        for path in bundled_captures() {
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
        // The captures the crate's own writers make: every encapsulation,
        // fragments, offload lengths, nests.
        for (i, f) in written_frames().iter().enumerate() {
            frames += 1;
            assert!(
                agree(f, LinkType::ETHERNET, &DecodeConfig::default()),
                "frame {i}"
            );
        }
        assert!(frames > 1000, "only {frames} frames checked");
    }

    /// Frames as `synth` writes them into the test and bench captures, in
    /// every shape the fast path sees or must hand on to the walk.
    fn written_frames() -> Vec<Vec<u8>> {
        let eth = |p: &[u8]| synth::ethernet([2; 6], [4; 6], 0x0800, p);
        let mut out = Vec::new();
        for i in 0..120u8 {
            let (n1, n2) = (Ipv4Addr::new(192, 168, 1, i), Ipv4Addr::new(192, 168, 2, i));
            let (p1, p2) = (Ipv4Addr::new(10, 244, i, 5), Ipv4Addr::new(10, 245, i, 7));
            let len = usize::from(i) * 11;
            out.push(synth::calico_ipip_frame(n1, n2, p1, p2, len));
            out.push(eth(&synth::ipv4(n1, n2, TCP, &vec![i; len])));
            let inner = synth::ipv4(p1, p2, UDP, &synth::udp(1000, 53, &vec![i; len]));
            out.push(eth(&synth::ipv4(n1, n2, IPIP, &inner)));
            let vx = synth::udp(4000, 4789, &synth::vxlan(u32::from(i), &eth(&inner)));
            out.push(eth(&synth::ipv4(
                p1,
                p2,
                IPIP,
                &synth::ipv4(n1, n2, UDP, &vx),
            )));
            let gre = synth::gre(0x0800, Some(u32::from(i)), &inner);
            out.push(eth(&synth::ipv4(n1, n2, GRE, &gre)));
            let mut zero_len = synth::ipv4(n1, n2, IPIP, &inner);
            zero_len[2..4].copy_from_slice(&[0, 0]);
            out.push(eth(&zero_len));
            for frag in synth::fragment_ipv4(&synth::ipv4(n1, n2, IPIP, &inner), 60) {
                out.push(eth(&frag));
            }
        }
        out
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
