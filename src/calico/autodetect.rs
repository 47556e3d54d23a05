//! Calico's `IP_AUTODETECTION_METHOD`, evaluated over a host described as
//! data (see `shared/docs/calico-autodetection.md` for the behaviour spec).
//!
//! Nothing here touches the machine: the interfaces come in a [`Host`], and
//! the one question only the kernel can answer (which source address a UDP
//! connect would use, for `can-reach=`) goes through a [`Resolver`].

use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use super::regex_list::{compile_go, compile_list, join_alternation, split_list, Regex};

/// Address family of the detection (`IP` vs `IP6`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    V4,
    V6,
}

impl Family {
    /// 4 or 6, as Calico prints it ("no valid IPv4 addresses").
    pub fn version(self) -> u8 {
        match self {
            Family::V4 => 4,
            Family::V6 => 6,
        }
    }

    /// The family Go's `cnet.IP.Version()` gives `ip`: an IPv4-mapped IPv6
    /// address counts as IPv4.
    pub fn of(ip: IpAddr) -> Family {
        match ip.to_canonical() {
            IpAddr::V4(_) => Family::V4,
            IpAddr::V6(_) => Family::V6,
        }
    }

    pub fn matches(self, ip: IpAddr) -> bool {
        Family::of(ip) == self
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IPv{}", self.version())
    }
}

/// One host interface: name, kernel ifindex and addresses (with prefix
/// length) in kernel order, i.e. the `ip addr show dev X` order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostIface {
    pub name: String,
    pub index: u32,
    pub addrs: Vec<IpNet>,
}

/// The interfaces of a host in kernel link-dump order (`ip link` order).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Host {
    pub ifaces: Vec<HostIface>,
}

/// A parsed autodetection method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Method {
    /// `""` or exactly `first-found`.
    FirstFound,
    /// `interface=R1,R2`: regex items, already split.
    Interface(Vec<String>),
    /// `skip-interface=R1,R2`: regex items, already split.
    SkipInterface(Vec<String>),
    /// `cidr=C1,C2`: raw items, parsed at evaluation (a bad one fails the
    /// whole method, as in Calico).
    Cidr(Vec<String>),
    /// `can-reach=D`: D verbatim, not split.
    CanReach(String),
    /// Any value starting with `kubernetes-internal-ip`.
    KubernetesInternalIp,
}

impl Method {
    /// The method's keyword, e.g. `skip-interface`.
    pub fn keyword(&self) -> &'static str {
        match self {
            Method::FirstFound => "first-found",
            Method::Interface(_) => "interface",
            Method::SkipInterface(_) => "skip-interface",
            Method::Cidr(_) => "cidr",
            Method::CanReach(_) => "can-reach",
            Method::KubernetesInternalIp => "kubernetes-internal-ip",
        }
    }
}

/// The method string matches no grammar rule: Calico logs "Invalid IP
/// autodetection method" and the process terminates (our exit 2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MethodError {
    Invalid(String),
}

impl fmt::Display for MethodError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MethodError::Invalid(s) => write!(
                f,
                "Invalid IP autodetection method: {s:?} (calico-node terminates; valid forms: \
                 first-found, interface=R, skip-interface=R, cidr=C, can-reach=D, \
                 kubernetes-internal-ip; matching is case-sensitive and untrimmed)"
            ),
        }
    }
}

impl std::error::Error for MethodError {}

/// Parses a method value exactly as Calico's AutoDetectCIDR dispatches it:
/// first matching rule wins, case-sensitive, no trimming.
pub fn parse_method(s: &str) -> Result<Method, MethodError> {
    if s.is_empty() || s == "first-found" {
        Ok(Method::FirstFound)
    } else if let Some(rest) = s.strip_prefix("interface=") {
        Ok(Method::Interface(split_list(rest)))
    } else if let Some(rest) = s.strip_prefix("cidr=") {
        Ok(Method::Cidr(split_list(rest)))
    } else if let Some(rest) = s.strip_prefix("can-reach=") {
        Ok(Method::CanReach(rest.to_string()))
    } else if let Some(rest) = s.strip_prefix("skip-interface=") {
        Ok(Method::SkipInterface(split_list(rest)))
    } else if s.starts_with("kubernetes-internal-ip") {
        Ok(Method::KubernetesInternalIp)
    } else {
        Err(MethodError::Invalid(s.to_string()))
    }
}

/// Interfaces first-found and skip-interface never consider (Calico v3.25+,
/// Linux), each an anchored regex.
pub const DEFAULT_EXCLUDES: &[&str] = &[
    "^docker.*",
    "^cbr.*",
    "^dummy.*",
    "^podman.*",
    "^virbr.*",
    "^lxcbr.*",
    "^veth.*",
    "^lo",
    "^br-.*",
    "^cali.*",
    "^tunl.*",
    "^flannel.*",
    "^kube-ipvs.*",
    "^cni.*",
    "^vxlan\\.calico.*",
    "^vxlan-v6\\.calico.*",
    "^wireguard\\.cali.*",
    "^wg-v6\\.cali.*",
    "^nodelocaldns.*",
];

/// The first default-exclusion regex that matches `name`, if any. The
/// regexes are compiled once per process.
pub fn default_exclusion(name: &str) -> Option<&'static str> {
    static COMPILED: std::sync::OnceLock<Vec<(&'static str, Option<Regex>)>> =
        std::sync::OnceLock::new();
    COMPILED
        .get_or_init(|| {
            DEFAULT_EXCLUDES
                .iter()
                .map(|p| (*p, compile_go(p).ok()))
                .collect()
        })
        .iter()
        .find(|(_, r)| r.as_ref().is_some_and(|r| r.is_match(name)))
        .map(|(p, _)| *p)
}

/// Why Go's `IsGlobalUnicast` rejects `ip`, or `None` if it accepts it.
/// IPv4-mapped IPv6 addresses are judged as IPv4, as in Go.
pub fn non_global_reason(ip: IpAddr) -> Option<&'static str> {
    match ip.to_canonical() {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            if v4.is_unspecified() {
                Some("unspecified")
            } else if v4.is_broadcast() {
                Some("broadcast")
            } else if o[0] == 127 {
                Some("loopback")
            } else if o[0] & 0xf0 == 0xe0 {
                Some("multicast")
            } else if o[0] == 169 && o[1] == 254 {
                Some("link-local")
            } else {
                None
            }
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            if v6.is_unspecified() {
                Some("unspecified")
            } else if v6.is_loopback() {
                Some("loopback")
            } else if s[0] & 0xff00 == 0xff00 {
                Some("multicast")
            } else if s[0] & 0xffc0 == 0xfe80 {
                Some("link-local")
            } else {
                None
            }
        }
    }
}

/// Go's `net.IP.IsGlobalUnicast`.
pub fn is_global_unicast(ip: IpAddr) -> bool {
    non_global_reason(ip).is_none()
}

/// Go's `dtoi` (net/parse.go): decimal digits, any number of them (leading
/// zeros included); at least one; fails once the value reaches 0xFFFFFF.
fn go_dtoi(s: &str) -> Option<u32> {
    const BIG: u32 = 0x00FF_FFFF;
    if s.is_empty() {
        return None;
    }
    let mut n: u32 = 0;
    for b in s.bytes() {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n * 10 + u32::from(b - b'0');
        if n >= BIG {
            return None;
        }
    }
    Some(n)
}

/// Parses a CIDR as Go's `net.ParseCIDR` does and returns the network with
/// host bits masked off. A bare IP, an empty string, a zone or garbage give
/// `None`. The prefix length goes through Go's `dtoi`, so any number of
/// leading zeros is fine (`/000000024` is `/24`).
pub fn parse_go_cidr(s: &str) -> Option<IpNet> {
    let (addr, len) = s.split_once('/')?;
    let ip: IpAddr = addr.parse().ok()?;
    let len = go_dtoi(len)?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    if len > max {
        return None;
    }
    IpNet::new(ip, len as u8).ok().map(|n| n.trunc())
}

/// Go's `IPNet.Contains`: both sides in Go's 4-byte form where possible, and
/// families must agree. An IPv6 CIDR never contains an IPv4 address, except
/// Go's corner case of an IPv4-mapped network of length ≥ 96
/// (`::ffff:10.0.0.0/104` behaves like `10.0.0.0/8`).
pub fn cidr_contains(net: &IpNet, ip: IpAddr) -> bool {
    let net = match net {
        IpNet::V6(n) if n.prefix_len() >= 96 => match n.network().to_ipv4_mapped() {
            Some(v4) => IpNet::new(IpAddr::V4(v4), n.prefix_len() - 96).unwrap_or(*net),
            None => *net,
        },
        _ => *net,
    };
    match (net, ip.to_canonical()) {
        (IpNet::V4(n), IpAddr::V4(a)) => n.contains(&a),
        (IpNet::V6(n), IpAddr::V6(a)) => n.contains(&a),
        _ => false,
    }
}

/// The address as Calico reports it. Go's `net.IPNet.String` writes an
/// IPv4-mapped IPv6 address in its 4-byte form (`To4`) with the last 32 bits
/// of the mask, so `::ffff:10.1.1.1/120` becomes `10.1.1.1/24` (a mask
/// shorter than /96 becomes /0).
pub fn go_form(a: IpNet) -> IpNet {
    match a {
        IpNet::V6(n) => match n.addr().to_ipv4_mapped() {
            Some(v4) => IpNet::new(IpAddr::V4(v4), n.prefix_len().saturating_sub(96)).unwrap_or(a),
            None => a,
        },
        IpNet::V4(_) => a,
    }
}

/// The detection result: the interface and `ip/prefix` Calico would write to
/// `spec.bgp.ipv4Address` (or `ipv6Address`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pick {
    /// The method string as given.
    pub method: String,
    pub interface: String,
    pub address: IpNet,
    /// Why this one, in one sentence.
    pub reason: String,
    /// Interfaces looked at before the pick, in evaluation order, with the
    /// reason each was passed over.
    pub skipped: Vec<(String, String)>,
}

/// Why a method yields no address (calico-node keeps a previous address or
/// exits).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Failure {
    /// No interface survived the name filters ("no valid host interfaces
    /// found").
    NoInterfaces {
        /// The filter that removed them, e.g. `interface regex (ens33)`.
        filter: String,
        /// Every host interface, in evaluation order.
        looked_at: Vec<String>,
    },
    /// Interfaces survived, none had a usable address ("no valid IPv4
    /// addresses found on the host interfaces").
    NoValidAddresses {
        family: Family,
        looked_at: Vec<(String, String)>,
    },
    /// The joined interface regex does not compile.
    BadRegex { regex: String, error: String },
    /// A `cidr=` item is not a CIDR.
    BadCidr { item: String },
    /// The route lookup toward the `can-reach=` destination failed.
    CanReach { dest: String, error: String },
    /// The kernel's source address for `can-reach=` is on no interface.
    ReachedAddressNotOnHost {
        dest: String,
        address: IpAddr,
        looked_at: Vec<String>,
    },
    /// `kubernetes-internal-ip` without an InternalIP of the family.
    NoInternalIp { family: Family, given: Vec<IpAddr> },
    /// The InternalIP is held by no interface.
    InternalIpNotOnHost {
        address: IpAddr,
        looked_at: Vec<String>,
    },
}

impl Failure {
    /// A stable short name, e.g. `no-interfaces`.
    pub fn kind(&self) -> &'static str {
        match self {
            Failure::NoInterfaces { .. } => "no-interfaces",
            Failure::NoValidAddresses { .. } => "no-valid-addresses",
            Failure::BadRegex { .. } => "bad-regex",
            Failure::BadCidr { .. } => "bad-cidr",
            Failure::CanReach { .. } => "can-reach",
            Failure::ReachedAddressNotOnHost { .. } => "reached-address-not-on-host",
            Failure::NoInternalIp { .. } => "no-internal-ip",
            Failure::InternalIpNotOnHost { .. } => "internal-ip-not-on-host",
        }
    }
}

fn list_or_none(v: &[String]) -> String {
    if v.is_empty() {
        "(no interfaces)".to_string()
    } else {
        v.join(", ")
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::NoInterfaces { filter, looked_at } => write!(
                f,
                "no valid host interfaces found: {filter} left none of {}",
                list_or_none(looked_at)
            ),
            Failure::NoValidAddresses { family, looked_at } => {
                write!(
                    f,
                    "no valid {family} addresses found on the host interfaces"
                )?;
                for (i, (name, why)) in looked_at.iter().enumerate() {
                    let sep = if i == 0 { ": " } else { "; " };
                    write!(f, "{sep}{name}: {why}")?;
                }
                Ok(())
            }
            Failure::BadRegex { regex, error } => write!(
                f,
                "interface regex {regex:?} does not compile ({error}), so the method yields no address"
            ),
            Failure::BadCidr { item } => write!(
                f,
                "invalid CIDR {item:?} in cidr= list: every item must be a CIDR (a bare IP or an \
                 empty item fails the whole method)"
            ),
            Failure::CanReach { dest, error } => {
                write!(f, "cannot find a route to can-reach destination {dest:?}: {error}")
            }
            Failure::ReachedAddressNotOnHost {
                dest,
                address,
                looked_at,
            } => write!(
                f,
                "the kernel would reach {dest:?} from {address}, which is on none of {}",
                list_or_none(looked_at)
            ),
            Failure::NoInternalIp { family, given } => {
                if given.is_empty() {
                    write!(
                        f,
                        "kubernetes-internal-ip needs the Node's InternalIP (none given)"
                    )
                } else {
                    let g: Vec<String> = given.iter().map(|a| a.to_string()).collect();
                    write!(
                        f,
                        "kubernetes-internal-ip: no {family} InternalIP among {}",
                        g.join(", ")
                    )
                }
            }
            Failure::InternalIpNotOnHost { address, looked_at } => write!(
                f,
                "InternalIP {address} is held by none of {}, so kubernetes-internal-ip fails",
                list_or_none(looked_at)
            ),
        }
    }
}

impl std::error::Error for Failure {}

/// What only the real host can answer, injectable for tests.
pub trait Resolver {
    /// The local source address the kernel picks for a UDP connect to
    /// `(dest, 80)` in `family` (no packet is sent). `dest` is the raw
    /// `can-reach=` value: an IP literal or a DNS name.
    fn route_source(&self, dest: &str, family: Family) -> Result<IpAddr, String>;
}

/// A found address: interface name, address, interfaces passed over.
type Found = (String, IpNet, Vec<(String, String)>);

/// Name filters for the enumeration walk.
struct NameFilter<'a> {
    /// Include regex and its label (interface=).
    include: Option<(Regex, String)>,
    /// Apply the default exclusion list.
    default_excludes: bool,
    /// User exclusion regex (skip-interface=), with its items for messages.
    exclude: Option<(Regex, &'a [String])>,
}

impl NameFilter<'_> {
    /// Why `name` is filtered out, or `None` if it is kept.
    fn rejects(&self, name: &str) -> Option<String> {
        if let Some((re, label)) = &self.include {
            if !re.is_match(name) {
                return Some(format!("name does not match {label}"));
            }
        }
        if self.default_excludes {
            if let Some(p) = default_exclusion(name) {
                return Some(format!("excluded by the default list ({p})"));
            }
        }
        if let Some((re, items)) = &self.exclude {
            if re.is_match(name) {
                let which = items.iter().find(|item| {
                    compile_go(&format!("({item})"))
                        .map(|r| r.is_match(name))
                        .unwrap_or(false)
                });
                return Some(match which {
                    Some(item) => format!("excluded by skip-interface regex {item:?}"),
                    None => format!(
                        "excluded by skip-interface regex {}",
                        join_alternation(items)
                    ),
                });
            }
        }
        None
    }

    fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some((_, label)) = &self.include {
            parts.push(label.clone());
        }
        if self.default_excludes {
            parts.push("the default exclusion list".to_string());
        }
        if let Some((_, items)) = &self.exclude {
            parts.push(format!("skip-interface regex {}", join_alternation(items)));
        }
        if parts.is_empty() {
            "no filter".to_string()
        } else {
            parts.join(" and ")
        }
    }
}

/// Calico's FilteredEnumeration: interfaces in reverse link order, name
/// filters, then the first global-unicast address of the family (inside one
/// of `cidrs` when given).
fn filtered_enumeration(
    host: &Host,
    family: Family,
    filter: &NameFilter<'_>,
    cidrs: &[IpNet],
) -> Result<Found, Failure> {
    let mut skipped = Vec::new();
    let mut kept = 0usize;
    for iface in host.ifaces.iter().rev() {
        if let Some(why) = filter.rejects(&iface.name) {
            skipped.push((iface.name.clone(), why));
            continue;
        }
        kept += 1;
        let mut rejected = Vec::new();
        for a in iface.addrs.iter().filter(|a| family.matches(a.addr())) {
            if let Some(why) = non_global_reason(a.addr()) {
                rejected.push(format!("{a} is {why}"));
                continue;
            }
            if !cidrs.is_empty() && !cidrs.iter().any(|c| cidr_contains(c, a.addr())) {
                let list: Vec<String> = cidrs.iter().map(|c| c.to_string()).collect();
                rejected.push(format!("{a} is outside {}", list.join(", ")));
                continue;
            }
            return Ok((iface.name.clone(), go_form(*a), skipped));
        }
        let why = if rejected.is_empty() {
            format!("no {family} address")
        } else {
            rejected.join("; ")
        };
        skipped.push((iface.name.clone(), why));
    }
    if kept == 0 {
        return Err(Failure::NoInterfaces {
            filter: filter.describe(),
            looked_at: host.ifaces.iter().rev().map(|i| i.name.clone()).collect(),
        });
    }
    Err(Failure::NoValidAddresses {
        family,
        looked_at: skipped,
    })
}

/// Exact match of `ip` over all interfaces (reverse order, family filter,
/// no exclusions, no unicast test): the interface and the address with its
/// prefix, plus the interfaces passed over.
fn find_exact(host: &Host, family: Family, ip: IpAddr) -> Option<Found> {
    let want = ip.to_canonical();
    let mut skipped = Vec::new();
    for iface in host.ifaces.iter().rev() {
        let hit = iface
            .addrs
            .iter()
            .filter(|a| family.matches(a.addr()))
            .find(|a| a.addr().to_canonical() == want);
        match hit {
            Some(a) => return Some((iface.name.clone(), go_form(*a), skipped)),
            None => skipped.push((iface.name.clone(), format!("does not hold {ip}"))),
        }
    }
    None
}

fn names_rev(host: &Host) -> Vec<String> {
    host.ifaces.iter().rev().map(|i| i.name.clone()).collect()
}

/// Parses and evaluates a method string in one go. The outer error is the
/// parse error (calico-node terminates), the inner one a detection failure.
pub fn detect(
    raw: &str,
    host: &Host,
    family: Family,
    resolver: &dyn Resolver,
    internal_ips: &[IpAddr],
) -> Result<Result<Pick, Failure>, MethodError> {
    let method = parse_method(raw)?;
    Ok(evaluate(&method, raw, host, family, resolver, internal_ips))
}

/// Evaluates `method` (parsed from `raw`) on `host` for `family`.
///
/// `internal_ips` are the Node's `status.addresses` of type InternalIP in
/// order; `kubernetes-internal-ip` takes the first of `family`.
pub fn evaluate(
    method: &Method,
    raw: &str,
    host: &Host,
    family: Family,
    resolver: &dyn Resolver,
    internal_ips: &[IpAddr],
) -> Result<Pick, Failure> {
    let pick = |interface: String, address: IpNet, reason: String, skipped| Pick {
        method: raw.to_string(),
        interface,
        address,
        reason,
        skipped,
    };
    match method {
        Method::FirstFound => {
            let filter = NameFilter {
                include: None,
                default_excludes: true,
                exclude: None,
            };
            let (name, addr, skipped) = filtered_enumeration(host, family, &filter, &[])?;
            let reason = format!(
                "{name} is the first interface in reverse `ip link` order that the default \
                 exclusion list lets through and that has a global unicast {family} address"
            );
            Ok(pick(name, addr, reason, skipped))
        }
        Method::Interface(items) => {
            let re = compile_list(items).map_err(|error| Failure::BadRegex {
                regex: join_alternation(items),
                error,
            })?;
            let label = format!("interface regex {}", join_alternation(items));
            let filter = NameFilter {
                include: re.map(|r| (r, label.clone())),
                default_excludes: false,
                exclude: None,
            };
            let (name, addr, skipped) = filtered_enumeration(host, family, &filter, &[])?;
            let reason = format!(
                "{name} matches {label} (unanchored) and comes first in reverse `ip link` order \
                 with a global unicast {family} address; no default exclusions apply"
            );
            Ok(pick(name, addr, reason, skipped))
        }
        Method::SkipInterface(items) => {
            let re = compile_list(items).map_err(|error| Failure::BadRegex {
                regex: join_alternation(items),
                error,
            })?;
            let filter = NameFilter {
                include: None,
                default_excludes: true,
                exclude: re.map(|r| (r, items.as_slice())),
            };
            let (name, addr, skipped) = filtered_enumeration(host, family, &filter, &[])?;
            let reason = format!(
                "{name} is the first interface in reverse `ip link` order not excluded by the \
                 default list or by {} and with a global unicast {family} address",
                join_alternation(items)
            );
            Ok(pick(name, addr, reason, skipped))
        }
        Method::Cidr(items) => {
            let mut cidrs = Vec::with_capacity(items.len());
            for item in items {
                match parse_go_cidr(item) {
                    Some(c) => cidrs.push(c),
                    None => return Err(Failure::BadCidr { item: item.clone() }),
                }
            }
            let filter = NameFilter {
                include: None,
                default_excludes: false,
                exclude: None,
            };
            let (name, addr, skipped) = filtered_enumeration(host, family, &filter, &cidrs)?;
            let list: Vec<String> = cidrs.iter().map(|c| c.to_string()).collect();
            let reason = format!(
                "{} is the first global unicast {family} address inside {} in reverse `ip link` \
                 order, then address order (list order does not matter; no exclusions)",
                addr.addr(),
                list.join(", ")
            );
            Ok(pick(name, addr, reason, skipped))
        }
        Method::CanReach(dest) => {
            let src = resolver
                .route_source(dest, family)
                .map_err(|error| Failure::CanReach {
                    dest: dest.clone(),
                    error,
                })?;
            match find_exact(host, family, src) {
                Some((name, addr, skipped)) => {
                    let reason = format!(
                        "the kernel routes to {dest} from {src}, which {name} holds as {addr}"
                    );
                    Ok(pick(name, addr, reason, skipped))
                }
                None => Err(Failure::ReachedAddressNotOnHost {
                    dest: dest.clone(),
                    address: src,
                    looked_at: names_rev(host),
                }),
            }
        }
        Method::KubernetesInternalIp => {
            let Some(ip) = internal_ips.iter().copied().find(|ip| family.matches(*ip)) else {
                return Err(Failure::NoInternalIp {
                    family,
                    given: internal_ips.to_vec(),
                });
            };
            match find_exact(host, family, ip) {
                Some((name, addr, skipped)) => {
                    let reason = format!(
                        "the Node's first {family} InternalIP {ip} is held by {name} as {addr}"
                    );
                    Ok(pick(name, addr, reason, skipped))
                }
                None => Err(Failure::InternalIpNotOnHost {
                    address: ip,
                    looked_at: names_rev(host),
                }),
            }
        }
    }
}

/// Method strings a user would likely try on `host`, in a sensible order:
/// `first-found`, `interface=` and `skip-interface=` for each interface the
/// default list lets through that has a global address, `cidr=` for each
/// global address's network, `can-reach=` the default gateway (when known)
/// and `kubernetes-internal-ip` (when an InternalIP of the family is given).
pub fn likely_methods(
    host: &Host,
    family: Family,
    default_gateway: Option<IpAddr>,
    internal_ips: &[IpAddr],
) -> Vec<String> {
    let mut out = vec!["first-found".to_string()];
    let has_global = |i: &HostIface| {
        i.addrs
            .iter()
            .any(|a| family.matches(a.addr()) && is_global_unicast(a.addr()))
    };
    let candidates: Vec<&HostIface> = host
        .ifaces
        .iter()
        .filter(|i| default_exclusion(&i.name).is_none() && has_global(i))
        .collect();
    for i in &candidates {
        out.push(format!("interface={}", i.name));
    }
    for i in &candidates {
        out.push(format!("skip-interface={}", i.name));
    }
    let mut nets: Vec<IpNet> = Vec::new();
    for i in &host.ifaces {
        for a in &i.addrs {
            if family.matches(a.addr()) && is_global_unicast(a.addr()) {
                let n = go_form(*a).trunc();
                if !nets.contains(&n) {
                    nets.push(n);
                }
            }
        }
    }
    for n in nets {
        out.push(format!("cidr={n}"));
    }
    if let Some(gw) = default_gateway.filter(|g| family.matches(*g)) {
        out.push(format!("can-reach={gw}"));
    }
    if internal_ips.iter().any(|ip| family.matches(*ip)) {
        out.push("kubernetes-internal-ip".to_string());
    }
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grammar() {
        assert_eq!(parse_method(""), Ok(Method::FirstFound));
        assert_eq!(parse_method("first-found"), Ok(Method::FirstFound));
        assert!(parse_method("first-found ").is_err());
        assert!(parse_method("First-found").is_err());
        assert!(parse_method(" interface=eth0").is_err());
        assert!(parse_method("eth1").is_err());
        assert_eq!(
            parse_method("interface=eth0, eth1 "),
            Ok(Method::Interface(vec!["eth0".into(), "eth1 ".into()]))
        );
        assert_eq!(
            parse_method("can-reach=a,b"),
            Ok(Method::CanReach("a,b".into()))
        );
        assert_eq!(
            parse_method("kubernetes-internal-ipfoo"),
            Ok(Method::KubernetesInternalIp)
        );
        assert_eq!(parse_method("cidr="), Ok(Method::Cidr(vec!["".into()])));
    }

    #[test]
    fn global_unicast_like_go() {
        for bad in [
            "0.0.0.0",
            "255.255.255.255",
            "127.0.0.2",
            "169.254.1.1",
            "224.0.0.1",
            "239.1.1.1",
            "::",
            "::1",
            "fe80::1",
            "febf::1",
            "ff02::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(!is_global_unicast(bad.parse().unwrap()), "{bad}");
        }
        for good in [
            "10.0.0.1",
            "100.64.0.1",
            "192.168.1.1",
            "240.0.0.1",
            "0.0.0.1",
            "fd00::1",
            "2001:db8::1",
            "fec0::1",
        ] {
            assert!(is_global_unicast(good.parse().unwrap()), "{good}");
        }
    }

    #[test]
    fn cidr_parsing() {
        assert_eq!(
            parse_go_cidr("10.1.2.3/8"),
            Some("10.0.0.0/8".parse().unwrap())
        );
        assert_eq!(
            parse_go_cidr("10.0.0.0/08"),
            Some("10.0.0.0/8".parse().unwrap())
        );
        assert_eq!(
            parse_go_cidr("10.0.2.0/000000024"),
            Some("10.0.2.0/24".parse().unwrap())
        );
        let zeros = format!("10.0.0.0/{}8", "0".repeat(200));
        assert_eq!(parse_go_cidr(&zeros), Some("10.0.0.0/8".parse().unwrap()));
        // dtoi gives up at 0xFFFFFF, so a huge length is garbage, not /33+.
        assert_eq!(parse_go_cidr("10.0.0.0/16777215"), None);
        assert_eq!(parse_go_cidr("10.0.0.0/99999999999999999999"), None);
        assert_eq!(parse_go_cidr("10.0.0.0/8 "), None);
        assert_eq!(parse_go_cidr("10.0.2.15"), None);
        assert_eq!(parse_go_cidr(""), None);
        assert_eq!(parse_go_cidr("10.0.0.0/33"), None);
        assert_eq!(parse_go_cidr("10.0.0.0/"), None);
        assert_eq!(parse_go_cidr("10.0.0.0/+8"), None);
        assert_eq!(parse_go_cidr(" 10.0.0.0/8"), None);
        assert_eq!(parse_go_cidr("010.0.0.0/8"), None);
        assert_eq!(parse_go_cidr("fe80::1%eth0/64"), None);
        assert_eq!(
            parse_go_cidr("fd00::1/8"),
            Some("fd00::/8".parse().unwrap())
        );
        let mapped = parse_go_cidr("::ffff:10.0.0.0/104").unwrap();
        assert!(cidr_contains(&mapped, "10.1.1.1".parse().unwrap()));
        let all6 = parse_go_cidr("::/0").unwrap();
        assert!(!cidr_contains(&all6, "10.1.1.1".parse().unwrap()));
    }
}
