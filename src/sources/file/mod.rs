//! Capture files (classic pcap and pcapng), read as a stream.
//!
//! A 4 MiB buffer is filled with plain `read()` and records are parsed in
//! place, so memory stays flat whatever the file size (no mmap: mapped file
//! pages would count as our RSS, and in this VM faulting them in cost more
//! than copying). Every [`Frame`] borrows from that buffer. A large file
//! can be read in parts by several threads ([`split_plan`]).
//! Our own parser, not libpcap's, because libpcap refuses pcapng files whose
//! interfaces have different link types.
//!
//! Untrusted lengths are checked against fixed limits before they are used,
//! and never size an allocation. Damage after a valid start stops the read
//! with [`FileError::Damaged`]; every frame before it has been delivered.

mod input;
mod pcap;
mod pcapng;
mod split;

pub use split::{
    plan as split_plan, plan_at as split_plan_at, plan_parts as split_plan_parts, Gather,
    PartsRead, SplitPlan, Tally,
};

use std::cell::Cell;
use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use crate::iface::IfaceTable;
use crate::sources::Frame;

use input::{Input, Meter};

/// Largest packet we accept (caplen). Bigger is damage, never an allocation.
pub const MAX_CAPLEN: u32 = 256 * 1024;

/// Largest non-packet pcapng block; bigger ones are taken as damage.
pub const MAX_BLOCK: u32 = 16 * 1024 * 1024;

/// How a file is read.
#[derive(Clone, Default)]
pub struct FileOptions<'p> {
    /// Interface label for classic pcap files (pcapng names come from the
    /// file). None → the file stem (`ens33.pcap` → `ens33`).
    pub classic_iface: Option<String>,
    /// Told how far the read has got (a progress display).
    pub progress: Option<&'p dyn Progress>,
}

/// Told how far a read has got: file bytes read and frames delivered since
/// the last call. Called every few MiB and once at the end, never per
/// packet; both threads of a file read in two parts call it.
pub trait Progress: Sync {
    fn advance(&self, bytes: u64, frames: u64);
}

/// The container format found by its magic number, whatever the file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Pcap,
    Pcapng,
}

/// What a complete read went through.
#[derive(Debug, Clone)]
pub struct ReadSummary {
    pub format: Format,
    pub frames: u64,
    /// File bytes consumed.
    pub bytes: u64,
    /// Classic pcap records longer than the file's snaplen, read whole.
    pub oversize: u64,
}

#[derive(Debug)]
pub enum FileError {
    /// Cannot open/read (ENOENT, EACCES, is a directory...). Exit 2.
    Open { path: PathBuf, source: io::Error },
    /// Not a pcap/pcapng file (bad magic, too short, unsupported version).
    /// Exit 2. The detail says what was expected.
    NotCapture { path: PathBuf, detail: String },
    /// Damaged after a valid start: all frames before `offset` were
    /// delivered. Exit 3.
    Damaged {
        path: PathBuf,
        offset: u64,
        frames_before: u64,
        detail: String,
    },
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileError::Open { path, source } => {
                write!(f, "{}: cannot read: {source}", path.display())
            }
            FileError::NotCapture { path, detail } => {
                write!(f, "{}: not a capture file: {detail}", path.display())
            }
            FileError::Damaged {
                path,
                offset,
                frames_before,
                detail,
            } => write!(
                f,
                "{}: damaged at byte {offset} after {frames_before} packets: {detail}",
                path.display()
            ),
        }
    }
}

impl std::error::Error for FileError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            FileError::Open { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl FileError {
    pub fn exit_code(&self) -> u8 {
        match self {
            FileError::Open { .. } | FileError::NotCapture { .. } => crate::exit::USAGE,
            FileError::Damaged { .. } => crate::exit::DAMAGED,
        }
    }
}

/// Why a parser stopped, before the path and frame count are attached.
#[derive(Debug)]
enum Fail {
    Io(io::Error),
    NotCapture(String),
    Damaged { offset: u64, detail: String },
}

impl From<io::Error> for Fail {
    fn from(e: io::Error) -> Self {
        Fail::Io(e)
    }
}

fn damaged(offset: u64, detail: impl Into<String>) -> Fail {
    Fail::Damaged {
        offset,
        detail: detail.into(),
    }
}

/// Reads a u32 in the byte order fixed for the file or section; a const
/// parameter so each order gets its own loop with no per-field branch.
#[inline(always)]
fn rd32<const BE: bool>(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    if BE {
        u32::from_be_bytes(a)
    } else {
        u32::from_le_bytes(a)
    }
}

#[inline(always)]
fn rd16<const BE: bool>(b: &[u8], at: usize) -> u16 {
    let a = [b[at], b[at + 1]];
    if BE {
        u16::from_be_bytes(a)
    } else {
        u16::from_le_bytes(a)
    }
}

/// Reads a capture file, calling `on_frame` for every packet in file order.
pub fn read_file<F: FnMut(&Frame<'_>)>(
    path: &Path,
    opts: &FileOptions,
    ifaces: &mut IfaceTable,
    on_frame: F,
) -> Result<ReadSummary, FileError> {
    let open_err = |source| FileError::Open {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(open_err)?;
    let meta = file.metadata().map_err(open_err)?;
    // Opening a directory succeeds on Linux; say so now rather than at read().
    if meta.is_dir() {
        return Err(open_err(io::Error::other("is a directory")));
    }
    read_any(file, path, opts, ifaces, on_frame)
}

/// [`read_file`] over any reader (bytes in memory in tests and fuzzing);
/// `name` is used in messages and as the default interface stem.
/// (`tuntrace read` reads a pipe through [`read_file`], e.g. `/dev/stdin`.)
pub fn read_stream<R: Read, F: FnMut(&Frame<'_>)>(
    reader: R,
    name: &Path,
    opts: &FileOptions,
    ifaces: &mut IfaceTable,
    on_frame: F,
) -> Result<ReadSummary, FileError> {
    read_any(reader, name, opts, ifaces, on_frame)
}

fn read_any<R: Read, F: FnMut(&Frame<'_>)>(
    reader: R,
    path: &Path,
    opts: &FileOptions,
    ifaces: &mut IfaceTable,
    mut on_frame: F,
) -> Result<ReadSummary, FileError> {
    let frames = Cell::new(0u64);
    let meter = opts.progress.map(|p| Meter::new(p, &frames, 0));
    let mut inp = Input::new(reader, meter);
    let mut deliver = |f: &Frame<'_>| {
        frames.set(frames.get() + 1);
        on_frame(f);
    };
    let result = detect_and_read(&mut inp, path, opts, ifaces, &mut deliver);
    inp.finish_progress();
    let bytes = inp.consumed();
    match result {
        Ok(format) => Ok(ReadSummary {
            format,
            frames: frames.get(),
            bytes,
            oversize: inp.oversize,
        }),
        Err(fail) => Err(fail_to_error(fail, path, frames.get())),
    }
}

/// Attaches the path (and, for damage, the frames delivered before it).
fn fail_to_error(fail: Fail, path: &Path, frames_before: u64) -> FileError {
    let path = path.to_path_buf();
    match fail {
        Fail::Io(source) => FileError::Open { path, source },
        Fail::NotCapture(detail) => FileError::NotCapture { path, detail },
        Fail::Damaged { offset, detail } => FileError::Damaged {
            path,
            offset,
            frames_before,
            detail,
        },
    }
}

/// The interface label of a classic pcap file: `--iface`, else the stem.
fn classic_label(path: &Path, opts: &FileOptions) -> String {
    match &opts.classic_iface {
        Some(l) => l.clone(),
        None => path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string()),
    }
}

fn detect_and_read<R: Read, F: FnMut(&Frame<'_>)>(
    inp: &mut Input<'_, R>,
    path: &Path,
    opts: &FileOptions,
    ifaces: &mut IfaceTable,
    deliver: &mut F,
) -> Result<Format, Fail> {
    let n = inp.fill(4)?;
    if n < 4 {
        return Err(Fail::NotCapture(if n == 0 {
            "the file is empty".into()
        } else {
            format!("only {n} bytes, too short for a pcap or pcapng header")
        }));
    }
    let b = inp.window();
    let magic = [b[0], b[1], b[2], b[3]];
    if magic == pcapng::SHB_MAGIC {
        pcapng::read(inp, ifaces, deliver)?;
        return Ok(Format::Pcapng);
    }
    let Some((be, nanos)) = pcap::magic(magic) else {
        return Err(Fail::NotCapture(format!(
            "expected a pcap (magic a1b2c3d4/a1b23c4d) or pcapng (0a0d0d0a) file, \
             found bytes {:02x} {:02x} {:02x} {:02x}",
            magic[0], magic[1], magic[2], magic[3]
        )));
    };
    let iface = ifaces.intern(&classic_label(path, opts));
    pcap::read(inp, be, nanos, iface, deliver)?;
    Ok(Format::Pcap)
}

/// Every capture the repository bundles (`captures/`), sorted: for tests
/// that check a property on real traffic.
#[cfg(test)]
pub(crate) fn bundled_captures() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<PathBuf> = ["captures"]
        .iter()
        .flat_map(|dir| std::fs::read_dir(root.join(dir)).expect("bundled captures"))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcap" || e == "pcapng"))
        .collect();
    files.sort();
    files
}

/// A [`Progress`] that records every call, for tests.
#[cfg(test)]
#[derive(Debug, Default)]
pub(crate) struct Told(pub std::sync::Mutex<Vec<(u64, u64)>>);

#[cfg(test)]
impl Progress for Told {
    fn advance(&self, bytes: u64, frames: u64) {
        self.0.lock().unwrap().push((bytes, frames));
    }
}

#[cfg(test)]
impl Told {
    /// (calls, bytes, frames) told in all.
    pub(crate) fn sums(&self) -> (usize, u64, u64) {
        let calls = self.0.lock().unwrap();
        let bytes = calls.iter().map(|c| c.0).sum();
        (calls.len(), bytes, calls.iter().map(|c| c.1).sum())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linktype::LinkType;
    use crate::write::{Endian, PcapWriter, TsResolution};

    #[test]
    fn progress_is_told_every_few_mib_and_adds_up() {
        let path = std::env::temp_dir().join(format!("tuntrace-{}-told.pcap", std::process::id()));
        let file = File::create(&path).unwrap();
        let mut w = PcapWriter::new(
            file,
            LinkType::RAW,
            65535,
            Endian::Little,
            TsResolution::Micro,
        )
        .unwrap();
        for i in 0..7000u64 {
            w.write_packet(i * 1000, 1500, &[0x45; 1500]).unwrap();
        }
        drop(w.into_inner());
        let size = std::fs::metadata(&path).unwrap().len();
        let told = Told::default();
        let opts = FileOptions {
            classic_iface: None,
            progress: Some(&told),
        };
        let mut frames = 0u64;
        let s = read_file(&path, &opts, &mut IfaceTable::new(), |_| frames += 1).unwrap();
        assert_eq!((s.frames, frames), (7000, 7000));
        let (calls, bytes, told_frames) = told.sums();
        assert_eq!((bytes, told_frames), (size, 7000));
        // 10.6 MB: two reports at 4 MiB steps, one at the end.
        assert_eq!(calls, 3, "{:?}", told.0.lock().unwrap());
        std::fs::remove_file(&path).unwrap();
    }

    fn read_bytes(bytes: &[u8], name: &str) -> Result<ReadSummary, FileError> {
        let mut t = IfaceTable::new();
        read_stream(
            bytes,
            Path::new(name),
            &FileOptions::default(),
            &mut t,
            |_| {},
        )
    }

    #[test]
    fn empty_and_short_are_not_captures() {
        for (bytes, want) in [(&[][..], "empty"), (&[0xd4, 0xc3][..], "only 2 bytes")] {
            let e = read_bytes(bytes, "x.pcap").unwrap_err();
            assert_eq!(e.exit_code(), crate::exit::USAGE);
            assert!(e.to_string().contains(want), "{e}");
        }
    }

    #[test]
    fn unknown_magic_names_the_bytes() {
        let e = read_bytes(b"GET / HTTP/1.1\r\n", "x.pcap").unwrap_err();
        let msg = e.to_string();
        assert!(matches!(e, FileError::NotCapture { .. }));
        assert!(msg.contains("a1b2c3d4/a1b23c4d"), "{msg}");
        assert!(msg.contains("found bytes 47 45 54 20"), "{msg}");
    }

    #[test]
    fn open_errors_exit_2() {
        let mut t = IfaceTable::new();
        let opts = FileOptions::default();
        let missing = Path::new("/nonexistent/tuntrace-test.pcap");
        let e = read_file(missing, &opts, &mut t, |_| {}).unwrap_err();
        assert!(matches!(e, FileError::Open { .. }));
        assert_eq!(e.exit_code(), crate::exit::USAGE);
        let e = read_file(&std::env::temp_dir(), &opts, &mut t, |_| {}).unwrap_err();
        assert!(e.to_string().contains("is a directory"), "{e}");
    }

    #[test]
    fn read_file_labels_classic_by_stem_or_option() {
        let path = std::env::temp_dir().join(format!("tuntrace-{}-ens33.pcap", std::process::id()));
        let file = File::create(&path).unwrap();
        let mut w = PcapWriter::new(
            file,
            LinkType::ETHERNET,
            65535,
            Endian::Little,
            TsResolution::Micro,
        )
        .unwrap();
        w.write_packet(1_000, 60, &[0u8; 60]).unwrap();
        drop(w.into_inner());

        let mut t = IfaceTable::new();
        let mut seen = Vec::new();
        let s = read_file(&path, &FileOptions::default(), &mut t, |f| {
            seen.push(f.iface)
        })
        .unwrap();
        assert_eq!(
            (s.format, s.frames, s.bytes),
            (Format::Pcap, 1, 24 + 16 + 60)
        );
        let stem = format!("tuntrace-{}-ens33", std::process::id());
        assert_eq!(t.name(seen[0]), stem);

        let opts = FileOptions {
            classic_iface: Some("eth9".into()),
            progress: None,
        };
        seen.clear();
        read_file(&path, &opts, &mut t, |f| seen.push(f.iface)).unwrap();
        assert_eq!(t.name(seen[0]), "eth9");
        std::fs::remove_file(&path).unwrap();
    }
}
