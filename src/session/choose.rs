//! Which NICs a capture session opens.
//!
//! Every NIC of the lab (and of many VMs) is virtual, so "physical" cannot be
//! told from sysfs; like Calico we choose by name, with its v3.25+ default
//! exclusion list (`calico::autodetect::DEFAULT_EXCLUDES`), and keep only
//! interfaces that are administratively up (`IFF_UP`: a veth's operstate may
//! read DOWN for a moment after `up`).

use crate::calico::autodetect::default_exclusion;
use crate::os::ifaces::{Iface, ANY};

/// The interfaces chosen, and the ones left out with the reason.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    pub chosen: Vec<String>,
    pub skipped: Vec<(String, String)>,
}

/// Why no capture list could be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SelectError {
    /// `-i NAME` names no interface here; `existing` lists those that exist.
    Unknown { name: String, existing: Vec<String> },
    /// `-i NAME` cannot be an interface name (a path, say).
    BadName { name: String, why: &'static str },
    /// Nothing was left after the exclusions.
    NoneLeft { skipped: Vec<(String, String)> },
}

impl std::fmt::Display for SelectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SelectError::Unknown { name, existing } => write!(
                f,
                "no interface named {name:?} here; interfaces: {}",
                existing.join(", ")
            ),
            SelectError::BadName { name, why } => write!(
                f,
                "-i {name:?} is not an interface name ({why}; interface names are 1 to 15 \
                 bytes without '/' or white space)"
            ),
            SelectError::NoneLeft { skipped } => {
                write!(f, "no interface to capture on (skipped: ")?;
                write_skipped(f, skipped)?;
                write!(f, "); name one with -i")
            }
        }
    }
}

/// `a (why), b (why)` for messages.
pub fn write_skipped(
    f: &mut dyn std::fmt::Write,
    skipped: &[(String, String)],
) -> std::fmt::Result {
    for (i, (name, why)) in skipped.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{name} ({why})")?;
    }
    Ok(())
}

/// Why `name` cannot name a Linux interface (the kernel's `dev_valid_name`
/// rules), so a path given to `-i` is refused before anything is opened.
pub fn check_name(name: &str) -> Result<(), SelectError> {
    let why = if name.is_empty() {
        "it is empty"
    } else if name.len() > 15 {
        "it is longer than 15 bytes"
    } else if name == "." || name == ".." || name.contains('/') {
        "it is a path"
    } else if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        "it contains white space"
    } else {
        return Ok(());
    };
    Err(SelectError::BadName {
        name: name.to_string(),
        why,
    })
}

/// Chooses the capture list. With `requested` empty: every up interface that
/// Calico does not exclude. Otherwise exactly the requested ones (deduplicated,
/// in the given order), each of which must exist (`any` always does).
pub fn select(all: &[Iface], requested: &[String]) -> Result<Selection, SelectError> {
    let mut sel = Selection::default();
    if requested.is_empty() {
        for i in all {
            if let Some(p) = default_exclusion(&i.name) {
                sel.skipped
                    .push((i.name.clone(), format!("Calico excludes {p}")));
            } else if !i.up {
                sel.skipped.push((i.name.clone(), "down".into()));
            } else {
                sel.chosen.push(i.name.clone());
            }
        }
        if sel.chosen.is_empty() {
            return Err(SelectError::NoneLeft {
                skipped: sel.skipped,
            });
        }
        return Ok(sel);
    }
    for name in requested {
        check_name(name)?;
        if sel.chosen.contains(name) {
            continue;
        }
        if name != ANY && !all.iter().any(|i| &i.name == name) {
            return Err(SelectError::Unknown {
                name: name.clone(),
                existing: all.iter().map(|i| i.name.clone()).collect(),
            });
        }
        sel.chosen.push(name.clone());
    }
    Ok(sel)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iface(name: &str, index: u32, up: bool) -> Iface {
        Iface {
            name: name.into(),
            index,
            up,
        }
    }

    fn node() -> Vec<Iface> {
        vec![
            iface("lo", 1, true),
            iface("ens32", 2, true),
            iface("ens33", 3, true),
            iface("tunl0", 4, true),
            iface("cali1234567890a", 5, true),
            iface("vxlan.calico", 6, true),
            iface("eth9", 7, false),
            iface("br0", 8, true),
            iface("local-br", 9, true),
            iface("ibmveth0", 10, true),
        ]
    }

    #[test]
    fn default_choice_follows_calico_list() {
        let sel = select(&node(), &[]).unwrap();
        assert_eq!(sel.chosen, ["ens32", "ens33", "br0", "ibmveth0"]);
        let why = |n: &str| {
            sel.skipped
                .iter()
                .find(|(s, _)| s == n)
                .map(|(_, w)| w.clone())
        };
        assert_eq!(why("lo").unwrap(), "Calico excludes ^lo");
        assert_eq!(why("local-br").unwrap(), "Calico excludes ^lo");
        assert_eq!(why("tunl0").unwrap(), "Calico excludes ^tunl.*");
        assert_eq!(
            why("vxlan.calico").unwrap(),
            "Calico excludes ^vxlan\\.calico.*"
        );
        assert_eq!(why("eth9").unwrap(), "down");
    }

    #[test]
    fn explicit_list_is_honoured_and_checked() {
        let req = vec![
            "tunl0".to_string(),
            "ens33".into(),
            "tunl0".into(),
            "any".into(),
        ];
        assert_eq!(
            select(&node(), &req).unwrap().chosen,
            ["tunl0", "ens33", "any"]
        );
        match select(&node(), &["nope".to_string()]) {
            Err(SelectError::Unknown { name, existing }) => {
                assert_eq!(name, "nope");
                assert!(existing.contains(&"ens32".to_string()));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn paths_are_not_interface_names() {
        for bad in ["/dev/null", "../eth0", "..", "", "a b", "abcdefghijklmnop"] {
            let e = select(&node(), &[bad.to_string()]).unwrap_err();
            assert!(matches!(e, SelectError::BadName { .. }), "{bad}: {e}");
            assert!(e.to_string().contains(&format!("{bad:?}")), "{e}");
        }
        assert!(check_name("vxlan.calico").is_ok());
        assert!(check_name("cali1234567890a").is_ok());
    }

    #[test]
    fn nothing_left_is_an_error() {
        let only = vec![iface("lo", 1, true), iface("eth0", 2, false)];
        let e = select(&only, &[]).unwrap_err();
        assert!(e.to_string().contains("lo (Calico excludes ^lo)"), "{e}");
        assert!(e.to_string().contains("eth0 (down)"), "{e}");
    }
}
