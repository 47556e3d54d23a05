//! Live capture: one libpcap handle per NIC, each read by its own loop
//! (thread) into its own flow table; `cmd::live` merges and reports.
//!
//! - `open`: handles sized for bursts (immediate mode, small snaplen, big ring).
//! - `filter`: the default kernel filter (tunnel traffic only).
//! - `collect`: the controller's merge of their tables, per interval.
//! - `worker`: the per-NIC capture loop and its events.
//! - `writer`: `--write`, one pcapng interface block per NIC.

pub mod collect;
pub mod filter;
pub mod open;
pub mod worker;
pub mod writer;

pub use collect::{Collector, Finished, Interval};
pub use filter::tunnel_filter;
pub use open::{open, CaptureConfig, FilterChoice, Handle, OpenError};
pub use worker::{now_ns, Control, Event, Worker};
pub use writer::{FileWriter, Record};
