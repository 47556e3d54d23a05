//! Tests over other projects' public captures, read from `../shared` beside
//! the checkout (never copied into this repository). Every test is
//! `#[ignore]`d with the folder it needs, and fails loudly, naming the path,
//! when a file is missing. Run them with
//! `cargo test --release --test shared_captures -- --ignored --test-threads=2`
//! (`.ci/run` does).
//!
//! - [`reader`]: the file reader on `captures-public` (frames, lengths, names);
//! - [`decode`]: the decoder on every frame of `captures-public`;
//! - [`public`]: `tuntrace read` on `captures-public`, through its JSON;
//! - [`realworld`]: `captures-realworld`, file by file against its MANIFEST;
//! - [`issue11`]: the "real captures read right" cases of issue 11.

#[path = "../common/mod.rs"]
mod common;

mod decode;
mod issue11;
mod public;
mod reader;
mod realworld;

use std::path::{Path, PathBuf};

/// `../shared/DIR/NAME`, which must exist: a missing file is a failure that
/// names the path, never a silent pass.
pub fn shared(dir: &str, name: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared")
        .join(dir)
        .join(name);
    assert!(
        p.exists(),
        "{} is missing: these tests need the shared captures beside the checkout",
        p.display()
    );
    p
}

/// A file of `../shared/captures-public`.
pub fn public(name: &str) -> PathBuf {
    shared("captures-public", name)
}

/// A file of `../shared/captures-realworld`.
pub fn realworld(name: &str) -> PathBuf {
    shared("captures-realworld", name)
}
