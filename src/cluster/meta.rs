//! The meta commands on a [`Cluster`]: each goes to the key's server through
//! the path [`Cluster::with_key`] takes, so health, retry and failover apply as to the classic
//! commands (and under [`Failover::Gutter`](crate::Failover::Gutter) their TTLs are capped).
//!
//! A key is routed by its raw bytes, and must be a valid classic key to be routed at all
//! (base64 key mode on a cluster covers keys with bytes the classic rules allow).

use super::Cluster;
use crate::error::Result;
use crate::meta_types::{
    MetaArithOptions, MetaArithOutcome, MetaDeleteOptions, MetaDeleteOutcome, MetaGetOptions,
    MetaItem, MetaSetOptions, MetaStoreOutcome,
};

impl Cluster {
    /// [`Client::meta_get`](crate::Client::meta_get) on the key's server. Retried under the
    /// [`RetryPolicy`](crate::RetryPolicy) after any transient error, unless the options
    /// change the item (a touch, a vivify, a recache threshold, a new CAS).
    ///
    /// ```
    /// use memcache_sync::{Cluster, MetaGetOptions, MetaSetOptions};
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// let cluster = Cluster::builder([addr.as_str()]).build()?;
    /// cluster.meta_set("doc:cluster-mg", "v", &MetaSetOptions::new())?;
    /// let item = cluster.meta_get("doc:cluster-mg", &MetaGetOptions::new())?;
    /// assert_eq!(item.and_then(|i| i.value), Some(b"v".to_vec()));
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn meta_get(
        &self,
        key: impl AsRef<[u8]>,
        options: &MetaGetOptions,
    ) -> Result<Option<MetaItem>> {
        let key = key.as_ref();
        let idempotent = options.is_idempotent() && options.new_cas.is_none();
        self.with_key_ttl(key, "mg", idempotent, &mut |client, ttl| {
            client.meta_get(key, &ttl.meta_get(options))
        })
    }

    /// [`Client::meta_set`](crate::Client::meta_set) on the key's server; retried only when
    /// the request cannot have reached it.
    ///
    /// ```
    /// use memcache_sync::{Cluster, MetaSetOptions};
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// let cluster = Cluster::builder([addr.as_str()]).build()?;
    /// assert!(cluster.meta_set("doc:cluster-ms", "v", &MetaSetOptions::new())?.is_stored());
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn meta_set(
        &self,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
        options: &MetaSetOptions,
    ) -> Result<MetaStoreOutcome> {
        let (key, value) = (key.as_ref(), value.as_ref());
        self.with_key_ttl(key, "ms", false, &mut |client, ttl| {
            client.meta_set(key, value, &ttl.meta_set(options))
        })
    }

    /// [`Client::meta_delete`](crate::Client::meta_delete) on the key's server; retried only
    /// when the request cannot have reached it.
    ///
    /// ```
    /// use memcache_sync::{Cluster, MetaDeleteOptions, MetaDeleteOutcome};
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// let cluster = Cluster::builder([addr.as_str()]).build()?;
    /// let outcome = cluster.meta_delete("doc:cluster-md:never-set", &MetaDeleteOptions::new())?;
    /// assert_eq!(outcome, MetaDeleteOutcome::NotFound);
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn meta_delete(
        &self,
        key: impl AsRef<[u8]>,
        options: &MetaDeleteOptions,
    ) -> Result<MetaDeleteOutcome> {
        let key = key.as_ref();
        self.with_key_ttl(key, "md", false, &mut |client, _| {
            client.meta_delete(key, options)
        })
    }

    /// [`Client::meta_arithmetic`](crate::Client::meta_arithmetic) on the key's server;
    /// retried only when the request cannot have reached it, so nothing is counted twice.
    ///
    /// ```
    /// use memcache_sync::{Cluster, Expiry, MetaArithOptions};
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// let cluster = Cluster::builder([addr.as_str()]).build()?;
    /// let hit = MetaArithOptions::incr().create_on_miss(Expiry::after_secs(60), 1);
    /// assert!(cluster.meta_arithmetic("doc:cluster-ma", &hit)?.counter().is_some());
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn meta_arithmetic(
        &self,
        key: impl AsRef<[u8]>,
        options: &MetaArithOptions,
    ) -> Result<MetaArithOutcome> {
        let key = key.as_ref();
        self.with_key_ttl(key, "ma", false, &mut |client, ttl| {
            client.meta_arithmetic(key, &ttl.meta_arithmetic(options))
        })
    }
}
