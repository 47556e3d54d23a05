//! Audits over a [`Report`]: where the tunnels run compared with what was
//! expected, and the path problems users hit (asymmetry, fragmentation, MTU
//! black holes, pod traffic outside the tunnel, IPIP from strangers).
//!
//! Pure functions of the report and the [`Expect`]ations, so files and live
//! captures are audited the same way and tests need no root.

mod checks;
pub mod expect;
pub mod nodes;

use std::net::IpAddr;

use serde::Serialize;

use crate::report::Report;

pub use expect::{Expect, MethodPick};
pub use nodes::{parse_nodes, read_nodes, Nodes};

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
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

/// One problem, with its evidence and a plain explanation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// `unexpected-interface`, `asymmetric-path`, `fragmentation`, `near-mtu`,
    /// `icmp-too-big`, `outside-pod-cidr`, `unencapsulated-pod-traffic`,
    /// `unknown-peer`.
    pub kind: &'static str,
    pub severity: Severity,
    /// The NIC (several, comma-separated, for path findings).
    pub interface: String,
    /// Outer pair of the tunnel concerned (the plain pair for unencapsulated
    /// traffic, the quoted pair for ICMP errors).
    pub outer_src: Option<IpAddr>,
    pub outer_dst: Option<IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encap: Option<&'static str>,
    /// Packets that show the problem.
    pub packets: u64,
    pub detail: String,
    /// Time of the first packet concerned (RFC 3339), when known.
    pub first_seen: Option<String>,
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
        (a.severity, a.kind, &a.interface, a.outer_src, a.outer_dst).cmp(&(
            b.severity,
            b.kind,
            &b.interface,
            b.outer_src,
            b.outer_dst,
        ))
    });
    out
}
