//! pcapng writer: sections (SHB), interfaces (IDB) with their own link types
//! and names, and Enhanced or Simple Packet Blocks.

use std::io::{self, Write};

use super::{caplen, invalid, Endian, TsResolution};
use crate::linktype::LinkType;

const SHB: u32 = 0x0a0d_0d0a;
const IDB: u32 = 1;
const SPB: u32 = 3;
const EPB: u32 = 6;

const OPT_END: u16 = 0;
const SHB_USERAPPL: u16 = 4;
const IF_NAME: u16 = 2;
const IF_DESCRIPTION: u16 = 3;
const IF_TSRESOL: u16 = 9;

/// Padding to the next 32-bit boundary, from a zeroed source.
const PAD: [u8; 4] = [0; 4];

pub struct PcapngWriter<W: Write> {
    w: W,
    endian: Endian,
    res: TsResolution,
    /// Interfaces defined in the current section.
    ifaces: u32,
    /// Reused to build SHBs and IDBs.
    scratch: Vec<u8>,
}

impl<W: Write> PcapngWriter<W> {
    /// Writes an SHB (shb_userappl "tuntrace"); timestamps are nanoseconds.
    pub fn new(w: W, endian: Endian) -> io::Result<Self> {
        Self::with_resolution(w, endian, TsResolution::Nano)
    }

    /// As [`Self::new`], but µs timestamps (no if_tsresol option, the pcapng
    /// default) when `res` is `Micro`.
    pub fn with_resolution(w: W, endian: Endian, res: TsResolution) -> io::Result<Self> {
        let mut me = PcapngWriter {
            w,
            endian,
            res,
            ifaces: 0,
            scratch: Vec::with_capacity(128),
        };
        me.new_section()?;
        Ok(me)
    }

    /// Another SHB: the interfaces defined so far no longer exist.
    pub fn new_section(&mut self) -> io::Result<()> {
        let e = self.endian;
        let mut body = std::mem::take(&mut self.scratch);
        body.clear();
        body.extend_from_slice(&e.u32(0x1a2b_3c4d));
        body.extend_from_slice(&e.u16(1));
        body.extend_from_slice(&e.u16(0));
        // Section length unknown: -1.
        body.extend_from_slice(&e.u64(u64::MAX));
        push_opt(&mut body, e, SHB_USERAPPL, b"tuntrace");
        push_opt(&mut body, e, OPT_END, b"");
        let r = self.block(SHB, &body);
        self.scratch = body;
        self.ifaces = 0;
        r
    }

    /// Writes an IDB with if_name (and if_tsresol=9 for ns); returns its
    /// interface id.
    pub fn add_interface(
        &mut self,
        name: &str,
        linktype: LinkType,
        snaplen: u32,
    ) -> io::Result<u32> {
        self.add_interface_with(Some(name), None, linktype, snaplen)
    }

    /// An IDB with any of if_name and if_description.
    pub fn add_interface_with(
        &mut self,
        name: Option<&str>,
        description: Option<&str>,
        linktype: LinkType,
        snaplen: u32,
    ) -> io::Result<u32> {
        let lt = u16::try_from(linktype.0)
            .map_err(|_| invalid(format!("link type {} does not fit an IDB", linktype.0)))?;
        let e = self.endian;
        let mut body = std::mem::take(&mut self.scratch);
        body.clear();
        body.extend_from_slice(&e.u16(lt));
        body.extend_from_slice(&e.u16(0));
        body.extend_from_slice(&e.u32(snaplen));
        let mut opts = false;
        for (code, v) in [(IF_NAME, name), (IF_DESCRIPTION, description)] {
            if let Some(v) = v {
                if v.len() > usize::from(u16::MAX) {
                    self.scratch = body;
                    return Err(invalid(format!("interface option of {} bytes", v.len())));
                }
                push_opt(&mut body, e, code, v.as_bytes());
                opts = true;
            }
        }
        if self.res == TsResolution::Nano {
            push_opt(&mut body, e, IF_TSRESOL, &[9]);
            opts = true;
        }
        if opts {
            push_opt(&mut body, e, OPT_END, b"");
        }
        let r = self.block(IDB, &body);
        self.scratch = body;
        r?;
        self.ifaces += 1;
        Ok(self.ifaces - 1)
    }

    /// One Enhanced Packet Block on interface `iface` of this section.
    pub fn write_epb(
        &mut self,
        iface: u32,
        ts_ns: u64,
        orig_len: u32,
        data: &[u8],
    ) -> io::Result<()> {
        if iface >= self.ifaces {
            return Err(invalid(format!(
                "interface {iface} not defined ({} in this section)",
                self.ifaces
            )));
        }
        let len = caplen(data)?;
        let total = block_len(32, len)?;
        let ts = ts_ns / self.res.ns();
        let e = self.endian;
        let mut h = [0u8; 28];
        h[0..4].copy_from_slice(&e.u32(EPB));
        h[4..8].copy_from_slice(&e.u32(total));
        h[8..12].copy_from_slice(&e.u32(iface));
        h[12..16].copy_from_slice(&e.u32((ts >> 32) as u32));
        h[16..20].copy_from_slice(&e.u32(ts as u32));
        h[20..24].copy_from_slice(&e.u32(len));
        h[24..28].copy_from_slice(&e.u32(orig_len));
        self.w.write_all(&h)?;
        self.w.write_all(data)?;
        self.tail(data.len(), total)
    }

    /// One Simple Packet Block (interface 0, no timestamp).
    pub fn write_spb(&mut self, orig_len: u32, data: &[u8]) -> io::Result<()> {
        if self.ifaces == 0 {
            return Err(invalid("a simple packet block needs interface 0".into()));
        }
        let total = block_len(16, caplen(data)?)?;
        let e = self.endian;
        let mut h = [0u8; 12];
        h[0..4].copy_from_slice(&e.u32(SPB));
        h[4..8].copy_from_slice(&e.u32(total));
        h[8..12].copy_from_slice(&e.u32(orig_len));
        self.w.write_all(&h)?;
        self.w.write_all(data)?;
        self.tail(data.len(), total)
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.w.flush()
    }

    /// The sink, to act between blocks (every write call returns with whole
    /// blocks handed over, so its length is a block boundary then).
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.w
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

    /// Padding after `data_len` bytes of data, then the trailing length.
    fn tail(&mut self, data_len: usize, total: u32) -> io::Result<()> {
        let mut t = [0u8; 8];
        let pad = data_len.next_multiple_of(4) - data_len;
        t[pad..pad + 4].copy_from_slice(&self.endian.u32(total));
        self.w.write_all(&t[..pad + 4])
    }

    /// A whole block around a body already padded to 32 bits.
    fn block(&mut self, btype: u32, body: &[u8]) -> io::Result<()> {
        let total = u32::try_from(body.len() + 12)
            .map_err(|_| invalid(format!("block body of {} bytes", body.len())))?;
        let e = self.endian;
        self.w.write_all(&e.u32(btype))?;
        self.w.write_all(&e.u32(total))?;
        self.w.write_all(body)?;
        self.w.write_all(&e.u32(total))
    }
}

/// Block length for `fixed` bytes of header and trailer plus padded data.
fn block_len(fixed: u32, caplen: u32) -> io::Result<u32> {
    caplen
        .checked_next_multiple_of(4)
        .and_then(|p| p.checked_add(fixed))
        .ok_or_else(|| invalid(format!("packet of {caplen} bytes")))
}

/// An option: code, length, value padded to 32 bits.
fn push_opt(buf: &mut Vec<u8>, e: Endian, code: u16, val: &[u8]) {
    buf.extend_from_slice(&e.u16(code));
    buf.extend_from_slice(&e.u16(val.len() as u16));
    buf.extend_from_slice(val);
    buf.extend_from_slice(&PAD[..val.len().next_multiple_of(4) - val.len()]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn layout_of_shb_idb_epb() {
        let mut w = PcapngWriter::new(Vec::new(), Endian::Big).unwrap();
        assert_eq!(w.add_interface("eth0", LinkType::ETHERNET, 0).unwrap(), 0);
        w.write_epb(0, 0x1_0000_0002, 5, &[1, 2, 3]).unwrap();
        let b = w.into_inner();
        // SHB: 12 framing + 16 fixed + "tuntrace" option (12) + end (4) = 44.
        assert_eq!(&b[0..8], &[0x0a, 0x0d, 0x0d, 0x0a, 0, 0, 0, 44]);
        assert_eq!(&b[8..12], &[0x1a, 0x2b, 0x3c, 0x4d]);
        assert_eq!(&b[40..44], &[0, 0, 0, 44]);
        // IDB: 20 + if_name "eth0" (8) + if_tsresol (8) + end (4) = 40.
        let idb = &b[44..84];
        assert_eq!(&idb[4..8], &[0, 0, 0, 40]);
        assert_eq!(&idb[16..24], &[0, 2, 0, 4, b'e', b't', b'h', b'0']);
        assert_eq!(&idb[24..32], &[0, 9, 0, 1, 9, 0, 0, 0]);
        let epb = &b[84..];
        assert_eq!(epb.len(), 36);
        assert_eq!(&epb[12..20], &[0, 0, 0, 1, 0, 0, 0, 2]);
        assert_eq!(&epb[28..36], &[1, 2, 3, 0, 0, 0, 0, 36]);
    }

    #[test]
    fn refuses_undefined_interfaces_and_wide_linktypes() {
        let mut w = PcapngWriter::new(Vec::new(), Endian::Little).unwrap();
        assert!(w.write_epb(0, 0, 1, &[0]).is_err());
        assert!(w.write_spb(1, &[0]).is_err());
        assert!(w.add_interface("x", LinkType(70_000), 0).is_err());
        w.add_interface("x", LinkType::RAW, 0).unwrap();
        w.new_section().unwrap();
        assert!(w.write_epb(0, 0, 1, &[0]).is_err());
    }

    /// tshark (when installed) must see our interface names and link types.
    #[test]
    fn tshark_reads_names_and_mixed_linktypes() {
        if Command::new("tshark").arg("--version").output().is_err() {
            eprintln!("tshark not installed; skipping");
            return;
        }
        let path = std::env::temp_dir().join(format!("tuntrace-w-{}.pcapng", std::process::id()));
        let file = std::fs::File::create(&path).unwrap();
        let mut w = PcapngWriter::new(io::BufWriter::new(file), Endian::Big).unwrap();
        let a = w.add_interface("ens33", LinkType::ETHERNET, 65535).unwrap();
        let b = w
            .add_interface_with(None, Some("tunnel zero"), LinkType::RAW, 0)
            .unwrap();
        let mut eth = vec![0u8; 12];
        eth.extend_from_slice(&[0x08, 0x00]);
        eth.extend_from_slice(&[
            0x45, 0, 0, 20, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ]);
        w.write_epb(a, 1_700_000_000_000_000_001, 34, &eth).unwrap();
        w.write_epb(b, 1_700_000_000_000_000_002, 20, &eth[14..])
            .unwrap();
        w.finish().unwrap();
        let out = Command::new("tshark")
            .arg("-r")
            .arg(&path)
            .args([
                "-T",
                "fields",
                "-e",
                "frame.interface_name",
                "-e",
                "frame.interface_description",
            ])
            .args(["-e", "ip.dst", "-e", "frame.time_epoch"])
            .output()
            .unwrap();
        std::fs::remove_file(&path).unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let lines: Vec<Vec<&str>> = text.lines().map(|l| l.split('\t').collect()).collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert_eq!(lines[0][0], "ens33");
        assert_eq!(lines[1][1], "tunnel zero");
        assert_eq!((lines[0][2], lines[1][2]), ("10.0.0.2", "10.0.0.2"));
        assert!(lines[1][3].starts_with("1700000000.000000002"), "{text}");
    }
}
