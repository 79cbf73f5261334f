//! What a multi-key read found.

use std::collections::HashMap;
use std::fmt;
use std::marker::PhantomData;
use std::ops::{Index, Range};

use crate::item::{CasToken, Item};

/// The items a multi-key read ([`Client::get_many`](crate::Client::get_many),
/// [`Client::gets_many`](crate::Client::gets_many)) found, by key. A key asked for and not
/// here is a miss.
///
/// Every key and value found lies in one buffer, behind a small hash index, so a read of
/// many items makes a handful of allocations in all, none per item: lookups lend the
/// value out as an [`ItemRef`] (with its [`CasToken`], for `gets_many`). To keep an item
/// beyond the map, [`ItemRef::to_item`] copies it out; [`Found::into_inner`] builds a
/// `HashMap` of owned items, and iterating a `Found` by value yields them.
///
/// Lookups take any key spelling a caller has at hand (`&str`, `&[u8]`, `String`,
/// `Vec<u8>`, a byte-string literal). `found["user:42"]` is the value's bytes; indexing a
/// key that is not here panics, as indexing a `HashMap` does. [`Found::get`] returns an
/// `Option`, with the flags.
///
/// ```
/// use memcache_sync::{Client, Expiry};
/// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
/// let mut client = Client::connect(&addr)?;
/// client.set("doc:found:a", "1", Expiry::Never)?;
/// let found = client.get_many(&["doc:found:a", "doc:found:missing"])?;
/// assert_eq!(&found["doc:found:a"], b"1");
/// assert_eq!(&found[b"doc:found:a"], b"1");
/// assert_eq!(found.get("doc:found:a").map(|item| item.flags), Some(0));
/// assert!(found.get("doc:found:missing").is_none());
/// for (key, item) in &found {
///     println!("{}: {} bytes", String::from_utf8_lossy(key), item.value.len());
/// }
/// # Ok::<(), memcache_sync::Error>(())
/// ```
pub struct Found<T> {
    /// Each entry's key followed by its value, entry after entry, in the order found.
    bytes: Vec<u8>,
    /// One per distinct key, in the order found.
    entries: Vec<Slot>,
    /// Open addressing over `entries`: 0 is empty, `i + 1` is `entries[i]`. Its length is a
    /// power of two at least twice the entries', or zero while there are none.
    table: Vec<u32>,
    /// The hash's key, drawn per map, so that the positions of a caller's keys are not
    /// predictable.
    seed: u64,
    /// Which item type lookups lend out and conversions build; `fn() -> T` keeps `Found`
    /// `Send` and `Sync` whatever `T`, since no `T` is stored.
    item: PhantomData<fn() -> T>,
}

/// Where one entry lies in [`Found::bytes`], and what else its `VALUE` carried.
#[derive(Clone, Copy)]
struct Slot {
    /// The key starts here; the value follows it.
    start: usize,
    /// A key is at most 250 bytes: held in 32 bits, beside the flags.
    key_len: u32,
    value_len: usize,
    flags: u32,
    /// The CAS value, for a `gets`; 0 where none was asked for.
    cas: u64,
    hash: u64,
}

impl Slot {
    fn key(&self) -> Range<usize> {
        self.start..self.start + self.key_len as usize
    }

    fn value(&self) -> Range<usize> {
        let start = self.start + self.key_len as usize;
        start..start + self.value_len
    }
}

/// An item found by a multi-key read, borrowed from its [`Found`] map: the value's bytes
/// and the flags stored beside them. Compares equal to an [`Item`] holding the same.
///
/// ```
/// use memcache_sync::{Client, Item, ItemRef, StoreOptions};
/// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
/// # let mut client = Client::connect(&addr)?;
/// client.set("doc:item_ref", "v", StoreOptions::new().flags(5))?;
/// let found = client.get_many(&["doc:item_ref"])?;
/// let item: ItemRef<'_> = found.get("doc:item_ref").expect("just stored");
/// assert_eq!((item.value, item.flags), (&b"v"[..], 5));
/// assert_eq!(item, Item { value: b"v".to_vec(), flags: 5 });
/// # Ok::<(), memcache_sync::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ItemRef<'a> {
    /// The bytes stored, exactly as given to the storage command.
    pub value: &'a [u8],
    /// The client flags stored with the value (opaque to memcached).
    pub flags: u32,
}

impl ItemRef<'_> {
    /// The item, owned: its value copied into a vector of its own.
    ///
    /// ```
    /// use memcache_sync::{Client, Expiry, Item};
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let mut client = Client::connect(&addr)?;
    /// client.set("doc:to_item", "kept", Expiry::Never)?;
    /// let kept: Item = {
    ///     let found = client.get_many(&["doc:to_item"])?;
    ///     found.get("doc:to_item").expect("just stored").to_item()
    /// };
    /// assert_eq!(kept.value, b"kept");
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn to_item(&self) -> Item {
        Item {
            value: self.value.to_vec(),
            flags: self.flags,
        }
    }
}

impl From<ItemRef<'_>> for Item {
    fn from(item: ItemRef<'_>) -> Self {
        item.to_item()
    }
}

impl PartialEq<Item> for ItemRef<'_> {
    fn eq(&self, other: &Item) -> bool {
        self.value == other.value && self.flags == other.flags
    }
}

impl PartialEq<ItemRef<'_>> for Item {
    fn eq(&self, other: &ItemRef<'_>) -> bool {
        other == self
    }
}

mod sealed {
    /// Only the crate's item types can be held in a [`Found`](super::Found): it builds and
    /// takes them apart by their parts.
    pub trait Sealed: Sized {
        /// The owned item of a value, its flags and its CAS value.
        fn from_parts(value: Vec<u8>, flags: u32, cas: u64) -> Self;
        /// The value, flags and CAS value (0 if none) of an owned item.
        fn into_parts(self) -> (Vec<u8>, u32, u64);
    }
}

/// What a [`Found`] map can hold: [`Item`] (from `get_many`) or `(Item, CasToken)` (from
/// `gets_many`). Sealed: no other type can be one.
pub trait FoundItem: sealed::Sealed {
    /// What a lookup lends out: [`ItemRef`], or `(ItemRef, CasToken)`.
    type Ref<'a>: Copy + fmt::Debug + PartialEq;

    /// The lookup's view of an item and its CAS value.
    #[doc(hidden)]
    fn view(item: ItemRef<'_>, cas: u64) -> Self::Ref<'_>;
}

impl sealed::Sealed for Item {
    fn from_parts(value: Vec<u8>, flags: u32, _cas: u64) -> Self {
        Item { value, flags }
    }

    fn into_parts(self) -> (Vec<u8>, u32, u64) {
        (self.value, self.flags, 0)
    }
}

impl FoundItem for Item {
    type Ref<'a> = ItemRef<'a>;

    fn view(item: ItemRef<'_>, _cas: u64) -> ItemRef<'_> {
        item
    }
}

impl sealed::Sealed for (Item, CasToken) {
    fn from_parts(value: Vec<u8>, flags: u32, cas: u64) -> Self {
        (Item { value, flags }, CasToken(cas))
    }

    fn into_parts(self) -> (Vec<u8>, u32, u64) {
        let (item, token) = self;
        (item.value, item.flags, token.0)
    }
}

impl FoundItem for (Item, CasToken) {
    type Ref<'a> = (ItemRef<'a>, CasToken);

    fn view(item: ItemRef<'_>, cas: u64) -> (ItemRef<'_>, CasToken) {
        (item, CasToken(cas))
    }
}

/// A folded-multiply hash over 16-byte blocks, keyed by `seed`: two multiplications for a
/// typical memcached key, where SipHash (the `HashMap` default) costs several times that.
/// Only the keys a caller asked for can be inserted (see the retrieval's key matching), and
/// the seed is drawn per map, so a caller's keys do not collide on purpose.
#[inline]
fn hash(seed: u64, key: &[u8]) -> u64 {
    const K0: u64 = 0x243F_6A88_85A3_08D3;
    const K1: u64 = 0x1319_8A2E_0370_7344;
    const K2: u64 = 0xA409_3822_299F_31D0;
    let word = |bytes: &[u8]| u64::from_le_bytes(bytes.try_into().expect("8 bytes"));
    let half = |bytes: &[u8]| u64::from(u32::from_le_bytes(bytes.try_into().expect("4 bytes")));
    // Both operands of every product carry the seed, so no block can zero one out without
    // knowing it.
    let other = seed.rotate_left(32) ^ K1;
    let mut h = seed ^ (key.len() as u64).wrapping_mul(K0);
    let mut rest = key;
    while rest.len() > 16 {
        let (block, tail) = rest.split_at(16);
        h = fold(word(&block[..8]) ^ h, word(&block[8..]) ^ other);
        rest = tail;
    }
    // The last 1 to 16 bytes as two words read from either end, overlapping when fewer than
    // 16 (the length is already in `h`, so overlaps cannot make two keys alike).
    let n = rest.len();
    let (a, b) = match n {
        8.. => (word(&rest[..8]), word(&rest[n - 8..])),
        4.. => (half(&rest[..4]), half(&rest[n - 4..])),
        1.. => {
            let bytes = u64::from(rest[0]) | u64::from(rest[n / 2]) << 8;
            (bytes | u64::from(rest[n - 1]) << 16, 0)
        }
        0 => (0, 0),
    };
    h = fold(a ^ h, b ^ other);
    // Once more, so that the low bits (the table's index) depend on every input bit.
    fold(h ^ K2, other)
}

/// The 128-bit product of `a` and `b`, its halves xor-ed: every bit of either input reaches
/// the middle bits of the result.
fn fold(a: u64, b: u64) -> u64 {
    let product = u128::from(a) * u128::from(b);
    (product as u64) ^ ((product >> 64) as u64)
}

/// A fresh per-map seed: std's per-thread random keys, advanced for every `RandomState`.
fn seed() -> u64 {
    use std::hash::BuildHasher;
    std::collections::hash_map::RandomState::new().hash_one(0x5EED_u64)
}

/// Bytes reserved up front per key asked for: a key and a small value. Larger values grow
/// the buffer as they come (doubling, so each byte is moved once more at most on average).
const RESERVED_PER_KEY: usize = 256;

impl<T> Found<T> {
    /// An empty map with room for `capacity` keys and small values.
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        let mut found = Self {
            bytes: Vec::new(),
            entries: Vec::with_capacity(capacity),
            table: Vec::new(),
            seed: seed(),
            item: PhantomData,
        };
        found
            .bytes
            .reserve(capacity.saturating_mul(RESERVED_PER_KEY).min(1 << 20));
        if capacity > 0 {
            found.table = vec![0; table_len(capacity)];
        }
        found
    }

    /// Adds the item of `value` and `flags` (and `cas`, for a `gets`) under `key`, replacing
    /// the item of a key already here (a key asked twice and found twice), as a `HashMap`
    /// insert would. (The replaced value's bytes stay in the buffer, unused: a repeated key is
    /// rare, and moving the others would cost every map.)
    pub(crate) fn insert(&mut self, key: &[u8], value: &[u8], flags: u32, cas: u64) {
        self.bytes.extend_from_slice(key);
        self.bytes.extend_from_slice(value);
        self.insert_tail(key.len(), value.len(), flags, cas);
    }

    /// The buffer every key and value lies in, lent out so that a large value can be read
    /// straight into it, after its key: only appended to, and each key and value appended is
    /// then [inserted](Found::insert_tail) (or left unused, if they turn out not to answer).
    pub(crate) fn buffer(&mut self) -> &mut Vec<u8> {
        &mut self.bytes
    }

    /// Adds the item whose key (`key_len` bytes) and value (`value_len`) end the buffer, as
    /// [`Found::insert`] appends them or a large value is read in after its key.
    #[inline(always)]
    pub(crate) fn insert_tail(&mut self, key_len: usize, value_len: usize, flags: u32, cas: u64) {
        let start = self.bytes.len() - key_len - value_len;
        let slot = Slot {
            start,
            key_len: u32::try_from(key_len).expect("a key is at most 250 bytes"),
            value_len,
            flags,
            cas,
            hash: hash(self.seed, &self.bytes[start..start + key_len]),
        };
        self.index(slot);
    }

    /// Indexes `slot`, whose bytes are in the buffer, replacing the entry of a key already
    /// here. Inlined, as [`Found::insert_tail`] is: a call that passes the slot costs a fifth
    /// of an insert.
    #[inline(always)]
    fn index(&mut self, slot: Slot) {
        if (self.entries.len() + 1) * 2 > self.table.len() {
            self.grow();
        }
        let (hash, key) = (slot.hash, slot.key());
        // One probe sequence both finds a key already here and the free place of a new one.
        let mask = self.table.len() - 1;
        let mut at = hash as usize & mask;
        loop {
            let occupant = self.table[at];
            if occupant == 0 {
                self.table[at] =
                    u32::try_from(self.entries.len() + 1).expect("fewer than 2^32 keys");
                self.entries.push(slot);
                return;
            }
            let index = occupant as usize - 1;
            let entry = &self.entries[index];
            if entry.hash == hash && self.bytes[entry.key()] == self.bytes[key.clone()] {
                self.entries[index] = slot;
                return;
            }
            at = (at + 1) & mask;
        }
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
        self.reindex(table_len(self.entries.len() + 1).max(self.table.len() * 2));
    }

    /// Rebuilds the index, `len` slots long, over the entries as they are now.
    fn reindex(&mut self, len: usize) {
        self.table.clear();
        self.table.resize(len, 0);
        for index in 0..self.entries.len() {
            self.place(index);
        }
    }

    /// Adds every item of `other`, as [`Found::insert`] would one by one (an item of a key
    /// already here replaces it). An empty map takes `other`'s buffers whole: a cluster's
    /// first server's map becomes the call's without a copy.
    pub(crate) fn absorb(&mut self, other: Found<T>) {
        if self.entries.is_empty() {
            *self = other;
            return;
        }
        self.reserve(other.entries.len(), other.bytes.len());
        for slot in &other.entries {
            let (key, value) = (&other.bytes[slot.key()], &other.bytes[slot.value()]);
            self.insert(key, value, slot.flags, slot.cas);
        }
    }

    /// Room for `entries` more keys and `bytes` more bytes of keys and values, so that a
    /// merge grows each buffer once at most.
    fn reserve(&mut self, entries: usize, bytes: usize) {
        self.bytes.reserve(bytes);
        self.entries.reserve(entries);
        if (self.entries.len() + entries) * 2 > self.table.len() {
            self.reindex(table_len(self.entries.len() + entries));
        }
    }

    /// Forgets the items of `keys` (those here; the others are ignored), keeping the rest in
    /// the order found. Their bytes stay in the buffer, unused, and the index is rebuilt
    /// once: this is for a server that failed after answering for some of its keys, which
    /// is rare, so it need not be cheap, only not cost the maps no one removes from.
    pub(crate) fn remove_all(&mut self, keys: &[&[u8]]) {
        if self.entries.is_empty() || keys.is_empty() {
            return;
        }
        let mut gone = vec![false; self.entries.len()];
        let mut any = false;
        for key in keys {
            if let Some(index) = self.find(key, hash(self.seed, key)) {
                gone[index] = true;
                any = true;
            }
        }
        if !any {
            return;
        }
        let mut index = 0;
        self.entries.retain(|_| {
            index += 1;
            !gone[index - 1]
        });
        self.reindex(self.table.len());
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
            if entry.hash == hash && self.bytes[entry.key()] == *key {
                return Some(index);
            }
            at = (at + 1) & mask;
        }
    }

    fn lookup(&self, key: &[u8]) -> Option<&Slot> {
        if self.entries.is_empty() {
            return None;
        }
        let index = self.find(key, hash(self.seed, key))?;
        Some(&self.entries[index])
    }

    fn item_ref(&self, slot: &Slot) -> ItemRef<'_> {
        ItemRef {
            value: &self.bytes[slot.value()],
            flags: slot.flags,
        }
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
        self.entries.iter().map(|entry| &self.bytes[entry.key()])
    }
}

impl<T: FoundItem> Found<T> {
    /// The item found under `key`, or `None` if it was a miss (or not asked for): an
    /// [`ItemRef`] (for `gets_many`, with its [`CasToken`]) borrowed from the map.
    ///
    /// ```
    /// use memcache_sync::{Client, Expiry};
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let mut client = Client::connect(&addr)?;
    /// client.set("doc:found_get:a", "1", Expiry::Never)?;
    /// client.set("doc:found_get:b", "2", Expiry::Never)?;
    /// let found = client.get_many(&["doc:found_get:a", "doc:found_get:b", "doc:found_get:missing"])?;
    /// assert_eq!(found.get("doc:found_get:a").map(|item| item.value), Some(&b"1"[..]));
    /// assert!(found.get("doc:found_get:missing").is_none());
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn get(&self, key: impl AsRef<[u8]>) -> Option<T::Ref<'_>> {
        let slot = self.lookup(key.as_ref())?;
        Some(T::view(self.item_ref(slot), slot.cas))
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
            found: self,
            entries: self.entries.iter(),
        }
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
    /// let values: Vec<&[u8]> = found.values().map(|item| item.value).collect();
    /// assert_eq!(values, [b"1", b"2"]);
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn values(&self) -> impl ExactSizeIterator<Item = T::Ref<'_>> + Clone + '_ {
        self.iter().map(|(_, item)| item)
    }

    /// A `HashMap` of the keys found and their items, owned, to keep or to move items out of.
    /// Each key and value is copied out of the map's buffer into a vector of its own.
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

    /// The owned item of `slot`, its value copied out.
    fn owned(&self, slot: &Slot) -> T {
        T::from_parts(self.bytes[slot.value()].to_vec(), slot.flags, slot.cas)
    }
}

/// The table length for `entries` keys: at most half full.
fn table_len(entries: usize) -> usize {
    (entries.saturating_mul(2)).next_power_of_two().max(8)
}

impl<T> Clone for Found<T> {
    fn clone(&self) -> Self {
        Self {
            bytes: self.bytes.clone(),
            entries: self.entries.clone(),
            table: self.table.clone(),
            seed: self.seed,
            item: PhantomData,
        }
    }
}

impl<T: FoundItem> fmt::Debug for Found<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// Equal when both hold the same keys with equal items, whatever order they were found in.
impl<T: FoundItem> PartialEq for Found<T> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().all(|(key, item)| other.get(key) == Some(item))
    }
}

impl<T: FoundItem> Eq for Found<T> {}

impl<T> Default for Found<T> {
    fn default() -> Self {
        Self::with_capacity(0)
    }
}

impl<T: FoundItem> From<HashMap<Vec<u8>, T>> for Found<T> {
    fn from(map: HashMap<Vec<u8>, T>) -> Self {
        let mut found = Self::with_capacity(map.len());
        for (key, item) in map {
            let (value, flags, cas) = item.into_parts();
            found.insert(&key, &value, flags, cas);
        }
        found
    }
}

impl<T: FoundItem> From<Found<T>> for HashMap<Vec<u8>, T> {
    fn from(found: Found<T>) -> Self {
        found.into_inner()
    }
}

/// `found["key"]`: the value found under the key, its bytes.
///
/// # Panics
/// If nothing was found under the key; [`Found::get`] is the lookup that may miss.
impl<T, K: AsRef<[u8]>> Index<K> for Found<T> {
    type Output = [u8];

    fn index(&self, key: K) -> &[u8] {
        let key = key.as_ref();
        let slot = self
            .lookup(key)
            .unwrap_or_else(|| panic!("no item was found under {:?}", key.escape_ascii()));
        &self.bytes[slot.value()]
    }
}

/// The keys found with their items, borrowed: [`Found::iter`].
pub struct FoundIter<'a, T> {
    found: &'a Found<T>,
    entries: std::slice::Iter<'a, Slot>,
}

impl<'a, T: FoundItem> Iterator for FoundIter<'a, T> {
    type Item = (&'a [u8], T::Ref<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        let slot = self.entries.next()?;
        let found = self.found;
        Some((
            &found.bytes[slot.key()],
            T::view(found.item_ref(slot), slot.cas),
        ))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.entries.size_hint()
    }
}

impl<T: FoundItem> ExactSizeIterator for FoundIter<'_, T> {}

impl<T> Clone for FoundIter<'_, T> {
    fn clone(&self) -> Self {
        Self {
            found: self.found,
            entries: self.entries.clone(),
        }
    }
}

impl<T: FoundItem> fmt::Debug for FoundIter<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.clone()).finish()
    }
}

/// The keys found with their items, owned (each copied out of the map's buffer): `Found`'s
/// [`IntoIterator`].
pub struct FoundIntoIter<T> {
    found: Found<T>,
    at: usize,
}

impl<T: FoundItem> Iterator for FoundIntoIter<T> {
    type Item = (Vec<u8>, T);

    fn next(&mut self) -> Option<Self::Item> {
        let slot = *self.found.entries.get(self.at)?;
        self.at += 1;
        Some((
            self.found.bytes[slot.key()].to_vec(),
            self.found.owned(&slot),
        ))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.found.entries.len() - self.at;
        (left, Some(left))
    }
}

impl<T: FoundItem> ExactSizeIterator for FoundIntoIter<T> {}

impl<T> fmt::Debug for FoundIntoIter<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FoundIntoIter").finish_non_exhaustive()
    }
}

impl<T: FoundItem> IntoIterator for Found<T> {
    type Item = (Vec<u8>, T);
    type IntoIter = FoundIntoIter<T>;

    fn into_iter(self) -> Self::IntoIter {
        FoundIntoIter { found: self, at: 0 }
    }
}

impl<'a, T: FoundItem> IntoIterator for &'a Found<T> {
    type Item = (&'a [u8], T::Ref<'a>);
    type IntoIter = FoundIter<'a, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(value: &[u8], flags: u32) -> Item {
        Item {
            value: value.to_vec(),
            flags,
        }
    }

    #[test]
    fn a_key_found_twice_is_one_entry_holding_the_last_item_in_its_first_place() {
        let mut found = Found::<Item>::with_capacity(3);
        found.insert(b"a", b"1", 1, 0);
        found.insert(b"b", b"2", 2, 0);
        found.insert(b"a", b"three", 3, 0);
        assert_eq!(found.len(), 2);
        assert_eq!(&found["a"], b"three");
        assert_eq!(
            found.get("a"),
            Some(ItemRef {
                value: b"three",
                flags: 3
            })
        );
        assert_eq!(
            found.iter().collect::<Vec<_>>(),
            [
                (
                    &b"a"[..],
                    ItemRef {
                        value: b"three",
                        flags: 3
                    }
                ),
                (
                    b"b",
                    ItemRef {
                        value: b"2",
                        flags: 2
                    }
                )
            ]
        );
        assert_eq!(
            found.into_iter().collect::<Vec<_>>(),
            [
                (b"a".to_vec(), item(b"three", 3)),
                (b"b".to_vec(), item(b"2", 2))
            ]
        );
    }

    #[test]
    fn the_index_grows_past_its_capacity_and_finds_every_key_and_value_of_every_length() {
        let mut found = Found::<Item>::with_capacity(1);
        let keys: Vec<Vec<u8>> = (0..5000)
            .map(|i| format!("{}{i}", "k".repeat(i % 300)).into_bytes())
            .collect();
        let value = |i: usize| vec![(i % 251) as u8; i % 700];
        for (i, key) in keys.iter().enumerate() {
            found.insert(key, &value(i), i as u32, 0);
        }
        assert_eq!(found.len(), keys.len());
        for (i, key) in keys.iter().enumerate() {
            assert_eq!(
                found.get(key),
                Some(ItemRef {
                    value: &value(i),
                    flags: i as u32
                })
            );
            assert_eq!(found[key], value(i));
        }
        assert!(!found.contains_key(b"k"));
        assert!(!found.contains_key(b""));
        assert_eq!(found.keys().map(<[u8]>::to_vec).collect::<Vec<_>>(), keys);
    }

    #[test]
    fn absorbing_a_map_adds_its_items_after_ours_and_its_repeated_keys_replace_ours() {
        let mut ours = Found::<(Item, CasToken)>::with_capacity(2);
        ours.insert(b"a", b"1", 1, 11);
        ours.insert(b"b", b"2", 2, 12);
        let mut theirs = Found::<(Item, CasToken)>::with_capacity(0);
        for i in 0..300u32 {
            theirs.insert(format!("t{i}").as_bytes(), &[i as u8; 3], i, u64::from(i));
        }
        theirs.insert(b"a", b"new", 7, 77);
        ours.absorb(theirs);
        assert_eq!(ours.len(), 302);
        assert_eq!(
            ours.get("a"),
            Some((
                ItemRef {
                    value: b"new",
                    flags: 7
                },
                CasToken(77)
            ))
        );
        assert_eq!(&ours["b"], b"2");
        for i in 0..300u32 {
            let (item, token) = ours.get(format!("t{i}")).expect("absorbed");
            assert_eq!(
                (item.value, item.flags, token),
                (&[i as u8; 3][..], i, CasToken(u64::from(i)))
            );
        }
        let keys: Vec<Vec<u8>> = ours.keys().take(3).map(<[u8]>::to_vec).collect();
        assert_eq!(keys, [b"a".to_vec(), b"b".to_vec(), b"t0".to_vec()]);

        let mut empty = Found::<Item>::default();
        let mut one = Found::<Item>::with_capacity(1);
        one.insert(b"k", b"v", 3, 0);
        empty.absorb(one.clone());
        assert_eq!(empty, one);
        one.absorb(Found::default());
        assert_eq!(one.len(), 1);
    }

    #[test]
    fn removing_keys_forgets_exactly_those_and_keeps_the_rest_findable_in_order() {
        let mut found = Found::<Item>::with_capacity(0);
        let keys: Vec<Vec<u8>> = (0..1000).map(|i| format!("key:{i}").into_bytes()).collect();
        for (i, key) in keys.iter().enumerate() {
            found.insert(key, key, i as u32, 0);
        }
        let gone: Vec<&[u8]> = keys
            .iter()
            .step_by(3)
            .map(Vec::as_slice)
            .chain([&b"never:found"[..]])
            .collect();
        found.remove_all(&gone);
        let kept: Vec<&[u8]> = keys
            .iter()
            .enumerate()
            .filter(|(i, _)| i % 3 != 0)
            .map(|(_, key)| key.as_slice())
            .collect();
        assert_eq!(found.len(), kept.len());
        assert_eq!(found.keys().collect::<Vec<_>>(), kept);
        for key in &gone {
            assert!(!found.contains_key(key));
        }
        for key in &kept {
            assert_eq!(&found[key], *key);
        }
        // Still a map to insert into, a removed key included.
        found.insert(b"key:0", b"back", 9, 0);
        assert_eq!(&found["key:0"], b"back");
        assert_eq!(found.len(), kept.len() + 1);
        found.remove_all(&[]);
        Found::<Item>::default().remove_all(&gone);
    }

    #[test]
    fn an_empty_map_finds_nothing() {
        let found = Found::<Item>::default();
        assert!(found.is_empty() && found.get("a").is_none() && found.iter().next().is_none());
        assert_eq!(Found::<Item>::with_capacity(0), found);
        assert!(!Found::<Item>::with_capacity(10).contains_key(""));
    }

    #[test]
    fn maps_with_the_same_items_in_another_order_are_equal_and_convert_both_ways() {
        let map: HashMap<Vec<u8>, Item> = (0..50)
            .map(|i| (vec![i as u8; i], item(&vec![b'v'; i * 3], i as u32)))
            .collect();
        let found = Found::from(map.clone());
        let mut reversed = Found::<Item>::with_capacity(0);
        for (key, value) in found.iter().collect::<Vec<_>>().into_iter().rev() {
            reversed.insert(key, value.value, value.flags, 0);
        }
        assert_eq!(found, reversed);
        reversed.insert(b"extra", b"", 0, 0);
        assert_ne!(found, reversed);
        assert_eq!(found.clone().into_inner(), map);
        assert_eq!(HashMap::from(found), map);
    }

    #[test]
    fn a_gets_map_lends_each_item_with_its_own_token_and_gives_them_back_owned() {
        let mut found = Found::<(Item, CasToken)>::with_capacity(2);
        found.insert(b"a", b"1", 7, 41);
        found.insert(b"b", b"2", 0, 42);
        let (a, token) = found.get("a").expect("inserted");
        assert_eq!(
            (a, token),
            (
                ItemRef {
                    value: b"1",
                    flags: 7
                },
                CasToken(41)
            )
        );
        assert_eq!(&found["b"], b"2");
        let map = found.clone().into_inner();
        assert_eq!(map[&b"b"[..]], (item(b"2", 0), CasToken(42)));
        assert_eq!(Found::from(map), found);
    }

    #[test]
    fn an_item_ref_equals_the_item_holding_the_same_value_and_flags() {
        let owned = item(b"v", 3);
        let borrowed = ItemRef {
            value: b"v",
            flags: 3,
        };
        assert_eq!(borrowed, owned);
        assert_eq!(owned, borrowed);
        assert_eq!(borrowed.to_item(), owned);
        assert_eq!(Item::from(borrowed), owned);
        assert_ne!(
            ItemRef {
                value: b"v",
                flags: 4
            },
            owned
        );
        assert_ne!(
            ItemRef {
                value: b"w",
                flags: 3
            },
            owned
        );
    }
}
