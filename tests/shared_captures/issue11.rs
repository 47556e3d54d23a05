//! Issue 11, "real captures read right": the four files tuntrace got wrong
//! in `../shared/captures-realworld`, and the frames that used to vanish.

use serde_json::Value;

use crate::common::{inner_packets, link, read_json, tunnel, u};
use crate::realworld;

fn read(name: &str) -> Value {
    read_json(&[&realworld(name)], &[], 0)
}

/// A record longer than the file's snaplen is read, not damage, and counted.
#[test]
#[ignore = "needs ../shared/captures-realworld"]
fn records_longer_than_the_snaplen_are_read_and_counted() {
    // 65549- and 65548-byte records in a snaplen-65535 file; a 10014-byte
    // one in a snaplen-9999 file.
    for (file, packets, oversize) in [
        ("tcpdump-pim-packet-assortment.pcap", 245, 2),
        ("zeek-krb-smb2_krb.pcap", 100, 1),
    ] {
        let r = read(file);
        assert_eq!(u(&r["packets"]["total"]), packets, "{file}");
        let s = &r["sources"][0];
        assert_eq!(u(&s["packets"]), packets, "{file}");
        assert_eq!(u(&s["oversize_records"]), oversize, "{file}");
        assert!(
            s.get("error").is_none() && s.get("damaged_at").is_none(),
            "{s}"
        );
    }
}

/// IPv6 BIG TCP frames (payload length 0, no Jumbo option) keep their
/// tunnel; every BIG TCP frame reports its real length.
#[test]
#[ignore = "needs ../shared/captures-realworld"]
fn big_tcp_frames_show_their_tunnel_and_length() {
    let (b, d) = ("2604:1380:4091:ce00::b", "2604:1380:4091:ce00::d");
    let cases = [
        (
            "tcpdump-bigtcp-ipv6-geneve-ipv4",
            "geneve",
            (b, d),
            ("192.168.1.2", "192.168.1.1"),
            80122,
        ),
        (
            "tcpdump-bigtcp-ipv6-vxlan-ipv6",
            "vxlan",
            (d, b),
            ("fd00::1", "fd00::2"),
            80142,
        ),
        (
            "tcpdump-bigtcp-ipv4-geneve-ipv4",
            "geneve",
            ("10.25.132.11", "10.25.132.13"),
            ("192.168.1.2", "192.168.1.1"),
            80102,
        ),
    ];
    for (stem, encap, (os, od), (is, id), len) in cases {
        let r = read(&format!("{stem}.pcap"));
        let t = tunnel(link(&r, stem), encap, os, od);
        assert_eq!(u(&t["vni"]), 5001, "{stem}");
        assert_eq!(inner_packets(t, is, id), 1, "{stem}");
        // tcpdump: "payload length 0 [real length 80122, presumed BIG TCP]".
        assert_eq!(u(&t["max_outer_len"]), len, "{stem}");
    }
}

/// 6in4 over PPPoE is a tunnel; NSH and Cisco MetaData on Ethernet are
/// counted as named stops instead of vanishing.
#[test]
#[ignore = "needs ../shared/captures-realworld"]
fn pppoe_is_read_and_unread_link_protocols_are_counted() {
    let r = read("mercury-ip_encapsulation.pcap");
    assert_eq!(u(&r["packets"]["tunnelled"]), 5);
    let l = link(&r, "mercury-ip_encapsulation");
    let (a, b) = ("70.55.213.211", "192.88.99.1");
    let (x, y) = ("2002:4637:d5d3::4637:d5d3", "2001:4860:0:2001::68");
    assert_eq!(inner_packets(tunnel(l, "ip6in4", a, b), x, y), 2);
    assert_eq!(inner_packets(tunnel(l, "ip6in4", b, a), y, x), 3);

    let r = read("arkime-arkime_synthetic.pcap");
    let stops: Vec<(&str, &str, u64)> = r["decode_stops"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["layer"].as_str().unwrap(),
                s["reason"].as_str().unwrap(),
                u(&s["packets"]),
            )
        })
        .collect();
    assert!(stops.contains(&("link", "nsh", 1)), "{stops:?}");
    assert!(stops.contains(&("link", "cisco-metadata", 1)), "{stops:?}");
    assert_eq!(u(&r["packets"]["undecodable"]), 2);
}
