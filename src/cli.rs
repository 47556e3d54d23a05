//! Every flag, defined in one place (clap derive). These structs hold what
//! the user typed; commands turn them into validated settings.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub const EXIT_CODES: &str = "\
Exit codes:
  0  success (audit: no findings)
  1  autodetect: no interface matched the method
  2  usage error; a file that cannot be read or is not a capture; an
     interface that does not exist or cannot be captured on
  3  a capture file is damaged (everything before the damage is reported;
     stderr gives the byte offset)
  4  audit: findings were reported";

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
    /// Read pcap/pcapng files and report, per interface, the tunnels and inner pairs
    #[command(after_help = EXIT_CODES)]
    Read(ReadArgs),
    /// Capture on the node's NICs at once and report the same, live
    #[command(after_help = EXIT_CODES)]
    Live(LiveArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
    Jsonl,
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
    /// Capture files (pcap or pcapng, any extension)
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Interface label for classic pcap files (default: the file stem, ens33.pcap → ens33).
    /// Given once, it applies to every classic pcap; given several times, one per file in order
    #[arg(long = "iface", value_name = "NAME")]
    pub iface: Vec<String>,
    /// Name for a LINUX_SLL2 ifindex, e.g. --ifname 3=ens33; repeatable
    #[arg(long = "ifname", value_name = "N=NAME")]
    pub ifname: Vec<String>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
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
    /// Save what was captured as pcapng (one interface block per NIC)
    #[arg(long, value_name = "FILE.pcapng")]
    pub write: Option<PathBuf>,
    #[command(flatten)]
    pub decode: DecodeArgs,
}
