//! Helpers shared by the integration tests: run the binary, parse its JSON.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// Every capture the repository bundles (`captures/` and
/// `captures/timeline/`), sorted.
pub fn bundled_captures() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
    let mut files: Vec<PathBuf> = ["", "timeline"]
        .iter()
        .flat_map(|d| std::fs::read_dir(root.join(d)).expect("captures/"))
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcap" || e == "pcapng"))
        .collect();
    files.sort();
    assert!(files.len() >= 11, "{files:?}");
    files
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_tuntrace")
}

/// Runs `tuntrace ARGS...` and returns its output.
pub fn run(args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .output()
        .expect("run the tuntrace binary")
}

/// Runs `tuntrace read FILES... --format json EXTRA...`; asserts the exit code.
pub fn read_json(files: &[&Path], extra: &[&str], expect_code: i32) -> Value {
    let mut cmd = Command::new(bin());
    cmd.arg("read")
        .args(files)
        .args(["--format", "json"])
        .args(extra);
    let out = cmd.output().expect("run tuntrace read");
    assert_eq!(
        out.status.code(),
        Some(expect_code),
        "exit code; stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// The link object named `iface`.
pub fn link<'a>(report: &'a Value, iface: &str) -> &'a Value {
    report["links"]
        .as_array()
        .expect("links array")
        .iter()
        .find(|l| l["interface"] == iface)
        .unwrap_or_else(|| panic!("no link {iface} in {report:#}"))
}

/// The tunnel row on `link` with this encap and outer pair.
pub fn tunnel<'a>(link: &'a Value, encap: &str, src: &str, dst: &str) -> &'a Value {
    link["tunnels"]
        .as_array()
        .expect("tunnels array")
        .iter()
        .find(|t| t["encap"] == encap && t["outer_src"] == src && t["outer_dst"] == dst)
        .unwrap_or_else(|| panic!("no {encap} {src} -> {dst} tunnel in {link:#}"))
}

/// Packets of the inner pair `src → dst` in `tunnel`, 0 when absent.
pub fn inner_packets(tunnel: &Value, src: &str, dst: &str) -> u64 {
    tunnel["inner"]
        .as_array()
        .expect("inner array")
        .iter()
        .find(|p| p["src"] == src && p["dst"] == dst)
        .map(|p| p["packets"].as_u64().expect("packets"))
        .unwrap_or(0)
}

pub fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a u64: {v}"))
}

/// A fresh temporary directory for one test, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "tuntrace-test-{}-{}-{tag}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
