//! A small fixed host for the Calico targets: the interfaces a node has
//! (loopback, Calico's own devices, two NICs with global addresses).

use std::collections::BTreeMap;

use tuntrace::calico::hostfile::HostFile;
use tuntrace::calico::{Host, HostIface};

/// The host and the route answers (`can-reach=`) it carries.
pub fn fixed_host() -> HostFile {
    let iface = |name: &str, index: u32, addrs: &[&str]| HostIface {
        name: name.into(),
        index,
        addrs: addrs
            .iter()
            .map(|a| a.parse().expect("an ip/len"))
            .collect(),
    };
    let ifaces = vec![
        iface("lo", 1, &["127.0.0.1/8", "::1/128"]),
        iface(
            "ens33",
            2,
            &["192.168.30.71/24", "fd00:30::71/64", "fe80::1/64"],
        ),
        iface("docker0", 3, &["172.17.0.1/16"]),
        iface("tunl0", 4, &["10.244.1.0/32"]),
        iface("cali1234abcd", 5, &["fe80::ecee:eeff:feee:eeee/64"]),
        iface("eth1", 6, &["10.0.0.5/8", "2001:db8::5/64"]),
        iface("vxlan.calico", 7, &[]),
    ];
    let mut can_reach = BTreeMap::new();
    can_reach.insert("8.8.8.8".to_string(), "192.168.30.71".parse().expect("ip"));
    can_reach.insert(
        "2001:4860::8888".to_string(),
        "2001:db8::5".parse().expect("ip"),
    );
    HostFile {
        host: Host { ifaces },
        can_reach,
        default_gateway: Some("192.168.30.1".parse().expect("ip")),
        internal_ips: vec![
            "10.0.0.5".parse().expect("ip"),
            "fd00:30::71".parse().expect("ip"),
        ],
    }
}
