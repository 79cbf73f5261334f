//! Gutter failover ([`Failover::Gutter`]): the keys of a main server marked down go to a small
//! separate cluster, the gutter, with every expiry sent there capped, and come home when the
//! server's probe finds it up.
//!
//! The gutter is a [`Cluster`] of its own, built with the main cluster's settings: its servers
//! have their own pools, health and ketama ring, and it never fails over (a gutter server that
//! is down fails its keys, which never reach the main ring). The main cluster decides, per call
//! or per batch group, whether the owner's failure hands the call to the gutter
//! ([`Cluster::passes_to_gutter`]); everything else here is how a call runs there.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use super::batch::ServerFailure;
use super::route::Refused;
use super::{Cluster, ClusterBuilder, Event, Failover, GetManyReport, Observer, Ring};
use crate::batch::Entry;
use crate::client::Client;
use crate::error::{Error, Result};
use crate::expiry::Expiry;
use crate::meta_types::{MetaArithOptions, MetaGetOptions, MetaSetOptions};
use crate::protocol::validate_key;
use crate::store_options::StoreOptions;

/// memcached reads more than this many seconds as a Unix time; a cap is a relative TTL.
const MAX_CAP: Duration = Duration::from_secs(60 * 60 * 24 * 30);

/// The gutter of a [`Cluster`] under [`Failover::Gutter`]: its servers and the longest TTL
/// an item may get there. Given to [`ClusterBuilder::gutter`].
///
/// # What each command does on the gutter
/// A call goes to the gutter when its key's server is marked down and the call's attempt on
/// it sent nothing ([`Error::ServerDown`], or a probe whose connect failed). There:
/// - reads (`get`, `gets`, `get_into`, `meta_get`, `get_many`, …) read the gutter;
/// - stores (`set`, `add`, `replace`, `cas`, `meta_set`, `set_many`, …) store there with the
///   expiry capped: [`Expiry::Never`], a longer TTL or a later moment becomes the cap; a
///   shorter one, or one already past, is kept;
/// - `touch`, `gat`, `gats`, `touch_many`, and a `meta_get` that touches or vivifies, set a
///   capped expiry;
/// - `incr` and `decr` carry no TTL: they change a counter only if one was stored on the
///   gutter (by a capped store), and miss otherwise; a `meta_arithmetic` that creates on a
///   miss creates with a capped TTL;
/// - `append` and `prepend` change an item stored on the gutter, which keeps its capped
///   TTL, and answer `NotStored` otherwise;
/// - `cas` sends its token to the gutter, where a token read from the main server means
///   nothing: it answers `Exists` or `NotFound`, unless (rarely) the gutter's item has the
///   same number. Tokens read during the outage come from the gutter and work there;
/// - `delete` (and `delete_many`, `meta_delete`) deletes the gutter's copy, so the gutter
///   stops serving what the caller deleted. **It cannot delete the main server's copy**:
///   when the server returns it serves the value it held before the outage, deleted or not.
///
/// [`Cluster::with_key`] never goes to the gutter (its closure could store without the cap):
/// it fails with the owner's error, as under [`Failover::Never`]. Server-wide commands
/// (`stats`, `flush_all`, …) address the main servers only.
///
/// A gutter server that is down itself, or cannot be reached, fails the call with the
/// owner's error (nothing was sent anywhere); one that fails after the request went out
/// fails it with its own error. [`ClusterBuilder::failover_rate`] does not limit the gutter:
/// its budget protects the main ring, which the gutter never loads.
///
/// Each call sent to the gutter is an [`Event::Gutter`]; the first of an outage logs a
/// warning, and the first call its server answers again an info line.
///
/// # With a live server list
/// The gutter's list is its own: [`Cluster::set_servers`] on the main cluster changes the
/// main list only (the gutter's can be changed through [`Cluster::gutter`]). A call routes by
/// one snapshot of the main list, and goes to the gutter when its key's owner in that
/// snapshot is down: a server removed from the list owns no keys, so none go to the gutter
/// for it; a down server kept in the list keeps its health, so its keys still go there. A
/// main list naming a gutter server is refused, by [`ClusterBuilder::build`] and by
/// [`Cluster::set_servers`].
///
/// # Costs
/// The gutter's servers, idle until an outage. A call for a down server's key makes two
/// [`Event::Operation`]s: the owner's refusal, then the gutter's call. A batch with keys on
/// the gutter runs the gutter's share on a thread of its own beside the main servers'
/// shares (none is started when no key goes there); [`Cluster::get_many_with`], whose
/// callback is one `FnMut`, reads the gutter first and then the main servers, so without a
/// [`Deadline`](crate::Deadline) it can wait the gutter's timeout and then a main server's.
///
/// # Breaks
/// - A value written during the outage lives at most the cap: the caller's TTL is not kept.
/// - When the server returns its keys go home, where the server serves what it held before
///   the outage: values older than those written to the gutter meanwhile, and values the
///   caller deleted. Clients that still see the server down read the gutter's copy until it
///   expires: the cap bounds how long two versions are served.
/// - As with any failover, a lock taken with `add` can be taken twice (once on each side),
///   and a reader that sees the server down can miss what a writer that does not just
///   stored.
///
/// ```
/// use memcache_sync::GutterConfig;
/// use std::time::Duration;
///
/// let gutter = GutterConfig::new(["10.0.9.1:11211", "10.0.9.2:11211"])
///     .with_max_ttl(Duration::from_secs(30));
/// assert_eq!(gutter.max_ttl(), Duration::from_secs(30));
/// assert_eq!(gutter.servers(), ["10.0.9.1:11211", "10.0.9.2:11211"]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct GutterConfig {
    servers: Vec<String>,
    max_ttl: Duration,
}

impl GutterConfig {
    /// A gutter of `servers`, written as [`Cluster::builder`] takes them, with a TTL cap of
    /// 10 s.
    pub fn new<S: AsRef<str>>(servers: impl IntoIterator<Item = S>) -> Self {
        Self {
            servers: servers
                .into_iter()
                .map(|server| server.as_ref().to_owned())
                .collect(),
            max_ttl: Duration::from_secs(10),
        }
    }

    /// The longest time an item stored on the gutter lives. From 1 s to 30 days, else
    /// [`ClusterBuilder::build`] fails with [`Error::InvalidArgument`]; a fraction of a
    /// second rounds up, as every [`Expiry::After`] does. Default: 10 s.
    pub fn with_max_ttl(mut self, max_ttl: Duration) -> Self {
        self.max_ttl = max_ttl;
        self
    }

    /// The TTL cap.
    pub fn max_ttl(&self) -> Duration {
        self.max_ttl
    }

    /// The gutter's servers, as given.
    pub fn servers(&self) -> &[String] {
        &self.servers
    }
}

/// A main cluster's gutter.
pub(super) struct Gutter {
    cluster: Cluster,
    max_ttl: Duration,
    /// The main servers whose keys have gone to the gutter since they were last seen up: the
    /// log says when an outage's keys start going there and when they come home.
    routed: Mutex<HashSet<String>>,
    /// Whether `routed` holds any server: a call its owner answers checks only this.
    any_routed: AtomicBool,
}

/// How a call treats the expiries it sends: as given on the key's own server, capped on the
/// gutter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Ttl {
    cap: Option<Duration>,
}

impl Ttl {
    /// On the key's own server.
    pub(super) const AS_GIVEN: Ttl = Ttl { cap: None };

    /// `expiry`, capped on the gutter.
    pub(super) fn expiry(self, expiry: Expiry) -> Expiry {
        match self.cap {
            None => expiry,
            Some(cap) => capped(expiry, cap, SystemTime::now),
        }
    }

    /// `options` with the expiry capped on the gutter.
    pub(super) fn store(self, options: StoreOptions) -> StoreOptions {
        StoreOptions {
            expiry: self.expiry(options.expiry),
            ..options
        }
    }

    /// `entry` with the expiry capped on the gutter.
    pub(super) fn entry<K, V>(self, entry: Entry<K, V>) -> Entry<K, V> {
        Entry {
            expiry: self.expiry(entry.expiry),
            ..entry
        }
    }

    /// A meta get's touch and vivify TTLs capped on the gutter.
    pub(super) fn meta_get(self, options: &MetaGetOptions) -> MetaGetOptions {
        MetaGetOptions {
            touch: options.touch.map(|expiry| self.expiry(expiry)),
            vivify_on_miss: options.vivify_on_miss.map(|expiry| self.expiry(expiry)),
            ..*options
        }
    }

    /// A meta set's TTL capped on the gutter.
    pub(super) fn meta_set(self, options: &MetaSetOptions) -> MetaSetOptions {
        MetaSetOptions {
            expiry: self.expiry(options.expiry),
            ..*options
        }
    }

    /// A meta arithmetic's TTLs (of the item it creates, and the one it sets) capped on the
    /// gutter.
    pub(super) fn meta_arithmetic(self, options: &MetaArithOptions) -> MetaArithOptions {
        MetaArithOptions {
            create: options
                .create
                .map(|(expiry, initial)| (self.expiry(expiry), initial)),
            expiry: options.expiry.map(|expiry| self.expiry(expiry)),
            ..*options
        }
    }
}

/// A server of `gutter` that `main` lists too: a key it holds would move within the main
/// ring when its owner is down.
fn in_both(gutter: &Cluster, main: &[String]) -> Option<String> {
    gutter
        .servers()
        .into_iter()
        .find(|g| main.iter().any(|m| m == g))
}

/// `expiry` no later than `cap` from `now` (read only for an absolute expiry, the one kind
/// that needs it: a batch's entries are capped one by one). One already past stays past:
/// capping never turns "expired" into "stored".
fn capped(expiry: Expiry, cap: Duration, now: impl FnOnce() -> SystemTime) -> Expiry {
    match expiry {
        Expiry::Never => Expiry::After(cap),
        Expiry::After(ttl) => Expiry::After(ttl.min(cap)),
        Expiry::At(moment) => match moment.duration_since(now()) {
            Ok(ttl) if ttl > cap => Expiry::After(cap),
            _ => Expiry::At(moment),
        },
    }
}

impl ClusterBuilder {
    /// Chooses [`Failover::Gutter`] with this gutter: keys of a server marked down go to the
    /// gutter's servers, with their TTLs capped, instead of failing. The gutter's servers use
    /// the cluster's [`config`](ClusterBuilder::config), [`pool`](ClusterBuilder::pool),
    /// [`health`](ClusterBuilder::health), [`retry`](ClusterBuilder::retry) and
    /// [`observer`](ClusterBuilder::observer); they are placed by libmemcached's ketama over
    /// their own list. [`ClusterBuilder::build`] fails with [`Error::InvalidArgument`] for an
    /// empty or malformed gutter list, a server in both lists, a cap out of range, or a
    /// later [`ClusterBuilder::failover`] other than [`Failover::Gutter`].
    ///
    /// ```
    /// use memcache_sync::{Cluster, Failover, GutterConfig};
    ///
    /// let cluster = Cluster::builder(["10.0.0.1:11211", "10.0.0.2:11211"])
    ///     .gutter(GutterConfig::new(["10.0.1.1:11211"]))
    ///     .build()?;
    /// assert!(format!("{cluster:?}").contains("Gutter"));
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn gutter(mut self, gutter: GutterConfig) -> Self {
        self.gutter = Some(gutter);
        self.failover = Failover::Gutter;
        self
    }
}

/// The gutter a builder's settings describe, if its failover policy asks for one.
pub(super) fn build(
    builder: &ClusterBuilder,
    main: &[String],
    observer: Option<&Arc<dyn Observer>>,
) -> Result<Option<Gutter>> {
    let invalid = |reason: String| Error::InvalidArgument {
        what: "gutter",
        reason,
    };
    let config = match (&builder.gutter, builder.failover) {
        (None, Failover::Gutter) => {
            return Err(invalid(
                "Failover::Gutter needs gutter servers: use ClusterBuilder::gutter".into(),
            ))
        }
        (None, _) => return Ok(None),
        (Some(_), failover) if failover != Failover::Gutter => {
            return Err(invalid(format!(
                "gutter servers are given but the failover policy is {failover:?}"
            )))
        }
        (Some(config), _) => config,
    };
    if config.max_ttl < Duration::from_secs(1) || config.max_ttl > MAX_CAP {
        return Err(invalid(format!(
            "the TTL cap must be from 1 s to 30 days, not {:?}",
            config.max_ttl
        )));
    }
    let mut inner = Cluster::builder(&config.servers)
        .config(builder.config.clone())
        .pool(builder.pool.clone())
        .health(builder.health.clone())
        .retry(builder.retry.clone());
    if let Some(observer) = observer {
        let observer = Arc::clone(observer);
        inner = inner.observer(move |event: &Event<'_>| observer.on_event(event));
    }
    let cluster = inner.build().map_err(|error| match error {
        Error::InvalidArgument { reason, .. } => invalid(reason),
        error => error,
    })?;
    if let Some(both) = in_both(&cluster, main) {
        return Err(invalid(format!(
            "{both} is both a main server and a gutter server: a key would move within the main ring"
        )));
    }
    Ok(Some(Gutter {
        cluster,
        max_ttl: config.max_ttl,
        routed: Mutex::new(HashSet::new()),
        any_routed: AtomicBool::new(false),
    }))
}

impl Gutter {
    fn ttl(&self) -> Ttl {
        Ttl {
            cap: Some(self.max_ttl),
        }
    }

    fn routed(&self) -> MutexGuard<'_, HashSet<String>> {
        // Each change is one insert or remove: a poisoned set is sound.
        self.routed
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Notes that keys of `server` go to the gutter; the first of an outage is logged.
    fn start(&self, server: &str) {
        if self.any_routed.load(Ordering::Acquire) && self.routed().contains(server) {
            return;
        }
        let mut routed = self.routed();
        if routed.insert(server.to_owned()) {
            self.any_routed.store(true, Ordering::Release);
            log::warn!(
                "memcached at {server} is down: its keys go to the gutter ({}), where stores \
                 expire within {:?}",
                self.cluster.servers().join(", "),
                self.max_ttl
            );
        }
    }

    /// Forgets main servers that left the main list: their keys are no longer the gutter's
    /// business, and no "up" line is due for them.
    fn forget(&self, removed: &[String]) {
        if !self.any_routed.load(Ordering::Acquire) {
            return;
        }
        let mut routed = self.routed();
        for server in removed {
            routed.remove(server);
        }
        self.any_routed.store(!routed.is_empty(), Ordering::Release);
    }

    /// Notes that `server` answered for its own keys; the first answer after an outage is
    /// logged.
    fn home(&self, server: &str) {
        if !self.any_routed.load(Ordering::Acquire) {
            return;
        }
        let mut routed = self.routed();
        if routed.remove(server) {
            self.any_routed.store(!routed.is_empty(), Ordering::Release);
            log::info!("memcached at {server} is up: its keys are served by it again");
        }
    }
}

impl Cluster {
    /// The gutter's servers, in order; empty without [`Failover::Gutter`].
    pub fn gutter_servers(&self) -> Vec<String> {
        self.shared
            .gutter
            .as_ref()
            .map_or_else(Vec::new, |gutter| gutter.cluster.servers())
    }

    /// The gutter, as a cluster of its own, for work this type has no method for (such as
    /// `stats` of its servers); `None` without [`Failover::Gutter`].
    ///
    /// ```
    /// # use memcache_sync::{Cluster, GutterConfig};
    /// let cluster = Cluster::builder(["10.0.0.1:11211"])
    ///     .gutter(GutterConfig::new(["10.0.1.1:11211"]))
    ///     .build()?;
    /// assert_eq!(cluster.gutter().unwrap().servers(), ["10.0.1.1:11211"]);
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn gutter(&self) -> Option<&Cluster> {
        self.shared.gutter.as_ref().map(|gutter| &gutter.cluster)
    }

    /// Refuses a new main list ([`Cluster::set_servers`]) that names a gutter server, as
    /// [`ClusterBuilder::build`] refuses such a list.
    pub(super) fn refuse_gutter_servers(&self, main: &[String]) -> Result<()> {
        let Some(gutter) = &self.shared.gutter else {
            return Ok(());
        };
        match in_both(&gutter.cluster, main) {
            Some(both) => Err(Error::InvalidArgument {
                what: "cluster",
                reason: format!("{both} is a gutter server: a key would move within the main ring"),
            }),
            None => Ok(()),
        }
    }

    /// After [`Cluster::set_servers`], forgets the outages of main servers that left the list.
    pub(super) fn gutter_forgets(&self, removed: &[String]) {
        if let Some(gutter) = &self.shared.gutter {
            gutter.forget(removed);
        }
    }

    /// Whether a call for a key of `owner` that failed there with `error` goes to the gutter:
    /// the owner is marked down and nothing was sent (it was refused as down, or its probe
    /// could not connect). A call that may have reached the owner stays failed: running it
    /// again elsewhere could hide what it did there.
    /// `owner` is an index into `ring`, the snapshot the call routed by.
    fn passes_to_gutter(&self, ring: &Ring, owner: usize, error: &Error) -> bool {
        error.is_connection_error()
            && !error.may_have_reached_server()
            && ring.nodes[owner].health.is_down()
    }

    /// Runs `op` for `key` on its server, as [`Cluster::with_key`] does, or on the gutter
    /// when its server is down (see [`Cluster::passes_to_gutter`]); `op` is told how to treat
    /// the expiries it sends. The key is checked by the classic rules.
    pub(super) fn with_key_ttl<R>(
        &self,
        key: &[u8],
        command: &'static str,
        idempotent: bool,
        op: &mut dyn FnMut(&mut Client, Ttl) -> Result<R>,
    ) -> Result<R> {
        validate_key(key)?;
        self.route_ttl(key, command, idempotent, op)
    }

    /// [`Cluster::with_key_ttl`] for a key its caller has checked (a meta command's, by its
    /// key mode's rules). The call routes by one snapshot of the main list: the key's owner
    /// in it, and whether that owner is down, decide whether the gutter takes the call.
    pub(super) fn route_ttl<R>(
        &self,
        key: &[u8],
        command: &'static str,
        idempotent: bool,
        op: &mut dyn FnMut(&mut Client, Ttl) -> Result<R>,
    ) -> Result<R> {
        let ring = self.ring();
        let owner = ring.server_for(key);
        let result = self.run_on(
            &ring,
            owner,
            Some(key),
            command,
            idempotent,
            &mut |client| op(client, Ttl::AS_GIVEN),
        );
        let Some(gutter) = &self.shared.gutter else {
            return result;
        };
        match result {
            Err(error) if self.passes_to_gutter(&ring, owner, &error) => {
                let owner = ring.addr(owner);
                self.on_gutter(gutter, owner, key, command, idempotent, error, op)
            }
            result => {
                if !ring.nodes[owner].health.is_down() {
                    gutter.home(ring.addr(owner));
                }
                result
            }
        }
    }

    #[allow(clippy::too_many_arguments)] // one call's whole context, passed on once
    fn on_gutter<R>(
        &self,
        gutter: &Gutter,
        server: &str,
        key: &[u8],
        command: &'static str,
        idempotent: bool,
        owner_error: Error,
        op: &mut dyn FnMut(&mut Client, Ttl) -> Result<R>,
    ) -> Result<R> {
        let inner = gutter.cluster.ring();
        let index = inner.server_for(key);
        gutter.start(server);
        self.emit(&Event::Gutter {
            server,
            gutter: inner.addr(index),
            command,
            keys: 1,
        });
        let ttl = gutter.ttl();
        let result = gutter.cluster.run_on(
            &inner,
            index,
            Some(key),
            command,
            idempotent,
            &mut |client| op(client, ttl),
        );
        result.map_err(|error| owner_or(owner_error, error))
    }

    /// Splits off the batch groups the gutter takes from those no server took.
    /// Each group's owner is an index into `ring`, the snapshot the batch routed by.
    pub(super) fn gutter_takes<I>(
        &self,
        ring: &Ring,
        refused: Vec<Refused<I>>,
    ) -> (Vec<Refused<I>>, Vec<Refused<I>>) {
        if self.shared.gutter.is_none() {
            return (refused, Vec::new());
        }
        refused
            .into_iter()
            .partition(|group| !self.passes_to_gutter(ring, group.owner, &group.error))
    }

    /// Announces each group's move to the gutter, one event per gutter server it reaches.
    fn announce_gutter<I>(
        &self,
        ring: &Ring,
        gutter: &Gutter,
        command: &'static str,
        group: &Refused<I>,
        key: impl Fn(&I) -> &[u8],
    ) {
        let server = ring.addr(group.owner);
        gutter.start(server);
        let inner = gutter.cluster.ring();
        let mut counts = vec![0; inner.nodes.len()];
        for item in &group.group {
            counts[inner.server_for(key(item))] += 1;
        }
        for (index, keys) in counts.into_iter().enumerate().filter(|(_, n)| *n > 0) {
            self.emit(&Event::Gutter {
                server,
                gutter: inner.addr(index),
                command,
                keys,
            });
        }
    }

    /// Reads the groups the gutter takes of a [`Cluster::get_many`] (or, with `read` for
    /// `gets_many`, of that) while `owners` reads the main servers' shares, both at once;
    /// returns what the gutter found and failed.
    pub(super) fn beside_gutter<'k, T: Send>(
        &self,
        ring: &Ring,
        command: &'static str,
        groups: Vec<Refused<&'k [u8]>>,
        read: impl Fn(&Cluster, &[&'k [u8]]) -> Result<GetManyReport<T>> + Send,
        owners: impl FnOnce(),
    ) -> GetManyReport<T> {
        let busy = !groups.is_empty();
        let from_gutter = || {
            let mut report = GetManyReport::default();
            self.gutter_get_many(ring, command, groups, &mut report, read);
            report
        };
        beside(busy, from_gutter, owners).0
    }

    /// Reads the groups the gutter takes of a [`Cluster::get_many`] (or, with `read` for
    /// `gets_many`, of that) into `report`; a gutter server that cannot be reached fails its
    /// keys with their owner's error, under the owner's address.
    fn gutter_get_many<'k, T>(
        &self,
        ring: &Ring,
        command: &'static str,
        groups: Vec<Refused<&'k [u8]>>,
        report: &mut GetManyReport<T>,
        read: impl Fn(&Cluster, &[&'k [u8]]) -> Result<GetManyReport<T>>,
    ) {
        let Some(gutter) = &self.shared.gutter else {
            return;
        };
        for group in groups {
            self.announce_gutter(ring, gutter, command, &group, |key| key);
            // The keys were checked by the main cluster's call: this never fails.
            let Ok(read) = read(&gutter.cluster, &group.group) else {
                continue;
            };
            report.found.absorb(read.found);
            for failure in read.failed {
                report.failed.push(owners_failure(ring, &group, failure));
            }
        }
    }

    /// A [`Cluster::get_many_with`]'s groups the gutter takes, each item handed to `found`
    /// with its position in the caller's keys; returns the failures.
    pub(super) fn gutter_get_many_with(
        &self,
        ring: &Ring,
        groups: Vec<Refused<(usize, &[u8])>>,
        found: &mut (dyn FnMut(usize, &[u8], u32) + Send),
    ) -> Vec<ServerFailure> {
        let Some(gutter) = &self.shared.gutter else {
            return Vec::new();
        };
        let mut failed = Vec::new();
        for group in groups {
            self.announce_gutter(ring, gutter, "get_many_with", &group, |&(_, key)| key);
            let keys: Vec<&[u8]> = group.group.iter().map(|&(_, key)| key).collect();
            let read = gutter.cluster.get_many_with(&keys, |at, value, flags| {
                found(group.group[at].0, value, flags);
            });
            for failure in read.unwrap_or_default() {
                failed.push(owners_failure(ring, &group, failure));
            }
        }
        failed
    }

    /// Runs the groups the gutter takes of a batch on the gutter's servers, as
    /// [`Cluster::fan_out`] runs the others, with `work` told to cap expiries. Each result
    /// comes back under its owner's index.
    #[allow(clippy::too_many_arguments)] // one batch's whole context, passed on once
    pub(super) fn gutter_fan_out<I: Send, R: Send>(
        &self,
        ring: &Ring,
        command: &'static str,
        groups: Vec<Refused<I>>,
        key: &(dyn Fn(&I) -> &[u8] + Sync),
        work: &GroupWork<'_, I, R>,
        failure: &(dyn Fn(&R) -> Option<&Error> + Sync),
        verdict: &(dyn Fn(&R) -> super::health::Verdict + Sync),
    ) -> Vec<(usize, Vec<I>, Result<R>)> {
        // Trait objects, not generics: the gutter's `fan_out` calls this again (with nothing
        // to do), and generic closures would nest a new type at each level without end.
        let Some(gutter) = &self.shared.gutter else {
            return Vec::new();
        };
        let ttl = gutter.ttl();
        let mut results = Vec::new();
        for group in groups {
            self.announce_gutter(ring, gutter, command, &group, key);
            let Refused {
                owner,
                group: items,
                error: owner_error,
            } = group;
            let inner = &gutter.cluster;
            let inner_ring = inner.ring();
            let groups = inner.group(&inner_ring, items, |item| inner_ring.server_for(key(item)));
            for (_, items, result) in inner.fan_out(
                &inner_ring,
                command,
                groups,
                key,
                |client, items, _| work(client, items, ttl),
                failure,
                verdict,
            ) {
                let result = result.map_err(|error| owner_or(owner_error.clone(), error));
                results.push((owner, items, result));
            }
        }
        results
    }
}

/// Runs `gutter` on a scoped thread (under the caller's [`Deadline`](crate::Deadline)) while
/// `owners` runs here, when `busy` says the gutter has work: a batch waits for the gutter and
/// the main servers together, not one after the other. Without work for the gutter, no
/// thread is started.
pub(super) fn beside<G: Send, O>(
    busy: bool,
    gutter: impl FnOnce() -> G + Send,
    owners: impl FnOnce() -> O,
) -> (G, O) {
    if !busy {
        return (gutter(), owners());
    }
    let deadline = crate::deadline::Deadline::current();
    std::thread::scope(|scope| {
        let gutter = scope.spawn(move || crate::deadline::Deadline::run_under(deadline, gutter));
        let owners = owners();
        let gutter = gutter
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (gutter, owners)
    })
}

/// One server's part of a batch, told how to treat the expiries it sends.
pub(super) type GroupWork<'w, I, R> = dyn Fn(&mut Client, &[I], Ttl) -> Result<R> + Sync + 'w;

/// A gutter server's failure for keys of `group`'s owner (an index into `ring`): the owner's,
/// if the gutter server was not reached.
fn owners_failure<I>(ring: &Ring, group: &Refused<I>, failure: ServerFailure) -> ServerFailure {
    if failure.error.may_have_reached_server() {
        return failure;
    }
    ServerFailure {
        server: ring.addr(group.owner).to_owned(),
        error: group.error.clone(),
        keys: failure.keys,
    }
}

/// A gutter call's `error`, or the owner's if the gutter was not reached: the caller learns
/// the key's server is down, as without a gutter.
fn owner_or(owner_error: Error, error: Error) -> Error {
    if error.may_have_reached_server() {
        error
    } else {
        owner_error
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cap_shortens_never_and_long_expiries_and_keeps_short_and_past_ones() {
        let cap = Duration::from_secs(10);
        let now = SystemTime::now();
        assert_eq!(capped(Expiry::Never, cap, || now), Expiry::After(cap));
        assert_eq!(
            capped(Expiry::after_secs(3600), cap, || now),
            Expiry::After(cap)
        );
        assert_eq!(
            capped(Expiry::after_secs(3), cap, || now),
            Expiry::after_secs(3)
        );
        assert_eq!(
            capped(Expiry::after_secs(0), cap, || now),
            Expiry::after_secs(0)
        );
        let later = now + Duration::from_secs(86_400);
        assert_eq!(capped(Expiry::At(later), cap, || now), Expiry::After(cap));
        let soon = now + Duration::from_secs(5);
        assert_eq!(capped(Expiry::At(soon), cap, || now), Expiry::At(soon));
        let past = now - Duration::from_secs(5);
        assert_eq!(capped(Expiry::At(past), cap, || now), Expiry::At(past));
    }

    #[test]
    fn the_owners_ttl_is_sent_as_given() {
        let options = StoreOptions::new().flags(3);
        assert_eq!(Ttl::AS_GIVEN.store(options), options);
        let ttl = Ttl {
            cap: Some(Duration::from_secs(10)),
        };
        assert_eq!(ttl.store(options).expiry, Expiry::after_secs(10));
        assert_eq!(ttl.store(options).flags, 3);
        let arith = MetaArithOptions::incr().create_on_miss(Expiry::Never, 1);
        assert_eq!(
            ttl.meta_arithmetic(&arith).create,
            Some((Expiry::after_secs(10), 1))
        );
    }
}
