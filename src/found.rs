//! What a multi-key read found.

use std::collections::HashMap;
use std::fmt;
use std::ops::{Index, Range};

/// The items a multi-key read ([`Client::get_many`](crate::Client::get_many),
/// [`Client::gets_many`](crate::Client::gets_many)) found, by key. A key asked for and not
/// here is a miss.
///
/// The keys are held in one buffer and the items in request order, behind a small hash
/// index, so building the map costs one allocation per item (its value) and no per-key
/// allocation; [`Found::into_inner`] builds a `HashMap` when one is wanted.
///
/// Lookups take any key spelling a caller has at hand (`&str`, `&[u8]`, `String`,
/// `Vec<u8>`, a byte-string literal), so `found["user:42"]` works as it does in the clients
/// people port from. Indexing a key that is not here panics, as indexing a `HashMap` does;
/// [`Found::get`] returns an `Option`.
///
/// ```
/// use memcache_sync::{Client, Expiry};
/// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
/// let mut client = Client::connect(&addr)?;
/// client.set("doc:found:a", "1", Expiry::Never)?;
/// let found = client.get_many(&["doc:found:a", "doc:found:missing"])?;
/// assert_eq!(found["doc:found:a"].value, b"1");
/// assert_eq!(found[b"doc:found:a"].value, b"1");
/// assert!(found.get("doc:found:missing").is_none());
/// for (key, item) in &found {
///     println!("{}: {} bytes", String::from_utf8_lossy(key), item.value.len());
/// }
/// # Ok::<(), memcache_sync::Error>(())
/// ```
#[derive(Clone)]
pub struct Found<T> {
    /// Every key found, one after another, in the order they were found.
    keys: Vec<u8>,
    /// One per distinct key, in the order found: where its key lies in `keys`, its hash, and
    /// its item.
    entries: Vec<Slot<T>>,
    /// Open addressing over `entries`: 0 is empty, `i + 1` is `entries[i]`. Its length is a
    /// power of two at least twice the entries', or zero while there are none.
    table: Vec<u32>,
    /// The hash's key, drawn per map, so that the positions of a caller's keys are not
    /// predictable.
    seed: u64,
}

#[derive(Clone)]
struct Slot<T> {
    key: Range<usize>,
    hash: u64,
    item: T,
}

/// A multiply-and-rotate hash over 8-byte words, keyed by `seed`: a handful of cycles for a
/// memcached key, where SipHash (the `HashMap` default) costs several times that. Only the
/// keys a caller asked for can be inserted (see the retrieval's key matching).
fn hash(seed: u64, key: &[u8]) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut h = seed ^ (key.len() as u64).wrapping_mul(K);
    let mut chunks = key.chunks_exact(8);
    for chunk in &mut chunks {
        let word = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
        h = (h ^ word).wrapping_mul(K).rotate_left(29);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut word = [0u8; 8];
        word[..rest.len()].copy_from_slice(rest);
        h = (h ^ u64::from_le_bytes(word))
            .wrapping_mul(K)
            .rotate_left(29);
    }
    // Final avalanche, so that the low bits (the table's index) depend on every input bit.
    h ^= h >> 32;
    h = h.wrapping_mul(K);
    h ^ (h >> 29)
}

/// A fresh per-map seed: std's per-thread random keys, advanced for every `RandomState`.
fn seed() -> u64 {
    use std::hash::BuildHasher;
    std::collections::hash_map::RandomState::new().hash_one(0x5EED_u64)
}

impl<T> Found<T> {
    /// An empty map with room for `capacity` keys.
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        let mut found = Self {
            keys: Vec::new(),
            entries: Vec::with_capacity(capacity),
            table: Vec::new(),
            seed: seed(),
        };
        found.keys.reserve(capacity.saturating_mul(32).min(1 << 20));
        if capacity > 0 {
            found.table = vec![0; table_len(capacity)];
        }
        found
    }

    /// Adds `item` under `key`, replacing the item of a key already here (a key asked twice
    /// and found twice), as a `HashMap` insert would.
    pub(crate) fn insert(&mut self, key: &[u8], item: T) {
        let hash = hash(self.seed, key);
        if let Some(index) = self.find(key, hash) {
            self.entries[index].item = item;
            return;
        }
        if self.table.len() < table_len(self.entries.len() + 1) {
            self.grow();
        }
        let start = self.keys.len();
        self.keys.extend_from_slice(key);
        let index = self.entries.len();
        self.entries.push(Slot {
            key: start..self.keys.len(),
            hash,
            item,
        });
        self.place(index);
    }

    /// Puts `entries[index]` in the first free slot of its probe sequence.
    fn place(&mut self, index: usize) {
        let mask = self.table.len() - 1;
        let mut at = self.entries[index].hash as usize & mask;
        while self.table[at] != 0 {
            at = (at + 1) & mask;
        }
        self.table[at] = u32::try_from(index + 1).expect("fewer than 2^32 keys");
    }

    fn grow(&mut self) {
        let len = table_len(self.entries.len() + 1).max(self.table.len() * 2);
        self.table = vec![0; len];
        for index in 0..self.entries.len() {
            self.place(index);
        }
    }

    /// The position in `entries` of `key`, whose hash is `hash`.
    fn find(&self, key: &[u8], hash: u64) -> Option<usize> {
        if self.table.is_empty() {
            return None;
        }
        let mask = self.table.len() - 1;
        let mut at = hash as usize & mask;
        loop {
            let slot = self.table[at];
            if slot == 0 {
                return None;
            }
            let index = slot as usize - 1;
            let entry = &self.entries[index];
            if entry.hash == hash && self.keys[entry.key.clone()] == *key {
                return Some(index);
            }
            at = (at + 1) & mask;
        }
    }

    fn lookup(&self, key: &[u8]) -> Option<&T> {
        if self.entries.is_empty() {
            return None;
        }
        let index = self.find(key, hash(self.seed, key))?;
        Some(&self.entries[index].item)
    }

    /// The item found under `key`, or `None` if it was a miss (or not asked for).
    ///
    /// ```
    /// use memcache_sync::{Client, Expiry};
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let mut client = Client::connect(&addr)?;
    /// client.set("doc:found_get:a", "1", Expiry::Never)?;
    /// client.set("doc:found_get:b", "2", Expiry::Never)?;
    /// let found = client.get_many(&["doc:found_get:a", "doc:found_get:b", "doc:found_get:missing"])?;
    /// assert_eq!(found.get("doc:found_get:a").map(|item| &item.value[..]), Some(&b"1"[..]));
    /// assert!(found.get("doc:found_get:missing").is_none());
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn get(&self, key: impl AsRef<[u8]>) -> Option<&T> {
        self.lookup(key.as_ref())
    }

    /// Whether an item was found under `key`.
    ///
    /// ```
    /// use memcache_sync::{Client, Expiry};
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let mut client = Client::connect(&addr)?;
    /// client.set("doc:found_contains:a", "1", Expiry::Never)?;
    /// client.set("doc:found_contains:b", "2", Expiry::Never)?;
    /// let found = client.get_many(&["doc:found_contains:a", "doc:found_contains:b", "doc:found_contains:missing"])?;
    /// assert!(found.contains_key("doc:found_contains:a"));
    /// assert!(!found.contains_key(b"doc:found_contains:missing"));
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn contains_key(&self, key: impl AsRef<[u8]>) -> bool {
        self.lookup(key.as_ref()).is_some()
    }

    /// How many keys were found.
    ///
    /// ```
    /// use memcache_sync::{Client, Expiry};
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let mut client = Client::connect(&addr)?;
    /// client.set("doc:found_len:a", "1", Expiry::Never)?;
    /// client.set("doc:found_len:b", "2", Expiry::Never)?;
    /// let found = client.get_many(&["doc:found_len:a", "doc:found_len:b", "doc:found_len:missing"])?;
    /// assert_eq!(found.len(), 2); // of three asked for
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether every key was a miss.
    ///
    /// ```
    /// use memcache_sync::Client;
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let mut client = Client::connect(&addr)?;
    /// let found = client.get_many(&["doc:found_is_empty:nobody", "doc:found_is_empty:nobody-either"])?;
    /// assert!(found.is_empty()); // every key missed: still `Ok`
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The keys found with their items, in the order they were found (for memcached, the
    /// order asked).
    ///
    /// ```
    /// use memcache_sync::{Client, Expiry};
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let mut client = Client::connect(&addr)?;
    /// client.set("doc:found_iter:a", "1", Expiry::Never)?;
    /// client.set("doc:found_iter:b", "2", Expiry::Never)?;
    /// let found = client.get_many(&["doc:found_iter:a", "doc:found_iter:b", "doc:found_iter:missing"])?;
    /// let total: usize = found.iter().map(|(_key, item)| item.value.len()).sum();
    /// assert_eq!(total, 2);
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn iter(&self) -> FoundIter<'_, T> {
        FoundIter {
            keys: &self.keys,
            entries: self.entries.iter(),
        }
    }

    /// The keys found, in the order they were found.
    ///
    /// ```
    /// use memcache_sync::{Client, Expiry};
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let mut client = Client::connect(&addr)?;
    /// client.set("doc:found_keys:a", "1", Expiry::Never)?;
    /// client.set("doc:found_keys:b", "2", Expiry::Never)?;
    /// let found = client.get_many(&["doc:found_keys:a", "doc:found_keys:b", "doc:found_keys:missing"])?;
    /// let keys: Vec<&[u8]> = found.keys().collect();
    /// assert_eq!(keys, [&b"doc:found_keys:a"[..], b"doc:found_keys:b"]);
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn keys(&self) -> impl ExactSizeIterator<Item = &[u8]> + Clone + '_ {
        self.iter().map(|(key, _)| key)
    }

    /// The items found, in the order they were found.
    ///
    /// ```
    /// use memcache_sync::{Client, Expiry};
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let mut client = Client::connect(&addr)?;
    /// client.set("doc:found_values:a", "1", Expiry::Never)?;
    /// client.set("doc:found_values:b", "2", Expiry::Never)?;
    /// let found = client.get_many(&["doc:found_values:a", "doc:found_values:b", "doc:found_values:missing"])?;
    /// let values: Vec<&[u8]> = found.values().map(|item| item.value.as_slice()).collect();
    /// assert_eq!(values, [b"1", b"2"]);
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn values(&self) -> impl ExactSizeIterator<Item = &T> + Clone + '_ {
        self.entries.iter().map(|entry| &entry.item)
    }

    /// A `HashMap` of the keys found and their items, to keep or to move items out of.
    ///
    /// ```
    /// use memcache_sync::{Client, Expiry};
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let mut client = Client::connect(&addr)?;
    /// client.set("doc:found_into_inner:a", "1", Expiry::Never)?;
    /// client.set("doc:found_into_inner:b", "2", Expiry::Never)?;
    /// let found = client.get_many(&["doc:found_into_inner:a", "doc:found_into_inner:b", "doc:found_into_inner:missing"])?;
    /// let mut map = found.into_inner(); // a HashMap<Vec<u8>, Item>
    /// let item = map.remove(&b"doc:found_into_inner:a"[..]).expect("found");
    /// assert_eq!(item.value, b"1");
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn into_inner(self) -> HashMap<Vec<u8>, T> {
        self.into_iter().collect()
    }
}

/// The table length for `entries` keys: at most half full.
fn table_len(entries: usize) -> usize {
    (entries.saturating_mul(2)).next_power_of_two().max(8)
}

impl<T: fmt::Debug> fmt::Debug for Found<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// Equal when both hold the same keys with equal items, whatever order they were found in.
impl<T: PartialEq> PartialEq for Found<T> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len()
            && self
                .iter()
                .all(|(key, item)| other.lookup(key) == Some(item))
    }
}

impl<T: Eq> Eq for Found<T> {}

impl<T> Default for Found<T> {
    fn default() -> Self {
        Self::with_capacity(0)
    }
}

impl<T> From<HashMap<Vec<u8>, T>> for Found<T> {
    fn from(map: HashMap<Vec<u8>, T>) -> Self {
        let mut found = Self::with_capacity(map.len());
        for (key, item) in map {
            found.insert(&key, item);
        }
        found
    }
}

impl<T> From<Found<T>> for HashMap<Vec<u8>, T> {
    fn from(found: Found<T>) -> Self {
        found.into_inner()
    }
}

/// `found["key"]`: the item found under the key.
///
/// # Panics
/// If nothing was found under the key; [`Found::get`] is the lookup that may miss.
impl<T, K: AsRef<[u8]>> Index<K> for Found<T> {
    type Output = T;

    fn index(&self, key: K) -> &T {
        let key = key.as_ref();
        self.get(key)
            .unwrap_or_else(|| panic!("no item was found under {:?}", key.escape_ascii()))
    }
}

/// The keys found with their items, borrowed: [`Found::iter`].
pub struct FoundIter<'a, T> {
    keys: &'a [u8],
    entries: std::slice::Iter<'a, Slot<T>>,
}

impl<'a, T> Iterator for FoundIter<'a, T> {
    type Item = (&'a [u8], &'a T);

    fn next(&mut self) -> Option<Self::Item> {
        let entry = self.entries.next()?;
        Some((&self.keys[entry.key.clone()], &entry.item))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.entries.size_hint()
    }
}

impl<T> ExactSizeIterator for FoundIter<'_, T> {}

impl<T> Clone for FoundIter<'_, T> {
    fn clone(&self) -> Self {
        Self {
            keys: self.keys,
            entries: self.entries.clone(),
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for FoundIter<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.clone()).finish()
    }
}

/// The keys found with their items, owned: `Found`'s [`IntoIterator`].
pub struct FoundIntoIter<T> {
    keys: Vec<u8>,
    entries: std::vec::IntoIter<Slot<T>>,
}

impl<T> Iterator for FoundIntoIter<T> {
    type Item = (Vec<u8>, T);

    fn next(&mut self) -> Option<Self::Item> {
        let entry = self.entries.next()?;
        Some((self.keys[entry.key].to_vec(), entry.item))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.entries.size_hint()
    }
}

impl<T> ExactSizeIterator for FoundIntoIter<T> {}

impl<T: fmt::Debug> fmt::Debug for FoundIntoIter<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FoundIntoIter").finish_non_exhaustive()
    }
}

impl<T> IntoIterator for Found<T> {
    type Item = (Vec<u8>, T);
    type IntoIter = FoundIntoIter<T>;

    fn into_iter(self) -> Self::IntoIter {
        FoundIntoIter {
            keys: self.keys,
            entries: self.entries.into_iter(),
        }
    }
}

impl<'a, T> IntoIterator for &'a Found<T> {
    type Item = (&'a [u8], &'a T);
    type IntoIter = FoundIter<'a, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_found_twice_is_one_entry_holding_the_last_item() {
        let mut found = Found::with_capacity(3);
        found.insert(b"a", 1);
        found.insert(b"b", 2);
        found.insert(b"a", 3);
        assert_eq!(found.len(), 2);
        assert_eq!(found["a"], 3);
        assert_eq!(
            found.iter().collect::<Vec<_>>(),
            [(&b"a"[..], &3), (b"b", &2)]
        );
    }

    #[test]
    fn the_index_grows_past_its_capacity_and_finds_every_key_of_every_length() {
        let mut found = Found::with_capacity(1);
        let keys: Vec<Vec<u8>> = (0..5000)
            .map(|i| format!("{}{i}", "k".repeat(i % 300)).into_bytes())
            .collect();
        for (i, key) in keys.iter().enumerate() {
            found.insert(key, i);
        }
        assert_eq!(found.len(), keys.len());
        for (i, key) in keys.iter().enumerate() {
            assert_eq!(found.get(key), Some(&i));
        }
        assert!(!found.contains_key(b"k"));
        assert!(!found.contains_key(b""));
        assert_eq!(found.keys().map(<[u8]>::to_vec).collect::<Vec<_>>(), keys);
    }

    #[test]
    fn an_empty_map_finds_nothing() {
        let found = Found::<u8>::default();
        assert!(found.is_empty() && found.get("a").is_none() && found.iter().next().is_none());
        assert_eq!(Found::<u8>::with_capacity(0), found);
    }

    #[test]
    fn maps_with_the_same_items_in_another_order_are_equal_and_convert_both_ways() {
        let map: HashMap<Vec<u8>, u32> = (0..50).map(|i| (vec![i as u8; i], i as u32)).collect();
        let found = Found::from(map.clone());
        let mut reversed = Found::with_capacity(0);
        for (key, item) in found.iter().collect::<Vec<_>>().into_iter().rev() {
            reversed.insert(key, *item);
        }
        assert_eq!(found, reversed);
        reversed.insert(b"extra", 0);
        assert_ne!(found, reversed);
        assert_eq!(found.clone().into_inner(), map);
        assert_eq!(HashMap::from(found), map);
    }
}
