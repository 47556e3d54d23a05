//! The report's types. They serialise to the JSON contract of the README and
//! read it back, so tests and tools that consume a report use these types,
//! not untyped JSON.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::decode::{Encap, Layer, Reason};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Report {
    pub packets: PacketTotals,
    pub links: Vec<Link>,
    /// Tunnels (encap + outer pair + VNI) seen on more than one interface.
    pub multi_interface: Vec<MultiInterface>,
    /// Why decoding stopped short, by layer and reason.
    pub decode_stops: Vec<StopCount>,
    /// Inputs read, with damage if any.
    pub sources: Vec<SourceInfo>,
    /// Non-tunnel IP pairs per interface (bounded), for audits.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub plain: Vec<PlainFlowRow>,
    /// Plain pairs past the bound, counted together.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plain_other: Option<CountRow>,
    /// ICMP too-big errors quoting a tunnel packet.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub too_big: Vec<TooBigRow>,
    /// Path changes (traffic between the same ends moving to another NIC or
    /// underlay), oldest first; see `timeline`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub timeline: Vec<PathChange>,
    /// `live --write`: the capture file, and why it stopped short if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub written: Option<WrittenFile>,
}

/// The pcapng file `live --write` wrote.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct WrittenFile {
    pub path: String,
    /// Packets in the file.
    pub packets: u64,
    /// Packets counted but not written, after the file failed.
    #[serde(default)]
    pub lost: u64,
    /// Why writing stopped (e.g. no space left); the file then ends on the
    /// last whole block written before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Traffic between the same two ends moved from one path to another.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PathChange {
    /// The sending end: a node name (`--nodes`), else the old path's outer source.
    pub src: String,
    /// The receiving end, named the same way.
    pub dst: String,
    pub from: PathEnd,
    pub to: PathEnd,
    /// First packet on the new path (RFC 3339).
    pub at: String,
    /// Time between the last packet on the old path and the first on the
    /// new one, in milliseconds (0 when they overlapped).
    pub gap_ms: u64,
    /// Moves folded into this event: 1, or more when the path flapped back
    /// and forth (each move within a second of the one before).
    pub count: u32,
    /// Last move folded in, when `count` > 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_at: Option<String>,
    /// Pod pairs seen making the move (0 when identified by nodes alone).
    #[serde(default)]
    pub pod_pairs: u64,
}

/// One side of a path change: the NIC and the tunnel on it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PathEnd {
    pub device: String,
    pub encap: Encap,
    pub outer_src: IpAddr,
    pub outer_dst: IpAddr,
}

/// A non-tunnel IP pair seen on one interface.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PlainFlowRow {
    pub interface: String,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub proto: u8,
    pub packets: u64,
    pub bytes: u64,
    pub first_seen: String,
    pub last_seen: String,
}

/// An ICMP "fragmentation needed" / "packet too big" about a tunnel packet.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TooBigRow {
    pub interface: String,
    /// Sender of the ICMP error.
    pub from: IpAddr,
    pub to: IpAddr,
    pub encap: Encap,
    /// Outer pair of the quoted tunnel packet.
    pub outer_src: IpAddr,
    pub outer_dst: IpAddr,
    pub mtu: u32,
    pub packets: u64,
    pub first_seen: String,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct PacketTotals {
    pub total: u64,
    pub tunnelled: u64,
    pub undecodable: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Link {
    pub interface: String,
    pub packets: u64,
    pub bytes: u64,
    pub tunnelled: u64,
    pub tunnels: Vec<TunnelRow>,
    /// Tunnels past the table's limit, counted together.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub other_tunnels: Option<CountRow>,
    /// Kernel counters of a live capture.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capture: Option<CaptureStats>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TunnelRow {
    pub encap: Encap,
    pub outer_src: IpAddr,
    pub outer_dst: IpAddr,
    pub vni: Option<u32>,
    pub packets: u64,
    pub bytes: u64,
    pub fragments: u64,
    pub first_seen: String,
    pub last_seen: String,
    pub inner: Vec<PairRow>,
    /// Packets whose inner pair could not be read (later fragments, cut headers).
    pub no_inner: u64,
    /// Inner pairs past the table's limit, counted together.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inner_other: Option<CountRow>,
    pub max_outer_len: u32,
    pub df_packets: u64,
    pub max_depth: u8,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PairRow {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub packets: u64,
    pub bytes: u64,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct CountRow {
    pub packets: u64,
    pub bytes: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct MultiInterface {
    pub encap: Encap,
    pub outer_src: IpAddr,
    pub outer_dst: IpAddr,
    pub vni: Option<u32>,
    /// (interface, packets) in interface order.
    pub interfaces: Vec<IfaceCount>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct IfaceCount {
    pub interface: String,
    pub packets: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct StopCount {
    #[serde(with = "super::names::layer")]
    pub layer: Layer,
    #[serde(with = "super::names::reason")]
    pub reason: Reason,
    pub packets: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SourceInfo {
    /// File path or `live:<iface>`.
    pub name: String,
    pub packets: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Byte offset where a file's damage starts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub damaged_at: Option<u64>,
    /// Classic pcap records longer than the file's snaplen (read whole, as
    /// libpcap does); omitted when none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oversize_records: Option<u64>,
}

/// libpcap's counters for one live interface.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct CaptureStats {
    pub received: u64,
    pub dropped_by_kernel: u64,
    pub dropped_by_interface: u64,
    /// Set when the interface went away during the capture.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vanished_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Times the NIC was not captured (down, deleted), oldest first; capture
    /// resumes by itself when it comes back.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gaps: Vec<CaptureGap>,
}

/// A stretch of time a live NIC was not captured.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct CaptureGap {
    pub start: String,
    /// `None` while (or if at the end still) not capturing.
    pub end: Option<String>,
    pub reason: String,
}
