//! Calico IP autodetection against the spec (`shared/docs/calico-autodetection.md`):
//! every row of the §9 worked-examples table, extra grammar and matching
//! cases, and (as root) the rtnetlink readers in a throwaway network
//! namespace.

use std::net::IpAddr;

use ipnet::IpNet;
use tuntrace::calico::autodetect::{
    detect, likely_methods, parse_method, Failure, Family, Host, HostIface, Method, MethodError,
    Pick, Resolver,
};

fn iface(index: u32, name: &str, addrs: &[&str]) -> HostIface {
    HostIface {
        name: name.to_string(),
        index,
        addrs: addrs.iter().map(|a| a.parse().unwrap()).collect(),
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// Host A (§9): a Vagrant-style node with Docker and IPIP.
fn host_a() -> Host {
    Host {
        ifaces: vec![
            iface(1, "lo", &["127.0.0.1/8"]),
            iface(2, "eth0", &["10.0.2.15/24"]),
            iface(3, "eth1", &["192.168.56.11/24"]),
            iface(4, "docker0", &["172.17.0.1/16"]),
            iface(5, "tunl0", &["10.244.12.192/32"]),
        ],
    }
}

/// Host B (§9): VIP on the main NIC, a VLAN, kube-proxy IPVS, nodelocaldns.
fn host_b() -> Host {
    Host {
        ifaces: vec![
            iface(1, "lo", &["127.0.0.1/8"]),
            iface(2, "ens33", &["192.168.30.10/24", "192.168.30.100/32"]),
            iface(3, "ens34", &["fe80::20c:29ff:fe12:3456/64"]),
            iface(4, "ens33.26", &["192.168.26.10/24"]),
            iface(5, "kube-ipvs0", &["10.96.0.1/32", "10.96.0.10/32"]),
            iface(6, "nodelocaldns", &["169.254.20.10/32"]),
        ],
    }
}

/// Host C (§9): only a link-local address.
fn host_c() -> Host {
    Host {
        ifaces: vec![iface(1, "eth0", &["169.254.5.5/16"])],
    }
}

/// The route lookups of §9: Host A reaches 8.8.8.8 via its default route on
/// eth0 and 192.168.56.1 on eth1; Host B reaches 192.168.30.1 on ens33.
struct FakeRoutes(Vec<(&'static str, &'static str)>);

impl Resolver for FakeRoutes {
    fn route_source(&self, dest: &str, family: Family) -> Result<IpAddr, String> {
        self.0
            .iter()
            .find(|(d, _)| *d == dest)
            .map(|(_, src)| ip(src))
            .filter(|src| family.matches(*src))
            .ok_or_else(|| format!("dial udp{}: no route to {dest}", family.version()))
    }
}

fn routes_a() -> FakeRoutes {
    FakeRoutes(vec![
        ("8.8.8.8", "10.0.2.15"),
        ("192.168.56.1", "192.168.56.11"),
        ("127.0.0.1", "127.0.0.1"),
        ("10.244.12.1", "10.244.12.192"),
        ("10.9.9.9", "10.9.9.1"),
    ])
}

fn routes_b() -> FakeRoutes {
    FakeRoutes(vec![("192.168.30.1", "192.168.30.10")])
}

fn run(
    host: &Host,
    method: &str,
    family: Family,
    res: &dyn Resolver,
    internal: &[IpAddr],
) -> Result<Pick, Failure> {
    detect(method, host, family, res, internal)
        .unwrap_or_else(|e| panic!("{method:?} should parse, got {e}"))
}

#[track_caller]
fn expect_pick(
    host: &Host,
    method: &str,
    res: &dyn Resolver,
    internal: &[IpAddr],
    want_iface: &str,
    want_addr: &str,
) {
    expect_pick_family(
        host,
        method,
        Family::V4,
        res,
        internal,
        want_iface,
        want_addr,
    );
}

#[track_caller]
fn expect_pick_family(
    host: &Host,
    method: &str,
    family: Family,
    res: &dyn Resolver,
    internal: &[IpAddr],
    want_iface: &str,
    want_addr: &str,
) {
    match run(host, method, family, res, internal) {
        Ok(p) => {
            assert_eq!(
                (p.interface.as_str(), p.address),
                (want_iface, want_addr.parse::<IpNet>().unwrap()),
                "method {method:?}: {p:?}"
            );
            assert_eq!(p.method, method);
            assert!(!p.reason.is_empty());
        }
        Err(f) => panic!("method {method:?}: expected {want_iface} {want_addr}, failed: {f}"),
    }
}

#[track_caller]
fn expect_failure(
    host: &Host,
    method: &str,
    family: Family,
    res: &dyn Resolver,
    internal: &[IpAddr],
) -> Failure {
    match run(host, method, family, res, internal) {
        Ok(p) => panic!("method {method:?}: expected a failure, picked {p:?}"),
        Err(f) => {
            assert!(!f.to_string().is_empty());
            f
        }
    }
}

#[track_caller]
fn expect_invalid(method: &str) {
    assert_eq!(
        parse_method(method),
        Err(MethodError::Invalid(method.to_string())),
        "{method:?} must make calico-node terminate"
    );
    assert!(detect(method, &host_a(), Family::V4, &routes_a(), &[]).is_err());
}

// ---- §9 table, Host A ----

#[test]
fn a_first_found_and_unset() {
    let h = host_a();
    let r = routes_a();
    expect_pick(&h, "first-found", &r, &[], "eth1", "192.168.56.11/24");
    expect_pick(&h, "", &r, &[], "eth1", "192.168.56.11/24");
    // tunl0 and docker0 are excluded, and say so.
    let p = run(&h, "first-found", Family::V4, &r, &[]).unwrap();
    let names: Vec<&str> = p.skipped.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["tunl0", "docker0"]);
    assert!(p.skipped[0].1.contains("^tunl.*"), "{:?}", p.skipped);
    assert!(p.skipped[1].1.contains("^docker.*"), "{:?}", p.skipped);
}

#[test]
fn a_interface() {
    let h = host_a();
    let r = routes_a();
    expect_pick(&h, "interface=eth0", &r, &[], "eth0", "10.0.2.15/24");
    expect_pick(&h, "interface=ens33,eth0", &r, &[], "eth0", "10.0.2.15/24");
    expect_pick(&h, "interface=eth.*", &r, &[], "eth1", "192.168.56.11/24");
    expect_pick(&h, "interface=", &r, &[], "tunl0", "10.244.12.192/32");
    expect_pick(&h, "interface=eth0,", &r, &[], "tunl0", "10.244.12.192/32");
}

#[test]
fn a_skip_interface() {
    let h = host_a();
    expect_pick(
        &h,
        "skip-interface=eth1,ens32",
        &routes_a(),
        &[],
        "eth0",
        "10.0.2.15/24",
    );
}

#[test]
fn a_can_reach() {
    let h = host_a();
    let r = routes_a();
    expect_pick(&h, "can-reach=8.8.8.8", &r, &[], "eth0", "10.0.2.15/24");
    expect_pick(
        &h,
        "can-reach=192.168.56.1",
        &r,
        &[],
        "eth1",
        "192.168.56.11/24",
    );
}

#[test]
fn a_cidr() {
    let h = host_a();
    let r = routes_a();
    expect_pick(&h, "cidr=10.0.0.0/8", &r, &[], "tunl0", "10.244.12.192/32");
    expect_pick(
        &h,
        "cidr=192.168.56.0/24,10.0.2.0/24",
        &r,
        &[],
        "eth1",
        "192.168.56.11/24",
    );
    let f = expect_failure(&h, "cidr=10.0.2.15", Family::V4, &r, &[]);
    assert!(
        matches!(&f, Failure::BadCidr { item } if item == "10.0.2.15"),
        "{f:?}"
    );
}

#[test]
fn a_interface_without_match_fails() {
    let f = expect_failure(&host_a(), "interface=ens33", Family::V4, &routes_a(), &[]);
    match &f {
        Failure::NoInterfaces { looked_at, .. } => {
            assert_eq!(looked_at, &["tunl0", "docker0", "eth1", "eth0", "lo"]);
        }
        other => panic!("{other:?}"),
    }
    assert!(f.to_string().contains("no valid host interfaces found"));
    assert!(f.to_string().contains("ens33"));
}

#[test]
fn a_invalid_methods_terminate() {
    expect_invalid("first-found ");
    expect_invalid("eth1");
}

// ---- §9 table, Host B ----

#[test]
fn b_first_found() {
    expect_pick(
        &host_b(),
        "first-found",
        &routes_b(),
        &[],
        "ens33.26",
        "192.168.26.10/24",
    );
}

#[test]
fn b_interface() {
    let h = host_b();
    let r = routes_b();
    expect_pick(
        &h,
        "interface=ens33",
        &r,
        &[],
        "ens33.26",
        "192.168.26.10/24",
    );
    expect_pick(
        &h,
        "interface=^ens33$",
        &r,
        &[],
        "ens33",
        "192.168.30.10/24",
    );
}

#[test]
fn b_skip_interface() {
    expect_pick(
        &host_b(),
        "skip-interface=eth1,ens32",
        &routes_b(),
        &[],
        "ens33.26",
        "192.168.26.10/24",
    );
}

#[test]
fn b_cidr() {
    let h = host_b();
    let r = routes_b();
    expect_pick(
        &h,
        "cidr=192.168.26.0/24",
        &r,
        &[],
        "ens33.26",
        "192.168.26.10/24",
    );
    expect_pick(
        &h,
        "cidr=192.168.30.0/24",
        &r,
        &[],
        "ens33",
        "192.168.30.10/24",
    );
    expect_pick(&h, "cidr=10.0.0.0/8", &r, &[], "kube-ipvs0", "10.96.0.1/32");
}

#[test]
fn b_cidr_vip_wins_only_if_listed_first() {
    let mut h = host_b();
    h.ifaces[1].addrs.reverse();
    expect_pick(
        &h,
        "cidr=192.168.30.0/24",
        &routes_b(),
        &[],
        "ens33",
        "192.168.30.100/32",
    );
}

#[test]
fn b_can_reach() {
    expect_pick(
        &host_b(),
        "can-reach=192.168.30.1",
        &routes_b(),
        &[],
        "ens33",
        "192.168.30.10/24",
    );
}

#[test]
fn b_kubernetes_internal_ip() {
    let h = host_b();
    let r = routes_b();
    expect_pick(
        &h,
        "kubernetes-internal-ip",
        &r,
        &[ip("192.168.30.10")],
        "ens33",
        "192.168.30.10/24",
    );
    let f = expect_failure(
        &h,
        "kubernetes-internal-ip",
        Family::V4,
        &r,
        &[ip("192.168.30.50")],
    );
    assert!(
        matches!(f, Failure::InternalIpNotOnHost { address, .. } if address == ip("192.168.30.50")),
        "{f:?}"
    );
}

// ---- §9 table, Host C ----

#[test]
fn c_link_local_only_fails() {
    let f = expect_failure(&host_c(), "first-found", Family::V4, &routes_a(), &[]);
    assert!(
        matches!(
            f,
            Failure::NoValidAddresses {
                family: Family::V4,
                ..
            }
        ),
        "{f:?}"
    );
    let msg = f.to_string();
    assert!(msg.contains("no valid IPv4 addresses found"), "{msg}");
    assert!(msg.contains("169.254.5.5/16"), "{msg}");
}

// ---- grammar ----

#[test]
fn grammar_order_prefixes_and_case() {
    assert_eq!(parse_method("first-found"), Ok(Method::FirstFound));
    assert_eq!(parse_method(""), Ok(Method::FirstFound));
    for bad in [
        "first-found ",
        " first-found",
        "FIRST-FOUND",
        "Interface=eth0",
        " interface=eth0",
        "interface",
        "cidr",
        "can-reach",
        "skip-interface",
        "kubernetes",
        "kubernetes-internal",
        "eth0",
        "firstfound",
    ] {
        expect_invalid(bad);
    }
    // Not trimmed: the space stays in the destination.
    assert_eq!(
        parse_method("can-reach= 8.8.8.8"),
        Ok(Method::CanReach(" 8.8.8.8".into()))
    );
    // can-reach is not split.
    assert_eq!(
        parse_method("can-reach=a, b"),
        Ok(Method::CanReach("a, b".into()))
    );
    assert_eq!(
        parse_method("skip-interface=a , b"),
        Ok(Method::SkipInterface(vec!["a".into(), "b".into()]))
    );
}

#[test]
fn kubernetes_internal_ip_is_a_prefix_test() {
    assert_eq!(
        parse_method("kubernetes-internal-ip6"),
        Ok(Method::KubernetesInternalIp)
    );
    assert_eq!(
        parse_method("kubernetes-internal-ip=whatever"),
        Ok(Method::KubernetesInternalIp)
    );
    let mut h = host_b();
    h.ifaces[1]
        .addrs
        .push("2001:db8:30::10/64".parse().unwrap());
    h.ifaces[1].addrs.push("fe80::1/64".parse().unwrap());
    let internal = [ip("192.168.30.10"), ip("2001:db8:30::10")];
    expect_pick_family(
        &h,
        "kubernetes-internal-ip6",
        Family::V6,
        &routes_b(),
        &internal,
        "ens33",
        "2001:db8:30::10/64",
    );
    expect_pick_family(
        &h,
        "kubernetes-internal-ip6",
        Family::V4,
        &routes_b(),
        &internal,
        "ens33",
        "192.168.30.10/24",
    );
    // No InternalIP of the family, or none at all.
    let f = expect_failure(
        &h,
        "kubernetes-internal-ip",
        Family::V6,
        &routes_b(),
        &[ip("192.168.30.10")],
    );
    assert!(
        matches!(
            f,
            Failure::NoInternalIp {
                family: Family::V6,
                ..
            }
        ),
        "{f:?}"
    );
    let f = expect_failure(&h, "kubernetes-internal-ip", Family::V4, &routes_b(), &[]);
    assert!(matches!(f, Failure::NoInternalIp { .. }), "{f:?}");
}

// ---- list splitting and regexes ----

#[test]
fn empty_list_items() {
    let h = host_a();
    let r = routes_a();
    assert_eq!(
        parse_method("interface=eth0,"),
        Ok(Method::Interface(vec!["eth0".into(), "".into()]))
    );
    assert_eq!(
        parse_method("interface=,,"),
        Ok(Method::Interface(vec!["".into(), "".into(), "".into()]))
    );
    expect_pick(&h, "interface=,eth1", &r, &[], "tunl0", "10.244.12.192/32");
    // An empty skip regex matches every name: nothing is left.
    let f = expect_failure(&h, "skip-interface=", Family::V4, &r, &[]);
    assert!(matches!(f, Failure::NoInterfaces { .. }), "{f:?}");
    let f = expect_failure(&h, "skip-interface=eth1,", Family::V4, &r, &[]);
    assert!(matches!(f, Failure::NoInterfaces { .. }), "{f:?}");
    // An empty CIDR item fails the whole method.
    let f = expect_failure(&h, "cidr=10.0.0.0/8,", Family::V4, &r, &[]);
    assert!(
        matches!(&f, Failure::BadCidr { item } if item.is_empty()),
        "{f:?}"
    );
    let f = expect_failure(&h, "cidr=", Family::V4, &r, &[]);
    assert!(matches!(f, Failure::BadCidr { .. }), "{f:?}");
}

#[test]
fn whitespace_around_commas_only() {
    let h = host_a();
    let r = routes_a();
    expect_pick(
        &h,
        "interface=ens33 , eth0",
        &r,
        &[],
        "eth0",
        "10.0.2.15/24",
    );
    // Leading whitespace stays part of the regex, so " eth0" matches nothing.
    let f = expect_failure(&h, "interface= eth0", Family::V4, &r, &[]);
    assert!(matches!(f, Failure::NoInterfaces { .. }), "{f:?}");
    let f = expect_failure(&h, "cidr=10.0.0.0/8 ", Family::V4, &r, &[]);
    assert!(matches!(f, Failure::BadCidr { .. }), "{f:?}");
    expect_pick(
        &h,
        "cidr=192.168.56.0/24 ,\t10.0.2.0/24",
        &r,
        &[],
        "eth1",
        "192.168.56.11/24",
    );
}

#[test]
fn brace_repeat_cut_at_comma() {
    let h = Host {
        ifaces: vec![
            iface(1, "eth1", &["10.0.1.1/24"]),
            iface(2, "eth2", &["10.0.2.1/24"]),
        ],
    };
    assert_eq!(
        parse_method("interface=eth{1,2}"),
        Ok(Method::Interface(vec!["eth{1".into(), "2}".into()]))
    );
    // Joined as (eth{1)|(2}); Go reads the braces literally, so it matches
    // no interface rather than failing to compile.
    let f = expect_failure(&h, "interface=eth{1,2}", Family::V4, &routes_a(), &[]);
    assert!(matches!(f, Failure::NoInterfaces { .. }), "{f:?}");
    // A repeat without a comma works as a regex.
    expect_pick(
        &h,
        "interface=^eth[12]{1}$",
        &routes_a(),
        &[],
        "eth2",
        "10.0.2.1/24",
    );
}

#[test]
fn regexes_are_unanchored() {
    let names = ["eth0.100", "veth0ab", "xeth01", "ens3"];
    for n in names.iter().take(3) {
        let h = Host {
            ifaces: vec![
                iface(1, n, &["10.1.1.1/24"]),
                iface(2, "ens3", &["10.2.2.2/24"]),
            ],
        };
        expect_pick(&h, "interface=eth0", &routes_a(), &[], n, "10.1.1.1/24");
    }
    // A glob is read as a regex: `eth*` contains "et".
    let h = Host {
        ifaces: vec![iface(1, "bet", &["10.1.1.1/24"])],
    };
    expect_pick(&h, "interface=eth*", &routes_a(), &[], "bet", "10.1.1.1/24");
}

#[test]
fn regex_that_does_not_compile_yields_nothing() {
    for m in [
        "interface=(",
        "skip-interface=[a",
        "interface=a**",
        "interface=\\1",
    ] {
        let f = expect_failure(&host_a(), m, Family::V4, &routes_a(), &[]);
        assert!(matches!(f, Failure::BadRegex { .. }), "{m}: {f:?}");
    }
}

#[test]
fn interface_priority_is_link_order_not_regex_order() {
    let h = Host {
        ifaces: vec![
            iface(1, "ens33", &["10.1.1.1/24"]),
            iface(2, "eth0", &["10.2.2.2/24"]),
        ],
    };
    expect_pick(
        &h,
        "interface=ens33,eth0",
        &routes_a(),
        &[],
        "eth0",
        "10.2.2.2/24",
    );
    expect_pick(
        &h,
        "interface=eth0,ens33",
        &routes_a(),
        &[],
        "eth0",
        "10.2.2.2/24",
    );
    let h = Host {
        ifaces: vec![
            iface(1, "eth0", &["10.2.2.2/24"]),
            iface(2, "ens33", &["10.1.1.1/24"]),
        ],
    };
    expect_pick(
        &h,
        "interface=ens33,eth0",
        &routes_a(),
        &[],
        "ens33",
        "10.1.1.1/24",
    );
}

// ---- default exclusion list ----

#[test]
fn lo_is_a_prefix_match() {
    for excluded in ["lo", "lo0", "local-br", "loopy"] {
        let h = Host {
            ifaces: vec![
                iface(1, "eth0", &["10.0.0.5/24"]),
                iface(2, excluded, &["10.1.0.1/24"]),
            ],
        };
        expect_pick(&h, "first-found", &routes_a(), &[], "eth0", "10.0.0.5/24");
    }
    // Containing "lo" is not enough since v3.25 (the old list was unanchored).
    for kept in [
        "vlo1",
        "bond0",
        "br0",
        "ovs-system",
        "weave",
        "kube-bridge",
        "cilium_host",
        "tailscale0",
        "wg0",
        "lxdbr0",
        "ibmveth0",
    ] {
        let h = Host {
            ifaces: vec![
                iface(1, "eth0", &["10.0.0.5/24"]),
                iface(2, kept, &["10.1.0.1/24"]),
            ],
        };
        expect_pick(&h, "first-found", &routes_a(), &[], kept, "10.1.0.1/24");
    }
}

#[test]
fn default_list_entries() {
    for excluded in [
        "docker0",
        "cbr0",
        "dummy0",
        "podman0",
        "virbr0",
        "lxcbr0",
        "veth1234",
        "br-3f2a",
        "cali12ab",
        "tunl0",
        "flannel.1",
        "kube-ipvs0",
        "cni0",
        "vxlan.calico",
        "vxlan-v6.calico",
        "wireguard.cali",
        "wg-v6.cali",
        "nodelocaldns",
    ] {
        let h = Host {
            ifaces: vec![
                iface(1, "eth0", &["10.0.0.5/24"]),
                iface(2, excluded, &["10.1.0.1/24"]),
            ],
        };
        expect_pick(&h, "first-found", &routes_a(), &[], "eth0", "10.0.0.5/24");
        // skip-interface applies the default list too ...
        expect_pick(
            &h,
            "skip-interface=nomatch",
            &routes_a(),
            &[],
            "eth0",
            "10.0.0.5/24",
        );
        // ... but interface= and cidr= do not.
        expect_pick(&h, "interface=", &routes_a(), &[], excluded, "10.1.0.1/24");
        expect_pick(
            &h,
            "cidr=10.1.0.0/16",
            &routes_a(),
            &[],
            excluded,
            "10.1.0.1/24",
        );
    }
    // `vxlan.calico` is anchored with an escaped dot: vxlanXcalico passes.
    let h = Host {
        ifaces: vec![
            iface(1, "eth0", &["10.0.0.5/24"]),
            iface(2, "vxlanXcalico", &["10.1.0.1/24"]),
        ],
    };
    expect_pick(
        &h,
        "first-found",
        &routes_a(),
        &[],
        "vxlanXcalico",
        "10.1.0.1/24",
    );
}

// ---- global unicast ----

#[test]
fn candidate_test_is_go_is_global_unicast() {
    let h = Host {
        ifaces: vec![
            iface(1, "eth0", &["10.0.0.5/24"]),
            iface(
                2,
                "eth1",
                &[
                    "0.0.0.0/8",
                    "127.0.0.2/8",
                    "169.254.9.9/16",
                    "224.0.0.5/4",
                    "255.255.255.255/32",
                    "100.64.0.7/10",
                ],
            ),
        ],
    };
    expect_pick(&h, "first-found", &routes_a(), &[], "eth1", "100.64.0.7/10");
    let p = run(&h, "first-found", Family::V4, &routes_a(), &[]).unwrap();
    assert!(p.skipped.is_empty());
    let h = Host {
        ifaces: vec![
            iface(1, "eth0", &["10.0.0.5/24"]),
            iface(2, "eth1", &["169.254.9.9/16"]),
        ],
    };
    let p = run(&h, "first-found", Family::V4, &routes_a(), &[]).unwrap();
    assert_eq!(p.interface, "eth0");
    assert_eq!(p.skipped.len(), 1);
    assert!(p.skipped[0].1.contains("link-local"), "{:?}", p.skipped);
}

#[test]
fn interfaces_without_addresses_still_count() {
    let h = Host {
        ifaces: vec![iface(1, "eth0", &[])],
    };
    let f = expect_failure(&h, "first-found", Family::V4, &routes_a(), &[]);
    match f {
        Failure::NoValidAddresses { looked_at, .. } => {
            assert_eq!(
                looked_at,
                vec![("eth0".to_string(), "no IPv4 address".to_string())]
            );
        }
        other => panic!("{other:?}"),
    }
}

// ---- cidr ----

#[test]
fn cidr_items_and_v6() {
    let h = host_a();
    let r = routes_a();
    // Host bits are masked off.
    expect_pick(&h, "cidr=10.0.2.99/24", &r, &[], "eth0", "10.0.2.15/24");
    // An IPv6 CIDR never matches an IPv4 address ...
    let f = expect_failure(&h, "cidr=fd00::/8", Family::V4, &r, &[]);
    assert!(matches!(f, Failure::NoValidAddresses { .. }), "{f:?}");
    let f = expect_failure(&h, "cidr=::/0", Family::V4, &r, &[]);
    assert!(matches!(f, Failure::NoValidAddresses { .. }), "{f:?}");
    // ... but is a valid item, so the rest of the list still works.
    expect_pick(
        &h,
        "cidr=fd00::/8,10.0.2.0/24",
        &r,
        &[],
        "eth0",
        "10.0.2.15/24",
    );
    for bad in [
        "cidr=garbage",
        "cidr=10.0.0.0/33",
        "cidr=10.0.0.0/8,10.0.2.15",
        "cidr=10.0.0.0",
    ] {
        let f = expect_failure(&h, bad, Family::V4, &r, &[]);
        assert!(matches!(f, Failure::BadCidr { .. }), "{bad}: {f:?}");
    }
    // Only the address is tested, not the interface prefix.
    expect_pick(&h, "cidr=10.0.2.15/32", &r, &[], "eth0", "10.0.2.15/24");
    // IPv6 family with an IPv4 CIDR: nothing.
    let h6 = Host {
        ifaces: vec![iface(1, "eth0", &["10.0.0.5/24", "2001:db8::5/64"])],
    };
    let f = expect_failure(&h6, "cidr=10.0.0.0/8", Family::V6, &r, &[]);
    assert!(
        matches!(
            f,
            Failure::NoValidAddresses {
                family: Family::V6,
                ..
            }
        ),
        "{f:?}"
    );
    expect_pick_family(
        &h6,
        "cidr=2001:db8::/32",
        Family::V6,
        &r,
        &[],
        "eth0",
        "2001:db8::5/64",
    );
}

// ---- can-reach ----

#[test]
fn can_reach_has_no_exclusions_or_unicast_test() {
    let h = host_a();
    let r = routes_a();
    expect_pick(&h, "can-reach=127.0.0.1", &r, &[], "lo", "127.0.0.1/8");
    expect_pick(
        &h,
        "can-reach=10.244.12.1",
        &r,
        &[],
        "tunl0",
        "10.244.12.192/32",
    );
}

#[test]
fn can_reach_failures() {
    let h = host_a();
    let r = routes_a();
    let f = expect_failure(&h, "can-reach=203.0.113.1", Family::V4, &r, &[]);
    assert!(
        matches!(&f, Failure::CanReach { dest, .. } if dest == "203.0.113.1"),
        "{f:?}"
    );
    let f = expect_failure(&h, "can-reach=10.9.9.9", Family::V4, &r, &[]);
    assert!(
        matches!(f, Failure::ReachedAddressNotOnHost { address, .. } if address == ip("10.9.9.1")),
        "{f:?}"
    );
    // The real resolver refuses a port before any lookup, like Go's dial.
    let sys = tuntrace::calico::host::SystemResolver;
    let f = expect_failure(&h, "can-reach=1.2.3.4:53", Family::V4, &sys, &[]);
    assert!(matches!(f, Failure::CanReach { .. }), "{f:?}");
    let f = expect_failure(&h, "can-reach=1.2.3.4", Family::V6, &sys, &[]);
    assert!(matches!(f, Failure::CanReach { .. }), "{f:?}");
}

// ---- IPv6 family ----

#[test]
fn ipv6_family_ordering() {
    // Kernel order within an interface: global before link-local, newest
    // first. Link-local never qualifies; v4 addresses are ignored.
    let h = Host {
        ifaces: vec![
            iface(1, "lo", &["127.0.0.1/8", "::1/128"]),
            iface(
                2,
                "eth0",
                &["10.0.0.5/24", "fd00::5/64", "2001:db8::5/64", "fe80::5/64"],
            ),
            iface(3, "eth1", &["10.0.1.5/24", "fe80::6/64"]),
        ],
    };
    let p = run(&h, "first-found", Family::V6, &routes_a(), &[]).unwrap();
    assert_eq!(
        (p.interface.as_str(), p.address),
        ("eth0", "fd00::5/64".parse().unwrap())
    );
    assert_eq!(p.skipped.len(), 1);
    assert!(
        p.skipped[0].1.contains("fe80::6/64 is link-local"),
        "{:?}",
        p.skipped
    );
    // A link-local listed first (odd order) is still passed over.
    let h = Host {
        ifaces: vec![iface(1, "eth0", &["fe80::5/64", "2001:db8::5/64"])],
    };
    expect_pick_family(
        &h,
        "interface=eth0",
        Family::V6,
        &routes_a(),
        &[],
        "eth0",
        "2001:db8::5/64",
    );
    let h = Host {
        ifaces: vec![iface(1, "eth0", &["fe80::5/64"])],
    };
    let f = expect_failure(&h, "first-found", Family::V6, &routes_a(), &[]);
    assert!(
        f.to_string().contains("no valid IPv6 addresses found"),
        "{f}"
    );
}

// ---- likely methods ----

#[test]
fn likely_methods_for_host_a() {
    let h = host_a();
    let m = likely_methods(&h, Family::V4, Some(ip("10.0.2.2")), &[]);
    assert_eq!(m[0], "first-found");
    for want in [
        "interface=eth0",
        "interface=eth1",
        "skip-interface=eth1",
        "cidr=10.0.2.0/24",
        "cidr=192.168.56.0/24",
        "cidr=172.17.0.0/16",
        "cidr=10.244.12.192/32",
        "can-reach=10.0.2.2",
    ] {
        assert!(m.contains(&want.to_string()), "{want} missing from {m:?}");
    }
    for unwanted in [
        "interface=docker0",
        "interface=lo",
        "interface=tunl0",
        "cidr=127.0.0.0/8",
    ] {
        assert!(!m.contains(&unwanted.to_string()), "{unwanted} in {m:?}");
    }
    assert!(!m.iter().any(|s| s.starts_with("kubernetes")));
    for s in &m {
        parse_method(s).unwrap_or_else(|e| panic!("{s}: {e}"));
    }
    let m = likely_methods(&host_b(), Family::V4, None, &[ip("192.168.30.10")]);
    assert!(m.contains(&"kubernetes-internal-ip".to_string()));
    assert!(!m.iter().any(|s| s.starts_with("can-reach")));
}

// ---- where tuntrace once disagreed with Calico's code (issue 8, item 7) ----

/// `ip -j addr` of a node with point-to-point addresses
/// (`ip addr add 10.0.0.1 peer 10.0.0.2/24`, `ip -6 addr add fd00::1 peer
/// fd00::2/64`) next to an ordinary NIC listed before it.
const P2P_HOST: &str = r#"[
  {"ifindex":1,"ifname":"lo","addr_info":[{"family":"inet","local":"127.0.0.1","prefixlen":8}]},
  {"ifindex":2,"ifname":"eth0","addr_info":[{"family":"inet","local":"192.168.1.5","prefixlen":24},
     {"family":"inet6","local":"2001:db8:1::5","prefixlen":64}]},
  {"ifindex":3,"ifname":"ppp0","addr_info":[
     {"family":"inet","local":"10.0.0.1","address":"10.0.0.2","prefixlen":24},
     {"family":"inet6","local":"fd00::1","address":"fd00::2","prefixlen":64}]}
]"#;

fn p2p_host(version: &str) -> Host {
    tuntrace::calico::hostfile::parse_host_file_as(P2P_HOST, version.parse().unwrap())
        .unwrap()
        .host
}

#[test]
fn point_to_point_address_gets_a_full_mask_since_v3_32() {
    let r = routes_a();
    // Default rules (the current release) and v3.32 explicitly: netlink
    // keeps the local address with a full mask.
    for h in [
        tuntrace::calico::hostfile::parse_host_file(P2P_HOST)
            .unwrap()
            .host,
        p2p_host("3.32"),
        p2p_host("v3.34.0"),
    ] {
        expect_pick(&h, "first-found", &r, &[], "ppp0", "10.0.0.1/32");
        expect_pick_family(
            &h,
            "interface=ppp0",
            Family::V6,
            &r,
            &[],
            "ppp0",
            "fd00::1/128",
        );
        // The subnet no longer covers the peer's /24: cidr= still matches
        // the address itself.
        expect_pick(&h, "cidr=10.0.0.0/24", &r, &[], "ppp0", "10.0.0.1/32");
    }
    // v3.31 and before read addresses with Go's net package: the prefix
    // length stays.
    let old = p2p_host("3.31");
    expect_pick(&old, "first-found", &r, &[], "ppp0", "10.0.0.1/24");
    expect_pick_family(
        &old,
        "interface=ppp0",
        Family::V6,
        &r,
        &[],
        "ppp0",
        "fd00::1/64",
    );
    // An ordinary address is read the same by every version.
    expect_pick(&old, "interface=eth0", &r, &[], "eth0", "192.168.1.5/24");
    expect_pick(
        &p2p_host("3.32"),
        "interface=eth0",
        &r,
        &[],
        "eth0",
        "192.168.1.5/24",
    );
}

#[test]
fn nested_repeat_counts_past_1000_yield_nothing() {
    // Go's regexp rejects ((x?){40}){30}: 40 × 30 copies pass 1000.
    let h = Host {
        ifaces: vec![iface(1, "eth0", &["10.0.2.15/24"])],
    };
    for m in [
        "interface=((x?){40}){30}",
        "skip-interface=((x?){40}){30}",
        "interface=eth0,(a{2}){501}",
    ] {
        let f = expect_failure(&h, m, Family::V4, &routes_a(), &[]);
        assert!(matches!(f, Failure::BadRegex { .. }), "{m}: {f:?}");
    }
    // At exactly 1000 Go accepts, and the regex matches anything (x? can be empty).
    expect_pick(
        &h,
        "interface=((x?){40}){25}",
        &routes_a(),
        &[],
        "eth0",
        "10.0.2.15/24",
    );
}

#[test]
fn cidr_prefix_length_takes_any_leading_zeros() {
    let h = host_a();
    let r = routes_a();
    expect_pick(
        &h,
        "cidr=10.0.2.0/000000024",
        &r,
        &[],
        "eth0",
        "10.0.2.15/24",
    );
    expect_pick(&h, "cidr=10.0.2.0/024", &r, &[], "eth0", "10.0.2.15/24");
    // What Go's dtoi rejects: no digits, a sign, a value ≥ 0xFFFFFF, > 32.
    for bad in [
        "cidr=10.0.2.0/",
        "cidr=10.0.2.0/+24",
        "cidr=10.0.2.0/0x18",
        "cidr=10.0.2.0/000000033",
        "cidr=10.0.2.0/16777240",
    ] {
        let f = expect_failure(&h, bad, Family::V4, &r, &[]);
        assert!(matches!(f, Failure::BadCidr { .. }), "{bad}: {f:?}");
    }
}

#[test]
fn ipv4_mapped_address_is_reported_in_ipv4_form() {
    // Go's net.IPNet.String: To4() of the address, the mask's last 32 bits.
    let h = Host {
        ifaces: vec![
            iface(1, "lo", &["127.0.0.1/8"]),
            iface(2, "eth0", &["::ffff:10.1.1.1/120"]),
        ],
    };
    let r = routes_a();
    expect_pick(&h, "first-found", &r, &[], "eth0", "10.1.1.1/24");
    expect_pick(&h, "cidr=10.1.1.0/24", &r, &[], "eth0", "10.1.1.1/24");
    expect_pick(
        &h,
        "kubernetes-internal-ip",
        &r,
        &[ip("10.1.1.1")],
        "eth0",
        "10.1.1.1/24",
    );
    // The IPv6 family does not see it at all (Go counts it as IPv4).
    let f = expect_failure(&h, "interface=eth0", Family::V6, &r, &[]);
    assert!(matches!(f, Failure::NoValidAddresses { .. }), "{f:?}");
    // A mask shorter than /96 leaves nothing of the IPv4 mask.
    let short = Host {
        ifaces: vec![iface(2, "eth0", &["::ffff:10.1.1.1/64"])],
    };
    expect_pick(&short, "first-found", &r, &[], "eth0", "10.1.1.1/0");
}

// ---- the real host, in a throwaway network namespace ----

mod netns {
    use super::*;
    use std::os::fd::AsRawFd;
    use std::process::Command;
    use tuntrace::calico::autodetect::evaluate;
    use tuntrace::calico::host::{HostInfo, SystemResolver};
    use tuntrace::calico::routes::{PeerPath, TunnelRoute};
    use tuntrace::calico::version::{CalicoVersion, CURRENT};
    use tuntrace::os::netlink::Netlink;

    // The readers over the real kernel, as `cmd` wires them.
    fn links() -> std::io::Result<Vec<(u32, String)>> {
        HostInfo::links(&Netlink)
    }
    fn read_host(family: Option<Family>) -> std::io::Result<Host> {
        tuntrace::calico::host::read_host(&Netlink, family, CURRENT)
    }
    fn tunnel_routes(devs: &[&str]) -> std::io::Result<Vec<TunnelRoute>> {
        tuntrace::calico::routes::tunnel_routes(&Netlink, devs)
    }
    fn route_get(dst: IpAddr) -> std::io::Result<PeerPath> {
        tuntrace::calico::routes::route_get(&Netlink, dst)
    }
    fn default_gateway(family: Family) -> std::io::Result<Option<IpAddr>> {
        tuntrace::calico::routes::default_gateway(&Netlink, family)
    }

    /// A method's result on the real host: (interface, address) or the
    /// failure kind.
    type Outcome = Result<(String, String), &'static str>;

    /// Deletes the namespace on drop, also when a test panics.
    struct Netns {
        name: String,
    }

    impl Drop for Netns {
        fn drop(&mut self) {
            let _ = Command::new("ip")
                .args(["netns", "del", &self.name])
                .status();
        }
    }

    fn ip_cmd(args: &[&str]) -> String {
        let out = Command::new("ip")
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("ip {args:?}: {e}"));
        assert!(
            out.status.success(),
            "ip {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs `f` on a thread that has joined the namespace; the test thread
    /// stays in the root namespace.
    fn in_netns<T: Send + 'static>(name: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
        let path = format!("/run/netns/{name}");
        std::thread::spawn(move || {
            let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
            // SAFETY: setns on a valid namespace fd affects only this thread.
            let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
            f()
        })
        .join()
        .unwrap_or_else(|e| std::panic::resume_unwind(e))
    }

    /// Whether this test can run; `false` (with a reason printed) to skip.
    fn can_run() -> bool {
        // SAFETY: geteuid has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        let has_ip = Command::new("ip").arg("-V").output().is_ok();
        let why = if !root {
            "not root"
        } else if !has_ip {
            "no `ip` command"
        } else {
            return true;
        };
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("netns test cannot run under CI=true: {why}");
        }
        eprintln!("skipping the network-namespace test: {why}");
        false
    }

    /// (name, addresses) per interface from `ip -j [-4|-6] addr`, in
    /// `ip` order: the oracle for kernel order.
    fn oracle(ns: &str, fam: &str) -> Vec<(String, Vec<IpNet>)> {
        let text = ip_cmd(&["-n", ns, "-j", fam, "addr", "show"]);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let mut out = Vec::new();
        for link in v.as_array().unwrap() {
            let name = link["ifname"].as_str().unwrap().to_string();
            let addrs = link["addr_info"]
                .as_array()
                .map(|a| {
                    // iproute2 may print `{}` for a link without addresses
                    // of the family.
                    a.iter()
                        .filter_map(|ai| {
                            let local = ai["local"].as_str()?;
                            let plen = ai["prefixlen"].as_u64()?;
                            Some(format!("{local}/{plen}").parse().unwrap())
                        })
                        .collect()
                })
                .unwrap_or_default();
            out.push((name, addrs));
        }
        out
    }

    fn link_oracle(ns: &str) -> Vec<(u32, String)> {
        let text = ip_cmd(&["-n", ns, "-j", "link", "show"]);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        v.as_array()
            .unwrap()
            .iter()
            .map(|l| {
                (
                    l["ifindex"].as_u64().unwrap() as u32,
                    l["ifname"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }

    fn with_addrs(host: &Host) -> Vec<(String, Vec<IpNet>)> {
        host.ifaces
            .iter()
            .filter(|i| !i.addrs.is_empty())
            .map(|i| (i.name.clone(), i.addrs.clone()))
            .collect()
    }

    #[test]
    fn reads_host_and_routes_in_a_netns() {
        if !can_run() {
            return;
        }
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let ns = Netns {
            name: format!("tt{}x{nanos:x}-ad", std::process::id()),
        };
        ip_cmd(&["netns", "add", &ns.name]);
        let n = ns.name.as_str();
        for cmd in [
            vec!["link", "set", "lo", "up"],
            vec!["link", "add", "a0", "type", "veth", "peer", "name", "b0"],
            vec!["addr", "add", "192.168.77.10/24", "dev", "a0"],
            vec!["addr", "add", "192.168.77.100/32", "dev", "a0"],
            vec!["addr", "add", "192.168.77.11/24", "dev", "a0"],
            vec!["addr", "add", "10.99.0.2/24", "dev", "b0"],
            vec![
                "-6",
                "addr",
                "add",
                "2001:db8:77::10/64",
                "dev",
                "a0",
                "nodad",
            ],
            vec!["-6", "addr", "add", "fd00:77::10/64", "dev", "a0", "nodad"],
            vec!["link", "set", "a0", "up"],
            vec!["link", "set", "b0", "up"],
            vec![
                "route",
                "add",
                "default",
                "via",
                "192.168.77.1",
                "dev",
                "a0",
            ],
            vec![
                "route",
                "add",
                "10.244.5.0/26",
                "via",
                "10.99.0.1",
                "dev",
                "b0",
                "proto",
                "80",
                "onlink",
            ],
            vec![
                "route",
                "add",
                "10.244.6.0/26",
                "via",
                "10.99.0.3",
                "dev",
                "b0",
                "onlink",
            ],
            vec![
                "route",
                "add",
                "172.30.0.0/16",
                "via",
                "192.168.77.1",
                "dev",
                "a0",
            ],
        ] {
            let mut args = vec!["-n", n];
            args.extend(cmd);
            ip_cmd(&args);
        }
        // Wait for the kernel's link-local address on a0.
        for _ in 0..50 {
            if ip_cmd(&["-n", n, "-6", "addr", "show", "dev", "a0", "scope", "link"])
                .contains("fe80")
            {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }

        // Links and addresses in kernel order, as `ip` shows them.
        let (got_links, v4, v6, all) = in_netns(n, || {
            (
                links().unwrap(),
                read_host(Some(Family::V4)).unwrap(),
                read_host(Some(Family::V6)).unwrap(),
                read_host(None).unwrap(),
            )
        });
        assert_eq!(got_links, link_oracle(n));
        let names: Vec<(u32, String)> = v4
            .ifaces
            .iter()
            .map(|i| (i.index, i.name.clone()))
            .collect();
        assert_eq!(names, got_links);
        assert_eq!(
            with_addrs(&v4),
            oracle(n, "-4")
                .into_iter()
                .filter(|(_, a)| !a.is_empty())
                .collect::<Vec<_>>()
        );
        assert_eq!(
            with_addrs(&v6),
            oracle(n, "-6")
                .into_iter()
                .filter(|(_, a)| !a.is_empty())
                .collect::<Vec<_>>()
        );
        let a0 = v4.ifaces.iter().find(|i| i.name == "a0").unwrap();
        let want: Vec<IpNet> = ["192.168.77.10/24", "192.168.77.100/32", "192.168.77.11/24"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        assert_eq!(
            a0.addrs, want,
            "primaries in insertion order, then the secondary"
        );
        let a0v6 = &v6.ifaces.iter().find(|i| i.name == "a0").unwrap().addrs;
        assert_eq!(a0v6.len(), 3, "{a0v6:?}");
        assert_eq!(
            a0v6[0],
            "fd00:77::10/64".parse::<IpNet>().unwrap(),
            "newest global first"
        );
        assert_eq!(a0v6[1], "2001:db8:77::10/64".parse::<IpNet>().unwrap());
        assert!(a0v6[2].to_string().starts_with("fe80:"), "{a0v6:?}");
        let a0all = &all.ifaces.iter().find(|i| i.name == "a0").unwrap().addrs;
        assert_eq!(a0all.len(), 6, "{a0all:?}");

        // Evaluation over the real host, with the real route lookup.
        let (picks, v6picks) = in_netns(n, || {
            let host = read_host(Some(Family::V4)).unwrap();
            let eval = |m: &str| {
                let method = parse_method(m).unwrap();
                evaluate(
                    &method,
                    m,
                    &host,
                    Family::V4,
                    &SystemResolver,
                    &[ip("10.99.0.2")],
                )
                .map(|p| (p.interface, p.address.to_string()))
                .map_err(|f| f.kind())
            };
            let picks: Vec<_> = [
                "interface=^a0$",
                "cidr=10.99.0.0/24",
                "can-reach=8.8.8.8",
                "can-reach=10.99.0.1",
                "can-reach=172.30.1.1",
                "can-reach=",
                "can-reach=1.2.3.4:53",
                "kubernetes-internal-ip",
                "skip-interface=a0",
                "first-found",
            ]
            .iter()
            .map(|m| (m.to_string(), eval(m)))
            .collect();
            let host6 = read_host(Some(Family::V6)).unwrap();
            let eval6 = |m: &str| {
                let method = parse_method(m).unwrap();
                evaluate(&method, m, &host6, Family::V6, &SystemResolver, &[])
                    .map(|p| (p.interface, p.address.to_string()))
                    .map_err(|f| f.kind())
            };
            let v6picks: Vec<_> = ["interface=^a0$", "can-reach=2001:db8:ffff::1"]
                .iter()
                .map(|m| (m.to_string(), eval6(m)))
                .collect();
            (picks, v6picks)
        });
        let ok = |i: &str, a: &str| Ok((i.to_string(), a.to_string()));
        let expected: Vec<(String, Outcome)> = vec![
            ("interface=^a0$".into(), ok("a0", "192.168.77.10/24")),
            ("cidr=10.99.0.0/24".into(), ok("b0", "10.99.0.2/24")),
            ("can-reach=8.8.8.8".into(), ok("a0", "192.168.77.10/24")),
            ("can-reach=10.99.0.1".into(), ok("b0", "10.99.0.2/24")),
            ("can-reach=172.30.1.1".into(), ok("a0", "192.168.77.10/24")),
            ("can-reach=".into(), ok("lo", "127.0.0.1/8")),
            ("can-reach=1.2.3.4:53".into(), Err("can-reach")),
            ("kubernetes-internal-ip".into(), ok("b0", "10.99.0.2/24")),
            ("skip-interface=a0".into(), ok("b0", "10.99.0.2/24")),
        ];
        // first-found walks links in reverse: whichever of a0/b0 the kernel
        // lists later wins.
        let pos = |name: &str| got_links.iter().position(|(_, n)| n == name).unwrap();
        let mut expected = expected;
        expected.push((
            "first-found".into(),
            if pos("a0") > pos("b0") {
                ok("a0", "192.168.77.10/24")
            } else {
                ok("b0", "10.99.0.2/24")
            },
        ));
        assert_eq!(picks, expected);
        assert_eq!(
            v6picks,
            vec![
                ("interface=^a0$".to_string(), ok("a0", "fd00:77::10/64")),
                ("can-reach=2001:db8:ffff::1".to_string(), Err("can-reach")),
            ]
        );

        // Tunnel routes and the kernel's path to each peer.
        let (mut b0_routes, a0_routes, paths, unreachable, gw4, gw6) = in_netns(n, || {
            (
                tunnel_routes(&["b0"]).unwrap(),
                tunnel_routes(&["a0"]).unwrap(),
                [
                    ip("10.99.0.1"),
                    ip("172.30.1.1"),
                    ip("8.8.8.8"),
                    ip("192.168.77.10"),
                ]
                .map(|d| route_get(d).unwrap()),
                route_get(ip("2001:db8:ffff::1")).is_err(),
                default_gateway(Family::V4).unwrap(),
                default_gateway(Family::V6).unwrap(),
            )
        });
        b0_routes.sort_by_key(|r| r.block);
        let tr = |b: &str, via: &str, proto: u8| TunnelRoute {
            block: b.parse().unwrap(),
            via: ip(via),
            dev: "b0".to_string(),
            proto,
        };
        assert_eq!(
            b0_routes,
            vec![
                tr("10.244.5.0/26", "10.99.0.1", 80),
                tr("10.244.6.0/26", "10.99.0.3", 3)
            ]
        );
        assert_eq!(
            tuntrace::calico::routes::peers(&b0_routes),
            vec![ip("10.99.0.1"), ip("10.99.0.3")]
        );
        let a0_blocks: Vec<String> = a0_routes.iter().map(|r| r.block.to_string()).collect();
        assert!(
            a0_blocks.contains(&"0.0.0.0/0".to_string()),
            "{a0_blocks:?}"
        );
        assert!(
            a0_blocks.contains(&"172.30.0.0/16".to_string()),
            "{a0_blocks:?}"
        );
        assert!(a0_routes
            .iter()
            .all(|r| r.dev == "a0" && r.via == ip("192.168.77.1")));
        let [p1, p2, p3, p4] = paths;
        assert_eq!(
            (p1.interface.as_str(), p1.source, p1.gateway),
            ("b0", Some(ip("10.99.0.2")), None)
        );
        assert_eq!(
            (p2.interface.as_str(), p2.source, p2.gateway),
            ("a0", Some(ip("192.168.77.10")), Some(ip("192.168.77.1")))
        );
        assert_eq!(
            (p3.interface.as_str(), p3.source),
            ("a0", Some(ip("192.168.77.10")))
        );
        assert_eq!(p4.interface, "lo", "a local address routes via lo: {p4:?}");
        assert!(unreachable, "no IPv6 route: route_get must fail");
        assert_eq!(gw4, Some(ip("192.168.77.1")));
        assert_eq!(gw6, None);
        let json = serde_json::to_string(&p1).unwrap();
        assert!(json.contains("\"interface\":\"b0\""), "{json}");

        // The root namespace was not touched.
        let root = ip_cmd(&["-o", "link", "show"]);
        assert!(!root.contains(" a0@") && !root.contains(" b0@"), "{root}");
    }

    #[test]
    fn point_to_point_and_mapped_addresses_over_netlink() {
        if !can_run() {
            return;
        }
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let ns = Netns {
            name: format!("tt{}x{nanos:x}-p2p", std::process::id()),
        };
        ip_cmd(&["netns", "add", &ns.name]);
        let n = ns.name.as_str();
        for cmd in [
            vec!["link", "add", "p0", "type", "veth", "peer", "name", "m0"],
            vec![
                "addr",
                "add",
                "10.0.0.1",
                "peer",
                "10.0.0.2/24",
                "dev",
                "p0",
            ],
            vec![
                "-6",
                "addr",
                "add",
                "fd00::1",
                "peer",
                "fd00::2/64",
                "dev",
                "p0",
                "nodad",
            ],
            vec![
                "-6",
                "addr",
                "add",
                "::ffff:10.1.1.1/120",
                "dev",
                "m0",
                "nodad",
            ],
        ] {
            let mut args = vec!["-n", n];
            args.extend(cmd);
            ip_cmd(&args);
        }
        let (now, old, now6, old6) = in_netns(n, || {
            let v331 = CalicoVersion::new(3, 31);
            let nl = |f, v| tuntrace::calico::host::read_host(&Netlink, Some(f), v).unwrap();
            (
                nl(Family::V4, CURRENT),
                nl(Family::V4, v331),
                nl(Family::V6, CURRENT),
                nl(Family::V6, v331),
            )
        });
        let addrs = |h: &Host, name: &str| -> Vec<String> {
            h.ifaces
                .iter()
                .find(|i| i.name == name)
                .unwrap()
                .addrs
                .iter()
                .map(|a| a.to_string())
                .collect()
        };
        assert_eq!(addrs(&now, "p0"), ["10.0.0.1/32"]);
        assert_eq!(addrs(&old, "p0"), ["10.0.0.1/24"]);
        assert!(
            addrs(&now6, "p0").contains(&"fd00::1/128".to_string()),
            "{now6:?}"
        );
        assert!(
            addrs(&old6, "p0").contains(&"fd00::1/64".to_string()),
            "{old6:?}"
        );
        // The mapped address is IPv4 to Calico, reported as 10.1.1.1/24.
        let pick = |m: &str| {
            evaluate(
                &parse_method(m).unwrap(),
                m,
                &now,
                Family::V4,
                &SystemResolver,
                &[],
            )
            .map(|p| (p.interface, p.address.to_string()))
            .map_err(|f| f.kind())
        };
        assert_eq!(
            pick("interface=m0"),
            Ok(("m0".to_string(), "10.1.1.1/24".to_string()))
        );
        assert_eq!(
            pick("interface=p0"),
            Ok(("p0".to_string(), "10.0.0.1/32".to_string()))
        );
    }
}
