//! `get`, `gets`, `gat` and `gats`, for one key or many.
//!
//! # Format
//! `get <key>*\r\n`, `gets <key>*\r\n`, `gat <exptime> <key>*\r\n`, `gats <exptime> <key>*\r\n`
//!
//! # Returns
//! `VALUE <key> <flags> <bytes> [<cas>]\r\n<data>\r\n` for each key found, in the order asked,
//! then `END`. A key with no `VALUE` is a miss. Every `VALUE` is checked against the keys asked
//! for, so a reply that belongs to another request is a protocol error, never a value.

use std::collections::HashMap;
use std::ops::Range;
use std::time::{Instant, SystemTime};

use super::pipeline::READ_WINDOW_BYTES;
use super::{unexpected, Client};
use crate::connection::Replies;
use crate::error::{Error, Result};
use crate::expiry::Expiry;
use crate::item::{CasToken, Item};
use crate::protocol::request::put_retrieval_line;
use crate::protocol::{
    encode_retrieval, split_retrieval_lines, validate_key, ProtocolError, ProtocolErrorKind, Reply,
    RetrievalCommand, Value,
};

fn item(value: &Value<'_>) -> Option<Item> {
    Some(Item {
        value: value.data.to_vec(),
        flags: value.flags,
    })
}

/// `gets`/`gats` must carry a CAS value; a `VALUE` without one does not answer them.
fn item_with_token(value: &Value<'_>) -> Option<(Item, CasToken)> {
    Some((item(value)?, CasToken(value.cas?)))
}

impl Client {
    /// Reads the item stored under `key`: `Ok(None)` on a miss. A failure is always an
    /// `Err`, never a miss.
    ///
    /// ```
    /// # use memcache_sync::{Client, Expiry, Item};
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let mut client = Client::connect(&addr)?;
    /// client.set(b"doc:get", b"v", 7, Expiry::Never)?;
    /// assert_eq!(client.get(b"doc:get")?, Some(Item { value: b"v".to_vec(), flags: 7 }));
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn get(&mut self, key: &[u8]) -> Result<Option<Item>> {
        self.retrieve(RetrievalCommand::Get, key, item)
    }

    /// Reads the value stored under `key` into `buf` (cleared first) and returns its flags:
    /// `Ok(None)` on a miss, with `buf` left empty. Reusing one buffer makes a hit cost no
    /// allocation once the buffer is large enough.
    ///
    /// ```
    /// # use memcache_sync::{Client, Expiry};
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let mut client = Client::connect(&addr)?;
    /// client.set(b"doc:into", b"reused", 3, Expiry::Never)?;
    /// let mut buf = Vec::with_capacity(1024);
    /// assert_eq!(client.get_into(b"doc:into", &mut buf)?, Some(3));
    /// assert_eq!(buf, b"reused");
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn get_into(&mut self, key: &[u8], buf: &mut Vec<u8>) -> Result<Option<u32>> {
        buf.clear();
        self.retrieve(RetrievalCommand::Get, key, |value| {
            buf.extend_from_slice(value.data);
            Some(value.flags)
        })
    }

    /// Reads the item stored under `key` with its [`CasToken`], for [`Client::cas`].
    pub fn gets(&mut self, key: &[u8]) -> Result<Option<(Item, CasToken)>> {
        self.retrieve(RetrievalCommand::Gets, key, item_with_token)
    }

    /// Reads the item stored under `key` and sets its expiration time to `expiry` ("get and
    /// touch").
    pub fn gat(&mut self, key: &[u8], expiry: Expiry) -> Result<Option<Item>> {
        let exptime = expiry.to_wire(SystemTime::now())?;
        self.retrieve(RetrievalCommand::Gat(exptime), key, item)
    }

    /// Like [`Client::gat`], also returning the item's [`CasToken`].
    pub fn gats(&mut self, key: &[u8], expiry: Expiry) -> Result<Option<(Item, CasToken)>> {
        let exptime = expiry.to_wire(SystemTime::now())?;
        self.retrieve(RetrievalCommand::Gats(exptime), key, item_with_token)
    }

    /// Reads many keys in one round trip. The map holds the keys found; a key missing from it
    /// is a miss. Every key is checked before anything is sent; an invalid one fails the whole
    /// call with [`Error::InvalidKey`](crate::Error::InvalidKey). Long key lists are sent as
    /// several `get` lines in one write, none longer than memcached accepts.
    ///
    /// ```
    /// # use memcache_sync::{Client, Expiry};
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// # let mut client = Client::connect(&addr)?;
    /// client.set(b"doc:many:a", b"1", 0, Expiry::Never)?;
    /// client.set(b"doc:many:b", b"2", 0, Expiry::Never)?;
    /// let found = client.get_many(&["doc:many:a", "doc:many:b", "doc:many:missing"])?;
    /// assert_eq!(found.len(), 2);
    /// assert_eq!(found[&b"doc:many:b"[..]].value, b"2");
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn get_many<K: AsRef<[u8]>>(&mut self, keys: &[K]) -> Result<HashMap<Vec<u8>, Item>> {
        self.retrieve_many(RetrievalCommand::Get, keys, item)
    }

    /// Like [`Client::get_many`], with each item's [`CasToken`].
    pub fn gets_many<K: AsRef<[u8]>>(
        &mut self,
        keys: &[K],
    ) -> Result<HashMap<Vec<u8>, (Item, CasToken)>> {
        self.retrieve_many(RetrievalCommand::Gets, keys, item_with_token)
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
    /// client.set(b"doc:with:a", b"12", 0, Expiry::Never)?;
    /// client.set(b"doc:with:b", b"30", 0, Expiry::Never)?;
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
        self.retrieve_each(RetrievalCommand::Get, keys, |index, value| {
            found(index, value.data, value.flags);
            Some(())
        })
    }

    fn retrieve<T>(
        &mut self,
        command: RetrievalCommand,
        key: &[u8],
        take: impl FnOnce(&Value<'_>) -> Option<T>,
    ) -> Result<Option<T>> {
        self.encode(|buf| encode_retrieval(buf, command, &[key]))?;
        self.round_trip(|replies| {
            let mut take = Some(take);
            let mut found = None;
            read_line_items(replies, &[key], 0..1, |_, value| {
                found = take.take()?(value);
                found.as_ref().map(|_| ())
            })?;
            Ok(found)
        })
    }

    /// Reads any number of keys, handing each item found to `take` with the position of its
    /// key in `keys`. The lines go through the pipeline, so a list of 100,000 keys neither
    /// builds one huge request nor blocks on replies that are not being read.
    fn retrieve_each<K: AsRef<[u8]>>(
        &mut self,
        command: RetrievalCommand,
        keys: &[K],
        mut take: impl FnMut(usize, &Value<'_>) -> Option<()>,
    ) -> Result<()> {
        for key in keys {
            validate_key(key.as_ref())?;
        }
        let report = self.pipeline(
            READ_WINDOW_BYTES,
            split_retrieval_lines(command, keys),
            |line, buf| {
                // Every key was checked above, before anything was sent.
                put_retrieval_line(buf, command, &keys[line.clone()]);
                Ok(line)
            },
            |line, replies| read_line_items(replies, keys, line.clone(), &mut take),
        );
        report.into_first_error().map_or(Ok(()), Err)
    }

    /// [`Client::retrieve_each`] into a map by key.
    fn retrieve_many<K: AsRef<[u8]>, T>(
        &mut self,
        command: RetrievalCommand,
        keys: &[K],
        mut take: impl FnMut(&Value<'_>) -> Option<T>,
    ) -> Result<HashMap<Vec<u8>, T>> {
        let mut found = HashMap::with_capacity(keys.len());
        self.retrieve_each(command, keys, |_, value| {
            found.insert(value.key.to_vec(), take(value)?);
            Some(())
        })?;
        Ok(found)
    }
}

/// Reads the frames answering one retrieval line, which asked for `keys[line]`, up to its
/// `END`. Each `VALUE` must be for one of those keys, in the order asked (memcached answers in
/// order, and a key asked twice comes back twice); `take` accepts it with the position of its
/// key in `keys`, or returns `None` if the frame does not answer the command.
fn read_line_items<K: AsRef<[u8]>>(
    replies: &mut Replies<'_>,
    keys: &[K],
    line: Range<usize>,
    mut take: impl FnMut(usize, &Value<'_>) -> Option<()>,
) -> Result<()> {
    let mut next = line.start;
    loop {
        let more = replies.next(|reply| match &reply {
            Reply::End => Ok(false),
            Reply::Value(value) => {
                let Some(offset) = keys[next..line.end]
                    .iter()
                    .position(|k| k.as_ref() == value.key)
                else {
                    return Err(unexpected(&reply));
                };
                next += offset + 1;
                // The key was asked for; a frame the command still cannot use (a `gets` reply
                // without a CAS value) is malformed.
                take(next - 1, value).ok_or_else(|| {
                    Error::from(ProtocolError::unexpected(
                        ProtocolErrorKind::MalformedLine,
                        &reply,
                    ))
                })?;
                Ok(true)
            }
            _ => Err(unexpected(&reply)),
        })?;
        if !more {
            return Ok(());
        }
    }
}

/// A multi-key read split in two, so that one thread can have requests out to several
/// servers at once: [`Client::send_get_many`] writes, [`Client::receive_get_many`] reads.
impl Client {
    /// Writes the `get` lines for `keys`, which must fit in one pipeline window (see
    /// [`fits_one_window`]), and returns the lines to read the replies of, with when they
    /// were sent: the replies' read timeout runs from then, so servers written to together
    /// are waited for together, however many of them stall.
    pub(crate) fn send_get_many<K: AsRef<[u8]>>(
        &mut self,
        keys: &[K],
    ) -> Result<(Vec<Range<usize>>, Instant)> {
        for key in keys {
            validate_key(key.as_ref())?;
        }
        let lines = split_retrieval_lines(RetrievalCommand::Get, keys);
        self.request.clear();
        for line in &lines {
            put_retrieval_line(
                &mut self.request,
                RetrievalCommand::Get,
                &keys[line.clone()],
            );
        }
        let written = Self::connection(&mut self.connection, &self.addr, &self.config)
            .and_then(|connection| connection.write_all(&self.request));
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
        mut take: impl FnMut(usize, &Value<'_>) -> Option<()>,
    ) -> Result<()> {
        let connection = self.connection.as_mut().expect("send_get_many connected");
        let mut replies = connection.replies(sent);
        let result = lines
            .into_iter()
            .try_for_each(|line| read_line_items(&mut replies, keys, line, &mut take));
        self.settle(result.as_ref().err());
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
