//! Output files (`--write`, `--svg`, `--events`) opened before anything else
//! starts, so a path that cannot be written fails first (exit 2), before a
//! port is bound or a NIC opened. A file is not emptied until capture
//! starts, and one this run created is removed again when capture never
//! starts (a bad filter, a missing NIC): nothing is left half-made.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

/// An output file held open but not yet used.
pub struct Reserved {
    path: PathBuf,
    file: Option<File>,
    /// This run created it (so it goes again if capture never starts).
    created: bool,
}

impl Reserved {
    /// Opens `path` for writing without changing it; `flag` names the option
    /// in the error.
    pub fn open(path: &Path, flag: &str) -> Result<Reserved, String> {
        let say = |e: io::Error| format!("{flag} {}: cannot write there: {e}", path.display());
        let (file, created) = match OpenOptions::new().write(true).create_new(true).open(path) {
            Ok(f) => (f, true),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => (
                OpenOptions::new().write(true).open(path).map_err(say)?,
                false,
            ),
            Err(e) => return Err(say(e)),
        };
        Ok(Reserved {
            path: path.to_path_buf(),
            file: Some(file),
            created,
        })
    }

    /// Capture starts: the file, emptied when `truncate` (a regular file
    /// only; a FIFO or device is left as it is).
    pub fn take(mut self, truncate: bool) -> io::Result<File> {
        let file = self.file.take().expect("taken once");
        if truncate && file.metadata()?.is_file() {
            file.set_len(0)?;
        }
        Ok(file)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Reserved {
    fn drop(&mut self) {
        if self.file.take().is_some() && self.created {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}
