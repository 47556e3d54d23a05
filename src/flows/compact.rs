//! A hash map from 128-bit keys to small values, in one open-addressing
//! array: the flow table's per-packet lookups for IPv4 tunnels and pairs.
//!
//! Why not a `HashMap`: with tens of thousands of live pod pairs every
//! lookup is a cache miss, and hashbrown keeps keys apart from their control
//! bytes (two misses). Here key and value share a 32-byte slot, so a lookup
//! touches one cache line, and the caller can [`CompactMap::prefetch`] it a
//! batch ahead so that the misses overlap. Keys are plain integers, so
//! hashing and comparing cost a few instructions.
//!
//! The map grows only when the caller inserts, and the flow table never
//! inserts past its limits, so memory stays bounded (≤ 64 B per entry).

use std::hash::{BuildHasher, Hasher};

/// Marks a free slot; never a key (the packed keys keep their top bits clear).
pub const EMPTY: u128 = u128::MAX;

/// [`CompactMap::find_each`]'s answer for a key that is not there.
pub const NOT_FOUND: u32 = u32::MAX;

/// Slots allocated on the first insert.
const MIN_SLOTS: usize = 64;

#[derive(Debug, Clone, Copy)]
#[repr(C, align(32))]
struct Slot<V> {
    key: u128,
    value: V,
}

#[derive(Debug, Clone)]
pub struct CompactMap<V> {
    slots: Vec<Slot<V>>,
    /// `64 - log2(slots.len())`, kept with the slots: the shift that takes a
    /// hash's top bits as a slot index (valid once there are slots).
    shift: u32,
    len: usize,
    /// Per-map random seed: a crafted capture cannot aim at long probe chains.
    seed: u64,
}

impl<V: Copy + Default> Default for CompactMap<V> {
    fn default() -> Self {
        CompactMap {
            slots: Vec::new(),
            shift: 64,
            len: 0,
            seed: std::collections::hash_map::RandomState::new()
                .build_hasher()
                .finish(),
        }
    }
}

impl<V: Copy + Default> CompactMap<V> {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The key's hash, for [`Self::prefetch`] and the lookups.
    #[inline]
    pub fn hash(&self, key: u128) -> u64 {
        // A folded 64×64→128 multiply mixes every key bit into the high bits,
        // which pick the slot.
        let m = u128::from((key as u64) ^ self.seed)
            * u128::from(((key >> 64) as u64) ^ 0x9E37_79B9_7F4A_7C15);
        (m as u64) ^ ((m >> 64) as u64)
    }

    #[inline]
    fn home(&self, hash: u64) -> usize {
        (hash.wrapping_mul(0xD6E8_FEB8_6659_FD93) >> self.shift) as usize
    }

    /// Starts loading the slot that `hash` lands on.
    #[inline]
    pub fn prefetch(&self, hash: u64) {
        if !self.slots.is_empty() {
            prefetch(&self.slots[self.home(hash)]);
        }
    }

    /// The value of `key`, if present.
    #[inline]
    pub fn get(&self, key: u128, hash: u64) -> Option<V> {
        let i = self.find(key, hash).ok()?;
        Some(self.slots[i].value)
    }

    /// The value of `key`, if present.
    #[inline]
    pub fn get_mut(&mut self, key: u128, hash: u64) -> Option<&mut V> {
        let i = self.find(key, hash).ok()?;
        Some(&mut self.slots[i].value)
    }

    /// The slot holding `key` (Ok) or the free slot ending its probe (Err).
    /// [`EMPTY`] itself is never found.
    #[inline]
    fn find(&self, key: u128, hash: u64) -> Result<usize, usize> {
        if self.slots.is_empty() || key == EMPTY {
            return Err(usize::MAX);
        }
        let mask = self.slots.len() - 1;
        // Indexed by `i & mask` into exactly `mask + 1` slots: no bounds
        // check per probe.
        let slots = &self.slots[..=mask];
        let mut i = self.home(hash);
        loop {
            let k = slots[i & mask].key;
            if k == key {
                return Ok(i & mask);
            }
            if k == EMPTY {
                return Err(i & mask);
            }
            i = (i & mask) + 1;
        }
    }

    /// Where each of `keys` sits, or [`NOT_FOUND`] (always for [`EMPTY`]),
    /// looked up a group at a time so that the group's slots load together
    /// (a merge looks up tens of thousands of pairs, each a cache miss).
    pub fn find_each(&self, keys: impl Iterator<Item = u128>) -> Vec<u32> {
        const GROUP: usize = 16;
        let mut keys = keys.fuse();
        let mut out = Vec::with_capacity(keys.size_hint().0);
        let mut group = [(EMPTY, 0u64); GROUP];
        loop {
            let mut n = 0;
            for key in keys.by_ref().take(GROUP) {
                let hash = self.hash(key);
                self.prefetch(hash);
                group[n] = (key, hash);
                n += 1;
            }
            if n == 0 {
                return out;
            }
            out.extend(
                group[..n]
                    .iter()
                    .map(|&(key, hash)| match self.find(key, hash) {
                        Ok(i) => i as u32,
                        Err(_) => NOT_FOUND,
                    }),
            );
        }
    }

    /// The value in `slot`, as [`Self::find_each`] gave it (no insert since).
    #[inline]
    pub fn value_at_mut(&mut self, slot: u32) -> &mut V {
        &mut self.slots[slot as usize].value
    }

    /// Inserts `key`, known to be absent (`key` ≠ [`EMPTY`]), growing
    /// first when the map would pass 5/8 full.
    pub fn insert_new(&mut self, key: u128, hash: u64, value: V) {
        debug_assert!(key != EMPTY);
        if (self.len + 1) * 8 > self.slots.len() * 5 {
            self.grow();
        }
        let mask = self.slots.len() - 1;
        let mut i = self.home(hash);
        while self.slots[i].key != EMPTY {
            i = (i + 1) & mask;
        }
        self.slots[i] = Slot { key, value };
        self.len += 1;
    }

    fn grow(&mut self) {
        let n = (self.slots.len() * 2).max(MIN_SLOTS);
        let free = Slot {
            key: EMPTY,
            value: V::default(),
        };
        let old = std::mem::replace(&mut self.slots, vec![free; n]);
        self.shift = 64 - n.trailing_zeros();
        self.len = 0;
        for s in old.into_iter().filter(|s| s.key != EMPTY) {
            let h = self.hash(s.key);
            self.insert_new(s.key, h, s.value);
        }
    }

    /// Every entry, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (u128, V)> + '_ {
        self.slots
            .iter()
            .filter(|s| s.key != EMPTY)
            .map(|s| (s.key, s.value))
    }
}

/// Starts loading the cache line of `r` (a hint; a no-op where unsupported).
#[inline(always)]
pub(crate) fn prefetch<T>(r: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch has no effect the program can observe, and `r` is a
    // valid reference anyway.
    unsafe {
        std::arch::x86_64::_mm_prefetch(r as *const T as *const i8, std::arch::x86_64::_MM_HINT_T0)
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = r;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn matches_a_hashmap_through_growth() {
        let mut m: CompactMap<u64> = CompactMap::default();
        let mut want: HashMap<u128, u64> = HashMap::new();
        let mut x = 0x1234_5678_u64;
        for i in 0..300_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // Few distinct values per field: many near-colliding keys.
            let key = u128::from(x % 5000) | u128::from((x >> 40) % 7) << 96;
            let h = m.hash(key);
            match m.get_mut(key, h) {
                Some(v) => *v += i,
                None => m.insert_new(key, h, i),
            }
            *want.entry(key).or_default() += i;
        }
        assert_eq!(m.len(), want.len());
        assert!(m.slots.len() * 5 >= m.len() * 8);
        for (k, v) in m.iter() {
            assert_eq!(want[&k], v, "key {k:x}");
        }
        assert_eq!(m.iter().count(), want.len());
    }

    #[test]
    fn the_empty_marker_is_never_found() {
        let mut m: CompactMap<u32> = CompactMap::default();
        m.insert_new(1, m.hash(1), 5);
        assert!(m.get(EMPTY, m.hash(EMPTY)).is_none());
        assert!(m.get_mut(EMPTY, m.hash(EMPTY)).is_none());
        assert_eq!(m.get(1, m.hash(1)), Some(5));
    }

    #[test]
    fn find_each_gives_the_slot_of_every_key_present_across_groups() {
        let mut m: CompactMap<u64> = CompactMap::default();
        for k in (0..1000u128).step_by(3) {
            m.insert_new(k, m.hash(k), k as u64 * 10);
        }
        // 40 keys: more than two groups, the last one partial; the marker
        // and absent keys in between.
        let keys: Vec<u128> = (0..39u128).chain([EMPTY]).collect();
        let slots = m.find_each(keys.iter().copied());
        assert_eq!(slots.len(), keys.len());
        for (&k, &slot) in keys.iter().zip(&slots) {
            if k != EMPTY && k % 3 == 0 {
                assert_ne!(slot, NOT_FOUND, "key {k}");
                assert_eq!(*m.value_at_mut(slot), k as u64 * 10);
            } else {
                assert_eq!(slot, NOT_FOUND, "key {k}");
            }
        }
        assert!(CompactMap::<u8>::default().find_each([1, 2].into_iter()) == [NOT_FOUND; 2]);
    }

    #[test]
    fn empty_map_finds_nothing_and_allocates_nothing() {
        let mut m: CompactMap<u32> = CompactMap::default();
        let h = m.hash(7);
        m.prefetch(h);
        assert!(m.get_mut(7, h).is_none());
        assert!(m.is_empty());
        assert_eq!(m.slots.capacity(), 0);
    }
}
