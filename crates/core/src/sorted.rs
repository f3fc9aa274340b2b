//! The client's small maps and sets: sorted `Vec`s instead of `BTreeMap`/`BTreeSet` (and of
//! `HashMap`s that need no hashing); and [`StringSet`], the set of userIDs in the shared model
//! (a group's admins and members), so that no B-tree code reaches the browser module at all.
//!
//! Same order and semantics as the B-trees they replaced (keys unique, iteration in key order),
//! a fraction of the code: every `BTreeMap<K, V>` the browser module instantiated cost it 1–3 KB
//! of gzipped wasm (insert with node splits, removal with rebalancing, drop, iterators), every
//! `HashMap<K, V>` about 0.5 KB; these are a binary search over a `Vec`. The client's maps are
//! small (conversations, groups, pending revokes, out-of-order events, revokes told ahead of
//! their event), so an insert's shift of the tail costs nothing measurable.

use std::borrow::Borrow;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A map ordered by key (as `BTreeMap`). Also the browser module's map of pending promises.
///
/// Keys and values in two `Vec`s side by side: the binary search sees only the keys, so every
/// map with `String` keys shares one copy of it whatever its values.
#[derive(Clone, Debug)]
pub struct SortedMap<K, V> {
    keys: Vec<K>,
    values: Vec<V>,
}

impl<K, V> Default for SortedMap<K, V> {
    fn default() -> Self {
        SortedMap {
            keys: Vec::new(),
            values: Vec::new(),
        }
    }
}

impl<K, V> IntoIterator for SortedMap<K, V> {
    type Item = (K, V);
    type IntoIter = std::iter::Zip<std::vec::IntoIter<K>, std::vec::IntoIter<V>>;
    fn into_iter(self) -> Self::IntoIter {
        self.keys.into_iter().zip(self.values)
    }
}

/// Where `key` is among `keys` (sorted), or where it would go.
fn position<K: Borrow<Q>, Q: Ord + ?Sized>(keys: &[K], key: &Q) -> Result<usize, usize> {
    keys.binary_search_by(|k| k.borrow().cmp(key))
}

impl<K: Ord, V> SortedMap<K, V> {
    /// The value at `key`.
    pub fn get<Q: Ord + ?Sized>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
    {
        position(&self.keys, key).ok().map(|i| &self.values[i])
    }

    /// The value at `key`, to change.
    pub fn get_mut<Q: Ord + ?Sized>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
    {
        match position(&self.keys, key) {
            Ok(i) => Some(&mut self.values[i]),
            Err(_) => None,
        }
    }

    /// Whether `key` has a value.
    pub fn contains_key<Q: Ord + ?Sized>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
    {
        position(&self.keys, key).is_ok()
    }

    /// Inserts or replaces (the old value is dropped).
    pub fn insert(&mut self, key: K, value: V) {
        match position(&self.keys, &key) {
            Ok(i) => self.values[i] = value,
            Err(i) => {
                self.keys.insert(i, key);
                self.values.insert(i, value);
            }
        }
    }

    /// The value at `key`, inserted by `make` when absent.
    pub fn get_or_insert_with(&mut self, key: K, make: impl FnOnce() -> V) -> &mut V {
        let i = match position(&self.keys, &key) {
            Ok(i) => i,
            Err(i) => {
                self.keys.insert(i, key);
                self.values.insert(i, make());
                i
            }
        };
        &mut self.values[i]
    }

    /// Removes and returns the value at `key`.
    pub fn remove<Q: Ord + ?Sized>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
    {
        let i = position(&self.keys, key).ok()?;
        self.keys.remove(i);
        Some(self.values.remove(i))
    }

    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// How many entries.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// The entries in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.keys.iter().zip(&self.values)
    }

    /// Keeps the entries for which `keep` holds. Each removal shifts the tail: `O(n)` per entry
    /// removed, which the client's maps afford (the told revokes are capped at
    /// `persist::TOLD_CAP`, a prune usually drops one; the pending requests lose only a sync).
    pub fn retain(&mut self, mut keep: impl FnMut(&K, &V) -> bool) {
        let mut i = 0;
        while i < self.keys.len() {
            if keep(&self.keys[i], &self.values[i]) {
                i += 1;
            } else {
                self.keys.remove(i);
                self.values.remove(i);
            }
        }
    }

    /// The keys in order.
    pub fn keys(&self) -> impl Iterator<Item = &K> {
        self.keys.iter()
    }

    /// The values in key order.
    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.values.iter()
    }

    /// The values in key order, to change.
    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut V> {
        self.values.iter_mut()
    }
}

/// A set of seqs in ascending order (as `BTreeSet<u64>`). Not generic: one copy of its code.
///
/// A sorted `Vec` whose first `head` slots are unused, so that taking the lowest seqs out (a
/// conversation's oldest unread message revoked, or read with those before it: `keep_above`)
/// moves none of the others. (`Vec::remove(0)` moved every other seq: revoking the unread
/// messages of a conversation from the oldest on was quadratic.) Other removals move the seqs
/// above, as before.
#[derive(Clone, Debug, Default)]
pub(crate) struct SeqSet {
    v: Vec<u64>,
    head: usize,
}

impl SeqSet {
    fn live(&self) -> &[u64] {
        self.v.get(self.head..).unwrap_or_default()
    }

    /// Adds `s`; whether it was new.
    pub fn insert(&mut self, s: u64) -> bool {
        match self.live().binary_search(&s) {
            Ok(_) => false,
            Err(i) => {
                self.v.insert(self.head + i, s);
                true
            }
        }
    }

    /// Removes `s`; whether it was there.
    pub fn remove(&mut self, s: u64) -> bool {
        let Ok(i) = self.live().binary_search(&s) else {
            return false;
        };
        if i == 0 {
            self.forget(1);
        } else {
            self.v.remove(self.head + i);
        }
        true
    }

    /// Keeps the seqs above `s`.
    pub fn keep_above(&mut self, s: u64) {
        let n = self.live().partition_point(|x| *x <= s);
        self.forget(n);
    }

    /// The `n` lowest slots unused; the unused slots given back once they are the majority
    /// (each seq is moved once per halving: amortized `O(1)`).
    fn forget(&mut self, n: usize) {
        self.head += n;
        if self.head * 2 > self.v.len() {
            let len = self.len();
            self.v.copy_within(self.head.., 0);
            self.v.truncate(len);
            self.head = 0;
        }
    }

    pub fn len(&self) -> usize {
        self.v.len() - self.head
    }
}

/// A set of strings in ascending order, as `BTreeSet<String>` was: same iteration order, same
/// JSON (an array, sorted), unique members. A binary search over a `Vec` (membership checks are
/// `O(log n)`). Building one from many strings (`collect`, `extend`: the hub's member lists)
/// sorts once; the client inserts one at a time, so no sort code reaches the browser module.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct StringSet(Vec<String>);

impl StringSet {
    /// An empty set.
    pub fn new() -> StringSet {
        StringSet(Vec::new())
    }

    fn find(&self, s: &str) -> Result<usize, usize> {
        // The same search as the maps' with `String` keys: one copy of it.
        position(&self.0, s)
    }

    /// Whether `s` is in the set.
    pub fn contains(&self, s: &str) -> bool {
        self.find(s).is_ok()
    }

    /// Adds `s`; whether it was new.
    pub fn insert(&mut self, s: String) -> bool {
        match self.find(&s) {
            Ok(_) => false,
            Err(i) => {
                self.0.insert(i, s);
                true
            }
        }
    }

    /// Removes `s`; whether it was there.
    pub fn remove(&mut self, s: &str) -> bool {
        match self.find(s) {
            Ok(i) => {
                self.0.remove(i);
                true
            }
            Err(_) => false,
        }
    }

    /// How many strings.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether every string of `self` is in `other`.
    pub fn is_subset(&self, other: &StringSet) -> bool {
        self.0.iter().all(|s| other.contains(s))
    }

    /// Removes every string.
    pub fn clear(&mut self) {
        self.0.clear();
    }

    /// The strings in ascending order.
    pub fn iter(&self) -> std::slice::Iter<'_, String> {
        self.0.iter()
    }

    /// Sorted, without duplicates (after appending several at once).
    fn normalize(&mut self) {
        self.0.sort_unstable();
        self.0.dedup();
    }
}

impl Extend<String> for StringSet {
    fn extend<I: IntoIterator<Item = String>>(&mut self, items: I) {
        self.0.extend(items);
        self.normalize();
    }
}

impl FromIterator<String> for StringSet {
    fn from_iter<I: IntoIterator<Item = String>>(items: I) -> StringSet {
        let mut set = StringSet(items.into_iter().collect());
        set.normalize();
        set
    }
}

impl<const N: usize> From<[String; N]> for StringSet {
    fn from(items: [String; N]) -> StringSet {
        items.into_iter().collect()
    }
}

impl<'a> IntoIterator for &'a StringSet {
    type Item = &'a String;
    type IntoIter = std::slice::Iter<'a, String>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl IntoIterator for StringSet {
    type Item = String;
    type IntoIter = std::vec::IntoIter<String>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl Serialize for StringSet {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de> Deserialize<'de> for StringSet {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<StringSet, D::Error> {
        Ok(Vec::<String>::deserialize(d)?.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_keeps_key_order_and_unique_keys() {
        let mut m = SortedMap::default();
        for k in ["b", "a", "c", "a"] {
            m.insert(k.to_string(), k.len());
        }
        assert_eq!(m.keys().collect::<Vec<_>>(), ["a", "b", "c"]);
        assert_eq!(m.len(), 3);
        assert!(m.contains_key("b"));
        *m.get_or_insert_with("d".to_string(), || 0) += 5;
        assert_eq!(m.get("d"), Some(&5));
        assert_eq!(m.remove("a"), Some(1));
        assert_eq!(m.remove("a"), None);
        assert_eq!(m.keys().collect::<Vec<_>>(), ["b", "c", "d"]);
        m.insert("e".to_string(), 1);
        m.retain(|k, v| k != "c" && *v != 1);
        assert_eq!(m.iter().collect::<Vec<_>>(), [(&"d".to_string(), &5)]);
        assert_eq!(m.into_iter().collect::<Vec<_>>(), [("d".to_string(), 5)]);
    }

    #[test]
    fn seq_set() {
        let mut s = SeqSet::default();
        assert!(s.insert(5));
        assert!(s.insert(2));
        assert!(!s.insert(5));
        assert!(s.insert(9));
        assert!(s.remove(2));
        assert!(!s.remove(2));
        s.keep_above(5);
        assert_eq!(s.live(), [9]);
        assert_eq!(s.len(), 1);
    }

    #[test]
    fn string_set_as_a_btree_set() {
        let mut s: StringSet = ["b", "a", "c", "a"].map(String::from).into_iter().collect();
        assert_eq!(s.iter().collect::<Vec<_>>(), ["a", "b", "c"]);
        assert!(s.insert("0".into()));
        assert!(!s.insert("b".into()));
        assert!(s.remove("a"));
        assert!(!s.remove("a"));
        assert!(s.contains("c") && !s.contains("a"));
        s.extend(["z".to_string(), "c".to_string()]);
        assert_eq!(s.iter().collect::<Vec<_>>(), ["0", "b", "c", "z"]);
        assert_eq!(s.len(), 4);
        // The JSON of a `BTreeSet<String>`: a sorted array; read back sorted and unique.
        assert_eq!(serde_json::to_string(&s).unwrap(), r#"["0","b","c","z"]"#);
        let back: StringSet = serde_json::from_str(r#"["z","b","z","0","c"]"#).unwrap();
        assert_eq!(back, s);
    }

    #[test]
    fn seq_set_agrees_with_a_btree_set() {
        use std::collections::BTreeSet;
        let mut ours = SeqSet::default();
        let mut model = BTreeSet::new();
        // A fixed pseudo-random walk of inserts, removals (low, high and absent seqs) and cuts.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for step in 0..20_000u32 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let s = x % 600;
            match x % 11 {
                0..=4 => assert_eq!(ours.insert(s), model.insert(s), "insert {s}"),
                5..=7 => assert_eq!(ours.remove(s), model.remove(&s), "remove {s}"),
                8 | 9 => {
                    // The lowest one, as revokes of the oldest unread messages do.
                    let low = model.first().copied().unwrap_or(s);
                    assert_eq!(ours.remove(low), model.remove(&low), "remove {low}");
                }
                _ if step % 50 == 0 => {
                    ours.keep_above(s / 4);
                    model.retain(|&v| v > s / 4);
                }
                _ => {}
            }
            assert_eq!(ours.len(), model.len());
            assert!(ours.live().iter().eq(model.iter()), "step {step}");
        }
    }
}
