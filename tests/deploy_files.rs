//! deploy/: every file parses, and the DaemonSet, monitoring objects, alerts,
//! dashboard and Containerfile hold what the README promises (security
//! context, probes, port name, tolerations, node relabelling, the metric
//! names the exporter really exposes). The alert expressions run under
//! Debian's `promtool` (installed with `prometheus` by `.ci/deps`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value as Json;
use serde_yaml::Value as Yaml;
use tuntrace::metrics::{Exporter, Settings};

fn deploy() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("deploy")
}

fn read(name: &str) -> String {
    let p = deploy().join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Every document of a YAML file.
fn yaml_docs(name: &str) -> Vec<Yaml> {
    let text = read(name);
    serde_yaml::Deserializer::from_str(&text)
        .map(|d| serde::Deserialize::deserialize(d).unwrap_or_else(|e| panic!("{name}: {e}")))
        .collect()
}

fn yaml(name: &str) -> Yaml {
    let mut docs = yaml_docs(name);
    assert_eq!(docs.len(), 1, "{name}: one document");
    docs.remove(0)
}

/// `v` at a path of keys and indexes, as JSON (easier to compare).
fn at(v: &Yaml, path: &str) -> Json {
    let mut cur = serde_json::to_value(v).unwrap();
    for part in path.split('.') {
        cur = match part.parse::<usize>() {
            Ok(i) => cur[i].clone(),
            Err(_) => cur[part].clone(),
        };
    }
    cur
}

#[test]
fn every_file_parses_and_none_is_unchecked() {
    let mut names: Vec<String> = std::fs::read_dir(deploy())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "Containerfile",
            "daemonset.yaml",
            "grafana-dashboard.json",
            "kustomization.yaml",
            "namespace.yaml",
            "podmonitor.yaml",
            "prometheusrule.yaml",
            "scrape-config.yaml",
        ]
    );
    for n in &names {
        if n.ends_with(".yaml") {
            assert!(!yaml_docs(n).is_empty(), "{n} is empty");
        } else if n.ends_with(".json") {
            serde_json::from_str::<Json>(&read(n)).unwrap_or_else(|e| panic!("{n}: {e}"));
        }
    }
    let k = yaml("kustomization.yaml");
    for r in at(&k, "resources").as_array().unwrap() {
        assert!(deploy().join(r.as_str().unwrap()).exists(), "{r}");
    }
}

#[test]
fn daemonset_is_least_privilege_on_every_node() {
    let ds = yaml("daemonset.yaml");
    assert_eq!(at(&ds, "kind"), "DaemonSet");
    assert_eq!(
        at(&ds, "metadata.namespace"),
        at(&yaml("namespace.yaml"), "metadata.name")
    );
    let spec = "spec.template.spec";
    assert_eq!(at(&ds, &format!("{spec}.hostNetwork")), true);
    assert_eq!(
        at(&ds, &format!("{spec}.automountServiceAccountToken")),
        false
    );
    assert_eq!(
        at(&ds, &format!("{spec}.tolerations")),
        serde_json::json!([{"operator": "Exists"}])
    );
    let prio = at(&ds, &format!("{spec}.priorityClassName"));
    assert!(
        prio == "system-node-critical" || prio == "system-cluster-critical",
        "{prio}"
    );
    assert_eq!(
        at(&ds, &format!("{spec}.nodeSelector")),
        serde_json::json!({"kubernetes.io/os": "linux"})
    );
    assert_eq!(
        at(&ds, "spec.updateStrategy.rollingUpdate.maxUnavailable"),
        "10%"
    );
    let c = at(&ds, &format!("{spec}.containers.0"));
    let sc = &c["securityContext"];
    assert_eq!(sc["privileged"], false);
    assert_eq!(sc["allowPrivilegeEscalation"], false);
    assert_eq!(sc["readOnlyRootFilesystem"], true);
    assert_eq!(sc["capabilities"]["drop"], serde_json::json!(["ALL"]));
    assert_eq!(sc["capabilities"]["add"], serde_json::json!(["NET_RAW"]));
    // The daemon flags parse as tuntrace's own CLI does.
    let mut argv = vec!["tuntrace".to_string()];
    argv.extend(
        c["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap().to_string()),
    );
    let cli = <tuntrace::cli::Cli as clap::Parser>::try_parse_from(&argv)
        .unwrap_or_else(|e| panic!("{argv:?}: {e}"));
    let tuntrace::cli::Command::Live(live) = cli.command else {
        panic!("not live: {argv:?}")
    };
    let listen = live.metrics.metrics_listen.expect("--metrics");
    assert!(live.duration.is_none(), "a daemon has no --duration");
    let ports = c["ports"].as_array().unwrap();
    assert_eq!(ports.len(), 1);
    assert_eq!(ports[0]["name"], "metrics");
    assert_eq!(ports[0]["containerPort"], listen.port());
    let node = c["env"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "NODE_NAME")
        .expect("NODE_NAME");
    assert_eq!(node["valueFrom"]["fieldRef"]["fieldPath"], "spec.nodeName");
    for (probe, path) in [("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")] {
        assert_eq!(c[probe]["httpGet"]["path"], path);
        assert_eq!(c[probe]["httpGet"]["port"], "metrics");
    }
    for kind in ["requests", "limits"] {
        for r in ["cpu", "memory"] {
            assert!(c["resources"][kind][r].is_string(), "resources.{kind}.{r}");
        }
    }
    let ann = at(&ds, "spec.template.metadata.annotations");
    assert_eq!(ann["prometheus.io/scrape"], "true");
    assert_eq!(ann["prometheus.io/port"], listen.port().to_string());
}

#[test]
fn both_scrape_setups_add_the_node_label() {
    let pm = yaml("podmonitor.yaml");
    assert_eq!(at(&pm, "kind"), "PodMonitor");
    let ds = yaml("daemonset.yaml");
    assert_eq!(
        at(&pm, "spec.selector.matchLabels"),
        at(&ds, "spec.selector.matchLabels")
    );
    let ep = at(&pm, "spec.podMetricsEndpoints.0");
    assert_eq!(ep["port"], "metrics");
    assert_eq!(ep["path"], "/metrics");
    let to_node = |rules: &Json, src: &str, target: &str| {
        rules.as_array().unwrap().iter().any(|r| {
            r[src] == serde_json::json!(["__meta_kubernetes_pod_node_name"]) && r[target] == "node"
        })
    };
    assert!(
        to_node(&ep["relabelings"], "sourceLabels", "targetLabel"),
        "{ep}"
    );
    let sc = yaml("scrape-config.yaml");
    let job = at(&sc, "scrape_configs.0");
    assert_eq!(job["kubernetes_sd_configs"][0]["role"], "pod");
    assert!(
        to_node(&job["relabel_configs"], "source_labels", "target_label"),
        "{job}"
    );
}

/// The names a scrape shows: `# TYPE` lines of the exporter with every
/// family on, plus the suffixes OpenMetrics samples carry.
fn exposed_names() -> BTreeSet<String> {
    let ex = Exporter::new(Settings {
        node: "n".into(),
        local: vec![],
        pairs: true,
        max_pairs: 10,
        pair_ttl: Duration::from_secs(60),
        audit: true,
        autodetect: true,
    });
    let text = ex.shared().metrics_text();
    let mut names = BTreeSet::new();
    for l in text.lines() {
        let Some(rest) = l.strip_prefix("# TYPE ") else {
            continue;
        };
        let (name, kind) = rest.split_once(' ').unwrap();
        names.insert(match kind {
            "counter" => format!("{name}_total"),
            "info" => format!("{name}_info"),
            _ => name.to_string(),
        });
    }
    names
}

/// Every `tuntrace_*` name in `text`.
fn names_used(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("tuntrace_") {
        let tail = &rest[i..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        out.insert(tail[..end].to_string());
        rest = &tail[end..];
    }
    out
}

#[test]
fn alerts_dashboard_and_readme_use_only_exposed_names() {
    let exposed = exposed_names();
    for must in [
        "tuntrace_tunnel_packets_total",
        "tuntrace_tunnel_last_seen_timestamp_seconds",
        "tuntrace_pair_packets_total",
        "tuntrace_capture_dropped_total",
        "tuntrace_audit_findings",
        "tuntrace_build_info",
    ] {
        assert!(exposed.contains(must), "{must} not in {exposed:?}");
    }
    let rules = read("prometheusrule.yaml");
    let dash = read("grafana-dashboard.json");
    let readme =
        std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("README.md"))
            .unwrap();
    let after = readme
        .split("### Metrics")
        .nth(1)
        .expect("README has a ### Metrics section");
    let metrics_section = after.split("\n### ").next().unwrap();
    let metrics_section = metrics_section.split("\n## ").next().unwrap();
    for (what, text) in [
        ("rules", &rules),
        ("dashboard", &dash),
        ("README", &metrics_section.to_string()),
    ] {
        let used = names_used(text);
        assert!(!used.is_empty(), "{what} names no metric");
        let unknown: Vec<_> = used.difference(&exposed).collect();
        assert!(
            unknown.is_empty(),
            "{what} uses names the exporter lacks: {unknown:?}"
        );
    }
    // The README lists every exposed name.
    let listed = names_used(metrics_section);
    let missing: Vec<_> = exposed.difference(&listed).collect();
    assert!(
        missing.is_empty(),
        "README's Metrics section lacks {missing:?}"
    );
}

#[test]
fn dashboard_opens_on_the_node_pair_by_device_matrix() {
    let d: Json = serde_json::from_str(&read("grafana-dashboard.json")).unwrap();
    assert!(d["uid"].is_string() && d["title"].is_string());
    let first = d["panels"]
        .as_array()
        .unwrap()
        .iter()
        .min_by_key(|p| (p["gridPos"]["y"].as_u64(), p["gridPos"]["x"].as_u64()))
        .unwrap();
    assert_eq!(first["type"], "table");
    let expr = first["targets"][0]["expr"].as_str().unwrap();
    assert!(expr.contains("tuntrace_tunnel_packets_total"), "{expr}");
    assert!(expr.contains("outer_src, outer_dst, device"), "{expr}");
    let m = &first["transformations"][0];
    assert_eq!(m["id"], "groupingToMatrix");
    assert_eq!(m["options"]["columnField"], "device");
    assert_eq!(m["options"]["rowField"], "pair");
    let vars: Vec<&str> = d["templating"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(vars, ["datasource", "node"]);
}

#[test]
fn containerfile_is_multi_stage_with_a_slim_libpcap_runtime() {
    let text = read("Containerfile");
    let froms: Vec<&str> = text.lines().filter(|l| l.starts_with("FROM ")).collect();
    assert_eq!(froms.len(), 2, "{froms:?}");
    assert!(froms[1].contains("slim"), "{}", froms[1]);
    let runtime = text.split(froms[1]).nth(1).unwrap();
    assert!(runtime.contains("libpcap0.8"), "runtime installs libpcap");
    assert!(!runtime.contains("libpcap-dev"), "no headers at runtime");
    assert!(runtime.contains("COPY --from=build"));
    assert!(runtime.contains(r#"ENTRYPOINT ["/usr/local/bin/tuntrace"]"#));
    // What the build stage copies exists (a renamed directory breaks builds).
    let build = text.split(froms[1]).next().unwrap();
    for l in build.lines().filter(|l| l.starts_with("COPY ")) {
        let words: Vec<&str> = l.split_whitespace().collect();
        for src in &words[1..words.len() - 1] {
            let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(src);
            assert!(p.exists(), "{l}: {} is missing", p.display());
        }
    }
}

/// The PrometheusRule's groups (annotations left out: promtool compares
/// them, and their wording is not under test) in a plain rules file.
fn rules_file(dir: &Path) -> PathBuf {
    let mut groups = at(&yaml("prometheusrule.yaml"), "spec.groups");
    for g in groups.as_array_mut().unwrap() {
        for r in g["rules"].as_array_mut().unwrap() {
            r.as_object_mut().unwrap().remove("annotations");
        }
    }
    let p = dir.join("rules.yml");
    let doc = serde_json::json!({ "groups": groups });
    std::fs::write(&p, serde_yaml::to_string(&doc).unwrap()).unwrap();
    p
}

fn promtool(args: &[&str]) -> String {
    let out = Command::new("promtool")
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("promtool: {e} (`bash .ci/deps` installs Debian's prometheus package)")
        });
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "promtool {args:?}:\n{text}");
    text
}

/// Three nodes: a → b leaves a on ens33 and b's replies reach a on ens32
/// (asymmetric on a); a → c arrives nowhere (one-sided); b drops packets;
/// a's audit flags ens33. Each alert fires for exactly its case.
const PROMTOOL_TEST: &str = r#"rule_files: [rules.yml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'tuntrace_tunnel_packets_total{node="a",device="ens33",direction="egress",encap="ipip",outer_src="10.0.0.1",outer_dst="10.0.0.2",vni=""}'
        values: '0+60x30'
      - series: 'tuntrace_tunnel_packets_total{node="a",device="ens32",direction="ingress",encap="ipip",outer_src="10.0.0.2",outer_dst="10.0.0.1",vni=""}'
        values: '0+60x30'
      - series: 'tuntrace_tunnel_packets_total{node="b",device="eth0",direction="ingress",encap="ipip",outer_src="10.0.0.1",outer_dst="10.0.0.2",vni=""}'
        values: '0+60x30'
      - series: 'tuntrace_tunnel_packets_total{node="b",device="eth0",direction="egress",encap="ipip",outer_src="10.0.0.2",outer_dst="10.0.0.1",vni=""}'
        values: '0+60x30'
      - series: 'tuntrace_tunnel_packets_total{node="a",device="ens33",direction="egress",encap="ipip",outer_src="10.0.0.1",outer_dst="10.0.0.3",vni=""}'
        values: '0+60x30'
      - series: 'tuntrace_capture_dropped_total{node="b",device="eth0",reason="kernel"}'
        values: '0x10 5x20'
      - series: 'tuntrace_capture_dropped_total{node="a",device="ens33",reason="kernel"}'
        values: '0x30'
      - series: 'tuntrace_audit_findings{node="a",kind="unexpected-interface",device="ens33"}'
        values: '1x30'
      - series: 'tuntrace_pairs_overflow_total{node="a"}'
        values: '0x30'
    alert_rule_test:
      - eval_time: 20m
        alertname: TuntraceAsymmetricPath
        exp_alerts:
          - exp_labels: {severity: warning, node: a, device: ens33, encap: ipip, outer_src: 10.0.0.1, outer_dst: 10.0.0.2}
      - eval_time: 20m
        alertname: TuntraceTunnelOneSided
        exp_alerts:
          - exp_labels: {severity: critical, node: a, device: ens33, encap: ipip, outer_src: 10.0.0.1, outer_dst: 10.0.0.3}
      - eval_time: 20m
        alertname: TuntraceTunnelOnUnexpectedDevice
        exp_alerts:
          - exp_labels: {severity: warning, node: a, device: ens33}
      - eval_time: 12m
        alertname: TuntraceKernelDrops
        exp_alerts:
          - exp_labels: {severity: warning, node: b, device: eth0}
      - eval_time: 20m
        alertname: TuntraceTunnelSplitAcrossDevices
        exp_alerts: []
      - eval_time: 20m
        alertname: TuntracePairSeriesAtBound
        exp_alerts: []
"#;

#[test]
fn alerts_fire_for_exactly_their_case_under_promtool() {
    let dir = std::env::temp_dir().join(format!("tuntrace-promtool-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let rules = rules_file(&dir);
    let names: BTreeSet<String> = at(&yaml("prometheusrule.yaml"), "spec.groups")
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["rules"].as_array().unwrap().clone())
        .map(|r| r["alert"].as_str().unwrap().to_string())
        .collect();
    for must in [
        "TuntraceTunnelOnUnexpectedDevice",
        "TuntraceTunnelOneSided",
        "TuntraceAsymmetricPath",
        "TuntraceKernelDrops",
    ] {
        assert!(names.contains(must), "no alert {must}");
    }
    for n in &names {
        assert!(
            PROMTOOL_TEST.contains(&format!("alertname: {n}\n")),
            "{n} untested"
        );
    }
    promtool(&["check", "rules", rules.to_str().unwrap()]);
    let test = dir.join("test.yml");
    std::fs::write(&test, PROMTOOL_TEST).unwrap();
    let out = promtool(&["test", "rules", test.to_str().unwrap()]);
    assert!(out.contains("SUCCESS"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}
