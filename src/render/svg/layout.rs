//! Where everything goes: node boxes, NIC ports, arrows, and every text's
//! box, placed so that no two texts share room (the tests check the boxes).

use std::collections::BTreeMap;
use std::net::IpAddr;

use crate::cluster::{ClusterFinding, Merged, Pair};

/// Width of one character of the 12 px monospace font, with some slack.
const CHAR_W: f64 = 7.4;
pub(super) const LINE_H: f64 = 16.0;
const PORT_H: f64 = 26.0;
const BOX_HEAD: f64 = 50.0;
/// Where the diagram starts below the title.
const TITLE_H: f64 = 40.0;
const MARGIN: f64 = 30.0;
pub(super) const PAD: f64 = 6.0;
/// Room for a legend's colour square before its text.
pub(super) const SWATCH_W: f64 = 20.0;
pub(super) const RED: &str = "#d0021b";
/// One colour per underlay subnet, in order of first use.
const PALETTE: [&str; 8] = [
    "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2", "#7f7f7f",
];

/// An axis-aligned box in SVG user units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rect {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
}

impl Rect {
    /// True when the boxes share area (touching edges, within rounding, do not).
    pub fn overlaps(&self, o: &Rect) -> bool {
        const E: f64 = 0.01;
        self.x + E < o.x + o.w
            && o.x + E < self.x + self.w
            && self.y + E < o.y + o.h
            && o.y + E < self.y + self.h
    }

    fn grown(&self, by: f64) -> Rect {
        Rect {
            x: self.x - by,
            y: self.y - by,
            w: self.w + 2.0 * by,
            h: self.h + 2.0 * by,
        }
    }
}

/// A text block: its box, and lines (text, drawn red).
#[derive(Debug, Clone, PartialEq)]
pub struct Label {
    pub rect: Rect,
    pub lines: Vec<(String, bool)>,
    /// A colour square drawn in front (the subnet legend).
    pub swatch: Option<String>,
    /// Drawn on a white ground (arrow labels, over lines).
    pub backed: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NodeBox {
    pub rect: Rect,
    pub name: String,
    /// Not an input: only an address its peers sent to.
    pub external: bool,
    pub subtitle: String,
    /// (NIC, port square).
    pub ports: Vec<(String, Rect)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Arrow {
    pub from: (f64, f64),
    pub to: (f64, f64),
    pub width: f64,
    pub colour: String,
    pub red: bool,
}

/// Everything placed; the tests read the label boxes from here.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    pub width: f64,
    pub height: f64,
    pub nodes: Vec<NodeBox>,
    pub arrows: Vec<Arrow>,
    /// Arrow labels, port and node texts, legend and findings: every text.
    pub labels: Vec<Label>,
}

fn text_w(s: &str) -> f64 {
    s.chars().count() as f64 * CHAR_W
}

fn block(lines: Vec<(String, bool)>, x: f64, y: f64) -> Label {
    let w = lines.iter().map(|(t, _)| text_w(t)).fold(0.0, f64::max) + 2.0 * PAD;
    let h = lines.len() as f64 * LINE_H + PAD;
    Label {
        rect: Rect { x, y, w, h },
        lines,
        swatch: None,
        backed: false,
    }
}

/// The /24 (IPv4) or /64 (IPv6) an outer source address is in: the
/// underlay a colour stands for.
fn subnet(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(a) => {
            let o = a.octets();
            format!("{}.{}.{}.0/24", o[0], o[1], o[2])
        }
        IpAddr::V6(a) => {
            let s = a.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
    }
}

/// A pending arrow label: the arrow's index and its lines.
type Pending = Vec<(usize, Vec<(String, bool)>)>;

/// Places nodes (two side by side; more on a circle), ports, arrows and
/// labels; a label that fits nowhere free is left out and counted.
pub fn layout(m: &Merged) -> Layout {
    let mut boxes = node_boxes(m);
    let (width, diagram_h, circle_x) = place(&mut boxes);
    place_ports(m, &mut boxes, circle_x);
    let (arrows, pending, colours) = draw_arrows(m, &boxes);
    let (mut labels, unplaced) = arrow_labels(&arrows, pending, &boxes, width);
    let bottom = labels
        .iter()
        .map(|l| l.rect.y + l.rect.h + 8.0)
        .fold(TITLE_H + diagram_h, f64::max);
    let margin = MARGIN;
    // The texts inside the boxes.
    for b in &boxes {
        labels.push(block(
            vec![(b.name.clone(), false)],
            b.rect.x,
            b.rect.y + 2.0,
        ));
        labels.push(block(
            vec![(b.subtitle.clone(), false)],
            b.rect.x,
            b.rect.y + 2.0 + LINE_H + PAD,
        ));
        for (nic, r) in &b.ports {
            labels.push(block(
                vec![(nic.clone(), false)],
                b.rect.x + 14.0,
                r.y - 2.0,
            ));
        }
    }

    // Below the diagram: the subnet legend, then the findings in full.
    let mut y = bottom;
    let mut legend: Vec<(String, bool, Option<String>)> = colours
        .iter()
        .map(|(s, c)| (format!("underlay {s}"), false, Some(c.to_string())))
        .collect();
    if unplaced > 0 {
        legend.push((
            format!("{unplaced} arrow labels left out for room: `tuntrace merge` lists every pair"),
            false,
            None,
        ));
    }
    let mut width = width;
    let findings = m
        .findings
        .iter()
        .flat_map(|f| wrap(&finding_line(f), 110))
        .map(|t| (t, true, None));
    for (text, red, swatch) in legend.into_iter().chain(findings) {
        let mut l = block(vec![(text, red)], margin, y);
        if swatch.is_some() {
            l.rect.w += SWATCH_W;
        }
        l.swatch = swatch;
        y += l.rect.h;
        width = width.max(l.rect.x + l.rect.w + margin);
        labels.push(l);
    }
    let title = block(vec![(title(m), false)], margin, 8.0);
    width = width.max(title.rect.w + 2.0 * margin);
    labels.push(title);
    Layout {
        width,
        height: y + margin,
        nodes: boxes,
        arrows,
        labels,
    }
}

/// One box per endpoint: input nodes first, then peers only seen as addresses.
fn node_boxes(m: &Merged) -> Vec<NodeBox> {
    // Endpoints: input nodes first, then peers only seen as addresses.
    let mut names: Vec<(String, bool)> = m.nodes.iter().map(|n| (n.name.clone(), false)).collect();
    for p in &m.pairs {
        for n in [&p.from, &p.to] {
            if !names.iter().any(|(x, _)| x == n) {
                names.push((n.clone(), true));
            }
        }
    }
    names
        .iter()
        .map(|(name, external)| {
            let info = m.nodes.iter().find(|n| &n.name == name);
            let subtitle = match info {
                Some(i) => i
                    .addresses
                    .iter()
                    .map(|a| a.to_string())
                    .collect::<Vec<_>>()
                    .join(" "),
                None => "not in the input".into(),
            };
            let ports: Vec<(String, Rect)> = info
                .map(|i| {
                    i.interfaces
                        .iter()
                        .map(|n| {
                            (
                                n.clone(),
                                Rect {
                                    x: 0.0,
                                    y: 0.0,
                                    w: 10.0,
                                    h: 18.0,
                                },
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            let w = [
                text_w(name),
                text_w(&subtitle),
                ports
                    .iter()
                    .map(|(n, _)| text_w(n) + 30.0)
                    .fold(0.0, f64::max),
            ]
            .into_iter()
            .fold(120.0, f64::max)
                + 2.0 * PAD;
            let h =
                BOX_HEAD + ports.len() as f64 * PORT_H + if ports.is_empty() { 0.0 } else { 6.0 };
            NodeBox {
                rect: Rect {
                    x: 0.0,
                    y: 0.0,
                    w,
                    h,
                },
                name: name.clone(),
                external: *external,
                subtitle,
                ports,
            }
        })
        .collect()
}

/// Two nodes side by side; more on a circle whose neighbours' boxes cannot
/// touch (adjacent centres at least a box diagonal apart). Returns the
/// width, the diagram's height and the circle's centre x.
fn place(boxes: &mut [NodeBox]) -> (f64, f64, Option<f64>) {
    let (margin, title_h) = (MARGIN, TITLE_H);
    let n = boxes.len();
    let mut circle_x = None;
    let (width, diagram_h) = if n <= 2 {
        let gap = 460.0;
        let h = boxes.iter().map(|b| b.rect.h).fold(0.0, f64::max);
        let mut x = margin;
        for b in boxes.iter_mut() {
            b.rect.x = x;
            b.rect.y = title_h + margin + (h - b.rect.h) / 2.0;
            x += b.rect.w + gap;
        }
        (x - gap + margin, h + 2.0 * margin)
    } else {
        let maxw = boxes.iter().map(|b| b.rect.w).fold(0.0, f64::max);
        let maxh = boxes.iter().map(|b| b.rect.h).fold(0.0, f64::max);
        let chord = (maxw * maxw + maxh * maxh).sqrt() + 20.0;
        let r = (chord / (2.0 * (std::f64::consts::PI / n as f64).sin())).max(220.0);
        let (cx, cy) = (margin + maxw / 2.0 + r, title_h + margin + maxh / 2.0 + r);
        circle_x = Some(cx);
        for (i, b) in boxes.iter_mut().enumerate() {
            let a = i as f64 / n as f64 * std::f64::consts::TAU - std::f64::consts::FRAC_PI_2;
            b.rect.x = cx + r * a.cos() - b.rect.w / 2.0;
            b.rect.y = cy + r * a.sin() - b.rect.h / 2.0;
        }
        (2.0 * cx, 2.0 * r + maxh + 2.0 * margin)
    };
    (width, diagram_h, circle_x)
}

fn centre(b: &NodeBox) -> (f64, f64) {
    (b.rect.x + b.rect.w / 2.0, b.rect.y + b.rect.h / 2.0)
}

fn place_ports(m: &Merged, boxes: &mut [NodeBox], circle_x: Option<f64>) {
    // Ports: each NIC row; the square sits on the side facing most peers
    // (on a circle: facing its centre, where the arrows run).
    let mut faces_right = vec![true; boxes.len()];
    for (i, b) in boxes.iter().enumerate() {
        let (x, _) = centre(b);
        let peers: Vec<f64> = m
            .pairs
            .iter()
            .filter_map(|p| {
                let other = if p.from == b.name {
                    &p.to
                } else if p.to == b.name {
                    &p.from
                } else {
                    return None;
                };
                Some(centre(&boxes[idx(boxes, other)]).0)
            })
            .collect();
        let right = peers.iter().filter(|px| **px >= x).count();
        faces_right[i] = match circle_x {
            Some(cx) => x < cx,
            None => right * 2 >= peers.len(),
        };
    }
    for (i, b) in boxes.iter_mut().enumerate() {
        let px = if faces_right[i] {
            b.rect.x + b.rect.w - 5.0
        } else {
            b.rect.x - 5.0
        };
        for (k, (_, r)) in b.ports.iter_mut().enumerate() {
            *r = Rect {
                x: px,
                y: b.rect.y + BOX_HEAD + k as f64 * PORT_H + 4.0,
                w: 10.0,
                h: 18.0,
            };
        }
    }
}

/// Where an arrow meets a box: the NIC's port, else the side facing `toward`.
fn anchor(b: &NodeBox, nic: Option<&str>, toward: (f64, f64)) -> (f64, f64) {
    if let Some(r) = nic
        .and_then(|n| b.ports.iter().find(|(p, _)| p == n))
        .map(|(_, r)| r)
    {
        return (r.x + r.w / 2.0, r.y + r.h / 2.0);
    }
    let (cx, cy) = centre(b);
    let x = if toward.0 >= cx {
        b.rect.x + b.rect.w
    } else {
        b.rect.x
    };
    (x, cy)
}

/// Arrows, their pending labels, and the colour of each underlay subnet.
fn draw_arrows(
    m: &Merged,
    boxes: &[NodeBox],
) -> (Vec<Arrow>, Pending, BTreeMap<String, &'static str>) {
    // Arrows: one per (NIC left on, NIC arrived on) of each direction.
    let mut colours: BTreeMap<String, &'static str> = BTreeMap::new();
    let max = m
        .pairs
        .iter()
        .filter_map(|p| p.sent.or(p.received))
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let mut arrows = Vec::new();
    let mut pending: Pending = Vec::new();
    for p in &m.pairs {
        let (fb, tb) = (&boxes[idx(boxes, &p.from)], &boxes[idx(boxes, &p.to)]);
        let lefts: Vec<Option<&str>> = if p.left_on.is_empty() {
            vec![None]
        } else {
            p.left_on
                .iter()
                .map(|c| Some(c.interface.as_str()))
                .collect()
        };
        let arrived = p
            .arrived_on
            .iter()
            .max_by_key(|c| c.packets)
            .map(|c| c.interface.as_str());
        let under = p
            .outer
            .iter()
            .max_by_key(|o| o.sent.max(o.received))
            .map(|o| subnet(o.src))
            .unwrap_or_default();
        let next = PALETTE[colours.len() % PALETTE.len()];
        let colour = *colours.entry(under).or_insert(next);
        let findings: Vec<&ClusterFinding> = m
            .findings
            .iter()
            .filter(|f| f.from == p.from && f.to == p.to)
            .collect();
        let packets = p.sent.or(p.received).unwrap_or(0) as f64;
        let width = 1.5 + 5.0 * (1.0 + packets).ln() / (1.0 + max).ln();
        // The two directions of a pair run side by side, not on one line.
        // (The perpendicular flips with the direction, so each keeps a side.)
        let side = 1.0;
        for left in lefts {
            let a = anchor(fb, left, centre(tb));
            let b = anchor(tb, arrived, centre(fb));
            let (dx, dy) = (b.0 - a.0, b.1 - a.1);
            let len = (dx * dx + dy * dy).sqrt().max(1.0);
            let (ox, oy) = (-dy / len * 5.0 * side, dx / len * 5.0 * side);
            arrows.push(Arrow {
                from: (a.0 + ox, a.1 + oy),
                to: (b.0 + ox, b.1 + oy),
                width,
                colour: colour.to_string(),
                red: !findings.is_empty(),
            });
            let mut lines = vec![(label_text(p), false)];
            let mut kinds: Vec<&str> = findings.iter().map(|f| f.kind.as_str()).collect();
            kinds.dedup();
            if !kinds.is_empty() {
                lines.push((format!("! {}", kinds.join(", ")), true));
            }
            pending.push((arrows.len() - 1, lines));
        }
    }
    (arrows, pending, colours)
}

/// Each label along its arrow, on its side, where nothing is yet and inside
/// the picture; returns the placed labels and how many found no room.
fn arrow_labels(
    arrows: &[Arrow],
    pending: Pending,
    boxes: &[NodeBox],
    width: f64,
) -> (Vec<Label>, usize) {
    let mut labels: Vec<Label> = Vec::new();
    let mut taken: Vec<Rect> = boxes.iter().map(|b| b.rect.grown(4.0)).collect();
    let mut unplaced = 0usize;
    for (ai, lines) in pending {
        let a = &arrows[ai];
        // On the side the arrow was shifted to, away from its reverse.
        let side = if a.to.0 >= a.from.0 { 1.0 } else { -1.0 };
        let mut placed = None;
        'search: for t in [0.5, 0.4, 0.6, 0.3, 0.7, 0.2, 0.8] {
            for push in [0.0, 1.0, 2.0, 3.0] {
                let mut l = block(lines.clone(), 0.0, 0.0);
                let (x, y) = (
                    a.from.0 + (a.to.0 - a.from.0) * t,
                    a.from.1 + (a.to.1 - a.from.1) * t,
                );
                l.rect.x = x - l.rect.w / 2.0;
                let off = 4.0 + a.width / 2.0 + push * (l.rect.h + 4.0);
                l.rect.y = if side < 0.0 {
                    y - off - l.rect.h
                } else {
                    y + off
                };
                if l.rect.y < TITLE_H
                    || l.rect.x < 0.0
                    || l.rect.x + l.rect.w > width
                    || taken.iter().any(|r| r.overlaps(&l.rect.grown(2.0)))
                {
                    continue;
                }
                placed = Some(l);
                break 'search;
            }
        }
        match placed {
            Some(mut l) => {
                l.backed = true;
                taken.push(l.rect);
                labels.push(l);
            }
            None => unplaced += 1,
        }
    }
    (labels, unplaced)
}

fn idx(boxes: &[NodeBox], name: &str) -> usize {
    boxes
        .iter()
        .position(|b| b.name == name)
        .expect("every endpoint has a box")
}

fn label_text(p: &Pair) -> String {
    let encap: Vec<&str> = p.encap.iter().map(|e| e.label()).collect();
    let encap = encap.join("+");
    match (p.sent, p.received) {
        (Some(s), Some(r)) if s != r => format!("{encap} {s} sent / {r} received"),
        (Some(n), _) | (None, Some(n)) => format!("{encap} {n} pkts"),
        (None, None) => encap,
    }
}

/// Splits a long line at spaces into lines of at most `max` characters
/// (a longer word stays whole); follow-on lines are indented.
fn wrap(text: &str, max: usize) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut cur = String::new();
    for word in text.split(' ') {
        if !cur.is_empty() && cur.chars().count() + 1 + word.chars().count() > max {
            out.push(std::mem::replace(&mut cur, "    ".into()));
        } else if !cur.is_empty() && cur != "    " {
            cur.push(' ');
        }
        cur.push_str(word);
    }
    out.push(cur);
    out
}

fn finding_line(f: &ClusterFinding) -> String {
    format!("! {} {} → {}: {}", f.kind.as_str(), f.from, f.to, f.detail)
}

fn title(m: &Merged) -> String {
    let mut names: Vec<String> = m.nodes.iter().take(6).map(|n| n.name.clone()).collect();
    if m.nodes.len() > 6 {
        names.push(format!("… {} nodes in all", m.nodes.len()));
    }
    format!(
        "tuntrace: {} ({} node pairs, {} findings)",
        names.join(", "),
        m.pairs.len(),
        m.findings.len()
    )
}
