//! One module per subcommand; each returns its exit code.

pub mod audit;
pub mod autodetect;
pub mod live;
pub mod merge;
pub mod probe;
mod progress;
pub mod read;
pub mod routes;

use crate::cli::DecodeArgs;
use crate::decode::DecodeConfig;
use crate::flows::Limits;

/// Decoder settings from the flags: the default ports plus the extra ones.
pub fn decode_config(a: &DecodeArgs) -> DecodeConfig {
    let mut cfg = DecodeConfig {
        max_depth: a.max_depth,
        ..DecodeConfig::default()
    };
    for p in &a.vxlan_ports {
        if !cfg.vxlan_ports.contains(p) {
            cfg.vxlan_ports.push(*p);
        }
    }
    for p in &a.geneve_ports {
        if !cfg.geneve_ports.contains(p) {
            cfg.geneve_ports.push(*p);
        }
    }
    cfg
}

pub fn limits(a: &DecodeArgs) -> Limits {
    Limits {
        max_tunnels: a.max_tunnels.max(1),
        max_pairs_per_tunnel: a.max_pairs,
        ..Limits::default()
    }
}

/// Prints an error line prefixed with the program name.
pub fn error(msg: impl std::fmt::Display) {
    eprintln!("tuntrace: {msg}");
}
