//! `tuntrace read` on all 60 files of `../shared/captures-realworld`, each
//! compared with its MANIFEST row: frame count, and per encapsulation the
//! tunnel packets, outer pairs, VNIs/keys, inner pairs, packets without an
//! inner pair and outer fragments (tshark's view in tuntrace's definitions),
//! plus the hand-checked frames of `known-tshark-errors.json`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::common::{read_json, u};
use crate::realworld;

/// One encapsulation's totals in a file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Encap {
    packets: u64,
    outer_pairs: usize,
    /// VNIs / keys as the MANIFEST writes them (`None` for rows without).
    vnis: BTreeSet<String>,
    inner_pairs: usize,
    no_inner: u64,
    fragments: u64,
}

/// One MANIFEST row.
#[derive(Debug)]
struct Row {
    number: u32,
    file: String,
    packets: u64,
    tunnels: BTreeMap<String, Encap>,
}

/// Rows whose expectation changed since the MANIFEST was written, with why.
/// Checked like the others, against these values instead.
fn corrected(row: &Row) -> Option<BTreeMap<String, Encap>> {
    match row.file.as_str() {
        // Row 45 says "none": tuntrace did not read PPPoE then (issue 11).
        // tshark's chains (`eth:pppoes:ppp:ip:ipv6:data` ×5) and tcpdump
        // show 6in4 70.55.213.211 <-> 192.88.99.1 carrying one TCP flow.
        "mercury-ip_encapsulation.pcap" => Some(BTreeMap::from([(
            "ip6in4".to_string(),
            Encap {
                packets: 5,
                outer_pairs: 2,
                vnis: BTreeSet::from(["None".to_string()]),
                inner_pairs: 2,
                no_inner: 0,
                fragments: 0,
            },
        )])),
        _ => None,
    }
}

/// `vxlan ×12 (1 outer pair, vni ['1'], 2 inner pairs, no_inner 2, 1 outer fragments)`.
fn parse_encap(s: &str) -> (String, Encap) {
    fn fail<T>(s: &str) -> T {
        panic!("MANIFEST: cannot read tunnel summary {s:?}")
    }
    let (name, rest) = s.split_once(" ×").unwrap_or_else(|| fail(s));
    let (packets, rest) = rest.split_once(" (").unwrap_or_else(|| fail(s));
    let rest = rest.strip_suffix(')').unwrap_or_else(|| fail(s));
    let (before_vni, after_vni) = rest.split_once(", vni ").unwrap_or_else(|| fail(s));
    let outer_pairs = before_vni.split(' ').next().unwrap_or_else(|| fail(s));
    let (vni_list, tail) = if let Some(r) = after_vni.strip_prefix('-') {
        ("", r)
    } else {
        let end = after_vni.find(']').unwrap_or_else(|| fail(s));
        (&after_vni[1..end], &after_vni[end + 1..])
    };
    let mut vnis: BTreeSet<String> = vni_list
        .split(", ")
        .filter(|v| !v.is_empty())
        .map(|v| v.trim_matches('\'').to_string())
        .collect();
    if vnis.is_empty() {
        vnis.insert("None".into());
    }
    let mut e = Encap {
        packets: packets.parse().unwrap_or_else(|_| fail(s)),
        outer_pairs: outer_pairs.parse().unwrap_or_else(|_| fail(s)),
        vnis,
        ..Encap::default()
    };
    for part in tail.split(", ").filter(|p| !p.is_empty()) {
        let words: Vec<&str> = part.split(' ').collect();
        match words.as_slice() {
            [n, "inner", "pair" | "pairs"] => e.inner_pairs = n.parse().unwrap_or_else(|_| fail(s)),
            ["no_inner", n] => e.no_inner = n.parse().unwrap_or_else(|_| fail(s)),
            [n, "outer", "fragments"] => e.fragments = n.parse().unwrap_or_else(|_| fail(s)),
            _ => fail(s),
        }
    }
    (name.to_string(), e)
}

fn manifest() -> Vec<Row> {
    let path = realworld("MANIFEST.md");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter(|l| {
            l.strip_prefix("| ")
                .is_some_and(|r| r.starts_with(|c: char| c.is_ascii_digit()))
        })
        .map(|l| {
            let cols: Vec<&str> = l
                .trim()
                .trim_matches('|')
                .split(" | ")
                .map(str::trim)
                .collect();
            assert_eq!(cols.len(), 11, "MANIFEST row: {l}");
            let tunnels = match cols[8] {
                "none" => BTreeMap::new(),
                list => list.split("; ").map(parse_encap).collect(),
            };
            Row {
                number: cols[0].parse().expect("row number"),
                file: cols[1].to_string(),
                packets: cols[7].parse().expect("pkts"),
                tunnels,
            }
        })
        .collect()
}

/// The report's tunnel rows summed per encapsulation, as the MANIFEST counts.
fn summarise(report: &Value) -> BTreeMap<String, Encap> {
    type Acc = (
        Encap,
        BTreeSet<(String, String)>,
        BTreeSet<(String, String)>,
    );
    let mut acc: BTreeMap<String, Acc> = BTreeMap::new();
    for link in report["links"].as_array().expect("links") {
        for t in link["tunnels"].as_array().expect("tunnels") {
            let encap = t["encap"].as_str().expect("encap").to_string();
            let (e, outer, inner) = acc.entry(encap).or_default();
            e.packets += u(&t["packets"]);
            e.no_inner += u(&t["no_inner"]);
            e.fragments += u(&t["fragments"]);
            e.vnis.insert(match &t["vni"] {
                Value::Null => "None".into(),
                v => v.to_string(),
            });
            outer.insert((t["outer_src"].to_string(), t["outer_dst"].to_string()));
            for p in t["inner"].as_array().expect("inner") {
                inner.insert((p["src"].to_string(), p["dst"].to_string()));
            }
        }
    }
    acc.into_iter()
        .map(|(k, (mut e, outer, inner))| {
            e.outer_pairs = outer.len();
            e.inner_pairs = inner.len();
            (k, e)
        })
        .collect()
}

/// The MANIFEST's order, grouped for the summary line.
fn group(number: u32) -> &'static str {
    match number {
        1..=8 => "vxlan",
        9..=16 => "geneve",
        17..=37 => "gre/erspan",
        38..=46 => "ip-in-ip",
        _ => "mixed/damaged/no-tunnel",
    }
}

#[test]
#[ignore = "needs ../shared/captures-realworld"]
fn every_file_agrees_with_the_manifest() {
    let rows = manifest();
    assert_eq!(rows.len(), 60, "MANIFEST rows");
    let mut failures = Vec::new();
    let mut groups: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for row in &rows {
        let report = read_json(&[&realworld(&row.file)], &[], 0);
        let want = corrected(row).unwrap_or_else(|| row.tunnels.clone());
        let got = summarise(&report);
        let total = u(&report["packets"]["total"]);
        let ok = got == want && total == row.packets;
        if !ok {
            failures.push(format!(
                "#{} {}: {total} of {} packets\n  want {want:?}\n  got  {got:?}",
                row.number, row.file, row.packets
            ));
        }
        let g = groups.entry(group(row.number)).or_default();
        g.0 += usize::from(ok);
        g.1 += 1;
    }
    for (g, (ok, n)) in &groups {
        eprintln!("realworld {g}: {ok}/{n}");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
#[ignore = "needs ../shared/captures-realworld"]
fn hand_checked_frames_of_known_tshark_errors() {
    let path = realworld("known-tshark-errors.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let known: Value = serde_json::from_str(&text).expect("known-tshark-errors.json");
    let files = known.as_object().expect("an object of files");
    assert_eq!(files.len(), 4);
    for (file, entry) in files {
        let report = read_json(&[&realworld(file)], &[], 0);
        let frames = entry["frames"].as_object().expect("frames");
        // Each of these files has one frame: it is the one tunnel row.
        assert_eq!(frames.len(), 1, "{file}");
        assert_eq!(u(&report["packets"]["total"]), 1, "{file}");
        let want = &frames["1"];
        let rows: Vec<&Value> = report["links"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|l| l["tunnels"].as_array().unwrap())
            .collect();
        assert_eq!(rows.len(), 1, "{file}");
        let t = rows[0];
        assert_eq!(
            (&t["encap"], &t["outer_src"], &t["outer_dst"], &t["vni"]),
            (&want["encap"], &want["src"], &want["dst"], &want["vni"]),
            "{file}"
        );
        let inner = t["inner"].as_array().unwrap();
        assert_eq!(inner.len(), 1, "{file}");
        assert_eq!(
            [&inner[0]["src"], &inner[0]["dst"]],
            [&want["inner"][0], &want["inner"][1]],
            "{file}"
        );
        assert_eq!(u(&t["fragments"]) > 0, want["frag"] == true, "{file}");
    }
}
