//! The timeline of capture files (`read`): a second, sequential pass that
//! counts frames into one small table per [`BUCKET_NS`] of capture time and
//! feeds the detector bucket by bucket, in time order over all files.
//!
//! `read`'s fast path is left as it is: the pass runs only when the whole
//! report shows some ends on more than one path ([`may_have_moves`]), which
//! a capture without a change never does.

use std::collections::hash_map::Entry;
use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::net::IpAddr;
use std::path::PathBuf;

use rustc_hash::FxHashMap;

use crate::audit::nodes::Nodes;
use crate::decode::{DecodeConfig, Encap};
use crate::flows::{Counts, FlowTable, Limits};
use crate::iface::{IfaceId, IfaceTable};
use crate::pipeline::Pipeline;
use crate::report::{PathChange, PathEnd};
use crate::sources::file::{read_file, FileOptions};

use super::observe::{of_tunnel, tunnel_ends, Ends};
use super::Detector;

/// Time resolution of a file's timeline.
pub const BUCKET_NS: u64 = 100_000_000;
/// Tunnel rows and pod pairs held for the pass at most (about 100 and 50
/// bytes each: 15 MB at most).
const MAX_HELD: usize = 200_000;

/// One file to read again, as the first pass read it.
#[derive(Clone)]
pub struct FileInput {
    pub path: PathBuf,
    pub opts: FileOptions<'static>,
}

/// One tunnel's traffic in one bucket.
struct Row {
    iface: IfaceId,
    encap: Encap,
    outer: (IpAddr, IpAddr),
    counts: Counts,
    inner: Vec<(IpAddr, IpAddr, u64)>,
}

/// Could `table` (the whole capture, as its report would show it) hold a
/// move? Only if some ends used two paths whose times do not (mostly)
/// overlap: one path ending about when the other starts. Two paths used
/// side by side all along are a split (or unrelated conversations that
/// happen to share a pod pair), and a capture without a change never
/// passes. Flapping that has not settled when the capture ends may be
/// missed (both paths then span the same end).
///
/// Read from the table rather than the report, so that it can run beside
/// `build_report` (each takes milliseconds on a busy capture).
pub fn may_have_moves(table: &FlowTable, nodes: &Nodes) -> bool {
    // A tunnel's own ends (node names), or None: its pairs', or its outer
    // pair's when it kept no pair.
    let whole: Vec<Option<Ends>> = table
        .tunnels
        .iter()
        .map(|(k, _)| tunnel_ends(nodes, k.outer_src, k.outer_dst))
        .collect();
    let mut has_pairs = vec![false; table.tunnels.len()];
    // (ends, tunnel index): no map node per pod pair.
    let mut seen: Vec<(Ends, u32)> = Vec::with_capacity(table.pair_count() + whole.len());
    for (ti, pair, _) in table.pairs() {
        has_pairs[ti as usize] = true;
        if whole[ti as usize].is_none() {
            seen.push((Ends::Pods(pair.src, pair.dst), ti));
        }
    }
    for (ti, (ends, (k, _))) in whole.into_iter().zip(&table.tunnels).enumerate() {
        match ends {
            Some(e) => seen.push((e, ti as u32)),
            None if !has_pairs[ti] => seen.push((Ends::Outer(k.outer_src, k.outer_dst), ti as u32)),
            None => {}
        }
    }
    let span = |ti: u32| {
        let c = &table.tunnels[ti as usize].1.counts;
        (c.first_ns, c.last_ns)
    };
    let keyed = sharing_a_hash(seen.iter().map(|s| &s.0));
    keyed.chunk_by(|a, b| a.0 == b.0).any(|group| {
        group.iter().enumerate().any(|(i, &(_, a))| {
            let a = &seen[a as usize];
            group[i + 1..].iter().any(|&(_, b)| {
                let b = &seen[b as usize];
                if a.0 != b.0 {
                    return false;
                }
                let ((a_first, a_last), (b_first, b_last)) = (span(a.1), span(b.1));
                let overlap = a_last.min(b_last).saturating_sub(a_first.max(b_first));
                let shorter = (a_last - a_first).min(b_last - b_first);
                overlap == 0 || overlap < shorter / 10 * 9
            })
        })
    })
}

/// (hash, index) of every item whose hash another item shares, sorted, so
/// that equal items sit in one run. Only those can be on two paths: a map
/// from hash to first index finds them (tens of thousands of pod pairs,
/// nearly all on one path) without sorting every item.
fn sharing_a_hash<'a, T: Hash + 'a>(items: impl Iterator<Item = &'a T>) -> Vec<(u64, u32)> {
    let mut first_of: FxHashMap<u64, u32> =
        FxHashMap::with_capacity_and_hasher(items.size_hint().0, Default::default());
    let mut shared = Vec::new();
    for (i, item) in items.enumerate() {
        let mut h = rustc_hash::FxHasher::default();
        item.hash(&mut h);
        let h = h.finish();
        match first_of.entry(h) {
            Entry::Vacant(v) => {
                v.insert(i as u32);
            }
            Entry::Occupied(o) => {
                shared.push((h, *o.get()));
                shared.push((h, i as u32));
            }
        }
    }
    shared.sort_unstable();
    shared.dedup();
    shared
}

/// The path changes in `files` (already read once; worth reading again
/// when [`may_have_moves`]). Returns the events and whether the bound on
/// held rows cut the pass short.
pub fn timeline_of_files(
    files: &[FileInput],
    ifaces: &mut IfaceTable,
    cfg: &DecodeConfig,
    limits: Limits,
    nodes: Nodes,
) -> (Vec<PathChange>, bool) {
    let mut buckets: BTreeMap<u64, Vec<Row>> = BTreeMap::new();
    let mut held = 0usize;
    let mut cut = false;
    let mut keep = |table: &mut FlowTable, bucket: u64| {
        let t = table.take();
        let pairs = t.pairs_by_tunnel();
        for ((k, s), p) in t.tunnels.iter().zip(pairs) {
            if held >= MAX_HELD {
                cut = true;
                return;
            }
            held += 1 + p.len();
            buckets.entry(bucket).or_default().push(Row {
                iface: k.iface,
                encap: k.encap,
                outer: (k.outer_src, k.outer_dst),
                counts: s.counts,
                inner: p
                    .into_iter()
                    .map(|(pk, c)| (pk.src, pk.dst, c.packets))
                    .collect(),
            });
        }
    };
    for f in files {
        let mut pipe = Pipeline::new(cfg.clone(), limits);
        let mut current: Option<u64> = None;
        // Errors were reported by the first pass; what was read counts.
        let _ = read_file(&f.path, &f.opts, ifaces, |frame| {
            let b = frame.ts_ns / BUCKET_NS;
            if current != Some(b) {
                if let Some(c) = current {
                    keep(&mut pipe.table, c);
                }
                current = Some(b);
            }
            pipe.feed(frame);
        });
        if let Some(c) = current {
            keep(&mut pipe.table, c);
        }
    }
    let mut det = Detector::new(nodes);
    for (b, rows) in buckets {
        let mut batch = Vec::new();
        for r in rows {
            let path = PathEnd {
                device: ifaces.name(r.iface),
                encap: r.encap,
                outer_src: r.outer.0,
                outer_dst: r.outer.1,
            };
            let c = r.counts;
            let times = (c.packets, c.first_ns, c.last_ns);
            of_tunnel(det.nodes(), path, times, r.inner.into_iter(), &mut batch);
        }
        det.observe(batch, (b + 1) * BUCKET_NS);
    }
    det.finish();
    (det.events().to_vec(), cut)
}

#[cfg(test)]
mod tests {
    use super::sharing_a_hash;

    #[test]
    fn only_items_whose_hash_is_shared_are_kept_grouped() {
        let items = ["a", "b", "a", "c", "b", "a"];
        let shared = sharing_a_hash(items.iter());
        let mut groups: Vec<Vec<&str>> = shared
            .chunk_by(|x, y| x.0 == y.0)
            .map(|g| g.iter().map(|&(_, i)| items[i as usize]).collect())
            .collect();
        groups.sort();
        assert_eq!(groups, vec![vec!["a", "a", "a"], vec!["b", "b"]]);
        let indices: Vec<u32> = shared.iter().map(|&(_, i)| i).collect();
        assert!(!indices.contains(&3), "the unshared item is left out");
        assert!(sharing_a_hash(["x", "y", "z"].iter()).is_empty());
    }
}
