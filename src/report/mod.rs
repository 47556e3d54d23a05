//! The report: the only input of renderers and audits. Its JSON keys are a
//! contract (see README): `packets`, `links[].interface`, `links[].tunnels[]`
//! with `encap`, `outer_src`, `outer_dst`, `vni`, counts and `inner[]`. The
//! types also read that JSON back, unchanged (tests/captures.rs pins both).

mod build;
mod model;
mod names;

pub use build::build_report;
pub use model::*;
pub use names::{layer_name, reason_name};
