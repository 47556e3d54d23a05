//! pcapng: a sequence of blocks (type, total length, body, total length
//! again). Each Section Header Block fixes the byte order for its section and
//! starts a fresh interface list; Interface Description Blocks give each
//! interface its link type, name and timestamp unit, so link types may differ
//! per interface. Packets come in Enhanced, Simple and obsolete Packet Blocks;
//! every other block is skipped unread.

use std::io::Read;
use std::sync::Arc;

mod idb;

use super::input::{Input, BUF_SIZE};
use super::{damaged, link_filter, rd16, rd32, Fail, FrameFilter, MAX_BLOCK, MAX_CAPLEN};
use crate::iface::IfaceTable;
use crate::linktype::LinkType;
use crate::sources::Frame;
use idb::Iface;

/// The Section Header Block type, the same in both byte orders.
pub(super) const SHB_MAGIC: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];
const SHB: u32 = 0x0a0d_0d0a;
const IDB: u32 = 1;
const PB: u32 = 2;
const SPB: u32 = 3;
const EPB: u32 = 6;

/// Type, length, byte-order magic, version, section length, trailing length.
const SHB_MIN: usize = 28;

/// A `last_ts` no packet has set yet, in a part of a split read: the
/// real one is known only once the previous part is.
pub(in crate::sources::file) const TS_UNKNOWN: u64 = u64::MAX;

/// Per-section state; the interfaces are reset by every SHB.
#[derive(Default, Debug, Clone)]
struct Section {
    ifaces: Vec<Iface>,
    /// Simple Packet Blocks carry no time: they get the previous packet's.
    last_ts: u64,
    /// A Simple Packet Block took `last_ts` while it was [`TS_UNKNOWN`].
    borrowed_ts: bool,
    /// Compiled for each interface's link type.
    filter: SectionFilter,
    /// Why the filter failed for an interface (its block is not damaged).
    filter_fail: Option<(LinkType, String)>,
}

/// The `--filter` a section compiles for each interface it defines.
#[derive(Clone, Default)]
struct SectionFilter(Option<Arc<dyn FrameFilter>>);

impl std::fmt::Debug for SectionFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "filter" } else { "none" })
    }
}

/// Where a read stands between two blocks: what a read that starts at a
/// block boundary in the middle of the file needs (a split read's part).
#[derive(Debug, Clone)]
pub(in crate::sources::file) struct State {
    be: bool,
    sec: Section,
}

impl State {
    /// The state to assume at a cut with this one the latest known: same
    /// section and interfaces, the previous packet's time unknown.
    pub(in crate::sources::file) fn speculated(&self) -> State {
        State {
            be: self.be,
            sec: Section {
                ifaces: self.sec.ifaces.clone(),
                last_ts: TS_UNKNOWN,
                borrowed_ts: false,
                filter: self.sec.filter.clone(),
                filter_fail: None,
            },
        }
    }

    /// Same byte order and interfaces.
    pub(in crate::sources::file) fn same_section(&self, other: &State) -> bool {
        self.be == other.be && self.sec.ifaces == other.sec.ifaces
    }

    pub(in crate::sources::file) fn be(&self) -> bool {
        self.be
    }

    /// Whether a part read from `speculated` and ending in `self` gave the
    /// frames a read in `real` (the true state at the part's start) gives,
    /// and so ends in the true state [`Self::after`]. Conservative: a
    /// "no" only costs reading the part again.
    pub(in crate::sources::file) fn part_holds(&self, speculated: &State, real: &State) -> bool {
        let same = speculated.same_section(real);
        // Unless the true previous time is itself unknown, no packet may
        // have taken the unknown one, and one must have set a known one.
        let times = real.sec.last_ts == TS_UNKNOWN
            || (!self.sec.borrowed_ts && self.sec.last_ts != TS_UNKNOWN);
        same && times
    }
}

/// Reads every section of a pcapng file; `inp` starts at the first SHB.
pub(super) fn read<R: Read, F: FnMut(&Frame<'_>)>(
    inp: &mut Input<'_, R>,
    ifaces: &mut IfaceTable,
    filter: Option<Arc<dyn FrameFilter>>,
    deliver: &mut F,
) -> Result<(), Fail> {
    let be = section_header(inp, true)?;
    let mut st = State {
        be,
        sec: Section {
            filter: SectionFilter(filter),
            ..Section::default()
        },
    };
    read_from(inp, &mut st, ifaces, deliver)
}

/// Reads blocks from a block boundary in state `st` to the end of input,
/// keeping `st` up to date. On an error, `st` is the state at the block
/// the error names.
pub(in crate::sources::file) fn read_from<R: Read, F: FnMut(&Frame<'_>)>(
    inp: &mut Input<'_, R>,
    st: &mut State,
    ifaces: &mut IfaceTable,
    deliver: &mut F,
) -> Result<(), Fail> {
    loop {
        let more = if st.be {
            blocks::<R, F, true>(inp, &mut st.sec, ifaces, deliver)?
        } else {
            blocks::<R, F, false>(inp, &mut st.sec, ifaces, deliver)?
        };
        if !more {
            return Ok(());
        }
        st.be = section_header(inp, false)?;
        st.sec.ifaces.clear();
    }
}

/// Bytes [`head`] looks at: interface blocks beyond are read by the parts.
const HEAD_BYTES: usize = 256 << 10;

/// Reads the first SHB and the interface (and other non-packet) blocks
/// after it, up to the first packet block or a block that is not all in
/// the buffer: the state a split read starts its first part in.
pub(in crate::sources::file) fn head<R: Read>(
    inp: &mut Input<'_, R>,
    ifaces: &mut IfaceTable,
    filter: Option<Arc<dyn FrameFilter>>,
) -> Result<State, Fail> {
    let be = section_header(inp, true)?;
    let mut sec = Section {
        filter: SectionFilter(filter),
        ..Section::default()
    };
    inp.fill(HEAD_BYTES)?;
    loop {
        let w = inp.window();
        if w.len() < 8 {
            break;
        }
        let rd = |at| {
            if be {
                rd32::<true>(w, at)
            } else {
                rd32::<false>(w, at)
            }
        };
        let (btype, len) = (rd(0), rd(4) as usize);
        if matches!(btype, SHB | PB | SPB | EPB) || len < 12 || len % 4 != 0 || len > w.len() {
            break;
        }
        if rd(len - 4) as usize != len {
            break;
        }
        let blk = &w[..len];
        let ok = if be {
            sec.block::<_, true>(btype, blk, ifaces, &mut |_| {})
        } else {
            sec.block::<_, false>(btype, blk, ifaces, &mut |_| {})
        };
        if ok.is_err() {
            break;
        }
        inp.advance(len);
    }
    Ok(State { be, sec })
}

/// Consumes the SHB at the current position; returns whether the section is
/// big-endian. Problems in the first one mean "not a capture".
fn section_header<R: Read>(inp: &mut Input<'_, R>, first: bool) -> Result<bool, Fail> {
    let off = inp.consumed();
    let bad = |detail: String| {
        if first {
            Fail::NotCapture(format!("pcapng: {detail}"))
        } else {
            damaged(off, detail)
        }
    };
    let n = inp.fill(SHB_MIN)?;
    if n < SHB_MIN {
        return Err(bad(format!(
            "file ends inside a section header block ({n} of {SHB_MIN} bytes)"
        )));
    }
    let h = inp.window();
    let be = match [h[8], h[9], h[10], h[11]] {
        [0x1a, 0x2b, 0x3c, 0x4d] => true,
        [0x4d, 0x3c, 0x2b, 0x1a] => false,
        m => {
            return Err(bad(format!(
                "bad byte-order magic {:02x} {:02x} {:02x} {:02x} (expected 1a2b3c4d)",
                m[0], m[1], m[2], m[3]
            )))
        }
    };
    let (len, major, minor) = if be {
        (rd32::<true>(h, 4), rd16::<true>(h, 12), rd16::<true>(h, 14))
    } else {
        (
            rd32::<false>(h, 4),
            rd16::<false>(h, 12),
            rd16::<false>(h, 14),
        )
    };
    if major != 1 {
        return Err(bad(format!(
            "unsupported pcapng version {major}.{minor} (expected 1.x)"
        )));
    }
    if (len as usize) < SHB_MIN || len % 4 != 0 || len > MAX_BLOCK {
        return Err(bad(format!("bad section header block length {len}")));
    }
    if be {
        consume_block::<R, true>(inp, off, len)
    } else {
        consume_block::<R, false>(inp, off, len)
    }
    .map_err(|e| match e {
        Fail::Damaged { detail, .. } if first => Fail::NotCapture(format!("pcapng: {detail}")),
        e => e,
    })?;
    Ok(be)
}

/// Consumes a whole block whose header was checked, reading through it when
/// it is larger than the buffer, and checks its trailing length.
fn consume_block<R: Read, const BE: bool>(
    inp: &mut Input<'_, R>,
    off: u64,
    len: u32,
) -> Result<(), Fail> {
    let len = len as usize;
    let ends_inside = || damaged(off, format!("file ends inside a block of {len} bytes"));
    if len <= BUF_SIZE {
        if inp.fill(len)? < len {
            return Err(ends_inside());
        }
    } else if !inp.skip((len - 4) as u64)? || inp.fill(4)? < 4 {
        return Err(ends_inside());
    }
    let w = inp.window();
    let at = if len <= BUF_SIZE { len - 4 } else { 0 };
    let trailer = rd32::<BE>(w, at);
    if trailer as usize != len {
        return Err(damaged(off, trailer_mismatch(len as u32, trailer)));
    }
    inp.advance(at + 4);
    Ok(())
}

fn trailer_mismatch(len: u32, trailer: u32) -> String {
    format!("block length {len} but trailing length {trailer}")
}

/// Reads the blocks of one section. True when another SHB follows.
fn blocks<R: Read, F: FnMut(&Frame<'_>), const BE: bool>(
    inp: &mut Input<'_, R>,
    sec: &mut Section,
    ifaces: &mut IfaceTable,
    deliver: &mut F,
) -> Result<bool, Fail> {
    loop {
        // Fast path: every block wholly in the buffer is handled in place.
        let (buf, mut pos) = inp.buffered();
        while buf.len() - pos >= 8 {
            let btype = rd32::<BE>(buf, pos);
            let len = rd32::<BE>(buf, pos + 4);
            if btype == SHB {
                inp.set_pos(pos);
                return Ok(true);
            }
            if len < 12 || len % 4 != 0 {
                return Err(damaged(
                    inp.offset_at(pos),
                    format!("bad block length {len}"),
                ));
            }
            let len = len as usize;
            if len > buf.len() - pos {
                break;
            }
            let blk = &buf[pos..pos + len];
            let trailer = rd32::<BE>(blk, len - 4);
            if trailer as usize != len {
                let detail = trailer_mismatch(len as u32, trailer);
                return Err(damaged(inp.offset_at(pos), detail));
            }
            if let Err(d) = sec.block::<F, BE>(btype, blk, ifaces, deliver) {
                return Err(match sec.filter_fail.take() {
                    Some((linktype, detail)) => Fail::Filter { linktype, detail },
                    None => damaged(inp.offset_at(pos), d),
                });
            }
            pos += len;
        }
        inp.set_pos(pos);

        // Slow path: the next block header or body is not all buffered.
        let off = inp.consumed();
        let n = inp.fill(8)?;
        if n == 0 {
            return Ok(false);
        }
        if n < 8 {
            return Err(damaged(
                off,
                format!("file ends inside a block header ({n} of 8 bytes)"),
            ));
        }
        let w = inp.window();
        let (btype, len) = (rd32::<BE>(w, 0), rd32::<BE>(w, 4));
        if btype == SHB {
            return Ok(true);
        }
        if len < 12 || len % 4 != 0 {
            return Err(damaged(off, format!("bad block length {len}")));
        }
        let in_place = matches!(btype, IDB | PB | SPB | EPB);
        if len as usize <= BUF_SIZE {
            let got = inp.fill(len as usize)?;
            if got < len as usize {
                return Err(damaged(
                    off,
                    format!("file ends inside a block ({got} of {len} bytes present)"),
                ));
            }
            // The fast path takes it from here.
        } else if in_place || len > MAX_BLOCK {
            return Err(damaged(
                off,
                format!("implausible block length {len} (type {btype})"),
            ));
        } else {
            consume_block::<R, BE>(inp, off, len)?;
        }
    }
}

impl Section {
    /// Handles one whole block other than an SHB. Errors are damage details
    /// for the block's offset.
    #[inline(always)]
    fn block<F: FnMut(&Frame<'_>), const BE: bool>(
        &mut self,
        btype: u32,
        blk: &[u8],
        ifaces: &mut IfaceTable,
        deliver: &mut F,
    ) -> Result<(), String> {
        match btype {
            EPB | PB => self.packet::<F, BE>(btype, blk, deliver),
            SPB => self.simple::<F, BE>(blk, deliver),
            IDB => {
                let mut i = idb::parse::<BE>(blk, self.ifaces.len(), ifaces)?;
                match link_filter(self.filter.0.as_deref(), i.linktype) {
                    Ok(f) => i.filter = f,
                    Err(fail) => {
                        if let Fail::Filter { linktype, detail } = fail {
                            self.filter_fail = Some((linktype, detail));
                        }
                        return Err(String::new());
                    }
                }
                self.ifaces.push(i);
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Enhanced (type 6) or obsolete (type 2) Packet Block; they differ only
    /// in the width of the interface id.
    #[inline(always)]
    fn packet<F: FnMut(&Frame<'_>), const BE: bool>(
        &mut self,
        btype: u32,
        blk: &[u8],
        deliver: &mut F,
    ) -> Result<(), String> {
        const HDR: usize = 28;
        if blk.len() < HDR + 4 {
            return Err(format!("packet block too short ({} bytes)", blk.len()));
        }
        let ifid = if btype == EPB {
            rd32::<BE>(blk, 8)
        } else {
            u32::from(rd16::<BE>(blk, 8))
        };
        let caplen = rd32::<BE>(blk, 20);
        let room = blk.len() - HDR - 4;
        if caplen as usize > room {
            return Err(format!(
                "packet length {caplen} exceeds its block ({room} bytes of room)"
            ));
        }
        if caplen > MAX_CAPLEN {
            return Err(format!(
                "packet length {caplen} exceeds the {MAX_CAPLEN}-byte limit"
            ));
        }
        let Some(i) = self.ifaces.get(ifid as usize) else {
            return Err(undefined(ifid, self.ifaces.len()));
        };
        let t = (u64::from(rd32::<BE>(blk, 12)) << 32) | u64::from(rd32::<BE>(blk, 16));
        let ts_ns = i.ts_ns(t);
        self.last_ts = ts_ns;
        let frame = Frame {
            iface: i.id,
            linktype: i.linktype,
            ts_ns,
            orig_len: rd32::<BE>(blk, 24),
            data: &blk[HDR..HDR + caplen as usize],
        };
        if let Some(f) = &i.filter {
            if !f.accepts(&frame) {
                return Ok(());
            }
        }
        deliver(&frame);
        Ok(())
    }

    /// Simple Packet Block: interface 0, no timestamp, and a captured length
    /// implied by the block, the original length and the snaplen.
    fn simple<F: FnMut(&Frame<'_>), const BE: bool>(
        &mut self,
        blk: &[u8],
        deliver: &mut F,
    ) -> Result<(), String> {
        const HDR: usize = 12;
        if blk.len() < HDR + 4 {
            return Err(format!(
                "simple packet block too short ({} bytes)",
                blk.len()
            ));
        }
        let Some(i) = self.ifaces.first() else {
            return Err(undefined(0, 0));
        };
        if self.last_ts == TS_UNKNOWN {
            self.borrowed_ts = true;
        }
        let orig_len = rd32::<BE>(blk, 8);
        let mut caplen = (blk.len() - HDR - 4).min(orig_len as usize);
        if i.snaplen != 0 {
            caplen = caplen.min(i.snaplen as usize);
        }
        if caplen > MAX_CAPLEN as usize {
            return Err(format!(
                "packet length {caplen} exceeds the {MAX_CAPLEN}-byte limit"
            ));
        }
        let frame = Frame {
            iface: i.id,
            linktype: i.linktype,
            ts_ns: self.last_ts,
            orig_len,
            data: &blk[HDR..HDR + caplen],
        };
        if let Some(f) = &i.filter {
            if !f.accepts(&frame) {
                return Ok(());
            }
        }
        deliver(&frame);
        Ok(())
    }
}

fn undefined(ifid: u32, defined: usize) -> String {
    format!("packet on interface {ifid}, but the section defines {defined} interfaces")
}

#[cfg(test)]
mod tests;
