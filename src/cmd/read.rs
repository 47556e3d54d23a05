//! `tuntrace read FILE...`: decode capture files and report per interface.

use std::io::{IsTerminal, Write};
use std::sync::Arc;

use crate::cli::ReadArgs;
use crate::exit;
use crate::flows::FlowTable;
use crate::iface::IfaceTable;
use crate::os::pcap::Bpf;
use crate::pipeline::{default_threads, read_threads};
use crate::render;
use crate::report::{build_report, SourceInfo};
use crate::sources::file::{is_stdin, FileError, FileOptions, FrameFilter, Progress};

use super::progress::FileProgress;
use crate::timeline::{may_have_moves, timeline_of_files, FileInput};

/// Files larger than this show progress on a terminal.
const PROGRESS_MIN_BYTES: u64 = 64 << 20;

pub fn run(args: &ReadArgs) -> u8 {
    let mut ifaces = IfaceTable::new();
    for spec in &args.ifname {
        match parse_ifname(spec) {
            Some((index, name)) => ifaces.set_ifindex_name(index, name),
            None => {
                super::error(format!(
                    "--ifname {spec:?}: expected N=NAME with N a numeric ifindex (e.g. 3=ens33)"
                ));
                return exit::USAGE;
            }
        }
    }
    if args.iface.len() > 1 && args.iface.len() != args.files.len() {
        super::error(format!(
            "--iface given {} times for {} files: give it once (for every file) or once per file",
            args.iface.len(),
            args.files.len()
        ));
        return exit::USAGE;
    }
    if args.files.iter().filter(|f| is_stdin(f)).count() > 1 {
        super::error("`-` (standard input) given more than once: it can be read only once");
        return exit::USAGE;
    }
    let filter = args
        .filter
        .as_deref()
        .map(|e| Arc::new(Bpf::new(e)) as Arc<dyn FrameFilter>);
    let names = match crate::k8s::K8sNames::read(&args.k8s) {
        Ok(n) => n,
        Err(e) => {
            super::error(e);
            return exit::USAGE;
        }
    };
    let nodes = match &args.nodes {
        Some(p) => match crate::audit::read_nodes(p) {
            Ok(n) => n,
            Err(e) => {
                super::error(format!("--nodes: {e}"));
                return exit::USAGE;
            }
        },
        None => Default::default(),
    };
    let mut again = Vec::new();
    let cfg = super::decode_config(&args.decode);
    let mut table = FlowTable::new(super::limits(&args.decode));
    let mut sources = Vec::new();
    let mut code = exit::OK;
    let mut any_read = false;
    let terminal = std::io::stderr().is_terminal();
    let threads = args.threads.map_or_else(default_threads, usize::from);
    for (i, path) in args.files.iter().enumerate() {
        let size = match is_stdin(path) {
            true => 0,
            false => std::fs::metadata(path).map(|m| m.len()).unwrap_or(0),
        };
        let progress = (terminal && size >= PROGRESS_MIN_BYTES)
            .then(|| FileProgress::new(path.display().to_string(), size));
        let opts = FileOptions {
            classic_iface: args
                .iface
                .get(if args.iface.len() == 1 { 0 } else { i })
                .cloned(),
            progress: progress.as_ref().map(|p| p as &dyn Progress),
            filter: filter.clone(),
        };
        // Standard input cannot be read twice: the timeline leaves it out.
        if !is_stdin(path) {
            again.push(FileInput {
                path: path.clone(),
                opts: FileOptions {
                    classic_iface: opts.classic_iface.clone(),
                    progress: None,
                    filter: filter.clone(),
                },
            });
        }
        let before = table.total;
        let result = read_threads(&mut table, path, &opts, &cfg, &mut ifaces, threads);
        if let Some(p) = &progress {
            p.finish();
        }
        let packets = table.total - before;
        let mut info = SourceInfo {
            name: path.display().to_string(),
            packets,
            error: None,
            damaged_at: None,
            oversize_records: None,
        };
        match result {
            Ok(summary) => {
                any_read = true;
                info.oversize_records = (summary.oversize > 0).then_some(summary.oversize);
            }
            Err(e @ FileError::Filter { .. }) => {
                // No report: it would count a different set of packets.
                super::error(&e);
                return e.exit_code();
            }
            Err(e) => {
                super::error(&e);
                if let FileError::Damaged { offset, .. } = &e {
                    any_read = true;
                    info.damaged_at = Some(*offset);
                }
                info.error = Some(e.to_string());
                code = code.max(e.exit_code());
            }
        }
        sources.push(info);
    }
    if !any_read {
        return code;
    }
    // Both take milliseconds on a busy capture: side by side.
    let (mut report, moves) = std::thread::scope(|s| {
        let check = s.spawn(|| may_have_moves(&table, &nodes));
        let report = build_report(&table, &ifaces, sources);
        let moves = check
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p));
        (report, moves)
    });
    if moves {
        let (timeline, cut) = timeline_of_files(&again, &mut ifaces, &cfg, table.limits(), nodes);
        if cut {
            super::error("the timeline is cut short: too many tunnels over time to hold");
        }
        report.timeline = timeline;
    }
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let written = render::render_named(&report, args.format, args.decode.top, &names, &mut out)
        .and_then(|_| out.flush());
    if let Err(e) = written {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            super::error(format!("writing the report: {e}"));
            return exit::USAGE;
        }
    }
    code
}

/// `3=ens33` → (3, "ens33").
fn parse_ifname(spec: &str) -> Option<(u32, &str)> {
    let (n, name) = spec.split_once('=')?;
    let n = n.trim().parse().ok()?;
    (!name.is_empty()).then_some((n, name))
}
