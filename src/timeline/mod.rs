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
//! **A move**: traffic of the same ends appears on another path, starting
//! no earlier than the last packet on the old one (two paths in use at once
//! are a split, which `audit` reports, not a move). Its time is the first
//! packet on the new path; the gap runs from the last packet on the old.
//! Times have the resolution of the input: a tunnel's first/last packet
//! within one batch.
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
use crate::report::{PathChange, PathEnd};
use crate::timefmt::rfc3339;

pub use files::{timeline_of_files, FileInput};
pub use observe::{observations, parse_rfc3339, Ends, Observation};

/// Moves closer together than this are one flapping event.
pub const FLAP_WINDOW_NS: u64 = 1_000_000_000;
/// Pairs of ends tracked at most; new ones past it are not followed.
pub const MAX_ENDS: usize = 65_536;
/// Events kept at most.
pub const MAX_EVENTS: usize = 10_000;
/// Pod pairs remembered per event (for its `pod_pairs` count).
const MAX_PAIRS_PER_EVENT: usize = 1024;

/// Where one pair of ends was last seen.
#[derive(Debug, Clone)]
struct Current {
    path: PathEnd,
    last_ns: u64,
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
        batch.sort_by_key(|o| (o.first_ns, o.last_ns));
        for o in batch {
            self.one(o);
        }
        self.settle(Some(now_ns))
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

    fn one(&mut self, o: Observation) {
        if o.packets == 0 {
            return;
        }
        let room = self.current.len() < MAX_ENDS;
        let Some(cur) = self.current.get_mut(&o.ends) else {
            if room {
                let cur = Current {
                    path: o.path,
                    last_ns: o.last_ns,
                };
                self.current.insert(o.ends, cur);
            }
            return;
        };
        if cur.path == o.path {
            cur.last_ns = cur.last_ns.max(o.last_ns);
            return;
        }
        if o.first_ns < cur.last_ns {
            // Both paths at once: a split, not a move.
            return;
        }
        let from = std::mem::replace(&mut cur.path, o.path.clone());
        let gap_ns = o.first_ns - cur.last_ns;
        cur.last_ns = o.last_ns;
        self.record(o.ends, from, o.path, o.first_ns, gap_ns);
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
