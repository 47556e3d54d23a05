//! One renderer per output format (table, json, jsonl) and the live view,
//! each drawing from a [`Report`] into any `Write` (tests capture into a Vec).

pub mod json;
pub mod live_view;
pub mod table;
pub mod timeline;

use std::io::{self, Write};

use crate::cli::Format;
use crate::report::Report;

pub use json::jsonl_interval;

/// Renders the final report in `format`; `top` limits inner rows in the table.
pub fn render(report: &Report, format: Format, top: usize, out: &mut dyn Write) -> io::Result<()> {
    match format {
        Format::Table => {
            table::render(report, top, out)?;
            timeline::section(report, out)
        }
        Format::Json => json::render(report, true, out),
        Format::Jsonl => json::render(report, false, out),
    }
}
