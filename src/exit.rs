//! Exit codes, documented in the README and in `--help`.

/// Everything was read and reported.
pub const OK: u8 = 0;
/// `autodetect`: no interface matched the method.
pub const NOTHING_MATCHED: u8 = 1;
/// Usage error, or an input that cannot be opened or is not a capture.
pub const USAGE: u8 = 2;
/// A capture is damaged: what came before the damage was reported.
pub const DAMAGED: u8 = 3;
/// `audit` found something.
pub const FINDINGS: u8 = 4;
/// `probe`: the request left encapsulated, but no reply was seen or received.
pub const PROBE_NO_REPLY: u8 = 5;
/// `probe`: the request was seen on none of the captured interfaces.
pub const PROBE_NOT_SEEN: u8 = 6;
/// `probe`: the request crossed a NIC as plain ICMP (no tunnel).
pub const PROBE_UNENCAPSULATED: u8 = 7;
