//! Pins what `tuntrace read` reports for the bundled lab captures
//! (captures/README.md). Needs no root.

use std::process::Command;

use serde_json::Value;

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

fn read(file: &str) -> Value {
    let path = format!("{}/captures/{file}", env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(env!("CARGO_BIN_EXE_tuntrace"))
        .args(["read", &path, "--format", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{file}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
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

fn rows(j: &Value) -> Vec<Row> {
    let mut v = Vec::new();
    for l in j["links"].as_array().unwrap() {
        for t in l["tunnels"].as_array().unwrap() {
            let inner = t["inner"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| {
                    (
                        p["src"].as_str().unwrap().into(),
                        p["dst"].as_str().unwrap().into(),
                        p["packets"].as_u64().unwrap(),
                    )
                })
                .collect();
            v.push((
                l["interface"].as_str().unwrap().into(),
                t["encap"].as_str().unwrap().into(),
                t["outer_src"].as_str().unwrap().into(),
                t["outer_dst"].as_str().unwrap().into(),
                t["packets"].as_u64().unwrap(),
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
            let links: Vec<&str> = j["links"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l["interface"].as_str().unwrap())
                .collect();
            assert_eq!(links, nics, "{stem}-{node}: both NICs are in the file");
            assert_eq!(j["packets"]["total"], 20, "{stem}-{node}");
            assert_eq!(j["multi_interface"], Value::Array(vec![]));
        }
    }
}
