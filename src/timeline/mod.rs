//! The path-change timeline: notices when traffic between the same two
//! ends moves from one NIC or underlay to another (what an operator checks
//! by hand after changing `IP_AUTODETECTION_METHOD`, a route or a NIC).
//!
//! Fed with [`Observation`]s in time order (one batch per `live` interval,
//! or per 100 ms of a capture file for `read`), it keeps, per pair of ends,
//! the path (NIC, encapsulation, outer pair) last used and when.
//!
//! **The ends** (see [`Ends`]), each direction on its own (egress and
//! ingress are separate pairs):
//! - with `--nodes`, the node names of the outer source and destination:
//!   underlay addresses differ per NIC (192.168.30.71 and 192.168.26.71 are
//!   both vms71), the file groups them;
//! - else the inner (pod) pair: the same pod pair crossing another outer
//!   pair or NIC is a move;
//! - else (no inner pair readable) the outer pair: only a NIC change shows.
//!
//! **A move**: traffic of the same ends shows on another path, starting
//! no earlier than the last packet on the old one. Its time is the first
//! packet on the new path; the gap runs from the last packet on the old.
//! Two paths in use at once (within one batch, or overlapping the traffic
//! seen before) are a split, or a handover with packets in flight: no move
//! until one path is left alone; if that is not the old one, it is a move
//! (gap 0) from when the new path started. A lasting split (ECMP, a wrong
//! NIC that `audit` reports) is never a move. Times have the resolution of
//! the input: a tunnel's first/last packet within one batch.
//!
//! **Flapping**: moves between the same two paths each within
//! [`FLAP_WINDOW_NS`] of the one before fold into one event with a count.
//! An event is handed out once it has settled (a window passed with no
//! further move), so it says how many times the path flapped; at most a
//! second plus one batch after the first move.
//!
//! Memory is bounded: [`MAX_ENDS`] pairs of ends are tracked, [`MAX_EVENTS`]
//! events kept (later ones counted in [`Detector::events_dropped`]).

mod files;
mod observe;

use std::collections::{BTreeSet, HashMap};

use crate::audit::nodes::Nodes;
use crate::report::{PathChange, PathEnd, Report};
use crate::timefmt::rfc3339;

pub use files::{may_have_moves, timeline_of_files, FileInput};
pub use observe::{observations, parse_rfc3339, Ends, Observation};

/// Moves closer together than this are one flapping event.
pub const FLAP_WINDOW_NS: u64 = 1_000_000_000;
/// Pairs of ends tracked at most; new ones past it are not followed. About
/// 150 bytes each: with the flow tables, a flood of new pod pairs keeps a
/// live capture under 64 MiB (tests/faults_lab.rs).
pub const MAX_ENDS: usize = 16_384;
/// Events kept at most.
pub const MAX_EVENTS: usize = 10_000;
/// Pod pairs remembered per event (for its `pod_pairs` count).
const MAX_PAIRS_PER_EVENT: usize = 1024;

/// Where one pair of ends was last seen.
#[derive(Debug, Clone)]
struct Current {
    path: PathEnd,
    last_ns: u64,
    /// Set while more than one path is in use: the path before, and when
    /// the other one started.
    split_from: Option<Box<(PathEnd, u64)>>,
}

/// A pair of ends' traffic on one path within one batch.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Segment {
    first_ns: u64,
    last_ns: u64,
    path: PathEnd,
}

/// An event still open to flaps.
#[derive(Debug, Clone)]
struct Pending {
    from: PathEnd,
    to: PathEnd,
    /// The path the traffic is on now.
    state: PathEnd,
    at_ns: u64,
    gap_ns: u64,
    last_move_ns: u64,
    count: u32,
    pods: BTreeSet<Ends>,
}

/// The detector. See the module documentation for the rules.
#[derive(Debug, Default)]
pub struct Detector {
    nodes: Nodes,
    current: HashMap<Ends, Current>,
    pending: Vec<Pending>,
    events: Vec<PathChange>,
    dropped: u64,
}

impl Detector {
    /// `nodes` (from `--nodes`, or empty) names the ends and groups outer
    /// addresses by node.
    pub fn new(nodes: Nodes) -> Detector {
        Detector {
            nodes,
            ..Detector::default()
        }
    }

    pub fn nodes(&self) -> &Nodes {
        &self.nodes
    }

    /// Takes one batch (any order within it) ending at `now_ns`; returns the
    /// events that settled by then.
    pub fn observe(&mut self, mut batch: Vec<Observation>, now_ns: u64) -> Vec<PathChange> {
        // Per pair of ends, one segment per path, in a fixed order (sorted
        // in place: a map per pair of ends costs a node each).
        batch.retain(|o| o.packets > 0);
        batch.sort_unstable_by(|a, b| (&a.ends, &a.path).cmp(&(&b.ends, &b.path)));
        let mut rest = &mut batch[..];
        while !rest.is_empty() {
            let n = rest.iter().take_while(|o| o.ends == rest[0].ends).count();
            let (group, tail) = std::mem::take(&mut rest).split_at_mut(n);
            rest = tail;
            let mut segs: Vec<Segment> = Vec::with_capacity(group.len());
            for o in group.iter_mut() {
                match segs.last_mut() {
                    Some(s) if s.path == o.path => {
                        s.first_ns = s.first_ns.min(o.first_ns);
                        s.last_ns = s.last_ns.max(o.last_ns);
                    }
                    _ => segs.push(Segment {
                        first_ns: o.first_ns,
                        last_ns: o.last_ns,
                        path: o.path.clone(),
                    }),
                }
            }
            segs.sort();
            self.follow(group[0].ends.clone(), segs);
        }
        self.settle(Some(now_ns))
    }

    /// [`Self::observe`] of a report's observations, leaving out up front
    /// the new ends there is no room to follow (with tens of thousands of
    /// new pod pairs an interval, the batch would otherwise hold them all).
    pub fn observe_report(&mut self, report: &Report, now_ns: u64) -> Vec<PathChange> {
        let mut room = MAX_ENDS.saturating_sub(self.current.len());
        let current = &self.current;
        let batch = observe::observations_if(report, &self.nodes, |e| {
            if current.contains_key(e) {
                return true;
            }
            // Counted per observation, not per end: near the limit a new
            // end seen on two paths takes two places.
            if room == 0 {
                return false;
            }
            room -= 1;
            true
        });
        self.observe(batch, now_ns)
    }

    /// Ends the input: every open event settles; returns those.
    pub fn finish(&mut self) -> Vec<PathChange> {
        self.settle(None)
    }

    /// Every event handed out so far, oldest first.
    pub fn events(&self) -> &[PathChange] {
        &self.events
    }

    /// Events past [`MAX_EVENTS`], not kept.
    pub fn events_dropped(&self) -> u64 {
        self.dropped
    }

    /// One batch of one pair of ends: its segments, by first packet.
    fn follow(&mut self, ends: Ends, segs: Vec<Segment>) {
        let Some(latest) = segs.iter().max_by_key(|s| s.last_ns).cloned() else {
            return;
        };
        let mut max_last = 0;
        let overlap = segs.iter().any(|s| {
            let o = s.first_ns < max_last;
            max_last = max_last.max(s.last_ns);
            o
        });
        let room = self.current.len() < MAX_ENDS;
        let Some(cur) = self.current.get_mut(&ends) else {
            if room {
                let split = overlap.then(|| Box::new((latest.path.clone(), segs[0].first_ns)));
                let cur = Current {
                    path: latest.path,
                    last_ns: latest.last_ns,
                    split_from: split,
                };
                self.current.insert(ends, cur);
            }
            return;
        };
        if overlap {
            // Two paths at once: a split, or a handover with packets in
            // flight. Which one shows when one path is left alone.
            if cur.split_from.is_none() {
                let new_first = segs
                    .iter()
                    .filter(|s| s.path != cur.path)
                    .map(|s| s.first_ns);
                let since = new_first.min().unwrap_or(latest.first_ns);
                cur.split_from = Some(Box::new((cur.path.clone(), since)));
            }
            cur.path = latest.path;
            cur.last_ns = cur.last_ns.max(latest.last_ns);
            return;
        }
        let mut moves = Vec::new();
        for seg in segs {
            if seg.path == cur.path && cur.split_from.is_none() {
                cur.last_ns = cur.last_ns.max(seg.last_ns);
                continue;
            }
            if let Some((old, since)) = cur.split_from.take().map(|b| *b) {
                // One path left after a split: a move if it is not the old one.
                if seg.path != old {
                    moves.push((old, seg.path.clone(), since, 0));
                }
            } else if seg.first_ns < cur.last_ns {
                // Overlaps the traffic already seen on the current path.
                cur.split_from = Some(Box::new((cur.path.clone(), seg.first_ns)));
            } else {
                let gap = seg.first_ns - cur.last_ns;
                moves.push((cur.path.clone(), seg.path.clone(), seg.first_ns, gap));
            }
            cur.path = seg.path;
            cur.last_ns = cur.last_ns.max(seg.last_ns);
        }
        for (from, to, at_ns, gap_ns) in moves {
            self.record(ends.clone(), from, to, at_ns, gap_ns);
        }
    }

    fn record(&mut self, ends: Ends, from: PathEnd, to: PathEnd, at_ns: u64, gap_ns: u64) {
        let same_paths =
            |p: &Pending| (p.from == from && p.to == to) || (p.from == to && p.to == from);
        let open = self
            .pending
            .iter_mut()
            .find(|p| same_paths(p) && at_ns <= p.last_move_ns.saturating_add(FLAP_WINDOW_NS));
        let p = match open {
            Some(p) => {
                if p.state != to {
                    // Back (or forth) again: a flap.
                    p.count += 1;
                    p.state = to;
                }
                p.last_move_ns = p.last_move_ns.max(at_ns);
                p
            }
            None => {
                self.pending.push(Pending {
                    from,
                    state: to.clone(),
                    to,
                    at_ns,
                    gap_ns,
                    last_move_ns: at_ns,
                    count: 1,
                    pods: BTreeSet::new(),
                });
                let last = self.pending.len() - 1;
                &mut self.pending[last]
            }
        };
        if matches!(ends, Ends::Pods(..)) && p.pods.len() < MAX_PAIRS_PER_EVENT {
            p.pods.insert(ends);
        }
    }

    /// Hands out the pending events whose window closed by `now_ns` (all
    /// when `None`), in the order they started.
    fn settle(&mut self, now_ns: Option<u64>) -> Vec<PathChange> {
        let (done, open): (Vec<Pending>, Vec<Pending>) = std::mem::take(&mut self.pending)
            .into_iter()
            .partition(|p| {
                now_ns.map_or(true, |now| {
                    p.last_move_ns.saturating_add(FLAP_WINDOW_NS) <= now
                })
            });
        self.pending = open;
        let mut out: Vec<PathChange> = done.into_iter().map(|p| self.change(p)).collect();
        out.sort_by(|a, b| a.at.cmp(&b.at));
        for e in &out {
            if self.events.len() < MAX_EVENTS {
                self.events.push(e.clone());
            } else {
                self.dropped += 1;
            }
        }
        out
    }

    fn change(&self, p: Pending) -> PathChange {
        let name = |ip| self.nodes.identity(ip);
        PathChange {
            src: name(p.from.outer_src),
            dst: name(p.from.outer_dst),
            at: rfc3339(p.at_ns),
            gap_ms: p.gap_ns / 1_000_000,
            count: p.count,
            last_at: (p.count > 1).then(|| rfc3339(p.last_move_ns)),
            pod_pairs: p.pods.len() as u64,
            from: p.from,
            to: p.to,
        }
    }
}

#[cfg(test)]
mod tests;
