//! pcapng parts: the head (first section header and interfaces) and cut
//! finding at block boundaries.

use std::fs::File;
use std::sync::Arc;

use super::super::input::Input;
use super::super::pcapng::{self as ng, State};
use super::super::{rd32, FrameFilter, MAX_BLOCK};
use super::probe::{find_first, Chain};
use super::Range;
use crate::iface::IfaceTable;

/// Blocks a boundary guess must chain through (fewer if the file ends).
const CHAIN: usize = 16;

/// The state after the file's first section header and the interface
/// blocks that follow it, and the offset there; `None` if they are
/// damaged (the one-thread read reports it).
pub(super) fn head(
    file: &File,
    ifaces: &mut IfaceTable,
    filter: Option<Arc<dyn FrameFilter>>,
) -> Option<(State, u64)> {
    let reader = Range {
        file,
        pos: 0,
        end: u64::MAX,
        stop: None,
    };
    let mut inp = Input::new(reader, None);
    let st = ng::head(&mut inp, ifaces, filter).ok()?;
    Some((st, inp.consumed()))
}

/// Finds plausible block boundaries: a chain of blocks of a known kind,
/// each a multiple of 4 bytes long with its length repeated at its end, in
/// the byte order of the first section or the other one.
pub(super) struct Finder {
    be: bool,
}

impl Finder {
    pub(super) fn new(be: bool) -> Self {
        Finder { be }
    }

    /// The first plausible boundary at or after `at`. Blocks start at
    /// multiples of 4 from the file start.
    pub(super) fn find(&self, file: &File, at: u64, size: u64) -> Option<u64> {
        let at = at.next_multiple_of(4);
        if at >= size {
            return None;
        }
        find_first(file, at, size, 4, usize::MAX, |b, at_eof| {
            chain(b, self.be, at_eof).or(|| chain(b, !self.be, at_eof))
        })
    }
}

/// Whether `b` starts with [`CHAIN`] plausible blocks, or at least 3 before
/// the probe ends, or some that end exactly at the end of the file.
fn chain(b: &[u8], be: bool, at_eof: bool) -> Chain {
    let rd = |at: usize| {
        if be {
            rd32::<true>(b, at)
        } else {
            rd32::<false>(b, at)
        }
    };
    let mut pos = 0usize;
    for n in 0..CHAIN {
        if b.len() - pos < 12 {
            return Chain::Short {
                enough: n >= 3 || (at_eof && pos == b.len() && n > 0),
            };
        }
        let (btype, len) = (rd(pos), rd(pos + 4));
        let known = matches!(btype, 1..=10 | 0x0a0d_0d0a | 0x0000_0bad | 0x4000_0bad);
        if !known || len < 12 || len % 4 != 0 || len > MAX_BLOCK {
            return Chain::No;
        }
        let len = len as usize;
        if len > b.len() - pos {
            return Chain::Short { enough: n >= 3 };
        }
        if rd(pos + len - 4) as usize != len {
            return Chain::No;
        }
        pos += len;
    }
    Chain::Yes
}
