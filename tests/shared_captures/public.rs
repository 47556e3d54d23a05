//! `tuntrace read` on real public captures of `../shared/captures-public`;
//! expected values come from its MANIFEST.md (checked with tshark).

use crate::common::{self, inner_packets, link, read_json, tunnel, u};
use crate::public as data;

#[test]
#[ignore = "needs ../shared/captures-public"]
fn ipip_zeek_4in4_names_outer_and_inner_pair() {
    let r = read_json(&[&data("zeek-4in4.pcap")], &[], 0);
    assert_eq!(u(&r["packets"]["total"]), 1);
    assert_eq!(u(&r["packets"]["tunnelled"]), 1);
    let l = link(&r, "zeek-4in4");
    let t = tunnel(l, "ipip", "1.2.3.4", "5.6.7.8");
    assert_eq!(t["vni"], serde_json::Value::Null);
    assert_eq!(inner_packets(t, "10.0.0.1", "10.0.0.2"), 1);
}

#[test]
#[ignore = "needs ../shared/captures-public"]
fn ipip_both_directions_are_separate_rows() {
    let r = read_json(
        &[&data("suricata-verify-bug-7725-01-ip_in_ip.pcap")],
        &[],
        0,
    );
    let l = link(&r, "suricata-verify-bug-7725-01-ip_in_ip");
    assert_eq!(l["tunnels"].as_array().unwrap().len(), 2);
    let a = tunnel(l, "ipip", "10.0.0.94", "10.1.0.237");
    let b = tunnel(l, "ipip", "10.1.0.237", "10.0.0.94");
    assert_eq!((u(&a["packets"]), u(&b["packets"])), (3, 3));
    assert_eq!(inner_packets(a, "192.168.0.94", "192.168.0.237"), 3);
    assert_eq!(inner_packets(b, "192.168.0.237", "192.168.0.94"), 3);
}

#[test]
#[ignore = "needs ../shared/captures-public"]
fn ipip_under_vlan_tags_with_four_outer_pairs() {
    let r = read_json(&[&data("deepflow-ipip.pcap")], &[], 0);
    assert_eq!(u(&r["packets"]["tunnelled"]), 5);
    let l = link(&r, "deepflow-ipip");
    assert_eq!(
        u(&tunnel(l, "ipip", "10.162.33.164", "10.162.42.85")["packets"]),
        2
    );
    assert_eq!(
        u(&tunnel(l, "ipip", "10.162.42.93", "10.162.33.164")["packets"]),
        1
    );
    assert_eq!(
        u(&tunnel(l, "ipip", "10.162.33.164", "10.162.42.93")["packets"]),
        1
    );
    let icmp = tunnel(l, "ipip", "10.162.12.112", "10.162.45.139");
    assert_eq!(inner_packets(icmp, "10.162.12.112", "117.169.70.33"), 1);
}

#[test]
#[ignore = "needs ../shared/captures-public"]
fn ip4in6_and_its_negative_case() {
    let r = read_json(&[&data("zeek-4in6.pcap")], &[], 0);
    let t = tunnel(
        link(&r, "zeek-4in6"),
        "ip4in6",
        "2002:4637:d5d3::4637:d5d3",
        "2001:4860:0:2001::68",
    );
    assert_eq!(inner_packets(t, "70.55.213.211", "192.88.99.1"), 1);

    // Inner version nibble 5: a 4in6 tunnel whose inner header must not be decoded.
    let r = read_json(
        &[&data(
            "suricata-verify-bug-7964-01-wrong-version-ipv4-ipv6.pcap",
        )],
        &[],
        0,
    );
    let l = link(&r, "suricata-verify-bug-7964-01-wrong-version-ipv4-ipv6");
    let t = &l["tunnels"][0];
    assert_eq!(t["encap"], "ip4in6");
    assert_eq!(t["inner"].as_array().unwrap().len(), 0);
    assert_eq!(u(&t["no_inner"]), 1);
}

#[test]
#[ignore = "needs ../shared/captures-public"]
fn bulk_4in6_counts_per_direction() {
    let r = read_json(&[&data("netronome-traffic_IPIP.pcap")], &[], 0);
    assert_eq!(u(&r["packets"]["total"]), 20000);
    assert_eq!(u(&r["packets"]["tunnelled"]), 20000);
    let l = link(&r, "netronome-traffic_IPIP");
    let a = "fe80::7e7e:7eff:fe7e:7e7f";
    let b = "3555:5555:6666:6666:7777:7777:8888:888d";
    let ab = u(&tunnel(l, "ip4in6", a, b)["packets"]);
    let ba = u(&tunnel(l, "ip4in6", b, a)["packets"]);
    assert_eq!(ab + ba, 20000);
    assert!(
        [ab, ba].contains(&9985) && [ab, ba].contains(&10015),
        "{ab} {ba}"
    );
}

#[test]
#[ignore = "needs ../shared/captures-public"]
fn ip6in4_and_nested_6in6() {
    let r = read_json(&[&data("zeek-ping6-in-ipv4.pcap")], &[], 0);
    let l = link(&r, "zeek-ping6-in-ipv4");
    let a = u(&tunnel(l, "ip6in4", "10.0.0.1", "10.0.0.2")["packets"]);
    let b = u(&tunnel(l, "ip6in4", "10.0.0.2", "10.0.0.1")["packets"]);
    assert_eq!(a + b, 10);

    let r = read_json(&[&data("zeek-6in6in6.pcap")], &[], 0);
    let t = tunnel(
        link(&r, "zeek-6in6in6"),
        "ip6in6",
        "feed::beef",
        "feed::cafe",
    );
    assert_eq!(inner_packets(t, "dead::beef", "cafe::babe"), 1);
    assert_eq!(u(&t["max_depth"]), 2);
}

#[test]
#[ignore = "needs ../shared/captures-public"]
fn vxlan_on_4789_and_flannel_8472_by_default() {
    for (file, stem) in [
        ("tcpdump-vxlan.pcap", "tcpdump-vxlan"),
        ("tcpdump-vxlan_port_8472.pcap", "tcpdump-vxlan_port_8472"),
    ] {
        let r = read_json(&[&data(file)], &[], 0);
        assert_eq!(u(&r["packets"]["tunnelled"]), 10, "{file}");
        let l = link(&r, stem);
        let mut icmp = 0;
        let mut no_inner = 0;
        for t in l["tunnels"].as_array().unwrap() {
            assert_eq!(t["encap"], "vxlan");
            assert_eq!(u(&t["vni"]), 100);
            icmp += inner_packets(t, "192.168.203.3", "192.168.203.5")
                + inner_packets(t, "192.168.203.5", "192.168.203.3");
            no_inner += u(&t["no_inner"]);
        }
        assert_eq!((icmp, no_inner), (8, 2), "{file}: 8 ICMP inside, 2 ARP");
    }
}

#[test]
#[ignore = "needs ../shared/captures-public"]
fn vxlan_triple_nest_reports_outermost_and_innermost() {
    let r = read_json(&[&data("zeek-vxlan-triple-v2.pcap")], &[], 0);
    let t = tunnel(
        link(&r, "zeek-vxlan-triple-v2"),
        "vxlan",
        "1.1.1.1",
        "1.1.1.9",
    );
    assert_eq!(inner_packets(t, "4.4.4.4", "4.4.4.9"), 1);
    assert_eq!(u(&t["max_depth"]), 3);
}

#[test]
#[ignore = "needs ../shared/captures-public"]
fn geneve_vnis_and_ipv6_payload() {
    let r = read_json(&[&data("tcpdump-geneve.pcap")], &[], 0);
    let l = link(&r, "tcpdump-geneve");
    let total: u64 = l["tunnels"]
        .as_array()
        .unwrap()
        .iter()
        .inspect(|t| assert_eq!(t["encap"], "geneve"))
        .map(|t| u(&t["packets"]))
        .sum();
    assert_eq!(total, 39);
    let vnis: std::collections::BTreeSet<u64> = l["tunnels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| u(&t["vni"]))
        .collect();
    assert_eq!(vnis, [0xa, 0xb].into_iter().collect());

    let r = read_json(&[&data("zeek-geneve-ipv6.pcap")], &[], 0);
    let l = link(&r, "zeek-geneve-ipv6");
    let t = &l["tunnels"][0];
    assert_eq!(t["encap"], "geneve");
    assert_eq!(u(&t["vni"]), 0x123456);
    let pairs = inner_packets(t, "fd00::1", "fd00::2") + inner_packets(t, "fd00::2", "fd00::1");
    assert!(pairs >= 1, "{t:#}");
}

#[test]
#[ignore = "needs ../shared/captures-public"]
fn gre_sample_and_fragmented_gre() {
    let r = read_json(&[&data("zeek-gre-sample.pcap")], &[], 0);
    let l = link(&r, "zeek-gre-sample");
    let a = u(&tunnel(l, "gre", "172.27.1.66", "66.59.109.137")["packets"]);
    let b = u(&tunnel(l, "gre", "66.59.109.137", "172.27.1.66")["packets"]);
    assert_eq!(a + b, 40);

    let r = read_json(&[&data("suricata-verify-security-8550-input.pcap")], &[], 0);
    let t = tunnel(
        link(&r, "suricata-verify-security-8550-input"),
        "gre",
        "10.85.50.1",
        "10.85.50.2",
    );
    assert_eq!(u(&t["packets"]), 2);
    assert_eq!(u(&t["fragments"]), 2);
    // The first fragment holds only 12 bytes of the inner header; no pair is invented.
    assert_eq!(t["inner"].as_array().unwrap().len(), 0);
}

#[test]
#[ignore = "needs ../shared/captures-public"]
fn big_endian_pcap_with_enhanced_gre() {
    let r = read_json(&[&data("tcpdump-pptp.pcap")], &[], 0);
    assert_eq!(u(&r["packets"]["total"]), 23);
    let t = tunnel(link(&r, "tcpdump-pptp"), "gre", "10.1.1.11", "10.1.1.10");
    assert_eq!(u(&t["packets"]), 1);
}

#[test]
#[ignore = "needs ../shared/captures-public"]
fn pcapng_interface_names_and_mixed_link_types() {
    let r = read_json(&[&data("zeek-pcapng-multi-interface.pcapng")], &[], 0);
    assert_eq!(u(&link(&r, "eth0")["packets"]), 2);
    assert_eq!(
        u(&link(&r, "\\Device\\NPF_{5AE6EDB4-EFF9-46B3-A3C2-EE50C688A9E6}")["packets"]),
        4
    );

    let r = read_json(&[&data("pcapplusplus-many_interfaces-1.pcapng")], &[], 0);
    assert_eq!(u(&r["packets"]["total"]), 64);
    assert_eq!(u(&r["packets"]["undecodable"]), 0);
    assert_eq!(u(&link(&r, "en0")["packets"]), 62);
    assert_eq!(u(&link(&r, "lo0")["packets"]), 2);
}

#[test]
#[ignore = "needs ../shared/captures-public"]
fn sll2_ifindex_labels_and_ifname_mapping() {
    let f = data("zeek-linux_dlt_sll2.pcap");
    let r = read_json(&[&f], &[], 0);
    assert_eq!(u(&link(&r, "ifindex 1")["packets"]), 4);
    assert_eq!(u(&link(&r, "ifindex 26")["packets"]), 2);
    let r = read_json(&[&f], &["--ifname", "26=ens33"], 0);
    assert_eq!(u(&link(&r, "ens33")["packets"]), 2);
    assert!(r["links"]
        .as_array()
        .unwrap()
        .iter()
        .all(|l| l["interface"] != "zeek-linux_dlt_sll2"));
}

#[test]
#[ignore = "needs ../shared/captures-public"]
fn raw_ip_link_types_decode_as_plain_ip() {
    for f in [
        "tcpdump-LINKTYPE_RAW_ipv4.pcap",
        "tcpdump-LINKTYPE_IPV4.pcap",
        "tcpdump-LINKTYPE_IPV6.pcap",
        "tcpdump-tcp-handshake-nano.pcap",
    ] {
        let r = read_json(&[&data(f)], &[], 0);
        assert!(u(&r["packets"]["total"]) >= 1, "{f}");
        assert_eq!(u(&r["packets"]["undecodable"]), 0, "{f}");
        assert_eq!(u(&r["packets"]["tunnelled"]), 0, "{f}");
    }
}

#[test]
#[ignore = "needs ../shared/captures-public"]
fn every_public_capture_reads_without_failure() {
    let dir = data("");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        // The 37 files the repository once copied: all but the three
        // LGPL nDPI ones (which `reader` and `decode` read too).
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if (ext != "pcap" && ext != "pcapng") || name.starts_with("ndpi-") {
            continue;
        }
        n += 1;
        let out = common::run(&["read", path.to_str().unwrap(), "--format", "json"]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let _: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    }
    assert_eq!(n, 37);
}
