//! Two hand-written loops over the classic pcap file, the machine's own
//! yardsticks for `read`: the least a full read can do, and the least a
//! read that counts what `tuntrace read` reports can do.

use std::fs::File;
use std::path::Path;
use std::time::{Duration, Instant};

/// What a loop does with each record of its half of the file.
pub trait Records: Default {
    /// One record: its 16-byte header and captured bytes.
    fn record(&mut self, hdr: &[u8], frame: &[u8]);
    /// IPIP frames found.
    fn ipip(&self) -> u64;
}

/// Runs `R` over each half of the classic pcap file at `path` on two
/// threads, each `pread`ing its half in 512 KiB steps. The cut between
/// the halves is found beforehand, not timed; the tables are not merged
/// and no report is made. Asserts that the loop saw `ipip` IPIP frames.
pub fn halves<R: Records>(path: &Path, ipip: u64) -> Duration {
    use std::os::unix::fs::FileExt;
    let file = File::open(path).expect("open capture");
    let size = file.metadata().expect("stat capture").len();
    let mut cut = 24u64;
    let mut hdr = [0u8; 16];
    while cut < size / 2 {
        file.read_exact_at(&mut hdr, cut).expect("record header");
        cut += 16 + u64::from(u32::from_le_bytes([hdr[8], hdr[9], hdr[10], hdr[11]]));
    }
    let part = |from: u64, to: u64| {
        let mut buf = vec![0u8; 1 << 20];
        let mut loop_state = R::default();
        let (mut off, mut have) = (from, 0usize);
        loop {
            let want = (512usize << 10).min((to - off) as usize);
            let n = file
                .read_at(&mut buf[have..have + want], off)
                .expect("read");
            off += n as u64;
            have += n;
            let mut pos = 0;
            while pos + 16 <= have {
                let caplen =
                    u32::from_le_bytes([buf[pos + 8], buf[pos + 9], buf[pos + 10], buf[pos + 11]])
                        as usize;
                if pos + 16 + caplen > have {
                    break;
                }
                loop_state.record(&buf[pos..pos + 16], &buf[pos + 16..pos + 16 + caplen]);
                pos += 16 + caplen;
            }
            buf.copy_within(pos..have, 0);
            have -= pos;
            if n == 0 || off >= to {
                break;
            }
        }
        loop_state.ipip()
    };
    let start = Instant::now();
    let seen = std::thread::scope(|s| {
        let second = s.spawn(|| part(cut, size));
        part(24, cut) + second.join().expect("second half")
    });
    let elapsed = start.elapsed();
    assert_eq!(
        seen,
        ipip,
        "IPIP frames seen by {}",
        std::any::type_name::<R>()
    );
    elapsed
}

/// The minimal loop, a lower bound for this machine: finds IPIP frames
/// (Ethernet, IPv4, protocol 4) and counts outer+inner address pairs in an
/// open-addressing table. No timestamps, no other encapsulations, no checks.
pub struct Minimal {
    table: Vec<(u64, u64, u64)>,
    seen: u64,
}

impl Default for Minimal {
    fn default() -> Self {
        Minimal {
            table: vec![(0, 0, 0); 1 << 17],
            seen: 0,
        }
    }
}

impl Records for Minimal {
    #[inline]
    fn record(&mut self, _hdr: &[u8], f: &[u8]) {
        if f.len() >= 54 && f[12..14] == [8, 0] && f[23] == 4 {
            let ihl = usize::from(f[14] & 15) * 4;
            let outer = word(&f[26..]) << 32 | word(&f[30..]);
            let inner = word(&f[14 + ihl + 12..]) << 32 | word(&f[14 + ihl + 16..]);
            let mut i = ((outer ^ inner.rotate_left(17)).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 47)
                as usize;
            loop {
                let slot = &mut self.table[i];
                if slot.2 == 0 || (slot.0, slot.1) == (outer, inner) {
                    *slot = (outer, inner, slot.2 + 1);
                    break;
                }
                i = (i + 1) & (self.table.len() - 1);
            }
            self.seen += 1;
        }
    }

    fn ipip(&self) -> u64 {
        self.seen
    }
}

fn word(b: &[u8]) -> u64 {
    u64::from(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// Packets, bytes, first and last time, as `read` keeps them.
#[derive(Default, Clone, Copy)]
struct Counts {
    packets: u64,
    bytes: u64,
    first: u64,
    last: u64,
}

impl Counts {
    #[inline]
    fn add(&mut self, ts: u64, len: u32) {
        self.first = if self.packets == 0 {
            ts
        } else {
            self.first.min(ts)
        };
        self.last = self.last.max(ts);
        self.packets += 1;
        self.bytes += u64::from(len);
    }
}

/// One cache line per tunnel, as `read` lays its counters out.
#[derive(Default, Clone, Copy)]
#[repr(C, align(64))]
struct TunnelCounts {
    counts: Counts,
    df: u64,
    max_outer_len: u16,
}

/// An inner pair's counters with its key, in one aligned 32-byte slot.
#[derive(Default, Clone, Copy)]
#[repr(C, align(32))]
struct PairSlot {
    pair: u64,
    tunnel: u64,
    packets: u64,
    bytes: u64,
}

const TUNNEL_SLOTS: usize = 1 << 13;
const PAIR_SLOTS: usize = 1 << 17;
const MAX_TUNNELS: usize = 4096;
/// A free slot of the tunnel index.
const FREE: u32 = u32::MAX;

/// The full-work loop: what `read` must count for the bench's frames and
/// nothing more, fused by hand for this one file shape (little-endian µs
/// classic pcap, Ethernet). Per record: the time, the link's counters; for
/// IPv4, the header checks `read` makes (version, header and total length,
/// fragment bits, both headers of IPIP, no further tunnel inside); for
/// IPIP, the tunnel's index (at most 4096), its counters, DF packets and
/// largest outer length, and the inner pair's counters. No batching or
/// prefetching, no other encapsulation, no merge, no report.
pub struct FullWork {
    link: Counts,
    tunnel_index: Vec<(u64, u32)>,
    tunnels: Vec<TunnelCounts>,
    pairs: Vec<PairSlot>,
    other_tunnels: u64,
    seen: u64,
}

impl Default for FullWork {
    fn default() -> Self {
        FullWork {
            link: Counts::default(),
            tunnel_index: vec![(0, FREE); TUNNEL_SLOTS],
            tunnels: Vec::with_capacity(MAX_TUNNELS),
            pairs: vec![PairSlot::default(); PAIR_SLOTS],
            other_tunnels: 0,
            seen: 0,
        }
    }
}

impl Records for FullWork {
    #[inline]
    fn record(&mut self, h: &[u8], f: &[u8]) {
        let le = |at: usize| u32::from_le_bytes([h[at], h[at + 1], h[at + 2], h[at + 3]]);
        let ts = u64::from(le(0)) * 1_000_000_000 + u64::from(le(4)) * 1_000;
        let len = le(12);
        self.link.add(ts, len);
        let Some(o) = f.get(14..34) else { return };
        if f[12..14] != [8, 0] || o[0] != 0x45 {
            return;
        }
        let total = usize::from(u16::from_be_bytes([o[2], o[3]]));
        let flags = u16::from_be_bytes([o[6], o[7]]);
        if o[9] != 4 || flags & 0x3fff != 0 || total < 40 {
            return;
        }
        let Some(i) = f[..(14 + total).min(f.len())].get(34..54) else {
            return;
        };
        let inner_total = u16::from_be_bytes([i[2], i[3]]);
        if i[0] != 0x45 || (inner_total != 0 && inner_total < 20) || matches!(i[9], 4 | 41 | 47) {
            return;
        }
        // UDP to a VXLAN or Geneve port would be a further tunnel.
        if i[9] == 17 {
            let port = f.get(56..58).map(|p| u16::from_be_bytes([p[0], p[1]]));
            if matches!(port, Some(4789 | 8472 | 6081)) {
                return;
            }
        }
        self.seen += 1;
        let Some(ti) = self.tunnel(word(&o[12..]) << 32 | word(&o[16..])) else {
            self.other_tunnels += 1;
            return;
        };
        let t = &mut self.tunnels[ti as usize];
        t.counts.add(ts, len);
        t.df += u64::from(flags >> 14 & 1);
        t.max_outer_len = t.max_outer_len.max(total as u16);
        let pair = word(&i[12..]) << 32 | word(&i[16..]);
        let mut at = ((pair ^ u64::from(ti).wrapping_mul(0x9E37_79B9_7F4A_7C15))
            .wrapping_mul(0xD6E8_FEB8_6659_FD93)
            >> 47) as usize;
        loop {
            let slot = &mut self.pairs[at];
            if slot.packets == 0 || (slot.pair, slot.tunnel) == (pair, u64::from(ti)) {
                *slot = PairSlot {
                    pair,
                    tunnel: u64::from(ti),
                    packets: slot.packets + 1,
                    bytes: slot.bytes + u64::from(len),
                };
                break;
            }
            at = (at + 1) & (PAIR_SLOTS - 1);
        }
    }

    fn ipip(&self) -> u64 {
        self.seen
    }
}

impl FullWork {
    /// The index of the tunnel with this outer pair, added when new and
    /// under the limit.
    #[inline]
    fn tunnel(&mut self, outer: u64) -> Option<u32> {
        let mut at = (outer.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 51) as usize;
        loop {
            let slot = &mut self.tunnel_index[at];
            if slot.1 == FREE {
                if self.tunnels.len() == MAX_TUNNELS {
                    return None;
                }
                *slot = (outer, self.tunnels.len() as u32);
                self.tunnels.push(TunnelCounts::default());
                return Some(slot.1);
            }
            if slot.0 == outer {
                return Some(slot.1);
            }
            at = (at + 1) & (TUNNEL_SLOTS - 1);
        }
    }
}
