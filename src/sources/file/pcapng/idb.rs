//! Interface Description Blocks: link type, snaplen and the options we use
//! (if_name 2, if_description 3, if_tsresol 9, if_tsoffset 14).

use std::sync::Arc;

use super::super::{rd16, rd32, LinkFilter};
use crate::iface::{IfaceId, IfaceTable};
use crate::linktype::LinkType;

const OPT_END: u16 = 0;
const IF_NAME: u16 = 2;
const IF_DESCRIPTION: u16 = 3;
const IF_TSRESOL: u16 = 9;
const IF_TSOFFSET: u16 = 14;

/// How an interface's timestamp units become nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TsUnit {
    /// 10^-k seconds with k ≤ 9.
    Mul(u64),
    /// 10^-k seconds with k > 9.
    Div(u64),
    /// 2^-k seconds.
    Shift(u32),
}

impl TsUnit {
    /// From an `if_tsresol` byte: bit 7 picks a power of 2, else of 10.
    pub(super) fn from_tsresol(r: u8) -> TsUnit {
        let k = u32::from(r & 0x7f);
        if r & 0x80 != 0 {
            TsUnit::Shift(k)
        } else if k <= 9 {
            TsUnit::Mul(10u64.pow(9 - k))
        } else {
            // Units below 10^-28 s make every timestamp round to 0.
            10u64.checked_pow(k - 9).map_or(TsUnit::Mul(0), TsUnit::Div)
        }
    }

    #[inline]
    pub(super) fn to_ns(self, t: u64) -> u64 {
        match self {
            TsUnit::Mul(m) => t.saturating_mul(m),
            TsUnit::Div(d) => t / d,
            TsUnit::Shift(k) => {
                let ns = (u128::from(t) * 1_000_000_000) >> k;
                u64::try_from(ns).unwrap_or(u64::MAX)
            }
        }
    }
}

/// One IDB of the current section, as packets need it.
#[derive(Debug, Clone)]
pub(super) struct Iface {
    pub(super) id: IfaceId,
    pub(super) linktype: LinkType,
    pub(super) unit: TsUnit,
    /// `if_tsoffset`, in nanoseconds.
    pub(super) offset_ns: i64,
    pub(super) snaplen: u32,
    /// Only frames this accepts are delivered (set by the caller).
    pub(super) filter: Option<Arc<dyn LinkFilter>>,
}

/// Equal when packets read the same: the filter is compiled from the link
/// type, so it is left out (a split part compares the interfaces it assumed
/// with the ones in effect at its cut).
impl PartialEq for Iface {
    fn eq(&self, o: &Self) -> bool {
        (
            self.id,
            self.linktype,
            self.unit,
            self.offset_ns,
            self.snaplen,
        ) == (o.id, o.linktype, o.unit, o.offset_ns, o.snaplen)
    }
}

impl Eq for Iface {}

impl Iface {
    /// A packet block's timestamp (in this interface's units) in ns.
    #[inline]
    pub(super) fn ts_ns(&self, t: u64) -> u64 {
        let ns = self.unit.to_ns(t);
        if self.offset_ns >= 0 {
            ns.saturating_add(self.offset_ns as u64)
        } else {
            ns.saturating_sub(self.offset_ns.unsigned_abs())
        }
    }
}

/// Parses a whole IDB (`blk`, trailer included) that is the `index`th of
/// its section, interning its name. Errors are damage details.
pub(super) fn parse<const BE: bool>(
    blk: &[u8],
    index: usize,
    ifaces: &mut IfaceTable,
) -> Result<Iface, String> {
    if blk.len() < 20 {
        return Err(format!(
            "interface description block too short ({} bytes)",
            blk.len()
        ));
    }
    let linktype = LinkType(u32::from(rd16::<BE>(blk, 8)));
    let snaplen = rd32::<BE>(blk, 12);
    let (mut name, mut descr) = (None, None);
    let mut unit = TsUnit::Mul(1_000);
    let mut offset_s = 0i64;
    let mut opts = &blk[16..blk.len() - 4];
    while opts.len() >= 4 {
        let code = rd16::<BE>(opts, 0);
        let olen = usize::from(rd16::<BE>(opts, 2));
        if code == OPT_END {
            break;
        }
        if 4 + olen > opts.len() {
            return Err(format!(
                "interface {index}: option {code} runs past the block end"
            ));
        }
        let val = &opts[4..4 + olen];
        match (code, olen) {
            (IF_NAME, _) => name = text(val),
            (IF_DESCRIPTION, _) => descr = text(val),
            (IF_TSRESOL, 1..) => unit = TsUnit::from_tsresol(val[0]),
            (IF_TSOFFSET, 8..) => {
                let mut b = [0u8; 8];
                b.copy_from_slice(&val[..8]);
                offset_s = if BE {
                    i64::from_be_bytes(b)
                } else {
                    i64::from_le_bytes(b)
                };
            }
            _ => {}
        }
        opts = &opts[(4 + olen.next_multiple_of(4)).min(opts.len())..];
    }
    let label = name.or(descr).unwrap_or_else(|| format!("if{index}"));
    Ok(Iface {
        id: ifaces.intern(&label),
        linktype,
        unit,
        offset_ns: offset_s.saturating_mul(1_000_000_000),
        snaplen,
        filter: None,
    })
}

/// An option string: UTF-8 (lossy), trailing NULs dropped, empty → None.
fn text(v: &[u8]) -> Option<String> {
    let end = v.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1);
    (end > 0).then(|| String::from_utf8_lossy(&v[..end]).into_owned())
}
