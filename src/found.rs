//! What a multi-key read found.

use std::collections::{hash_map, HashMap};
use std::ops::Index;

/// The items a multi-key read ([`Client::get_many`](crate::Client::get_many),
/// [`Client::gets_many`](crate::Client::gets_many)) found, by key. A key asked for and not
/// here is a miss.
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found<T> {
    map: HashMap<Vec<u8>, T>,
}

impl<T> Found<T> {
    /// The item found under `key`, or `None` if it was a miss (or not asked for).
    pub fn get(&self, key: impl AsRef<[u8]>) -> Option<&T> {
        self.map.get(key.as_ref())
    }

    /// Whether an item was found under `key`.
    pub fn contains_key(&self, key: impl AsRef<[u8]>) -> bool {
        self.map.contains_key(key.as_ref())
    }

    /// How many keys were found.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether every key was a miss.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The keys found with their items, in no particular order.
    pub fn iter(&self) -> hash_map::Iter<'_, Vec<u8>, T> {
        self.map.iter()
    }

    /// The keys found, in no particular order.
    pub fn keys(&self) -> hash_map::Keys<'_, Vec<u8>, T> {
        self.map.keys()
    }

    /// The items found, in no particular order.
    pub fn values(&self) -> hash_map::Values<'_, Vec<u8>, T> {
        self.map.values()
    }

    /// The map underneath, to keep or to move items out of.
    pub fn into_inner(self) -> HashMap<Vec<u8>, T> {
        self.map
    }
}

impl<T> Default for Found<T> {
    fn default() -> Self {
        HashMap::new().into()
    }
}

impl<T> From<HashMap<Vec<u8>, T>> for Found<T> {
    fn from(map: HashMap<Vec<u8>, T>) -> Self {
        Self { map }
    }
}

impl<T> From<Found<T>> for HashMap<Vec<u8>, T> {
    fn from(found: Found<T>) -> Self {
        found.map
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

impl<T> IntoIterator for Found<T> {
    type Item = (Vec<u8>, T);
    type IntoIter = hash_map::IntoIter<Vec<u8>, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.map.into_iter()
    }
}

impl<'a, T> IntoIterator for &'a Found<T> {
    type Item = (&'a Vec<u8>, &'a T);
    type IntoIter = hash_map::Iter<'a, Vec<u8>, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.map.iter()
    }
}
