//! One node's report as a path map (for `read --format svg`): the same
//! pairs `merge` gives, with the node's own side only.

use std::path::Path;

use super::input::{common, name_reports, Loaded};
use super::{merge, Directory, Merged, Options};
use crate::report::Report;

/// The map of one report. When the names cannot tell which tunnel end is
/// this node (two nodes talking only to each other, no `--k8s`), the lowest
/// address found at every tunnel's end is taken as this node's and the
/// returned note says so.
pub fn single(report: &Report, mut dir: Directory) -> (Merged, Option<String>) {
    let file = report
        .sources
        .first()
        .map(|s| s.name.clone())
        .unwrap_or_else(|| "report".into());
    let loaded = Loaded {
        file: file.clone().into(),
        node: None,
        report: report.clone(),
    };
    let mut note = None;
    let reports = match name_reports(vec![loaded.clone()], &[], &mut dir) {
        Ok(r) => r,
        Err(_) => {
            let name = Path::new(&file)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "this node".into());
            if let Some(first) = common(report).into_iter().next() {
                if dir.node(first).is_none() {
                    dir.learn(first, &name);
                }
                note = Some(format!(
                    "which address is this node's cannot be told from {file} alone: {first} taken (give --k8s with the node list to be sure)"
                ));
            }
            vec![super::NodeReport {
                name,
                file,
                report: report.clone(),
            }]
        }
    };
    (merge(&reports, &dir, &Options::default()), note)
}
