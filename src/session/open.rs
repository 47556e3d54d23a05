//! Opening the chosen NICs: one policy for every capture command. A NIC
//! the user named with `-i` must open; of the ones chosen by default, those
//! that fail are left out with a warning, unless the failure would hit
//! every NIC alike (no permission, a filter that does not compile).

use crate::os::{Iface, Platform};
use crate::sources::live::{CaptureConfig, Nic, OpenError};

use super::choose::{select, write_skipped, SelectError};

/// What was opened, with the host's interfaces (for `any`'s ifindexes).
pub struct Opened {
    pub nics: Vec<Box<dyn Nic>>,
    pub known: Vec<Iface>,
}

/// Capture cannot start; the reason was printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotStarted;

/// Chooses and opens the NICs, saying on stderr what was chosen, skipped
/// and left out.
pub fn open_chosen(
    platform: &dyn Platform,
    requested: &[String],
    cfg: &CaptureConfig,
) -> Result<Opened, NotStarted> {
    let all = platform.interfaces().map_err(|e| {
        say(format!("cannot list interfaces: {e}"));
        NotStarted
    })?;
    let sel = select(&all, requested).map_err(|e| {
        say(&e);
        if let SelectError::NoneLeft { .. } = e {
            eprintln!("tuntrace: hint: -i IFACE captures on any interface");
        }
        NotStarted
    })?;
    if requested.is_empty() {
        let mut skipped = String::new();
        let _ = write_skipped(&mut skipped, &sel.skipped);
        eprintln!("tuntrace: chose {}", sel.chosen.join(", "));
        if !skipped.is_empty() {
            eprintln!("tuntrace: skipped {skipped}");
        }
    }
    let mut nics = Vec::new();
    for name in &sel.chosen {
        match platform.open_nic(name, cfg) {
            Ok(n) => nics.push(n),
            Err(e) => {
                say(&e);
                if !requested.is_empty() || e.affects_all() {
                    if let OpenError::NoSuchDevice { .. } = e {
                        let names: Vec<&str> = all.iter().map(|i| i.name.as_str()).collect();
                        eprintln!("tuntrace: interfaces here: {}", names.join(", "));
                    }
                    return Err(NotStarted);
                }
                eprintln!("tuntrace: warning: going on without {}", e.iface());
            }
        }
    }
    if nics.is_empty() {
        say("no interface could be opened");
        return Err(NotStarted);
    }
    Ok(Opened { nics, known: all })
}

fn say(msg: impl std::fmt::Display) {
    eprintln!("tuntrace: {msg}");
}

/// Drops privileges once everything privileged is open (see `os::privs`),
/// saying what is kept. `keep_net_raw` for sessions that reopen NICs.
pub fn drop_privileges(
    platform: &dyn Platform,
    user: &str,
    keep_net_raw: bool,
) -> Result<(), NotStarted> {
    if user == "root" {
        eprintln!("tuntrace: warning: --user root: capture keeps running with root privileges");
    }
    match platform.drop_privileges(user, keep_net_raw) {
        Ok(d) if d.user != "root" => {
            let kept = if d.kept.is_empty() {
                "none".to_string()
            } else {
                d.kept.join(", ")
            };
            // Empty user: started without root (file capabilities), uid kept.
            let who = if d.user.is_empty() {
                format!("uid {} (started without root)", d.uid)
            } else {
                format!("{} (uid {})", d.user, d.uid)
            };
            eprintln!("tuntrace: running as {who}, capabilities kept: {kept}");
            Ok(())
        }
        Ok(_) => Ok(()),
        Err(e) => {
            say(format!("cannot drop privileges: {e}"));
            Err(NotStarted)
        }
    }
}
