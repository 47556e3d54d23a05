//! Aggregation: interface → tunnel → inner pair counters, bounded in memory.

pub mod compact;
pub mod key;
pub mod plain;
pub mod table;

pub use key::{PairKey, TunnelKey};
pub use plain::{PlainKey, PlainTable, TooBigKey};
pub use table::{Counts, Event, FlowTable, Limits, PairCounts, TunnelStats};
