//! Capture files (classic pcap and pcapng, plain or gzip/zstd/xz
//! compressed, from a file or standard input), read as a stream.
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
//!
//! A [`FrameFilter`] (`read --filter`) is applied by the record parsers, so
//! every reader of a file, the split's too, delivers only the frames it
//! accepts.

mod compress;
mod input;
mod pcap;
mod pcapng;
mod split;

pub use compress::Compression;
pub use split::{
    plan as split_plan, plan_at as split_plan_at, plan_parts as split_plan_parts, Gather,
    PartsRead, SplitPlan, Tally,
};

use std::cell::Cell;
use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::iface::IfaceTable;
use crate::linktype::LinkType;
use crate::sources::Frame;

use compress::{Corrupt, Sniffed};

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
    /// Only the frames this accepts are delivered (`read --filter`).
    pub filter: Option<Arc<dyn FrameFilter>>,
}

/// The path that stands for standard input.
pub const STDIN: &str = "-";

/// Whether `path` stands for standard input (`-`).
pub fn is_stdin(path: &Path) -> bool {
    path.as_os_str() == STDIN
}

/// A capture filter (a tcpdump expression), compiled for each link type a
/// file holds, as the parsers meet them. `os::pcap` implements it.
pub trait FrameFilter: Send + Sync {
    /// The test for frames of `linktype`, or why the expression does not
    /// apply to it.
    fn for_link(&self, linktype: LinkType) -> Result<Arc<dyn LinkFilter>, String>;
}

/// A [`FrameFilter`] compiled for one link type.
pub trait LinkFilter: Send + Sync + fmt::Debug {
    fn accepts(&self, frame: &Frame<'_>) -> bool;
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
    /// delivered (`frames_before` counts them: with a filter, those it
    /// accepted). Exit 3. In a compressed file, `offset` counts
    /// decompressed bytes and the detail says which stream it was.
    Damaged {
        path: PathBuf,
        offset: u64,
        frames_before: u64,
        detail: String,
    },
    /// The filter expression does not compile for a link type the file
    /// holds (libpcap's message). Exit 2.
    Filter {
        path: PathBuf,
        linktype: LinkType,
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
            FileError::Filter {
                path,
                linktype,
                detail,
            } => write!(
                f,
                "{}: --filter does not compile for link type {} ({}): {detail}",
                path.display(),
                linktype.name(),
                linktype.0
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
            FileError::Open { .. } | FileError::NotCapture { .. } | FileError::Filter { .. } => {
                crate::exit::USAGE
            }
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
    Filter { linktype: LinkType, detail: String },
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

/// The filter for frames of `linktype`, if any.
fn link_filter(
    filter: Option<&dyn FrameFilter>,
    linktype: LinkType,
) -> Result<Option<Arc<dyn LinkFilter>>, Fail> {
    filter
        .map(|f| f.for_link(linktype))
        .transpose()
        .map_err(|detail| Fail::Filter { linktype, detail })
}

/// Reads a capture file (standard input for `-`, see [`is_stdin`]),
/// calling `on_frame` for every packet in file order.
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
    if is_stdin(path) {
        // A descriptor of our own: read unbuffered and unlocked, as a file.
        use std::os::fd::AsFd;
        let fd = io::stdin().as_fd().try_clone_to_owned().map_err(open_err)?;
        return read_any(File::from(fd), path, opts, ifaces, on_frame);
    }
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
/// (`tuntrace read` reads a pipe through [`read_file`], as `-`.)
pub fn read_stream<R: Read + Send, F: FnMut(&Frame<'_>)>(
    reader: R,
    name: &Path,
    opts: &FileOptions,
    ifaces: &mut IfaceTable,
    on_frame: F,
) -> Result<ReadSummary, FileError> {
    read_any(reader, name, opts, ifaces, on_frame)
}

fn read_any<R: Read + Send, F: FnMut(&Frame<'_>)>(
    reader: R,
    path: &Path,
    opts: &FileOptions,
    ifaces: &mut IfaceTable,
    on_frame: F,
) -> Result<ReadSummary, FileError> {
    let open_err = |source| FileError::Open {
        path: path.to_path_buf(),
        source,
    };
    let sniffed = Sniffed::new(reader).map_err(open_err)?;
    match sniffed.compression() {
        None => read_input(sniffed, None, path, opts, ifaces, on_frame),
        Some(c) => {
            let (r, read) = compress::decoder(sniffed, c).map_err(open_err)?;
            std::thread::scope(|s| {
                let r = compress::ahead(s, r);
                read_input(r, Some((c, read)), path, opts, ifaces, on_frame)
            })
        }
    }
}

/// Reads a capture from `reader`, decompressed when `compressed` says how
/// (with the count of compressed bytes read, for progress).
fn read_input<R: Read, F: FnMut(&Frame<'_>)>(
    reader: R,
    compressed: Option<(Compression, compress::Counter)>,
    path: &Path,
    opts: &FileOptions,
    ifaces: &mut IfaceTable,
    mut on_frame: F,
) -> Result<ReadSummary, FileError> {
    let frames = Cell::new(0u64);
    let meter = opts.progress.map(|p| {
        let m = Meter::new(p, &frames, 0);
        match &compressed {
            Some((_, read)) => m.counting(read.clone()),
            None => m,
        }
    });
    let mut inp = Input::new(reader, meter);
    let mut deliver = |f: &Frame<'_>| {
        frames.set(frames.get() + 1);
        on_frame(f);
    };
    let result = detect_and_read(&mut inp, path, opts, ifaces, &mut deliver);
    inp.finish_progress();
    let bytes = inp.consumed();
    let fail = match result {
        Ok(format) => {
            return Ok(ReadSummary {
                format,
                frames: frames.get(),
                bytes,
                oversize: inp.oversize,
            })
        }
        Err(fail) => fail,
    };
    let Some((c, _)) = compressed else {
        return Err(fail_to_error(fail, path, frames.get()));
    };
    // Name the compression in what is said about the content.
    let fail = match fail {
        Fail::Io(e) => match Corrupt::of(&e) {
            Some(corrupt) => damaged(bytes, corrupt.to_string()),
            None => Fail::Io(e),
        },
        Fail::NotCapture(d) => Fail::NotCapture(format!("{}-compressed: {d}", c.name())),
        Fail::Damaged { offset, detail } => damaged(
            offset,
            format!("{detail} (offset in the decompressed {} data)", c.name()),
        ),
        f => f,
    };
    Err(fail_to_error(fail, path, frames.get()))
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
        Fail::Filter { linktype, detail } => FileError::Filter {
            path,
            linktype,
            detail,
        },
    }
}

/// The interface label of a classic pcap file: `--iface`, else the stem.
fn classic_label(path: &Path, opts: &FileOptions) -> String {
    match &opts.classic_iface {
        Some(l) => l.clone(),
        None if is_stdin(path) => "stdin".into(),
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
        pcapng::read(inp, ifaces, opts.filter.clone(), deliver)?;
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
    pcap::read(inp, be, nanos, iface, opts.filter.as_deref(), deliver)?;
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
            filter: None,
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
            filter: None,
        };
        seen.clear();
        read_file(&path, &opts, &mut t, |f| seen.push(f.iface)).unwrap();
        assert_eq!(t.name(seen[0]), "eth9");
        std::fs::remove_file(&path).unwrap();
    }

    /// Keeps frames whose first byte is even; fails for RAW.
    struct EvenFirst;

    #[derive(Debug)]
    struct Even;

    impl LinkFilter for Even {
        fn accepts(&self, frame: &Frame<'_>) -> bool {
            frame.data.first().is_some_and(|b| b % 2 == 0)
        }
    }

    impl FrameFilter for EvenFirst {
        fn for_link(&self, linktype: LinkType) -> Result<Arc<dyn LinkFilter>, String> {
            match linktype {
                LinkType::RAW => Err("not for raw".into()),
                _ => Ok(Arc::new(Even)),
            }
        }
    }

    /// Each frame's first byte, as a split read's part and its gatherer.
    #[derive(Default)]
    struct FirstBytes(Vec<u8>);

    impl Tally for FirstBytes {
        fn frame(&mut self, f: &Frame<'_>) {
            self.0.push(f.data[0]);
        }
    }

    impl Gather<FirstBytes> for FirstBytes {
        fn take(&mut self, part: FirstBytes) -> bool {
            self.0.extend(part.0);
            true
        }
    }

    fn numbered(path: &Path, linktype: LinkType, n: u32) {
        let file = File::create(path).unwrap();
        let mut w =
            PcapWriter::new(file, linktype, 65535, Endian::Little, TsResolution::Micro).unwrap();
        for i in 0..n {
            let data = [(i % 256) as u8; 100];
            w.write_packet(u64::from(i) * 1000, 100, &data).unwrap();
        }
        drop(w.into_inner());
    }

    #[test]
    fn the_filter_applies_to_every_reader_of_a_file_split_ones_too() {
        let path =
            std::env::temp_dir().join(format!("tuntrace-{}-filter.pcap", std::process::id()));
        numbered(&path, LinkType::ETHERNET, 3000);
        let opts = FileOptions {
            filter: Some(Arc::new(EvenFirst)),
            ..FileOptions::default()
        };
        let mut one = Vec::new();
        let s = read_file(&path, &opts, &mut IfaceTable::new(), |f| {
            one.push(f.data[0])
        })
        .unwrap();
        assert_eq!((s.frames, one.len()), (1500, 1500));
        assert!(one.iter().all(|b| b % 2 == 0));
        let cuts = [24 + 900 * 116, 24 + 1700 * 116, 24 + 2500 * 116];
        let mut t = IfaceTable::new();
        let plan = split_plan_at(&path, &opts, &mut t, &cuts).expect("a plan");
        let mut here = FirstBytes::default();
        let out = plan.read(&opts, &mut t, 3, FirstBytes::default, &mut here);
        assert_eq!(out.used, 4, "every part's frames used");
        assert_eq!(out.result.unwrap().frames, 1500);
        assert_eq!(here.0, one);

        // A link type the expression does not compile for: exit 2, no frame.
        numbered(&path, LinkType::RAW, 10);
        let e = read_file(&path, &opts, &mut IfaceTable::new(), |_| panic!("a frame")).unwrap_err();
        assert_eq!(e.exit_code(), crate::exit::USAGE);
        assert!(
            e.to_string()
                .ends_with("--filter does not compile for link type RAW (101): not for raw"),
            "{e}"
        );
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn progress_of_a_compressed_file_counts_its_compressed_bytes() {
        use std::io::Write;
        let path =
            std::env::temp_dir().join(format!("tuntrace-{}-told.pcap.gz", std::process::id()));
        let plain = path.with_extension("plain");
        numbered(&plain, LinkType::ETHERNET, 60_000);
        let mut gz = flate2::write::GzEncoder::new(
            File::create(&path).unwrap(),
            flate2::Compression::fast(),
        );
        gz.write_all(&std::fs::read(&plain).unwrap()).unwrap();
        gz.finish().unwrap();
        let told = Told::default();
        let opts = FileOptions {
            progress: Some(&told),
            ..FileOptions::default()
        };
        let s = read_file(&path, &opts, &mut IfaceTable::new(), |_| {}).unwrap();
        assert_eq!(
            (s.frames, s.bytes),
            (60_000, std::fs::metadata(&plain).unwrap().len())
        );
        let (_, bytes, frames) = told.sums();
        assert_eq!(
            (bytes, frames),
            (std::fs::metadata(&path).unwrap().len(), 60_000)
        );
        std::fs::remove_file(&path).unwrap();
        std::fs::remove_file(&plain).unwrap();
    }
}
