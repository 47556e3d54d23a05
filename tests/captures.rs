//! Pins what `tuntrace read` reports for the bundled lab captures
//! (captures/README.md): the rows, the README's JSON contract, the read
//! table and the live view drawn from them. Needs no root.

use std::process::Command;

use serde_json::Value;
use tuntrace::render::live_view::{self, LiveView};
use tuntrace::report::Report;

const POD1: &str = "10.244.118.193";
const POD2: &str = "10.244.5.194";

/// (file stem, underlay third octet) of the seed's five autodetection cases.
const CASES: [(&str, u8); 5] = [
    ("case1-interface", 30),
    ("case2-interface", 26),
    ("case3-skip-interface", 30),
    ("case4-can-reach", 30),
    ("case5-cidr", 26),
];

/// `tuntrace read captures/FILE --format FORMAT`'s stdout; asserts success.
fn run_read(file: &str, format: &str) -> Vec<u8> {
    let path = format!("{}/captures/{file}", env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(env!("CARGO_BIN_EXE_tuntrace"))
        .args(["read", &path, "--format", format])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{file}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The report of a bundled capture, read back through the model.
fn read(file: &str) -> Report {
    serde_json::from_slice(&run_read(file, "json")).unwrap()
}

/// (interface, encap, outer src, outer dst, packets, [(inner src, inner dst, packets)])
type Row = (
    String,
    String,
    String,
    String,
    u64,
    Vec<(String, String, u64)>,
);

fn rows(j: &Report) -> Vec<Row> {
    let mut v = Vec::new();
    for l in &j.links {
        for t in &l.tunnels {
            let inner = t
                .inner
                .iter()
                .map(|p| (p.src.to_string(), p.dst.to_string(), p.packets))
                .collect();
            v.push((
                l.interface.clone(),
                t.encap.as_str().into(),
                t.outer_src.to_string(),
                t.outer_dst.to_string(),
                t.packets,
                inner,
            ));
        }
    }
    v.sort();
    v
}

fn want(iface: &str, net: u8) -> Vec<Row> {
    let (a, b) = (format!("192.168.{net}.71"), format!("192.168.{net}.72"));
    let mut v: Vec<Row> = vec![
        (
            iface.into(),
            "ipip".into(),
            a.clone(),
            b.clone(),
            10,
            vec![(POD1.into(), POD2.into(), 10)],
        ),
        (
            iface.into(),
            "ipip".into(),
            b,
            a,
            10,
            vec![(POD2.into(), POD1.into(), 10)],
        ),
    ];
    v.sort();
    v
}

#[test]
fn bundled_captures_show_the_tunnel_on_the_expected_nics() {
    for (stem, net) in CASES {
        for (node, nics) in [("vms71", ["ens32", "ens33"]), ("vms72", ["eth1", "eth0"])] {
            let j = read(&format!("{stem}-{node}.pcapng"));
            let on = if net == 26 { nics[0] } else { nics[1] };
            assert_eq!(rows(&j), want(on, net), "{stem}-{node}");
            let links: Vec<&str> = j.links.iter().map(|l| l.interface.as_str()).collect();
            assert_eq!(links, nics, "{stem}-{node}: both NICs are in the file");
            assert_eq!(j.packets.total, 20, "{stem}-{node}");
            assert_eq!(j.multi_interface, vec![]);
        }
    }
}

/// The README's contract (section "`--format json`"): key path → JSON type.
/// `[]` steps into every element of an array, which must not be empty here.
const CONTRACT: [(&str, &str); 22] = [
    ("packets", "object"),
    ("packets.total", "u64"),
    ("packets.tunnelled", "u64"),
    ("packets.undecodable", "u64"),
    ("links", "array"),
    ("links[].interface", "string"),
    ("links[].packets", "u64"),
    ("links[].bytes", "u64"),
    ("links[].tunnels", "array"),
    ("links[].tunnels[].encap", "encap"),
    ("links[].tunnels[].outer_src", "ip"),
    ("links[].tunnels[].outer_dst", "ip"),
    ("links[].tunnels[].vni", "u64|null"),
    ("links[].tunnels[].packets", "u64"),
    ("links[].tunnels[].bytes", "u64"),
    ("links[].tunnels[].fragments", "u64"),
    ("links[].tunnels[].first_seen", "rfc3339"),
    ("links[].tunnels[].last_seen", "rfc3339"),
    ("links[].tunnels[].inner[].src", "ip"),
    ("links[].tunnels[].inner[].dst", "ip"),
    ("links[].tunnels[].inner[].packets", "u64"),
    ("links[].tunnels[].inner[].bytes", "u64"),
];

/// Every value at `path` (dots between keys, `[]` for each array element).
fn values_at<'a>(v: &'a Value, path: &str) -> Vec<&'a Value> {
    let mut at = vec![v];
    for step in path.split('.') {
        let (key, each) = match step.strip_suffix("[]") {
            Some(k) => (k, true),
            None => (step, false),
        };
        let mut next = Vec::new();
        for x in at {
            let child = x
                .get(key)
                .unwrap_or_else(|| panic!("{path}: no key {key:?} in {x}"));
            if each {
                let items = child
                    .as_array()
                    .unwrap_or_else(|| panic!("{path}: {key} is no array"));
                next.extend(items);
            } else {
                next.push(child);
            }
        }
        at = next;
    }
    at
}

fn has_type(v: &Value, ty: &str) -> bool {
    let text = v.as_str();
    match ty {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "u64" => v.is_u64(),
        "u64|null" => v.is_u64() || v.is_null(),
        "string" => text.is_some(),
        "ip" => text.is_some_and(|s| s.parse::<std::net::IpAddr>().is_ok()),
        "encap" => text.is_some_and(|s| {
            [
                "ipip", "ip6in4", "ip4in6", "ip6in6", "gre", "vxlan", "geneve",
            ]
            .contains(&s)
        }),
        // 2026-11-25T13:46:36.374519582Z
        "rfc3339" => text.is_some_and(|s| {
            s.len() == 30
                && s.ends_with('Z')
                && s.as_bytes()[10] == b'T'
                && s.as_bytes()[19] == b'.'
        }),
        _ => panic!("unknown type {ty}"),
    }
}

#[test]
fn json_keeps_the_readme_contract_and_reads_back_unchanged() {
    let text = run_read("case1-interface-vms71.pcapng", "json");
    let json: Value = serde_json::from_slice(&text).unwrap();
    for (path, ty) in CONTRACT {
        let found = values_at(&json, path);
        assert!(!found.is_empty(), "{path}: nothing there to check");
        for v in found {
            assert!(has_type(v, ty), "{path}: {v} is not {ty}");
        }
    }
    // The values of the contract: a regression here breaks scripts.
    let t = &json["links"][1]["tunnels"][0];
    assert_eq!(json["links"][1]["interface"], "ens33");
    assert_eq!(
        (&t["encap"], &t["outer_src"], &t["outer_dst"], &t["vni"]),
        (
            &Value::from("ipip"),
            &Value::from("192.168.30.71"),
            &Value::from("192.168.30.72"),
            &Value::Null
        )
    );
    assert_eq!(t["inner"][0]["src"], "10.244.118.193");

    // JSON → Report → JSON gives the same bytes, for every bundled capture.
    for (stem, _) in CASES {
        for node in ["vms71", "vms72"] {
            let file = format!("{stem}-{node}.pcapng");
            let text = run_read(&file, "json");
            let report: Report = serde_json::from_slice(&text).unwrap();
            let mut again = Vec::new();
            tuntrace::render::json::render(&report, true, &mut again).unwrap();
            assert_eq!(
                String::from_utf8(again).unwrap(),
                String::from_utf8(text).unwrap(),
                "{file}"
            );
        }
    }
}

#[test]
fn read_table_pins_its_header_and_a_row() {
    let text = String::from_utf8(run_read("case1-interface-vms71.pcapng", "table")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "20 packets: 20 tunnelled, 0 undecodable");
    assert_eq!(lines[2], "ens32: 0 packets, 0 B, 0 tunnelled");
    let head = lines
        .iter()
        .position(|l| l.trim_start().starts_with("ENCAP"))
        .unwrap_or_else(|| panic!("no tunnel header in\n{text}"));
    assert_eq!(lines[head - 1], "ens33: 20 packets, 2.4 KB, 20 tunnelled");
    assert_eq!(
        lines[head],
        "  ENCAP  OUTER SRC     → OUTER DST      VNI/KEY  PACKETS  BYTES  FRAGS"
    );
    assert_eq!(
        lines[head + 1],
        "  IPIP   192.168.30.71 → 192.168.30.72  -             10   1180      0"
    );
    assert_eq!(
        lines[head + 2],
        "      2026-11-25T13:46:36.374519582Z … 2026-11-25T13:46:36.604497150Z"
    );
    assert_eq!(
        lines[head + 3],
        "      inner 10.244.118.193 → 10.244.5.194  10 pkts, 1.2 KB"
    );
}

#[test]
fn live_view_pins_its_header_and_a_row() {
    // The live view draws from reports; these come from decoding case 1.
    let report = read("case1-interface-vms71.pcapng");
    let lines = live_view::lines(&report, &report, 2.0, 1);
    let mut out = Vec::new();
    LiveView::new().draw(65, &lines, 200, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    let drawn: Vec<&str> = text.lines().collect();
    assert_eq!(
        drawn,
        [
            "tuntrace live 01:05  (Ctrl-C stops and prints the report)",
            "  ens32        0 pkt/s          0 pkts   0 tunnels",
            "  ens33       10 pkt/s         20 pkts   2 tunnels  10.244.5.194>10.244.118.193 10",
        ]
    );
}
