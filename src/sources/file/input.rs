//! The read buffer: one fixed 4 MiB allocation, refilled by plain `read()`.
//! Parsers look at `buf[..end]` from `pos`, consume whole records in place,
//! and ask for a refill only when a record straddles the end; the partial
//! tail then moves to the front. A [`Meter`] tells a [`Progress`] how far
//! the read has got, at refills only.

use std::cell::Cell;
use std::io::{self, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::Progress;

/// Buffer size: large enough for any block we accept in one piece.
pub(super) const BUF_SIZE: usize = 4 << 20;

/// Bytes asked of one `read()`: small enough that the parser finds them
/// still in the core's second-level cache after the kernel's copy (a few
/// percent faster on a 2 GB file than filling the whole buffer at once).
const READ_STEP: usize = 512 << 10;

/// Bytes read between two reports to a [`Progress`].
const PROGRESS_STEP: u64 = 4 << 20;

pub(super) struct Input<'p, R> {
    r: R,
    buf: Vec<u8>,
    pos: usize,
    end: usize,
    /// File offset of `buf[0]`.
    base: u64,
    eof: bool,
    meter: Option<Meter<'p>>,
    /// Records longer than the file's snaplen that were read whole (classic
    /// pcap; libpcap, tcpdump and tshark read them too).
    pub(super) oversize: u64,
}

impl<'p, R: Read> Input<'p, R> {
    pub(super) fn new(r: R, meter: Option<Meter<'p>>) -> Self {
        Self::at(r, 0, meter)
    }

    /// An input whose first byte is at file offset `base` (offsets in
    /// messages stay file offsets).
    pub(super) fn at(r: R, base: u64, meter: Option<Meter<'p>>) -> Self {
        Self::sized(r, base, meter, BUF_SIZE)
    }

    /// An input of a reader that holds at most `len` bytes (a short part
    /// of a file): a buffer that size does, as [`BUF_SIZE`] would.
    pub(super) fn sized(r: R, base: u64, meter: Option<Meter<'p>>, len: usize) -> Self {
        Input {
            r,
            buf: vec![0; len.clamp(1, BUF_SIZE)],
            pos: 0,
            end: 0,
            base,
            eof: false,
            meter,
            oversize: 0,
        }
    }

    /// The unconsumed bytes.
    #[inline]
    pub(super) fn window(&self) -> &[u8] {
        &self.buf[self.pos..self.end]
    }

    /// All buffered bytes and the current position in them, for parse loops
    /// that keep the position in a local and hand it back with [`Self::set_pos`].
    #[inline]
    pub(super) fn buffered(&self) -> (&[u8], usize) {
        (&self.buf[..self.end], self.pos)
    }

    #[inline]
    pub(super) fn set_pos(&mut self, pos: usize) {
        debug_assert!(pos <= self.end);
        self.pos = pos.min(self.end);
    }

    #[inline]
    pub(super) fn advance(&mut self, n: usize) {
        self.set_pos(self.pos + n);
    }

    /// File offset of buffer index `pos`.
    #[inline]
    pub(super) fn offset_at(&self, pos: usize) -> u64 {
        self.base + pos as u64
    }

    /// File bytes consumed so far.
    pub(super) fn consumed(&self) -> u64 {
        self.offset_at(self.pos)
    }

    /// Makes at least `n` (≤ [`BUF_SIZE`]) bytes available unless the input
    /// ends first; returns how many are available.
    pub(super) fn fill(&mut self, n: usize) -> io::Result<usize> {
        let n = n.min(BUF_SIZE);
        if self.end - self.pos >= n || self.eof {
            return Ok(self.end - self.pos);
        }
        if self.pos > 0 {
            self.buf.copy_within(self.pos..self.end, 0);
            self.base += self.pos as u64;
            self.end -= self.pos;
            self.pos = 0;
        }
        while self.end < n && !self.eof {
            self.read_more()?;
        }
        Ok(self.end)
    }

    /// Consumes `n` bytes, reading through what is not buffered. False if
    /// the input ends first (everything is consumed then).
    pub(super) fn skip(&mut self, mut n: u64) -> io::Result<bool> {
        loop {
            let have = (self.end - self.pos) as u64;
            if have >= n {
                self.pos += n as usize;
                return Ok(true);
            }
            n -= have;
            self.base += self.end as u64;
            self.pos = 0;
            self.end = 0;
            if self.eof {
                return Ok(false);
            }
            self.read_more()?;
        }
    }

    /// One `read()` into the free tail of the buffer.
    fn read_more(&mut self) -> io::Result<()> {
        let lim = (self.end + READ_STEP).min(self.buf.len());
        loop {
            match self.r.read(&mut self.buf[self.end..lim]) {
                Ok(0) => {
                    self.eof = true;
                    break;
                }
                Ok(k) => {
                    self.end += k;
                    break;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        if let Some(m) = &mut self.meter {
            m.tick(self.base + self.end as u64);
        }
        Ok(())
    }

    /// Reports what the [`Meter`] has not told yet.
    pub(super) fn finish_progress(&mut self) {
        if let Some(m) = &mut self.meter {
            m.tell(self.base + self.end as u64);
        }
    }
}

/// Tells a [`Progress`] the bytes read and frames delivered since it was
/// last told, every [`PROGRESS_STEP`] bytes: never per packet.
pub(super) struct Meter<'p> {
    to: &'p dyn Progress,
    /// Frames delivered so far (the parser's caller counts them).
    frames: &'p Cell<u64>,
    /// File offset and frame count told so far.
    told: (u64, u64),
    /// For a compressed file: the compressed bytes read, told instead of
    /// the offset in the decompressed data (the progress total is the
    /// file's size).
    source: Option<Arc<AtomicU64>>,
}

impl<'p> Meter<'p> {
    /// A meter for a read that starts at file offset `from`.
    pub(super) fn new(to: &'p dyn Progress, frames: &'p Cell<u64>, from: u64) -> Self {
        Meter {
            to,
            frames,
            told: (from, frames.get()),
            source: None,
        }
    }

    /// Tells the bytes `source` counts instead of the input's offset.
    pub(super) fn counting(self, source: Arc<AtomicU64>) -> Self {
        Meter {
            source: Some(source),
            ..self
        }
    }

    #[inline]
    fn tick(&mut self, read_to: u64) {
        let read_to = self
            .source
            .as_ref()
            .map_or(read_to, |s| s.load(Ordering::Relaxed));
        if read_to >= self.told.0 + PROGRESS_STEP {
            self.tell(read_to);
        }
    }

    fn tell(&mut self, read_to: u64) {
        let read_to = self
            .source
            .as_ref()
            .map_or(read_to, |s| s.load(Ordering::Relaxed));
        let (at, frames) = (read_to.max(self.told.0), self.frames.get());
        if (at, frames) != self.told {
            self.to.advance(at - self.told.0, frames - self.told.1);
            self.told = (at, frames);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hands out at most `step` bytes per read, like a pipe.
    struct Trickle<'a> {
        data: &'a [u8],
        step: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let k = self.step.min(out.len()).min(self.data.len());
            out[..k].copy_from_slice(&self.data[..k]);
            self.data = &self.data[k..];
            Ok(k)
        }
    }

    #[test]
    fn fill_compacts_and_tracks_offsets() {
        let data: Vec<u8> = (0..100u8).collect();
        let mut inp = Input::new(
            Trickle {
                data: &data,
                step: 7,
            },
            None,
        );
        assert_eq!(inp.fill(10).unwrap(), 14);
        inp.advance(12);
        assert_eq!(inp.consumed(), 12);
        assert!(inp.fill(20).unwrap() >= 20);
        assert_eq!(inp.window()[0], 12);
        assert!(inp.skip(50).unwrap());
        assert_eq!(inp.consumed(), 62);
        assert!(inp.fill(4).unwrap() >= 4);
        assert_eq!(inp.window()[0], 62);
        assert!(!inp.skip(100).unwrap());
        assert_eq!(inp.consumed(), 100);
        assert_eq!(inp.fill(1).unwrap(), 0);
    }
}
