//! Least privilege, as tcpdump's `-Z`: once capture handles, raw sockets
//! and files are open, switch to an unprivileged user, keep only the
//! capabilities still needed (CAP_NET_RAW, to reopen a NIC that comes back;
//! none for the probe), and set `no_new_privs`.
//!
//! Called before the capture threads start: capabilities are per thread on
//! Linux and new threads inherit the caller's; setuid through glibc applies
//! to every thread anyway. No seccomp filter: libpcap, tokio and the HTTP
//! side use system calls that vary with versions and kernels, and a filter
//! that misses one kills a daemon months later.

use caps::{CapSet, Capability, CapsHashSet};
use nix::sys::prctl;
use nix::unistd::{getuid, setgroups, setresgid, setresuid, User};

/// What was dropped, for the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dropped {
    pub user: String,
    pub uid: u32,
    /// Capabilities kept in the effective set.
    pub kept: Vec<String>,
}

/// Switches to `user` (unless it is `root`, or we are not root) and keeps
/// only CAP_NET_RAW when `keep_net_raw`, else no capability.
pub fn drop_to(user: &str, keep_net_raw: bool) -> Result<Dropped, String> {
    let keep: CapsHashSet = if keep_net_raw {
        [Capability::CAP_NET_RAW].into_iter().collect()
    } else {
        CapsHashSet::new()
    };
    let root = getuid().is_root();
    let mut uid = getuid().as_raw();
    if root && user != "root" {
        let u = User::from_name(user)
            .map_err(|e| format!("--user {user}: cannot look the user up: {e}"))?
            .ok_or_else(|| format!("--user {user}: no such user"))?;
        // The bounding set can only shrink while CAP_SETPCAP is held.
        for cap in caps::all() {
            if !keep.contains(&cap) {
                caps::drop(None, CapSet::Bounding, cap)
                    .map_err(|e| format!("dropping {cap} from the bounding set: {e}"))?;
            }
        }
        prctl::set_keepcaps(true).map_err(|e| format!("PR_SET_KEEPCAPS: {e}"))?;
        setgroups(&[u.gid]).map_err(|e| format!("setgroups: {e}"))?;
        setresgid(u.gid, u.gid, u.gid).map_err(|e| format!("setresgid({}): {e}", u.gid))?;
        setresuid(u.uid, u.uid, u.uid).map_err(|e| format!("setresuid({}): {e}", u.uid))?;
        prctl::set_keepcaps(false).map_err(|e| format!("PR_SET_KEEPCAPS: {e}"))?;
        uid = u.uid.as_raw();
    }
    if user != "root" || !root {
        let clear = |set: CapSet, value: &CapsHashSet| {
            caps::set(None, set, value).map_err(|e| format!("setting {set:?} capabilities: {e}"))
        };
        caps::clear(None, CapSet::Ambient).map_err(|e| format!("clearing ambient: {e}"))?;
        clear(CapSet::Inheritable, &CapsHashSet::new())?;
        clear(CapSet::Effective, &keep)?;
        clear(CapSet::Permitted, &keep)?;
    }
    prctl::set_no_new_privs().map_err(|e| format!("PR_SET_NO_NEW_PRIVS: {e}"))?;
    let mut kept: Vec<String> = caps::read(None, CapSet::Effective)
        .map_err(|e| format!("reading capabilities: {e}"))?
        .into_iter()
        .map(|c| c.to_string())
        .collect();
    kept.sort();
    Ok(Dropped {
        user: if root {
            user.to_string()
        } else {
            String::new()
        },
        uid,
        kept,
    })
}
