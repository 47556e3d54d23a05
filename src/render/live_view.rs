//! The compact view `live` redraws on a terminal (stderr) every interval:
//! one line per NIC with its rate, tunnels and top pod pairs. Lines are cut
//! to the terminal width so a redraw can move up exactly as many lines.

use std::io::{self, Write};
use std::net::IpAddr;

use crate::report::Report;

/// One NIC's line.
#[derive(Debug, Clone, PartialEq)]
pub struct NicLine {
    pub name: String,
    /// Packets per second over the last interval.
    pub pps: f64,
    /// Packets since the start.
    pub packets: u64,
    /// Distinct tunnels since the start.
    pub tunnels: usize,
    /// Top inner pairs since the start, over all its tunnels.
    pub top: Vec<(IpAddr, IpAddr, u64)>,
    pub dropped: u64,
    pub gone: bool,
}

/// Builds the lines from the cumulative report and the last interval's.
pub fn lines(total: &Report, interval: &Report, secs: f64, top: usize) -> Vec<NicLine> {
    total
        .links
        .iter()
        .map(|l| {
            let recent = interval
                .links
                .iter()
                .find(|i| i.interface == l.interface)
                .map(|i| i.packets)
                .unwrap_or(0);
            let mut pairs: Vec<(IpAddr, IpAddr, u64)> = Vec::new();
            for t in &l.tunnels {
                for p in &t.inner {
                    match pairs
                        .iter_mut()
                        .find(|(s, d, _)| *s == p.src && *d == p.dst)
                    {
                        Some(e) => e.2 += p.packets,
                        None => pairs.push((p.src, p.dst, p.packets)),
                    }
                }
            }
            pairs.sort_by(|a, b| b.2.cmp(&a.2).then((a.0, a.1).cmp(&(b.0, b.1))));
            pairs.truncate(top);
            let cap = l.capture.as_ref();
            NicLine {
                name: l.interface.clone(),
                pps: if secs > 0.0 {
                    recent as f64 / secs
                } else {
                    0.0
                },
                packets: l.packets,
                tunnels: l.tunnels.len(),
                top: pairs,
                dropped: cap
                    .map(|c| c.dropped_by_kernel + c.dropped_by_interface)
                    .unwrap_or(0),
                gone: cap.is_some_and(|c| c.vanished_at.is_some()),
            }
        })
        .collect()
}

/// Redraws in place: remembers how many lines it drew last time.
#[derive(Debug, Default)]
pub struct LiveView {
    drawn: usize,
}

impl LiveView {
    pub fn new() -> Self {
        Self::default()
    }

    /// Replaces the previous drawing with `lines`, cut to `width` columns.
    pub fn draw(
        &mut self,
        elapsed_s: u64,
        lines: &[NicLine],
        width: usize,
        out: &mut dyn Write,
    ) -> io::Result<()> {
        let mut text = Vec::with_capacity(lines.len() + 1);
        text.push(format!(
            "tuntrace live {:02}:{:02}  (Ctrl-C stops and prints the report)",
            elapsed_s / 60,
            elapsed_s % 60
        ));
        let name_w = lines.iter().map(|l| l.name.len()).max().unwrap_or(0);
        for l in lines {
            text.push(format_line(l, name_w));
        }
        self.erase(out)?;
        for t in &text {
            writeln!(out, "{}", cut(t, width.max(20)))?;
        }
        self.drawn = text.len();
        out.flush()
    }

    /// Removes the drawing (before the final report is printed).
    pub fn erase(&mut self, out: &mut dyn Write) -> io::Result<()> {
        if self.drawn > 0 {
            // Up N lines, to column 0, clear to the end of the screen.
            write!(out, "\x1b[{}F\x1b[J", self.drawn)?;
            self.drawn = 0;
        }
        Ok(())
    }
}

fn format_line(l: &NicLine, name_w: usize) -> String {
    let mut s = format!(
        "  {:<name_w$} {:>8.0} pkt/s {:>10} pkts {:>3} tunnel{}",
        l.name,
        l.pps,
        l.packets,
        l.tunnels,
        if l.tunnels == 1 { " " } else { "s" }
    );
    if l.gone {
        s.push_str("  GONE");
    }
    if l.dropped > 0 {
        s.push_str(&format!("  {} DROPPED", l.dropped));
    }
    for (i, (src, dst, n)) in l.top.iter().enumerate() {
        s.push_str(if i == 0 { "  " } else { ", " });
        s.push_str(&format!("{src}>{dst} {n}"));
    }
    s
}

/// Cuts to `width` characters (not bytes).
fn cut(s: &str, width: usize) -> &str {
    match s.char_indices().nth(width) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(name: &str) -> NicLine {
        NicLine {
            name: name.into(),
            pps: 12.0,
            packets: 40,
            tunnels: 1,
            top: vec![("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap(), 20)],
            dropped: 0,
            gone: false,
        }
    }

    #[test]
    fn redraw_moves_up_over_the_last_drawing() {
        let mut v = LiveView::new();
        let mut out = Vec::new();
        v.draw(5, &[line("ens32"), line("ens33")], 200, &mut out)
            .unwrap();
        let first = String::from_utf8(out.clone()).unwrap();
        assert!(first.starts_with("tuntrace live 00:05"));
        assert!(first.contains("ens33       12 pkt/s"), "{first}");
        assert!(first.contains("10.0.0.1>10.0.0.2 20"));
        out.clear();
        v.draw(6, &[line("ens32")], 200, &mut out).unwrap();
        assert!(String::from_utf8(out).unwrap().starts_with("\x1b[3F\x1b[J"));
    }

    #[test]
    fn long_lines_are_cut_to_the_width() {
        let mut v = LiveView::new();
        let mut out = Vec::new();
        v.draw(0, &[line("a-very-long-interface-name")], 30, &mut out)
            .unwrap();
        for l in String::from_utf8(out).unwrap().lines() {
            assert!(l.chars().count() <= 30, "{l}");
        }
    }
}
