//! A fake [`Platform`] for tests without root: NICs that replay capture
//! files ([`Replay`]), a Ctrl-C on demand, and a fake network that answers
//! the probe's echo requests through an IPIP tunnel on a fake NIC.

use std::collections::VecDeque;
use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::mpsc::{unbounded_channel, UnboundedSender};

use crate::linktype::LinkType;
use crate::sources::live::replay::{Faults, Replay, ReplayControl};
use crate::sources::live::{CaptureConfig, Nic, OpenError};
use crate::synth;

use super::privs::Dropped;
use super::{EchoSocket, Iface, Platform, Reopen, StopRequests};

/// One fake NIC.
#[derive(Debug, Clone)]
struct FakeNic {
    name: String,
    up: bool,
    mtu: u32,
    /// Frames to play back: the file, its interface, `speed` times faster
    /// than recorded.
    file: Option<(PathBuf, String, f64)>,
    faults: Faults,
    /// Opening it fails with this (a permission error, say).
    refuse: Option<OpenError>,
    /// Deleted (see [`FakeHost::vanish`]) until it reappears.
    gone: bool,
}

/// Where the fake network sends the probe's echoes: in an IPIP tunnel from
/// `outer_src` to `outer_dst` on `nic`, from the pod address `pod_src`.
#[derive(Debug, Clone, Copy)]
struct EchoPath {
    outer_src: Ipv4Addr,
    outer_dst: Ipv4Addr,
    pod_src: Ipv4Addr,
    /// The target answers.
    replies: bool,
}

#[derive(Default)]
struct State {
    nics: Vec<FakeNic>,
    controls: Vec<(String, ReplayControl)>,
    stops: Vec<UnboundedSender<()>>,
    echo: Option<(String, EchoPath)>,
    addrs: Vec<IpAddr>,
}

/// The fake machine. Share it (`&FakeHost` is `Sync`) with a thread that
/// calls [`FakeHost::interrupt`] or [`FakeHost::vanish`] mid-capture.
#[derive(Default, Clone)]
pub struct FakeHost {
    state: Arc<Mutex<State>>,
}

impl FakeHost {
    /// A host with only `lo`.
    pub fn new() -> FakeHost {
        let host = FakeHost::default();
        host.lock().nics.push(FakeNic {
            name: "lo".into(),
            up: true,
            mtu: 65536,
            file: None,
            faults: Faults::default(),
            refuse: None,
            gone: false,
        });
        host
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds an up NIC `name` (MTU 1500) replaying the frames `path` holds
    /// for it, `speed` times faster than recorded.
    pub fn nic(self, name: &str, path: impl Into<PathBuf>, speed: f64) -> FakeHost {
        self.nic_from(name, path, name, speed)
    }

    /// Adds an up NIC `name` replaying the frames `path` holds for its
    /// interface `source`.
    pub fn nic_from(
        self,
        name: &str,
        path: impl Into<PathBuf>,
        source: &str,
        speed: f64,
    ) -> FakeHost {
        self.lock().nics.push(FakeNic {
            name: name.into(),
            up: true,
            mtu: 1500,
            file: Some((path.into(), source.into(), speed)),
            faults: Faults::default(),
            refuse: None,
            gone: false,
        });
        self
    }

    /// Adds an up NIC `name` that carries nothing (until injected into).
    pub fn quiet_nic(self, name: &str) -> FakeHost {
        self.lock().nics.push(FakeNic {
            name: name.into(),
            up: true,
            mtu: 1500,
            file: None,
            faults: Faults::default(),
            refuse: None,
            gone: false,
        });
        self
    }

    /// Faults for the NIC `name`.
    pub fn faults(self, name: &str, faults: Faults) -> FakeHost {
        if let Some(n) = self.lock().nics.iter_mut().find(|n| n.name == name) {
            n.faults = faults;
        }
        self
    }

    /// Sets the MTU of `name`.
    pub fn mtu_of(self, name: &str, mtu: u32) -> FakeHost {
        if let Some(n) = self.lock().nics.iter_mut().find(|n| n.name == name) {
            n.mtu = mtu;
        }
        self
    }

    /// Opening `name` fails with `err`.
    pub fn refuse(self, name: &str, err: OpenError) -> FakeHost {
        if let Some(n) = self.lock().nics.iter_mut().find(|n| n.name == name) {
            n.refuse = Some(err);
        }
        self
    }

    /// The probe's echoes cross `nic` in IPIP from `outer_src` to
    /// `outer_dst`; the target answers when `replies`.
    pub fn echo_path(
        self,
        nic: &str,
        outer: (Ipv4Addr, Ipv4Addr),
        pod_src: Ipv4Addr,
        replies: bool,
    ) -> FakeHost {
        let path = EchoPath {
            outer_src: outer.0,
            outer_dst: outer.1,
            pod_src,
            replies,
        };
        self.lock().echo = Some((nic.to_string(), path));
        self
    }

    /// The host owns `addr` (on some interface).
    pub fn address(self, addr: IpAddr) -> FakeHost {
        self.lock().addrs.push(addr);
        self
    }

    /// A Ctrl-C (SIGINT) to every session listening.
    pub fn interrupt(&self) {
        for tx in &self.lock().stops {
            let _ = tx.send(());
        }
    }

    /// The NIC `name` (already opened) disappears, as with `ip link del`.
    pub fn vanish(&self, name: &str) -> bool {
        let mut st = self.lock();
        if let Some(n) = st.nics.iter_mut().find(|n| n.name == name) {
            n.gone = true;
        }
        let found = st.controls.iter().find(|(n, _)| n == name);
        if let Some((_, c)) = found {
            c.vanish();
        }
        found.is_some()
    }

    /// The NIC `name` comes back (as `ip link add` + `up`) and plays the
    /// frames of `path`'s interface `source` from the start.
    pub fn reappear(&self, name: &str, path: impl Into<PathBuf>, source: &str) {
        let mut st = self.lock();
        st.controls.retain(|(n, _)| n != name);
        if let Some(n) = st.nics.iter_mut().find(|n| n.name == name) {
            n.gone = false;
            n.faults = Faults::default();
            n.file = Some((path.into(), source.into(), 1.0));
        }
    }

    /// Queues a frame on the opened NIC `name` for delivery now (traffic
    /// that starts mid-capture); false when `name` is not open.
    pub fn inject(&self, name: &str, orig_len: u32, data: Vec<u8>) -> bool {
        let control = self.control_of(name);
        control.map(|c| c.inject(orig_len, data)).is_some()
    }

    /// Frames still queued on the opened NICs.
    pub fn pending(&self) -> usize {
        self.lock().controls.iter().map(|(_, c)| c.pending()).sum()
    }

    fn control_of(&self, name: &str) -> Option<ReplayControl> {
        let st = self.lock();
        st.controls
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, c)| c.clone())
    }
}

impl Platform for FakeHost {
    fn interfaces(&self) -> io::Result<Vec<Iface>> {
        Ok(self
            .lock()
            .nics
            .iter()
            .filter(|n| !n.gone)
            .enumerate()
            .map(|(i, n)| Iface {
                name: n.name.clone(),
                index: i as u32 + 1,
                up: n.up,
            })
            .collect())
    }

    fn open_nic(&self, name: &str, _cfg: &CaptureConfig) -> Result<Box<dyn Nic>, OpenError> {
        let spec = {
            let mut st = self.lock();
            // A replay that vanished on cue stays deleted until it reappears.
            if st.controls.iter().any(|(n, c)| n == name && c.is_gone()) {
                if let Some(n) = st.nics.iter_mut().find(|n| n.name == name) {
                    n.gone = true;
                }
            }
            st.nics.iter().find(|n| n.name == name && !n.gone).cloned()
        };
        let spec = spec.ok_or_else(|| OpenError::NoSuchDevice {
            iface: name.to_string(),
            detail: "No such device exists".into(),
        })?;
        if let Some(e) = spec.refuse {
            return Err(e);
        }
        let mut nic = match &spec.file {
            Some((path, source, speed)) => {
                Replay::from_file(name, path, source, *speed).map_err(|e| OpenError::Other {
                    iface: name.to_string(),
                    detail: e.to_string(),
                })?
            }
            None => Replay::empty(name, LinkType::ETHERNET),
        }
        .with_faults(spec.faults);
        let mut st = self.lock();
        st.controls.retain(|(n, _)| n != name);
        st.controls.push((name.to_string(), nic.control()));
        Ok(Box::new(nic))
    }

    fn mtu(&self, name: &str) -> Option<u32> {
        self.lock()
            .nics
            .iter()
            .find(|n| n.name == name)
            .map(|n| n.mtu)
    }

    fn echo_socket(&self, target: IpAddr) -> io::Result<Box<dyn EchoSocket>> {
        let (nic, path) =
            self.lock().echo.clone().ok_or_else(|| {
                io::Error::new(io::ErrorKind::PermissionDenied, "no fake network")
            })?;
        let IpAddr::V4(target) = target else {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "the fake network is IPv4 only",
            ));
        };
        Ok(Box::new(FakeEcho {
            host: self.clone(),
            nic,
            path,
            target,
            replies: Mutex::new(VecDeque::new()),
        }))
    }

    fn drop_privileges(&self, user: &str, keep_net_raw: bool) -> Result<Dropped, String> {
        Ok(Dropped {
            user: user.to_string(),
            uid: 65534,
            kept: if keep_net_raw {
                vec!["CAP_NET_RAW".into()]
            } else {
                Vec::new()
            },
        })
    }

    fn reopener(&self, cfg: &CaptureConfig) -> Reopen {
        let (host, cfg) = (self.clone(), cfg.clone());
        Arc::new(move |name: &str| host.open_nic(name, &cfg))
    }

    fn stop_requests(&self) -> io::Result<StopRequests> {
        let (tx, rx) = unbounded_channel();
        self.lock().stops.push(tx);
        Ok(rx)
    }

    fn addresses(&self) -> io::Result<Vec<IpAddr>> {
        Ok(self.lock().addrs.clone())
    }

    fn host_name(&self) -> Option<String> {
        Some("fakehost".into())
    }
}

/// The fake network's end of the probe's socket.
struct FakeEcho {
    host: FakeHost,
    nic: String,
    path: EchoPath,
    target: Ipv4Addr,
    /// Replies the probe has yet to receive (IPv4 packets, header included).
    replies: Mutex<VecDeque<Vec<u8>>>,
}

impl FakeEcho {
    /// `icmp` from `src` to `dst` in IPIP on the fake NIC, as it would cross.
    fn on_wire(&self, icmp: &[u8], src: Ipv4Addr, dst: Ipv4Addr, out: bool) -> Option<()> {
        let inner = synth::ipv4(src, dst, 1, icmp);
        let (os, od) = if out {
            (self.path.outer_src, self.path.outer_dst)
        } else {
            (self.path.outer_dst, self.path.outer_src)
        };
        let frame = synth::ethernet([2; 6], [4; 6], 0x0800, &synth::ipv4(os, od, 4, &inner));
        let control = self.host.control_of(&self.nic)?;
        control.inject(frame.len() as u32, frame);
        Some(())
    }
}

impl EchoSocket for FakeEcho {
    fn send(&self, dst: IpAddr, msg: &[u8]) -> io::Result<()> {
        if dst != IpAddr::V4(self.target) {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "wrong target"));
        }
        let _ = self.on_wire(msg, self.path.pod_src, self.target, true);
        if self.path.replies && msg.len() >= 8 && msg[0] == 8 {
            let mut reply = msg.to_vec();
            reply[0] = 0;
            reply[2..4].copy_from_slice(&[0, 0]);
            let sum = synth::checksum(&reply);
            reply[2..4].copy_from_slice(&sum.to_be_bytes());
            let _ = self.on_wire(&reply, self.target, self.path.pod_src, false);
            let packet = synth::ipv4(self.target, self.path.pod_src, 1, &reply);
            self.replies
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push_back(packet);
        }
        Ok(())
    }

    fn recv(&self, buf: &mut [u8]) -> io::Result<Option<(usize, IpAddr)>> {
        let next = self
            .replies
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop_front();
        match next {
            Some(p) => {
                let n = p.len().min(buf.len());
                buf[..n].copy_from_slice(&p[..n]);
                Ok(Some((n, IpAddr::V4(self.target))))
            }
            None => {
                // A real socket waits its receive timeout.
                std::thread::sleep(std::time::Duration::from_millis(5));
                Ok(None)
            }
        }
    }
}
