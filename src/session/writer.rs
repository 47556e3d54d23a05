//! `--write`: one thread owns the pcapng file; capture loops queue copies of
//! their frames through a bounded channel. Writing is optional, so the copy
//! per packet is accepted there; a full queue makes loops wait, not lose.
//!
//! The file only ever ends on a whole block: blocks are gathered in memory
//! and written out together, and when the file system refuses some (full,
//! quota, I/O error) the file is cut back to the last whole block that
//! reached it. Then writing stops, with one warning, and capture goes on.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::linktype::LinkType;
use crate::write::pcapng::PcapngWriter;
use crate::write::{Endian, TsResolution};

/// Frames queued between the capture loops and the writer.
const QUEUE: usize = 16_384;
/// Bytes gathered before they are written out.
const CHUNK: usize = 1 << 20;

/// One frame to write, tagged with its NIC's interface id in the file.
#[derive(Debug)]
pub struct Record {
    pub idb: u32,
    pub ts_ns: u64,
    pub orig_len: u32,
    pub data: Vec<u8>,
}

/// How writing went: frames in the file, and why it stopped short if it did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub path: PathBuf,
    pub packets: u64,
    /// Frames that were not written after the file failed.
    pub lost: u64,
    pub error: Option<String>,
}

/// The running writer: the queue's sending side and the thread to join.
pub struct FileWriter {
    pub tx: SyncSender<Record>,
    pub ids: Vec<u32>,
    path: PathBuf,
    join: JoinHandle<Written>,
}

impl FileWriter {
    /// Creates `path` with one interface block per `(name, linktype, snaplen)`
    /// (errors show now, before capturing) and starts the writer thread.
    pub fn start(path: &Path, nics: &[(String, LinkType, u32)]) -> io::Result<FileWriter> {
        Self::start_on(File::create(path)?, path, nics)
    }

    /// As [`Self::start`], on a file already open (and empty) for `path`.
    pub fn start_on(
        file: File,
        path: &Path,
        nics: &[(String, LinkType, u32)],
    ) -> io::Result<FileWriter> {
        let sink = Sink {
            file,
            buf: Vec::with_capacity(CHUNK + 64 * 1024),
            marks: Vec::new(),
            on_disk: 0,
        };
        let mut w = PcapngWriter::with_resolution(sink, Endian::Little, TsResolution::Nano)?;
        let mut ids = Vec::with_capacity(nics.len());
        for (name, lt, snap) in nics {
            ids.push(w.add_interface(name, file_linktype(*lt), *snap)?);
        }
        w.get_mut().push().map_err(|(e, _)| e)?;
        let (tx, rx) = sync_channel(QUEUE);
        let shown = path.to_path_buf();
        let join = std::thread::Builder::new()
            .name("tuntrace-write".into())
            .spawn(move || write_loop(w, rx, shown))?;
        Ok(FileWriter {
            tx,
            ids,
            path: path.to_path_buf(),
            join,
        })
    }

    /// Waits for the queue to empty (every sender must be dropped first)
    /// and the file to be written out; says how it went.
    pub fn finish(self) -> Written {
        drop(self.tx);
        let path = self.path;
        self.join.join().unwrap_or_else(|_| Written {
            path,
            packets: 0,
            lost: 0,
            error: Some("the writer thread panicked".into()),
        })
    }
}

/// libpcap hands out DLT values; files carry LINKTYPE values. They differ,
/// for what Linux captures, only for raw IP (DLT 12/14 → LINKTYPE_RAW 101).
fn file_linktype(lt: LinkType) -> LinkType {
    match lt {
        LinkType::RAW_12 | LinkType::RAW_14 => LinkType::RAW,
        other => other,
    }
}

/// Whole blocks gathered in memory: `write` only appends (it cannot fail),
/// `mark` notes a block boundary, `push` writes them out.
struct Sink {
    file: File,
    buf: Vec<u8>,
    /// Block ends in `buf` since the last push.
    marks: Vec<usize>,
    /// Bytes in the file, always a block boundary.
    on_disk: u64,
}

impl Write for Sink {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Sink {
    fn mark(&mut self) {
        self.marks.push(self.buf.len());
    }

    /// Writes what is gathered; returns how many marked blocks reached the
    /// file. On failure the file is cut back to the last whole block that
    /// reached it, and the error comes with that count.
    fn push(&mut self) -> Result<usize, (io::Error, usize)> {
        let mut done = 0;
        let mut failed = None;
        while done < self.buf.len() {
            match self.file.write(&self.buf[done..]) {
                Ok(0) => {
                    failed = Some(io::Error::from(io::ErrorKind::WriteZero));
                    break;
                }
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        let blocks = self.marks.len();
        self.marks.retain(|&m| m <= done);
        let kept = self.marks.len();
        let whole = self.marks.last().copied().unwrap_or(0);
        self.buf.clear();
        self.marks.clear();
        let Some(e) = failed else {
            self.on_disk += done as u64;
            return Ok(blocks);
        };
        let keep = self.on_disk + whole as u64;
        self.on_disk = keep;
        match self.file.set_len(keep) {
            Ok(()) => Err((e, kept)),
            Err(c) => Err((
                io::Error::new(
                    e.kind(),
                    format!("{e}; cutting the file back to its last whole block failed too: {c}"),
                ),
                kept,
            )),
        }
    }
}

/// The writer thread: frames in, whole blocks out; after a failure frames
/// are only counted as lost.
fn write_loop(mut w: PcapngWriter<Sink>, rx: Receiver<Record>, path: PathBuf) -> Written {
    let mut out = Written {
        path,
        packets: 0,
        lost: 0,
        error: None,
    };
    loop {
        let push = match rx.recv_timeout(Duration::from_secs(1)) {
            Ok(r) => {
                if out.error.is_some() {
                    out.lost += 1;
                    continue;
                }
                // Only a record the format cannot hold fails (nothing was
                // appended then): leave it out.
                match w.write_epb(r.idb, r.ts_ns, r.orig_len, &r.data) {
                    Ok(()) => w.get_mut().mark(),
                    Err(_) => out.lost += 1,
                }
                w.get_mut().buf.len() >= CHUNK
            }
            // Write out when idle, so the file is readable while capturing.
            Err(RecvTimeoutError::Timeout) => true,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        if push && out.error.is_none() {
            pushed(&mut w, &mut out);
        }
    }
    if out.error.is_none() {
        pushed(&mut w, &mut out);
    }
    out
}

/// Writes out the gathered blocks; on failure warns (once) and records why.
fn pushed(w: &mut PcapngWriter<Sink>, out: &mut Written) {
    let pending = w.get_mut().marks.len() as u64;
    match w.get_mut().push() {
        Ok(n) => out.packets += n as u64,
        Err((e, kept)) => {
            out.packets += kept as u64;
            out.lost += pending - kept as u64;
            eprintln!(
                "tuntrace: warning: --write {}: {e}; the file ends after the {} packets \
                 written before (cut back to the last whole block); capture and counting go on",
                out.path.display(),
                out.packets
            );
            out.error = Some(e.to_string());
        }
    }
}
