//! Aggregation: interface → tunnel → inner pair counters, bounded in memory.

mod ahead;
pub mod compact;
mod ingest;
pub mod key;
mod merge;
pub mod plain;
pub mod table;

pub use ahead::{Start, Started};
pub use ingest::{Event, What};
pub use key::{PairKey, TunnelKey};
pub use plain::{PlainKey, PlainTable, TooBigKey};
pub use table::{Counts, FlowTable, Limits, PairCounts, TunnelStats};
