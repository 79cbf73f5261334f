//! Batches across servers: keys split by server, one pipeline per server, run concurrently
//! on scoped threads, results merged back in input order.

use std::fmt;
use std::sync::Mutex;

use std::time::Instant;

use super::gutter::{beside, Ttl};
use super::health::Verdict;
use super::route::{all_at_once, Share};
use super::{Cluster, Event, Ring};
use crate::batch::{BatchError, BatchReport, Entry, ItemResult};
use crate::client::{each, fits_one_window, Client, IntoFound};
use crate::error::{Error, Result};
use crate::expiry::Expiry;
use crate::found::{Found, FoundItem};
use crate::item::{CasToken, Item, StoreOutcome};
use crate::protocol::{validate_key, RetrievalCommand};

/// What [`Cluster::get_many`] (or, with `T = (Item, CasToken)`, [`Cluster::gets_many`])
/// found: the items, and each server that failed with the keys it was to read. A key found
/// nowhere and failed nowhere is a miss.
#[derive(Clone)]
pub struct GetManyReport<T = Item> {
    /// The items found, by key: the same one-buffer map [`Client::get_many`] returns, filled
    /// from every server's replies as they are read, with no allocation per item.
    /// `found["k"]` is the value's bytes, `found.get("k")` an [`ItemRef`](crate::ItemRef)
    /// (with its [`CasToken`], for `gets_many`), and [`Found::into_inner`] a `HashMap` of
    /// owned items.
    pub found: Found<T>,
    /// The servers that could not be read (down, unreachable, or failed mid-reply), one entry
    /// each, in no particular order.
    pub failed: Vec<ServerFailure>,
}

/// One server's failure in a [`Cluster::get_many`]: one error for all of its keys.
///
/// The keys are held as bytes, like [`GetManyReport::found`]'s, rather than as positions in
/// the caller's slice: the report then reads the same wherever it goes (a log, another
/// thread) without the slice beside it, and a failure costs its keys' bytes only when a
/// server fails.
#[derive(Debug, Clone)]
pub struct ServerFailure {
    /// The server's address, as the cluster was built with it.
    pub server: String,
    /// Why it could not be read.
    pub error: Error,
    /// The keys that were to be read from it: its own, and any that failed over to it
    /// ([`Failover::NextServer`](crate::Failover::NextServer)), each owner's in the order
    /// given. None of them is in [`GetManyReport::found`], even if the server answered for
    /// some before it failed.
    pub keys: Vec<Vec<u8>>,
}

/// Which multi-get [`Cluster::read_many`] runs: its command and its name for the observer,
/// the CAS value it keeps from each `VALUE` (`None`: the frame does not answer the command),
/// and the same read of one server's share and of the gutter's, for the per-thread path.
struct ReadMany<T> {
    command: RetrievalCommand,
    name: &'static str,
    cas: fn(Option<u64>) -> Option<u64>,
    read: ReadShare<T>,
    gutter: ReadGutter<T>,
}

/// One server's share of a multi-get, read on a thread of its own.
type ReadShare<T> = fn(&mut Client, &[&[u8]]) -> Result<Found<T>>;

/// The gutter's share of a multi-get.
type ReadGutter<T> = fn(&Cluster, &[&[u8]]) -> Result<GetManyReport<T>>;

/// Every key of `failed`, server by server: what a report's `failed_keys` lists.
pub(crate) fn failed_keys(failed: &[ServerFailure]) -> impl Iterator<Item = &[u8]> {
    failed
        .iter()
        .flat_map(|failure| failure.keys.iter().map(Vec::as_slice))
}

/// The error of the server in `failed` that was to read `key`: what a report's `error_for`
/// says.
pub(crate) fn error_for<'a>(failed: &'a [ServerFailure], key: &[u8]) -> Option<&'a Error> {
    failed
        .iter()
        .find(|failure| failure.keys.iter().any(|failed| failed == key))
        .map(|failure| &failure.error)
}

impl<T> Default for GetManyReport<T> {
    fn default() -> Self {
        Self {
            found: Found::default(),
            failed: Vec::new(),
        }
    }
}

impl<T: FoundItem> fmt::Debug for GetManyReport<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GetManyReport")
            .field("found", &self.found)
            .field("failed", &self.failed)
            .finish()
    }
}

impl<T> GetManyReport<T> {
    /// Every key that could not be read, server by server.
    pub fn failed_keys(&self) -> impl Iterator<Item = &[u8]> {
        failed_keys(&self.failed)
    }

    /// Why `key` could not be read, if its server failed; `None` for a key found or missed.
    /// It looks through every failed key: for many lookups, build a map from
    /// [`GetManyReport::failed`].
    pub fn error_for(&self, key: impl AsRef<[u8]>) -> Option<&Error> {
        error_for(&self.failed, key.as_ref())
    }

    /// Records that `server` failed with `error` for all of `keys`, none of which then counts
    /// as found (a server that failed mid-reply may have delivered some before).
    fn fail(&mut self, server: &str, keys: &[&[u8]], error: Error) {
        self.found.remove_all(keys);
        self.failed.push(ServerFailure {
            server: server.to_owned(),
            error,
            keys: keys.iter().map(|key| key.to_vec()).collect(),
        });
    }
}

impl Cluster {
    /// Reads many keys: one pipelined request per server, all servers at once. A failing
    /// server fails only its own keys (one [`ServerFailure`] in [`GetManyReport::failed`]
    /// holds its error and its keys); the others' are read. An invalid key fails the whole
    /// call before anything is sent.
    ///
    /// ```
    /// # use memcache_sync::{Cluster, Entry, Expiry};
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let cluster = Cluster::builder([addr.as_str()]).build()?;
    /// cluster.set("doc:fan:1", "one", Expiry::after_secs(60))?;
    /// let report = cluster.get_many(&["doc:fan:1", "doc:fan:missing"])?;
    /// assert_eq!(report.found.len(), 1);
    /// assert!(report.failed.is_empty());
    /// assert!(report.error_for("doc:fan:missing").is_none()); // a miss, not a failure
    /// for failure in &report.failed {
    ///     eprintln!("{}: {} keys unread: {}", failure.server, failure.keys.len(), failure.error);
    /// }
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn get_many<K: AsRef<[u8]> + Sync>(&self, keys: &[K]) -> Result<GetManyReport> {
        self.read_many(
            keys,
            ReadMany {
                command: RetrievalCommand::Get,
                name: "get_many",
                cas: |_| Some(0),
                read: |client, group| client.get_many(group),
                gutter: |gutter, keys| gutter.get_many(keys),
            },
        )
    }

    /// Like [`Cluster::get_many`], with each item's [`CasToken`] ([`Client::gets_many`] on
    /// each server).
    ///
    /// ```
    /// # use memcache_sync::{CasOutcome, Cluster, Expiry};
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let cluster = Cluster::builder([addr.as_str()]).build()?;
    /// cluster.set("doc:fan:gets", "1", Expiry::after_secs(60))?;
    /// let report = cluster.gets_many(&["doc:fan:gets", "doc:fan:missing"])?;
    /// let (item, token) = report.found.get("doc:fan:gets").expect("just stored");
    /// assert_eq!(item.value, b"1");
    /// let outcome = cluster.cas("doc:fan:gets", "2", token, Expiry::after_secs(60))?;
    /// assert_eq!(outcome, CasOutcome::Stored);
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn gets_many<K: AsRef<[u8]> + Sync>(
        &self,
        keys: &[K],
    ) -> Result<GetManyReport<(Item, CasToken)>> {
        self.read_many(
            keys,
            ReadMany {
                command: RetrievalCommand::Gets,
                name: "gets_many",
                cas: |cas| cas,
                read: |client, group| client.gets_many(group),
                gutter: |gutter, keys| gutter.gets_many(keys),
            },
        )
    }

    /// [`Cluster::get_many`] or [`Cluster::gets_many`], as `how` says.
    fn read_many<K: AsRef<[u8]> + Sync, T: Send>(
        &self,
        keys: &[K],
        how: ReadMany<T>,
    ) -> Result<GetManyReport<T>> {
        for key in keys {
            validate_key(key.as_ref())?;
        }
        let started = Instant::now();
        let ring = self.ring();
        // Grouped as the keys' bytes: every path below needs them, none the positions.
        let groups = self.group(&ring, keys.iter().map(AsRef::as_ref), |key| {
            ring.server_for(key)
        });
        let (shares, refused) = self.lease_all(&ring, groups, |key: &&[u8]| key);
        let (refused, gutter) = self.gutter_takes(&ring, refused);
        let mut report = GetManyReport::default();
        for refused in refused {
            self.finished(
                &ring,
                how.name,
                refused.owner,
                started,
                Some(&refused.error),
            );
            report.fail(ring.addr(refused.owner), &refused.group, refused.error);
        }
        let from_gutter = self.beside_gutter(&ring, how.name, gutter, how.gutter, || {
            if shares.iter().all(|share| fits_one_window(&share.group)) {
                self.get_many_from_one_thread(&ring, &how, shares, started, &mut report);
                return;
            }
            // Each server's items in a map of its own (the threads cannot share one); the
            // first becomes the report's, the others are copied in, item by item, without an
            // allocation each.
            let answered = |_: &_| Verdict::Answered;
            for (server, group, result) in self.run_shares(
                &ring,
                how.name,
                shares,
                started,
                how.read,
                |_| None,
                answered,
            ) {
                match result {
                    Ok(found) => report.found.absorb(found),
                    Err(error) => report.fail(ring.addr(server), &group, error),
                }
            }
        });
        report.found.absorb(from_gutter.found);
        report.failed.extend(from_gutter.failed);
        Ok(report)
    }

    /// Reads many keys without allocating an item each, as [`Client::get_many_with`] does,
    /// across the servers as [`Cluster::get_many`] does: each item found is handed to
    /// `found` with the position of its key in `keys`, its value (borrowed from the read
    /// buffer) and its flags. Returns the servers that failed, one [`ServerFailure`] each;
    /// `found` may already have seen some of a failed server's items. `found` is `Send`
    /// because servers too many keys for one window are read on threads of their own, one
    /// at a time through it.
    ///
    /// ```
    /// # use memcache_sync::{Cluster, Expiry};
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let cluster = Cluster::builder([addr.as_str()]).build()?;
    /// cluster.set("doc:fan:with:a", "12", Expiry::after_secs(60))?;
    /// cluster.set("doc:fan:with:b", "30", Expiry::after_secs(60))?;
    /// let keys = ["doc:fan:with:a", "doc:fan:with:missing", "doc:fan:with:b"];
    /// let mut total = 0;
    /// let failed = cluster.get_many_with(&keys, |index, value, _flags| {
    ///     assert_ne!(index, 1);
    ///     total += std::str::from_utf8(value).unwrap().parse::<u32>().unwrap();
    /// })?;
    /// assert!(failed.is_empty());
    /// assert_eq!(total, 42);
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn get_many_with<K: AsRef<[u8]> + Sync>(
        &self,
        keys: &[K],
        mut found: impl FnMut(usize, &[u8], u32) + Send,
    ) -> Result<Vec<ServerFailure>> {
        for key in keys {
            validate_key(key.as_ref())?;
        }
        let started = Instant::now();
        let ring = self.ring();
        let numbered = keys.iter().map(AsRef::as_ref).enumerate();
        let groups = self.group(&ring, numbered, |&(_, key)| ring.server_for(key));
        let (shares, refused) = self.lease_all(&ring, groups, |&(_, key)| key);
        let (refused, gutter) = self.gutter_takes(&ring, refused);
        let mut failed = self.gutter_get_many_with(&ring, gutter, &mut found);
        let failure = |server: &str, group: &[(usize, &[u8])], error: Error| ServerFailure {
            server: server.to_owned(),
            error,
            keys: group.iter().map(|(_, key)| key.to_vec()).collect(),
        };
        for refused in refused {
            self.finished(
                &ring,
                "get_many_with",
                refused.owner,
                started,
                Some(&refused.error),
            );
            failed.push(failure(
                ring.addr(refused.owner),
                &refused.group,
                refused.error,
            ));
        }
        fn share_keys<'k>(group: &[(usize, &'k [u8])]) -> Vec<&'k [u8]> {
            group.iter().map(|&(_, key)| key).collect()
        }
        if shares
            .iter()
            .all(|share| fits_one_window(&share_keys(&share.group)))
        {
            // As get_many_from_one_thread: every request out, then every reply read, here.
            let mut sent = Vec::new();
            for Share { mut lease, group } in shares {
                let group_keys = share_keys(&group);
                match lease
                    .client
                    .send_get_many(RetrievalCommand::Get, &group_keys)
                {
                    Ok(lines) => sent.push((lease, group, group_keys, lines)),
                    Err(error) => {
                        self.record(&ring, lease.index, lease.admission, Some(&error));
                        let server = lease.recorded();
                        self.finished(&ring, "get_many_with", server, started, Some(&error));
                        failed.push(failure(ring.addr(server), &group, error));
                    }
                }
            }
            for (mut lease, group, group_keys, lines) in sent {
                let result = lease.client.receive_get_many(
                    &group_keys,
                    lines,
                    each(|at, value| {
                        found(group[at].0, value.data, value.flags);
                        Some(())
                    }),
                );
                self.record(&ring, lease.index, lease.admission, result.as_ref().err());
                let server = lease.recorded();
                self.finished(
                    &ring,
                    "get_many_with",
                    server,
                    started,
                    result.as_ref().err(),
                );
                if let Err(error) = result {
                    failed.push(failure(ring.addr(server), &group, error));
                }
            }
            return Ok(failed);
        }
        let found = Mutex::new(found);
        let read = |client: &mut Client, group: &[(usize, &[u8])]| {
            client.get_many_with(&share_keys(group), |at, value, flags| {
                // A panic in another server's callback leaves no broken state here.
                let mut found = found.lock().unwrap_or_else(|poison| poison.into_inner());
                found(group[at].0, value, flags);
            })
        };
        let answered = |_: &_| Verdict::Answered;
        for (server, group, result) in self.run_shares(
            &ring,
            "get_many_with",
            shares,
            started,
            read,
            |_| None,
            answered,
        ) {
            if let Err(error) = result {
                failed.push(failure(ring.addr(server), &group, error));
            }
        }
        Ok(failed)
    }

    /// A read small enough for every server's request to be written before any reply is read
    /// (one window each): all requests go out, then each server's replies are read, on the
    /// calling thread. The servers work in parallel, and each one's replies are waited for
    /// from its own send; no thread is started here (nor, if every server had an idle
    /// connection, by [`Cluster::lease_all`]).
    fn get_many_from_one_thread<T>(
        &self,
        ring: &Ring,
        how: &ReadMany<T>,
        shares: Vec<Share<'_, &[u8]>>,
        started: Instant,
        report: &mut GetManyReport<T>,
    ) {
        // One map for every server's items, sized for all the keys up front: each item read
        // is copied once, from the read buffer into it. Only failures were reported yet, and
        // they found nothing.
        debug_assert!(report.found.is_empty());
        let keys: usize = shares.iter().map(|share| share.group.len()).sum();
        report.found = Found::with_capacity(keys);
        let mut sent = Vec::with_capacity(shares.len());
        for Share {
            mut lease,
            group: keys,
        } in shares
        {
            match lease.client.send_get_many(how.command, &keys) {
                Ok(lines) => sent.push((lease, keys, lines)),
                Err(error) => {
                    self.record(ring, lease.index, lease.admission, Some(&error));
                    let server = lease.recorded();
                    self.finished(ring, how.name, server, started, Some(&error));
                    report.fail(ring.addr(server), &keys, error);
                }
            }
        }
        for (mut lease, keys, lines) in sent {
            let items = IntoFound {
                found: &mut report.found,
                cas: how.cas,
            };
            let result = lease.client.receive_get_many(&keys, lines, items);
            self.record(ring, lease.index, lease.admission, result.as_ref().err());
            let server = lease.recorded();
            self.finished(ring, how.name, server, started, result.as_ref().err());
            if let Err(error) = result {
                report.fail(ring.addr(server), &keys, error);
            }
        }
    }

    /// Tells the observer that one server's share of a batch finished.
    fn finished(
        &self,
        ring: &Ring,
        command: &'static str,
        server: usize,
        started: Instant,
        error: Option<&Error>,
    ) {
        self.emit(&Event::Operation {
            server: ring.addr(server),
            command,
            latency: started.elapsed(),
            error,
        });
    }

    /// [`Client::set_many`] across the servers: each server's entries go through its own
    /// pipeline, all servers at once, and the results come back in input order, `Ok` if every
    /// entry was confirmed. The entries of a server that is down or unreachable fail each
    /// with that error; a server that fails mid-batch leaves its later entries `Unconfirmed`
    /// or `NotSent`, and its error is the report's [`stop_error`](BatchReport::stop_error)
    /// (if several servers stopped, that of the one whose stopped entry comes first in the
    /// input, so that [`BatchError::first_failure`] names its own server's error). The
    /// entries are all taken, and held in memory, while the batch runs:
    /// [`BatchReport::not_taken`] is always `Some(0)`.
    ///
    /// ```
    /// # use memcache_sync::{Cluster, Entry};
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let cluster = Cluster::builder([addr.as_str()]).build()?;
    /// let report = cluster.set_many((0..100).map(|i| Entry::new(format!("doc:fan:{i}"), "v")))?;
    /// assert_eq!(report.done_count(), 100);
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn set_many<K, V>(
        &self,
        entries: impl IntoIterator<Item = Entry<K, V>>,
    ) -> Result<BatchReport<()>, BatchError<()>>
    where
        K: AsRef<[u8]> + Send + Sync,
        V: AsRef<[u8]> + Send + Sync,
    {
        self.batch(
            "set_many",
            entries,
            |entry| entry.key.as_ref(),
            |client, group, ttl| {
                client.set_many(group.iter().map(|(_, entry)| ttl.entry(borrowed(entry))))
            },
        )
    }

    /// [`Client::add_many`] across the servers, as [`Cluster::set_many`].
    ///
    /// ```
    /// # use memcache_sync::{Cluster, Entry, StoreOutcome};
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let cluster = Cluster::builder([addr.as_str()]).build()?;
    /// cluster.set_many([Entry::new("doc:fan:add", "first")])?;
    /// let report = cluster.add_many([Entry::new("doc:fan:add", "second")])?;
    /// assert_eq!(report.results()[0].ok(), Some(&StoreOutcome::NotStored));
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn add_many<K, V>(
        &self,
        entries: impl IntoIterator<Item = Entry<K, V>>,
    ) -> Result<BatchReport<StoreOutcome>, BatchError<StoreOutcome>>
    where
        K: AsRef<[u8]> + Send + Sync,
        V: AsRef<[u8]> + Send + Sync,
    {
        self.batch(
            "add_many",
            entries,
            |entry| entry.key.as_ref(),
            |client, group, ttl| {
                client.add_many(group.iter().map(|(_, entry)| ttl.entry(borrowed(entry))))
            },
        )
    }

    /// [`Client::replace_many`] across the servers, as [`Cluster::set_many`].
    ///
    /// ```
    /// # use memcache_sync::{Cluster, Entry, StoreOutcome};
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let cluster = Cluster::builder([addr.as_str()]).build()?;
    /// cluster.set_many([Entry::new("doc:fan:replace", "first")])?;
    /// let report = cluster.replace_many([
    ///     Entry::new("doc:fan:replace", "second"),
    ///     Entry::new("doc:fan:replace:missing", "second"),
    /// ])?;
    /// assert_eq!(report.results()[0].ok(), Some(&StoreOutcome::Stored));
    /// assert_eq!(report.results()[1].ok(), Some(&StoreOutcome::NotStored));
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn replace_many<K, V>(
        &self,
        entries: impl IntoIterator<Item = Entry<K, V>>,
    ) -> Result<BatchReport<StoreOutcome>, BatchError<StoreOutcome>>
    where
        K: AsRef<[u8]> + Send + Sync,
        V: AsRef<[u8]> + Send + Sync,
    {
        self.batch(
            "replace_many",
            entries,
            |entry| entry.key.as_ref(),
            |client, group, ttl| {
                client.replace_many(group.iter().map(|(_, entry)| ttl.entry(borrowed(entry))))
            },
        )
    }

    /// [`Client::delete_many`] across the servers, as [`Cluster::set_many`].
    ///
    /// ```
    /// # use memcache_sync::{Cluster, Entry};
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let cluster = Cluster::builder([addr.as_str()]).build()?;
    /// cluster.set_many([Entry::new("doc:fan:delete", "v")])?;
    /// let report = cluster.delete_many(["doc:fan:delete", "doc:fan:delete"])?;
    /// assert_eq!(report.results()[0].ok(), Some(&true));
    /// assert_eq!(report.results()[1].ok(), Some(&false)); // already gone
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn delete_many<K: AsRef<[u8]> + Send + Sync>(
        &self,
        keys: impl IntoIterator<Item = K>,
    ) -> Result<BatchReport<bool>, BatchError<bool>> {
        self.batch(
            "delete_many",
            keys,
            |key| key.as_ref(),
            |client, group, _| client.delete_many(group.iter().map(|(_, key)| key.as_ref())),
        )
    }

    /// [`Client::touch_many`] across the servers, as [`Cluster::set_many`].
    ///
    /// ```
    /// # use memcache_sync::{Cluster, Expiry};
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let cluster = Cluster::builder([addr.as_str()]).build()?;
    /// let report = cluster.touch_many([("doc:fan:nobody", Expiry::after_secs(60))])?;
    /// assert_eq!(report.results()[0].ok(), Some(&false)); // no such key
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn touch_many<K: AsRef<[u8]> + Send + Sync>(
        &self,
        keys: impl IntoIterator<Item = (K, Expiry)>,
    ) -> Result<BatchReport<bool>, BatchError<bool>> {
        self.batch(
            "touch_many",
            keys,
            |(key, _)| key.as_ref(),
            |client, group, ttl| {
                client.touch_many(
                    group
                        .iter()
                        .map(|(_, (key, expiry))| (key.as_ref(), ttl.expiry(*expiry))),
                )
            },
        )
    }

    /// Splits items by the server that owns each one, keeping their order.
    pub(super) fn group<I>(
        &self,
        ring: &Ring,
        items: impl IntoIterator<Item = I>,
        server: impl Fn(&I) -> usize,
    ) -> Vec<Vec<I>> {
        let items = items.into_iter();
        let servers = ring.nodes.len();
        // Room for an even share and a quarter more, so that the usual uneven split grows no
        // group, or once; a few items per server are left to grow as they come, since a
        // server owning none of them would be given room for nothing.
        let share = items.size_hint().0.div_ceil(servers.max(1));
        let room = if share >= 16 { share + share / 4 } else { 0 };
        let mut groups: Vec<Vec<I>> = (0..servers).map(|_| Vec::with_capacity(room)).collect();
        for item in items {
            groups[server(&item)].push(item);
        }
        groups
    }

    /// Runs `work` for each non-empty group on a connection to its server, all at once on
    /// scoped threads, under the servers' health but without retries (batches hold work that
    /// is not safe to repeat). `failure` names the error in a successful result that the
    /// observer should see, such as a batch's stop error, and `verdict` says what a
    /// successful result tells the server's health; `key` names an item's key, for a group
    /// that fails over to its keys' next owners. Returns each group with its server (the
    /// one it ran on, or its owner if no server took it) and its result; groups that failed
    /// over onto a server the call also holds for its own come back merged, as one group.
    #[allow(clippy::too_many_arguments)] // each is one of the call's own parts, none optional
    pub(super) fn fan_out<I: Send, R: Send>(
        &self,
        ring: &Ring,
        command: &'static str,
        groups: Vec<Vec<I>>,
        key: impl Fn(&I) -> &[u8] + Sync,
        work: impl Fn(&mut Client, &[I], Ttl) -> Result<R> + Sync,
        failure: impl Fn(&R) -> Option<&Error> + Sync,
        verdict: impl Fn(&R) -> Verdict + Sync,
    ) -> Vec<(usize, Vec<I>, Result<R>)> {
        let started = Instant::now();
        let (shares, refused) = self.lease_all(ring, groups, &key);
        let (refused, gutter) = self.gutter_takes(ring, refused);
        let mut results = Vec::with_capacity(shares.len() + refused.len());
        for refused in refused {
            self.finished(ring, command, refused.owner, started, Some(&refused.error));
            results.push((refused.owner, refused.group, Err(refused.error)));
        }
        let owners_work = |client: &mut Client, group: &[I]| work(client, group, Ttl::AS_GIVEN);
        let (from_gutter, from_owners) = beside(
            !gutter.is_empty(),
            || self.gutter_fan_out(ring, command, gutter, &key, &work, &failure, &verdict),
            || {
                self.run_shares(
                    ring,
                    command,
                    shares,
                    started,
                    owners_work,
                    &failure,
                    &verdict,
                )
            },
        );
        results.extend(from_gutter);
        results.extend(from_owners);
        results
    }

    /// Runs `work` on every share at once (see [`all_at_once`]), as [`Cluster::fan_out`]
    /// describes, for a call that started at `started`.
    #[allow(clippy::too_many_arguments)] // each is one of the call's own parts, none optional
    fn run_shares<I: Send, R: Send>(
        &self,
        ring: &Ring,
        command: &'static str,
        shares: Vec<Share<'_, I>>,
        started: Instant,
        work: impl Fn(&mut Client, &[I]) -> Result<R> + Sync,
        failure: impl Fn(&R) -> Option<&Error> + Sync,
        verdict: impl Fn(&R) -> Verdict + Sync,
    ) -> Vec<(usize, Vec<I>, Result<R>)> {
        all_at_once(shares, |Share { mut lease, group }| {
            let result = work(&mut lease.client, &group);
            let error = result.as_ref().map_or_else(Some, &failure);
            let learnt = result
                .as_ref()
                .map_or_else(|error| Verdict::of(Some(error)), &verdict);
            self.record_verdict(ring, lease.index, lease.admission, learnt);
            let server = lease.recorded();
            self.finished(ring, command, server, started, error);
            (server, group, result)
        })
    }

    /// A batch across servers: `key` names each item's key, `run` sends one server's items
    /// (with their input positions) and reports on them in order.
    fn batch<I: Send + Sync, T: Send>(
        &self,
        command: &'static str,
        items: impl IntoIterator<Item = I>,
        key: impl Fn(&I) -> &[u8] + Sync,
        run: impl Fn(&mut Client, &[(usize, I)], Ttl) -> Result<BatchReport<T>, BatchError<T>> + Sync,
    ) -> Result<BatchReport<T>, BatchError<T>> {
        let ring = self.ring();
        let mut count = 0;
        let numbered = items.into_iter().enumerate().inspect(|_| count += 1);
        let groups = self.group(&ring, numbered, |(_, item)| ring.server_for(key(item)));
        let mut results: Vec<Option<ItemResult<T>>> = (0..count).map(|_| None).collect();
        // The stop error of the server whose stopped item comes first in the input, with that
        // item's position: the first failure of the merged report must carry its own
        // server's error.
        let mut stop: Option<(usize, Error)> = None;
        let work = |client: &mut Client, group: &[(usize, I)], ttl: Ttl| {
            Ok(run(client, group, ttl).unwrap_or_else(BatchError::into_report))
        };
        let (failure, verdict) = (BatchReport::stop_error, Verdict::of_batch);
        for (_, group, outcome) in self.fan_out(
            &ring,
            command,
            groups,
            |(_, item)| key(item),
            work,
            failure,
            verdict,
        ) {
            match outcome {
                Ok(report) => {
                    // A server's batch that stopped early took no more of its items: those
                    // were not sent. (A group merged by failover is not in input order, so
                    // its earliest stopped item is the least position, not the first met.)
                    let mut answered = report.results.into_iter();
                    let mut earliest_stopped = usize::MAX;
                    for (index, _) in &group {
                        let result = answered.next().unwrap_or(ItemResult::NotSent);
                        if result.is_unconfirmed() || result.is_not_sent() {
                            earliest_stopped = earliest_stopped.min(*index);
                        }
                        results[*index] = Some(result);
                    }
                    if let Some(error) = report.stop_error {
                        if stop.as_ref().is_none_or(|(at, _)| earliest_stopped < *at) {
                            stop = Some((earliest_stopped, error));
                        }
                    }
                }
                Err(error) => {
                    for (index, _) in &group {
                        results[*index] = Some(ItemResult::Failed(error.clone()));
                    }
                }
            }
        }
        let results = results
            .into_iter()
            .map(|r| r.expect("every item is in one group"))
            .collect();
        BatchReport {
            results,
            stop_error: stop.map(|(_, error)| error),
            not_taken: Some(0),
        }
        .into_result()
    }
}

/// An entry that borrows its key and value from another.
fn borrowed<K: AsRef<[u8]>, V: AsRef<[u8]>>(entry: &Entry<K, V>) -> Entry<&[u8], &[u8]> {
    Entry {
        key: entry.key.as_ref(),
        value: entry.value.as_ref(),
        flags: entry.flags,
        expiry: entry.expiry,
    }
}
