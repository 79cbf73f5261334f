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
        self.map.get(key.as_ref())
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
        self.map.contains_key(key.as_ref())
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
        self.map.len()
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
        self.map.is_empty()
    }

    /// The keys found with their items, in no particular order.
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
    pub fn iter(&self) -> hash_map::Iter<'_, Vec<u8>, T> {
        self.map.iter()
    }

    /// The keys found, in no particular order.
    ///
    /// ```
    /// use memcache_sync::{Client, Expiry};
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let mut client = Client::connect(&addr)?;
    /// client.set("doc:found_keys:a", "1", Expiry::Never)?;
    /// client.set("doc:found_keys:b", "2", Expiry::Never)?;
    /// let found = client.get_many(&["doc:found_keys:a", "doc:found_keys:b", "doc:found_keys:missing"])?;
    /// let mut keys: Vec<&[u8]> = found.keys().map(Vec::as_slice).collect();
    /// keys.sort();
    /// assert_eq!(keys, [&b"doc:found_keys:a"[..], b"doc:found_keys:b"]);
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn keys(&self) -> hash_map::Keys<'_, Vec<u8>, T> {
        self.map.keys()
    }

    /// The items found, in no particular order.
    ///
    /// ```
    /// use memcache_sync::{Client, Expiry};
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let mut client = Client::connect(&addr)?;
    /// client.set("doc:found_values:a", "1", Expiry::Never)?;
    /// client.set("doc:found_values:b", "2", Expiry::Never)?;
    /// let found = client.get_many(&["doc:found_values:a", "doc:found_values:b", "doc:found_values:missing"])?;
    /// let mut values: Vec<&[u8]> = found.values().map(|item| item.value.as_slice()).collect();
    /// values.sort();
    /// assert_eq!(values, [b"1", b"2"]);
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn values(&self) -> hash_map::Values<'_, Vec<u8>, T> {
        self.map.values()
    }

    /// The map underneath, to keep or to move items out of.
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
