//! Frame builders: test data, the benchmark's capture, the lab's traffic,
//! and the ICMP echo requests `probe` sends.
//!
//! Each builder returns the bytes of one layer around a payload, so frames
//! read inside out: `ethernet(.., 0x0800, &ipv4(.., 4, &ipv4(..)))`.
//! Checksums that receivers verify (IPv4 header, ICMP) are correct; UDP's is
//! 0, which IPv4 allows. Builders that write a 16-bit length panic on a
//! payload over 64 KiB: callers choose their lengths, they never come from
//! input.

use std::net::{Ipv4Addr, Ipv6Addr};

/// IPv4 header without options.
pub const IPV4_HEADER_LEN: usize = 20;
const ETHERNET_LEN: usize = 14;
const ICMP_ECHO_LEN: usize = 8;

/// Source and destination MACs of [`calico_ipip_frame`] (locally administered).
pub const NODE_A_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0a];
pub const NODE_B_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0b];

/// RFC 1071 Internet checksum.
pub fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        sum += u32::from(*last) << 8;
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Ethernet II. Arguments in reading order (source first); the wire has
/// the destination first.
pub fn ethernet(src_mac: [u8; 6], dst_mac: [u8; 6], ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(ETHERNET_LEN + payload.len());
    push_ethernet(&mut v, src_mac, dst_mac, ethertype);
    v.extend_from_slice(payload);
    v
}

/// One 802.1Q tag body (VID, then the next EtherType); put it after an
/// Ethernet header of type 0x8100 (or 0x88a8 / 0x9100).
pub fn vlan(vid: u16, ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(4 + payload.len());
    v.extend_from_slice(&(vid & 0x0fff).to_be_bytes());
    v.extend_from_slice(&ethertype.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

/// IPv4, TTL 64, DF clear, identification 0, valid header checksum.
pub fn ipv4(src: Ipv4Addr, dst: Ipv4Addr, proto: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(IPV4_HEADER_LEN + payload.len());
    push_ipv4(&mut v, src, dst, proto, payload.len(), false);
    v.extend_from_slice(payload);
    v
}

/// Sets or clears DF in an IPv4 packet and fixes its header checksum.
pub fn set_df(packet: &mut [u8], df: bool) {
    if df {
        packet[6] |= 0x40;
    } else {
        packet[6] &= !0x40;
    }
    fix_ipv4_checksum(packet);
}

/// IPv6, hop limit 64, no flow label.
pub fn ipv6(src: Ipv6Addr, dst: Ipv6Addr, next_header: u8, payload: &[u8]) -> Vec<u8> {
    let len = u16::try_from(payload.len()).expect("IPv6 payload over 65535 bytes");
    let mut v = Vec::with_capacity(40 + payload.len());
    v.extend_from_slice(&[0x60, 0, 0, 0]);
    v.extend_from_slice(&len.to_be_bytes());
    v.extend_from_slice(&[next_header, 64]);
    v.extend_from_slice(&src.octets());
    v.extend_from_slice(&dst.octets());
    v.extend_from_slice(payload);
    v
}

/// UDP with checksum 0 ("none", valid over IPv4).
pub fn udp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let len = u16::try_from(8 + payload.len()).expect("UDP datagram over 65535 bytes");
    let mut v = Vec::with_capacity(8 + payload.len());
    v.extend_from_slice(&sport.to_be_bytes());
    v.extend_from_slice(&dport.to_be_bytes());
    v.extend_from_slice(&len.to_be_bytes());
    v.extend_from_slice(&[0, 0]);
    v.extend_from_slice(payload);
    v
}

/// GRE version 0; the K bit and key word when `key` is given.
pub fn gre(proto: u16, key: Option<u32>, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(8 + payload.len());
    let flags: u16 = if key.is_some() { 0x2000 } else { 0 };
    v.extend_from_slice(&flags.to_be_bytes());
    v.extend_from_slice(&proto.to_be_bytes());
    if let Some(k) = key {
        v.extend_from_slice(&k.to_be_bytes());
    }
    v.extend_from_slice(payload);
    v
}

/// VXLAN with the I flag; `payload` should be an Ethernet frame.
pub fn vxlan(vni: u32, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(8 + payload.len());
    v.extend_from_slice(&[0x08, 0, 0, 0]);
    v.extend_from_slice(&(vni << 8).to_be_bytes());
    v.extend_from_slice(payload);
    v
}

/// Geneve version 0. `options_len` bytes (a multiple of 4, at most 252) of
/// zeroed options, i.e. empty 4-byte option headers.
pub fn geneve(vni: u32, proto: u16, options_len: usize, payload: &[u8]) -> Vec<u8> {
    assert!(
        options_len % 4 == 0 && options_len <= 252,
        "Geneve options are 0..=252 bytes in 4-byte words"
    );
    let mut v = Vec::with_capacity(8 + options_len + payload.len());
    v.extend_from_slice(&[(options_len / 4) as u8, 0]);
    v.extend_from_slice(&proto.to_be_bytes());
    v.extend_from_slice(&(vni << 8).to_be_bytes());
    v.resize(v.len() + options_len, 0);
    v.extend_from_slice(payload);
    v
}

/// ICMP echo request with a valid checksum.
pub fn icmp_echo(id: u16, seq: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(ICMP_ECHO_LEN + payload.len());
    v.extend_from_slice(&[8, 0, 0, 0]);
    v.extend_from_slice(&id.to_be_bytes());
    v.extend_from_slice(&seq.to_be_bytes());
    v.extend_from_slice(payload);
    let c = checksum(&v);
    v[2..4].copy_from_slice(&c.to_be_bytes());
    v
}

/// A Calico IPIP frame between two nodes: Ethernet, outer IPv4 protocol 4,
/// inner IPv4 ICMP echo with `payload_len` zero bytes. DF is set on both
/// headers, as Linux ping and the ipip device (pmtudisc) leave it.
pub fn calico_ipip_frame(
    outer_src: Ipv4Addr,
    outer_dst: Ipv4Addr,
    inner_src: Ipv4Addr,
    inner_dst: Ipv4Addr,
    payload_len: usize,
) -> Vec<u8> {
    let mut v = Vec::with_capacity(calico_ipip_len(payload_len));
    write_calico_ipip_frame(
        &mut v,
        outer_src,
        outer_dst,
        inner_src,
        inner_dst,
        payload_len,
    );
    v
}

/// Bytes [`calico_ipip_frame`] produces for a payload length.
pub fn calico_ipip_len(payload_len: usize) -> usize {
    ETHERNET_LEN + 2 * IPV4_HEADER_LEN + ICMP_ECHO_LEN + payload_len
}

/// Appends the frame of [`calico_ipip_frame`] to `buf` with no allocation
/// beyond `buf`'s own growth: the benchmark generator's hot path.
pub fn write_calico_ipip_frame(
    buf: &mut Vec<u8>,
    outer_src: Ipv4Addr,
    outer_dst: Ipv4Addr,
    inner_src: Ipv4Addr,
    inner_dst: Ipv4Addr,
    payload_len: usize,
) {
    let icmp_len = ICMP_ECHO_LEN + payload_len;
    buf.reserve(calico_ipip_len(payload_len));
    push_ethernet(buf, NODE_A_MAC, NODE_B_MAC, 0x0800);
    push_ipv4(
        buf,
        outer_src,
        outer_dst,
        4,
        IPV4_HEADER_LEN + icmp_len,
        true,
    );
    push_ipv4(buf, inner_src, inner_dst, 1, icmp_len, true);
    // Echo request, id 1, seq 1, zero payload: the checksum covers only
    // the header words (8 0 | 0 1 | 0 1), so it is a constant.
    let csum = checksum(&[8, 0, 0, 0, 0, 1, 0, 1]);
    let [c0, c1] = csum.to_be_bytes();
    buf.extend_from_slice(&[8, 0, c0, c1, 0, 1, 0, 1]);
    buf.resize(buf.len() + payload_len, 0);
}

/// Splits an IPv4 packet into fragments of at most `mtu` bytes. The header
/// (with any options) is copied into every fragment; offsets continue from
/// the packet's own, and the last fragment keeps the packet's MF bit.
/// A packet that fits is returned whole.
pub fn fragment_ipv4(packet: &[u8], mtu: usize) -> Vec<Vec<u8>> {
    let header_len = usize::from(packet[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([packet[2], packet[3]])).min(packet.len());
    if total <= mtu {
        return vec![packet[..total].to_vec()];
    }
    assert!(
        mtu >= header_len + 8,
        "MTU too small for one 8-byte fragment"
    );
    let chunk = (mtu - header_len) / 8 * 8;
    let flags_frag = u16::from_be_bytes([packet[6], packet[7]]);
    let base_offset = flags_frag & 0x1fff;
    let last_mf = flags_frag & 0x2000;
    let payload = &packet[header_len..total];
    let mut out = Vec::new();
    for (i, part) in payload.chunks(chunk).enumerate() {
        let mut f = Vec::with_capacity(header_len + part.len());
        f.extend_from_slice(&packet[..header_len]);
        f.extend_from_slice(part);
        let len = (header_len + part.len()) as u16;
        f[2..4].copy_from_slice(&len.to_be_bytes());
        let is_last = (i + 1) * chunk >= payload.len();
        let mf = if is_last { last_mf } else { 0x2000 };
        let offset = base_offset + (i * chunk / 8) as u16;
        let ff = (flags_frag & 0x4000) | mf | offset;
        f[6..8].copy_from_slice(&ff.to_be_bytes());
        fix_ipv4_checksum(&mut f);
        out.push(f);
    }
    out
}

/// LINUX_SLL header (packet type "to us", ARPHRD_ETHER, a 6-byte address).
pub fn sll(proto: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(16 + payload.len());
    v.extend_from_slice(&[0, 0, 0, 1, 0, 6]);
    v.extend_from_slice(&NODE_A_MAC);
    v.extend_from_slice(&[0, 0]);
    v.extend_from_slice(&proto.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

/// LINUX_SLL2 header carrying the capturing interface's index.
pub fn sll2(ifindex: u32, proto: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(20 + payload.len());
    v.extend_from_slice(&proto.to_be_bytes());
    v.extend_from_slice(&[0, 0]);
    v.extend_from_slice(&ifindex.to_be_bytes());
    v.extend_from_slice(&[0, 1, 0, 6]);
    v.extend_from_slice(&NODE_A_MAC);
    v.extend_from_slice(&[0, 0]);
    v.extend_from_slice(payload);
    v
}

/// NULL / LOOP header: the address family (2 = IPv4; 24, 28 or 30 = IPv6)
/// in the writer's byte order. LOOP is always big-endian.
pub fn null_loopback(family: u32, big_endian: bool, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(4 + payload.len());
    if big_endian {
        v.extend_from_slice(&family.to_be_bytes());
    } else {
        v.extend_from_slice(&family.to_le_bytes());
    }
    v.extend_from_slice(payload);
    v
}

fn push_ethernet(v: &mut Vec<u8>, src: [u8; 6], dst: [u8; 6], ethertype: u16) {
    v.extend_from_slice(&dst);
    v.extend_from_slice(&src);
    v.extend_from_slice(&ethertype.to_be_bytes());
}

fn push_ipv4(
    v: &mut Vec<u8>,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    proto: u8,
    payload_len: usize,
    df: bool,
) {
    let total = u16::try_from(IPV4_HEADER_LEN + payload_len).expect("IPv4 packet over 65535 bytes");
    let [t0, t1] = total.to_be_bytes();
    let flags = if df { 0x40 } else { 0 };
    let mut h = [
        0x45, 0, t0, t1, 0, 0, flags, 0, 64, proto, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    h[12..16].copy_from_slice(&src.octets());
    h[16..20].copy_from_slice(&dst.octets());
    let c = checksum(&h);
    h[10..12].copy_from_slice(&c.to_be_bytes());
    v.extend_from_slice(&h);
}

fn fix_ipv4_checksum(packet: &mut [u8]) {
    let header_len = usize::from(packet[0] & 0x0f) * 4;
    packet[10..12].copy_from_slice(&[0, 0]);
    let c = checksum(&packet[..header_len]);
    packet[10..12].copy_from_slice(&c.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::{Ipv4HeaderSlice, Ipv6HeaderSlice, SlicedPacket};

    const A: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 10);
    const B: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 11);
    const PA: Ipv4Addr = Ipv4Addr::new(10, 244, 1, 5);
    const PB: Ipv4Addr = Ipv4Addr::new(10, 244, 2, 7);

    #[test]
    fn checksum_known_value() {
        // RFC 1071 worked example.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(checksum(&data), !0xddf2);
        // A header with its checksum in place sums to zero.
        let p = ipv4(A, B, 17, &[1, 2, 3]);
        assert_eq!(checksum(&p[..20]), 0);
    }

    #[test]
    fn calico_frame_parses_with_etherparse() {
        let f = calico_ipip_frame(A, B, PA, PB, 56);
        assert_eq!(f.len(), calico_ipip_len(56));
        let outer = SlicedPacket::from_ethernet(&f).unwrap();
        let Some(etherparse::NetSlice::Ipv4(ip)) = outer.net else {
            panic!("no IPv4")
        };
        let h = ip.header();
        assert_eq!((h.source_addr(), h.destination_addr()), (A, B));
        assert_eq!(h.protocol(), etherparse::IpNumber::IPV4);
        assert!(h.dont_fragment());
        assert_eq!(checksum(h.slice()), 0);
        let inner = Ipv4HeaderSlice::from_slice(&f[34..]).unwrap();
        assert_eq!((inner.source_addr(), inner.destination_addr()), (PA, PB));
        assert_eq!(inner.total_len(), 20 + 8 + 56);
        assert_eq!(checksum(&f[54..]), 0, "ICMP checksum");
    }

    #[test]
    fn write_appends_without_disturbing() {
        let mut buf = vec![0xaa];
        write_calico_ipip_frame(&mut buf, A, B, PA, PB, 10);
        write_calico_ipip_frame(&mut buf, B, A, PB, PA, 0);
        assert_eq!(buf[0], 0xaa);
        assert_eq!(
            &buf[1..],
            [
                calico_ipip_frame(A, B, PA, PB, 10),
                calico_ipip_frame(B, A, PB, PA, 0)
            ]
            .concat()
        );
    }

    #[test]
    fn icmp_checksum_valid() {
        let m = icmp_echo(7, 9, b"hello");
        assert_eq!(checksum(&m), 0);
    }

    #[test]
    fn fragments_reassemble() {
        let payload: Vec<u8> = (0..100u8).collect();
        let p = ipv4(A, B, 47, &payload);
        let frags = fragment_ipv4(&p, 60);
        assert_eq!(frags.len(), 3);
        let mut joined = Vec::new();
        for (i, f) in frags.iter().enumerate() {
            let h = Ipv4HeaderSlice::from_slice(f).unwrap();
            assert_eq!(checksum(&f[..20]), 0);
            assert_eq!(usize::from(h.fragments_offset().value()) * 8, joined.len());
            assert_eq!(h.more_fragments(), i < 2);
            assert!(f.len() <= 60);
            joined.extend_from_slice(&f[20..]);
        }
        assert_eq!(joined, payload);
        assert_eq!(fragment_ipv4(&p, 1500), vec![p.clone()]);
    }

    #[test]
    fn ipv6_and_tunnels_shapes() {
        let s: Ipv6Addr = "fd00::1".parse().unwrap();
        let d: Ipv6Addr = "fd00::2".parse().unwrap();
        let p = ipv6(s, d, 17, &udp(1, 2, &[0; 4]));
        let h = Ipv6HeaderSlice::from_slice(&p).unwrap();
        assert_eq!(
            (h.source_addr(), h.destination_addr(), h.payload_length()),
            (s, d, 12)
        );
        assert_eq!(gre(0x0800, Some(5), &[]).len(), 8);
        assert_eq!(vxlan(1, &[]), [8, 0, 0, 0, 0, 0, 1, 0]);
        assert_eq!(geneve(1, 0x6558, 8, &[]).len(), 16);
        assert_eq!(sll(0x0800, &[]).len(), 16);
        assert_eq!(sll2(3, 0x0800, &[])[4..8], [0, 0, 0, 3]);
        assert_eq!(null_loopback(2, false, &[]), [2, 0, 0, 0]);
        assert_eq!(vlan(0x1fff, 0x0800, &[]), [0x0f, 0xff, 8, 0]);
    }

    #[test]
    fn set_df_keeps_checksum_valid() {
        let mut p = ipv4(A, B, 4, &[]);
        set_df(&mut p, true);
        assert_eq!(p[6] & 0x40, 0x40);
        assert_eq!(checksum(&p), 0);
    }
}
