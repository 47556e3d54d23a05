//! `tuntrace read FILE...`: decode capture files and report per interface.

use std::io::{IsTerminal, Write};
use std::path::Path;

use crate::cli::ReadArgs;
use crate::exit;
use crate::iface::IfaceTable;
use crate::pipeline::Pipeline;
use crate::render;
use crate::report::{build_report, SourceInfo};
use crate::sources::file::{read_file, split_plan, FileError, FileOptions, ReadSummary};
use crate::timeline::{timeline_of_files, FileInput};

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
    let mut pipeline = Pipeline::new(
        super::decode_config(&args.decode),
        super::limits(&args.decode),
    );
    let mut sources = Vec::new();
    let mut code = exit::OK;
    let mut any_read = false;
    let terminal = std::io::stderr().is_terminal();
    for (i, path) in args.files.iter().enumerate() {
        let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        let opts = FileOptions {
            classic_iface: args
                .iface
                .get(if args.iface.len() == 1 { 0 } else { i })
                .cloned(),
            progress: terminal && size >= PROGRESS_MIN_BYTES,
        };
        again.push(FileInput {
            path: path.clone(),
            opts: FileOptions {
                progress: false,
                ..opts.clone()
            },
        });
        let before = pipeline.table.total;
        let ifaces = &mut ifaces;
        let result = read_one(&mut pipeline, path, &opts, ifaces);
        let packets = pipeline.table.total - before;
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
    let mut report = build_report(&pipeline.table, &ifaces, &pipeline.shadowed, sources);
    let (cfg, limits) = (&pipeline.cfg, pipeline.table.limits());
    let (timeline, cut) = timeline_of_files(&report, &again, &mut ifaces, cfg, limits, nodes);
    if cut {
        super::error("the timeline is cut short: too many tunnels over time to hold");
    }
    report.timeline = timeline;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let written =
        render::render(&report, args.format, args.decode.top, &mut out).and_then(|_| out.flush());
    if let Err(e) = written {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            super::error(format!("writing the report: {e}"));
            return exit::USAGE;
        }
    }
    code
}

/// Reads one file into `pipeline`, on both cores: a large classic pcap file
/// in two halves (each thread reads, decodes and counts its part), anything
/// else with one thread reading and decoding while the other counts.
pub(crate) fn read_one(
    pipeline: &mut Pipeline,
    path: &Path,
    opts: &FileOptions,
    ifaces: &mut IfaceTable,
) -> Result<ReadSummary, FileError> {
    if let Some(plan) = split_plan(path, opts) {
        let iface = ifaces.intern(plan.label());
        return pipeline.run_halves(
            |one, two| {
                let out = plan.read(opts, iface, |f| one.feed(f), |f| two.feed(f));
                (out.result, out.second_used)
            },
            |one| plan.read_second_again(iface, |f| one.feed(f)),
        );
    }
    pipeline.run_split(|emitter| read_file(path, opts, ifaces, |frame| emitter.emit(frame)))
}

/// `3=ens33` → (3, "ens33").
fn parse_ifname(spec: &str) -> Option<(u32, &str)> {
    let (n, name) = spec.split_once('=')?;
    let n = n.trim().parse().ok()?;
    (!name.is_empty()).then_some((n, name))
}
