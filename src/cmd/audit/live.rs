//! `audit`'s live capture: the capture session with the tunnel filter
//! widened to ICMP (too-big errors) and the pod networks (pod traffic that
//! skips the tunnel), for a fixed time, then one report.

use crate::cli::AuditArgs;
use crate::exit;
use crate::flows::Limits;
use crate::os::Platform;
use crate::report::Report;
use crate::session::{self, open_chosen, Plan, Session};
use crate::sources::live::{CaptureConfig, FilterChoice};

use super::super::live::parse_duration;
use crate::audit::Expect;

/// Headers only, as `live`.
const SNAPLEN: u32 = 256;

/// Captures for `--duration` (or until a signal) and builds the report.
/// Sets each NIC's MTU into `expect` unless `--mtu` was given.
pub(super) fn capture(
    platform: &dyn Platform,
    a: &AuditArgs,
    expect: &mut Expect,
) -> Result<Report, u8> {
    let duration = parse_duration(&a.duration).map_err(|e| {
        super::super::error(format!("--duration {:?}: {e}", a.duration));
        exit::USAGE
    })?;
    let mut extra = vec!["icmp".to_string(), "icmp6".to_string()];
    for c in &expect.pod_cidrs {
        extra.push(format!("net {c}"));
    }
    let cfg = CaptureConfig {
        snaplen: SNAPLEN,
        buffer_bytes: 8 << 20,
        filter: FilterChoice::Tunnels {
            vxlan_ports: a.decode.vxlan_ports.clone(),
            geneve_ports: a.decode.geneve_ports.clone(),
            extra: extra.join(" or "),
        },
    };
    let run = async {
        let mut stops = platform.stop_requests().map_err(|e| {
            super::super::error(format!("cannot handle signals: {e}"));
            exit::USAGE
        })?;
        let opened = open_chosen(platform, &a.interfaces, &cfg).map_err(|_| exit::USAGE)?;
        session::drop_privileges(platform, &a.user, true).map_err(|_| exit::USAGE)?;
        let names: Vec<String> = opened.nics.iter().map(|n| n.name().to_string()).collect();
        if a.mtu.is_none() {
            for n in &names {
                if let Some(m) = platform.mtu(n) {
                    expect.iface_mtu.insert(n.clone(), m);
                }
            }
        }
        eprintln!(
            "tuntrace: capturing on {} (tunnels, ICMP{}) for {:?}",
            names.join(", "),
            if expect.pod_cidrs.is_empty() {
                ""
            } else {
                ", pod networks"
            },
            duration
        );
        let limits = Limits {
            track_plain: true,
            ..super::super::limits(&a.decode)
        };
        let plan = Plan {
            duration: Some(duration),
            reopen: Some(platform.reopener(&cfg)),
            ..Plan::new(super::super::decode_config(&a.decode), limits)
        };
        let mut session = Session::start(opened.nics, plan, &opened.known);
        session
            .run(&mut stops, std::future::pending(), |_, _| {})
            .await;
        Ok(session.report())
    };
    session::block_on(run).unwrap_or_else(|e| {
        super::super::error(format!("cannot start the runtime: {e}"));
        Err(exit::USAGE)
    })
}
