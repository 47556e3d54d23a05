//! Where frames come from: capture files (`file`) and live NICs (`live`).
//! Every source yields [`Frame`]s that borrow their bytes; nothing is copied
//! per packet.

pub mod file;
pub mod live;

use crate::iface::IfaceId;
use crate::linktype::LinkType;

/// One captured frame, as the decoder sees it.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    /// The interface it was captured on (pcapng IDB, file label, or live NIC).
    pub iface: IfaceId,
    pub linktype: LinkType,
    /// Capture time in nanoseconds since the Unix epoch.
    pub ts_ns: u64,
    /// Length on the wire (pcap `orig_len`); `data` may be shorter (snaplen).
    pub orig_len: u32,
    pub data: &'a [u8],
}
