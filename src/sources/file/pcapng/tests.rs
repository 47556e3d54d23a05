//! Tests of the pcapng reader: files from our writer, plus hand-built blocks
//! for the options and damage the writer never produces.

use std::io::{self, Read};
use std::path::Path;

use super::idb::TsUnit;
use crate::iface::IfaceTable;
use crate::linktype::LinkType;
use crate::sources::file::{read_stream, FileError, FileOptions, Format, ReadSummary};
use crate::write::{Endian, PcapngWriter, TsResolution};

/// (interface name, link type, ts_ns, orig_len, data)
type Got = Vec<(String, LinkType, u64, u32, Vec<u8>)>;

fn read_from(r: impl Read + Send) -> (Result<ReadSummary, FileError>, Got) {
    let mut t = IfaceTable::new();
    let mut raw = Vec::new();
    let res = read_stream(
        r,
        Path::new("t.pcapng"),
        &FileOptions::default(),
        &mut t,
        |f| raw.push((f.iface, f.linktype, f.ts_ns, f.orig_len, f.data.to_vec())),
    );
    let got = raw
        .into_iter()
        .map(|(i, l, ts, o, d)| (t.name(i), l, ts, o, d))
        .collect();
    (res, got)
}

fn read(bytes: &[u8]) -> (Result<ReadSummary, FileError>, Got) {
    read_from(bytes)
}

fn damage(r: Result<ReadSummary, FileError>) -> (u64, u64, String) {
    match r {
        Err(e @ FileError::Damaged { .. }) => {
            let msg = e.to_string();
            let FileError::Damaged {
                offset,
                frames_before,
                ..
            } = e
            else {
                unreachable!()
            };
            (offset, frames_before, msg)
        }
        other => panic!("expected damage, got {other:?}"),
    }
}

/// A raw block in either byte order; `body` is padded here.
fn blk(be: bool, btype: u32, body: &[u8]) -> Vec<u8> {
    let mut body = body.to_vec();
    body.resize(body.len().next_multiple_of(4), 0);
    let len = (body.len() + 12) as u32;
    let w = |v: u32| if be { v.to_be_bytes() } else { v.to_le_bytes() };
    let mut out = w(btype).to_vec();
    out.extend_from_slice(&w(len));
    out.extend_from_slice(&body);
    out.extend_from_slice(&w(len));
    out
}

fn opt(code: u16, val: &[u8]) -> Vec<u8> {
    let mut o = code.to_le_bytes().to_vec();
    o.extend_from_slice(&(val.len() as u16).to_le_bytes());
    o.extend_from_slice(val);
    o.resize(o.len().next_multiple_of(4), 0);
    o
}

/// A little-endian IDB with the given options (already encoded).
fn idb(linktype: u16, snaplen: u32, opts: &[Vec<u8>]) -> Vec<u8> {
    let mut body = linktype.to_le_bytes().to_vec();
    body.extend_from_slice(&[0, 0]);
    body.extend_from_slice(&snaplen.to_le_bytes());
    for o in opts {
        body.extend_from_slice(o);
    }
    blk(false, 1, &body)
}

/// A little-endian EPB.
fn epb(ifid: u32, ts: u64, caplen: u32, orig: u32, data: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    for v in [ifid, (ts >> 32) as u32, ts as u32, caplen, orig] {
        body.extend_from_slice(&v.to_le_bytes());
    }
    body.extend_from_slice(data);
    blk(false, 6, &body)
}

fn shb(be: bool) -> Vec<u8> {
    PcapngWriter::new(Vec::new(), if be { Endian::Big } else { Endian::Little })
        .unwrap()
        .into_inner()
}

#[test]
fn two_interfaces_of_different_link_types_both_orders() {
    for endian in [Endian::Little, Endian::Big] {
        let mut w = PcapngWriter::new(Vec::new(), endian).unwrap();
        let eth = w.add_interface("ens33", LinkType::ETHERNET, 65535).unwrap();
        let tun = w.add_interface("tunl0", LinkType::RAW, 0).unwrap();
        w.write_epb(tun, 1_700_000_000_123_456_789, 40, &[0x45; 20])
            .unwrap();
        w.write_epb(eth, 7, 60, &[0xaa; 14]).unwrap();
        w.write_epb(tun, 8, 3, &[1, 2, 3]).unwrap();
        let bytes = w.into_inner();
        let (r, got) = read(&bytes);
        let s = r.unwrap();
        assert_eq!(
            (s.format, s.frames, s.bytes),
            (Format::Pcapng, 3, bytes.len() as u64)
        );
        let names: Vec<_> = got.iter().map(|g| (g.0.as_str(), g.1, g.2, g.3)).collect();
        assert_eq!(
            names,
            [
                ("tunl0", LinkType::RAW, 1_700_000_000_123_456_789, 40),
                ("ens33", LinkType::ETHERNET, 7, 60),
                ("tunl0", LinkType::RAW, 8, 3),
            ]
        );
        assert_eq!(got[2].4, [1, 2, 3]);
    }
}

#[test]
fn microsecond_default_resolution() {
    let mut w =
        PcapngWriter::with_resolution(Vec::new(), Endian::Little, TsResolution::Micro).unwrap();
    w.add_interface("a", LinkType::RAW, 0).unwrap();
    w.write_epb(0, 1_700_000_000_123_456_789, 1, &[9]).unwrap();
    let (_, got) = read(&w.into_inner());
    assert_eq!(got[0].2, 1_700_000_000_123_456_000);
}

#[test]
fn option_parsing_names_units_offsets() {
    let mut f = shb(false);
    // if_description only; 2^-10 s units; tsoffset +100 s.
    f.extend(idb(
        1,
        0,
        &[
            opt(3, b"uplink\0\0"),
            opt(9, &[0x8a]),
            opt(14, &100i64.to_le_bytes()),
            opt(0, b""),
        ],
    ));
    // No name at all: `if1`; ms units; unknown option skipped.
    f.extend(idb(101, 0, &[opt(0x7777, b"odd length"), opt(9, &[3])]));
    // if_name wins over if_description; negative offset.
    f.extend(idb(
        0,
        0,
        &[
            opt(3, b"descr"),
            opt(2, b"lo"),
            opt(14, &(-1i64).to_le_bytes()),
        ],
    ));
    f.extend(epb(0, 1024, 1, 1, &[0]));
    f.extend(epb(1, 1500, 1, 1, &[0]));
    f.extend(epb(2, 5_000_000, 1, 1, &[0]));
    let (r, got) = read(&f);
    assert_eq!(r.unwrap().frames, 3);
    assert_eq!(
        (got[0].0.as_str(), got[0].1, got[0].2),
        ("uplink", LinkType::ETHERNET, 101_000_000_000)
    );
    assert_eq!(
        (got[1].0.as_str(), got[1].1, got[1].2),
        ("if1", LinkType::RAW, 1_500_000_000)
    );
    assert_eq!(
        (got[2].0.as_str(), got[2].1, got[2].2),
        ("lo", LinkType::NULL, 4_000_000_000)
    );
}

#[test]
fn tsresol_conversions() {
    assert_eq!(TsUnit::from_tsresol(6).to_ns(5), 5_000);
    assert_eq!(TsUnit::from_tsresol(9).to_ns(5), 5);
    assert_eq!(TsUnit::from_tsresol(12).to_ns(5_000), 5);
    assert_eq!(
        TsUnit::from_tsresol(0x80 | 20).to_ns(1 << 20),
        1_000_000_000
    );
    assert_eq!(TsUnit::from_tsresol(0).to_ns(u64::MAX), u64::MAX);
    assert_eq!(TsUnit::from_tsresol(0x7f).to_ns(u64::MAX), 0);
}

#[test]
fn simple_packet_blocks_and_obsolete_packet_blocks() {
    let mut f = shb(false);
    f.extend(idb(101, 4, &[opt(2, b"raw0")]));
    f.extend(epb(0, 77_000, 1, 1, &[0]));
    // SPB: 8 bytes of room, orig_len 10, snaplen 4 → 4 bytes at the last time.
    let mut spb = 10u32.to_le_bytes().to_vec();
    spb.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
    f.extend(blk(false, 3, &spb));
    // SPB whose orig_len is below its padded room.
    let mut spb = 2u32.to_le_bytes().to_vec();
    spb.extend_from_slice(&[9, 9, 0, 0]);
    f.extend(blk(false, 3, &spb));
    // Obsolete Packet Block: 16-bit interface id and drop count.
    let mut pb = vec![0, 0, 5, 0];
    for v in [0u32, 3, 2, 60] {
        pb.extend_from_slice(&v.to_le_bytes());
    }
    pb.extend_from_slice(&[0xab, 0xcd]);
    f.extend(blk(false, 2, &pb));
    let (r, got) = read(&f);
    assert_eq!(r.unwrap().frames, 4);
    assert_eq!(
        (got[1].2, got[1].3, got[1].4.as_slice()),
        (77_000_000, 10, &[1, 2, 3, 4][..])
    );
    assert_eq!(got[2].4, [9, 9]);
    assert_eq!(
        (got[3].0.as_str(), got[3].2, got[3].3, got[3].4.as_slice()),
        ("raw0", 3_000, 60, &[0xab, 0xcd][..])
    );
}

#[test]
fn other_blocks_are_skipped_even_when_large() {
    let mut f = shb(false);
    f.extend(idb(1, 0, &[opt(2, b"e")]));
    f.extend(blk(false, 4, &[0; 8])); // NRB
    f.extend(blk(false, 0x0000_0bad, &vec![0x5a; 5 << 20])); // custom, larger than the buffer
    f.extend(blk(false, 5, &[0; 24])); // ISB
    f.extend(epb(0, 1, 1, 1, &[7]));
    let (r, got) = read(&f);
    assert_eq!(r.unwrap().bytes, f.len() as u64);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].4, [7]);
    // The same through a pipe-like reader that skips by reading through.
    let (r, got) = read_from(Chunks(&f, 65536));
    assert_eq!((r.unwrap().frames, got.len()), (1, 1));
}

#[test]
fn sections_reset_interfaces_and_switch_byte_order() {
    let mut w = PcapngWriter::new(Vec::new(), Endian::Little).unwrap();
    w.add_interface("a", LinkType::ETHERNET, 0).unwrap();
    w.add_interface("b", LinkType::ETHERNET, 0).unwrap();
    w.write_epb(1, 1, 1, &[1]).unwrap();
    let mut f = w.into_inner();
    let mut w = PcapngWriter::new(Vec::new(), Endian::Big).unwrap();
    w.add_interface("c", LinkType::RAW, 0).unwrap();
    w.write_epb(0, 2, 1, &[2]).unwrap();
    let second = f.len() as u64;
    f.extend(w.into_inner());
    let (r, got) = read(&f);
    assert_eq!(r.unwrap().frames, 2);
    assert_eq!((got[0].0.as_str(), got[1].0.as_str()), ("b", "c"));

    // In a third section interface 1 is gone.
    f.extend(shb(false));
    let at = f.len() as u64;
    f.extend(epb(1, 0, 1, 1, &[0]));
    let (off, before, msg) = damage(read(&f).0);
    assert!(second < at);
    assert_eq!((off, before), (at, 2));
    assert!(
        msg.contains("packet on interface 1, but the section defines 0"),
        "{msg}"
    );
}

/// A valid start with one packet, and the offset where more blocks go.
fn one_packet() -> (Vec<u8>, u64) {
    let mut w = PcapngWriter::new(Vec::new(), Endian::Little).unwrap();
    w.add_interface("a", LinkType::RAW, 0).unwrap();
    w.write_epb(0, 1, 4, &[1, 2, 3, 4]).unwrap();
    let f = w.into_inner();
    let at = f.len() as u64;
    (f, at)
}

#[test]
fn damage_bad_block_lengths() {
    for (len, want) in [(8u32, "bad block length 8"), (30, "bad block length 30")] {
        let (mut f, at) = one_packet();
        f.extend_from_slice(&6u32.to_le_bytes());
        f.extend_from_slice(&len.to_le_bytes());
        f.extend_from_slice(&[0; 40]);
        let (off, before, msg) = damage(read(&f).0);
        assert_eq!((off, before), (at, 1));
        assert!(msg.contains(want), "{msg}");
    }
    let (mut f, at) = one_packet();
    let mut b = epb(0, 0, 1, 1, &[0]);
    let n = b.len();
    b[n - 4] = 99;
    f.extend(b);
    let (off, before, msg) = damage(read(&f).0);
    assert_eq!((off, before), (at, 1));
    assert!(msg.contains("trailing length 99"), "{msg}");
    let (mut f, at) = one_packet();
    f.extend(blk(false, 0xbad, &[]).iter().take(8));
    f[at as usize + 4..at as usize + 8].copy_from_slice(&(20u32 << 20).to_le_bytes());
    let (off, _, msg) = damage(read(&f).0);
    assert_eq!(off, at);
    assert!(msg.contains("implausible block length"), "{msg}");
}

#[test]
fn damage_caplen_past_block_or_limit() {
    let (mut f, at) = one_packet();
    f.extend(epb(0, 0, 9, 9, &[0; 4]));
    let (off, before, msg) = damage(read(&f).0);
    assert_eq!((off, before), (at, 1));
    assert!(msg.contains("exceeds its block"), "{msg}");
    let (mut f, at) = one_packet();
    f.extend(epb(0, 0, 300_000, 300_000, &vec![0; 300_000]));
    let (off, _, msg) = damage(read(&f).0);
    assert_eq!(off, at);
    assert!(msg.contains("262144-byte limit"), "{msg}");
}

#[test]
fn damage_truncated_file() {
    let (mut f, at) = one_packet();
    f.extend(epb(0, 0, 4, 4, &[5; 4]));
    for cut in [at as usize + 3, f.len() - 1] {
        let (off, before, msg) = damage(read(&f[..cut]).0);
        assert_eq!((off, before), (at, 1), "{msg}");
        assert!(msg.contains("file ends inside a block"), "{msg}");
    }
}

#[test]
fn not_capture_cases() {
    let mut f = shb(false);
    f[8..12].copy_from_slice(&[1, 2, 3, 4]);
    let (r, _) = read(&f);
    assert!(
        matches!(r, Err(FileError::NotCapture { ref detail, .. }) if detail.contains("byte-order magic"))
    );
    let f = shb(false);
    assert!(matches!(
        read(&f[..20]).0,
        Err(FileError::NotCapture { .. })
    ));
    let mut f = shb(false);
    f[12] = 2;
    assert!(
        matches!(read(&f).0, Err(FileError::NotCapture { ref detail, .. }) if detail.contains("version 2.0"))
    );
}

/// A reader handing out at most `.1` bytes per call, like a pipe.
struct Chunks<'a>(&'a [u8], usize);

impl Read for Chunks<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let k = self.1.min(out.len()).min(self.0.len());
        out[..k].copy_from_slice(&self.0[..k]);
        self.0 = &self.0[k..];
        Ok(k)
    }
}

/// One byte per read() drives every refill path.
#[test]
fn byte_at_a_time_reader_gives_the_same_frames() {
    let mut w = PcapngWriter::new(Vec::new(), Endian::Big).unwrap();
    w.add_interface("x", LinkType::ETHERNET, 0).unwrap();
    w.add_interface("y", LinkType::RAW, 0).unwrap();
    for i in 0..50u32 {
        w.write_epb(i % 2, i as u64, i, &vec![i as u8; i as usize])
            .unwrap();
        w.write_spb(i, &vec![i as u8; i as usize]).unwrap();
    }
    let f = w.into_inner();
    let (r1, g1) = read(&f);
    let (r2, g2) = read_from(Chunks(&f, 1));
    assert_eq!((r1.unwrap().frames, r2.unwrap().frames), (100, 100));
    assert_eq!(g1, g2);
}

#[test]
fn enhanced_packet_longer_than_the_snaplen_is_read() {
    // As libpcap and tshark do (the classic-pcap twin counts such records).
    let mut f = shb(false);
    f.extend(idb(1, 64, &[opt(2, b"e")]));
    f.extend(epb(0, 1, 100, 100, &[9; 100]));
    f.extend(epb(0, 2, 3, 3, &[1, 2, 3]));
    let (r, got) = read(&f);
    assert_eq!(r.unwrap().frames, 2);
    assert_eq!((got[0].4.len(), got[1].4.len()), (100, 3));
}
