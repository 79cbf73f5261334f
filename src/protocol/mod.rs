//! A sans-IO codec for memcached's text protocol.
//!
//! # Scope
//! - Encodes requests into a caller's `Vec<u8>`, validating every key and argument first, so
//!   that nothing a caller passes can end a command line early or add a second command.
//! - Decodes replies from a byte slice, one frame at a time. A reply that is not all there yet
//!   is [`Status::Incomplete`], a value, and consumes nothing: the caller reads more bytes and
//!   asks again.
//! - Bounds every length the peer claims before using it: a reply line longer than
//!   [`MAX_LINE_LEN`] or a `VALUE` longer than the caller's limit is an error, not an allocation.
//!
//! # Out of scope
//! Sockets, time, retries and what a reply means to the command that was sent: that is the
//! [`Client`](crate::Client)'s job. Nothing here performs IO, so the codec can be tested and
//! fuzzed on plain bytes. The meta commands (`mg`, `ms`, `md`, `ma`, `mn`, `me`) live in
//! [`meta`].
//!
//! ```
//! use memcache_sync::protocol::{encode_storage, parse_reply, Reply, Status, StorageCommand};
//!
//! let mut buf = Vec::new();
//! encode_storage(&mut buf, StorageCommand::Set, b"greeting", 0, 0, b"hello", false)?;
//! assert_eq!(buf, b"set greeting 0 0 5\r\nhello\r\n");
//!
//! assert_eq!(parse_reply(b"STO", 1024)?, Status::Incomplete);
//! assert_eq!(parse_reply(b"STORED\r\n", 1024)?, Status::Complete { frame: Reply::Stored, len: 8 });
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod key;
pub mod meta;
mod number;
pub(crate) mod request;
mod request_parse;
mod response;
mod scan;
mod server_error;

pub use key::{validate_key, KeyError, MAX_KEY_LEN};
pub use request::{
    encode_arith, encode_auth, encode_delete, encode_flush_all, encode_quit, encode_retrieval,
    encode_retrieval_lines, encode_stats, encode_storage, encode_storage_line, encode_touch,
    encode_verbosity, encode_version, split_retrieval_lines, ArithCommand, RetrievalCommand,
    StorageCommand, MAX_RETRIEVAL_LINE_LEN, MAX_TOUCH_RETRIEVAL_LINE_LEN,
};
pub use request_parse::{parse_request, Keys, Request};
pub(crate) use response::parse_value_of;
pub use response::{
    encode_reply, parse_reply, parse_value_header, ProtocolError, ProtocolErrorKind, Reply, Status,
    Value, ValueHeader, MAX_LINE_LEN,
};
pub use server_error::ServerErrorKind;
