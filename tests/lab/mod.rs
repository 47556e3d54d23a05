//! The two-node Calico lab in network namespaces (see lab-recipes.md).
//!
//! ```text
//! pod1 10.244.118.193 ─ cali… vms71 ens32 192.168.26.71 ── eth1 192.168.26.72 vms72 cali… ─ pod2 10.244.5.194
//!                                   ens33 192.168.30.71 ── eth0 192.168.30.72
//! ```
//! Nothing touches the root namespace: every veth is created inside a node
//! namespace with its peer born in the other. Names carry a per-lab prefix so
//! labs run side by side. Dropping a [`Lab`] ends (by pid) every process
//! inside its namespaces, then deletes them; it runs on panic too.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc::{channel, Receiver};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const POD1: &str = "10.244.118.193";
pub const POD2: &str = "10.244.5.194";

/// Which node pair carries the tunnel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Underlay {
    /// 192.168.30.0/24: vms71 ens33 ⇄ vms72 eth0.
    Net30,
    /// 192.168.26.0/24: vms71 ens32 ⇄ vms72 eth1.
    Net26,
}

impl Underlay {
    pub fn node_ip(self, node: u8) -> String {
        match self {
            Underlay::Net30 => format!("192.168.30.{node}"),
            Underlay::Net26 => format!("192.168.26.{node}"),
        }
    }

    /// (vms71's NIC, vms72's NIC) on this underlay.
    pub fn nics(self) -> (&'static str, &'static str) {
        match self {
            Underlay::Net30 => ("ens33", "eth0"),
            Underlay::Net26 => ("ens32", "eth1"),
        }
    }
}

/// How pod traffic is encapsulated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// No tunl0: only raw-socket / injected IPIP.
    RawOnly,
    /// A TUN tunl0 with the userspace encapsulator and Calico's IPIP routes.
    Ipip,
    /// The kernel's vxlan.calico (VNI 4096, UDP 4789).
    Vxlan,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// True when lab tests can run. Without root: skip with a reason, except
/// under CI=true, where a skipped lab test is a failure.
pub fn can_run(test: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let tools = ["ip", "python3"].iter().all(|t| {
        Command::new(t)
            .arg("-V")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok()
    });
    let why = match (root, tools) {
        (true, true) => return true,
        (false, _) => "needs root (network namespaces, raw sockets)",
        (true, false) => "needs iproute2 and python3",
    };
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{test}: {why}, and CI=true does not allow skipping lab tests");
    }
    eprintln!("skipping {test}: {why}");
    false
}

/// The tuntrace binary under test.
pub fn tuntrace_bin() -> &'static str {
    env!("CARGO_BIN_EXE_tuntrace")
}

/// A lab helper script.
pub fn script(name: &str) -> String {
    let p: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests", "lab", name]
        .iter()
        .collect();
    p.display().to_string()
}

/// A lab: four namespaces, cables, pods, routes; optionally tunl0 / VXLAN.
pub struct Lab {
    pub prefix: String,
    pub underlay: Underlay,
    pub mode: Mode,
    daemons: Mutex<Vec<Child>>,
    /// (namespace, stdout) of each tunl0 encapsulator, to reload its routes.
    encaps: Mutex<Vec<(String, u32, BufReader<std::process::ChildStdout>)>>,
}

impl Lab {
    pub fn new(underlay: Underlay, mode: Mode) -> Lab {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let lab = Lab {
            prefix: format!("tt{}x{n}", std::process::id()),
            underlay,
            mode,
            daemons: Mutex::new(Vec::new()),
            encaps: Mutex::new(Vec::new()),
        };
        lab.build();
        lab
    }

    /// The namespace name of `vms71`, `vms72`, `pod1` or `pod2`.
    pub fn ns(&self, node: &str) -> String {
        format!("{}-{node}", self.prefix)
    }

    fn build(&self) {
        let (n71, n72, p1, p2) = (
            self.ns("vms71"),
            self.ns("vms72"),
            self.ns("pod1"),
            self.ns("pod2"),
        );
        for ns in [&n71, &n72, &p1, &p2] {
            run(&["ip", "netns", "add", ns]);
            self.sysctl(
                ns,
                &[
                    ("net/ipv6/conf/all/disable_ipv6", "1"),
                    ("net/ipv6/conf/default/disable_ipv6", "1"),
                ],
            );
        }
        run(&[
            "ip", "-n", &n71, "link", "add", "ens32", "type", "veth", "peer", "name", "eth1",
            "netns", &n72,
        ]);
        run(&[
            "ip", "-n", &n71, "link", "add", "ens33", "type", "veth", "peer", "name", "eth0",
            "netns", &n72,
        ]);
        let mtu = if self.mode == Mode::Vxlan {
            "1450"
        } else {
            "1480"
        };
        self.node(
            &n71,
            &p1,
            71,
            POD1,
            "10.244.118.192",
            "cali1a2b3c4d5e6",
            mtu,
        );
        self.node(&n72, &p2, 72, POD2, "10.244.5.192", "cali6e5d4c3b2a1", mtu);
        match self.mode {
            Mode::RawOnly => {}
            Mode::Ipip => {
                self.tunl0(
                    &n71,
                    "10.244.118.192",
                    "10.244.5.192/26",
                    &self.underlay.node_ip(72),
                );
                self.tunl0(
                    &n72,
                    "10.244.5.192",
                    "10.244.118.192/26",
                    &self.underlay.node_ip(71),
                );
            }
            Mode::Vxlan => {
                self.vxlan(&n71, 71, "10.244.118.192", "10.244.5.192");
                self.vxlan(&n72, 72, "10.244.5.192", "10.244.118.192");
            }
        }
    }

    fn sysctl(&self, ns: &str, pairs: &[(&str, &str)]) {
        let script: String = pairs
            .iter()
            .map(|(k, v)| format!("echo {v} > /proc/sys/{k};"))
            .collect();
        run(&["ip", "netns", "exec", ns, "sh", "-ec", &script]);
    }

    /// A node: NIC addresses, one pod on a cali veth, Calico's host routes.
    #[allow(clippy::too_many_arguments)]
    fn node(
        &self,
        ns: &str,
        pod_ns: &str,
        id: u8,
        pod_ip: &str,
        block: &str,
        cali: &str,
        mtu: &str,
    ) {
        let (a, b) = if id == 71 {
            ("ens32", "ens33")
        } else {
            ("eth1", "eth0")
        };
        let batch = format!(
            "addr add 192.168.26.{id}/24 dev {a}\n\
             addr add 192.168.30.{id}/24 dev {b}\n\
             link set lo up\nlink set {a} up\nlink set {b} up\n\
             link add {cali} type veth peer name eth0 netns {pod_ns}\n\
             link set {cali} address ee:ee:ee:ee:ee:ee mtu {mtu} up\n\
             route add {pod_ip} dev {cali} scope link\n\
             route add blackhole {block}/26\n\
             route add default via 192.168.26.2 dev {a} onlink\n"
        );
        ip_batch(ns, &batch);
        self.sysctl(
            ns,
            &[
                ("net/ipv4/ip_forward", "1"),
                ("net/ipv4/conf/all/rp_filter", "0"),
                ("net/ipv4/conf/default/rp_filter", "0"),
                (&format!("net/ipv4/conf/{cali}/proxy_arp"), "1"),
                (&format!("net/ipv4/neigh/{cali}/proxy_delay"), "0"),
            ],
        );
        let pod = format!(
            "link set lo up\nlink set eth0 mtu {mtu} up\naddr add {pod_ip}/32 dev eth0\n\
             route add 169.254.1.1 dev eth0 scope link\n\
             route add default via 169.254.1.1 dev eth0\n"
        );
        ip_batch(pod_ns, &pod);
    }

    /// tunl0 as TUN + the userspace encapsulator, Calico's route unchanged.
    fn tunl0(&self, ns: &str, addr: &str, remote_block: &str, gw: &str) {
        let batch = format!(
            "tuntap add dev tunl0 mode tun\n\
             link set tunl0 mtu 1480 up\n\
             addr add {addr}/32 dev tunl0\n\
             route add {remote_block} via {gw} dev tunl0 proto bird onlink\n"
        );
        ip_batch(ns, &batch);
        let mut child = Command::new("ip")
            .args([
                "netns",
                "exec",
                ns,
                "python3",
                &script("tun_encap.py"),
                "tunl0",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start tun_encap.py");
        let mut line = String::new();
        let mut out = BufReader::new(child.stdout.take().expect("stdout"));
        let _ = out.read_line(&mut line);
        let pid = child.id();
        self.daemons.lock().unwrap().push(child);
        assert_eq!(line.trim(), "ready", "tun_encap.py in {ns} did not start");
        self.encaps.lock().unwrap().push((ns.to_string(), pid, out));
    }

    /// Calico VXLAN mode: vxlan.calico over the lab's underlay.
    fn vxlan(&self, ns: &str, id: u8, addr: &str, remote_vtep: &str) {
        let (local, remote) = (
            self.underlay.node_ip(id),
            self.underlay.node_ip(if id == 71 { 72 } else { 71 }),
        );
        let nic = match (self.underlay, id) {
            (Underlay::Net30, 71) => "ens33",
            (Underlay::Net30, _) => "eth0",
            (Underlay::Net26, 71) => "ens32",
            (Underlay::Net26, _) => "eth1",
        };
        let mac = |n: u8| format!("66:ee:ee:00:00:{n:02x}");
        let peer = if id == 71 { 72 } else { 71 };
        let remote_block = if id == 71 {
            "10.244.5.192/26"
        } else {
            "10.244.118.192/26"
        };
        let batch = format!(
            "link add vxlan.calico type vxlan id 4096 local {local} dev {nic} dstport 4789 nolearning\n\
             link set vxlan.calico address {} mtu 1450 up\n\
             addr add {addr}/32 dev vxlan.calico\n\
             neigh add {remote_vtep} lladdr {} dev vxlan.calico nud permanent\n\
             route add {remote_block} via {remote_vtep} dev vxlan.calico onlink\n",
            mac(id),
            mac(peer)
        );
        ip_batch(ns, &batch);
        run(&[
            "bridge",
            "-n",
            ns,
            "fdb",
            "add",
            &mac(peer),
            "dev",
            "vxlan.calico",
            "dst",
            &remote,
            "self",
            "permanent",
        ]);
    }

    /// Runs a command inside `node`'s namespace to completion.
    pub fn exec(&self, node: &str, args: &[&str]) -> Output {
        let ns = self.ns(node);
        let mut full = vec!["netns", "exec", &ns];
        full.extend_from_slice(args);
        let out = Command::new("ip")
            .args(&full)
            .output()
            .expect("ip netns exec");
        assert!(
            out.status.success(),
            "{args:?} in {node} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// `ip -n NODE ...` in this lab.
    pub fn ip(&self, node: &str, args: &[&str]) {
        let ns = self.ns(node);
        let mut full = vec!["-n", ns.as_str()];
        full.extend_from_slice(args);
        let mut cmd = vec!["ip"];
        cmd.extend(full);
        run(&cmd);
    }

    /// Sends `count` raw IPIP packets from `node` to `outer_dst` (kernel routing).
    pub fn send_ipip(
        &self,
        node: &str,
        outer_dst: &str,
        src: &str,
        dst: &str,
        count: u32,
    ) -> String {
        let out = self.exec(
            node,
            &[
                "python3",
                &script("ipip_send.py"),
                outer_dst,
                src,
                dst,
                &count.to_string(),
            ],
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Writes `count` whole IPIP frames on `iface` of `node`, bypassing routing.
    pub fn inject_ipip(&self, node: &str, iface: &str, outer: (&str, &str), count: u32) {
        self.exec(
            node,
            &[
                "python3",
                &script("ipip_send.py"),
                outer.1,
                POD1,
                POD2,
                &count.to_string(),
                "--inject",
                iface,
                "--outer-src",
                outer.0,
            ],
        );
    }

    /// `ping -c N` from pod1 to pod2 (through tunl0 or vxlan.calico).
    pub fn ping(&self, count: u32) {
        self.exec(
            "pod1",
            &[
                "ping",
                "-q",
                "-c",
                &count.to_string(),
                "-i",
                "0.05",
                "-W",
                "2",
                POD2,
            ],
        );
    }

    /// Points `node`'s tunnel route for the peer's pod block at `gw` (as
    /// calico-node does when the autodetected address changes) and has its
    /// tunl0 encapsulator ([`Mode::Ipip`]) take the new route at once.
    pub fn move_tunnel_route(&self, node: &str, gw: &str) {
        let block = if node == "vms71" {
            "10.244.5.192/26"
        } else {
            "10.244.118.192/26"
        };
        let args = [
            "route", "replace", block, "via", gw, "dev", "tunl0", "proto", "bird",
        ];
        self.ip(node, &[&args[..], &["onlink"]].concat());
        let ns = self.ns(node);
        let mut encaps = self.encaps.lock().unwrap();
        let (_, pid, out) = encaps
            .iter_mut()
            .find(|(n, ..)| *n == ns)
            .expect("a tunl0 encapsulator in this node");
        // SAFETY: kill(2) on our own child's pid (`ip netns exec` execs python).
        unsafe { libc::kill(*pid as i32, libc::SIGHUP) };
        let mut line = String::new();
        let _ = out.read_line(&mut line);
        assert_eq!(
            line.trim(),
            "reloaded",
            "tun_encap.py in {ns} did not reload"
        );
    }

    /// Starts `tuntrace ARGS` inside `node` and waits until it captures.
    pub fn tuntrace(&self, node: &str, args: &[&str]) -> Tracer {
        let mut argv = vec![tuntrace_bin()];
        argv.extend_from_slice(args);
        Tracer::start(&self.ns(node), &argv)
    }

    /// A tracer started by another program line in `node` (`argv[0]` runs
    /// it, e.g. `setpriv ... tuntrace live ...`; it must exec, keeping the pid).
    pub fn tracer_from(&self, node: &str, argv: &[&str]) -> Tracer {
        Tracer::start(&self.ns(node), argv)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if let Ok(mut d) = self.daemons.lock() {
            for c in d.iter_mut() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
        for node in ["pod1", "pod2", "vms71", "vms72"] {
            let ns = self.ns(node);
            kill_inside(&ns);
            let _ = Command::new("ip").args(["netns", "del", &ns]).status();
        }
    }
}

/// Ends, by pid, every process still running inside `ns` (all ours).
fn kill_inside(ns: &str) {
    for _ in 0..20 {
        let Ok(out) = Command::new("ip").args(["netns", "pids", ns]).output() else {
            return;
        };
        let pids: Vec<i32> = String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect();
        if pids.is_empty() {
            return;
        }
        for p in pids {
            // SAFETY: plain kill(2) on a pid that lives in our namespace.
            unsafe { libc::kill(p, libc::SIGKILL) };
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn ip_batch(ns: &str, batch: &str) {
    use std::io::Write;
    let mut child = Command::new("ip")
        .args(["-n", ns, "-batch", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ip -batch");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(batch.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "ip -n {ns} -batch failed: {}\n{batch}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn run(args: &[&str]) {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .expect(args[0]);
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A running `tuntrace` inside a lab namespace; stderr is collected line by
/// line so tests can wait for messages instead of sleeping.
pub struct Tracer {
    child: Child,
    lines: Receiver<String>,
    pub stderr: Vec<String>,
    stdout: Option<std::thread::JoinHandle<String>>,
}

/// What a finished tracer printed.
pub struct Finished {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Finished {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!("not JSON ({e}):\n{}\nstderr:\n{}", self.stdout, self.stderr)
        })
    }
}

impl Tracer {
    fn start(ns: &str, argv: &[&str]) -> Tracer {
        let mut child = Command::new("ip")
            .args(["netns", "exec", ns])
            .args(argv)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start tuntrace");
        let (tx, rx) = channel();
        let err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut out = child.stdout.take().unwrap();
        let stdout = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = out.read_to_string(&mut s);
            s
        });
        let mut t = Tracer {
            child,
            lines: rx,
            stderr: Vec::new(),
            stdout: Some(stdout),
        };
        if !argv.contains(&"--help") {
            t.wait_for("capturing on", Duration::from_secs(10));
        }
        t
    }

    /// Waits until a stderr line contains `needle`; panics after `limit`.
    pub fn wait_for(&mut self, needle: &str, limit: Duration) -> String {
        if let Some(l) = self.stderr.iter().find(|l| l.contains(needle)) {
            return l.clone();
        }
        let end = Instant::now() + limit;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => {
                    self.stderr.push(l.clone());
                    if l.contains(needle) {
                        return l;
                    }
                }
                Err(_) => panic!(
                    "no {needle:?} from tuntrace within {limit:?}; stderr:\n{}",
                    self.stderr.join("\n")
                ),
            }
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Sends `sig` (SIGTERM, SIGINT) to tuntrace.
    pub fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on our own child's pid (`ip netns exec` execs tuntrace).
        unsafe { libc::kill(self.pid(), sig) };
    }

    /// Waits for the exit (at most `limit`, then kills) and collects output.
    pub fn finish(mut self, limit: Duration) -> Finished {
        let end = Instant::now() + limit;
        let code = loop {
            match self.child.try_wait() {
                Ok(Some(st)) => break st.code(),
                _ if Instant::now() >= end => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    panic!(
                        "tuntrace did not exit within {limit:?}; stderr:\n{}",
                        self.stderr.join("\n")
                    );
                }
                _ => std::thread::sleep(Duration::from_millis(10)),
            }
        };
        let stdout = self.stdout.take().unwrap().join().unwrap_or_default();
        while let Ok(l) = self.lines.recv_timeout(Duration::from_millis(200)) {
            self.stderr.push(l);
        }
        Finished {
            code,
            stdout,
            stderr: self.stderr.join("\n"),
        }
    }

    /// SIGTERM, then [`Self::finish`].
    pub fn stop(self) -> Finished {
        self.signal(libc::SIGTERM);
        self.finish(Duration::from_secs(10))
    }
}

impl Drop for Tracer {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
