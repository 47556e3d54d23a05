//! `decode_frame` on any bytes, for every supported link type (and one it
//! does not support), with a random `--max-depth` and extra VXLAN/Geneve
//! ports.
//!
//! Input: [link type pick, max depth, flags, vxlan port (2), geneve port
//! (2), frame...]. Checked: the fast path answers exactly what the general
//! walk does (inside `decode_frame` and as `quick_frame`); decoding into a
//! used slot gives the same as a fresh one; no walk goes deeper than
//! `max_depth`; an IPv4 packet decodes the same behind Ethernet, as RAW and
//! as LINKTYPE_IPV4.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tuntrace::decode::{
    decode_frame, decode_frame_into, quick_frame, walk_frame, DecodeConfig, Decoded, Kind,
};
use tuntrace::linktype::LinkType;

/// Every link type `decode::link` reads, plus one it refuses.
const LINKTYPES: [LinkType; 11] = [
    LinkType::NULL,
    LinkType::ETHERNET,
    LinkType::RAW_12,
    LinkType::RAW_14,
    LinkType::RAW,
    LinkType::LOOP,
    LinkType::LINUX_SLL,
    LinkType::IPV4,
    LinkType::IPV6,
    LinkType::LINUX_SLL2,
    LinkType(147),
];

fuzz_target!(|data: &[u8]| {
    if data.len() < 7 {
        return;
    }
    // Ethernet half the time: most of the real traffic and the fast path.
    let pick = usize::from(data[0]);
    let linktype = if pick < 128 {
        LinkType::ETHERNET
    } else {
        LINKTYPES[pick % LINKTYPES.len()]
    };
    let mut cfg = DecodeConfig {
        max_depth: 1 + data[1] % 64,
        ..DecodeConfig::default()
    };
    let flags = data[2];
    if flags & 1 != 0 {
        cfg.vxlan_ports.push(u16::from_be_bytes([data[3], data[4]]));
    }
    if flags & 2 != 0 {
        cfg.geneve_ports
            .push(u16::from_be_bytes([data[5], data[6]]));
    }
    if flags & 4 != 0 {
        cfg.vxlan_ports.clear();
    }
    let frame = &data[7..];

    let walked = walk_frame(frame, linktype, &cfg);
    let decoded = decode_frame(frame, linktype, &cfg);
    assert_eq!(
        decoded, walked,
        "decode_frame (fast path inside) vs the walk"
    );
    if let Some(q) = quick_frame(frame, linktype, &cfg) {
        assert_eq!(walked.sll2_ifindex, None);
        assert_eq!(q.kind(), walked.kind, "quick_frame vs the walk");
    }
    let mut reused = decode_frame(
        &data[..data.len() / 2],
        LinkType::ETHERNET,
        &DecodeConfig::default(),
    );
    decode_frame_into(frame, linktype, &cfg, &mut reused);
    assert_eq!(reused, decoded, "decoded into a used slot");
    if let Kind::Tunnel(t) = decoded.kind {
        assert!(
            t.depth >= 1 && t.depth <= cfg.max_depth,
            "depth {} of {}",
            t.depth,
            cfg.max_depth
        );
    }

    // The same IPv4 packet behind three link layers.
    if linktype == LinkType::ETHERNET
        && frame.len() > 14
        && frame[12..14] == [8, 0]
        && frame[14] >> 4 == 4
    {
        let ip = &frame[14..];
        let same = |d: Decoded| d.kind == decoded.kind;
        assert!(
            same(decode_frame(ip, LinkType::RAW, &cfg)),
            "Ethernet vs RAW"
        );
        assert!(
            same(decode_frame(ip, LinkType::IPV4, &cfg)),
            "Ethernet vs IPV4"
        );
    }
});
