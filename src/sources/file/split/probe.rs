//! Finding a boundary near a planned cut: the first offset where a chain of
//! plausible records (classic) or blocks (pcapng) starts.
//!
//! A short probe decides nearly every cut (records are a few hundred bytes
//! and a chain a few dozen of them); the long one, which a record or block
//! of the largest size accepted needs, is read only when the short one
//! cannot decide. Reading it every time cost about a millisecond per cut
//! (a fresh megabyte faulted in page by page), before any worker started.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

/// Bytes read first at a cut.
const SHORT_PROBE: usize = 64 << 10;
/// Bytes read when the short probe does not decide.
const LONG_PROBE: usize = 1 << 20;

/// What a probe shows of a chain starting at some offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Chain {
    Yes,
    No,
    /// The probe ends before the chain does; `enough`: whether what it
    /// holds passes when there is nothing more to read.
    Short {
        enough: bool,
    },
}

impl Chain {
    /// This chain or (if it fails) `other`: for a byte order or the other.
    /// `other` is looked at only when this one does not pass outright.
    pub(super) fn or(self, other: impl FnOnce() -> Chain) -> Chain {
        match self {
            Chain::Yes => Chain::Yes,
            Chain::No => other(),
            Chain::Short { enough: a } => match other() {
                Chain::Yes => Chain::Yes,
                Chain::No => self,
                Chain::Short { enough: b } => Chain::Short { enough: a || b },
            },
        }
    }
}

/// The first offset at or after `at`, a multiple of `step` from it and
/// less than `within` past it, where `chain` holds on the file's bytes
/// (told whether they reach the end of the file). The same answer the long
/// probe alone gives: the short one answers only where it decides.
pub(super) fn find_first(
    file: &File,
    at: u64,
    size: u64,
    step: usize,
    within: usize,
    chain: impl Fn(&[u8], bool) -> Chain,
) -> Option<u64> {
    find_with(
        &[SHORT_PROBE, LONG_PROBE],
        file,
        (at, size),
        step,
        within,
        chain,
    )
}

/// [`find_first`] with the given probe sizes, the last one deciding.
fn find_with(
    probes: &[usize],
    file: &File,
    (at, size): (u64, u64),
    step: usize,
    within: usize,
    chain: impl Fn(&[u8], bool) -> Chain,
) -> Option<u64> {
    let left = usize::try_from(size.checked_sub(at)?).unwrap_or(usize::MAX);
    for (i, &probe) in probes.iter().enumerate() {
        let mut buf = vec![0u8; probe.min(left)];
        let n = read_full(file, &mut buf, at)?;
        let b = &buf[..n];
        let at_eof = at + n as u64 >= size;
        // Nothing more would be read for this cut.
        let last = i + 1 == probes.len() || at_eof;
        let mut undecided = false;
        for o in (0..within.min(n)).step_by(step) {
            match chain(&b[o..], at_eof) {
                Chain::Yes => return Some(at + o as u64),
                Chain::No => {}
                Chain::Short { enough } if last => {
                    if enough {
                        return Some(at + o as u64);
                    }
                }
                Chain::Short { .. } => {
                    undecided = true;
                    break;
                }
            }
        }
        // Every offset that could start a boundary was decided: none does.
        if last || (!undecided && within <= n) {
            return None;
        }
    }
    None
}

/// Fills `buf` from `at` as far as the file goes; the bytes read.
fn read_full(file: &File, buf: &mut [u8], at: u64) -> Option<usize> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A toy format: a record is a length byte (1..=200) and that many
    /// bytes; a chain is 8 records whose lengths are all odd.
    fn toy_chain(b: &[u8], at_eof: bool) -> Chain {
        let mut pos = 0;
        for n in 0..8 {
            let Some(&len) = b.get(pos) else {
                return Chain::Short {
                    enough: n >= 2 || (at_eof && n > 0),
                };
            };
            if len % 2 == 0 || len > 200 {
                return Chain::No;
            }
            pos += 1 + usize::from(len);
            if pos > b.len() {
                return Chain::Short { enough: n + 1 >= 2 };
            }
        }
        Chain::Yes
    }

    #[test]
    fn short_probes_give_the_long_probes_answer_at_every_offset() {
        // Pseudo-random bytes: odd runs, even bytes, zeros, and a tail
        // that ends mid-record.
        let mut x = 0x2545_f491_u32;
        let bytes: Vec<u8> = (0..6000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                (x % 211) as u8
            })
            .collect();
        let path = std::env::temp_dir().join(format!("tt-probe-{}", std::process::id()));
        std::fs::File::create(&path)
            .unwrap()
            .write_all(&bytes)
            .unwrap();
        let file = File::open(&path).unwrap();
        let size = bytes.len() as u64;
        let mut found = 0;
        for at in 0..size + 2 {
            for (step, within) in [(1, 300), (1, usize::MAX), (4, usize::MAX)] {
                let want = find_with(&[1 << 20], &file, (at, size), step, within, toy_chain);
                for probes in [&[7, 1 << 20][..], &[64, 200, 1 << 20], &[350, 1 << 20]] {
                    let got = find_with(probes, &file, (at, size), step, within, toy_chain);
                    assert_eq!(
                        got, want,
                        "at {at}, step {step}, within {within}, {probes:?}"
                    );
                }
                found += usize::from(want.is_some());
            }
        }
        std::fs::remove_file(&path).unwrap();
        assert!(found > 1000, "the toy chains are found often ({found})");
    }

    #[test]
    fn either_order_passes_when_one_does() {
        use Chain::*;
        assert_eq!(No.or(|| Yes), Yes);
        assert_eq!(Short { enough: false }.or(|| Yes), Yes);
        assert_eq!(No.or(|| No), No);
        assert_eq!(No.or(|| Short { enough: true }), Short { enough: true });
        assert_eq!(Short { enough: false }.or(|| No), Short { enough: false });
        let both = Short { enough: false }.or(|| Short { enough: true });
        assert_eq!(both, Short { enough: true });
    }
}
