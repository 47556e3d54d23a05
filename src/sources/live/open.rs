//! Opening one libpcap handle per NIC, sized for bursts.
//!
//! Immediate mode makes libpcap use TPACKET_V2, whose ring slots are sized by
//! the snaplen on offloading NICs (veth, most virtio): with the usual 262144
//! a ring holds a handful of frames and a sub-millisecond burst overflows it.
//! tuntrace needs only headers, so a 256-byte snaplen and a ring of several
//! MiB hold tens of thousands of frames.
//!
//! When a large snaplen (`--write`) would leave the ring shallow, the handle
//! uses block mode (TPACKET_V3) instead: blocks pack frames by their real size,
//! so the same ring still holds tens of thousands of small frames. Blocks are
//! handed over when full or after [`POLL_MS`]; the capture loop drains for
//! longer than that before it stops, so nothing captured is left behind.

use std::fmt;

use pcap::{Active, Capture, Linktype, Precision};

use crate::linktype::LinkType;

use super::filter::tunnel_filter;

/// How long one `poll` waits before the capture loop looks at its stop flag;
/// also the block timeout in block mode.
pub const POLL_MS: i32 = 50;
/// Ring slots (at the snaplen's slot size) below which block mode is used.
pub const DEEP_RING_SLOTS: usize = 4096;

/// What the kernel filter keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilterChoice {
    /// The tunnel filter, with the extra VXLAN / Geneve ports.
    Tunnels {
        vxlan_ports: Vec<u16>,
        geneve_ports: Vec<u16>,
    },
    /// The user's `--filter`.
    User(String),
    /// `--all-traffic`: no filter.
    All,
}

/// Settings shared by every handle.
#[derive(Debug, Clone)]
pub struct CaptureConfig {
    pub snaplen: u32,
    pub buffer_bytes: u32,
    pub filter: FilterChoice,
}

/// An open, filtered, non-blocking capture on one NIC.
pub struct Handle {
    pub name: String,
    pub cap: Capture<Active>,
    pub linktype: LinkType,
    /// Timestamps come in nanoseconds (else microseconds).
    pub nanos: bool,
    /// The BPF actually installed, if any.
    pub filter: Option<String>,
    /// Immediate mode (a deep ring of snaplen-sized slots); else block mode.
    pub immediate: bool,
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

fn classify(iface: &str, e: pcap::Error) -> OpenError {
    let detail = e.to_string();
    let low = detail.to_ascii_lowercase();
    let iface = iface.to_string();
    if low.contains("permission") || low.contains("not permitted") {
        OpenError::Permission { iface, detail }
    } else if low.contains("no such device") {
        OpenError::NoSuchDevice { iface, detail }
    } else {
        OpenError::Other { iface, detail }
    }
}

extern "C" {
    // Part of libpcap since 1.5; the pcap crate does not wrap it.
    fn pcap_get_tstamp_precision(p: *mut libc::c_void) -> libc::c_int;
}

/// Opens `name` non-blocking (immediate mode when the ring is deep, block
/// mode otherwise) and installs the filter. Not promiscuous: the node's own
/// traffic is the question, and promiscuity would change the NIC for others.
pub fn open(name: &str, cfg: &CaptureConfig) -> Result<Handle, OpenError> {
    let snaplen = cfg.snaplen.clamp(64, 262_144) as i32;
    let buffer = cfg.buffer_bytes.min(i32::MAX as u32) as i32;
    // TPACKET_V2 slot: the snaplen plus headers, at worst (offloading NICs).
    let immediate = buffer as usize / (snaplen as usize + 128) >= DEEP_RING_SLOTS;
    let cap = Capture::from_device(name)
        .map_err(|e| classify(name, e))?
        .immediate_mode(immediate)
        .snaplen(snaplen)
        .buffer_size(buffer)
        .timeout(POLL_MS)
        .promisc(false)
        .precision(Precision::Nano)
        .open()
        .map_err(|e| classify(name, e))?;
    let mut cap = cap.setnonblock().map_err(|e| classify(name, e))?;
    if name == crate::sources::ifaces::ANY {
        // SLL2 names the real NIC (ifindex) in every packet; SLL does not.
        let _ = cap.set_datalink(Linktype(LinkType::LINUX_SLL2.0 as i32));
    }
    let linktype = LinkType(cap.get_datalink().0 as u32);
    let filter = match &cfg.filter {
        FilterChoice::All => None,
        FilterChoice::User(f) => Some(f.clone()),
        FilterChoice::Tunnels {
            vxlan_ports,
            geneve_ports,
        } => Some(tunnel_filter(
            vxlan_ports,
            geneve_ports,
            linktype == LinkType::ETHERNET,
        )),
    };
    if let Some(f) = &filter {
        cap.filter(f, true).map_err(|e| OpenError::Filter {
            iface: name.to_string(),
            filter: f.clone(),
            detail: e.to_string(),
        })?;
    }
    // SAFETY: the handle is live; the call only reads its settings.
    let nanos = unsafe { pcap_get_tstamp_precision(cap.as_ptr() as *mut libc::c_void) } == 1;
    Ok(Handle {
        name: name.to_string(),
        cap,
        linktype,
        nanos,
        filter,
        immediate,
    })
}
