//! The meta commands on a [`Cluster`]: each goes to the key's server by the path the classic
//! single-key commands take, so health, retry and failover apply as to them (and under
//! [`Failover::Gutter`](crate::Failover::Gutter) a down server's keys go to the gutter, their
//! TTLs capped).
//!
//! A key is routed by its raw bytes and checked by the rules of its key mode, as
//! [`Client`](crate::Client)'s meta commands check it: in base64 key mode any bytes, up to
//! [`MAX_BASE64_KEY_LEN`](crate::protocol::meta::MAX_BASE64_KEY_LEN) of them.

use std::collections::HashMap;

use super::batch::{error_for, failed_keys, ServerFailure};
use super::gutter::Ttl;
use super::health::Verdict;
use super::Cluster;
use crate::client::{refuse_in_batch, Client};
use crate::error::Error;
use crate::error::Result;
use crate::meta_types::{
    MetaArithOptions, MetaArithOutcome, MetaDebugInfo, MetaDebugOptions, MetaDeleteOptions,
    MetaDeleteOutcome, MetaGetOptions, MetaItem, MetaSetOptions, MetaStoreOutcome,
};
use crate::protocol::meta::check_key;

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
        self.with_meta_key(
            key,
            options.base64_key,
            "mg",
            idempotent,
            &mut |client, ttl| client.meta_get(key, &ttl.meta_get(options)),
        )
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
        self.with_meta_key(key, options.base64_key, "ms", false, &mut |client, ttl| {
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
        self.with_meta_key(key, options.base64_key, "md", false, &mut |client, _| {
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
        self.with_meta_key(key, options.base64_key, "ma", false, &mut |client, ttl| {
            client.meta_arithmetic(key, &ttl.meta_arithmetic(options))
        })
    }

    /// [`Client::meta_debug`](crate::Client::meta_debug) on the key's server. Retried under
    /// the [`RetryPolicy`](crate::RetryPolicy) after any transient error: `me` changes nothing.
    ///
    /// ```
    /// use memcache_sync::{Cluster, MetaDebugOptions, MetaSetOptions};
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// let cluster = Cluster::builder([addr.as_str()]).build()?;
    /// let cas = cluster.meta_set("doc:cluster-me", "v", &MetaSetOptions::new())?.cas();
    /// let info = cluster.meta_debug("doc:cluster-me", &MetaDebugOptions::new())?.expect("stored");
    /// assert_eq!(info.cas, cas);
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn meta_debug(
        &self,
        key: impl AsRef<[u8]>,
        options: &MetaDebugOptions,
    ) -> Result<Option<MetaDebugInfo>> {
        let key = key.as_ref();
        self.with_meta_key(key, options.base64_key, "me", true, &mut |client, _| {
            client.meta_debug(key, options)
        })
    }

    /// [`Client::meta_get_many`] across the servers: the keys split by server as
    /// [`Cluster::get_many`] splits them, each server's share one quiet `mg` batch, all
    /// servers at once, under the same health and failover rules (and the gutter's TTL caps
    /// for a touch). A failing server fails only its own keys: one [`ServerFailure`] in
    /// [`MetaGetManyReport::failed`] holds its error and its keys, none of which is in
    /// [`MetaGetManyReport::found`]. Not retried, as no batch is. An invalid key, or options
    /// [`Client::meta_get_many`] refuses, fail the whole call before anything is sent.
    ///
    /// ```
    /// use memcache_sync::{Cluster, MetaGetOptions, MetaSetOptions};
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// let cluster = Cluster::builder([addr.as_str()]).build()?;
    /// cluster.meta_set("doc:cluster-mg-many", "v", &MetaSetOptions::new())?;
    /// let keys = ["doc:cluster-mg-many", "doc:cluster-mg-many:missing"];
    /// let report = cluster.meta_get_many(&keys, &MetaGetOptions::new().return_cas())?;
    /// assert!(report.failed.is_empty());
    /// let item = &report.found[b"doc:cluster-mg-many".as_slice()];
    /// assert!(item.cas.is_some());
    /// assert!(!report.found.contains_key(b"doc:cluster-mg-many:missing".as_slice()));
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn meta_get_many<K: AsRef<[u8]> + Sync>(
        &self,
        keys: &[K],
        options: &MetaGetOptions,
    ) -> Result<MetaGetManyReport> {
        refuse_in_batch(options)?;
        for key in keys {
            check_key(key.as_ref(), options.base64_key)?;
        }
        let ring = self.ring();
        let groups = self.group(&ring, keys.iter().map(AsRef::as_ref), |key| {
            ring.server_for(key)
        });
        let work = |client: &mut Client, group: &[&[u8]], ttl: Ttl| {
            client.meta_get_many(group, &ttl.meta_get(options))
        };
        let mut report = MetaGetManyReport::default();
        for (server, group, result) in self.fan_out(
            &ring,
            "meta_get_many",
            groups,
            |key: &&[u8]| key,
            work,
            |_| None,
            |_| Verdict::Answered,
        ) {
            match result {
                // The first server's map becomes the report's, rehashed for no one.
                Ok(found) if report.found.is_empty() => report.found = found,
                Ok(found) => report.found.extend(found),
                Err(error) => report.failed.push(ServerFailure {
                    server: ring.addr(server).to_owned(),
                    error,
                    keys: group.iter().map(|key| key.to_vec()).collect(),
                }),
            }
        }
        Ok(report)
    }

    /// The single-key path for a meta command: the key is checked by the rules of its key
    /// mode, not the classic ones [`Cluster::with_key`] applies, so a base64-mode key a client
    /// takes is taken here too (and one it refuses is refused alike, before anything is
    /// sent). Then it is routed as every single-key command is, the gutter included: `op` is
    /// told how to treat the TTLs it sends.
    fn with_meta_key<R>(
        &self,
        key: &[u8],
        base64: bool,
        command: &'static str,
        idempotent: bool,
        op: &mut dyn FnMut(&mut Client, Ttl) -> Result<R>,
    ) -> Result<R> {
        check_key(key, base64)?;
        self.route_ttl(key, command, idempotent, op)
    }
}

/// What [`Cluster::meta_get_many`] found: each hit with the metadata asked for, by key, and
/// each server that failed with the keys it was to read. A key found nowhere and failed
/// nowhere is a miss. (A [`MetaItem`] carries more than a value and flags, so the hits are
/// a map of owned items, as [`Client::meta_get_many`] returns them, rather than the
/// one-buffer [`Found`](crate::Found) of [`GetManyReport`](crate::GetManyReport).)
#[derive(Debug, Clone, Default)]
pub struct MetaGetManyReport {
    /// The hits, by key.
    pub found: HashMap<Vec<u8>, MetaItem>,
    /// The servers that could not be read, one entry each, in no particular order; none of
    /// their keys is in [`MetaGetManyReport::found`].
    pub failed: Vec<ServerFailure>,
}

impl MetaGetManyReport {
    /// Every key that could not be read, server by server.
    pub fn failed_keys(&self) -> impl Iterator<Item = &[u8]> {
        failed_keys(&self.failed)
    }

    /// Why `key` could not be read, if its server failed; `None` for a key found or missed.
    pub fn error_for(&self, key: impl AsRef<[u8]>) -> Option<&Error> {
        error_for(&self.failed, key.as_ref())
    }
}
