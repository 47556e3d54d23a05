//! One renderer per output format (table, json, jsonl, svg) and the live view,
//! each drawing from a [`Report`] into any `Write` (tests capture into a Vec).

pub mod json;
pub mod live_view;
pub mod svg;
pub mod table;
pub mod timeline;

use std::io::{self, Write};

use crate::cli::Format;
use crate::k8s::K8sNames;
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
        Format::Svg => svg_of_report(report, &K8sNames::default(), out),
    }
}

/// One report's picture: its node's NICs and the tunnels to its peers.
fn svg_of_report(report: &Report, names: &K8sNames, out: &mut dyn Write) -> io::Result<()> {
    if let Some(n) = svg_picture(report, names, out)? {
        eprintln!("tuntrace: {n}");
    }
    Ok(())
}

/// The picture of one report; returns the note on how its node was told
/// (for the caller to show once, as `live --svg` redraws every interval).
pub fn svg_picture(
    report: &Report,
    names: &K8sNames,
    out: &mut dyn Write,
) -> io::Result<Option<String>> {
    let dir = crate::cluster::Directory::new(None, names.clone());
    let (map, note) = crate::cluster::single(report, dir);
    svg::render(&map, out)?;
    Ok(note)
}

/// [`render`] with `--k8s` names: pods and nodes in the table, and the
/// extra name keys in JSON (see [`crate::k8s::annotate_report`]).
pub fn render_named(
    report: &Report,
    format: Format,
    top: usize,
    names: &K8sNames,
    out: &mut dyn Write,
) -> io::Result<()> {
    if names.is_empty() {
        return render(report, format, top, out);
    }
    match format {
        Format::Table => table::render_named(report, top, Some(names), out),
        Format::Svg => svg_of_report(report, names, out),
        Format::Json | Format::Jsonl => {
            let mut v = serde_json::to_value(report)?;
            crate::k8s::annotate_report(&mut v, names);
            if format == Format::Json {
                serde_json::to_writer_pretty(&mut *out, &v)?;
            } else {
                serde_json::to_writer(&mut *out, &v)?;
            }
            out.write_all(b"\n")
        }
    }
}
