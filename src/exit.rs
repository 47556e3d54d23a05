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
