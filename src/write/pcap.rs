//! Classic pcap writer: version 2.4, one link type for the whole file.

use std::io::{self, Write};

use super::{caplen, invalid, Endian, TsResolution};
use crate::linktype::LinkType;

pub struct PcapWriter<W: Write> {
    w: W,
    endian: Endian,
    res: TsResolution,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the 24-byte file header; the magic's value says µs or ns.
    pub fn new(
        mut w: W,
        linktype: LinkType,
        snaplen: u32,
        endian: Endian,
        res: TsResolution,
    ) -> io::Result<Self> {
        let magic: u32 = match res {
            TsResolution::Micro => 0xa1b2_c3d4,
            TsResolution::Nano => 0xa1b2_3c4d,
        };
        let mut h = [0u8; 24];
        h[0..4].copy_from_slice(&endian.u32(magic));
        h[4..6].copy_from_slice(&endian.u16(2));
        h[6..8].copy_from_slice(&endian.u16(4));
        // 8..16: thiszone and sigfigs, always 0.
        h[16..20].copy_from_slice(&endian.u32(snaplen));
        h[20..24].copy_from_slice(&endian.u32(linktype.0));
        w.write_all(&h)?;
        Ok(PcapWriter { w, endian, res })
    }

    /// One record; `data` is what was captured, `orig_len` the wire length.
    /// Times past 2106 do not fit the 32-bit seconds field and are refused.
    pub fn write_packet(&mut self, ts_ns: u64, orig_len: u32, data: &[u8]) -> io::Result<()> {
        let secs = u32::try_from(ts_ns / 1_000_000_000)
            .map_err(|_| invalid(format!("timestamp {ts_ns} ns does not fit classic pcap")))?;
        let frac = (ts_ns % 1_000_000_000 / self.res.ns()) as u32;
        let e = self.endian;
        let mut h = [0u8; 16];
        h[0..4].copy_from_slice(&e.u32(secs));
        h[4..8].copy_from_slice(&e.u32(frac));
        h[8..12].copy_from_slice(&e.u32(caplen(data)?));
        h[12..16].copy_from_slice(&e.u32(orig_len));
        self.w.write_all(&h)?;
        self.w.write_all(data)
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.w.flush()
    }

    /// Flushes and returns the sink, reporting a failed flush.
    pub fn finish(mut self) -> io::Result<W> {
        self.w.flush()?;
        Ok(self.w)
    }

    /// Flushes and returns the sink. A flush error is lost here; call
    /// [`Self::finish`] (or [`Self::flush`] first) where it matters.
    pub fn into_inner(mut self) -> W {
        let _ = self.w.flush();
        self.w
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_and_record_layout() {
        let mut w = PcapWriter::new(
            Vec::new(),
            LinkType::RAW,
            96,
            Endian::Big,
            TsResolution::Micro,
        )
        .unwrap();
        w.write_packet(3_000_004_999, 9, &[7, 7]).unwrap();
        let b = w.finish().unwrap();
        assert_eq!(&b[..8], &[0xa1, 0xb2, 0xc3, 0xd4, 0, 2, 0, 4]);
        assert_eq!(&b[16..24], &[0, 0, 0, 96, 0, 0, 0, 101]);
        // 3 s, 4 µs (the 999 ns are below the unit), caplen 2, orig_len 9.
        assert_eq!(
            &b[24..40],
            &[0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 2, 0, 0, 0, 9]
        );
        assert_eq!(&b[40..], &[7, 7]);
    }

    #[test]
    fn refuses_times_past_2106() {
        let mut w = PcapWriter::new(
            Vec::new(),
            LinkType::RAW,
            0,
            Endian::Little,
            TsResolution::Nano,
        )
        .unwrap();
        assert!(w.write_packet(u64::MAX, 0, &[]).is_err());
    }
}
