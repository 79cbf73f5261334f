//! `get`, `gets`, `gat` and `gats`, for one key or many.
//!
//! # Format
//! `get <key>*\r\n`, `gets <key>*\r\n`, `gat <exptime> <key>*\r\n`, `gats <exptime> <key>*\r\n`
//!
//! # Returns
//! `VALUE <key> <flags> <bytes> [<cas>]\r\n<data>\r\n` for each key found, then `END`. A key
//! with no `VALUE` is a miss. memcached answers in the order asked, but the protocol does not
//! promise it and proxies do not keep it (twemproxy answers a line whose keys span backends in
//! its own order), so values are matched to their keys in any order. Every `VALUE` is checked
//! against the keys asked for, each occurrence answerable once, so a reply that belongs to
//! another request is a protocol error, never a value.

use std::mem;
use std::ops::Range;
use std::time::{Instant, SystemTime};

use super::items::{each, IntoFound, Items};
use super::pipeline::READ_WINDOW_BYTES;
use super::{unexpected, Client};
use crate::connection::{Frames, Replies};
use crate::error::{Error, Result};
use crate::expiry::Expiry;
use crate::found::Found;
use crate::item::{CasToken, Item};
use crate::protocol::request::{checked_retrieval_lines, put_retrieval_line};
use crate::protocol::{
    encode_retrieval, parse_reply, parse_value_of, split_retrieval_lines, validate_key,
    ProtocolError, ProtocolErrorKind, Reply, RetrievalCommand, Status, Value, ValueHeader,
};

/// # Reading
///
/// `get` and its relatives, for one key or many. A miss is `Ok(None)` (or a key absent from
/// a [`Found`] map), never an error. [`gets`](Client::gets) and [`gats`](Client::gats) also
/// return the item's [`CasToken`], for a later [`cas`](Client::cas);
/// [`gat`](Client::gat) and [`gats`](Client::gats) reset the item's expiry as they read it.
/// [`get_into`](Client::get_into) and [`get_many_with`](Client::get_many_with) read without
/// allocating per item.
impl Client {
    /// Reads the item stored under `key`: `Ok(None)` on a miss. A failure is always an
    /// `Err`, never a miss.
    ///
    /// ```
    /// # use memcache_sync::{Client, Item, StoreOptions};
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let mut client = Client::connect(&addr)?;
    /// client.set("doc:get", "v", StoreOptions::new().flags(7))?;
    /// assert_eq!(client.get("doc:get")?, Some(Item { value: b"v".to_vec(), flags: 7 }));
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    #[inline]
    pub fn get(&mut self, key: impl AsRef<[u8]>) -> Result<Option<Item>> {
        self.get_bytes(key.as_ref())
    }

    fn get_bytes(&mut self, key: &[u8]) -> Result<Option<Item>> {
        self.retrieve_item(RetrievalCommand::Get, key)
    }

    /// Reads the value stored under `key` into `buf` (cleared first) and returns its flags:
    /// `Ok(None)` on a miss, with `buf` left empty. Reusing one buffer makes a hit cost no
    /// allocation once the buffer is large enough.
    ///
    /// ```
    /// # use memcache_sync::{Client, StoreOptions};
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let mut client = Client::connect(&addr)?;
    /// client.set("doc:into", "reused", StoreOptions::new().flags(3))?;
    /// let mut buf = Vec::with_capacity(1024);
    /// assert_eq!(client.get_into("doc:into", &mut buf)?, Some(3));
    /// assert_eq!(buf, b"reused");
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    #[inline]
    pub fn get_into(&mut self, key: impl AsRef<[u8]>, buf: &mut Vec<u8>) -> Result<Option<u32>> {
        self.get_into_bytes(key.as_ref(), buf)
    }

    fn get_into_bytes(&mut self, key: &[u8], buf: &mut Vec<u8>) -> Result<Option<u32>> {
        let found = self.retrieve(RetrievalCommand::Get, key, buf, |value| Some(value.flags));
        if !matches!(found, Ok(Some(_))) {
            buf.clear();
        }
        found
    }

    /// Reads the item stored under `key` with its [`CasToken`], for [`Client::cas`].
    ///
    /// ```
    /// # use memcache_sync::{Client, Expiry};
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let mut client = Client::connect(&addr)?;
    /// client.set("doc:gets", "v1", Expiry::Never)?;
    /// let (item, token) = client.gets("doc:gets")?.expect("just stored");
    /// assert_eq!(item.value, b"v1");
    /// // Write back only if nobody changed the item since it was read.
    /// client.cas("doc:gets", "v2", token, Expiry::Never)?;
    /// assert_eq!(client.gets("doc:gets:missing")?, None);
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    #[inline]
    pub fn gets(&mut self, key: impl AsRef<[u8]>) -> Result<Option<(Item, CasToken)>> {
        self.gets_bytes(key.as_ref())
    }

    fn gets_bytes(&mut self, key: &[u8]) -> Result<Option<(Item, CasToken)>> {
        self.retrieve_item_with_token(RetrievalCommand::Gets, key)
    }

    /// Reads the item stored under `key` and sets its expiration time to `expiry` ("get and
    /// touch"): an [`Expiry`], or a [`Duration`](std::time::Duration) from now.
    ///
    /// ```
    /// # use memcache_sync::{Client, Expiry};
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let mut client = Client::connect(&addr)?;
    /// use std::time::Duration;
    ///
    /// client.set("doc:gat", "session", Expiry::after_secs(60))?;
    /// // Read it, and keep it for another half hour from now.
    /// let item = client.gat("doc:gat", Duration::from_secs(1800))?.expect("just stored");
    /// assert_eq!(item.value, b"session");
    /// assert_eq!(client.gat("doc:gat:missing", Expiry::Never)?, None);
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    #[inline]
    pub fn gat(
        &mut self,
        key: impl AsRef<[u8]>,
        expiry: impl Into<Expiry>,
    ) -> Result<Option<Item>> {
        self.gat_bytes(key.as_ref(), expiry.into())
    }

    fn gat_bytes(&mut self, key: &[u8], expiry: Expiry) -> Result<Option<Item>> {
        self.refuse_unsupported("gat")?;
        let exptime = expiry.to_wire(SystemTime::now())?;
        self.retrieve_item(RetrievalCommand::Gat(exptime), key)
    }

    /// Like [`Client::gat`], also returning the item's [`CasToken`].
    ///
    /// ```
    /// # use memcache_sync::{CasOutcome, Client, Expiry};
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let mut client = Client::connect(&addr)?;
    /// client.set("doc:gats", "1", Expiry::after_secs(60))?;
    /// let (_item, token) = client.gats("doc:gats", Expiry::after_secs(600))?.expect("just stored");
    /// assert_eq!(client.cas("doc:gats", "2", token, Expiry::after_secs(600))?, CasOutcome::Stored);
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    #[inline]
    pub fn gats(
        &mut self,
        key: impl AsRef<[u8]>,
        expiry: impl Into<Expiry>,
    ) -> Result<Option<(Item, CasToken)>> {
        self.gats_bytes(key.as_ref(), expiry.into())
    }

    fn gats_bytes(&mut self, key: &[u8], expiry: Expiry) -> Result<Option<(Item, CasToken)>> {
        self.refuse_unsupported("gats")?;
        let exptime = expiry.to_wire(SystemTime::now())?;
        self.retrieve_item_with_token(RetrievalCommand::Gats(exptime), key)
    }

    /// Reads many keys in one round trip. The [`Found`] map holds the keys found, with their
    /// values in one buffer (lookups lend an [`ItemRef`](crate::ItemRef)); a key missing from
    /// it is a miss. Every key is checked before anything is sent; an invalid one fails the whole
    /// call with [`Error::InvalidKey`](crate::Error::InvalidKey). Long key lists are sent as
    /// several `get` lines in one write, none longer than memcached accepts.
    ///
    /// ```
    /// # use memcache_sync::{Client, Expiry};
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let mut client = Client::connect(&addr)?;
    /// client.set("doc:many:a", "1", Expiry::Never)?;
    /// client.set("doc:many:b", "2", Expiry::Never)?;
    /// let found = client.get_many(&["doc:many:a", "doc:many:b", "doc:many:missing"])?;
    /// assert_eq!(found.len(), 2);
    /// assert_eq!(&found["doc:many:b"], b"2"); // the value's bytes
    /// assert_eq!(found.get("doc:many:b").map(|item| item.flags), Some(0));
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn get_many<K: AsRef<[u8]>>(&mut self, keys: &[K]) -> Result<Found<Item>> {
        self.retrieve_many(RetrievalCommand::Get, keys, |_| Some(0))
    }

    /// Like [`Client::get_many`], with each item's [`CasToken`].
    ///
    /// ```
    /// # use memcache_sync::{Client, Expiry};
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let mut client = Client::connect(&addr)?;
    /// client.set("doc:gets_many:a", "1", Expiry::Never)?;
    /// client.set("doc:gets_many:b", "2", Expiry::Never)?;
    /// let found = client.gets_many(&["doc:gets_many:a", "doc:gets_many:b", "doc:gets_many:c"])?;
    /// assert_eq!(found.len(), 2);
    /// let (item, _token) = found.get("doc:gets_many:a").expect("just stored");
    /// assert_eq!(item.value, b"1");
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn gets_many<K: AsRef<[u8]>>(&mut self, keys: &[K]) -> Result<Found<(Item, CasToken)>> {
        self.retrieve_many(RetrievalCommand::Gets, keys, |cas| cas)
    }

    /// Reads many keys in one round trip without allocating: each item found is handed to
    /// `found` as it is parsed, with the position of its key in `keys`, its value (borrowed
    /// from the read buffer) and its flags. Keys not handed over are misses. For large reads
    /// where [`Client::get_many`]'s map of owned items costs more than the network. If the
    /// call fails part-way, `found` has already seen the items read before the failure.
    ///
    /// ```
    /// # use memcache_sync::{Client, Expiry};
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let mut client = Client::connect(&addr)?;
    /// client.set("doc:with:a", "12", Expiry::Never)?;
    /// client.set("doc:with:b", "30", Expiry::Never)?;
    /// let keys = ["doc:with:a", "doc:with:missing", "doc:with:b"];
    /// let mut total = 0;
    /// client.get_many_with(&keys, |index, value, _flags| {
    ///     assert_ne!(index, 1);
    ///     total += std::str::from_utf8(value).unwrap().parse::<u32>().unwrap();
    /// })?;
    /// assert_eq!(total, 42);
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn get_many_with<K: AsRef<[u8]>>(
        &mut self,
        keys: &[K],
        mut found: impl FnMut(usize, &[u8], u32),
    ) -> Result<()> {
        let items = each(|index, value| {
            found(index, value.data, value.flags);
            Some(())
        });
        self.retrieve_each(RetrievalCommand::Get, keys, items)
    }

    /// One key's item, its value read into a vector of its own, allocated once.
    fn retrieve_item(&mut self, command: RetrievalCommand, key: &[u8]) -> Result<Option<Item>> {
        let mut value = Vec::new();
        let flags = self.retrieve(command, key, &mut value, |found| Some(found.flags))?;
        Ok(flags.map(|flags| Item { value, flags }))
    }

    /// [`Client::retrieve_item`] with the item's [`CasToken`], which the reply must carry.
    fn retrieve_item_with_token(
        &mut self,
        command: RetrievalCommand,
        key: &[u8],
    ) -> Result<Option<(Item, CasToken)>> {
        let mut value = Vec::new();
        let found = self.retrieve(command, key, &mut value, |found| {
            Some((found.flags, CasToken(found.cas?)))
        })?;
        Ok(found.map(|(flags, token)| (Item { value, flags }, token)))
    }

    /// Reads one key, its value into `value` (see [`Replies::next_into`]: a large value is
    /// read straight into it), and what else `take` keeps of the item found.
    fn retrieve<T>(
        &mut self,
        command: RetrievalCommand,
        key: &[u8],
        value: &mut Vec<u8>,
        take: impl FnOnce(&Value<'_>) -> Option<T>,
    ) -> Result<Option<T>> {
        self.encode(|buf| encode_retrieval(buf, command, &[key]))?;
        self.with_answered(|client, answered| {
            client.round_trip(|replies| {
                let mut take = Some(take);
                let mut found = None;
                read_items(
                    |f| replies.next_into(value, f),
                    &[key],
                    0..1,
                    answered,
                    each(|_, value| {
                        found = take.take()?(value);
                        found.as_ref().map(|_| ())
                    }),
                )?;
                Ok(found)
            })
        })
    }

    /// Reads any number of keys, handing each item found to `take` with the position of its
    /// key in `keys`. The lines go through the pipeline, so a list of 100,000 keys neither
    /// builds one huge request nor blocks on replies that are not being read.
    fn retrieve_each<K: AsRef<[u8]>>(
        &mut self,
        command: RetrievalCommand,
        keys: &[K],
        mut items: impl Items,
    ) -> Result<()> {
        // Every key is checked here, before anything is sent.
        let lines = checked_retrieval_lines(command, keys)?;
        let report = self.with_answered(|client, answered| {
            client.pipeline(
                READ_WINDOW_BYTES,
                lines,
                |line, buf| {
                    put_retrieval_line(buf, command, &keys[line.clone()]);
                    Ok(line)
                },
                |line, replies| read_line_items(replies, keys, line.clone(), answered, &mut items),
            )
        });
        let result = report.into_first_error().map_or(Ok(()), Err);
        self.drop_after_multi_key_server_error(keys.len(), &result);
        result
    }

    /// A `SERVER_ERROR` answering a line of several keys drops the connection, although
    /// memcached itself stays in step: a proxy in front of several servers (twemproxy, when
    /// one of the line's backends is down) closes the connection a few microseconds after
    /// that reply, so a request sent in between would be lost; and the line's other replies
    /// may still be owed.
    fn drop_after_multi_key_server_error(&mut self, keys: usize, result: &Result<()>) {
        if keys > 1 && matches!(result, Err(Error::ServerError { .. })) {
            self.connection = None;
        }
    }

    /// Lends out the client's answered-key bits for the length of `f`, so that a reply reader
    /// can use them while `f` borrows the whole client; they come back with the capacity the
    /// reader grew them to.
    fn with_answered<R>(&mut self, f: impl FnOnce(&mut Self, &mut Vec<u64>) -> R) -> R {
        let mut answered = mem::take(&mut self.answered);
        let result = f(self, &mut answered);
        self.answered = answered;
        result
    }

    /// [`Client::retrieve_each`] into a map by key, each value put in the map's one buffer
    /// (a large one read straight into it) with the CAS value `cas` makes of its frame's
    /// (`None`: the frame does not answer the command).
    fn retrieve_many<K: AsRef<[u8]>, T>(
        &mut self,
        command: RetrievalCommand,
        keys: &[K],
        cas: impl Fn(Option<u64>) -> Option<u64>,
    ) -> Result<Found<T>> {
        let mut found = Found::with_capacity(keys.len());
        let items = IntoFound {
            found: &mut found,
            cas,
        };
        self.retrieve_each(command, keys, items)?;
        Ok(found)
    }
}

/// Reads the frames answering one retrieval line, which asked for `keys[line]`, up to its
/// `END`. Each `VALUE` must answer an occurrence of its key in the line not yet answered (see
/// [`LineKeys::claim`]); `items` takes it with the position of that occurrence in `keys`, or
/// refuses it if the frame does not answer the command. `answered` is scratch space for
/// [`LineKeys`], reused so that a reply costs no allocation once it has grown.
fn read_line_items<K: AsRef<[u8]>>(
    replies: &mut Replies<'_>,
    keys: &[K],
    line: Range<usize>,
    answered: &mut Vec<u64>,
    items: &mut impl Items,
) -> Result<()> {
    let line = LineKeys::new(keys, line, answered);
    replies.each(&mut LineReader { line, items })
}

/// The frames of one retrieval line, as [`read_line_items`] reads them.
struct LineReader<'l, 'i, K, I> {
    line: LineKeys<'l, K>,
    items: &'i mut I,
}

impl<K: AsRef<[u8]>, I: Items> Frames for LineReader<'_, '_, K, I> {
    fn decode(
        &mut self,
        buffered: &[u8],
        max_value_len: usize,
    ) -> Result<Option<(usize, Result<bool>)>> {
        // memcached answers in the order asked: each frame is first read as the next key's,
        // and as many of those as are buffered in one go.
        let mut at = 0;
        while let Some(position) = self.line.next_unanswered() {
            let key = self.line.keys[position].as_ref();
            let Some((value, len)) = parse_value_of(&buffered[at..], key, max_value_len) else {
                break;
            };
            self.line.answer(position);
            at += len;
            if let Err(error) = taken(self.items, position, &value) {
                return Ok(Some((at, Err(error))));
            }
        }
        if at > 0 {
            return Ok(Some((at, Ok(true))));
        }
        Ok(match parse_reply(buffered, max_value_len)? {
            Status::Complete { frame, len } => {
                Some((len, line_item(&mut self.line, self.items, &frame)))
            }
            Status::Incomplete => None,
        })
    }

    fn direct_sink(&mut self, header: &ValueHeader<'_>) -> Option<&mut Vec<u8>> {
        self.items.direct_sink(header)
    }

    /// As [`line_item`] and [`taken`] judge a `VALUE` read through the buffer.
    fn direct(&mut self, header: &ValueHeader<'_>) -> Result<bool> {
        let Some(position) = self.line.claim(header.key) else {
            return Err(
                ProtocolError::unexpected_value(ProtocolErrorKind::UnrequestedKey, header).into(),
            );
        };
        self.items.direct_item(position, header).ok_or_else(|| {
            ProtocolError::unexpected_value(ProtocolErrorKind::MalformedLine, header)
        })?;
        Ok(true)
    }
}

/// The frame reader one way of reading an item's data gives [`read_items`]: hands the next
/// frame to the callback.
type NextFrame<'f> = &'f mut dyn FnMut(Reply<'_>) -> Result<bool>;

/// [`read_line_items`] over any frame reader `next`, one frame per call.
fn read_items<K: AsRef<[u8]>>(
    mut next: impl FnMut(NextFrame<'_>) -> Result<bool>,
    keys: &[K],
    line: Range<usize>,
    answered: &mut Vec<u64>,
    mut items: impl Items,
) -> Result<()> {
    let mut line = LineKeys::new(keys, line, answered);
    while next(&mut |reply| line_item(&mut line, &mut items, &reply))? {}
    Ok(())
}

/// One frame of a retrieval line's reply, as [`read_line_items`] judges it: `Ok(true)` for a
/// `VALUE` taken, `Ok(false)` at the line's `END`.
fn line_item<K: AsRef<[u8]>>(
    line: &mut LineKeys<'_, K>,
    items: &mut impl Items,
    reply: &Reply<'_>,
) -> Result<bool> {
    match reply {
        Reply::End => Ok(false),
        Reply::Value(value) => {
            let Some(position) = line.claim(value.key) else {
                return Err(unexpected(reply));
            };
            taken(items, position, value)
        }
        _ => Err(unexpected(reply)),
    }
}

/// Hands `items` the `value` answering the key at `position`: `Ok(true)`, as [`line_item`]
/// says of a `VALUE` taken. The key was asked for; a frame the command still cannot use (a
/// `gets` reply without a CAS value) is malformed.
#[inline]
fn taken(items: &mut impl Items, position: usize, value: &Value<'_>) -> Result<bool> {
    items.item(position, value).ok_or_else(|| {
        Error::from(ProtocolError::unexpected(
            ProtocolErrorKind::MalformedLine,
            &Reply::Value(*value),
        ))
    })?;
    Ok(true)
}

/// The keys one retrieval line asked for, and which of them have been answered: matches the
/// line's `VALUE`s to the positions of their keys whatever order they come in, and refuses a
/// key that was not asked for or comes more times than it was asked.
///
/// In-order replies (memcached's) cost no scan: the reader reads each frame as the next
/// unanswered key's first ([`LineKeys::next_unanswered`]), and only a frame that is not
/// ([`LineKeys::claim`]) is looked for from just after the last one matched, so the scan
/// passes only the misses in between; each line clears one word per 64 keys. Only a `VALUE`
/// that comes out of order costs a scan of the whole line.
struct LineKeys<'a, K> {
    keys: &'a [K],
    line: Range<usize>,
    /// Bit `i` is set once `keys[line.start + i]` has been answered; a line holds a few
    /// thousand keys at most (its length is bounded), so this is a few hundred bytes.
    answered: &'a mut Vec<u64>,
    /// Where the next `VALUE` is looked for first: just after the last match.
    next: usize,
}

impl<'a, K: AsRef<[u8]>> LineKeys<'a, K> {
    /// A line asking for `keys[line]`, none answered yet, keeping its bits in `answered`.
    fn new(keys: &'a [K], line: Range<usize>, answered: &'a mut Vec<u64>) -> Self {
        answered.clear();
        answered.resize(line.len().div_ceil(64), 0);
        Self {
            keys,
            next: line.start,
            line,
            answered,
        }
    }

    /// Marks the occurrence of `key` that a `VALUE` for it answers, and returns its position
    /// in `keys`: the first unanswered occurrence after the last match, else the first one
    /// before it. `None` if `key` was not asked for, or every occurrence of it was answered.
    /// (A key asked twice may come back twice; each `VALUE` takes one occurrence.)
    fn claim(&mut self, key: &[u8]) -> Option<usize> {
        let next = self.next;
        let position = self
            .find(next..self.line.end, key)
            .or_else(|| self.find(self.line.start..next, key))?;
        self.answer(position);
        Some(position)
    }

    /// The next key asked after the last match, if it is still unanswered: the key
    /// memcached's next `VALUE` names, if any does.
    fn next_unanswered(&self) -> Option<usize> {
        (self.next < self.line.end && !self.is_answered(self.next)).then_some(self.next)
    }

    /// Marks the occurrence at `position` answered, the last match.
    fn answer(&mut self, position: usize) {
        let bit = position - self.line.start;
        self.answered[bit / 64] |= 1 << (bit % 64);
        self.next = position + 1;
    }

    /// The first unanswered occurrence of `key` in `range`. The key is compared first: most
    /// positions scanned are other keys, and a slice comparison rejects most of them on length.
    fn find(&self, range: Range<usize>, key: &[u8]) -> Option<usize> {
        self.keys[range.clone()]
            .iter()
            .zip(range)
            .find(|&(candidate, position)| candidate.as_ref() == key && !self.is_answered(position))
            .map(|(_, position)| position)
    }

    /// Whether the occurrence at `position` in `keys` has been answered.
    fn is_answered(&self, position: usize) -> bool {
        let bit = position - self.line.start;
        self.answered[bit / 64] & (1 << (bit % 64)) != 0
    }
}

/// A multi-key read split in two, so that one thread can have requests out to several
/// servers at once: [`Client::send_get_many`] writes, [`Client::receive_get_many`] reads.
impl Client {
    /// Writes the `command` lines (`get` or `gets`) for `keys`, which must fit in one
    /// pipeline window (see [`fits_one_window`]) and must all have passed [`validate_key`]
    /// (the caller checks the whole call's keys before any server is written to), and
    /// returns the lines to read the replies of, with when they were sent: the replies' read
    /// timeout runs from then, so servers written to together are waited for together,
    /// however many of them stall.
    pub(crate) fn send_get_many<K: AsRef<[u8]>>(
        &mut self,
        command: RetrievalCommand,
        keys: &[K],
    ) -> Result<(Vec<Range<usize>>, Instant)> {
        debug_assert!(keys.iter().all(|key| validate_key(key.as_ref()).is_ok()));
        let lines = split_retrieval_lines(command, keys);
        self.request.clear();
        for line in &lines {
            put_retrieval_line(&mut self.request, command, &keys[line.clone()]);
        }
        // Every line ends at its `\n` (a valid key holds none); found only if the stream
        // needs them (TLS), so a plain socket pays nothing for them.
        let request = &self.request;
        let ends = (0..request.len())
            .filter(|&at| request[at] == b'\n')
            .map(|at| at + 1);
        let written = Self::connection(&mut self.connection, &self.addr, &self.config)
            .and_then(|connection| connection.write_commands(request, ends));
        match written {
            Ok(sent) => Ok((lines, sent)),
            Err(error) => {
                self.settle(Some(&error));
                Err(error)
            }
        }
    }

    /// Reads the replies to [`Client::send_get_many`]'s lines, handing each item found to
    /// `take` with the position of its key.
    pub(crate) fn receive_get_many<K: AsRef<[u8]>>(
        &mut self,
        keys: &[K],
        (lines, sent): (Vec<Range<usize>>, Instant),
        mut items: impl Items,
    ) -> Result<()> {
        let connection = self.connection.as_mut().expect("send_get_many connected");
        let answered = &mut self.answered;
        let mut replies = connection.replies(sent);
        let result = lines
            .into_iter()
            .try_for_each(|line| read_line_items(&mut replies, keys, line, answered, &mut items));
        self.settle(result.as_ref().err());
        self.drop_after_multi_key_server_error(keys.len(), &result);
        result
    }
}

/// Whether a `get` of `keys` is small enough to be written whole before any reply is read:
/// no bigger than one pipeline window, so it always fits in the socket buffers. (Counted as
/// if each key had a line of its own, which overestimates.)
pub(crate) fn fits_one_window<K: AsRef<[u8]>>(keys: &[K]) -> bool {
    let request_bytes: usize = keys
        .iter()
        .map(|key| "get \r\n".len() + key.as_ref().len())
        .sum();
    request_bytes <= READ_WINDOW_BYTES
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::LineKeys;

    fn keys(names: &[&str]) -> Vec<Vec<u8>> {
        names.iter().map(|name| name.as_bytes().to_vec()).collect()
    }

    /// Claims `reply`'s keys in turn on a line asking for all of `keys`.
    fn claims(keys: &[Vec<u8>], reply: &[&[u8]]) -> Vec<Option<usize>> {
        let mut answered = Vec::new();
        let mut line = LineKeys::new(keys, 0..keys.len(), &mut answered);
        reply.iter().map(|key| line.claim(key)).collect()
    }

    /// The matcher as it was when replies had to come in request order: a forward scan from
    /// just after the last match.
    fn in_order_only(keys: &[Vec<u8>], reply: &[&[u8]]) -> Vec<Option<usize>> {
        let mut next = 0;
        reply
            .iter()
            .map(|key| {
                let offset = keys[next..].iter().position(|k| k == key)?;
                next += offset + 1;
                Some(next - 1)
            })
            .collect()
    }

    #[test]
    fn values_in_reverse_order_take_the_positions_of_their_keys() {
        let line = keys(&["a", "b", "c"]);
        assert_eq!(
            claims(&line, &[b"c", b"b", b"a"]),
            [Some(2), Some(1), Some(0)]
        );
    }

    #[test]
    fn a_key_asked_twice_may_come_back_twice_but_not_three_times() {
        let line = keys(&["a", "b", "a"]);
        assert_eq!(
            claims(&line, &[b"a", b"b", b"a", b"a"]),
            [Some(0), Some(1), Some(2), None]
        );
    }

    #[test]
    fn each_value_of_a_repeated_key_takes_the_next_unanswered_occurrence_wrapping_round() {
        let line = keys(&["a", "b", "a"]);
        assert_eq!(
            claims(&line, &[b"b", b"a", b"a"]),
            [Some(1), Some(2), Some(0)]
        );
    }

    #[test]
    fn a_key_not_asked_for_is_refused_wherever_it_comes() {
        let line = keys(&["a", "b"]);
        assert_eq!(claims(&line, &[b"x"]), [None]);
        assert_eq!(claims(&line, &[b"b", b"x"]), [Some(1), None]);
        // A prefix or an extension of an asked key is another key.
        assert_eq!(claims(&line, &[b"", b"ab", b"a"]), [None, None, Some(0)]);
    }

    #[test]
    fn positions_are_in_the_whole_key_list_and_keys_of_other_lines_are_refused() {
        let all = keys(&["a", "b", "c", "d", "e"]);
        let mut answered = Vec::new();
        let mut line = LineKeys::new(&all, 2..4, &mut answered);
        assert_eq!(line.claim(b"a"), None);
        assert_eq!(line.claim(b"d"), Some(3));
        assert_eq!(line.claim(b"e"), None);
        assert_eq!(line.claim(b"c"), Some(2));
        assert_eq!(line.claim(b"c"), None);
    }

    #[test]
    fn reused_bits_start_every_line_unanswered() {
        let all: Vec<Vec<u8>> = (0..200).map(|i| format!("k{i}").into_bytes()).collect();
        let mut answered = Vec::new();
        let mut first = LineKeys::new(&all, 0..200, &mut answered);
        for key in all.iter().rev() {
            assert!(first.claim(key).is_some());
        }
        let mut second = LineKeys::new(&all, 0..130, &mut answered);
        assert_eq!(second.claim(b"k129"), Some(129));
        assert_eq!(second.claim(b"k0"), Some(0));
        assert_eq!(second.claim(b"k64"), Some(64));
        assert_eq!(second.claim(b"k130"), None);
    }

    /// A line of up to 300 keys drawn from `distinct` names, so that small `distinct` makes
    /// lines that repeat keys; and which of its positions the reply answers.
    fn line_and_hits() -> impl Strategy<Value = (Vec<Vec<u8>>, Vec<usize>)> {
        prop_oneof![Just(3usize), Just(40), Just(100_000)]
            .prop_flat_map(|distinct| {
                prop::collection::vec(
                    (0..distinct, any::<bool>()).prop_map(|(name, hit)| {
                        // Keys of several lengths, as real key lists have.
                        (
                            format!("key:{}", "x".repeat(name % 5) + &name.to_string()),
                            hit,
                        )
                    }),
                    1..300,
                )
            })
            .prop_map(|line| {
                let hits = (0..line.len()).filter(|&i| line[i].1).collect();
                let keys = line.into_iter().map(|(key, _)| key.into_bytes()).collect();
                (keys, hits)
            })
    }

    /// A line, the positions its reply answers, and that reply's keys in some order.
    fn line_and_shuffled_reply() -> impl Strategy<Value = (Vec<Vec<u8>>, Vec<usize>, Vec<usize>)> {
        line_and_hits().prop_flat_map(|(keys, hits)| {
            let shuffled = Just(hits.clone()).prop_shuffle();
            (Just(keys), Just(hits), shuffled)
        })
    }

    /// The keys at `positions`, sorted: what a reply delivered, whatever order it came in.
    fn delivered(keys: &[Vec<u8>], positions: impl IntoIterator<Item = usize>) -> Vec<Vec<u8>> {
        let mut delivered: Vec<_> = positions.into_iter().map(|i| keys[i].clone()).collect();
        delivered.sort();
        delivered
    }

    proptest! {
        #[test]
        fn any_order_of_a_lines_values_is_matched_to_the_same_keys(
            (keys, hits, shuffled) in line_and_shuffled_reply()
        ) {
            let reply: Vec<&[u8]> = shuffled.iter().map(|&i| &keys[i][..]).collect();
            let positions: Vec<usize> = claims(&keys, &reply)
                .into_iter()
                .map(|claimed| claimed.expect("every value answers an asked key"))
                .collect();
            // Each value is handed over under a position holding its own key...
            for (position, key) in positions.iter().zip(&reply) {
                prop_assert_eq!(&keys[*position][..], *key);
            }
            // ...no position twice...
            let mut distinct = positions.clone();
            distinct.sort_unstable();
            distinct.dedup();
            prop_assert_eq!(distinct.len(), positions.len());
            // ...so the keys found are those of the reply in request order.
            prop_assert_eq!(delivered(&keys, positions), delivered(&keys, hits));
        }

        #[test]
        fn values_of_distinct_keys_in_any_order_take_exactly_their_keys_positions(
            (keys, _hits, shuffled) in line_and_shuffled_reply()
        ) {
            // The same line with every key made unique by its position.
            let keys: Vec<Vec<u8>> = keys
                .iter()
                .enumerate()
                .map(|(i, key)| [&key[..], format!(":{i}").as_bytes()].concat())
                .collect();
            let reply: Vec<&[u8]> = shuffled.iter().map(|&i| &keys[i][..]).collect();
            let positions: Vec<Option<usize>> = shuffled.iter().map(|&i| Some(i)).collect();
            prop_assert_eq!(claims(&keys, &reply), positions);
        }

        #[test]
        fn values_in_request_order_are_matched_as_when_only_that_order_was_accepted(
            (keys, hits) in line_and_hits()
        ) {
            let reply: Vec<&[u8]> = hits.iter().map(|&i| &keys[i][..]).collect();
            prop_assert_eq!(claims(&keys, &reply), in_order_only(&keys, &reply));
        }

        #[test]
        fn a_key_once_more_than_asked_is_refused_in_any_order(
            (keys, order) in line_and_hits().prop_flat_map(|(keys, _)| {
                let all: Vec<usize> = (0..keys.len()).collect();
                (Just(keys), Just(all).prop_shuffle())
            }),
            extra in any::<prop::sample::Index>(),
            at in any::<prop::sample::Index>(),
        ) {
            // Every occurrence of every key, in some order, and one of the keys once more.
            let again = &keys[extra.index(keys.len())][..];
            let mut reply: Vec<&[u8]> = order.iter().map(|&i| &keys[i][..]).collect();
            reply.insert(at.index(reply.len() + 1), again);
            let asked = keys.iter().filter(|key| *key == again).count();
            let refused = reply
                .iter()
                .enumerate()
                .filter(|(_, key)| **key == again)
                .nth(asked)
                .map(|(i, _)| i);
            let expected: Vec<bool> = (0..reply.len()).map(|i| Some(i) != refused).collect();
            let accepted: Vec<bool> = claims(&keys, &reply).iter().map(Option::is_some).collect();
            prop_assert_eq!(accepted, expected);
        }
    }
}
