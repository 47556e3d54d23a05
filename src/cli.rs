//! Every flag, defined in one place (clap derive). These structs hold what
//! the user typed; commands turn them into validated settings.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub const EXIT_CODES: &str = "\
Exit codes:
  0  success (audit: no findings)
  1  autodetect: no interface matched the method
  2  usage error; a file that cannot be read or is not a capture (merge:
     not a report; --k8s: not a pod/node list); an interface that does
     not exist or cannot be captured on; read: a --filter that does not
     compile, `-` given twice
  3  a capture file (or its gzip/zstd/xz stream) is damaged (everything
     before the damage is reported; stderr gives the byte offset)
  4  audit, merge: findings were reported
  5  probe: the request left encapsulated but no reply came back
  6  probe: the request was not seen on any captured interface
  7  probe: the request left a NIC unencapsulated (plain ICMP to the pod)";

#[derive(Debug, Parser)]
#[command(
    name = "tuntrace",
    version,
    about = "Which wire does my overlay really use? Per NIC: tunnels (outer node pair) and the pod pairs inside them.",
    after_help = EXIT_CODES
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read pcap/pcapng files (compressed too, or `-` for stdin) and report, per interface, the
    /// tunnels and inner pairs
    #[command(after_help = EXIT_CODES)]
    Read(ReadArgs),
    /// Capture on the node's NICs at once and report the same, live
    #[command(after_help = EXIT_CODES)]
    Live(LiveArgs),
    /// Which interface and address Calico's IP_AUTODETECTION_METHOD picks here, and why
    #[command(after_help = EXIT_CODES)]
    Autodetect(AutodetectArgs),
    /// Calico's tunnel routes (tunl0, vxlan.calico) and the NIC the kernel uses for each peer
    #[command(after_help = EXIT_CODES)]
    Routes(RoutesArgs),
    /// Ping a pod and name the NIC, encapsulation and outer pair of the request and reply
    #[command(after_help = EXIT_CODES)]
    Probe(ProbeArgs),
    /// Check a live capture or capture files against expectations; report findings
    #[command(after_help = EXIT_CODES)]
    Audit(AuditArgs),
    /// Join reports from several nodes: per node pair, the NIC it left on and the NIC it arrived on
    #[command(after_help = EXIT_CODES)]
    Merge(MergeArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
    Jsonl,
    /// A picture: nodes, NICs as ports, tunnels as arrows (self-contained SVG)
    Svg,
}

/// `merge`'s outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MergeFormat {
    Table,
    Json,
    /// The path map as a picture (self-contained SVG)
    Svg,
}

/// Decoder and table settings shared by every command that decodes.
#[derive(Debug, Clone, Args)]
pub struct DecodeArgs {
    /// Extra UDP destination port to decode as VXLAN (4789 and 8472 always are); repeatable
    #[arg(long = "vxlan-port", value_name = "PORT")]
    pub vxlan_ports: Vec<u16>,
    /// Extra UDP destination port to decode as Geneve (6081 always is); repeatable
    #[arg(long = "geneve-port", value_name = "PORT")]
    pub geneve_ports: Vec<u16>,
    /// Tunnel layers walked at most inside one packet
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u8).range(1..=64))]
    pub max_depth: u8,
    /// Distinct tunnels kept by name; the rest are counted in one "other" row per interface
    #[arg(long, default_value_t = 4096)]
    pub max_tunnels: usize,
    /// Inner pairs kept by name per tunnel; the rest go to the tunnel's "other" row
    #[arg(long, default_value_t = 1024)]
    pub max_pairs: usize,
    /// Inner pair rows shown per tunnel in the table (JSON always has all)
    #[arg(long, default_value_t = 5)]
    pub top: usize,
}

#[derive(Debug, Clone, Args)]
pub struct ReadArgs {
    /// Capture files: pcap or pcapng, any extension, plain or gzip/zstd/xz-compressed
    /// (found by content). `-` reads standard input (once), e.g.
    /// `tcpdump -i any -w - | tuntrace read -`; its report source is named `-`
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Read only the packets this tcpdump filter expression matches (compiled by libpcap
    /// for each link type in the files, as `tcpdump -r FILE EXPR` would)
    #[arg(long, value_name = "EXPR")]
    pub filter: Option<String>,
    /// Interface label for classic pcap files (default: the file stem, ens33.pcap → ens33).
    /// Given once, it applies to every classic pcap; given several times, one per file in order
    #[arg(long = "iface", value_name = "NAME")]
    pub iface: Vec<String>,
    /// Name for a LINUX_SLL2 ifindex, e.g. --ifname 3=ens33; repeatable
    #[arg(long = "ifname", value_name = "N=NAME")]
    pub ifname: Vec<String>,
    /// Name pods and nodes: `kubectl get pods -A -o json|yaml` / `kubectl get nodes -o json|yaml`
    /// output (PodList, NodeList or List); repeatable
    #[arg(long = "k8s", value_name = "FILE")]
    pub k8s: Vec<PathBuf>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Node names and addresses (lines `NAME ADDR...`, or JSON `{"NAME": ["ADDR", ...]}`):
    /// names the ends of path changes and groups each node's underlay addresses
    #[arg(long, value_name = "FILE")]
    pub nodes: Option<PathBuf>,
    /// Threads that read a large file (cut into parts, each counted apart; the report is the
    /// same whatever the number). Default: the available cores
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub threads: Option<u16>,
    #[command(flatten)]
    pub decode: DecodeArgs,
}

#[derive(Debug, Clone, Args)]
pub struct LiveArgs {
    /// Interface to capture on; repeatable. Default: every up interface except
    /// the ones Calico ignores (lo, cali*, tunl*, vxlan.calico, docker*, veth*, ...)
    #[arg(short = 'i', long = "interface", value_name = "IFACE")]
    pub interfaces: Vec<String>,
    /// Stop after this long (e.g. 10s, 500ms, 2m)
    #[arg(long, value_name = "DURATION")]
    pub duration: Option<String>,
    /// Stop after this many packets (over all interfaces)
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
    /// Kernel BPF filter in tcpdump syntax (replaces the default tunnel filter)
    #[arg(long, value_name = "BPF")]
    pub filter: Option<String>,
    /// Capture everything, not only tunnel traffic
    #[arg(long, conflicts_with = "filter")]
    pub all_traffic: bool,
    /// Bytes kept per packet (default 256: headers through VXLAN/Geneve and IPv6;
    /// full frames when --write is given)
    #[arg(long, value_name = "BYTES")]
    pub snaplen: Option<u32>,
    /// Kernel capture buffer per interface, in MiB
    #[arg(long, default_value_t = 8, value_name = "MIB")]
    pub buffer_mib: u32,
    /// Refresh interval of the live view and of jsonl records
    #[arg(long, default_value = "1s", value_name = "DURATION")]
    pub interval: String,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Name pods and nodes: `kubectl get pods -A -o json|yaml` / `kubectl get nodes -o json|yaml`
    /// output (PodList, NodeList or List); repeatable
    #[arg(long = "k8s", value_name = "FILE")]
    pub k8s: Vec<PathBuf>,
    /// Save what was captured as pcapng (one interface block per NIC)
    #[arg(long, value_name = "FILE.pcapng")]
    pub write: Option<PathBuf>,
    /// Keep FILE a picture (SVG) of what was seen so far: redrawn every
    /// --interval and at the end (opened before privileges are dropped,
    /// then rewritten in place)
    #[arg(long, value_name = "FILE.svg")]
    pub svg: Option<PathBuf>,
    /// Node names and addresses (lines `NAME ADDR...`, or JSON `{"NAME": ["ADDR", ...]}`):
    /// names the ends of path changes and groups each node's underlay addresses
    #[arg(long, value_name = "FILE")]
    pub nodes: Option<PathBuf>,
    #[command(flatten)]
    pub metrics: MetricsArgs,
    #[command(flatten)]
    pub decode: DecodeArgs,
    /// Once the NICs are open, run as this user with no capability but
    /// CAP_NET_RAW (to reopen a NIC that comes back), as tcpdump's -Z does;
    /// `root` keeps root (not advised)
    #[arg(long, default_value = "nobody", value_name = "USER")]
    pub user: String,
}

/// `live --metrics`: the node daemon.
#[derive(Debug, Clone, Args)]
pub struct MetricsArgs {
    /// Keep capturing (no --duration needed) and serve /metrics (OpenMetrics),
    /// /report, /healthz and /readyz over HTTP on this address, e.g. 0.0.0.0:9420
    #[arg(long = "metrics", value_name = "ADDR:PORT")]
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// Also expose tuntrace_pair_packets_total per inner (pod) pair
    #[arg(long = "metrics-pairs", requires = "metrics_listen")]
    pub metrics_pairs: bool,
    /// Pair series at most; the rest add to one "other" series per device, direction and encap
    #[arg(long = "metrics-max-pairs", default_value_t = 2000, value_name = "N")]
    pub metrics_max_pairs: usize,
    /// A pair series not seen for this long is removed (e.g. 10m)
    #[arg(
        long = "metrics-pair-ttl",
        default_value = "10m",
        value_name = "DURATION"
    )]
    pub metrics_pair_ttl: String,
    /// With --metrics: write path changes and audit findings as JSON lines to FILE
    /// (appended) or stdout (-)
    #[arg(long, value_name = "FILE|-", requires = "metrics_listen")]
    pub events: Option<PathBuf>,
    /// This node's name in /report (default: $NODE_NAME, else the host name)
    #[arg(long, value_name = "NAME")]
    pub node: Option<String>,
    /// With --metrics: interfaces tunnel traffic may use (audited continuously into
    /// tuntrace_audit_findings); repeatable or comma-separated
    #[arg(
        long = "expect-iface",
        value_name = "NAME",
        value_delimiter = ',',
        requires = "metrics_listen"
    )]
    pub expect_iface: Vec<String>,
    /// With --metrics: the underlay network tunnels must run over; repeatable
    #[arg(long = "expect-cidr", value_name = "CIDR", requires = "metrics_listen")]
    pub expect_cidr: Vec<ipnet::IpNet>,
    /// With --metrics: the pod network (IP pool), for the pod-address checks; repeatable
    #[arg(long = "pod-cidr", value_name = "CIDR", requires = "metrics_listen")]
    pub pod_cidr: Vec<ipnet::IpNet>,
    /// With --metrics: the IP_AUTODETECTION_METHOD in force, evaluated here every few
    /// seconds (tuntrace_autodetect_info; tunnels must use its interface and address)
    #[arg(
        long = "expect-method",
        value_name = "METHOD",
        requires = "metrics_listen"
    )]
    pub expect_method: Option<String>,
    #[command(flatten)]
    pub host: HostArgs,
}

/// Output of the diagnostic commands (no streaming form).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutFormat {
    Table,
    Json,
}

/// Where the host description comes from when not read from this machine.
#[derive(Debug, Clone, Args)]
pub struct HostArgs {
    /// Evaluate a host described in a file instead of this one: `ip -j addr`
    /// output as is, or tuntrace's own JSON (`{"ifaces": [{"name", "index", "addrs"}]}`)
    #[arg(long, value_name = "FILE")]
    pub host_file: Option<PathBuf>,
    /// The Node's InternalIP, for kubernetes-internal-ip; repeatable, in status.addresses order
    #[arg(long = "internal-ip", value_name = "IP")]
    pub internal_ips: Vec<std::net::IpAddr>,
    /// Address family: 4 (IP_AUTODETECTION_METHOD) or 6 (IP6_AUTODETECTION_METHOD)
    #[arg(long, default_value_t = 4, value_parser = parse_family)]
    pub family: u8,
    /// Follow this Calico release's rules, e.g. 3.31 (before 3.32 a point-to-point
    /// address keeps its prefix length instead of /32 or /128)
    #[arg(long, value_name = "VERSION", default_value_t = crate::calico::version::CURRENT)]
    pub calico_version: crate::calico::version::CalicoVersion,
}

#[derive(Debug, Clone, Args)]
pub struct AutodetectArgs {
    /// The method, exactly as in IP_AUTODETECTION_METHOD (e.g. interface=ens33,eth0).
    /// Without it: the pick of every method a user would likely try on this host
    #[arg(value_name = "METHOD")]
    pub method: Option<String>,
    #[command(flatten)]
    pub host: HostArgs,
    #[arg(long, value_enum, default_value_t = OutFormat::Table)]
    pub format: OutFormat,
}

#[derive(Debug, Clone, Args)]
pub struct RoutesArgs {
    /// Tunnel device whose routes to list; repeatable (default: tunl0, vxlan.calico, vxlan-v6.calico)
    #[arg(long = "dev", value_name = "NAME")]
    pub devs: Vec<String>,
    #[arg(long, value_enum, default_value_t = OutFormat::Table)]
    pub format: OutFormat,
}

#[derive(Debug, Clone, Args)]
pub struct ProbeArgs {
    /// The pod IP to ping (nothing else is ever sent to)
    #[arg(value_name = "POD_IP")]
    pub target: std::net::IpAddr,
    /// Echo requests to send
    #[arg(short = 'c', long, default_value_t = 3, value_parser = clap::value_parser!(u16).range(1..=100))]
    pub count: u16,
    /// How long to wait for the last reply (e.g. 2s, 500ms)
    #[arg(long, default_value = "2s", value_name = "DURATION")]
    pub timeout: String,
    /// Interface to capture on; repeatable (default: like `live`)
    #[arg(short = 'i', long = "interface", value_name = "IFACE")]
    pub interfaces: Vec<String>,
    #[arg(long, value_enum, default_value_t = OutFormat::Table)]
    pub format: OutFormat,
    #[command(flatten)]
    pub decode: DecodeArgs,
    /// Once the NICs are open, run as this user with no capability but
    /// CAP_NET_RAW (to reopen a NIC that comes back), as tcpdump's -Z does;
    /// `root` keeps root (not advised)
    #[arg(long, default_value = "nobody", value_name = "USER")]
    pub user: String,
}

#[derive(Debug, Clone, Args)]
pub struct AuditArgs {
    /// Audit these capture files instead of capturing live
    #[arg(long = "read", value_name = "FILE", num_args = 1..)]
    pub files: Vec<PathBuf>,
    /// Interface label for classic pcap files (as `read --iface`)
    #[arg(long = "iface", value_name = "NAME", requires = "files")]
    pub iface: Vec<String>,
    /// Live: capture this long (e.g. 10s)
    #[arg(long, default_value = "10s", value_name = "DURATION")]
    pub duration: String,
    /// Live: interface to capture on; repeatable (default: like `live`)
    #[arg(short = 'i', long = "interface", value_name = "IFACE")]
    pub interfaces: Vec<String>,
    /// Interfaces tunnel traffic may use; repeatable or comma-separated
    #[arg(long = "expect-iface", value_name = "NAME", value_delimiter = ',')]
    pub expect_iface: Vec<String>,
    /// The IP_AUTODETECTION_METHOD in force: tunnels must use the interface and
    /// address it picks here (or on --host-file)
    #[arg(long, value_name = "METHOD")]
    pub expect_method: Option<String>,
    /// The underlay network tunnels must run over (outer addresses inside it); repeatable
    #[arg(long = "expect-cidr", value_name = "CIDR")]
    pub expect_cidr: Vec<ipnet::IpNet>,
    /// The pod network (IP pool); repeatable. Needed by the pod-address checks
    #[arg(long = "pod-cidr", value_name = "CIDR")]
    pub pod_cidr: Vec<ipnet::IpNet>,
    /// Node names and addresses: lines `NAME ADDR...`, or JSON `{"NAME": ["ADDR", ...]}`
    #[arg(long, value_name = "FILE")]
    pub nodes: Option<PathBuf>,
    /// Node names (with --nodes): `kubectl get pods -A -o json|yaml` / `kubectl get nodes -o json|yaml`
    /// output (PodList, NodeList or List); repeatable
    #[arg(long = "k8s", value_name = "FILE")]
    pub k8s: Vec<PathBuf>,
    /// NIC MTU for the near-MTU check (live: each NIC's own MTU unless given)
    #[arg(long, value_name = "BYTES")]
    pub mtu: Option<u32>,
    /// An outer packet this close to the MTU (bytes) counts as near it
    #[arg(long, default_value_t = 8, value_name = "BYTES")]
    pub mtu_margin: u32,
    /// Finding kinds to leave out (e.g. near-mtu on a busy node); repeatable or comma-separated
    #[arg(long, value_name = "KIND", value_delimiter = ',', value_parser = [
        "unexpected-interface", "asymmetric-path", "fragmentation", "near-mtu", "icmp-too-big",
        "outside-pod-cidr", "unencapsulated-pod-traffic", "unknown-peer"])]
    pub ignore: Vec<String>,
    #[command(flatten)]
    pub host: HostArgs,
    #[arg(long, value_enum, default_value_t = OutFormat::Table)]
    pub format: OutFormat,
    #[command(flatten)]
    pub decode: DecodeArgs,
    /// Once the NICs are open, run as this user with no capability but
    /// CAP_NET_RAW (to reopen a NIC that comes back), as tcpdump's -Z does;
    /// `root` keeps root (not advised)
    #[arg(long, default_value = "nobody", value_name = "USER")]
    pub user: String,
}

/// `--family`: 4 or 6.
fn parse_family(s: &str) -> Result<u8, String> {
    match s {
        "4" => Ok(4),
        "6" => Ok(6),
        _ => Err("give 4 or 6".into()),
    }
}

#[derive(Debug, Clone, Args)]
pub struct MergeArgs {
    /// Reports from `read`/`live --format json`, or a daemon's `/report`; one per node
    #[arg(required = true, value_name = "REPORT")]
    pub files: Vec<PathBuf>,
    /// The node a report file is from, when it has no "node" key: FILE=NAME; repeatable.
    /// Without either, the node named (by --nodes/--k8s) at one end of all its tunnels
    #[arg(long = "node-of", value_name = "FILE=NAME")]
    pub node_of: Vec<String>,
    /// Node names and addresses: lines `NAME ADDR[/PREFIX]...`, or JSON (as `audit --nodes`);
    /// a prefix gives the node's subnet for --cross-subnet
    #[arg(long, value_name = "FILE")]
    pub nodes: Option<PathBuf>,
    /// `kubectl get pods -A -o json|yaml` / `kubectl get nodes -o json|yaml` output; repeatable
    #[arg(long = "k8s", value_name = "FILE")]
    pub k8s: Vec<PathBuf>,
    /// Interfaces tunnel traffic may use; repeatable or comma-separated
    #[arg(long = "expect-iface", value_name = "NAME", value_delimiter = ',')]
    pub expect_iface: Vec<String>,
    /// The underlay network tunnels must run over; repeatable
    #[arg(long = "expect-cidr", value_name = "CIDR")]
    pub expect_cidr: Vec<ipnet::IpNet>,
    /// The IP pool's mode is CrossSubnet: flag peers in one subnet that
    /// encapsulate, and pod traffic across subnets sent unencapsulated
    #[arg(long)]
    pub cross_subnet: bool,
    #[arg(long, value_enum, default_value_t = MergeFormat::Table)]
    pub format: MergeFormat,
}
