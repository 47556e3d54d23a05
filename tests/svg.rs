//! The picture (`--format svg`): the bundled case-1 captures of both nodes
//! merged and drawn; valid XML, the NIC and arrow labels as real text, no
//! two label boxes overlapping, and a headless Chromium render that is not
//! blank. Also a 50-node map laid out without overlaps.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::{run, TempDir};
use tuntrace::audit::read_nodes;
use tuntrace::cluster::{self, Directory, Merged, NodeInfo, Options, OuterPair, Pair};
use tuntrace::k8s::K8sNames;
use tuntrace::render::svg::{layout, Layout};
use tuntrace::report::IfaceCount;

fn nodes_file() -> PathBuf {
    format!(
        "{}/tests/data-k8s/lab-nodes.txt",
        env!("CARGO_MANIFEST_DIR")
    )
    .into()
}

/// `read` of case 1 on both nodes, as JSON files in `dir`.
fn case1_reports(dir: &TempDir) -> Vec<PathBuf> {
    ["vms71", "vms72"]
        .iter()
        .map(|n| {
            let cap = format!(
                "{}/captures/case1-interface-{n}.pcapng",
                env!("CARGO_MANIFEST_DIR")
            );
            let out = run(&["read", &cap, "--format", "json"]);
            assert!(out.status.success());
            let p = dir.path(&format!("{n}.json"));
            std::fs::write(&p, out.stdout).unwrap();
            p
        })
        .collect()
}

/// The same map through the library, for its layout.
fn case1_map(files: &[PathBuf]) -> Merged {
    let mut dir = Directory::new(
        Some(read_nodes(&nodes_file()).unwrap()),
        K8sNames::default(),
    );
    let loaded = files.iter().map(|f| cluster::load(f).unwrap()).collect();
    let reports = cluster::name_reports(loaded, &[], &mut dir).unwrap();
    cluster::merge(&reports, &dir, &Options::default())
}

fn assert_no_overlaps(l: &Layout) {
    for (i, a) in l.nodes.iter().enumerate() {
        for b in &l.nodes[i + 1..] {
            assert!(
                !a.rect.overlaps(&b.rect),
                "nodes overlap: {} and {}",
                a.name,
                b.name
            );
        }
    }
    for (i, a) in l.labels.iter().enumerate() {
        for b in &l.labels[i + 1..] {
            assert!(
                !a.rect.overlaps(&b.rect),
                "labels overlap: {:?} and {:?}",
                a,
                b
            );
        }
    }
}

/// Every text node of the document, in order; panics unless it is XML.
fn texts(svg: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(svg).expect("the SVG is well-formed XML");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    doc.descendants()
        .filter(|n| n.has_tag_name("text"))
        .map(|n| n.text().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn case1_merge_svg_has_the_nics_the_arrow_and_no_overlaps() {
    let dir = TempDir::new("svg-case1");
    let files = case1_reports(&dir);
    let nodes = nodes_file();
    let out = run(&[
        "merge",
        files[0].to_str().unwrap(),
        files[1].to_str().unwrap(),
        "--nodes",
        nodes.to_str().unwrap(),
        "--format",
        "svg",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let svg = String::from_utf8(out.stdout).unwrap();
    let t = texts(&svg);
    for want in [
        "vms71",
        "vms72",
        "ens33",
        "ens32",
        "eth0",
        "eth1",
        "IPIP 10 pkts",
    ] {
        assert!(t.iter().any(|x| x == want), "no text {want:?} in {t:?}");
    }
    assert_eq!(t.iter().filter(|x| *x == "IPIP 10 pkts").count(), 2);
    assert!(
        !svg.contains("<script") && !svg.contains("href"),
        "self-contained"
    );

    let l = layout(&case1_map(&files));
    assert_no_overlaps(&l);
    assert_eq!(l.arrows.len(), 2);
    // vms71 → vms72 starts at vms71's ens33 port and ends at vms72's eth0 port.
    let port = |node: &str, nic: &str| {
        let b = l.nodes.iter().find(|b| b.name == node).unwrap();
        let r = b.ports.iter().find(|(n, _)| n == nic).unwrap().1;
        (r.x + r.w / 2.0, r.y + r.h / 2.0)
    };
    let (ens33, eth0) = (port("vms71", "ens33"), port("vms72", "eth0"));
    let fwd = l.arrows.iter().find(|a| a.to.0 > a.from.0).unwrap();
    assert!(
        (fwd.from.0 - ens33.0).abs() < 1.0 && (fwd.from.1 - ens33.1).abs() < 6.0,
        "{fwd:?} vs {ens33:?}"
    );
    assert!(
        (fwd.to.0 - eth0.0).abs() < 1.0 && (fwd.to.1 - eth0.1).abs() < 6.0,
        "{fwd:?} vs {eth0:?}"
    );

    chromium_check(&dir, &svg);
}

/// Renders the SVG in headless Chromium and checks the PNG shows the
/// drawing: more than one colour, and the underlay's arrow colour.
fn chromium_check(dir: &TempDir, svg: &str) {
    let Some(chromium) = find_chromium() else {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("chromium is not installed (.ci/deps installs it)");
        }
        eprintln!("SKIPPED chromium render: no chromium on PATH (CI installs it via .ci/deps)");
        return;
    };
    let svg_path = dir.path("case1.svg");
    std::fs::write(&svg_path, svg).unwrap();
    let png_path = dir.path("case1.png");
    let profile = dir.path("profile");
    let mut child = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--screenshot={}", png_path.display()))
        .arg("--window-size=1200,800")
        .arg(format!("file://{}", svg_path.display()))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run chromium");
    // A browser that hangs fails the test instead of stalling the run.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("chromium did not finish within 120 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        png_path.exists(),
        "no screenshot: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(&png_path).unwrap(),
    ));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let px = info.color_type.samples();
    let pixels: Vec<&[u8]> = buf[..info.buffer_size()]
        .chunks(px)
        .map(|c| &c[..3])
        .collect();
    let mut colours: Vec<&[u8]> = pixels.clone();
    colours.sort();
    colours.dedup();
    assert!(colours.len() > 1, "the screenshot is blank");
    // The 192.168.30.0/24 arrows' colour (#1f77b4) is drawn, thick.
    let blue = pixels
        .iter()
        .filter(|p| p[0].abs_diff(0x1f) < 8 && p[1].abs_diff(0x77) < 8 && p[2].abs_diff(0xb4) < 8)
        .count();
    assert!(blue > 1000, "{blue} arrow-coloured pixels");
}

fn find_chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser"].into_iter().find(|c| {
        Command::new(c)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

#[test]
fn fifty_nodes_stay_legible() {
    let names: Vec<String> = (0..50).map(|i| format!("node-{i:02}")).collect();
    let nodes = names
        .iter()
        .enumerate()
        .map(|(i, n)| NodeInfo {
            name: n.clone(),
            file: format!("{n}.json"),
            addresses: vec![format!("10.0.{}.{}", i / 200, i % 200 + 1).parse().unwrap()],
            interfaces: vec!["ens32".into(), "ens33".into()],
        })
        .collect::<Vec<_>>();
    let mut pairs = Vec::new();
    for i in 0..50 {
        for step in [1, 7] {
            let j = (i + step) % 50;
            let (a, b) = (nodes[i].addresses[0], nodes[j].addresses[0]);
            pairs.push(Pair {
                from: names[i].clone(),
                to: names[j].clone(),
                encap: vec![tuntrace::decode::Encap::Ipip],
                outer: vec![OuterPair {
                    src: a,
                    dst: b,
                    sent: 100 * i as u64,
                    received: 100 * i as u64,
                }],
                left_on: vec![IfaceCount {
                    interface: "ens33".into(),
                    packets: 100 * i as u64,
                }],
                arrived_on: vec![IfaceCount {
                    interface: "ens32".into(),
                    packets: 100 * i as u64,
                }],
                sent: Some(100 * i as u64),
                received: Some(100 * i as u64),
                inner: Vec::new(),
                inner_other: 0,
            });
        }
    }
    let m = Merged {
        nodes,
        pairs,
        findings: Vec::new(),
    };
    let l = layout(&m);
    assert_no_overlaps(&l);
    assert_eq!(l.nodes.len(), 50);
    assert_eq!(
        l.arrows.len(),
        100,
        "one arrow per direction, not per pod pair"
    );
    let mut out = Vec::new();
    tuntrace::render::svg::write(&l, &mut out).unwrap();
    let t = texts(std::str::from_utf8(&out).unwrap());
    assert!(t.iter().any(|x| x == "node-49"));
    // Most arrows keep their label on the picture.
    let arrow_labels = t.iter().filter(|x| x.starts_with("IPIP ")).count();
    assert!(
        arrow_labels >= 60,
        "{arrow_labels} of 100 arrow labels placed"
    );
}

#[test]
fn read_svg_of_one_node_draws_its_nics_and_its_peer() {
    let cap = format!(
        "{}/captures/case1-interface-vms71.pcapng",
        env!("CARGO_MANIFEST_DIR")
    );
    let k8s = format!("{}/tests/data-k8s/nodes.yaml", env!("CARGO_MANIFEST_DIR"));
    let out = run(&["read", &cap, "--format", "svg", "--k8s", &k8s]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let t = texts(&String::from_utf8(out.stdout).unwrap());
    for want in [
        "vms71",
        "ens33",
        "ens32",
        "vms72",
        "not in the input",
        "IPIP 10 pkts",
    ] {
        assert!(t.iter().any(|x| x == want), "no text {want:?} in {t:?}");
    }
    // vms72's side is not an input: only vms71's NICs are ports.
    assert!(!t.iter().any(|x| x == "eth0"), "{t:?}");
}
