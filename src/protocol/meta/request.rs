//! Meta request encoding: one typed builder per command, each appending its complete bytes to
//! the caller's buffer so a request goes out in one write.
//!
//! Every flag is a method; nothing stringly reaches the wire. The key and every token are
//! checked before a byte is appended, so on error the buffer is left as it was, and nothing a
//! caller passes can end the command line early or add a second command.
//!
//! Flags go out in one fixed order: the key mode (`b`) first, then the flags that decide what
//! happens to the item (mode, CAS checks, vivify, TTL updates), then the flags that ask for
//! something back, then `k`, `O`, `q` and the proxy hints. memcached processes flags in request order, so this order
//! means a returned `t` shows the TTL the same command set with `T` or `N`, not the one before.

use super::base64;
use super::response::{Echo, ReturnCode};
use crate::protocol::key::{validate_key, KeyError, MAX_KEY_LEN};
use crate::protocol::number::{put_i64, put_u64};

/// The longest opaque token (`O`) memcached 1.6.18 echoes, in bytes. protocol.txt says "up to
/// 32 bytes", counting the `O` itself: `O` and 32 bytes is refused with
/// `CLIENT_ERROR opaque token too long`.
pub const MAX_OPAQUE_LEN: usize = 31;

/// The longest key, in raw bytes, that base64 key mode (`b`) can send: memcached applies its
/// 250-byte limit to the encoded form, and 186 bytes encode to 248 (187 would take 252).
pub const MAX_BASE64_KEY_LEN: usize = MAX_KEY_LEN / 4 * 3;

/// The longest proxy hint (`P`, `L`) accepted, in bytes: hints are "a string similar to keys".
pub const MAX_HINT_LEN: usize = MAX_KEY_LEN;

/// Why a meta request cannot be encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MetaError {
    /// The key breaks the classic key rules (base64 key mode lifts all but emptiness).
    #[error("invalid key: {0}")]
    Key(#[from] KeyError),
    /// In base64 key mode, the key is too long once encoded.
    #[error(
        "a {len}-byte key is {} bytes in base64; memcached accepts at most {MAX_KEY_LEN} \
         ({MAX_BASE64_KEY_LEN} raw bytes)",
        base64::encoded_len(*len)
    )]
    Base64KeyTooLong {
        /// The raw key's length in bytes.
        len: usize,
    },
    /// An opaque token or proxy hint that cannot travel as one token.
    #[error("the {flag} token {problem}")]
    Token {
        /// The flag carrying the token: `O`, `P` or `L`.
        flag: char,
        /// What is wrong with it.
        problem: TokenProblem,
    },
    /// A TTL memcached would read as a signed 32-bit number but which does not fit one:
    /// memcached would answer `CLIENT_ERROR bad token in command line format`.
    #[error("the {flag} value {value} does not fit memcached's signed 32-bit TTL")]
    TtlOutOfRange {
        /// The flag carrying the value: `T`, `N` or `R`.
        flag: char,
        /// The value given.
        value: i64,
    },
}

/// What is wrong with a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenProblem {
    /// The token has no bytes: an empty opaque would match every reply that has none.
    #[error("is empty")]
    Empty,
    /// The token is longer than its limit.
    #[error("is {len} bytes long; at most {max} are accepted")]
    TooLong {
        /// The token's length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The token holds a control byte, a space or DEL, which would split or end the line.
    #[error("holds byte {byte:#04x} at index {index} (no control bytes, spaces or DEL)")]
    ForbiddenByte {
        /// The offending byte.
        byte: u8,
        /// Where it is in the token.
        index: usize,
    },
}

/// The key rules of the key mode: classic, or base64's (any bytes, bounded once encoded).
pub(crate) fn check_key(key: &[u8], base64: bool) -> Result<(), MetaError> {
    if !base64 {
        return Ok(validate_key(key)?);
    }
    if key.is_empty() {
        return Err(KeyError::Empty.into());
    }
    if key.len() > MAX_BASE64_KEY_LEN {
        return Err(MetaError::Base64KeyTooLong { len: key.len() });
    }
    Ok(())
}

fn check_token(flag: char, token: &[u8], max: usize) -> Result<(), MetaError> {
    let problem = match validate_key(token) {
        _ if token.len() > max => TokenProblem::TooLong {
            len: token.len(),
            max,
        },
        Ok(()) => return Ok(()),
        Err(KeyError::ForbiddenByte { byte, index }) => TokenProblem::ForbiddenByte { byte, index },
        // Empty, or a length the check above already covers.
        Err(_) => TokenProblem::Empty,
    };
    Err(MetaError::Token { flag, problem })
}

fn check_ttl(flag: char, value: Option<i64>) -> Result<(), MetaError> {
    match value {
        Some(v) if i32::try_from(v).is_err() => Err(MetaError::TtlOutOfRange { flag, value: v }),
        _ => Ok(()),
    }
}

fn put_flag(buf: &mut Vec<u8>, letter: u8, on: bool) {
    if on {
        buf.extend_from_slice(&[b' ', letter]);
    }
}

fn put_u64_flag(buf: &mut Vec<u8>, letter: u8, value: Option<u64>) {
    if let Some(n) = value {
        buf.extend_from_slice(&[b' ', letter]);
        put_u64(buf, n);
    }
}

fn put_i64_flag(buf: &mut Vec<u8>, letter: u8, value: Option<i64>) {
    if let Some(n) = value {
        buf.extend_from_slice(&[b' ', letter]);
        put_i64(buf, n);
    }
}

fn put_token_flag(buf: &mut Vec<u8>, letter: u8, token: Option<&[u8]>) {
    if let Some(token) = token {
        buf.extend_from_slice(&[b' ', letter]);
        buf.extend_from_slice(token);
    }
}

/// The key and the flags every meta command except `mn` and `me` shares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Common<'a> {
    key: &'a [u8],
    base64: bool,
    return_key: bool,
    opaque: Option<&'a [u8]>,
    quiet: bool,
    hint_p: Option<&'a [u8]>,
    hint_l: Option<&'a [u8]>,
}

impl<'a> Common<'a> {
    const fn new(key: &'a [u8]) -> Self {
        Self {
            key,
            base64: false,
            return_key: false,
            opaque: None,
            quiet: false,
            hint_p: None,
            hint_l: None,
        }
    }

    fn check(&self) -> Result<(), MetaError> {
        check_key(self.key, self.base64)?;
        if let Some(opaque) = self.opaque {
            check_token('O', opaque, MAX_OPAQUE_LEN)?;
        }
        if let Some(hint) = self.hint_p {
            check_token('P', hint, MAX_HINT_LEN)?;
        }
        if let Some(hint) = self.hint_l {
            check_token('L', hint, MAX_HINT_LEN)?;
        }
        Ok(())
    }

    /// `<cm> <key>`, the key base64-encoded in base64 key mode.
    fn put_head(&self, buf: &mut Vec<u8>, command: &[u8; 2]) {
        buf.reserve(self.key.len() * 2 + 64);
        buf.extend_from_slice(command);
        buf.push(b' ');
        if self.base64 {
            base64::encode(self.key, buf);
        } else {
            buf.extend_from_slice(self.key);
        }
    }

    fn put_base64(&self, buf: &mut Vec<u8>) {
        put_flag(buf, b'b', self.base64);
    }

    /// `k`, `O`, `q`, `P`, `L`, and the line end.
    fn put_tail(&self, buf: &mut Vec<u8>) {
        put_flag(buf, b'k', self.return_key);
        put_token_flag(buf, b'O', self.opaque);
        put_flag(buf, b'q', self.quiet);
        put_token_flag(buf, b'P', self.hint_p);
        put_token_flag(buf, b'L', self.hint_l);
        buf.extend_from_slice(b"\r\n");
    }

    fn echo(&self) -> Echo<'a> {
        Echo {
            key: self.return_key.then_some(self.key),
            opaque: self.opaque,
        }
    }
}

/// The builder methods and accessors of the flags [`Common`] holds, with the same docs on
/// every command.
macro_rules! common_methods {
    () => {
        /// Sends the key base64-encoded with the `b` flag, so that any bytes can be a key:
        /// spaces, control bytes, anything classic keys refuse. memcached's 250-byte limit then
        /// applies to the encoded form, so the raw key may be 1 to [`MAX_BASE64_KEY_LEN`]
        /// bytes. Keys echoed back (`k`) arrive base64-encoded and marked `b` when the item
        /// was stored in this mode; [`EchoedKey`](super::EchoedKey) decodes them.
        #[must_use]
        pub const fn base64_key(mut self) -> Self {
            self.common.base64 = true;
            self
        }

        /// `k`: the reply carries the key, so a pipelined reply can be matched to its request
        /// (see [`echo`](Self::echo)).
        #[must_use]
        pub const fn return_key(mut self) -> Self {
            self.common.return_key = true;
            self
        }

        /// `O<opaque>`: a token of 1 to [`MAX_OPAQUE_LEN`] bytes (no control bytes, spaces or
        /// DEL) that the reply copies back, so a pipelined reply can be matched to its request
        /// without the cost of echoing a long key.
        #[must_use]
        pub const fn opaque(mut self, opaque: &'a [u8]) -> Self {
            self.common.opaque = Some(opaque);
            self
        }

        /// `P<token>`: ignored by memcached; a proxy or router in between may read it as a
        /// hint or path. Checked like a key.
        #[must_use]
        pub const fn hint_p(mut self, token: &'a [u8]) -> Self {
            self.common.hint_p = Some(token);
            self
        }

        /// `L<token>`: ignored by memcached, like [`hint_p`](Self::hint_p).
        #[must_use]
        pub const fn hint_l(mut self, token: &'a [u8]) -> Self {
            self.common.hint_l = Some(token);
            self
        }

        /// The key as the caller gave it (raw, even in base64 key mode).
        pub const fn key(&self) -> &'a [u8] {
            self.common.key
        }

        /// Whether the key is sent in base64 key mode.
        pub const fn is_base64_key(&self) -> bool {
            self.common.base64
        }

        /// Whether `q` is set: see [`quiet_hides`](Self::quiet_hides).
        pub const fn is_quiet(&self) -> bool {
            self.common.quiet
        }

        /// What a reply to this request must echo: the key if `k` is set, the opaque token if
        /// one is set. Check a reply with [`Echo::matches`].
        pub fn echo(&self) -> Echo<'a> {
            self.common.echo()
        }
    };
}

/// `mg`: meta get, which can stand in for `get`, `gets`, `gat`, `gats` and `touch`, and adds
/// recache and stale-while-revalidate controls.
///
/// # Format
/// `mg <key> <flags>*\r\n`
///
/// # Returns
/// `VA <size> <flags>*` and a data block for a hit with [`value`](Self::value), `HD <flags>*`
/// for a hit without, `EN` for a miss (memcached 1.6.18 adds `k` and `O` to it).
///
/// ```
/// use memcache_sync::protocol::meta::MetaGet;
/// let mut buf = Vec::new();
/// MetaGet::new(b"user:42")
///     .value()
///     .return_client_flags()
///     .return_cas()
///     .opaque(b"7")
///     .encode(&mut buf)?;
/// assert_eq!(buf, b"mg user:42 v c f O7\r\n");
/// # Ok::<(), memcache_sync::protocol::meta::MetaError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetaGet<'a> {
    common: Common<'a>,
    value: bool,
    return_cas: bool,
    return_client_flags: bool,
    return_hit: bool,
    return_last_access: bool,
    return_size: bool,
    return_ttl: bool,
    no_bump: bool,
    unless_cas: Option<u64>,
    new_cas: Option<u64>,
    vivify: Option<i64>,
    recache_below: Option<i64>,
    touch: Option<i64>,
}

impl<'a> MetaGet<'a> {
    /// A meta get of `key` asking for nothing back: the reply is `HD` or `EN`.
    pub const fn new(key: &'a [u8]) -> Self {
        Self {
            common: Common::new(key),
            value: false,
            return_cas: false,
            return_client_flags: false,
            return_hit: false,
            return_last_access: false,
            return_size: false,
            return_ttl: false,
            no_bump: false,
            unless_cas: None,
            new_cas: None,
            vivify: None,
            recache_below: None,
            touch: None,
        }
    }

    common_methods!();

    /// `q`: a miss (`EN`) is not answered at all. A hit still is, even a hit without
    /// [`value`](Self::value) (`HD`), and errors always are. Pipeline quiet gets and end with
    /// [`MetaNoop`] to learn when every answer is in.
    #[must_use]
    pub const fn quiet(mut self) -> Self {
        self.common.quiet = true;
        self
    }

    /// Whether [`quiet`](Self::quiet) may leave a reply with `code` unsent: only
    /// [`ReturnCode::Miss`], and only when `q` is set.
    pub const fn quiet_hides(&self, code: ReturnCode) -> bool {
        self.common.quiet && matches!(code, ReturnCode::Miss)
    }

    /// `v`: return the item's value; the reply becomes `VA <size>` and a data block.
    #[must_use]
    pub const fn value(mut self) -> Self {
        self.value = true;
        self
    }

    /// `c`: return the item's CAS value.
    #[must_use]
    pub const fn return_cas(mut self) -> Self {
        self.return_cas = true;
        self
    }

    /// `f`: return the item's client flags.
    #[must_use]
    pub const fn return_client_flags(mut self) -> Self {
        self.return_client_flags = true;
        self
    }

    /// `h`: return whether the item had been fetched before this command (0 or 1).
    #[must_use]
    pub const fn return_hit(mut self) -> Self {
        self.return_hit = true;
        self
    }

    /// `l`: return the seconds since the item was last accessed, as of before this command.
    #[must_use]
    pub const fn return_last_access(mut self) -> Self {
        self.return_last_access = true;
        self
    }

    /// `s`: return the item's size in bytes.
    #[must_use]
    pub const fn return_size(mut self) -> Self {
        self.return_size = true;
        self
    }

    /// `t`: return the item's remaining TTL in seconds (`-1` for none). Sent after any
    /// [`touch`](Self::touch) or [`vivify_on_miss`](Self::vivify_on_miss), so it reports the
    /// TTL they set.
    #[must_use]
    pub const fn return_ttl(mut self) -> Self {
        self.return_ttl = true;
        self
    }

    /// `u`: do not bump the item in the LRU, and leave its hit and last-access records alone.
    #[must_use]
    pub const fn no_lru_bump(mut self) -> Self {
        self.no_bump = true;
        self
    }

    /// `C<cas>`: with [`value`](Self::value), leave the value out (answer `HD`) when the
    /// item's CAS still equals `cas`, so a cached copy is refetched only once it changed.
    /// memcached 1.6.18 accepts this flag but ignores it and always sends the value.
    #[must_use]
    pub const fn unless_cas(mut self, cas: u64) -> Self {
        self.unless_cas = Some(cas);
        self
    }

    /// `E<cas>`: if this command modifies the item, give it this CAS value instead of the
    /// next one from memcached's counter. Since memcached 1.6.27; 1.6.18 refuses the command
    /// (`CLIENT_ERROR invalid flag`, see [`unsupported_flag`](super::unsupported_flag)).
    #[must_use]
    pub const fn new_cas(mut self, cas: u64) -> Self {
        self.new_cas = Some(cas);
        self
    }

    /// `N<ttl>`: on a miss, create an empty item with this TTL (a wire expiration value, as
    /// [`Expiry::to_wire`](crate::Expiry::to_wire) computes) and answer with `W`: this client
    /// won the right to recache it. Later gets see `Z` until it is replaced.
    #[must_use]
    pub const fn vivify_on_miss(mut self, ttl: i64) -> Self {
        self.vivify = Some(ttl);
        self
    }

    /// `R<ttl>`: if the item's remaining TTL is below this, answer with `W` (won the recache),
    /// once, so one client refreshes a hot item before it expires.
    #[must_use]
    pub const fn recache_below(mut self, ttl: i64) -> Self {
        self.recache_below = Some(ttl);
        self
    }

    /// `T<ttl>`: on a hit, update the item's TTL (a wire expiration value), like `touch`/`gat`.
    #[must_use]
    pub const fn touch(mut self, ttl: i64) -> Self {
        self.touch = Some(ttl);
        self
    }

    /// Appends the command line. On error `buf` is left as it was.
    pub fn encode(&self, buf: &mut Vec<u8>) -> Result<(), MetaError> {
        self.common.check()?;
        check_ttl('N', self.vivify)?;
        check_ttl('R', self.recache_below)?;
        check_ttl('T', self.touch)?;
        self.common.put_head(buf, b"mg");
        self.common.put_base64(buf);
        put_u64_flag(buf, b'C', self.unless_cas);
        put_u64_flag(buf, b'E', self.new_cas);
        put_i64_flag(buf, b'N', self.vivify);
        put_i64_flag(buf, b'R', self.recache_below);
        put_i64_flag(buf, b'T', self.touch);
        put_flag(buf, b'v', self.value);
        put_flag(buf, b'c', self.return_cas);
        put_flag(buf, b'f', self.return_client_flags);
        put_flag(buf, b'h', self.return_hit);
        put_flag(buf, b'l', self.return_last_access);
        put_flag(buf, b's', self.return_size);
        put_flag(buf, b't', self.return_ttl);
        put_flag(buf, b'u', self.no_bump);
        self.common.put_tail(buf);
        Ok(())
    }
}

/// What `ms` does with the item (the `M` flag).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SetMode {
    /// Store unconditionally (`MS`, the default, so nothing is sent).
    #[default]
    Set,
    /// Store only if the key holds nothing (`ME`); otherwise `NS`.
    Add,
    /// Store only if the key holds something (`MR`); otherwise `NS`.
    Replace,
    /// Add the bytes after the existing value (`MA`); `NS` on a miss.
    Append,
    /// Add the bytes before the existing value (`MP`); `NS` on a miss.
    Prepend,
    /// Append, and on a miss create the item from these bytes with this TTL (`MA N<ttl>`).
    /// memcached 1.6.18 accepts `N` here but ignores it: a miss is still `NS`.
    AppendOrCreate {
        /// The new item's TTL, a wire expiration value.
        ttl: i64,
    },
    /// Prepend, and on a miss create the item like [`AppendOrCreate`](Self::AppendOrCreate)
    /// (`MP N<ttl>`).
    PrependOrCreate {
        /// The new item's TTL, a wire expiration value.
        ttl: i64,
    },
}

impl SetMode {
    fn letter(self) -> Option<u8> {
        match self {
            Self::Set => None,
            Self::Add => Some(b'E'),
            Self::Replace => Some(b'R'),
            Self::Append | Self::AppendOrCreate { .. } => Some(b'A'),
            Self::Prepend | Self::PrependOrCreate { .. } => Some(b'P'),
        }
    }

    fn vivify(self) -> Option<i64> {
        match self {
            Self::AppendOrCreate { ttl } | Self::PrependOrCreate { ttl } => Some(ttl),
            _ => None,
        }
    }
}

/// `ms`: meta set, which stands in for `set`, `add`, `replace`, `append`, `prepend` and `cas`.
///
/// # Format
/// `ms <key> <datalen> <flags>*\r\n<data>\r\n`
///
/// # Returns
/// `HD` stored, `NS` not stored (a mode's condition failed), `EX` the CAS compare failed, `NF`
/// the CAS compare found no item; each with the `c`, `k`, `O` flags asked for.
///
/// ```
/// use memcache_sync::protocol::meta::{MetaSet, SetMode};
/// let mut buf = Vec::new();
/// MetaSet::new(b"k", b"hi").mode(SetMode::Add).ttl(60).client_flags(3).encode(&mut buf)?;
/// assert_eq!(buf, b"ms k 2 ME F3 T60\r\nhi\r\n");
/// # Ok::<(), memcache_sync::protocol::meta::MetaError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetaSet<'a> {
    common: Common<'a>,
    value: &'a [u8],
    mode: SetMode,
    client_flags: Option<u32>,
    ttl: Option<i64>,
    compare_cas: Option<u64>,
    allow_stale: bool,
    new_cas: Option<u64>,
    return_cas: bool,
    return_size: bool,
}

impl<'a> MetaSet<'a> {
    /// A meta set of `key` to `value`, any bytes (they are framed by their length, so `\r\n`
    /// inside is fine). The value's size limit is the caller's to check.
    pub const fn new(key: &'a [u8], value: &'a [u8]) -> Self {
        Self {
            common: Common::new(key),
            value,
            mode: SetMode::Set,
            client_flags: None,
            ttl: None,
            compare_cas: None,
            allow_stale: false,
            new_cas: None,
            return_cas: false,
            return_size: false,
        }
    }

    common_methods!();

    /// `q`: success (`HD`) is not answered. `NS`, `EX`, `NF` and errors still are.
    #[must_use]
    pub const fn quiet(mut self) -> Self {
        self.common.quiet = true;
        self
    }

    /// Whether [`quiet`](Self::quiet) may leave a reply with `code` unsent: only
    /// [`ReturnCode::Success`], and only when `q` is set.
    pub const fn quiet_hides(&self, code: ReturnCode) -> bool {
        self.common.quiet && matches!(code, ReturnCode::Success)
    }

    /// `M<mode>`: set, add, replace, append or prepend.
    #[must_use]
    pub const fn mode(mut self, mode: SetMode) -> Self {
        self.mode = mode;
        self
    }

    /// `F<flags>`: the client flags stored with the item (0 when not sent).
    #[must_use]
    pub const fn client_flags(mut self, flags: u32) -> Self {
        self.client_flags = Some(flags);
        self
    }

    /// `T<ttl>`: the item's TTL, a wire expiration value (0, the default, for none). Append
    /// and prepend keep the existing item's TTL.
    #[must_use]
    pub const fn ttl(mut self, ttl: i64) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// `C<cas>`: store only if the item's CAS value equals `cas`, like the `cas` command
    /// (`EX` if it changed, `NF` if the item is gone). Append and prepend respect it too.
    #[must_use]
    pub const fn compare_cas(mut self, cas: u64) -> Self {
        self.compare_cas = Some(cas);
        self.allow_stale = false;
        self
    }

    /// `C<cas> I`: like [`compare_cas`](Self::compare_cas), but a `cas` *older* than the
    /// item's is accepted too, storing the item marked stale (later gets see `X`).
    #[must_use]
    pub const fn compare_cas_allow_stale(mut self, cas: u64) -> Self {
        self.compare_cas = Some(cas);
        self.allow_stale = true;
        self
    }

    /// `E<cas>`: give the stored item this CAS value. Since memcached 1.6.27; 1.6.18 refuses
    /// the command (`CLIENT_ERROR invalid flag`) and swallows its data block.
    #[must_use]
    pub const fn new_cas(mut self, cas: u64) -> Self {
        self.new_cas = Some(cas);
        self
    }

    /// `c`: return the CAS value the item was stored with.
    #[must_use]
    pub const fn return_cas(mut self) -> Self {
        self.return_cas = true;
        self
    }

    /// `s`: return the stored item's size (the new size after an append). memcached 1.6.18
    /// accepts this flag but returns nothing for it.
    #[must_use]
    pub const fn return_size(mut self) -> Self {
        self.return_size = true;
        self
    }

    /// Appends the command line and the data block. On error `buf` is left as it was.
    pub fn encode(&self, buf: &mut Vec<u8>) -> Result<(), MetaError> {
        self.common.check()?;
        check_ttl('T', self.ttl)?;
        check_ttl('N', self.mode.vivify())?;
        buf.reserve(self.value.len() + 2);
        self.common.put_head(buf, b"ms");
        buf.push(b' ');
        put_u64(buf, self.value.len() as u64);
        self.common.put_base64(buf);
        if let Some(letter) = self.mode.letter() {
            buf.extend_from_slice(&[b' ', b'M', letter]);
        }
        put_u64_flag(buf, b'C', self.compare_cas);
        put_flag(buf, b'I', self.allow_stale);
        put_u64_flag(buf, b'E', self.new_cas);
        put_u64_flag(buf, b'F', self.client_flags.map(u64::from));
        put_i64_flag(buf, b'N', self.mode.vivify());
        put_i64_flag(buf, b'T', self.ttl);
        put_flag(buf, b'c', self.return_cas);
        put_flag(buf, b's', self.return_size);
        self.common.put_tail(buf);
        buf.extend_from_slice(self.value);
        buf.extend_from_slice(b"\r\n");
        Ok(())
    }
}

/// `md`: meta delete, which removes an item or marks it stale for revalidation.
///
/// # Format
/// `md <key> <flags>*\r\n`
///
/// # Returns
/// `HD` deleted (or marked), `NF` no such item, `EX` the CAS compare failed; each with the
/// `k`, `O` flags asked for.
///
/// ```
/// use memcache_sync::protocol::meta::MetaDelete;
/// let mut buf = Vec::new();
/// MetaDelete::new(b"k").invalidate_with_ttl(30).quiet().encode(&mut buf)?;
/// assert_eq!(buf, b"md k I T30 q\r\n");
/// # Ok::<(), memcache_sync::protocol::meta::MetaError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetaDelete<'a> {
    common: Common<'a>,
    compare_cas: Option<u64>,
    new_cas: Option<u64>,
    invalidate: bool,
    invalidate_ttl: Option<i64>,
    remove_value: bool,
}

impl<'a> MetaDelete<'a> {
    /// A meta delete of `key`.
    pub const fn new(key: &'a [u8]) -> Self {
        Self {
            common: Common::new(key),
            compare_cas: None,
            new_cas: None,
            invalidate: false,
            invalidate_ttl: None,
            remove_value: false,
        }
    }

    common_methods!();

    /// `q`: success (`HD`) is not answered. `NF`, `EX` and errors still are.
    #[must_use]
    pub const fn quiet(mut self) -> Self {
        self.common.quiet = true;
        self
    }

    /// Whether [`quiet`](Self::quiet) may leave a reply with `code` unsent: only
    /// [`ReturnCode::Success`], and only when `q` is set.
    pub const fn quiet_hides(&self, code: ReturnCode) -> bool {
        self.common.quiet && matches!(code, ReturnCode::Success)
    }

    /// `C<cas>`: delete (or mark) only if the item's CAS value equals `cas`; otherwise `EX`.
    #[must_use]
    pub const fn compare_cas(mut self, cas: u64) -> Self {
        self.compare_cas = Some(cas);
        self
    }

    /// `E<cas>`: give a marked item this CAS value. Since memcached 1.6.27; 1.6.18 refuses
    /// the command (`CLIENT_ERROR invalid or duplicate flag`).
    #[must_use]
    pub const fn new_cas(mut self, cas: u64) -> Self {
        self.new_cas = Some(cas);
        self
    }

    /// `I`: instead of removing the item, mark it stale and give it a new CAS value: the next
    /// get sees `X` and wins the recache (`W`).
    #[must_use]
    pub const fn invalidate(mut self) -> Self {
        self.invalidate = true;
        self.invalidate_ttl = None;
        self
    }

    /// `I T<ttl>`: [`invalidate`](Self::invalidate), and bound how long the stale item lives
    /// (`T` is only honoured together with `I`).
    #[must_use]
    pub const fn invalidate_with_ttl(mut self, ttl: i64) -> Self {
        self.invalidate = true;
        self.invalidate_ttl = Some(ttl);
        self
    }

    /// `x`: remove the value but keep the item (with [`invalidate`](Self::invalidate), a
    /// tombstone of the previous value). memcached 1.6.18 refuses the command
    /// (`CLIENT_ERROR invalid or duplicate flag`).
    #[must_use]
    pub const fn remove_value(mut self) -> Self {
        self.remove_value = true;
        self
    }

    /// Appends the command line. On error `buf` is left as it was.
    pub fn encode(&self, buf: &mut Vec<u8>) -> Result<(), MetaError> {
        self.common.check()?;
        check_ttl('T', self.invalidate_ttl)?;
        self.common.put_head(buf, b"md");
        self.common.put_base64(buf);
        put_u64_flag(buf, b'C', self.compare_cas);
        put_u64_flag(buf, b'E', self.new_cas);
        put_flag(buf, b'I', self.invalidate);
        put_i64_flag(buf, b'T', self.invalidate_ttl);
        put_flag(buf, b'x', self.remove_value);
        self.common.put_tail(buf);
        Ok(())
    }
}

/// Whether `ma` adds or subtracts (the `M` flag).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ArithmeticMode {
    /// Add the delta, wrapping at 2^64 (`MI`, the default, so nothing is sent).
    #[default]
    Increment,
    /// Subtract the delta, stopping at 0 (`MD`).
    Decrement,
}

/// `ma`: meta arithmetic, which stands in for `incr` and `decr` and can create the counter
/// on a miss.
///
/// # Format
/// `ma <key> <flags>*\r\n`
///
/// # Returns
/// `HD` applied, `VA <size>` and the new value as a data block with
/// [`value`](Self::value), `NF` no such item, `NS` a vivified item could not be stored, `EX`
/// the CAS compare failed; each with the `t`, `c`, `k`, `O` flags asked for. A value that is
/// not a number is `CLIENT_ERROR cannot increment or decrement non-numeric value`.
///
/// ```
/// use memcache_sync::protocol::meta::MetaArithmetic;
/// let mut buf = Vec::new();
/// MetaArithmetic::decr(b"hits").delta(5).create_on_miss(0, 100).value().encode(&mut buf)?;
/// assert_eq!(buf, b"ma hits MD N0 J100 D5 v\r\n");
/// # Ok::<(), memcache_sync::protocol::meta::MetaError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetaArithmetic<'a> {
    common: Common<'a>,
    mode: ArithmeticMode,
    delta: Option<u64>,
    create: Option<(i64, u64)>,
    ttl: Option<i64>,
    compare_cas: Option<u64>,
    new_cas: Option<u64>,
    value: bool,
    return_ttl: bool,
    return_cas: bool,
}

impl<'a> MetaArithmetic<'a> {
    /// Increments `key` by 1 (see [`delta`](Self::delta)).
    pub const fn incr(key: &'a [u8]) -> Self {
        Self::new(key, ArithmeticMode::Increment)
    }

    /// Decrements `key` by 1 (see [`delta`](Self::delta)).
    pub const fn decr(key: &'a [u8]) -> Self {
        Self::new(key, ArithmeticMode::Decrement)
    }

    /// Applies `mode` to `key`.
    pub const fn new(key: &'a [u8], mode: ArithmeticMode) -> Self {
        Self {
            common: Common::new(key),
            mode,
            delta: None,
            create: None,
            ttl: None,
            compare_cas: None,
            new_cas: None,
            value: false,
            return_ttl: false,
            return_cas: false,
        }
    }

    common_methods!();

    /// `q`: success is not answered, whether `HD` or, with [`value`](Self::value), `VA`.
    /// Everything else is, and so is a success that created the counter on a miss
    /// ([`create_on_miss`](Self::create_on_miss)): memcached 1.6.18 answers `HD` or `VA` then.
    #[must_use]
    pub const fn quiet(mut self) -> Self {
        self.common.quiet = true;
        self
    }

    /// Whether [`quiet`](Self::quiet) may leave a reply with `code` unsent: a success,
    /// [`ReturnCode::Success`] or (with [`value`](Self::value)) [`ReturnCode::Value`], and
    /// only when `q` is set. A success that created the counter on a miss is answered anyway.
    pub const fn quiet_hides(&self, code: ReturnCode) -> bool {
        self.common.quiet && matches!(code, ReturnCode::Success | ReturnCode::Value)
    }

    /// `D<delta>`: the amount to add or subtract (memcached's default is 1).
    #[must_use]
    pub const fn delta(mut self, delta: u64) -> Self {
        self.delta = Some(delta);
        self
    }

    /// `N<ttl> J<initial>`: on a miss, create the counter holding `initial`, with this TTL (a
    /// wire expiration value). The delta is not applied to the new counter.
    #[must_use]
    pub const fn create_on_miss(mut self, ttl: i64, initial: u64) -> Self {
        self.create = Some((ttl, initial));
        self
    }

    /// `T<ttl>`: on success, set the item's TTL (a wire expiration value).
    #[must_use]
    pub const fn ttl(mut self, ttl: i64) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// `C<cas>`: apply only if the item's CAS value equals `cas`; otherwise `EX`.
    #[must_use]
    pub const fn compare_cas(mut self, cas: u64) -> Self {
        self.compare_cas = Some(cas);
        self
    }

    /// `E<cas>`: give the updated item this CAS value. Since memcached 1.6.27; 1.6.18 refuses
    /// the command (`CLIENT_ERROR invalid or duplicate flag`).
    #[must_use]
    pub const fn new_cas(mut self, cas: u64) -> Self {
        self.new_cas = Some(cas);
        self
    }

    /// `v`: return the new value: the reply becomes `VA <size>` and the number as a data
    /// block.
    #[must_use]
    pub const fn value(mut self) -> Self {
        self.value = true;
        self
    }

    /// `t`: return the item's remaining TTL (after any [`ttl`](Self::ttl) update).
    #[must_use]
    pub const fn return_ttl(mut self) -> Self {
        self.return_ttl = true;
        self
    }

    /// `c`: return the item's new CAS value.
    #[must_use]
    pub const fn return_cas(mut self) -> Self {
        self.return_cas = true;
        self
    }

    /// Whether this adds or subtracts.
    pub const fn arithmetic_mode(&self) -> ArithmeticMode {
        self.mode
    }

    /// Appends the command line. On error `buf` is left as it was.
    pub fn encode(&self, buf: &mut Vec<u8>) -> Result<(), MetaError> {
        self.common.check()?;
        check_ttl('N', self.create.map(|(ttl, _)| ttl))?;
        check_ttl('T', self.ttl)?;
        self.common.put_head(buf, b"ma");
        self.common.put_base64(buf);
        if self.mode == ArithmeticMode::Decrement {
            buf.extend_from_slice(b" MD");
        }
        put_u64_flag(buf, b'C', self.compare_cas);
        put_u64_flag(buf, b'E', self.new_cas);
        if let Some((ttl, initial)) = self.create {
            put_i64_flag(buf, b'N', Some(ttl));
            put_u64_flag(buf, b'J', Some(initial));
        }
        put_u64_flag(buf, b'D', self.delta);
        put_i64_flag(buf, b'T', self.ttl);
        put_flag(buf, b'v', self.value);
        put_flag(buf, b't', self.return_ttl);
        put_flag(buf, b'c', self.return_cas);
        self.common.put_tail(buf);
        Ok(())
    }
}

/// `mn`: meta no-op, answered `MN`. Sent after a run of quiet commands, its answer says that
/// every command before it has been answered (or had its answer hidden).
///
/// ```
/// use memcache_sync::protocol::meta::MetaNoop;
/// let mut buf = Vec::new();
/// MetaNoop.encode(&mut buf);
/// assert_eq!(buf, b"mn\r\n");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MetaNoop;

impl MetaNoop {
    /// Appends `mn\r\n`.
    pub fn encode(&self, buf: &mut Vec<u8>) {
        buf.extend_from_slice(b"mn\r\n");
    }
}

/// `me`: meta debug, a human-readable dump of an item's metadata (not its value).
///
/// # Format
/// `me <key> [b]\r\n`
///
/// # Returns
/// `ME <key> <name>=<value>*` (see [`DebugReply`](super::DebugReply)), or `EN` for a miss.
///
/// ```
/// use memcache_sync::protocol::meta::MetaDebug;
/// let mut buf = Vec::new();
/// MetaDebug::new(b"a key").base64_key().encode(&mut buf)?;
/// assert_eq!(buf, b"me YSBrZXk= b\r\n");
/// # Ok::<(), memcache_sync::protocol::meta::MetaError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetaDebug<'a> {
    key: &'a [u8],
    base64: bool,
}

impl<'a> MetaDebug<'a> {
    /// A meta debug of `key`.
    pub const fn new(key: &'a [u8]) -> Self {
        Self { key, base64: false }
    }

    /// Sends the key base64-encoded with `b`, as for the other commands. memcached only
    /// recognises the `b` as the first flag, which is where it goes. The key in the reply is
    /// base64 when the item was stored in base64 mode, with nothing to say so.
    #[must_use]
    pub const fn base64_key(mut self) -> Self {
        self.base64 = true;
        self
    }

    /// The key as the caller gave it.
    pub const fn key(&self) -> &'a [u8] {
        self.key
    }

    /// Appends the command line. On error `buf` is left as it was.
    pub fn encode(&self, buf: &mut Vec<u8>) -> Result<(), MetaError> {
        let common = Common {
            base64: self.base64,
            ..Common::new(self.key)
        };
        common.check()?;
        common.put_head(buf, b"me");
        common.put_base64(buf);
        buf.extend_from_slice(b"\r\n");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(f: impl FnOnce(&mut Vec<u8>) -> Result<(), MetaError>) -> String {
        let mut buf = Vec::new();
        f(&mut buf).expect("valid request");
        buf.escape_ascii().to_string()
    }

    #[test]
    fn every_flag_of_every_command_goes_out_in_the_documented_order() {
        assert_eq!(
            encoded(|b| MetaGet::new(b"k")
                .base64_key()
                .unless_cas(1)
                .new_cas(2)
                .vivify_on_miss(3)
                .recache_below(4)
                .touch(-1)
                .value()
                .return_cas()
                .return_client_flags()
                .return_hit()
                .return_last_access()
                .return_size()
                .return_ttl()
                .no_lru_bump()
                .return_key()
                .opaque(b"op")
                .quiet()
                .hint_p(b"p")
                .hint_l(b"l/")
                .encode(b)),
            "mg aw== b C1 E2 N3 R4 T-1 v c f h l s t u k Oop q Pp Ll/\\r\\n"
        );
        assert_eq!(
            encoded(|b| MetaSet::new(b"k", b"a\r\nb")
                .mode(SetMode::PrependOrCreate { ttl: 9 })
                .compare_cas_allow_stale(7)
                .new_cas(8)
                .client_flags(u32::MAX)
                .ttl(60)
                .return_cas()
                .return_size()
                .return_key()
                .opaque(b"1")
                .quiet()
                .encode(b)),
            "ms k 4 MP C7 I E8 F4294967295 N9 T60 c s k O1 q\\r\\na\\r\\nb\\r\\n"
        );
        assert_eq!(
            encoded(|b| MetaDelete::new(b"k")
                .compare_cas(5)
                .new_cas(6)
                .invalidate_with_ttl(30)
                .remove_value()
                .return_key()
                .opaque(b"x")
                .quiet()
                .encode(b)),
            "md k C5 E6 I T30 x k Ox q\\r\\n"
        );
        assert_eq!(
            encoded(|b| MetaArithmetic::decr(b"n")
                .compare_cas(1)
                .new_cas(2)
                .create_on_miss(0, 42)
                .delta(u64::MAX)
                .ttl(10)
                .value()
                .return_ttl()
                .return_cas()
                .return_key()
                .opaque(b"o")
                .quiet()
                .encode(b)),
            "ma n MD C1 E2 N0 J42 D18446744073709551615 T10 v t c k Oo q\\r\\n"
        );
    }

    #[test]
    fn a_refused_request_leaves_the_buffer_untouched() {
        let mut buf = b"prior".to_vec();
        assert!(MetaGet::new(b"a b").encode(&mut buf).is_err());
        assert!(MetaGet::new(b"k").opaque(b"").encode(&mut buf).is_err());
        assert!(MetaSet::new(b"k", b"v")
            .ttl(1 << 31)
            .encode(&mut buf)
            .is_err());
        assert!(MetaDelete::new(b"k")
            .hint_l(b"\r\n")
            .encode(&mut buf)
            .is_err());
        assert!(MetaArithmetic::incr(&[0; 187])
            .base64_key()
            .encode(&mut buf)
            .is_err());
        assert!(MetaDebug::new(b"").base64_key().encode(&mut buf).is_err());
        assert_eq!(buf, b"prior");
    }

    #[test]
    fn token_problems_are_named() {
        let mut buf = Vec::new();
        assert_eq!(
            MetaGet::new(b"k").opaque(&[b'o'; 32]).encode(&mut buf),
            Err(MetaError::Token {
                flag: 'O',
                problem: TokenProblem::TooLong { len: 32, max: 31 }
            })
        );
        assert_eq!(
            MetaGet::new(b"k").opaque(b"a\nb").encode(&mut buf),
            Err(MetaError::Token {
                flag: 'O',
                problem: TokenProblem::ForbiddenByte {
                    byte: b'\n',
                    index: 1
                }
            })
        );
        assert_eq!(
            MetaGet::new(b"k").hint_p(b"").encode(&mut buf),
            Err(MetaError::Token {
                flag: 'P',
                problem: TokenProblem::Empty
            })
        );
        assert_eq!(
            MetaGet::new(b"k")
                .touch(i64::from(i32::MIN) - 1)
                .encode(&mut buf),
            Err(MetaError::TtlOutOfRange {
                flag: 'T',
                value: -2_147_483_649
            })
        );
        assert_eq!(
            MetaSet::new(b"k", b"")
                .base64_key()
                .mode(SetMode::AppendOrCreate { ttl: i64::MAX })
                .encode(&mut buf),
            Err(MetaError::TtlOutOfRange {
                flag: 'N',
                value: i64::MAX
            })
        );
        assert!(buf.is_empty());
    }
}
