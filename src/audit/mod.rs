//! Audits over a [`Report`]: where the tunnels run compared with what was
//! expected, and the path problems users hit (asymmetry, fragmentation, MTU
//! black holes, pod traffic outside the tunnel, IPIP from strangers).
//!
//! Pure functions of the report and the [`Expect`]ations, so files and live
//! captures are audited the same way and tests need no root.

mod checks;
pub mod expect;
pub mod nodes;

use std::cmp::Ordering;
use std::net::IpAddr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::decode::Encap;
use crate::report::Report;

pub use expect::{Expect, MethodPick};
pub use nodes::read_nodes;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Info,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

/// What a finding is about; serde writes the names `--ignore` takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FindingKind {
    UnexpectedInterface,
    AsymmetricPath,
    Fragmentation,
    NearMtu,
    IcmpTooBig,
    OutsidePodCidr,
    UnencapsulatedPodTraffic,
    UnknownPeer,
}

impl FindingKind {
    pub const ALL: [FindingKind; 8] = [
        FindingKind::UnexpectedInterface,
        FindingKind::AsymmetricPath,
        FindingKind::Fragmentation,
        FindingKind::NearMtu,
        FindingKind::IcmpTooBig,
        FindingKind::OutsidePodCidr,
        FindingKind::UnencapsulatedPodTraffic,
        FindingKind::UnknownPeer,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::UnexpectedInterface => "unexpected-interface",
            FindingKind::AsymmetricPath => "asymmetric-path",
            FindingKind::Fragmentation => "fragmentation",
            FindingKind::NearMtu => "near-mtu",
            FindingKind::IcmpTooBig => "icmp-too-big",
            FindingKind::OutsidePodCidr => "outside-pod-cidr",
            FindingKind::UnencapsulatedPodTraffic => "unencapsulated-pod-traffic",
            FindingKind::UnknownPeer => "unknown-peer",
        }
    }
}

/// One problem, with its evidence and a plain explanation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub kind: FindingKind,
    pub severity: Severity,
    /// The NIC, or several for path findings. The JSON holds them joined
    /// with `", "` (`"ens33, ens32"`), as it always has; a name holding
    /// `", "` itself would read back as two.
    #[serde(serialize_with = "join", deserialize_with = "split")]
    pub interface: Vec<String>,
    /// Outer pair of the tunnel concerned (the plain pair for unencapsulated
    /// traffic, the quoted pair for ICMP errors).
    pub outer_src: Option<IpAddr>,
    pub outer_dst: Option<IpAddr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encap: Option<Encap>,
    /// Packets that show the problem.
    pub packets: u64,
    pub detail: String,
    /// Time of the first packet concerned (RFC 3339), when known.
    pub first_seen: Option<String>,
}

impl Finding {
    /// The interfaces as the JSON and the table show them: `ens33, ens32`.
    pub fn interfaces(&self) -> String {
        self.interface.join(SEP)
    }
}

const SEP: &str = ", ";

fn join<S: Serializer>(names: &[String], s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&names.join(SEP))
}

fn split<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
    Ok(text.split(SEP).map(str::to_string).collect())
}

/// Orders interface lists as their joined text does, without joining them:
/// findings keep the order they had when the field was that text.
fn cmp_joined(a: &[String], b: &[String]) -> Ordering {
    fn chars(v: &[String]) -> impl Iterator<Item = char> + '_ {
        v.iter()
            .enumerate()
            .flat_map(|(i, n)| if i == 0 { "" } else { SEP }.chars().chain(n.chars()))
    }
    chars(a).cmp(chars(b))
}

/// `tuntrace audit --format json`: the findings first, then what was
/// expected and the report they were drawn from.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Audited {
    pub findings: Vec<Finding>,
    pub expect: Expect,
    pub report: Report,
}

/// Runs every check whose inputs are present; findings sorted by severity,
/// kind, interface.
pub fn audit(report: &Report, expect: &Expect) -> Vec<Finding> {
    let mut out = Vec::new();
    checks::interfaces(report, expect, &mut out);
    checks::two_nics(report, expect, &mut out);
    checks::asymmetry(report, expect, &mut out);
    checks::mtu(report, expect, &mut out);
    checks::too_big(report, expect, &mut out);
    checks::pods(report, expect, &mut out);
    checks::unknown_peers(report, expect, &mut out);
    out.sort_by(|a, b| {
        (a.severity, a.kind.as_str())
            .cmp(&(b.severity, b.kind.as_str()))
            .then_with(|| cmp_joined(&a.interface, &b.interface))
            .then_with(|| (a.outer_src, a.outer_dst).cmp(&(b.outer_src, b.outer_dst)))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on(interface: &[&str]) -> Finding {
        Finding {
            kind: FindingKind::AsymmetricPath,
            severity: Severity::Warning,
            interface: interface.iter().map(|s| s.to_string()).collect(),
            outer_src: Some("192.168.30.71".parse().unwrap()),
            outer_dst: None,
            encap: Some(Encap::Vxlan),
            packets: 4,
            detail: "d".into(),
            first_seen: None,
        }
    }

    #[test]
    fn finding_json_keeps_joined_interfaces_and_kebab_names() {
        let f = on(&["ens33", "ens32"]);
        let json = serde_json::to_string(&f).unwrap();
        assert_eq!(
            json,
            r#"{"kind":"asymmetric-path","severity":"warning","interface":"ens33, ens32","outer_src":"192.168.30.71","outer_dst":null,"encap":"vxlan","packets":4,"detail":"d","first_seen":null}"#
        );
        assert_eq!(serde_json::from_str::<Finding>(&json).unwrap(), f);
        for k in FindingKind::ALL {
            let name = serde_json::to_string(&k).unwrap();
            assert_eq!(name, format!("\"{}\"", k.as_str()));
        }
    }

    #[test]
    fn interface_lists_sort_as_their_joined_text() {
        // '!' sorts before ',': the text "a!x" < "a, b", while the lists
        // compare the other way ("a" < "a!x").
        let lists = [
            vec!["a!x"],
            vec!["a", "b"],
            vec!["a"],
            vec!["a-x"],
            vec!["b"],
        ];
        for x in &lists {
            for y in &lists {
                let (fx, fy) = (on(x), on(y));
                assert_eq!(
                    cmp_joined(&fx.interface, &fy.interface),
                    fx.interfaces().cmp(&fy.interfaces()),
                    "{x:?} vs {y:?}"
                );
            }
        }
    }
}
