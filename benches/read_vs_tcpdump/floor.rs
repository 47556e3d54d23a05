//! The bench's minimal loop: the least a full read of a classic pcap file can do.

use std::fs::File;
use std::path::Path;
use std::time::{Duration, Instant};

/// A lower bound for this machine: the least a full read can do. Two
/// threads, each `pread`ing half the file in 512 KiB steps, find IPIP
/// frames (Ethernet, IPv4, protocol 4) and count outer+inner address pairs
/// in an open-addressing table: no timestamps, no other encapsulations, no
/// checks, no report. The cut between the halves is found beforehand, not
/// timed. Asserts it saw `ipip` IPIP frames.
pub fn floor_loop(path: &Path, ipip: u64) -> Duration {
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
        let mut table = vec![(0u64, 0u64, 0u64); 1 << 17];
        let (mut off, mut have, mut seen) = (from, 0usize, 0u64);
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
                let f = &buf[pos + 16..pos + 16 + caplen];
                if f.len() >= 54 && f[12..14] == [8, 0] && f[23] == 4 {
                    let ihl = usize::from(f[14] & 15) * 4;
                    let word = |b: &[u8]| u64::from(u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
                    let outer = word(&f[26..]) << 32 | word(&f[30..]);
                    let inner = word(&f[14 + ihl + 12..]) << 32 | word(&f[14 + ihl + 16..]);
                    let mut i = ((outer ^ inner.rotate_left(17))
                        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
                        >> 47) as usize;
                    loop {
                        let slot = &mut table[i];
                        if slot.2 == 0 || (slot.0, slot.1) == (outer, inner) {
                            *slot = (outer, inner, slot.2 + 1);
                            break;
                        }
                        i = (i + 1) & (table.len() - 1);
                    }
                    seen += 1;
                }
                pos += 16 + caplen;
            }
            buf.copy_within(pos..have, 0);
            have -= pos;
            if n == 0 || off >= to {
                break;
            }
        }
        seen
    };
    let start = Instant::now();
    let seen = std::thread::scope(|s| {
        let second = s.spawn(|| part(cut, size));
        part(24, cut) + second.join().expect("second half")
    });
    let elapsed = start.elapsed();
    assert_eq!(seen, ipip, "IPIP frames seen by the minimal loop");
    elapsed
}
