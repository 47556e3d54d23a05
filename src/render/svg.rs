//! The picture: a self-contained SVG of a path map (`merge`, or one
//! report). Nodes are boxes with their NICs as labelled ports; each
//! direction between two nodes is one arrow from the NIC it left on to the
//! NIC it arrived on (pod pairs are grouped into it, never one arrow each),
//! its width by packets, its colour by underlay subnet, its label the
//! encapsulation and packets; findings in red with their kind.
//!
//! Written by hand rather than with the `svg` crate: the document is a few
//! element kinds, and the work is the layout (boxes whose overlap the tests
//! check), which no SVG writer does. All text is real `<text>`, the font a
//! monospace one so widths are known without a font file.

mod layout;

use std::fmt::Write as _;
use std::io::{self, Write};

use crate::cluster::Merged;

pub use layout::{layout, Arrow, Label, Layout, NodeBox, Rect};
use layout::{LINE_H, PAD, RED, SWATCH_W};

fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' => o.push(' '),
            c => o.push(c),
        }
    }
    o
}

/// Writes the layout as an SVG document.
pub fn write(l: &Layout, out: &mut dyn Write) -> io::Result<()> {
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w:.0}" height="{h:.0}" viewBox="0 0 {w:.0} {h:.0}" font-family="DejaVu Sans Mono, Menlo, Consolas, monospace" font-size="12">"#,
        w = l.width,
        h = l.height
    );
    let mut marks: Vec<&str> = l.arrows.iter().map(|a| a.colour.as_str()).collect();
    marks.push(RED);
    marks.sort();
    marks.dedup();
    s.push_str("<defs>");
    for c in &marks {
        let _ = write!(
            s,
            r#"<marker id="m{id}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="2.5" markerHeight="2.5" markerUnits="strokeWidth" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="{c}"/></marker>"#,
            id = &c[1..]
        );
    }
    s.push_str("</defs>\n");
    let _ = writeln!(
        s,
        r##"<rect x="0" y="0" width="{:.0}" height="{:.0}" fill="#ffffff"/>"##,
        l.width, l.height
    );
    for b in &l.nodes {
        let r = &b.rect;
        let dash = if b.external {
            r#" stroke-dasharray="5,4""#
        } else {
            ""
        };
        let _ = writeln!(
            s,
            r##"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" rx="6" fill="#f4f6f8" stroke="#333333"{dash}/>"##,
            r.x, r.y, r.w, r.h
        );
        for (_, p) in &b.ports {
            let _ = writeln!(
                s,
                r##"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="#333333"/>"##,
                p.x, p.y, p.w, p.h
            );
        }
    }
    for a in &l.arrows {
        let c = if a.red { RED } else { a.colour.as_str() };
        let _ = writeln!(
            s,
            r#"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{c}" stroke-width="{:.1}" marker-end="url(#m{})"/>"#,
            a.from.0,
            a.from.1,
            a.to.0,
            a.to.1,
            a.width,
            &c[1..]
        );
    }
    for lab in &l.labels {
        if lab.backed {
            let r = &lab.rect;
            let _ = writeln!(
                s,
                r##"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" rx="3" fill="#ffffff" fill-opacity="0.9"/>"##,
                r.x, r.y, r.w, r.h
            );
        }
        let tx = lab.rect.x + PAD + if lab.swatch.is_some() { SWATCH_W } else { 0.0 };
        for (i, (t, red)) in lab.lines.iter().enumerate() {
            let fill = if *red { RED } else { "#111111" };
            let y = lab.rect.y + PAD / 2.0 + (i as f64 + 0.78) * LINE_H;
            if let Some(c) = &lab.swatch {
                let _ = writeln!(
                    s,
                    r#"<rect x="{:.1}" y="{:.1}" width="14" height="10" fill="{c}"/>"#,
                    lab.rect.x + PAD,
                    y - 9.0
                );
            }
            let _ = writeln!(
                s,
                r#"<text x="{tx:.1}" y="{y:.1}" fill="{fill}">{}</text>"#,
                esc(t)
            );
        }
    }
    s.push_str("</svg>\n");
    out.write_all(s.as_bytes())
}

/// The path map as SVG.
pub fn render(m: &Merged, out: &mut dyn Write) -> io::Result<()> {
    write(&layout(m), out)
}
