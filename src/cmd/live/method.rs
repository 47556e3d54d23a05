//! `live --metrics --expect-method`: Calico's IP_AUTODETECTION_METHOD
//! evaluated on this host (or `--host-file`) at start and again every
//! [`EVERY`], so `tuntrace_autodetect_info` and the audit follow a pick that
//! changes (an address moved, a NIC went down).

use std::time::{Duration, Instant};

use crate::audit::MethodPick;
use crate::cli::HostArgs;
use crate::cmd::autodetect::load_host;

/// How often the method is evaluated again.
pub const EVERY: Duration = Duration::from_secs(5);

/// The method, where the host comes from, and the last evaluation.
pub struct MethodWatch {
    method: String,
    host: HostArgs,
    last: Instant,
    /// The last pick; `None` when the method picked nothing.
    pub pick: Option<MethodPick>,
}

impl MethodWatch {
    /// Evaluates once; `Err` (exit 2) for a method that does not parse or a
    /// host that cannot be read.
    pub fn start(method: &str, host: &HostArgs) -> Result<MethodWatch, String> {
        let mut w = MethodWatch {
            method: method.to_string(),
            host: host.clone(),
            last: Instant::now(),
            pick: None,
        };
        w.pick = w.evaluate()?;
        Ok(w)
    }

    /// Evaluates again when [`EVERY`] has passed; true when the pick changed.
    pub fn refresh(&mut self) -> bool {
        if self.last.elapsed() < EVERY {
            return false;
        }
        self.last = Instant::now();
        match self.evaluate() {
            Ok(pick) if pick != self.pick => {
                self.pick = pick;
                true
            }
            Ok(_) => false,
            Err(e) => {
                eprintln!("tuntrace: warning: --expect-method: {e}; keeping the last pick");
                false
            }
        }
    }

    fn evaluate(&self) -> Result<Option<MethodPick>, String> {
        let src = load_host(&self.host)?;
        let pick = match src
            .evaluate(&self.method)
            .map_err(|e| format!("--expect-method: {e}"))?
        {
            Ok(p) => p,
            Err(f) => {
                eprintln!(
                    "tuntrace: warning: --expect-method {:?} picks nothing on {}: {f}",
                    self.method, src.origin
                );
                return Ok(None);
            }
        };
        Ok(Some(MethodPick {
            method: self.method.clone(),
            interface: pick.interface,
            address: pick.address,
            local_addrs: src
                .host
                .ifaces
                .iter()
                .flat_map(|i| i.addrs.iter().map(|n| n.addr()))
                .collect(),
            local_ifaces: src.host.ifaces.iter().map(|i| i.name.clone()).collect(),
        }))
    }
}
