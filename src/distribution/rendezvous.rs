//! Rendezvous (highest random weight) hashing as pymemcache's `HashClient` does it.

use super::error::DistributionError;
use super::hash::murmur3_32;
use super::{Distribution, Server};

/// How pymemcache's key reaches its hash: as text, or as the `repr` of a Python `bytes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyText {
    /// A Python `str` key: its characters.
    Str,
    /// A Python `bytes` key: pymemcache formats it into the hashed text with an f-string,
    /// which writes its `repr`, `b'…'`.
    BytesRepr,
}

/// pymemcache's `HashClient` placement (its default `RendezvousHash`): for each server
/// node, named `host:port`, the score of a key is `murmur3_32(node + "-" + key, seed 0)`;
/// the highest score wins, and a tie goes to the greater node name.
///
/// Rendezvous hashing moves only the keys of a server that leaves (each to its second-best
/// server) and spreads them evenly; it costs one hash per server per key, so it suits the
/// tens of servers pymemcache fleets run, not thousands.
///
/// pymemcache hashes the key as Python *text*:
/// - A `str` key (the usual case, Python 3 code passing `"user:42"`) is its characters:
///   [`Rendezvous::pymemcache`] reads this crate's key bytes as UTF-8 and hashes them as
///   pymemcache's pure-Python murmur3 does, one character at a time (keeping the low byte of
///   each code point; for ASCII keys that is simply the bytes).
/// - A `bytes` key (`b"user:42"`) is hashed by its `repr`, the text `b'user:42'`, *not* its
///   bytes, so the same key placed from Python as `str` and as `bytes` can land on different
///   servers. To share a cache with Python code that passes `bytes`, use
///   [`Rendezvous::pymemcache_bytes_keys`]. A mixed fleet must agree on one form.
///
/// pymemcache removes a server it finds dead from the ring, so its keys move; this crate's
/// [`Cluster`](crate::Cluster) never moves a key unless a failover policy says so. The
/// placement agrees while every server is up.
///
/// ```
/// use memcache_sync::distribution::{Distribution, Rendezvous, Server};
///
/// // pymemcache: HashClient([("10.0.0.1", 11211), ("10.0.0.2", 11211), ("10.0.0.3", 11211)])
/// let servers = ["10.0.0.1", "10.0.0.2", "10.0.0.3"].map(|host| Server::new(host, 11211));
/// let ring = Rendezvous::pymemcache(&servers)?;
/// assert!(ring.server_for(b"user:42") < 3);
/// # Ok::<(), memcache_sync::distribution::DistributionError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Rendezvous {
    /// Each node's name followed by `-`: the prefix of every text it hashes.
    prefixes: Vec<Vec<u8>>,
    keys: KeyText,
}

impl Rendezvous {
    /// pymemcache's `HashClient(servers)` with `str` keys; nodes are named `host:port` (as
    /// pymemcache names a `(host, port)` server). Weights are ignored: pymemcache has none.
    /// Fails for an empty list.
    pub fn pymemcache(servers: &[Server]) -> Result<Self, DistributionError> {
        Self::pymemcache_nodes(
            servers
                .iter()
                .map(|server| format!("{}:{}", server.host, server.port)),
        )
    }

    /// As [`Rendezvous::pymemcache`], for Python code that passes `bytes` keys: each key is
    /// hashed as its Python `repr` (`b'…'`).
    pub fn pymemcache_bytes_keys(servers: &[Server]) -> Result<Self, DistributionError> {
        Ok(Self {
            keys: KeyText::BytesRepr,
            ..Self::pymemcache(servers)?
        })
    }

    /// Nodes named as given, in order: for servers pymemcache names otherwise (a Unix socket
    /// server is named by its path). Fails for an empty list.
    pub fn pymemcache_nodes<S: AsRef<str>>(
        nodes: impl IntoIterator<Item = S>,
    ) -> Result<Self, DistributionError> {
        let prefixes: Vec<Vec<u8>> = nodes
            .into_iter()
            .map(|node| {
                let mut prefix = Vec::new();
                push_python_text(&mut prefix, node.as_ref().as_bytes());
                prefix.push(b'-');
                prefix
            })
            .collect();
        if prefixes.is_empty() {
            return Err(DistributionError::NoServers);
        }
        Ok(Self {
            prefixes,
            keys: KeyText::Str,
        })
    }
}

impl Distribution for Rendezvous {
    fn server_for(&self, key: &[u8]) -> usize {
        self.highest(key, &|_| false).unwrap_or(0)
    }

    fn server_count(&self) -> usize {
        self.prefixes.len()
    }

    /// The highest score among the servers not excluded: each key's order of servers is
    /// fixed, so a dead server's keys spread over the others as their scores fall.
    fn server_for_excluding(&self, key: &[u8], excluded: &dyn Fn(usize) -> bool) -> Option<usize> {
        self.highest(key, excluded)
    }
}

impl Rendezvous {
    /// The server not `excluded` with the highest score for `key`.
    fn highest(&self, key: &[u8], excluded: &dyn Fn(usize) -> bool) -> Option<usize> {
        let mut text = Vec::with_capacity(self.longest_prefix() + 4 * key.len() + 3);
        let mut best: Option<(u32, usize)> = None;
        for (index, prefix) in self.prefixes.iter().enumerate() {
            if excluded(index) {
                continue;
            }
            text.clear();
            text.extend_from_slice(prefix);
            match self.keys {
                KeyText::Str => push_python_text(&mut text, key),
                KeyText::BytesRepr => push_bytes_repr(&mut text, key),
            }
            let score = murmur3_32(&text, 0);
            // pymemcache keeps the greater node name on a tie.
            let better = best.is_none_or(|(high, winner)| {
                score > high || (score == high && name(prefix) > name(&self.prefixes[winner]))
            });
            if better {
                best = Some((score, index));
            }
        }
        best.map(|(_, index)| index)
    }
}

/// A node's name: its prefix without the `-`.
fn name(prefix: &[u8]) -> &[u8] {
    &prefix[..prefix.len() - 1]
}

impl Rendezvous {
    fn longest_prefix(&self) -> usize {
        self.prefixes.iter().map(Vec::len).max().unwrap_or(0)
    }
}

/// Appends `bytes` as pymemcache's pure-Python murmur3 reads the text they spell: one byte per
/// character, the low byte of its code point (`ord(c) & 0xff`). ASCII is unchanged; bytes that
/// are not UTF-8 cannot come from a Python `str` and are kept as they are.
fn push_python_text(out: &mut Vec<u8>, bytes: &[u8]) {
    match std::str::from_utf8(bytes) {
        Ok(text) if !text.is_ascii() => {
            out.extend(text.chars().map(|c| (u32::from(c) & 0xff) as u8))
        }
        _ => out.extend_from_slice(bytes),
    }
}

/// Appends the Python `repr` of a `bytes` value: `b'…'`, or `b"…"` when it holds a `'` and
/// no `"`; `\\`, the quote, `\t`, `\n` and `\r` escaped; other bytes outside printable ASCII
/// as `\xNN`.
fn push_bytes_repr(out: &mut Vec<u8>, bytes: &[u8]) {
    let quote = if bytes.contains(&b'\'') && !bytes.contains(&b'"') {
        b'"'
    } else {
        b'\''
    };
    out.push(b'b');
    out.push(quote);
    for &byte in bytes {
        match byte {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            _ if byte == quote => out.extend_from_slice(&[b'\\', quote]),
            0x20..=0x7e => out.push(byte),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(&[
                    b'\\',
                    b'x',
                    HEX[usize::from(byte >> 4)],
                    HEX[usize::from(byte & 0xf)],
                ]);
            }
        }
    }
    out.push(quote);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_are_written_as_python_writes_their_repr() {
        // (bytes, Python's repr(bytes)), from CPython 3.
        let cases: [(&[u8], &str); 6] = [
            (b"user:42", "b'user:42'"),
            (b"it's", "b\"it's\""),
            (b"both'\"", "b'both\\'\"'"),
            (b"tab\tnl\ncr\r\\", "b'tab\\tnl\\ncr\\r\\\\'"),
            (b"\x00\x7f\x80\xff", "b'\\x00\\x7f\\x80\\xff'"),
            (b"", "b''"),
        ];
        for (bytes, repr) in cases {
            let mut out = Vec::new();
            push_bytes_repr(&mut out, bytes);
            assert_eq!(String::from_utf8(out).unwrap(), repr, "{bytes:?}");
        }
    }

    #[test]
    fn text_keeps_the_low_byte_of_each_character_as_pymemcaches_murmur3_reads_it() {
        let mut out = Vec::new();
        push_python_text(&mut out, "é€a".as_bytes());
        assert_eq!(out, [0xe9, 0xac, b'a']);
        out.clear();
        push_python_text(&mut out, b"\xff\xfe");
        assert_eq!(out, [0xff, 0xfe], "not UTF-8: kept as it is");
    }
}
