//! `--write`: one thread owns the pcapng file; capture loops queue copies of
//! their frames through a bounded channel. Writing is optional, so the copy
//! per packet is accepted there; a full queue makes loops wait, not lose.

use std::fs::File;
use std::io::{self, BufWriter};
use std::path::Path;
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::linktype::LinkType;
use crate::write::pcapng::PcapngWriter;
use crate::write::{Endian, TsResolution};

/// Frames queued between the capture loops and the writer.
const QUEUE: usize = 16_384;

/// One frame to write, tagged with its NIC's interface id in the file.
#[derive(Debug)]
pub struct Record {
    pub idb: u32,
    pub ts_ns: u64,
    pub orig_len: u32,
    pub data: Vec<u8>,
}

/// The running writer: the queue's sending side and the thread to join.
pub struct FileWriter {
    pub tx: SyncSender<Record>,
    pub ids: Vec<u32>,
    join: JoinHandle<Result<u64, String>>,
}

impl FileWriter {
    /// Creates `path` with one interface block per `(name, linktype, snaplen)`
    /// (errors show now, before capturing) and starts the writer thread.
    pub fn start(path: &Path, nics: &[(String, LinkType, u32)]) -> io::Result<FileWriter> {
        let file = File::create(path)?;
        let mut w = PcapngWriter::with_resolution(
            BufWriter::with_capacity(1 << 20, file),
            Endian::Little,
            TsResolution::Nano,
        )?;
        let mut ids = Vec::with_capacity(nics.len());
        for (name, lt, snap) in nics {
            ids.push(w.add_interface(name, file_linktype(*lt), *snap)?);
        }
        w.flush()?;
        let (tx, rx) = sync_channel(QUEUE);
        let join = std::thread::Builder::new()
            .name("tuntrace-write".into())
            .spawn(move || write_loop(w, rx))?;
        Ok(FileWriter { tx, ids, join })
    }

    /// Waits for the queue to empty (every sender must be dropped first)
    /// and the file to be flushed; returns the frames written.
    pub fn finish(self) -> Result<u64, String> {
        drop(self.tx);
        self.join
            .join()
            .unwrap_or_else(|_| Err("the writer thread panicked".into()))
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

fn write_loop(mut w: PcapngWriter<BufWriter<File>>, rx: Receiver<Record>) -> Result<u64, String> {
    let mut written = 0u64;
    let mut failed: Option<String> = None;
    loop {
        match rx.recv_timeout(Duration::from_secs(1)) {
            Ok(r) => {
                if failed.is_none() {
                    match w.write_epb(r.idb, r.ts_ns, r.orig_len, &r.data) {
                        Ok(_) => written += 1,
                        Err(e) => failed = Some(e.to_string()),
                    }
                }
            }
            // Flush when idle, so the file is readable while capturing.
            Err(RecvTimeoutError::Timeout) => {
                if failed.is_none() {
                    if let Err(e) = w.flush() {
                        failed = Some(e.to_string());
                    }
                }
            }
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    if failed.is_none() {
        if let Err(e) = w.flush() {
            failed = Some(e.to_string());
        }
    }
    match failed {
        Some(e) => Err(e),
        None => Ok(written),
    }
}
