//! A bound on what a YAML document expands to before it is read into the
//! model. YAML aliases (`*a`) repeat an anchored node (`&a`) wherever they
//! stand, so a few KiB can stand for gigabytes ("billion laughs").
//! serde_yaml stops after 100 alias jumps per event, which bounds the number
//! of jumps, not what each jump repeats: 1,000 aliases of one 4 KiB node
//! pass it and become 4 MiB of strings. kubectl never writes aliases; a
//! document that does is read only while what it expands to stays within a
//! small multiple of the file.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess, Visitor};

/// Nodes and scalar bytes a document may expand to, per byte of text: a
/// document without aliases has at most one node and one scalar byte per
/// byte of text (escapes only shorten: `\L`, two bytes, is three in UTF-8,
/// hence two).
const PER_BYTE: usize = 2;
/// Allowance for tiny documents (an empty one still has its root node).
const SLACK: usize = 64;

/// Walks the YAML document in `text` without keeping anything, and fails
/// once the nodes or scalar bytes it visits (aliases followed) pass
/// [`PER_BYTE`] per byte of text.
pub fn check_yaml_expansion(text: &str) -> Result<(), String> {
    let limit = text.len().saturating_mul(PER_BYTE).saturating_add(SLACK);
    let mut walk = Walk {
        nodes: 0,
        bytes: 0,
        limit,
    };
    let de = serde_yaml::Deserializer::from_str(text);
    match (&mut walk).deserialize(de) {
        Ok(()) => Ok(()),
        Err(_) if walk.over() => Err(format!(
            "YAML aliases expand the document past {PER_BYTE} times its {} bytes: refused",
            text.len()
        )),
        Err(e) => Err(format!("not a Kubernetes list (YAML): {e}")),
    }
}

struct Walk {
    nodes: usize,
    bytes: usize,
    limit: usize,
}

impl Walk {
    fn over(&self) -> bool {
        self.nodes > self.limit || self.bytes > self.limit
    }

    fn node<E: de::Error>(&mut self, bytes: usize) -> Result<(), E> {
        self.nodes += 1;
        self.bytes = self.bytes.saturating_add(bytes);
        if self.over() {
            return Err(E::custom("expansion limit"));
        }
        Ok(())
    }
}

impl<'de> DeserializeSeed<'de> for &mut Walk {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for &mut Walk {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML node")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.node(0)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.node(0)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.node(0)
    }
    fn visit_i128<E: de::Error>(self, _: i128) -> Result<(), E> {
        self.node(0)
    }
    fn visit_u128<E: de::Error>(self, _: u128) -> Result<(), E> {
        self.node(0)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.node(0)
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<(), E> {
        self.node(s.len())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.node(0)
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.node(0)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        self.deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.node(0)?;
        while seq.next_element_seed(&mut *self)?.is_some() {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        self.node(0)?;
        while map.next_key_seed(&mut *self)?.is_some() {
            map.next_value_seed(&mut *self)?;
        }
        Ok(())
    }
    /// A tagged node (`!tag value`): the tag, then the value.
    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<(), A::Error> {
        use de::VariantAccess;
        let (tag, value) = data.variant::<String>()?;
        self.node(tag.len())?;
        value.newtype_variant_seed(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_documents_pass_and_alias_bombs_do_not() {
        let list = include_str!("../../tests/data-k8s/list.yaml");
        check_yaml_expansion(list).unwrap();
        check_yaml_expansion("").unwrap();
        check_yaml_expansion("a: !t [1, x, {b: ~}]\n").unwrap();
        // One alias of a small node is fine.
        check_yaml_expansion("a: &x {name: web}\nb: *x\n").unwrap();
        let name = "n".repeat(400);
        let mut bomb = format!("x: &p {{metadata: {{name: {name}}}}}\nitems: [");
        bomb.push_str(&"*p, ".repeat(50));
        bomb.push_str("]\n");
        let e = check_yaml_expansion(&bomb).unwrap_err();
        assert!(e.contains("YAML aliases expand"), "{e}");
    }
}
