//! Interface identities: a small id per packet, names kept once in a table.

/// Index into an [`IfaceTable`]; cheap to copy into every frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IfaceId(pub u32);

/// Interned interface names. The same name from two sources (two files, or a
/// file and a live NIC) maps to the same id, so their counts merge.
#[derive(Debug, Default, Clone)]
pub struct IfaceTable {
    names: Vec<String>,
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
        self.names.push(name.to_string());
        IfaceId((self.names.len() - 1) as u32)
    }

    pub fn name(&self, id: IfaceId) -> &str {
        self.names.get(id.0 as usize).map(String::as_str).unwrap_or("?")
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}
