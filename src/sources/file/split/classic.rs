//! Classic pcap parts: the file header, cut finding, and reading a part.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::FileExt;

use super::super::input::Input;
use super::super::pcap::{self, Params, FILE_HDR, REC_HDR};
use super::super::{rd32, Fail, FrameFilter};
use super::probe::{find_first, Chain};
use crate::iface::IfaceId;
use crate::sources::Frame;

/// The file's parameters and its first record's seconds (cut finding keeps
/// to times near it), if it is classic pcap with at least one record.
pub(super) fn head(
    file: &File,
    magic: [u8; 4],
    filter: Option<&dyn FrameFilter>,
) -> Option<(Params, u32)> {
    let mut head = [0u8; FILE_HDR + 16];
    file.read_exact_at(&mut head, 0).ok()?;
    let (be, nanos) = pcap::magic(magic)?;
    let params = pcap::params(&head, be, nanos, IfaceId(0), filter).ok()?;
    let near = pcap::first_secs(&head, &params)?;
    Some((params, near))
}

/// The first offset at or after `at` where a chain of plausible records
/// starts. A record is at most `max_record` bytes, so a true boundary lies
/// within that distance of any offset.
pub(super) fn find_cut(file: &File, at: u64, size: u64, p: &Params, near: u32) -> Option<u64> {
    let within = pcap::max_record(p);
    find_first(file, at, size, 1, within, |b, at_eof| {
        plausible_chain(b, p, near, at_eof)
    })
}

/// Records a boundary guess must chain through.
const CHAIN: usize = 32;

/// Whether `b` starts a chain of plausible record headers: [`CHAIN`] of
/// them, or at least 4 before the chain runs past the end of `b`, or any
/// that end exactly at the end of `b` when that is the end of the file.
/// Plausible: a non-empty record (runs of zero bytes would pass otherwise),
/// a valid fraction, caplen within the limit and at most orig_len, and a
/// time within ten years of `near_secs` (the first record's). Only a guess,
/// since a packet's bytes can look like headers; the caller confirms it.
fn plausible_chain(b: &[u8], p: &Params, near_secs: u32, at_eof: bool) -> Chain {
    const TEN_YEARS: u32 = 10 * 366 * 86_400;
    let frac_max: u64 = if p.frac_ns == 1 {
        1_000_000_000
    } else {
        1_000_000
    };
    let mut pos = 0usize;
    for n in 0..CHAIN {
        if b.len() - pos < REC_HDR {
            return Chain::Short {
                enough: n >= 4 || (at_eof && pos == b.len() && n > 0),
            };
        }
        let rd = |at| {
            if p.be {
                rd32::<true>(b, pos + at)
            } else {
                rd32::<false>(b, pos + at)
            }
        };
        let (secs, frac, caplen, orig) = (rd(0), rd(4), rd(8), rd(12));
        if secs.abs_diff(near_secs) > TEN_YEARS
            || u64::from(frac) >= frac_max
            || caplen == 0
            || caplen > p.limit
            || orig < caplen
        {
            return Chain::No;
        }
        pos += REC_HDR + caplen as usize;
        if pos > b.len() {
            return Chain::Short { enough: n + 1 >= 4 };
        }
    }
    Chain::Yes
}

/// Reads records from a record boundary to the end of `inp`: where it
/// stopped (the end, or the record it could not read) and why.
pub(super) fn read<R: Read, F: FnMut(&Frame<'_>)>(
    inp: &mut Input<'_, R>,
    p: &Params,
    deliver: &mut F,
) -> (u64, Result<(), Fail>) {
    match pcap::records(inp, p, deliver) {
        Ok(None) => (inp.consumed(), Ok(())),
        Ok(Some(cut)) => (cut.offset(), Err(cut.damage())),
        Err(fail @ Fail::Damaged { offset, .. }) => (offset, Err(fail)),
        Err(fail) => (inp.consumed(), Err(fail)),
    }
}
