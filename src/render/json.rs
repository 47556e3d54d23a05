//! JSON: the whole report as one object, or jsonl records per tunnel and interval.

use std::io::{self, Write};

use serde::Serialize;

use crate::report::{Report, TunnelRow};
use crate::timefmt::rfc3339;

/// The report as one JSON object (`pretty` for humans, compact for jsonl).
pub fn render(report: &Report, pretty: bool, out: &mut dyn Write) -> io::Result<()> {
    // serde writes a few bytes at a time; a concretely typed buffer in
    // front keeps those writes inlined copies (through `dyn Write` each was
    // a call: a third of the run time of a 5 M-packet read once went there).
    let mut buf = io::BufWriter::with_capacity(256 << 10, out);
    if pretty {
        let mut ser = serde_json::Serializer::with_formatter(&mut buf, Pretty::default());
        report.serialize(&mut ser)?;
    } else {
        serde_json::to_writer(&mut buf, report)?;
    }
    buf.write_all(b"\n")?;
    buf.flush()
}

/// serde_json's pretty layout (two-space indent), written with one call per
/// line break instead of one per indent level: pair rows sit six levels
/// deep, and tens of thousands of them made indentation the bulk of the
/// rendering time.
#[derive(Debug, Default)]
struct Pretty {
    depth: usize,
    has_value: bool,
}

/// `,` + newline + indentation for up to 64 levels.
const BREAK: &[u8; 130] = b",\n                                                                                                                                ";

impl Pretty {
    /// A newline (after a comma unless `first`) and the current indentation.
    fn line_break<W: ?Sized + Write>(&self, w: &mut W, first: bool) -> io::Result<()> {
        let from = usize::from(first);
        let mut spaces = 2 * self.depth;
        let head = spaces.min(BREAK.len() - 2);
        w.write_all(&BREAK[from..2 + head])?;
        spaces -= head;
        while spaces > 0 {
            let k = spaces.min(BREAK.len() - 2);
            w.write_all(&BREAK[2..2 + k])?;
            spaces -= k;
        }
        Ok(())
    }

    fn close<W: ?Sized + Write>(&mut self, w: &mut W, bracket: &[u8]) -> io::Result<()> {
        self.depth -= 1;
        if self.has_value {
            self.line_break(w, true)?;
        }
        w.write_all(bracket)
    }
}

impl serde_json::ser::Formatter for Pretty {
    fn begin_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.depth += 1;
        self.has_value = false;
        w.write_all(b"[")
    }

    fn end_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.close(w, b"]")
    }

    fn begin_array_value<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.line_break(w, first)
    }

    fn end_array_value<W: ?Sized + Write>(&mut self, _w: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }

    fn begin_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.depth += 1;
        self.has_value = false;
        w.write_all(b"{")
    }

    fn end_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.close(w, b"}")
    }

    fn begin_object_key<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.line_break(w, first)
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }

    fn end_object_value<W: ?Sized + Write>(&mut self, _w: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }
}

#[derive(Serialize)]
struct IntervalRecord<'a> {
    interval_start: String,
    interval_end: String,
    interface: &'a str,
    #[serde(flatten)]
    tunnel: &'a TunnelRow,
}

/// One compact JSON line per (interface, tunnel) of an interval's report.
pub fn jsonl_interval(
    report: &Report,
    interval_start_ns: u64,
    interval_end_ns: u64,
    out: &mut dyn Write,
) -> io::Result<()> {
    let (start, end) = (rfc3339(interval_start_ns), rfc3339(interval_end_ns));
    for link in &report.links {
        for t in &link.tunnels {
            let rec = IntervalRecord {
                interval_start: start.clone(),
                interval_end: end.clone(),
                interface: &link.interface,
                tunnel: t,
            };
            serde_json::to_writer(&mut *out, &rec)?;
            writeln!(out)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod pretty_tests {
    use super::*;

    #[test]
    fn pretty_matches_serde_json_layout() {
        let mut deep = serde_json::json!([]);
        for i in 0..70 {
            deep = serde_json::json!({ "level": i, "empty": [], "none": {}, "next": [deep, 1] });
        }
        let doc = serde_json::json!({ "a": [1, {"b": "x"}, []], "deep": deep, "s": "é\"" });
        let mut ours = Vec::new();
        let mut ser = serde_json::Serializer::with_formatter(&mut ours, Pretty::default());
        doc.serialize(&mut ser).unwrap();
        assert_eq!(
            String::from_utf8(ours).unwrap(),
            serde_json::to_string_pretty(&doc).unwrap()
        );
    }
}
