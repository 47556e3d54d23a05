//! `tuntrace autodetect [METHOD]`: the interface and address calico-node
//! would pick on this host (or on a `--host-file`), and why.

use std::io::Write;
use std::net::IpAddr;

use serde::Serialize;
use serde_json::json;

use crate::calico::autodetect::{
    evaluate, likely_methods, parse_method, Failure, Family, Host, Pick, Resolver,
};
use crate::calico::host::{AddrEntry, HostInfo, NeighEntry, NeighTable, RouteEntry};
use crate::calico::hostfile::{read_host_file, HostFile};
use crate::calico::routes::default_gateway;
use crate::calico::version::CalicoVersion;
use crate::calico::{read_host, SystemResolver};
use crate::cli::{AutodetectArgs, HostArgs, OutFormat};
use crate::exit;
use crate::os::netlink::{Af, Netlink};

/// The real kernel behind Calico's [`HostInfo`] (for `autodetect`, `routes`
/// and `audit`): `os::netlink`'s entries carried over field by field.
impl HostInfo for Netlink {
    fn links(&self) -> std::io::Result<Vec<(u32, String)>> {
        Netlink::links(self)
    }

    fn addresses(&self) -> std::io::Result<Vec<AddrEntry>> {
        Netlink::addresses(self, Af::All)
    }

    fn routes(&self, family: Family) -> std::io::Result<Vec<RouteEntry>> {
        let af = match family {
            Family::V4 => Af::V4,
            Family::V6 => Af::V6,
        };
        Netlink::routes(self, af)
    }

    fn route_get(&self, dst: IpAddr) -> std::io::Result<RouteEntry> {
        Netlink::route_get(self, dst)
    }

    fn neighbours(&self, table: NeighTable) -> std::io::Result<Vec<NeighEntry>> {
        let af = match table {
            NeighTable::V4 => Af::V4,
            NeighTable::V6 => Af::V6,
            NeighTable::Bridge => Af::Bridge,
        };
        Netlink::neighbours(self, af)
    }
}

/// The host to evaluate and what answers its route questions.
pub struct HostSource {
    pub host: Host,
    pub family: Family,
    pub resolver: Box<dyn Resolver>,
    pub default_gateway: Option<IpAddr>,
    pub internal_ips: Vec<IpAddr>,
    /// "this host" or the file's path, for messages.
    pub origin: String,
    /// Whose rules the host was read by.
    pub version: CalicoVersion,
}

/// Reads the host from `--host-file` or from this network namespace.
pub fn load_host(a: &HostArgs) -> Result<HostSource, String> {
    load_host_from(a, &Netlink, Box::new(SystemResolver))
}

/// Reads the host from `--host-file`, or from `kernel` with `resolver`
/// answering `can-reach=`.
pub fn load_host_from(
    a: &HostArgs,
    kernel: &dyn HostInfo,
    resolver: Box<dyn Resolver>,
) -> Result<HostSource, String> {
    let family = if a.family == 6 {
        Family::V6
    } else {
        Family::V4
    };
    match &a.host_file {
        Some(path) => {
            let f: HostFile = read_host_file(path, a.calico_version)?;
            let mut internal_ips = a.internal_ips.clone();
            if internal_ips.is_empty() {
                internal_ips = f.internal_ips.clone();
            }
            Ok(HostSource {
                host: f.host.clone(),
                family,
                default_gateway: f.default_gateway,
                internal_ips,
                resolver: Box::new(f),
                origin: path.display().to_string(),
                version: a.calico_version,
            })
        }
        None => {
            let host = read_host(kernel, Some(family), a.calico_version)
                .map_err(|e| format!("cannot read this host's interfaces over netlink: {e}"))?;
            Ok(HostSource {
                host,
                family,
                resolver,
                // A host without a default route simply gets no can-reach suggestion.
                default_gateway: default_gateway(kernel, family).ok().flatten(),
                internal_ips: a.internal_ips.clone(),
                origin: "this host".into(),
                version: a.calico_version,
            })
        }
    }
}

impl HostSource {
    /// Evaluates an already parsed method string.
    pub fn evaluate(&self, raw: &str) -> Result<Result<Pick, Failure>, String> {
        let m = parse_method(raw).map_err(|e| e.to_string())?;
        Ok(evaluate(
            &m,
            raw,
            &self.host,
            self.family,
            self.resolver.as_ref(),
            &self.internal_ips,
        ))
    }
}

/// One line of output: a pick or a failure.
#[derive(Serialize)]
struct Outcome {
    method: String,
    /// The Calico release whose rules were applied, e.g. `v3.32`.
    calico_version: String,
    interface: Option<String>,
    address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    skipped: Vec<Skipped>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<serde_json::Value>,
}

impl Outcome {
    /// Why nothing was picked, for people (the JSON keeps the whole error).
    fn error_message(&self) -> &str {
        self.error
            .as_ref()
            .and_then(|e| e["message"].as_str())
            .unwrap_or("no address")
    }
}

#[derive(Serialize)]
struct Skipped {
    interface: String,
    why: String,
}

fn outcome(raw: &str, version: CalicoVersion, r: &Result<Pick, Failure>) -> Outcome {
    match r {
        Ok(p) => Outcome {
            method: raw.to_string(),
            calico_version: version.to_string(),
            interface: Some(p.interface.clone()),
            address: Some(p.address.to_string()),
            reason: Some(p.reason.clone()),
            skipped: p
                .skipped
                .iter()
                .map(|(i, w)| Skipped {
                    interface: i.clone(),
                    why: w.clone(),
                })
                .collect(),
            error: None,
        },
        Err(f) => Outcome {
            method: raw.to_string(),
            calico_version: version.to_string(),
            interface: None,
            address: None,
            reason: None,
            skipped: Vec::new(),
            error: Some(json!({"kind": f.kind(), "message": f.to_string(), "detail": f})),
        },
    }
}

pub fn run(args: &AutodetectArgs) -> u8 {
    if let Some(raw) = &args.method {
        // Reject a bad method before touching the host: calico-node would terminate.
        if let Err(e) = parse_method(raw) {
            super::error(e);
            return exit::USAGE;
        }
    }
    let src = match load_host(&args.host) {
        Ok(s) => s,
        Err(e) => {
            super::error(e);
            return exit::USAGE;
        }
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let outcomes = match answer(args, &src, &mut out) {
        Ok(o) => o,
        Err(e) => {
            super::error(e);
            return exit::USAGE;
        }
    };
    let any_pick = outcomes.iter().any(|o| o.interface.is_some());
    if let Some(o) = outcomes.first().filter(|o| o.error.is_some()) {
        if args.method.is_some() {
            super::error(format!("{}: {}", show(&o.method), o.error_message()));
        }
    }
    if any_pick {
        exit::OK
    } else {
        exit::NOTHING_MATCHED
    }
}

/// Evaluates the method (or the likely ones) on `src` and writes the answer
/// in the chosen format. A write error other than a closed pipe is reported
/// on stderr; a method error is returned.
fn answer(
    args: &AutodetectArgs,
    src: &HostSource,
    out: &mut dyn Write,
) -> Result<Vec<Outcome>, String> {
    let methods = match &args.method {
        Some(m) => vec![m.clone()],
        None => likely_methods(
            &src.host,
            src.family,
            src.default_gateway,
            &src.internal_ips,
        ),
    };
    let mut outcomes = Vec::with_capacity(methods.len());
    for m in &methods {
        outcomes.push(outcome(m, src.version, &src.evaluate(m)?));
    }
    let written = match (args.format, args.method.is_some()) {
        (OutFormat::Json, true) => {
            serde_json::to_writer_pretty(&mut *out, &outcomes[0]).map_err(std::io::Error::from)
        }
        (OutFormat::Json, false) => serde_json::to_writer_pretty(
            &mut *out,
            &json!({
                "host": src.origin,
                "family": src.family.version(),
                "calico_version": src.version.to_string(),
                "methods": outcomes,
            }),
        )
        .map_err(std::io::Error::from),
        (OutFormat::Table, true) => table_one(&outcomes[0], src.version, out),
        (OutFormat::Table, false) => table_many(&outcomes, &src.origin, src.version, out),
    }
    .and_then(|_| writeln!(out));
    if let Err(e) = written {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            super::error(format!("writing the answer: {e}"));
        }
    }
    Ok(outcomes)
}

/// A method for display: the empty string is shown as such.
fn show(m: &str) -> String {
    if m.is_empty() {
        "\"\" (first-found)".into()
    } else {
        m.to_string()
    }
}

fn table_one(o: &Outcome, version: CalicoVersion, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(out, "method     {}", show(&o.method))?;
    writeln!(out, "rules      {}", version.rules())?;
    match (&o.interface, &o.address) {
        (Some(i), Some(a)) => {
            writeln!(out, "interface  {i}")?;
            writeln!(out, "address    {a}")?;
            writeln!(out, "reason     {}", o.reason.as_deref().unwrap_or(""))?;
            for (n, s) in o.skipped.iter().enumerate() {
                let label = if n == 0 { "skipped" } else { "" };
                writeln!(out, "{label:<10} {}: {}", s.interface, s.why)?;
            }
            Ok(())
        }
        _ => write!(out, "result     nothing picked: {}", o.error_message()),
    }
}

fn table_many(
    os: &[Outcome],
    origin: &str,
    version: CalicoVersion,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let w = os
        .iter()
        .map(|o| show(&o.method).len())
        .max()
        .unwrap_or(6)
        .max(6);
    let wi = os
        .iter()
        .filter_map(|o| o.interface.as_ref().map(String::len))
        .max()
        .unwrap_or(0)
        .max("INTERFACE".len());
    writeln!(out, "Picks on {origin} by {}:", version.rules())?;
    writeln!(out, "{:<w$}  {:<wi$}  ADDRESS", "METHOD", "INTERFACE")?;
    for o in os {
        match (&o.interface, &o.address) {
            (Some(i), Some(a)) => writeln!(out, "{:<w$}  {i:<wi$}  {a}", show(&o.method))?,
            _ => writeln!(
                out,
                "{:<w$}  {:<wi$}  ({})",
                show(&o.method),
                "-",
                o.error_message()
            )?,
        }
    }
    write!(
        out,
        "Give one METHOD for the reason and the interfaces passed over."
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calico::version::CURRENT;
    use std::io;

    /// A node with a point-to-point link listed last and an ordinary NIC.
    struct Node;

    impl HostInfo for Node {
        fn links(&self) -> io::Result<Vec<(u32, String)>> {
            Ok(vec![
                (1, "lo".into()),
                (2, "ens33".into()),
                (3, "ppp0".into()),
            ])
        }
        fn addresses(&self) -> io::Result<Vec<AddrEntry>> {
            let e = |index, address: &str, local: &str, prefix_len| AddrEntry {
                index,
                prefix_len,
                address: Some(address.parse().unwrap()),
                local: Some(local.parse().unwrap()),
            };
            Ok(vec![
                e(1, "127.0.0.1", "127.0.0.1", 8),
                e(2, "192.168.30.71", "192.168.30.71", 24),
                e(3, "10.0.0.2", "10.0.0.1", 24),
            ])
        }
        fn routes(&self, _f: Family) -> io::Result<Vec<RouteEntry>> {
            Ok(vec![RouteEntry {
                dst: Some("0.0.0.0/0".parse().unwrap()),
                table: 254,
                proto: 3,
                kind: 1,
                priority: 0,
                prefsrc: None,
                hops: vec![(Some(2), Some("192.168.30.2".parse().unwrap()))],
            }])
        }
        fn route_get(&self, dst: IpAddr) -> io::Result<RouteEntry> {
            Err(io::Error::other(format!("no route to {dst}")))
        }
        fn neighbours(&self, _t: NeighTable) -> io::Result<Vec<NeighEntry>> {
            Ok(Vec::new())
        }
    }

    fn args(method: Option<&str>, format: OutFormat, version: &str) -> AutodetectArgs {
        AutodetectArgs {
            method: method.map(str::to_string),
            host: HostArgs {
                host_file: None,
                internal_ips: Vec::new(),
                family: 4,
                calico_version: version.parse().unwrap(),
            },
            format,
        }
    }

    /// `can-reach=` on the fake node: no route anywhere.
    struct NoRoute;

    impl Resolver for NoRoute {
        fn route_source(&self, dest: &str, _f: Family) -> Result<IpAddr, String> {
            Err(format!("no route to {dest}"))
        }
    }

    fn printed(a: &AutodetectArgs) -> String {
        let src = load_host_from(&a.host, &Node, Box::new(NoRoute)).unwrap();
        let mut out = Vec::new();
        answer(a, &src, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn one_method_table_names_the_rules() {
        let text = printed(&args(Some("first-found"), OutFormat::Table, "3.32"));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "method     first-found");
        assert_eq!(lines[1], format!("rules      {}", CURRENT.rules()));
        assert_eq!(lines[2], "interface  ppp0");
        assert_eq!(lines[3], "address    10.0.0.1/32");
        let old = printed(&args(Some("first-found"), OutFormat::Table, "3.31"));
        assert!(old.contains("rules      Calico v3.31 ("), "{old}");
        assert!(old.contains("address    10.0.0.1/24"), "{old}");
    }

    #[test]
    fn many_methods_table_header_and_rows() {
        let text = printed(&args(None, OutFormat::Table, "3.32"));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            format!("Picks on this host by {}:", CURRENT.rules())
        );
        assert_eq!(lines[1], "METHOD                  INTERFACE  ADDRESS");
        assert_eq!(lines[2], "first-found             ppp0       10.0.0.1/32");
        assert!(
            lines.contains(&"interface=ens33         ens33      192.168.30.71/24"),
            "{text}"
        );
        assert!(
            lines.contains(&"can-reach=192.168.30.2  -          (cannot find a route to can-reach destination \"192.168.30.2\": no route to 192.168.30.2)"),
            "{text}"
        );
    }

    #[test]
    fn json_names_the_rules() {
        let one: serde_json::Value = serde_json::from_str(&printed(&args(
            Some("interface=ppp0"),
            OutFormat::Json,
            "3.31",
        )))
        .unwrap();
        assert_eq!(one["calico_version"], "v3.31");
        assert_eq!(one["address"], "10.0.0.1/24");
        let many: serde_json::Value =
            serde_json::from_str(&printed(&args(None, OutFormat::Json, "3.32"))).unwrap();
        assert_eq!(many["calico_version"], "v3.32");
        assert_eq!(many["methods"][0]["address"], "10.0.0.1/32");
        assert_eq!(many["methods"][0]["calico_version"], "v3.32");
    }
}
