//! Which Calico release's rules to follow. Autodetection changed between
//! releases; `--calico-version` picks the release, default [`CURRENT`].
//!
//! * v3.32: addresses are read with one netlink dump (vishvananda/netlink)
//!   instead of Go's `net.Interface.Addrs`, so a point-to-point address
//!   (`ip addr add 10.0.0.1 peer 10.0.0.2/24`) keeps its local address with
//!   a full mask (10.0.0.1/32, fd00::1/128) where v3.31 and before kept the
//!   prefix length (10.0.0.1/24). CrossSubnet uses that subnet.
//!
//! Releases before v3.25 are refused: their default exclusion list
//! (unanchored, without `^br-.*` or `^nodelocaldns.*`, entries that came in
//! patch releases) and `kubernetes-internal-ip` (none before v3.22, the
//! masked network before v3.24) differ in ways tuntrace does not model.

use std::fmt;
use std::str::FromStr;

/// A Calico release, `major.minor` (patch releases do not change the rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CalicoVersion {
    pub major: u16,
    pub minor: u16,
}

/// The current Calico release (v3.32.0, May 2026).
pub const CURRENT: CalicoVersion = CalicoVersion::new(3, 32);

/// The first release that reads addresses over netlink.
const NETLINK_ADDRESSES: CalicoVersion = CalicoVersion::new(3, 32);

/// The oldest release whose rules tuntrace follows in full.
pub const OLDEST: CalicoVersion = CalicoVersion::new(3, 25);

impl CalicoVersion {
    pub const fn new(major: u16, minor: u16) -> CalicoVersion {
        CalicoVersion { major, minor }
    }

    /// Whether addresses come from a netlink dump (v3.32+): a point-to-point
    /// local address then gets a full mask instead of the prefix length.
    pub fn full_mask_on_point_to_point(self) -> bool {
        self >= NETLINK_ADDRESSES
    }

    /// One line for output: which rules were applied.
    pub fn rules(self) -> String {
        if self.full_mask_on_point_to_point() {
            format!(
                "Calico {self} (point-to-point addresses as ip/32 and ip/128, read over netlink)"
            )
        } else {
            format!("Calico {self} (point-to-point addresses keep their prefix length, read with Go's net package)")
        }
    }
}

impl Default for CalicoVersion {
    fn default() -> Self {
        CURRENT
    }
}

impl fmt::Display for CalicoVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}.{}", self.major, self.minor)
    }
}

impl FromStr for CalicoVersion {
    type Err = String;

    /// `3.31`, `v3.31` or `v3.31.4` (the patch is read and ignored).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("{s:?} is not a Calico version (expected e.g. 3.31 or v3.32.1)");
        let t = s.strip_prefix('v').unwrap_or(s);
        let mut parts = t.split('.');
        let mut num = || -> Result<Option<u16>, String> {
            match parts.next() {
                None => Ok(None),
                Some(p)
                    if !p.is_empty() && p.len() <= 4 && p.bytes().all(|b| b.is_ascii_digit()) =>
                {
                    p.parse().map(Some).map_err(|_| bad())
                }
                Some(_) => Err(bad()),
            }
        };
        let major = num()?.ok_or_else(bad)?;
        let minor = num()?.ok_or_else(bad)?;
        let _patch = num()?;
        if num()?.is_some() || major != 3 {
            return Err(format!("{}: tuntrace knows Calico v3 only", bad()));
        }
        let v = CalicoVersion::new(major, minor);
        if v < OLDEST {
            return Err(format!(
                "Calico {v} is older than {OLDEST}, whose exclusion list and \
                 kubernetes-internal-ip tuntrace follows; earlier rules are not modelled"
            ));
        }
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_orders() {
        assert_eq!("3.31".parse(), Ok(CalicoVersion::new(3, 31)));
        assert_eq!("v3.32.1".parse(), Ok(CalicoVersion::new(3, 32)));
        assert!("3".parse::<CalicoVersion>().is_err());
        assert!("3.x".parse::<CalicoVersion>().is_err());
        assert!("2.6".parse::<CalicoVersion>().is_err());
        assert!("3.24"
            .parse::<CalicoVersion>()
            .unwrap_err()
            .contains("v3.25"));
        assert_eq!("3.25".parse(), Ok(OLDEST));
        assert!("3.31.1.1".parse::<CalicoVersion>().is_err());
        assert!(!CalicoVersion::new(3, 31).full_mask_on_point_to_point());
        assert!(CURRENT.full_mask_on_point_to_point());
        assert_eq!(CURRENT.to_string(), "v3.32");
    }
}
