//! Capture writers: classic pcap and pcapng. Tests and benchmarks build their
//! captures with them, and `tuntrace live --write` records with the pcapng
//! one. Both emit exactly what `sources::file` reads, in either byte order,
//! so the reader's big-endian paths get exercised without foreign files.
//!
//! The writers do no buffering of their own: wrap a file in a
//! `std::io::BufWriter`.

pub mod pcap;
pub mod pcapng;

use std::io;

pub use pcap::PcapWriter;
pub use pcapng::PcapngWriter;

/// Byte order of everything a writer emits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endian {
    Little,
    Big,
}

impl Endian {
    /// The order of this machine, as libpcap would write it.
    pub fn native() -> Endian {
        if cfg!(target_endian = "big") {
            Endian::Big
        } else {
            Endian::Little
        }
    }

    fn u16(self, v: u16) -> [u8; 2] {
        match self {
            Endian::Little => v.to_le_bytes(),
            Endian::Big => v.to_be_bytes(),
        }
    }

    fn u32(self, v: u32) -> [u8; 4] {
        match self {
            Endian::Little => v.to_le_bytes(),
            Endian::Big => v.to_be_bytes(),
        }
    }

    fn u64(self, v: u64) -> [u8; 8] {
        match self {
            Endian::Little => v.to_le_bytes(),
            Endian::Big => v.to_be_bytes(),
        }
    }
}

/// Timestamp unit written to the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TsResolution {
    Micro,
    Nano,
}

impl TsResolution {
    /// Nanoseconds per unit.
    fn ns(self) -> u64 {
        match self {
            TsResolution::Micro => 1_000,
            TsResolution::Nano => 1,
        }
    }
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

/// A packet's length as the 32-bit caplen field.
fn caplen(data: &[u8]) -> io::Result<u32> {
    u32::try_from(data.len()).map_err(|_| invalid(format!("packet of {} bytes", data.len())))
}
