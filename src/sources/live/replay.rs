//! A fake NIC for tests without root: plays the frames of a capture file
//! back in real time (gaps kept, optionally sped up), stamped with the time
//! of delivery as a real NIC would, and on cue drops frames (counted as
//! kernel drops) or vanishes. Frames can also be injected while it runs
//! (a fake network answering a probe).
//!
//! The file's frames are held in memory: this is a test fixture for small
//! captures, not a reader (that is `sources::file`).

use std::collections::VecDeque;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::iface::{IfaceId, IfaceTable};
use crate::linktype::LinkType;
use crate::sources::file::{read_file, FileError, FileOptions};
use crate::sources::Frame;

use super::{KernelCounters, Nic, NicFailure};

/// What goes wrong on the fake NIC, and when.
#[derive(Debug, Clone, Copy, Default)]
pub struct Faults {
    /// Every n-th frame never reaches the reader (a kernel drop).
    pub drop_every: Option<u64>,
    /// After this many frames were delivered, the NIC vanishes.
    pub vanish_after: Option<u64>,
}

/// One frame waiting to be delivered.
#[derive(Debug, Clone)]
struct Pending {
    /// Offset from the start of the replay.
    due: Duration,
    orig_len: u32,
    data: Vec<u8>,
}

#[derive(Debug, Default)]
struct State {
    queue: VecDeque<Pending>,
    gone: bool,
    offered: u64,
    delivered: u64,
    dropped: u64,
}

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    wake: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A handle on a running replay: inject frames, or make the NIC vanish.
#[derive(Debug, Clone)]
pub struct ReplayControl {
    shared: Arc<Shared>,
    start: Instant,
}

impl ReplayControl {
    /// Queues a frame for delivery now.
    pub fn inject(&self, orig_len: u32, data: Vec<u8>) {
        let due = self.start.elapsed();
        let mut st = self.shared.lock();
        let at = st
            .queue
            .iter()
            .position(|p| p.due > due)
            .unwrap_or(st.queue.len());
        st.queue.insert(
            at,
            Pending {
                due,
                orig_len,
                data,
            },
        );
        drop(st);
        self.shared.wake.notify_all();
    }

    /// The NIC disappears (as `ip link del`): the next read fails.
    pub fn vanish(&self) {
        self.shared.lock().gone = true;
        self.shared.wake.notify_all();
    }

    /// The NIC has vanished (on cue or by [`ReplayControl::vanish`]).
    pub fn is_gone(&self) -> bool {
        self.shared.lock().gone
    }

    /// Frames still waiting to be played.
    pub fn pending(&self) -> usize {
        self.shared.lock().queue.len()
    }
}

/// The fake NIC.
#[derive(Debug)]
pub struct Replay {
    name: String,
    linktype: LinkType,
    faults: Faults,
    shared: Arc<Shared>,
    start: Instant,
}

impl Replay {
    /// A NIC named `name` with no frames yet (inject them).
    pub fn empty(name: &str, linktype: LinkType) -> Replay {
        Replay {
            name: name.to_string(),
            linktype,
            faults: Faults::default(),
            shared: Arc::default(),
            start: Instant::now(),
        }
    }

    /// A NIC named `name` that plays the frames `path` holds for its
    /// interface `source` (every frame, when the file has one interface),
    /// `speed` times faster than recorded.
    pub fn from_file(
        name: &str,
        path: &Path,
        source: &str,
        speed: f64,
    ) -> Result<Replay, FileError> {
        let mut ifaces = IfaceTable::new();
        let mut frames: Vec<(IfaceId, LinkType, u64, u32, Vec<u8>)> = Vec::new();
        read_file(path, &FileOptions::default(), &mut ifaces, |f| {
            frames.push((f.iface, f.linktype, f.ts_ns, f.orig_len, f.data.to_vec()));
        })?;
        let single = ifaces.len() <= 1;
        frames.retain(|(id, ..)| single || ifaces.name(*id) == source);
        let nic = Replay::empty(name, frames.first().map_or(LinkType::ETHERNET, |f| f.1));
        let first = frames.first().map_or(0, |f| f.2);
        let speed = if speed.is_finite() && speed > 0.0 {
            speed
        } else {
            1.0
        };
        nic.shared.lock().queue = frames
            .into_iter()
            .map(|(_, _, ts, orig_len, data)| Pending {
                due: Duration::from_secs_f64(ts.saturating_sub(first) as f64 / 1e9 / speed),
                orig_len,
                data,
            })
            .collect();
        Ok(nic)
    }

    pub fn with_faults(mut self, faults: Faults) -> Replay {
        self.faults = faults;
        self
    }

    /// Restarts the clock: the first frame is due now.
    pub fn control(&mut self) -> ReplayControl {
        ReplayControl {
            shared: self.shared.clone(),
            start: self.start,
        }
    }
}

impl Nic for Replay {
    fn name(&self) -> &str {
        &self.name
    }

    fn linktype(&self) -> LinkType {
        self.linktype
    }

    fn filter(&self) -> Option<&str> {
        None
    }

    fn read(
        &mut self,
        max: usize,
        wait: Duration,
        deliver: &mut dyn FnMut(&Frame<'_>) -> bool,
    ) -> Result<usize, NicFailure> {
        let deadline = Instant::now() + wait;
        let mut st = self.shared.lock();
        // Wait for the first due frame, the deadline, or the NIC going away.
        loop {
            if st.gone {
                return Err(NicFailure("No such device (replay vanished)".into()));
            }
            let now = Instant::now();
            let next_due = st.queue.front().map(|p| self.start + p.due);
            if next_due.is_some_and(|t| t <= now) {
                break;
            }
            if now >= deadline {
                return Ok(0);
            }
            let until = next_due.map_or(deadline, |t| t.min(deadline));
            let (guard, _) = self
                .shared
                .wake
                .wait_timeout(st, until.saturating_duration_since(now))
                .unwrap_or_else(|p| p.into_inner());
            st = guard;
        }
        let mut n = 0;
        let now = Instant::now();
        while n < max {
            let Some(p) = st.queue.front() else { break };
            if self.start + p.due > now {
                break;
            }
            let Some(p) = st.queue.pop_front() else { break };
            st.offered += 1;
            if self
                .faults
                .drop_every
                .is_some_and(|k| k > 0 && st.offered % k == 0)
            {
                st.dropped += 1;
                continue;
            }
            if self.faults.vanish_after.is_some_and(|k| st.delivered >= k) {
                st.gone = true;
                return if n > 0 {
                    Ok(n)
                } else {
                    Err(NicFailure("No such device (replay vanished)".into()))
                };
            }
            st.delivered += 1;
            n += 1;
            let frame = Frame {
                iface: IfaceId(0),
                linktype: self.linktype,
                ts_ns: crate::timefmt::now_ns(),
                orig_len: p.orig_len,
                data: &p.data,
            };
            if !deliver(&frame) {
                break;
            }
        }
        Ok(n)
    }

    fn counters(&mut self) -> Option<KernelCounters> {
        let st = self.shared.lock();
        Some(KernelCounters {
            received: st.delivered + st.dropped,
            dropped_by_kernel: st.dropped,
            dropped_by_interface: 0,
        })
    }

    fn still_exists(&self) -> bool {
        !self.shared.lock().gone
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case1() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/case1-interface-vms71.pcapng")
    }

    fn drain(nic: &mut Replay) -> (u64, Result<(), NicFailure>) {
        let mut got = 0;
        let end = Instant::now() + Duration::from_secs(5);
        while Instant::now() < end {
            match nic.read(64, Duration::from_millis(20), &mut |_| true) {
                Ok(n) => got += n as u64,
                Err(e) => return (got, Err(e)),
            }
            if nic.control().pending() == 0 {
                break;
            }
        }
        (got, Ok(()))
    }

    #[test]
    fn plays_every_frame_of_its_interface() {
        let mut nic = Replay::from_file("ens33", &case1(), "ens33", 1000.0).unwrap();
        let (got, end) = drain(&mut nic);
        assert_eq!(end, Ok(()));
        assert_eq!(got, 20, "case 1 holds 20 IPIP frames on ens33");
        let c = nic.counters().unwrap();
        assert_eq!((c.received, c.dropped_by_kernel), (20, 0));
    }

    #[test]
    fn drops_are_counted_as_kernel_drops() {
        let faults = Faults {
            drop_every: Some(4),
            ..Faults::default()
        };
        let mut nic = Replay::from_file("ens33", &case1(), "ens33", 1000.0)
            .unwrap()
            .with_faults(faults);
        let (got, _) = drain(&mut nic);
        let c = nic.counters().unwrap();
        assert_eq!((got, c.dropped_by_kernel, c.received), (15, 5, 20));
    }

    #[test]
    fn vanishes_on_cue() {
        let faults = Faults {
            vanish_after: Some(3),
            ..Faults::default()
        };
        let mut nic = Replay::from_file("ens33", &case1(), "ens33", 1000.0)
            .unwrap()
            .with_faults(faults);
        let (got, end) = drain(&mut nic);
        assert_eq!(got, 3);
        assert!(end.is_err());
        assert!(!nic.still_exists());
    }
}
