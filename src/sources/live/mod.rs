//! Live NICs as frame sources: the [`Nic`] trait a capture session reads,
//! whatever is behind it (a libpcap handle in `os::pcap`, or a [`replay`] of
//! a capture file in tests). A source yields frames and kernel counters
//! only; decoding and counting sit above it (`session`).
//!
//! - `filter`: the default kernel filter (tunnel traffic only).
//! - `replay`: a fake NIC that plays a capture file back in real time, with
//!   drops and a vanishing NIC on cue.

pub mod filter;
pub mod replay;

use std::fmt;
use std::time::Duration;

pub use filter::tunnel_filter;

use crate::linktype::LinkType;
use crate::sources::Frame;

/// What the kernel filter keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilterChoice {
    /// The tunnel filter, with the extra VXLAN / Geneve ports, and `extra`
    /// (tcpdump syntax, `or`-ed in front) when not empty: audit adds ICMP
    /// and pod networks, probe its own echo.
    Tunnels {
        vxlan_ports: Vec<u16>,
        geneve_ports: Vec<u16>,
        extra: String,
    },
    /// The user's `--filter`.
    User(String),
    /// `--all-traffic`: no filter.
    All,
}

impl FilterChoice {
    /// The BPF text for a NIC of `linktype`, or `None` for no filter.
    pub fn expression(&self, linktype: LinkType) -> Option<String> {
        match self {
            FilterChoice::All => None,
            FilterChoice::User(f) => Some(f.clone()),
            FilterChoice::Tunnels {
                vxlan_ports,
                geneve_ports,
                extra,
            } => {
                let base = tunnel_filter(vxlan_ports, geneve_ports, linktype == LinkType::ETHERNET);
                // `vlan` shifts the offsets of every test after it: extra terms go first.
                Some(if extra.is_empty() {
                    base
                } else {
                    format!("({extra}) or {base}")
                })
            }
        }
    }
}

/// Settings shared by every NIC of a session.
#[derive(Debug, Clone)]
pub struct CaptureConfig {
    pub snaplen: u32,
    pub buffer_bytes: u32,
    pub filter: FilterChoice,
}

/// Kernel counters of one NIC since it was opened, widened to 64 bits.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct KernelCounters {
    pub received: u64,
    pub dropped_by_kernel: u64,
    pub dropped_by_interface: u64,
}

/// Why a NIC could not be captured on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenError {
    Permission {
        iface: String,
        detail: String,
    },
    NoSuchDevice {
        iface: String,
        detail: String,
    },
    Filter {
        iface: String,
        filter: String,
        detail: String,
    },
    Other {
        iface: String,
        detail: String,
    },
}

impl OpenError {
    pub fn iface(&self) -> &str {
        match self {
            OpenError::Permission { iface, .. }
            | OpenError::NoSuchDevice { iface, .. }
            | OpenError::Filter { iface, .. }
            | OpenError::Other { iface, .. } => iface,
        }
    }

    /// Errors that would hit every NIC alike: no point going on without one.
    pub fn affects_all(&self) -> bool {
        matches!(
            self,
            OpenError::Permission { .. } | OpenError::Filter { .. }
        )
    }
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpenError::Permission { iface, detail } => write!(
                f,
                "cannot capture on {iface}: {detail}. Live capture needs root, or the \
                 CAP_NET_RAW and CAP_NET_ADMIN capabilities \
                 (sudo setcap cap_net_raw,cap_net_admin=eip /path/to/tuntrace)"
            ),
            OpenError::NoSuchDevice { iface, detail } => {
                write!(f, "cannot capture on {iface}: no such interface ({detail})")
            }
            OpenError::Filter {
                iface,
                filter,
                detail,
            } => write!(f, "bad filter on {iface}: {detail} (filter: {filter})"),
            OpenError::Other { iface, detail } => write!(f, "cannot capture on {iface}: {detail}"),
        }
    }
}

/// A NIC stopped delivering frames (went down, was deleted, socket error).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NicFailure(pub String);

/// One NIC, captured. Frames are handed to a callback that returns `false`
/// to end the batch early (`--count` reached). Implementations never block
/// longer than the `wait` given, so a session's stop is prompt.
pub trait Nic: Send {
    fn name(&self) -> &str;
    fn linktype(&self) -> LinkType;
    /// The BPF installed, if any (for messages).
    fn filter(&self) -> Option<&str>;
    /// Waits at most `wait` for frames, then hands over at most `max`
    /// (their `iface` is left for the caller to set); `Ok(0)` when none came.
    fn read(
        &mut self,
        max: usize,
        wait: Duration,
        deliver: &mut dyn FnMut(&Frame<'_>) -> bool,
    ) -> Result<usize, NicFailure>;
    /// Cumulative kernel counters, when the NIC can tell.
    fn counters(&mut self) -> Option<KernelCounters>;
    /// After a failure: does an interface of this name still exist?
    fn still_exists(&self) -> bool;
    /// How long to keep draining after stop even when reads come back
    /// empty (block mode hands frames over by a timeout).
    fn min_drain(&self) -> Duration {
        Duration::ZERO
    }
}
