//! Meta batches: many keys read by `mg`, pipelined as a quiet batch (see the quiet module).
//!
//! Each `mg` carries `q`, so memcached answers only the hits and `MN` closes each window; it
//! carries its position in the window as its opaque (`O`) and asks for its key back (`k`).
//! A hit is matched to its key by the opaque and must echo that very key: a reply naming no
//! key in flight, or naming one while echoing another (a stray reply from an earlier window,
//! landing on a position now held by another key), is a protocol error that drops the
//! connection, never a value for the wrong key. The key echo costs the key's bytes per hit;
//! it is what makes the guarantee hold across windows, whose positions repeat.

use std::collections::HashMap;
use std::time::SystemTime;

use super::meta::{fill_item, get_request, is_hit, meta_item};
use super::pipeline::READ_WINDOW_BYTES;
use super::Client;
use crate::batch::ItemResult;
use crate::error::{Error, Result};
use crate::meta_types::{MetaGetOptions, MetaItem};
use crate::protocol::meta::{check_key, MetaResponse};
use crate::protocol::{ProtocolError, ProtocolErrorKind};

/// The most hits [`Client::meta_get_many`] reserves room for before any has come.
const MAX_RESERVED_HITS: usize = 4096;

/// # Meta batches
///
/// Many keys in few round trips, with the metadata the meta protocol returns per item.
impl Client {
    /// Reads every key by `mg`, pipelined, with the metadata `options` ask for: the hits, by
    /// key, each a [`MetaItem`] as [`Client::meta_get`] returns it (its CAS, TTL, flags,
    /// size, hit and last-access records, and the stale and recache-win flags, where asked
    /// for or set). A key not in the map is a miss.
    ///
    /// # Format
    /// `mg <key> [b] [v] [c] [f] [t] [s] [h] [l] [u] [T…] [R…] k O<position> q` per key, and
    /// `mn` after each window of about 16 KiB of requests. memcached answers only the hits
    /// (`VA`, or `HD` without the value), then `MN`.
    ///
    /// # Returns
    /// The hits. A key asked for twice is read twice and is in the map once, as with
    /// [`Client::get_many`]. Every key is checked by the rules of its key mode before
    /// anything is sent; an invalid one fails the whole call with
    /// [`Error::InvalidKey`]. Options that make no sense for many keys at once fail it with
    /// [`Error::InvalidArgument`] before anything is sent:
    /// - [`vivify_on_miss`](MetaGetOptions::vivify_on_miss): every miss would become a
    ///   placeholder this caller has won and must fill, and a batch cut short would leave
    ///   placeholders won in replies nobody read, holding other readers off those keys for
    ///   their whole TTL. Use [`Client::meta_get`] per key, or the leases of [`get_or_lease`](crate::get_or_lease).
    /// - [`unless_cas`](MetaGetOptions::unless_cas) and [`new_cas`](MetaGetOptions::new_cas):
    ///   one CAS value is about one item, not many.
    ///
    /// [`touch`](MetaGetOptions::touch) and [`recache_below`](MetaGetOptions::recache_below)
    /// are kept: their outcomes come back per item. A recache win ([`MetaItem::win`]) in a
    /// batch that fails is lost with the rest of the reply; the item then stays as it is until
    /// it expires.
    ///
    /// Windows, timeouts and deadlines are those of the other batches (see
    /// [`Client::set_many`]). A failure (the server stalls or closes, a reply that answers no
    /// key in flight) fails the whole call, as for `get_many`: no partial map comes back.
    /// Refused, before anything is sent, by a server kind without the meta protocol
    /// ([`ServerKind::Twemproxy`](crate::ServerKind::Twemproxy)).
    ///
    /// ```
    /// use memcache_sync::{Client, Expiry, MetaGetOptions, MetaSetOptions};
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// let mut client = Client::connect(&addr)?;
    /// let stored = MetaSetOptions::new().expiry(Expiry::after_secs(60)).client_flags(3);
    /// client.meta_set("doc:mg_many:a", "1", &stored)?;
    /// client.meta_set("doc:mg_many:b", "22", &stored)?;
    /// let options = MetaGetOptions::new().return_cas().return_ttl().return_client_flags();
    /// let keys = ["doc:mg_many:a", "doc:mg_many:missing", "doc:mg_many:b"];
    /// let found = client.meta_get_many(&keys, &options)?;
    /// assert_eq!(found.len(), 2);
    /// let b = &found[b"doc:mg_many:b".as_slice()];
    /// assert_eq!(b.value.as_deref(), Some(&b"22"[..]));
    /// assert_eq!(b.flags, Some(3));
    /// assert!(b.cas.is_some() && b.ttl.is_some());
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn meta_get_many<K: AsRef<[u8]>>(
        &mut self,
        keys: &[K],
        options: &MetaGetOptions,
    ) -> Result<HashMap<Vec<u8>, MetaItem>> {
        // Room for every key up to a bound: a batch of hits then never rehashes its keys, and
        // one of many misses does not reserve for them all.
        let mut found = HashMap::with_capacity(keys.len().min(MAX_RESERVED_HITS));
        self.meta_get_each(keys, options, |index, response| {
            found.insert(keys[index].as_ref().to_vec(), meta_item(response));
        })?;
        Ok(found)
    }

    /// Like [`Client::meta_get_many`], without a map or an allocation per hit: each hit is
    /// lent to `found` as it is read, with the position of its key in `keys`. The item lent
    /// is one reused for every hit, its value's room kept, so a batch allocates only when a
    /// value is longer than every one before it. Keys not handed over are misses. If the
    /// call fails part-way, `found` has already seen the hits read before the failure (each
    /// one its own key's). A key asked for twice is handed over twice.
    ///
    /// ```
    /// use memcache_sync::{Client, MetaGetOptions, MetaSetOptions};
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// let mut client = Client::connect(&addr)?;
    /// client.meta_set("doc:mg_many_with:a", "12", &MetaSetOptions::new())?;
    /// client.meta_set("doc:mg_many_with:b", "30", &MetaSetOptions::new())?;
    /// let keys = ["doc:mg_many_with:a", "doc:mg_many_with:missing", "doc:mg_many_with:b"];
    /// let mut total = 0;
    /// client.meta_get_many_with(&keys, &MetaGetOptions::new().return_cas(), |index, item| {
    ///     assert_ne!(index, 1);
    ///     assert!(item.cas.is_some());
    ///     let value = item.value.as_deref().expect("asked for");
    ///     total += std::str::from_utf8(value).unwrap().parse::<u32>().unwrap();
    /// })?;
    /// assert_eq!(total, 42);
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn meta_get_many_with<K: AsRef<[u8]>>(
        &mut self,
        keys: &[K],
        options: &MetaGetOptions,
        mut found: impl FnMut(usize, &MetaItem),
    ) -> Result<()> {
        let mut item = MetaItem::default();
        self.meta_get_each(keys, options, |index, response| {
            fill_item(&mut item, response);
            found(index, &item);
        })
    }

    /// The engine of the meta batches: hands each hit's reply to `hit` with the position of
    /// its key in `keys`, as it is read, once its opaque and key echo are checked.
    fn meta_get_each<K: AsRef<[u8]>>(
        &mut self,
        keys: &[K],
        options: &MetaGetOptions,
        mut hit: impl FnMut(usize, &MetaResponse<'_>),
    ) -> Result<()> {
        refuse_in_batch(options)?;
        for key in keys {
            check_key(key.as_ref(), options.base64_key)?;
        }
        let touch = options
            .touch
            .map(|e| e.to_wire(SystemTime::now()))
            .transpose()?;
        let report = self.quiet_reads(
            READ_WINDOW_BYTES,
            keys,
            |key, token, buf| {
                let get = get_request(key.as_ref(), options, touch, None, token);
                get.return_key().quiet().encode(buf)?;
                Ok(false)
            },
            |response, index| {
                let key = keys[index].as_ref();
                // The opaque was matched already; the key echo guards across windows,
                // where positions repeat.
                if !response.flags.key.is_some_and(|echoed| echoed.matches(key)) {
                    let echoed = response.flags.key.map_or(&b""[..], |k| k.wire());
                    let error = ProtocolError::new(ProtocolErrorKind::UnsolicitedData, echoed);
                    return Some(Err(error.into()));
                }
                // memcached hides a quiet miss; one that came anyway is still a miss.
                if is_hit(response, options)? {
                    hit(index, response);
                }
                Some(Ok(()))
            },
            || (),
        );
        if let Some(error) = report.stop_error {
            return Err(error);
        }
        // An error line matched to its item (see the quiet module) fails the call as a
        // `SERVER_ERROR` fails a `get_many`.
        let failed = report.results.into_iter().find_map(|result| match result {
            ItemResult::Failed(error) => Some(error),
            _ => None,
        });
        failed.map_or(Ok(()), Err)
    }
}

/// Refuses the `mg` options that have no meaning for many keys at once: see
/// [`Client::meta_get_many`].
pub(crate) fn refuse_in_batch(options: &MetaGetOptions) -> Result<()> {
    let reason = if options.vivify_on_miss.is_some() {
        "vivify_on_miss (N) makes every miss a placeholder this caller must fill; a batch cut \
         short would leave some won in replies nobody read: use meta_get per key"
    } else if options.unless_cas.is_some() {
        "unless_cas (C) names one item's CAS, not many items'"
    } else if options.new_cas.is_some() {
        "new_cas (E) would give every item the same CAS value"
    } else {
        return Ok(());
    };
    Err(Error::InvalidArgument {
        what: "meta_get_many options",
        reason: reason.into(),
    })
}
