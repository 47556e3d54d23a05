//! Aggregation: interface → tunnel → inner pair counters, bounded in memory.

pub mod key;
pub mod plain;
pub mod table;

pub use key::{PairKey, TunnelKey};
pub use plain::{PlainKey, PlainTable, TooBigKey};
pub use table::{Counts, FlowTable, Limits, PairCounts, TunnelStats};
