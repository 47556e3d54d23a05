//! `live --metrics`: the node daemon's exporter. `model` turns the session's
//! reports into Prometheus series (OpenMetrics text through the
//! `prometheus-client` crate); `serve` answers `/metrics`, `/report`,
//! `/healthz` and `/readyz` over HTTP from its own thread, so a scrape never
//! waits on capture and capture never waits on a scrape.

pub mod events;
pub mod labels;
pub mod model;
pub mod serve;
mod shared;

pub use events::EventLog;
pub use model::{Exporter, NicState, Settings, Shared};
pub use serve::Server;
