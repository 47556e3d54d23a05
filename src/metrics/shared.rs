//! What the HTTP side reads: the registry (atomic metrics, read while the
//! controller updates them), the latest report and the readiness.

use std::sync::{Arc, RwLock};

use prometheus_client::registry::Registry;
use serde::Serialize;

use crate::report::Report;

/// Shared between the exporter (writes) and the HTTP side (reads).
pub struct Shared {
    pub registry: Registry,
    pub node: String,
    pub(super) report: RwLock<Option<Arc<Report>>>,
    pub(super) ready: RwLock<Result<(), String>>,
}

/// `/report`: the report with the node's name first.
#[derive(Serialize)]
struct NodeReport<'a> {
    node: &'a str,
    #[serde(flatten)]
    report: &'a Report,
}

impl Shared {
    /// The latest report as JSON with a top-level `"node"`; `None` before
    /// the first one.
    pub fn report_json(&self) -> Option<String> {
        let report = self
            .report
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()?;
        let doc = NodeReport {
            node: &self.node,
            report: &report,
        };
        serde_json::to_string_pretty(&doc).ok()
    }

    /// `Ok` while every chosen NIC captures, else why not.
    pub fn ready(&self) -> Result<(), String> {
        self.ready.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The OpenMetrics text of every series.
    pub fn metrics_text(&self) -> String {
        let mut out = String::with_capacity(16 << 10);
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
