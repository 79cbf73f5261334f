//! A sans-IO codec for memcached's meta commands: `mg`, `ms`, `md`, `ma`, `mn` and `me`.
//!
//! # Scope
//! - Encodes requests into a caller's `Vec<u8>` from typed builders ([`MetaGet`],
//!   [`MetaSet`], [`MetaDelete`], [`MetaArithmetic`], [`MetaNoop`], [`MetaDebug`]): every flag
//!   memcached documents is a method, and the key and every token are checked first, so that
//!   nothing a caller passes can end a command line early or add a second command.
//! - Base64 key mode (`b`): any bytes can be a key; the 250-byte limit applies to the encoded
//!   form ([`MAX_BASE64_KEY_LEN`] raw bytes) and is checked before sending; keys echoed in
//!   replies are compared and decoded raw ([`EchoedKey`]).
//! - Decodes replies from a byte slice, one frame at a time ([`parse_meta_reply`]): every
//!   return code, every returned flag, typed, and the error lines. A reply that is not all
//!   there yet is [`Status::Incomplete`](crate::protocol::Status), a value, and consumes
//!   nothing: the caller reads more bytes and asks again.
//! - Bounds every length the peer claims before using it: a line longer than
//!   [`MAX_LINE_LEN`](crate::protocol::MAX_LINE_LEN) or a `VA` longer than the caller's limit is
//!   an error, not an allocation.
//! - Gives pipelining what it needs: an opaque token or key echo on any request, and
//!   [`Echo::matches`] to check that a reply carries exactly the echo its request asked for.
//! - Names the server's refusal of a flag it is too old for ([`unsupported_flag`]).
//! - Types the fields of a `me` reply ([`DebugInfo`]), keeping those it does not know.
//!
//! # Out of scope
//! Sockets, time, retries, and what a reply means to the command that was sent: which replies
//! `q` hid, which error lines leave the connection in sync, turning codes into outcomes. That
//! is the client's job; the codec only states the facts it needs ([`MetaGet::quiet_hides`] and
//! friends). Nothing here performs IO, so the codec can be tested and fuzzed on plain bytes.
//!
//! # Version gates
//! Some documented flags are newer than the server. Observed on memcached 1.6.18 by raw
//! socket:
//! - `E` (new CAS value) arrived in 1.6.27: `mg`/`ms` answer `CLIENT_ERROR invalid flag` (and
//!   `ms` swallows its data block), `md`/`ma` answer `CLIENT_ERROR invalid or duplicate flag`.
//!   `md … x` is refused the same way. [`unsupported_flag`] recognises both messages.
//! - Accepted but ignored: `mg … C<cas>` (the value is sent anyway), `ms … s` (no size comes
//!   back) and `N` in append/prepend mode (a miss is still `NS`).
//!
//! ```
//! use memcache_sync::protocol::meta::{parse_meta_reply, MetaGet, MetaReply, ReturnCode};
//! use memcache_sync::protocol::Status;
//!
//! let get = MetaGet::new(b"greeting").value().opaque(b"1");
//! let mut buf = Vec::new();
//! get.encode(&mut buf)?;
//! assert_eq!(buf, b"mg greeting v O1\r\n");
//!
//! let wire = b"VA 5 O1\r\nhello\r\n";
//! assert_eq!(parse_meta_reply(&wire[..9], 1024)?, Status::Incomplete);
//! let Status::Complete { frame: MetaReply::Response(reply), len } = parse_meta_reply(wire, 1024)?
//! else { unreachable!() };
//! assert_eq!((reply.code, reply.value, len), (ReturnCode::Value, Some(&b"hello"[..]), 16));
//! assert!(get.echo().matches(&reply.flags));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod base64;
mod debug;
mod request;
mod response;

pub use debug::DebugInfo;
pub(crate) use request::check_key;
pub use request::{
    ArithmeticMode, MetaArithmetic, MetaDebug, MetaDelete, MetaError, MetaGet, MetaNoop, MetaSet,
    SetMode, TokenProblem, MAX_BASE64_KEY_LEN, MAX_HINT_LEN, MAX_OPAQUE_LEN,
};
pub use response::{
    encode_meta_reply, parse_meta_reply, DebugReply, Echo, EchoedKey, MetaReply, MetaResponse,
    ReturnCode, ReturnedFlags, Ttl,
};

/// Whether a `CLIENT_ERROR` message (the text after `CLIENT_ERROR `) says the server does not
/// know a flag the request used: the server is older than the flag.
///
/// memcached answers an unknown flag with `invalid flag` (`mg`, `ms`) or `invalid or duplicate
/// flag` (`md`, `ma`). The encoders never send a flag twice, so for their requests the second
/// message means unknown too.
///
/// ```
/// use memcache_sync::protocol::meta::unsupported_flag;
/// assert!(unsupported_flag(b"invalid flag"));
/// assert!(unsupported_flag(b"invalid or duplicate flag"));
/// assert!(!unsupported_flag(b"bad data chunk"));
/// ```
pub fn unsupported_flag(message: &[u8]) -> bool {
    matches!(message, b"invalid flag" | b"invalid or duplicate flag")
}
