//! Classic pcap: a 24-byte file header, then records of a 16-byte header
//! (seconds, fraction, caplen, orig_len) and `caplen` bytes. The magic's byte
//! order gives the file's byte order; its value gives µs or ns fractions.

use std::io::Read;
use std::sync::Arc;

use super::input::Input;
use super::{damaged, link_filter, rd16, rd32, Fail, FrameFilter, LinkFilter, MAX_CAPLEN};
use crate::iface::IfaceId;
use crate::linktype::LinkType;
use crate::sources::Frame;

/// The classic pcap file header's length.
pub(super) const FILE_HDR: usize = 24;
pub(super) const REC_HDR: usize = 16;

/// (big-endian, nanosecond) for a classic pcap magic, as its first 4 bytes.
pub(super) fn magic(m: [u8; 4]) -> Option<(bool, bool)> {
    match m {
        [0xa1, 0xb2, 0xc3, 0xd4] => Some((true, false)),
        [0xd4, 0xc3, 0xb2, 0xa1] => Some((false, false)),
        [0xa1, 0xb2, 0x3c, 0x4d] => Some((true, true)),
        [0x4d, 0x3c, 0xb2, 0xa1] => Some((false, true)),
        _ => None,
    }
}

/// Per-file constants the record loop needs.
#[derive(Debug, Clone)]
pub(super) struct Params {
    pub(super) be: bool,
    pub(super) iface: IfaceId,
    pub(super) linktype: LinkType,
    snaplen: u32,
    /// Largest caplen expected: the header's snaplen when it is sane, else
    /// [`MAX_CAPLEN`]. A longer record up to [`MAX_CAPLEN`] is still read
    /// (and counted in `Input::oversize`); the split's cut finder keeps to
    /// this stricter bound, a record chain being then a better guess.
    pub(super) limit: u32,
    /// Nanoseconds per unit of the timestamp fraction.
    pub(super) frac_ns: u64,
    /// Only frames this accepts are delivered.
    pub(super) filter: Option<Arc<dyn LinkFilter>>,
}

/// Parses the 24-byte file header (`h` holds at least that much) and
/// compiles `filter` for the file's link type.
pub(super) fn params(
    h: &[u8],
    be: bool,
    nanos: bool,
    iface: IfaceId,
    filter: Option<&dyn FrameFilter>,
) -> Result<Params, Fail> {
    let (major, minor, snaplen, link) = if be {
        (
            rd16::<true>(h, 4),
            rd16::<true>(h, 6),
            rd32::<true>(h, 16),
            rd32::<true>(h, 20),
        )
    } else {
        (
            rd16::<false>(h, 4),
            rd16::<false>(h, 6),
            rd32::<false>(h, 16),
            rd32::<false>(h, 20),
        )
    };
    if major != 2 {
        return Err(Fail::NotCapture(format!(
            "unsupported pcap version {major}.{minor} (expected 2.x)"
        )));
    }
    // Fuzzed and odd writers put 0 or garbage here (tcpdump's ERSPAN sample
    // says 1745420288); then only our own ceiling applies.
    let limit = if snaplen == 0 || snaplen > MAX_CAPLEN {
        MAX_CAPLEN
    } else {
        snaplen
    };
    // The upper 16 bits carry FCS information, not the link type.
    let linktype = LinkType(link & 0xffff);
    Ok(Params {
        be,
        iface,
        linktype,
        snaplen,
        limit,
        frac_ns: if nanos { 1 } else { 1_000 },
        filter: link_filter(filter, linktype)?,
    })
}

/// Reads the file header at the start of `inp`, then every record.
pub(super) fn read<R: Read, F: FnMut(&Frame<'_>)>(
    inp: &mut Input<'_, R>,
    be: bool,
    nanos: bool,
    iface: IfaceId,
    filter: Option<&dyn FrameFilter>,
    deliver: &mut F,
) -> Result<(), Fail> {
    let n = inp.fill(FILE_HDR)?;
    if n < FILE_HDR {
        return Err(Fail::NotCapture(format!(
            "pcap magic, but only {n} bytes: too short for the {FILE_HDR}-byte file header"
        )));
    }
    let p = params(&inp.window()[..FILE_HDR], be, nanos, iface, filter)?;
    inp.advance(FILE_HDR);
    match records(inp, &p, deliver)? {
        None => Ok(()),
        Some(cut) => Err(cut.damage()),
    }
}

/// The input ended inside a record: damage at the end of a file, or, for
/// the first part of a split file, a wrong guess of where the part ends.
#[derive(Debug)]
pub(super) struct Cut {
    offset: u64,
    got: usize,
    need: usize,
}

impl Cut {
    /// Where the record that the input ended inside starts.
    pub(super) fn offset(&self) -> u64 {
        self.offset
    }

    pub(super) fn damage(&self) -> Fail {
        damaged(
            self.offset,
            format!(
                "file ends inside a packet record ({} of {} bytes present)",
                self.got, self.need
            ),
        )
    }
}

/// Reads records from a record boundary to the end of input.
pub(super) fn records<R: Read, F: FnMut(&Frame<'_>)>(
    inp: &mut Input<'_, R>,
    p: &Params,
    deliver: &mut F,
) -> Result<Option<Cut>, Fail> {
    if p.be {
        records_in::<R, F, true>(inp, p, deliver)
    } else {
        records_in::<R, F, false>(inp, p, deliver)
    }
}

/// The hot loop: every complete record in the buffer is handed out in place;
/// only a record that straddles the buffer end costs a refill.
fn records_in<R: Read, F: FnMut(&Frame<'_>), const BE: bool>(
    inp: &mut Input<'_, R>,
    p: &Params,
    deliver: &mut F,
) -> Result<Option<Cut>, Fail> {
    loop {
        let (buf, mut pos) = inp.buffered();
        let mut need = REC_HDR;
        let mut oversize = 0;
        while let Some(h) = buf.get(pos..pos + REC_HDR) {
            let caplen = rd32::<BE>(h, 8);
            // Longer than the snaplen: odd writers and fuzzers make these,
            // and libpcap reads them; past our ceiling is damage.
            let over = caplen > p.limit;
            if over && caplen > MAX_CAPLEN {
                let at = inp.offset_at(pos);
                inp.oversize += oversize;
                return Err(damaged(at, too_long(caplen, p)));
            }
            let next = pos + REC_HDR + caplen as usize;
            let Some(data) = buf.get(pos + REC_HDR..next) else {
                need = REC_HDR + caplen as usize;
                break;
            };
            // Counted once read whole: a record that straddles the buffer's
            // end is seen again after the refill.
            oversize += u64::from(over);
            // u32 seconds × 10^9 plus a u32 fraction × 10^3 cannot overflow u64.
            let ts_ns =
                rd32::<BE>(h, 0) as u64 * 1_000_000_000 + rd32::<BE>(h, 4) as u64 * p.frac_ns;
            let frame = Frame {
                iface: p.iface,
                linktype: p.linktype,
                ts_ns,
                orig_len: rd32::<BE>(h, 12),
                data,
            };
            pos = next;
            if let Some(f) = &p.filter {
                if !f.accepts(&frame) {
                    continue;
                }
            }
            deliver(&frame);
        }
        inp.oversize += oversize;
        inp.set_pos(pos);
        let got = inp.fill(need)?;
        if got == 0 {
            return Ok(None);
        }
        if got < need {
            return Ok(Some(Cut {
                offset: inp.consumed(),
                got,
                need,
            }));
        }
    }
}

/// The first record's seconds, if the file has a record (`b` starts at
/// offset 0).
pub(super) fn first_secs(b: &[u8], p: &Params) -> Option<u32> {
    if b.len() < FILE_HDR + REC_HDR {
        return None;
    }
    Some(if p.be {
        rd32::<true>(b, FILE_HDR)
    } else {
        rd32::<false>(b, FILE_HDR)
    })
}

/// Bytes from any offset to the next record boundary, at most.
pub(super) fn max_record(p: &Params) -> usize {
    REC_HDR + p.limit as usize
}

/// Why a record past [`MAX_CAPLEN`] is damage.
fn too_long(caplen: u32, p: &Params) -> String {
    if p.limit == p.snaplen {
        format!(
            "record length {caplen} exceeds snaplen {} and the {MAX_CAPLEN}-byte limit",
            p.snaplen
        )
    } else {
        format!("record length {caplen} exceeds the {MAX_CAPLEN}-byte limit")
    }
}

#[cfg(test)]
mod tests {
    use crate::iface::IfaceTable;
    use crate::linktype::LinkType;
    use crate::sources::file::{
        read_stream, FileError, FileOptions, Format, ReadSummary, MAX_CAPLEN,
    };
    use crate::write::{Endian, PcapWriter, TsResolution};
    use std::path::Path;

    type Got = Vec<(u32, u64, u32, Vec<u8>, LinkType)>;

    fn write(endian: Endian, res: TsResolution, pkts: &[(u64, u32, Vec<u8>)]) -> Vec<u8> {
        let mut w = PcapWriter::new(Vec::new(), LinkType::RAW, 65535, endian, res).unwrap();
        for (ts, orig, data) in pkts {
            w.write_packet(*ts, *orig, data).unwrap();
        }
        w.into_inner()
    }

    fn read(bytes: &[u8]) -> (Result<ReadSummary, FileError>, Got, IfaceTable) {
        let mut t = IfaceTable::new();
        let mut got = Vec::new();
        let r = read_stream(
            bytes,
            Path::new("dir/eth7.pcap"),
            &FileOptions::default(),
            &mut t,
            |f| got.push((f.iface.0, f.ts_ns, f.orig_len, f.data.to_vec(), f.linktype)),
        );
        (r, got, t)
    }

    fn sample() -> Vec<(u64, u32, Vec<u8>)> {
        vec![
            (1_700_000_000_123_456_789, 1500, vec![0x45; 40]),
            (1_700_000_001_000_000_001, 3, vec![1, 2, 3]),
            (5, 0, vec![]),
        ]
    }

    #[test]
    fn both_byte_orders_and_resolutions() {
        for endian in [Endian::Little, Endian::Big] {
            for res in [TsResolution::Micro, TsResolution::Nano] {
                let bytes = write(endian, res, &sample());
                let (r, got, t) = read(&bytes);
                let s = r.unwrap();
                assert_eq!(
                    (s.format, s.frames, s.bytes),
                    (Format::Pcap, 3, bytes.len() as u64)
                );
                assert_eq!(t.name(crate::iface::IfaceId(got[0].0)), "eth7");
                let round = |ns: u64| match res {
                    TsResolution::Micro => ns / 1000 * 1000,
                    TsResolution::Nano => ns,
                };
                for ((ts, orig, data), g) in sample().iter().zip(&got) {
                    assert_eq!(
                        (g.1, g.2, &g.3, g.4),
                        (round(*ts), *orig, data, LinkType::RAW)
                    );
                }
            }
        }
    }

    #[test]
    fn magic_bytes_decide_order_and_unit() {
        let le_us = write(Endian::Little, TsResolution::Micro, &[]);
        let be_ns = write(Endian::Big, TsResolution::Nano, &[]);
        assert_eq!(&le_us[..4], &[0xd4, 0xc3, 0xb2, 0xa1]);
        assert_eq!(&be_ns[..4], &[0xa1, 0xb2, 0x3c, 0x4d]);
        let (r, got, _) = read(&be_ns);
        assert_eq!((r.unwrap().frames, got.len()), (0, 0));
    }

    #[test]
    fn fcs_bits_are_masked_off_the_linktype() {
        let mut bytes = write(Endian::Little, TsResolution::Micro, &sample());
        bytes[20..24].copy_from_slice(&0x1400_0001u32.to_le_bytes());
        let (_, got, _) = read(&bytes);
        assert_eq!(got[0].4, LinkType::ETHERNET);
    }

    #[test]
    fn garbage_snaplen_only_caps_at_the_limit() {
        let mut bytes = write(
            Endian::Little,
            TsResolution::Micro,
            &[(0, 188109, vec![0; 79])],
        );
        bytes[16..20].copy_from_slice(&1_745_420_288u32.to_le_bytes());
        let (r, got, _) = read(&bytes);
        assert_eq!(r.unwrap().frames, 1);
        assert_eq!((got[0].2, got[0].3.len()), (188109, 79));
    }

    /// 900000 is past the 262144-byte ceiling too: a record longer than the
    /// snaplen alone is read (next test).
    #[test]
    fn caplen_over_snaplen_is_damage_at_that_record() {
        let mut bytes = write(Endian::Big, TsResolution::Micro, &sample());
        let second = 24 + 16 + 40;
        bytes[second + 8..second + 12].copy_from_slice(&900_000u32.to_be_bytes());
        let (r, got, _) = read(&bytes);
        assert_eq!(got.len(), 1);
        match r.unwrap_err() {
            e @ FileError::Damaged { .. } => {
                assert_eq!(e.exit_code(), crate::exit::DAMAGED);
                let msg = e.to_string();
                assert!(msg.contains("exceeds snaplen 65535"), "{msg}");
                let FileError::Damaged {
                    offset,
                    frames_before,
                    ..
                } = e
                else {
                    unreachable!()
                };
                assert_eq!((offset, frames_before), (second as u64, 1));
            }
            e => panic!("{e}"),
        }
    }

    #[test]
    fn caplen_over_snaplen_within_the_ceiling_is_read_and_counted() {
        // As tcpdump's pim-packet-assortment.pcap: a 65549-byte record in a
        // snaplen-65535 file, and records after it.
        let mut pkts = sample();
        pkts.insert(1, (7, 70_000, vec![0x60; 65_549]));
        let bytes = write(Endian::Little, TsResolution::Micro, &pkts);
        assert_eq!(u32::from_le_bytes(bytes[16..20].try_into().unwrap()), 65535);
        let (r, got, _) = read(&bytes);
        let s = r.unwrap();
        assert_eq!((s.frames, s.oversize, s.bytes), (4, 1, bytes.len() as u64));
        assert_eq!((got[1].2, got[1].3.len()), (70_000, 65_549));
        assert_eq!(got[3].3, Vec::<u8>::new());
        // One past the ceiling is still damage.
        let mut bad = write(Endian::Little, TsResolution::Micro, &sample());
        bad[24 + 8..24 + 12].copy_from_slice(&(MAX_CAPLEN + 1).to_le_bytes());
        assert!(matches!(
            read(&bad).0,
            Err(FileError::Damaged { offset: 24, .. })
        ));
    }

    #[test]
    fn caplen_over_256k_with_snaplen_zero() {
        let mut bytes = write(Endian::Little, TsResolution::Micro, &sample());
        bytes[16..20].copy_from_slice(&0u32.to_le_bytes());
        bytes[24 + 8..24 + 12].copy_from_slice(&(256 * 1024 + 1u32).to_le_bytes());
        let (r, got, _) = read(&bytes);
        assert!(got.is_empty());
        let e = r.unwrap_err();
        assert!(e.to_string().contains("262144-byte limit"), "{e}");
        assert!(matches!(
            e,
            FileError::Damaged {
                offset: 24,
                frames_before: 0,
                ..
            }
        ));
    }

    #[test]
    fn truncated_record_header_and_body() {
        let bytes = write(Endian::Little, TsResolution::Micro, &sample());
        let second = 24 + 16 + 40;
        for cut in [second + 5, second + 16 + 1] {
            let (r, got, _) = read(&bytes[..cut]);
            assert_eq!(got.len(), 1);
            let e = r.unwrap_err();
            assert!(
                e.to_string().contains("file ends inside a packet record"),
                "{e}"
            );
            assert!(
                matches!(e, FileError::Damaged { offset, frames_before: 1, .. } if offset == second as u64),
                "{e:?}"
            );
        }
    }

    #[test]
    fn short_header_and_bad_version_are_not_captures() {
        let bytes = write(Endian::Little, TsResolution::Micro, &[]);
        let (r, _, _) = read(&bytes[..20]);
        assert!(matches!(r.unwrap_err(), FileError::NotCapture { .. }));
        let mut v = bytes.clone();
        v[4] = 3;
        let e = read(&v).0.unwrap_err();
        assert!(
            e.to_string().contains("unsupported pcap version 3.4"),
            "{e}"
        );
    }

    #[test]
    fn records_straddling_buffer_refills() {
        // ~10 MB: several refills, with records cut at every buffer end.
        let pkts: Vec<_> = (0..10_000u32)
            .map(|i| {
                (
                    i as u64 * 1000,
                    1000 + i % 7,
                    vec![(i % 251) as u8; 1000 + (i % 7) as usize],
                )
            })
            .collect();
        let bytes = write(Endian::Big, TsResolution::Nano, &pkts);
        let mut t = IfaceTable::new();
        let mut n = 0u32;
        let s = read_stream(
            &bytes[..],
            Path::new("x"),
            &FileOptions::default(),
            &mut t,
            |f| {
                assert_eq!(f.ts_ns, n as u64 * 1000);
                assert_eq!(f.data.len(), 1000 + (n % 7) as usize);
                assert!(f.data.iter().all(|&b| b == (n % 251) as u8));
                n += 1;
            },
        )
        .unwrap();
        assert_eq!((s.frames, s.bytes), (10_000, bytes.len() as u64));
    }
}
