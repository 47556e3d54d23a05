//! Classic pcap parts: the file header, cut finding, and reading a part.

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;

use super::super::input::Input;
use super::super::pcap::{self, Params, FILE_HDR};
use super::super::{Fail, FrameFilter};
use crate::iface::IfaceId;
use crate::sources::Frame;

/// Bytes read at a planned cut to find a record boundary.
const PROBE_BYTES: usize = 1 << 20;

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
    let mut buf = vec![0u8; PROBE_BYTES.min(usize::try_from(size - at).ok()?)];
    let n = read_full(file, &mut buf, at)?;
    let b = &buf[..n];
    let at_eof = at + n as u64 >= size;
    (0..pcap::max_record(p).min(n))
        .find(|&o| pcap::plausible_chain(&b[o..], p, near, at_eof))
        .map(|o| at + o as u64)
}

/// Fills `buf` from `at` as far as the file goes; the bytes read.
pub(super) fn read_full(file: &File, buf: &mut [u8], at: u64) -> Option<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read_at(&mut buf[n..], at + n as u64) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
    Some(n)
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
