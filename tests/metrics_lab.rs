//! The node daemon under a real Prometheus, in the namespace lab: both nodes
//! run `tuntrace live --metrics`, Debian's `prometheus` (installed by
//! `.ci/deps`, started here inside vms71 with a generated config, a 1 s
//! scrape interval and a temporary TSDB) scrapes them and adds `node`, and
//! the test asks Prometheus's HTTP API which NIC each node's tunnel uses for
//! pod pings (IPIP through Calico's tunl0 routes). Then both nodes' tunl0
//! routes move to the other underlay, as a changed IP_AUTODETECTION_METHOD
//! moves Calico's `via` addresses, and the rate has to follow to the other
//! NIC within a few scrapes. Needs root (skipped with a reason otherwise; a
//! failure under CI=true).

mod lab;

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use lab::{can_run, Lab, Mode, Underlay, POD2};
use serde_json::Value;

const PORT: u16 = 9420;
const PROM: &str = "127.0.0.1:9090";

/// Prometheus inside `ns`, ended (by pid) when dropped; its TSDB removed.
struct Prometheus {
    child: Child,
    dir: std::path::PathBuf,
}

impl Prometheus {
    fn start(lab: &Lab) -> Prometheus {
        let bin = "/usr/bin/prometheus";
        assert!(
            std::path::Path::new(bin).exists(),
            "{bin} is missing: `bash .ci/deps` installs Debian's prometheus package"
        );
        let dir = std::env::temp_dir().join(format!("{}-prometheus", lab.prefix));
        std::fs::create_dir_all(&dir).unwrap();
        let config = format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\n  evaluation_interval: 1s\n\
             scrape_configs:\n  - job_name: tuntrace\n    static_configs:\n\
             \x20     - targets: ['127.0.0.1:{PORT}']\n        labels: {{node: vms71}}\n\
             \x20     - targets: ['192.168.26.72:{PORT}']\n        labels: {{node: vms72}}\n"
        );
        let conf = dir.join("prometheus.yml");
        std::fs::write(&conf, config).unwrap();
        let child = Command::new("ip")
            .args(["netns", "exec", &lab.ns("vms71"), bin])
            .arg(format!("--config.file={}", conf.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address={PROM}"))
            .arg("--log.level=warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start prometheus");
        Prometheus { child, dir }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// GET `path` on Prometheus from inside vms71 (python3's urllib; curl is
/// not guaranteed). `None` while it does not answer.
fn prom_get(lab: &Lab, path_and_query: &str) -> Option<String> {
    let url = format!("http://{PROM}{path_and_query}");
    let out = Command::new("ip")
        .args(["netns", "exec", &lab.ns("vms71"), "python3", "-c"])
        .arg("import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())")
        .arg(&url)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// An instant query's result: the labels named in `by` → value.
fn query(lab: &Lab, promql: &str, by: &[&str]) -> BTreeMap<Vec<String>, f64> {
    let mut q = String::new();
    for b in promql.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => q.push(b as char),
            _ => q.push_str(&format!("%{b:02X}")),
        }
    }
    let Some(body) = prom_get(lab, &format!("/api/v1/query?query={q}")) else {
        return BTreeMap::new();
    };
    let v: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert_eq!(v["status"], "success", "{body}");
    v["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let key = by
                .iter()
                .map(|l| r["metric"][l].as_str().unwrap_or("").to_string())
                .collect();
            let val = r["value"][1].as_str().unwrap().parse().unwrap();
            (key, val)
        })
        .collect()
}

fn key(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|s| s.to_string()).collect()
}

/// Polls `promql` until `ok` holds; returns the result and the time taken.
fn until(
    lab: &Lab,
    promql: &str,
    by: &[&str],
    limit: Duration,
    ok: impl Fn(&BTreeMap<Vec<String>, f64>) -> bool,
) -> (BTreeMap<Vec<String>, f64>, Duration) {
    let start = Instant::now();
    let mut last = BTreeMap::new();
    while start.elapsed() < limit {
        last = query(lab, promql, by);
        if ok(&last) {
            return (last, start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    panic!("{promql}: not as expected within {limit:?}; last result: {last:?}");
}

/// `n` pings pod1 → pod2, 50 ms apart; the exit status is not judged (the
/// test judges what Prometheus saw).
fn pings(lab: &Lab, n: u32) {
    let _ = Command::new("ip")
        .args(["netns", "exec", &lab.ns("pod1"), "ping", "-q", "-c"])
        .arg(n.to_string())
        .args(["-i", "0.05", "-W", "1", POD2])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Calico's tunnel routes on both nodes, now via the peer on `underlay`.
fn route_via(lab: &Lab, underlay: Underlay) {
    for (node, block, peer) in [
        ("vms71", "10.244.5.192/26", 72),
        ("vms72", "10.244.118.192/26", 71),
    ] {
        let via = underlay.node_ip(peer);
        lab.ip(
            node,
            &[
                "route", "replace", block, "via", &via, "dev", "tunl0", "proto", "bird", "onlink",
            ],
        );
    }
}

#[test]
fn prometheus_sees_each_nodes_tunnel_nic_and_the_move() {
    if !can_run("prometheus_sees_each_nodes_tunnel_nic_and_the_move") {
        return;
    }
    let lab = Lab::new(Underlay::Net30, Mode::Ipip);
    let listen = format!("0.0.0.0:{PORT}");
    let args = ["live", "--metrics", listen.as_str(), "--interval", "200ms"];
    let events = std::env::temp_dir().join(format!("{}-events.jsonl", lab.prefix));
    let mut with_events = args.to_vec();
    with_events.extend(["--events", events.to_str().unwrap()]);
    let t71 = lab.tuntrace("vms71", &with_events);
    let t72 = lab.tuntrace("vms72", &args);
    let _prom = Prometheus::start(&lab);
    let up = "sum by (node) (up{job=\"tuntrace\"})";
    until(&lab, up, &["node"], Duration::from_secs(30), |r| {
        r.get(&key(&["vms71"])) == Some(&1.0) && r.get(&key(&["vms72"])) == Some(&1.0)
    });

    // Underlay 30: the tunnel is on ens33 (vms71) and eth0 (vms72), both ways.
    pings(&lab, 20);
    let by = ["node", "device", "direction"];
    let sum = "sum by (node, device, direction) (tuntrace_tunnel_packets_total{encap=\"ipip\"})";
    let want: BTreeMap<Vec<String>, f64> = [
        (key(&["vms71", "ens33", "egress"]), 20.0),
        (key(&["vms71", "ens33", "ingress"]), 20.0),
        (key(&["vms72", "eth0", "egress"]), 20.0),
        (key(&["vms72", "eth0", "ingress"]), 20.0),
    ]
    .into();
    until(&lab, sum, &by, Duration::from_secs(20), |r| *r == want);

    // Pods keep pinging while both nodes' routes move to underlay 26: the
    // rate must leave ens33 / eth0 for ens32 / eth1 within a few scrapes.
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            let end = Instant::now() + Duration::from_secs(60);
            while !stop.load(Ordering::Relaxed) && Instant::now() < end {
                pings(&lab, 10);
            }
        });
        let rate =
            "sum by (node, device) (rate(tuntrace_tunnel_packets_total{encap=\"ipip\"}[3s]))";
        let by = ["node", "device"];
        let on = |r: &BTreeMap<Vec<String>, f64>, n: &str, d: &str| {
            r.get(&key(&[n, d])).copied().unwrap_or(0.0)
        };
        until(&lab, rate, &by, Duration::from_secs(20), |r| {
            on(r, "vms71", "ens33") > 0.0 && on(r, "vms72", "eth0") > 0.0
        });
        route_via(&lab, Underlay::Net26);
        let (r, took) = until(&lab, rate, &by, Duration::from_secs(30), |r| {
            on(r, "vms71", "ens32") > 0.0
                && on(r, "vms72", "eth1") > 0.0
                && on(r, "vms71", "ens33") == 0.0
                && on(r, "vms72", "eth0") == 0.0
        });
        stop.store(true, Ordering::Relaxed);
        eprintln!("rate moved from ens33/eth0 to ens32/eth1 in {took:?}: {r:?}");
        // 3 s of rate window, half a second for the encapsulator to reread
        // the routes, and a few 1 s scrapes.
        assert!(took < Duration::from_secs(10), "took {took:?}");
    });
    let after = query(&lab, sum, &by);
    for (node, device, dir) in [
        ("vms71", "ens32", "egress"),
        ("vms71", "ens32", "ingress"),
        ("vms72", "eth1", "egress"),
        ("vms72", "eth1", "ingress"),
    ] {
        let n = after
            .get(&key(&[node, device, dir]))
            .copied()
            .unwrap_or(0.0);
        assert!(n >= 5.0, "{node} {device} {dir}: {after:?}");
    }
    assert!(
        after[&key(&["vms71", "ens33", "egress"])] > 20.0,
        "{after:?}"
    );
    let (r71, r72) = (t71.stop(), t72.stop());
    // vms71's event log: the tunnel first seen on ens33, the new one (the
    // peers' underlay-26 addresses) on ens32.
    let log = std::fs::read_to_string(&events).unwrap();
    let _ = std::fs::remove_file(&events);
    let first_on = |src: &str, dst: &str| -> Vec<String> {
        log.lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .find(|e| e["event"] == "path-change" && e["outer_src"] == src && e["outer_dst"] == dst)
            .map(|e| serde_json::from_value(e["to"].clone()).unwrap())
            .unwrap_or_else(|| panic!("no path-change for {src} -> {dst} in\n{log}"))
    };
    assert_eq!(first_on("192.168.30.71", "192.168.30.72"), ["ens33"]);
    assert_eq!(first_on("192.168.26.71", "192.168.26.72"), ["ens32"]);
    assert_eq!(r71.code, Some(0), "{}", r71.stderr);
    assert_eq!(r72.code, Some(0), "{}", r72.stderr);
}

/// Scrapes `url` from inside `node` every 100 ms for `secs`: (scrapes,
/// median ms, max ms, bytes of the last).
fn scrape_loop(lab: &Lab, node: &str, url: &str, secs: f64) -> std::thread::JoinHandle<String> {
    let ns = lab.ns(node);
    let url = url.to_string();
    std::thread::spawn(move || {
        let script = "import sys, time, urllib.request\n\
            url, dur = sys.argv[1], float(sys.argv[2]); ts = []; size = 0\n\
            end = time.time() + dur\n\
            while time.time() < end:\n\
            \x20   t = time.perf_counter(); b = urllib.request.urlopen(url).read()\n\
            \x20   ts.append(time.perf_counter() - t); size = len(b); time.sleep(0.1)\n\
            ts.sort(); print(len(ts), round(ts[len(ts) // 2] * 1000, 2), round(ts[-1] * 1000, 2), size)\n";
        let out = Command::new("ip")
            .args(["netns", "exec", &ns, "python3", "-c", script, &url])
            .arg(secs.to_string())
            .output()
            .expect("scraper");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    })
}

/// The value of the first sample line starting with `prefix`.
fn sample(text: &str, prefix: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {prefix} in\n{text}"))
}

fn rss_kib(pid: i32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// The "Performance and memory" figures (a benchmark, not a timed
/// test): the top raw-IPIP rate with a scrape every 100 ms (kernel drops,
/// scrape times), then `--metrics-pairs` under 100,000 distinct inner pairs
/// churning for TUNTRACE_CHURN_SECS (default 120; the 600 with the
/// variable) — peak RSS, the pair series against their bound, the time of a
/// full scrape. Run: `cargo test --release --test metrics_lab -- --ignored --nocapture`.
#[test]
#[ignore = "benchmark: minutes of flooding; run by hand with --ignored --nocapture"]
fn bench_scrapes_and_pair_churn() {
    if !can_run("bench_scrapes_and_pair_churn") {
        return;
    }
    let secs: f64 = std::env::var("TUNTRACE_CHURN_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(120.0);
    let lab = Lab::new(Underlay::Net30, Mode::RawOnly);
    let listen = format!("0.0.0.0:{PORT}");
    let t = lab.tuntrace(
        "vms71",
        &[
            "live",
            "--metrics",
            listen.as_str(),
            "--metrics-pairs",
            "-i",
            "ens33",
        ],
    );
    let url = format!("http://127.0.0.1:{PORT}/metrics");
    let churn = lab::script("ipip_churn.py");

    // Top rate, one pair, scraped every 100 ms.
    let scraper = scrape_loop(&lab, "vms71", &url, 11.0);
    let sent = lab.exec("vms71", &["python3", &churn, "192.168.30.72", "10", "1"]);
    let scrapes = scraper.join().unwrap();
    std::thread::sleep(Duration::from_millis(2500));
    let m = prom_free_get(&lab, &url);
    let received = sample(&m, "tuntrace_capture_packets_total{device=\"ens33\"}");
    let dropped = sample(
        &m,
        "tuntrace_capture_dropped_total{device=\"ens33\",reason=\"kernel\"}",
    );
    eprintln!(
        "top rate: {} -> received {received}, kernel drops {dropped}; scrapes every 100 ms \
         (count, median ms, max ms, bytes): {scrapes}",
        String::from_utf8_lossy(&sent.stdout).trim()
    );

    // 100,000 pairs churning.
    let pid = t.pid();
    let start_rss = rss_kib(pid);
    let stop = AtomicBool::new(false);
    let peak = std::thread::scope(|s| {
        let sampler = s.spawn(|| {
            let mut peak = 0;
            while !stop.load(Ordering::Relaxed) {
                peak = peak.max(rss_kib(pid));
                std::thread::sleep(Duration::from_millis(500));
            }
            peak
        });
        let sent = lab.exec(
            "vms71",
            &[
                "python3",
                &churn,
                "192.168.30.72",
                &secs.to_string(),
                "100000",
            ],
        );
        eprintln!("churn: {}", String::from_utf8_lossy(&sent.stdout).trim());
        std::thread::sleep(Duration::from_millis(2500));
        stop.store(true, Ordering::Relaxed);
        sampler.join().unwrap()
    });
    let full = scrape_loop(&lab, "vms71", &url, 3.0).join().unwrap();
    let m = prom_free_get(&lab, &url);
    let pairs = sample(&m, "tuntrace_series{family=\"pair\"}");
    let overflow = sample(&m, "tuntrace_pairs_overflow_total");
    eprintln!(
        "churn: RSS {start_rss} KiB before, peak {peak} KiB; pair series {pairs} \
         (bound 2000 + \"other\"), overflow {overflow}; full scrapes (count, median ms, max ms, \
         bytes): {full}"
    );
    assert!(pairs <= 2001.0, "pair series over the bound: {pairs}");
    assert!(peak < 64 * 1024, "peak RSS {peak} KiB");
    let r = t.stop();
    assert_eq!(r.code, Some(0), "{}", r.stderr);
}

/// GET `url` from inside vms71 (python3's urllib).
fn prom_free_get(lab: &Lab, url: &str) -> String {
    let out = lab.exec(
        "vms71",
        &[
            "python3",
            "-c",
            "import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1]).read().decode())",
            url,
        ],
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// GET `url` from inside `node` (python3's urllib): the body.
fn get_in(lab: &Lab, node: &str, url: &str) -> String {
    let out = Command::new("ip")
        .args(["netns", "exec", &lab.ns(node), "python3", "-c"])
        .arg("import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())")
        .arg(url)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{url} in {node}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Both nodes' daemons, vms72 answering over the other underlay: `merge` of
/// their `/report` output names the NIC each direction left and arrived on
/// and flags the asymmetry.
#[test]
fn merge_of_both_daemons_reports_flags_an_asymmetric_setup() {
    if !can_run("merge_of_both_daemons_reports_flags_an_asymmetric_setup") {
        return;
    }
    let lab = Lab::new(Underlay::Net30, Mode::Ipip);
    // vms71 → vms72 over underlay 30, vms72 → vms71 over 26.
    lab.move_tunnel_route("vms72", "192.168.26.71");
    let listen = format!("0.0.0.0:{PORT}");
    let daemon = |node: &str| {
        let args = [
            "live",
            "--metrics",
            listen.as_str(),
            "--interval",
            "200ms",
            "--node",
            node,
        ];
        lab.tuntrace(node, &args)
    };
    let (t71, t72) = (daemon("vms71"), daemon("vms72"));
    pings(&lab, 6);
    // A couple of intervals for /report to hold every ping.
    std::thread::sleep(Duration::from_millis(800));
    let dir = std::env::temp_dir().join(format!("{}-merge", lab.prefix));
    std::fs::create_dir_all(&dir).unwrap();
    let mut files = Vec::new();
    for node in ["vms71", "vms72"] {
        let body = get_in(&lab, node, &format!("http://127.0.0.1:{PORT}/report"));
        let v: Value = serde_json::from_str(&body).expect("/report is JSON");
        assert_eq!(v["node"], node);
        let f = dir.join(format!("{node}.json"));
        std::fs::write(&f, body).unwrap();
        files.push(f);
    }
    let (r71, r72) = (t71.stop(), t72.stop());
    assert_eq!(
        (r71.code, r72.code),
        (Some(0), Some(0)),
        "{}\n{}",
        r71.stderr,
        r72.stderr
    );
    let nodes = format!(
        "{}/tests/data-k8s/lab-nodes.txt",
        env!("CARGO_MANIFEST_DIR")
    );
    let out = Command::new(lab::tuntrace_bin())
        .arg("merge")
        .args(&files)
        .args(["--nodes", &nodes, "--format", "json"])
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let m: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(out.status.code(), Some(4), "{m}");
    let side = |from: &str, to: &str, key: &str| -> Vec<String> {
        let p = m["pairs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["from"] == from && p["to"] == to)
            .unwrap_or_else(|| panic!("no pair {from} → {to}: {m}"));
        p[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["interface"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(side("vms71", "vms72", "left_on"), ["ens33"]);
    assert_eq!(side("vms71", "vms72", "arrived_on"), ["eth0"]);
    assert_eq!(side("vms72", "vms71", "left_on"), ["eth1"]);
    assert_eq!(side("vms72", "vms71", "arrived_on"), ["ens32"]);
    let kinds: Vec<&str> = m["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["kind"].as_str())
        .collect();
    assert!(kinds.contains(&"asymmetric"), "{m}");
}
