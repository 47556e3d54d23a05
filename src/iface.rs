//! Interface identities: a small id per packet, names kept once in a table.

/// Index into an [`IfaceTable`]; cheap to copy into every frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct IfaceId(pub u32);

const SLL2_BIT: u32 = 0x8000_0000;

/// Distinct interfaces kept by name; a file with more (thousands of IDBs,
/// or SLL2 records with random ifindexes) counts the rest under
/// [`IfaceId::OTHER`], so memory and per-packet lookups stay bounded.
pub const MAX_IFACES: usize = 1024;

impl IfaceId {
    /// Everything past [`MAX_IFACES`].
    pub const OTHER: IfaceId = IfaceId(SLL2_BIT - 1);

    /// The interface a LINUX_SLL2 record names by kernel ifindex. Such ids
    /// need no interning while a file is read; the table names them later.
    pub const fn sll2(ifindex: u32) -> IfaceId {
        IfaceId(SLL2_BIT | (ifindex & !SLL2_BIT))
    }

    pub const fn sll2_ifindex(self) -> Option<u32> {
        if self.0 & SLL2_BIT != 0 {
            Some(self.0 & !SLL2_BIT)
        } else {
            None
        }
    }
}

/// Interned interface names. The same name from two sources (two files, or a
/// file and a live NIC) maps to the same id, so their counts merge.
#[derive(Debug, Default, Clone)]
pub struct IfaceTable {
    names: Vec<String>,
    /// `--ifname N=NAME`: names for SLL2 ifindexes.
    ifindex_names: Vec<(u32, String)>,
}

impl IfaceTable {
    pub fn new() -> Self {
        Self::default()
    }

    /// The id for `name`, adding it when new.
    pub fn intern(&mut self, name: &str) -> IfaceId {
        if let Some(i) = self.names.iter().position(|n| n == name) {
            return IfaceId(i as u32);
        }
        if self.names.len() >= MAX_IFACES {
            return IfaceId::OTHER;
        }
        self.names.push(name.to_string());
        IfaceId((self.names.len() - 1) as u32)
    }

    /// Names SLL2 records that carry `ifindex`.
    pub fn set_ifindex_name(&mut self, ifindex: u32, name: &str) {
        self.ifindex_names.retain(|(i, _)| *i != ifindex);
        self.ifindex_names.push((ifindex, name.to_string()));
    }

    /// The display name: interned name, mapped ifindex, or `ifindex N`.
    pub fn name(&self, id: IfaceId) -> String {
        if id == IfaceId::OTHER {
            return "(other interfaces)".into();
        }
        if let Some(ifindex) = id.sll2_ifindex() {
            return match self.ifindex_names.iter().find(|(i, _)| *i == ifindex) {
                Some((_, n)) => n.clone(),
                None => format!("ifindex {ifindex}"),
            };
        }
        self.names
            .get(id.0 as usize)
            .cloned()
            .unwrap_or_else(|| format!("if{}", id.0))
    }

    /// Every interned id, in interning order.
    pub fn ids(&self) -> impl Iterator<Item = IfaceId> + '_ {
        (0..self.names.len() as u32).map(IfaceId)
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}
