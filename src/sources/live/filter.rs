//! The default kernel filter: only tunnel traffic reaches user space, so a
//! busy NIC costs little and the ring is kept for the packets that matter.

/// BPF (tcpdump syntax) for every tunnel tuntrace decodes. IPv4 later
/// fragments are kept too (they carry no ports or inner header, but belong
/// to fragment trains that are counted). On Ethernet the same test is repeated
/// behind a VLAN tag (`vlan` does not compile on other link types).
pub fn tunnel_filter(vxlan_ports: &[u16], geneve_ports: &[u16], ethernet: bool) -> String {
    let mut ports: Vec<u16> = vec![4789, 8472, 6081];
    for p in vxlan_ports.iter().chain(geneve_ports) {
        if !ports.contains(p) {
            ports.push(*p);
        }
    }
    let mut terms: Vec<String> = Vec::new();
    for v in ["ip", "ip6"] {
        for proto in [4, 41, 47] {
            terms.push(format!("{v} proto {proto}"));
        }
    }
    terms.extend(ports.iter().map(|p| format!("udp dst port {p}")));
    terms.push("(ip and ip[6:2] & 0x1fff != 0)".into());
    let base = terms.join(" or ");
    if ethernet {
        format!("({base}) or (vlan and ({base}))")
    } else {
        base
    }
}

#[cfg(test)]
mod tests {
    use super::tunnel_filter;

    #[test]
    fn lists_protocols_ports_and_fragments() {
        let f = tunnel_filter(&[4790, 4789], &[6082], false);
        for t in [
            "ip proto 4",
            "ip6 proto 41",
            "ip proto 47",
            "udp dst port 4789",
            "udp dst port 8472",
            "udp dst port 6081",
            "udp dst port 4790",
            "udp dst port 6082",
            "ip[6:2] & 0x1fff != 0",
        ] {
            assert!(f.contains(t), "{t} missing in {f}");
        }
        assert_eq!(f.matches("udp dst port 4789").count(), 1);
        assert!(!f.contains("vlan"));
        assert!(tunnel_filter(&[], &[], true).contains("or (vlan and ("));
    }

    /// The filter, compiled by libpcap, keeps tunnels (also behind a VLAN tag
    /// and as later fragments) and drops everything else.
    #[test]
    fn compiled_filter_keeps_tunnels_only() {
        use crate::synth::{ethernet, fragment_ipv4, ipv4, udp, vlan, vxlan};
        use pcap::{Capture, Linktype};
        use std::net::Ipv4Addr;

        let (a, b) = (
            Ipv4Addr::new(192, 168, 30, 71),
            Ipv4Addr::new(192, 168, 30, 72),
        );
        let inner = ipv4(
            Ipv4Addr::new(10, 0, 0, 1),
            Ipv4Addr::new(10, 0, 0, 2),
            17,
            &udp(1, 2, &[0; 2000]),
        );
        let eth = |ip: &[u8]| ethernet([2; 6], [4; 6], 0x0800, ip);
        let ipip = ipv4(a, b, 4, &inner);
        let later = fragment_ipv4(&ipip, 1500).pop().unwrap();
        let cases: Vec<(&str, Vec<u8>, bool)> = vec![
            ("ipip", eth(&ipip), true),
            ("later fragment", eth(&later), true),
            (
                "vxlan",
                eth(&ipv4(a, b, 17, &udp(40000, 4789, &vxlan(4096, &[0; 64])))),
                true,
            ),
            (
                "extra vxlan port",
                eth(&ipv4(a, b, 17, &udp(40000, 4790, &[0; 16]))),
                true,
            ),
            ("gre", eth(&ipv4(a, b, 47, &[0; 32])), true),
            (
                "vlan ipip",
                ethernet([2; 6], [4; 6], 0x8100, &vlan(7, 0x0800, &ipip)),
                true,
            ),
            (
                "dns",
                eth(&ipv4(a, b, 17, &udp(40000, 53, &[0; 16]))),
                false,
            ),
            ("tcp", eth(&ipv4(a, b, 6, &[0; 40])), false),
            (
                "vlan dns",
                ethernet(
                    [2; 6],
                    [4; 6],
                    0x8100,
                    &vlan(7, 0x0800, &ipv4(a, b, 17, &udp(1, 53, &[0; 8]))),
                ),
                false,
            ),
        ];
        let dead = Capture::dead(Linktype(1)).unwrap();
        let prog = dead
            .compile(&tunnel_filter(&[4790], &[], true), true)
            .unwrap();
        for (name, frame, keep) in &cases {
            assert_eq!(prog.filter(frame), *keep, "{name}");
        }
        // Raw IP (a TUN device): compiles without the VLAN part.
        let raw = Capture::dead(Linktype(12)).unwrap(); // DLT_RAW on Linux
        let prog = raw.compile(&tunnel_filter(&[], &[], false), true).unwrap();
        assert!(prog.filter(&ipip));
        assert!(!prog.filter(&ipv4(a, b, 6, &[0; 40])));
    }
}
