//! Every contact with the operating system, behind small traits tests can
//! fake: capture handles (`pcap`), interface listing and MTU (`ifaces`),
//! the probe's raw socket (`icmp`), links, addresses and routes over
//! rtnetlink (`netlink`, behind calico's `HostInfo`), privileges (`privs`),
//! signals, the terminal's width, and the allocator's threshold (`memory`).
//! Commands take a [`Platform`]; [`Host`] is the real one, [`fake::FakeHost`]
//! replays capture files on fake NICs without root.

pub mod addrs;
pub mod fake;
pub mod icmp;
pub mod ifaces;
pub mod memory;
pub mod netlink;
pub mod pcap;
pub mod privs;
pub mod terminal;

use std::io;
use std::net::IpAddr;

use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};

use crate::sources::live::{CaptureConfig, Nic, OpenError};

pub use ifaces::Iface;

/// One message per SIGINT / SIGTERM (or per fake Ctrl-C).
pub type StopRequests = UnboundedReceiver<()>;

/// A socket that sends ICMP messages and receives what comes back.
pub trait EchoSocket: Send + Sync {
    /// Sends one ICMP message (header included) to `dst`.
    fn send(&self, dst: IpAddr, msg: &[u8]) -> io::Result<()>;
    /// Waits a short while for one message; `Ok(None)` when none came.
    /// IPv4 raw sockets hand over the IP header too, IPv6 ones only ICMPv6.
    fn recv(&self, buf: &mut [u8]) -> io::Result<Option<(usize, IpAddr)>>;
}

/// What the capture commands need from the system.
pub trait Platform: Sync {
    /// The interfaces of this namespace, in ifindex order.
    fn interfaces(&self) -> io::Result<Vec<Iface>>;
    /// Opens one NIC for capture.
    fn open_nic(&self, name: &str, cfg: &CaptureConfig) -> Result<Box<dyn Nic>, OpenError>;
    /// The MTU of a NIC, if it can be read.
    fn mtu(&self, name: &str) -> Option<u32>;
    /// A raw ICMP socket for `target`'s address family.
    fn echo_socket(&self, target: IpAddr) -> io::Result<Box<dyn EchoSocket>>;
    /// SIGINT and SIGTERM, from now on. Call inside a tokio runtime.
    fn stop_requests(&self) -> io::Result<StopRequests>;
    /// Drops privileges once everything privileged is open: see `privs`.
    fn drop_privileges(&self, user: &str, keep_net_raw: bool) -> Result<privs::Dropped, String>;
    /// Opens NICs by name with `cfg` from any thread, later (a NIC that
    /// went down or was deleted, when it comes back).
    fn reopener(&self, cfg: &CaptureConfig) -> Reopen;
    /// This node's own addresses (every interface).
    fn addresses(&self) -> io::Result<Vec<IpAddr>>;
    /// The host name, if known.
    fn host_name(&self) -> Option<String>;
}

/// See [`Platform::reopener`].
pub type Reopen = std::sync::Arc<dyn Fn(&str) -> Result<Box<dyn Nic>, OpenError> + Send + Sync>;

/// The machine we run on.
#[derive(Debug, Default, Clone, Copy)]
pub struct Host;

impl Platform for Host {
    fn interfaces(&self) -> io::Result<Vec<Iface>> {
        ifaces::list()
    }

    fn open_nic(&self, name: &str, cfg: &CaptureConfig) -> Result<Box<dyn Nic>, OpenError> {
        Ok(Box::new(pcap::open(name, cfg)?))
    }

    fn mtu(&self, name: &str) -> Option<u32> {
        ifaces::mtu(name)
    }

    fn echo_socket(&self, target: IpAddr) -> io::Result<Box<dyn EchoSocket>> {
        Ok(Box::new(icmp::RawIcmp::open(target)?))
    }

    fn drop_privileges(&self, user: &str, keep_net_raw: bool) -> Result<privs::Dropped, String> {
        privs::drop_to(user, keep_net_raw)
    }

    fn reopener(&self, cfg: &CaptureConfig) -> Reopen {
        let cfg = cfg.clone();
        std::sync::Arc::new(move |name: &str| -> Result<Box<dyn Nic>, OpenError> {
            Ok(Box::new(pcap::open(name, &cfg)?))
        })
    }

    fn stop_requests(&self) -> io::Result<StopRequests> {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        let (tx, rx) = unbounded_channel();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = term.recv() => {},
                    _ = int.recv() => {},
                }
                if tx.send(()).is_err() {
                    break;
                }
            }
        });
        Ok(rx)
    }

    fn addresses(&self) -> io::Result<Vec<IpAddr>> {
        addrs::list()
    }

    fn host_name(&self) -> Option<String> {
        addrs::host_name()
    }
}
