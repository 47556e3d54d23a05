//! `tuntrace audit`: capture (live or files), then check the tunnels against
//! the expectations. Exit 0 when clean, 4 with findings.

use crate::flows::{FlowTable, Limits};
use std::io::Write;
use std::path::PathBuf;

use crate::audit::{audit, read_nodes, Audited, Expect, Finding, MethodPick};
use crate::cli::{AuditArgs, OutFormat};
use crate::exit;
use crate::iface::IfaceTable;
use crate::os::{Host, Platform};
use crate::pipeline::read_into;
use crate::report::{build_report, Report, SourceInfo};
use crate::sources::file::{FileError, FileOptions};

use super::autodetect::load_host;

pub(crate) mod live;

pub fn run(args: &AuditArgs) -> u8 {
    run_on(&Host, args, &mut std::io::stdout())
}

/// `audit` on `platform` (the host, or fake NICs), the answer written to `out`.
pub fn run_on(platform: &dyn Platform, args: &AuditArgs, out: &mut dyn Write) -> u8 {
    let mut expect = match expectations(args) {
        Ok(e) => e,
        Err(e) => {
            super::error(e);
            return exit::USAGE;
        }
    };
    let (report, code) = if args.files.is_empty() {
        match live::capture(platform, args, &mut expect) {
            Ok(r) => (r, exit::OK),
            Err(code) => return code,
        }
    } else {
        match read_files(&args.files, &args.iface, args) {
            Ok(x) => x,
            Err(code) => return code,
        }
    };
    let mut findings = audit(&report, &expect);
    findings.retain(|f| !args.ignore.iter().any(|k| k == f.kind.as_str()));
    let clean = findings.is_empty();
    let written = match args.format {
        OutFormat::Json => serde_json::to_writer_pretty(
            &mut *out,
            &Audited {
                findings,
                expect,
                report,
            },
        )
        .map_err(std::io::Error::from)
        .and_then(|_| writeln!(out)),
        OutFormat::Table => table(&findings, &report, out),
    };
    if let Err(e) = written {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            super::error(format!("writing the findings: {e}"));
            return exit::USAGE;
        }
    }
    if clean {
        code
    } else {
        exit::FINDINGS
    }
}

/// Resolves the flags into checks: evaluates `--expect-method`, reads `--nodes`.
fn expectations(a: &AuditArgs) -> Result<Expect, String> {
    let mut e = Expect::new();
    e.ifaces = a
        .expect_iface
        .iter()
        .filter(|s| !s.is_empty())
        .cloned()
        .collect();
    e.cidrs = a.expect_cidr.iter().map(|c| c.trunc()).collect();
    e.pod_cidrs = a.pod_cidr.iter().map(|c| c.trunc()).collect();
    if let Some(m) = a.mtu {
        e.mtu = m;
    }
    e.mtu_margin = a.mtu_margin;
    if let Some(path) = &a.nodes {
        e.nodes = Some(read_nodes(path)?);
    }
    if !a.k8s.is_empty() {
        let names = crate::k8s::K8sNames::read(&a.k8s)?;
        let nodes = e.nodes.get_or_insert_with(Default::default);
        for (ip, name) in names.node_addrs() {
            nodes.add(name, ip);
        }
    }
    if let Some(method) = &a.expect_method {
        let src = load_host(&a.host)?;
        let pick = src
            .evaluate(method)
            .map_err(|e| format!("--expect-method: {e}"))?
            .map_err(|f| {
                format!(
                    "--expect-method {method:?} picks nothing on {}: {f} (calico-node would keep an old address or exit)",
                    src.origin
                )
            })?;
        let local_addrs = src
            .host
            .ifaces
            .iter()
            .flat_map(|i| i.addrs.iter().map(|n| n.addr()))
            .collect();
        eprintln!(
            "tuntrace: {method} picks {} {} on {}",
            pick.interface, pick.address, src.origin
        );
        e.method = Some(MethodPick {
            method: method.clone(),
            interface: pick.interface,
            address: pick.address,
            local_addrs,
            local_ifaces: src.host.ifaces.iter().map(|i| i.name.clone()).collect(),
        });
    }
    Ok(e)
}

/// The read path of `tuntrace read`, into a report. `Err` is the exit code.
fn read_files(files: &[PathBuf], labels: &[String], a: &AuditArgs) -> Result<(Report, u8), u8> {
    if labels.len() > 1 && labels.len() != files.len() {
        super::error(format!(
            "--iface given {} times for {} files: give it once (for every file) or once per file",
            labels.len(),
            files.len()
        ));
        return Err(exit::USAGE);
    }
    let mut ifaces = IfaceTable::new();
    let cfg = super::decode_config(&a.decode);
    let mut flows = FlowTable::new(Limits {
        track_plain: true,
        ..super::limits(&a.decode)
    });
    let mut sources = Vec::new();
    let mut code = exit::OK;
    for (i, path) in files.iter().enumerate() {
        let opts = FileOptions {
            classic_iface: labels.get(if labels.len() == 1 { 0 } else { i }).cloned(),
            filter: None,
            progress: None,
        };
        let before = flows.total;
        let result = read_into(&mut flows, path, &opts, &cfg, &mut ifaces);
        let mut info = SourceInfo {
            name: path.display().to_string(),
            packets: flows.total - before,
            error: None,
            damaged_at: None,
            oversize_records: None,
        };
        if let Ok(summary) = &result {
            info.oversize_records = (summary.oversize > 0).then_some(summary.oversize);
        }
        if let Err(e) = result {
            super::error(&e);
            match &e {
                // Audit what came before the damage.
                FileError::Damaged { offset, .. } => info.damaged_at = Some(*offset),
                _ => return Err(e.exit_code()),
            }
            info.error = Some(e.to_string());
            code = code.max(e.exit_code());
        }
        sources.push(info);
    }
    Ok((build_report(&flows, &ifaces, sources), code))
}

fn table(findings: &[Finding], report: &Report, out: &mut dyn Write) -> std::io::Result<()> {
    let tunnels: usize = report.links.iter().map(|l| l.tunnels.len()).sum();
    if findings.is_empty() {
        return writeln!(
            out,
            "clean: {} packets, {} tunnel rows on {} interfaces, no findings",
            report.packets.total,
            tunnels,
            report.links.len()
        );
    }
    writeln!(
        out,
        "{} findings ({} packets, {} tunnel rows):",
        findings.len(),
        report.packets.total,
        tunnels
    )?;
    for f in findings {
        let pair = match (f.outer_src, f.outer_dst) {
            (Some(s), Some(d)) => format!("{s} → {d}"),
            _ => String::new(),
        };
        writeln!(
            out,
            "\n{:<7} {:<26} {:<14} {pair}  {} packets{}",
            f.severity.as_str(),
            f.kind.as_str(),
            f.interfaces(),
            f.packets,
            f.first_seen
                .as_ref()
                .map(|t| format!(", first {t}"))
                .unwrap_or_default()
        )?;
        writeln!(out, "        {}", f.detail)?;
    }
    Ok(())
}
