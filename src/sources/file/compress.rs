//! Compressed captures: gzip, zstd and xz, found by their magic numbers
//! (whatever the file name) and decompressed as a stream under the parsers'
//! own buffer, so memory stays flat whatever the size. Concatenated gzip
//! members, zstd frames and xz streams are read whole, as `zcat` does.
//!
//! A decoder error is damage of the compressed stream (exit 3, after every
//! frame before it); an error of the file or pipe under it stays a read
//! error. [`Corrupt`] and [`SourceError`] keep the two apart on their way
//! through the decoders, which pass the source's errors on unchanged.

use std::fmt;
use std::io::{self, BufReader, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;

/// A compression format of a capture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    Gzip,
    Zstd,
    Xz,
}

impl Compression {
    /// The format whose magic number `head` starts with.
    pub fn of(head: &[u8]) -> Option<Compression> {
        if head.starts_with(&[0x1f, 0x8b]) {
            Some(Compression::Gzip)
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Some(Compression::Zstd)
        } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
            Some(Compression::Xz)
        } else {
            None
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
            Compression::Xz => "xz",
        }
    }
}

/// Compressed bytes read so far, shared with the reader that counts them.
pub(super) type Counter = Arc<AtomicU64>;

/// Bytes read ahead to find a magic number: the longest, xz's.
const SNIFF: usize = 6;

/// Compressed bytes asked of the source at a time.
const SOURCE_BUF: usize = 256 << 10;

/// zstd's window at most, as a power of two: 128 MiB, the limit the `zstd`
/// tool decodes without `--memory` (levels up to 19 use 8 MiB at most; only
/// `--long` and `--ultra` need more). Bounds what a file can make us allocate.
const ZSTD_WINDOW_LOG_MAX: u32 = 27;

/// xz decoder memory at most: `xz -9` needs 65 MiB.
const XZ_MEMLIMIT: u64 = 128 << 20;

/// A reader's first bytes, read ahead to sniff the format, then handed out
/// again before the rest.
pub(super) struct Sniffed<R> {
    head: [u8; SNIFF],
    at: usize,
    len: usize,
    r: R,
}

impl<R: Read> Sniffed<R> {
    pub(super) fn new(mut r: R) -> io::Result<Self> {
        let mut head = [0; SNIFF];
        let mut len = 0;
        while len < SNIFF {
            match r.read(&mut head[len..]) {
                Ok(0) => break,
                Ok(k) => len += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(Sniffed {
            head,
            at: 0,
            len,
            r,
        })
    }

    pub(super) fn compression(&self) -> Option<Compression> {
        Compression::of(&self.head[..self.len])
    }
}

impl<R: Read> Read for Sniffed<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.at < self.len {
            let k = (self.len - self.at).min(out.len());
            out[..k].copy_from_slice(&self.head[self.at..self.at + k]);
            self.at += k;
            return Ok(k);
        }
        self.r.read(out)
    }
}

/// The decompressed bytes of `r` in format `c`, and a count of the
/// compressed bytes read so far (for progress and messages).
pub(super) fn decoder<'r, R: Read + Send + 'r>(
    r: R,
    c: Compression,
) -> io::Result<(Box<dyn Read + Send + 'r>, Counter)> {
    let read = Counter::default();
    let src = BufReader::with_capacity(
        SOURCE_BUF,
        Source {
            r,
            read: read.clone(),
        },
    );
    let inner: Box<dyn Read + Send + 'r> = match c {
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(src)),
        Compression::Zstd => {
            let mut d = zstd::stream::read::Decoder::with_buffer(src)?;
            d.window_log_max(ZSTD_WINDOW_LOG_MAX)?;
            Box::new(d)
        }
        Compression::Xz => {
            let stream = liblzma::stream::Stream::new_stream_decoder(
                XZ_MEMLIMIT,
                liblzma::stream::CONCATENATED,
            )
            .map_err(io::Error::other)?;
            Box::new(liblzma::bufread::XzDecoder::new_stream(src, stream))
        }
    };
    let out = Decoded {
        inner,
        codec: c,
        read: read.clone(),
    };
    Ok((Box::new(out), read))
}

/// The compressed source: counts bytes and marks its own errors.
struct Source<R> {
    r: R,
    read: Counter,
}

impl<R: Read> Read for Source<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        match self.r.read(out) {
            Ok(k) => {
                self.read.fetch_add(k as u64, Ordering::Relaxed);
                Ok(k)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Err(e),
            Err(e) => Err(io::Error::new(e.kind(), SourceError(e))),
        }
    }
}

/// An error of the file or pipe under a decoder.
#[derive(Debug)]
struct SourceError(io::Error);

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for SourceError {}

/// Damage of a compressed stream, as an `io::Error` payload.
#[derive(Debug)]
pub(super) struct Corrupt {
    codec: Compression,
    /// Compressed bytes read when the decoder gave up.
    compressed_read: u64,
    detail: String,
}

impl fmt::Display for Corrupt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} stream damaged after {} compressed bytes: {}",
            self.codec.name(),
            self.compressed_read,
            self.detail
        )
    }
}

impl std::error::Error for Corrupt {}

impl Corrupt {
    /// The damage `e` reports, if it is damage of a compressed stream.
    pub(super) fn of(e: &io::Error) -> Option<&Corrupt> {
        e.get_ref()?.downcast_ref()
    }
}

/// A decoder whose errors are told apart: the source's are handed on as
/// they were, the decoder's become [`Corrupt`].
struct Decoded<'r> {
    inner: Box<dyn Read + Send + 'r>,
    codec: Compression,
    read: Counter,
}

impl Read for Decoded<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        match self.inner.read(out) {
            Ok(k) => Ok(k),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Err(e),
            Err(e) => {
                if e.get_ref().is_some_and(|x| x.is::<SourceError>()) {
                    let kind = e.kind();
                    return Err(match e.into_inner().map(|x| x.downcast::<SourceError>()) {
                        Some(Ok(s)) => s.0,
                        _ => io::Error::from(kind),
                    });
                }
                let detail = match e.kind() {
                    io::ErrorKind::UnexpectedEof => format!("the stream is cut short ({e})"),
                    _ => e.to_string(),
                };
                Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    Corrupt {
                        codec: self.codec,
                        compressed_read: self.read.load(Ordering::Relaxed),
                        detail,
                    },
                ))
            }
        }
    }
}

/// Decompressed bytes handed over at a time by [`ahead`]'s thread.
const CHUNK: usize = 1 << 20;
/// Chunks in flight at most.
const CHUNKS_IN_FLIGHT: usize = 4;

/// `r` read on a thread of `scope`'s, in chunks handed over a bounded
/// channel: decompression then runs beside the parsing and decoding, as
/// `zstd -dc F | tuntrace read -` would run it. Memory: a few chunks.
/// The thread ends at the input's end or error, or when the reader is
/// dropped and it has a chunk to hand over.
pub(super) fn ahead<'s, 'r: 's>(
    scope: &'s std::thread::Scope<'s, '_>,
    mut r: Box<dyn Read + Send + 'r>,
) -> Ahead {
    let (full_tx, full_rx) = sync_channel::<io::Result<Vec<u8>>>(CHUNKS_IN_FLIGHT);
    let (empty_tx, empty_rx) = sync_channel::<Vec<u8>>(CHUNKS_IN_FLIGHT + 2);
    scope.spawn(move || loop {
        let mut buf = empty_rx.try_recv().unwrap_or_default();
        buf.resize(CHUNK, 0);
        let mut n = 0;
        let end = loop {
            if n == CHUNK {
                break None;
            }
            match r.read(&mut buf[n..]) {
                Ok(0) => break Some(Ok(())),
                Ok(k) => n += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Some(Err(e)),
            }
        };
        buf.truncate(n);
        if n > 0 && full_tx.send(Ok(buf)).is_err() {
            return;
        }
        match end {
            None => {}
            Some(Ok(())) => return,
            Some(Err(e)) => {
                let _ = full_tx.send(Err(e));
                return;
            }
        }
    });
    Ahead {
        full: full_rx,
        empty: empty_tx,
        cur: Vec::new(),
        at: 0,
    }
}

/// The reading end of [`ahead`].
pub(super) struct Ahead {
    full: Receiver<io::Result<Vec<u8>>>,
    empty: SyncSender<Vec<u8>>,
    cur: Vec<u8>,
    at: usize,
}

impl Read for Ahead {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.at == self.cur.len() {
            match self.full.recv() {
                Ok(Ok(next)) => {
                    let done = std::mem::replace(&mut self.cur, next);
                    let _ = self.empty.try_send(done);
                    self.at = 0;
                }
                Ok(Err(e)) => return Err(e),
                // The thread ended: the input did.
                Err(_) => return Ok(0),
            }
        }
        let k = out.len().min(self.cur.len() - self.at);
        out[..k].copy_from_slice(&self.cur[self.at..self.at + k]);
        self.at += k;
        Ok(k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    /// Everything `r` holds, decompressed (on a thread ahead) if it is.
    fn all(r: impl Read + Send) -> io::Result<Vec<u8>> {
        let mut s = Sniffed::new(r)?;
        let mut out = Vec::new();
        match s.compression() {
            None => {
                s.read_to_end(&mut out)?;
            }
            Some(c) => {
                let d = decoder(s, c)?.0;
                std::thread::scope(|sc| ahead(sc, d).read_to_end(&mut out))?;
            }
        }
        Ok(out)
    }

    #[test]
    fn chunks_ahead_arrive_whole_and_in_order() {
        let data: Vec<u8> = (0..3 * CHUNK as u32 + 17)
            .map(|i| (i % 251) as u8)
            .collect();
        let mut out = Vec::new();
        std::thread::scope(|sc| ahead(sc, Box::new(&data[..])).read_to_end(&mut out)).unwrap();
        assert_eq!(out, data);
        // A reader dropped early does not hold its thread.
        std::thread::scope(|sc| {
            let mut r = ahead(sc, Box::new(&data[..]));
            let mut b = [0; 10];
            r.read_exact(&mut b).unwrap();
            assert_eq!(b[..], data[..10]);
        });
    }

    #[test]
    fn magic_numbers() {
        assert_eq!(Compression::of(&[0x1f, 0x8b, 8]), Some(Compression::Gzip));
        assert_eq!(
            Compression::of(&[0x28, 0xb5, 0x2f, 0xfd, 0]),
            Some(Compression::Zstd)
        );
        assert_eq!(
            Compression::of(&[0xfd, 0x37, 0x7a, 0x58, 0x5a, 0]),
            Some(Compression::Xz)
        );
        assert_eq!(Compression::of(&[0xfd, 0x37, 0x7a, 0x58, 0x5a]), None);
        assert_eq!(Compression::of(&[0xd4, 0xc3, 0xb2, 0xa1]), None);
        assert_eq!(Compression::of(&[0x1f]), None);
    }

    #[test]
    fn sniffed_bytes_are_handed_out_again() {
        assert_eq!(all(&b"abc"[..]).unwrap(), b"abc");
        assert_eq!(all(&b"0123456789"[..]).unwrap(), b"0123456789");
    }

    #[test]
    fn gzip_members_and_zstd_frames_read_whole() {
        let mut two = gzip(b"first ");
        two.extend(gzip(b"second"));
        assert_eq!(all(&two[..]).unwrap(), b"first second");
        let mut z = zstd::stream::encode_all(&b"one "[..], 3).unwrap();
        z.extend(zstd::stream::encode_all(&b"two"[..], 3).unwrap());
        assert_eq!(all(&z[..]).unwrap(), b"one two");
    }

    #[test]
    fn a_cut_stream_is_corrupt_not_a_read_error() {
        let data: Vec<u8> = (0..100_000u32).flat_map(|i| i.to_le_bytes()).collect();
        let mut x = Vec::new();
        liblzma::read::XzEncoder::new(&data[..], 1)
            .read_to_end(&mut x)
            .unwrap();
        let z = zstd::stream::encode_all(&data[..], 3).unwrap();
        for (name, c) in [("gzip", gzip(&data)), ("zstd", z), ("xz", x)] {
            let cut = &c[..c.len() / 2];
            let e = all(cut).unwrap_err();
            let corrupt = Corrupt::of(&e).unwrap_or_else(|| panic!("{name}: {e:?}"));
            assert_eq!(corrupt.codec.name(), name);
            assert_eq!(corrupt.compressed_read, cut.len() as u64, "{name}");
        }
    }

    #[test]
    fn a_source_error_stays_a_read_error() {
        /// A gzip stream whose source fails after `ok` bytes.
        struct Failing {
            data: Vec<u8>,
            at: usize,
            ok: usize,
        }
        impl Read for Failing {
            fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
                if self.at >= self.ok {
                    return Err(io::Error::new(io::ErrorKind::PermissionDenied, "no"));
                }
                let k = out.len().min(self.ok - self.at);
                out[..k].copy_from_slice(&self.data[self.at..self.at + k]);
                self.at += k;
                Ok(k)
            }
        }
        let data: Vec<u8> = (0..10_000u32).flat_map(|i| i.to_le_bytes()).collect();
        let data = gzip(&data);
        let e = all(Failing {
            ok: data.len() / 2,
            data,
            at: 0,
        })
        .unwrap_err();
        assert!(Corrupt::of(&e).is_none(), "{e:?}");
        assert_eq!(
            (e.kind(), e.to_string().as_str()),
            (io::ErrorKind::PermissionDenied, "no")
        );
    }
}
