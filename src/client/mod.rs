//! The single-server client: one connection, one method per command.
//!
//! One file per command family, each with its own `impl Client` block, titled by its doc
//! comment. rustdoc shows a module's submodules before its own items, in the order they are
//! declared, so the `mod` declarations below are the order of the rendered [`Client`] page:
//! keep them in the order a user meets the families. (That is also why the construction
//! methods live in `builder.rs`, not here: here they would come last.) A new family goes where
//! a user would meet it; one reached for after the batches, the meta commands say, goes
//! before `admin`, which stays last. One comment per `mod` keeps rustfmt from sorting them.

// # Connecting
mod builder;
// # Reading
mod retrieval;
// # Writing
mod storage;
// # Deleting and touching
mod keys;
// # Arithmetic
mod arithmetic;
// # Batches
mod batch;
// # Meta commands
mod meta;
// # Meta batches
mod meta_batch;
// # Server administration
mod admin;
// No public methods, so not on the page.
mod pipeline;
// No public methods either: what a multi-get's reader hands its items to.
mod items;
// No public methods either: the quiet meta reader the pipeline runs batches with when asked.
mod quiet;
// No public methods either: the check that refuses what the server kind lacks.
mod proxy;

pub use admin::{CachedumpItem, PrefixStats};
pub use builder::ClientBuilder;
pub(crate) use items::{each, IntoFound};
pub(crate) use meta_batch::refuse_in_batch;
pub(crate) use retrieval::fits_one_window;

use crate::config::Config;
use crate::connection::{Connection, Replies, SHRINK_ABOVE};
use crate::error::{Error, Result};
use crate::protocol::{KeyError, ProtocolError, ProtocolErrorKind, Reply, ServerErrorKind};

/// A blocking client for one memcached server.
///
/// Each method sends one request and waits for its whole reply, within the timeouts of its
/// [`Config`]. Outcomes are values (a miss is `Ok(None)`, a refused `add` is
/// [`StoreOutcome::NotStored`](crate::StoreOutcome::NotStored)); failures are typed
/// [`Error`]s. After any error that may leave the stream out of step (a timeout, a closed
/// connection, bytes that are not a valid reply, `CLIENT_ERROR`, `ERROR`) the connection is
/// dropped, and the next call opens a new one within the connect timeout. A key always goes to
/// this one server.
///
/// ```
/// use memcache_sync::{Client, Expiry};
/// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
/// let mut client = Client::connect(&addr)?;
/// client.set("doc:client", "hello", Expiry::after_secs(60))?;
/// let item = client.get("doc:client")?.expect("just stored");
/// assert_eq!(item.value, b"hello");
/// assert_eq!(client.get("doc:client:missing")?, None); // a miss, not an error
/// # Ok::<(), memcache_sync::Error>(())
/// ```
#[derive(Debug)]
pub struct Client {
    addr: String,
    config: Config,
    connection: Option<Connection>,
    request: Vec<u8>,
    /// Which keys of the retrieval line being read have been answered; kept between calls so
    /// that matching a reply's values to their keys allocates nothing once it has grown.
    answered: Vec<u64>,
}

/// The plumbing every command goes through; no public methods, so not on the page.
impl Client {
    /// Clears the request buffer and encodes the next request into it.
    fn encode(&mut self, encode: impl FnOnce(&mut Vec<u8>) -> Result<(), KeyError>) -> Result<()> {
        self.request.clear();
        encode(&mut self.request)?;
        Ok(())
    }

    /// The open connection, or a new one if there is none or the one there cannot be trusted
    /// with a request any more.
    /// (Takes the fields it needs, so the request buffer can be borrowed beside it.)
    fn connection<'c>(
        slot: &'c mut Option<Connection>,
        addr: &str,
        config: &Config,
    ) -> Result<&'c mut Connection> {
        if !slot.as_mut().is_some_and(Connection::is_reusable) {
            *slot = None;
            *slot = Some(Connection::open(addr, config)?);
        }
        Ok(slot.as_mut().expect("a connection was opened above"))
    }

    /// What the client's connection has written so far: it differs before and after a piece
    /// of code exactly when that code wrote a request (on the connection there, or on a new
    /// one), or dropped the connection after a failure. The cluster asks, so that a closure
    /// that never used the server tells its health nothing.
    pub(crate) fn activity(&self) -> Option<(u64, u64)> {
        self.connection.as_ref().map(Connection::activity)
    }

    /// The one place that decides whether the connection survives an exchange: it is dropped
    /// after any error that may have left the stream out of step, and when the server sent
    /// more than was asked.
    fn settle(&mut self, error: Option<&Error>) {
        let keep = match error {
            None => self.connection.as_ref().is_some_and(|c| !c.has_unread()),
            Some(error) => !error.breaks_connection(),
        };
        match self.connection.as_mut() {
            Some(connection) if keep => connection.exchange_done(),
            _ => self.connection = None,
        }
        // A large value or window leaves its capacity behind; an idle client gives it back.
        if self.request.capacity() > SHRINK_ABOVE {
            self.request = Vec::new();
        }
    }

    /// Sends the encoded request and reads its reply with `read`.
    fn round_trip<R>(&mut self, read: impl FnOnce(&mut Replies<'_>) -> Result<R>) -> Result<R> {
        let connection = Self::connection(&mut self.connection, &self.addr, &self.config)?;
        let result = connection
            .send(&self.request)
            .and_then(|mut replies| read(&mut replies));
        self.settle(result.as_ref().err());
        result
    }

    /// Sends the encoded request and turns its one-frame reply into a value with `accept`,
    /// which returns `None` for a frame that does not answer the command.
    fn single<R>(&mut self, accept: impl FnOnce(&Reply<'_>) -> Option<R>) -> Result<R> {
        self.round_trip(|replies| expect(replies, accept))
    }
}

/// Reads one frame and accepts it with `accept`, or fails with [`unexpected`].
fn expect<R>(replies: &mut Replies<'_>, accept: impl FnOnce(&Reply<'_>) -> Option<R>) -> Result<R> {
    replies.next(|reply| accept(&reply).ok_or_else(|| unexpected(&reply)))
}

/// The error for a frame that does not answer the command: memcached's own error replies
/// become their variants, anything else a protocol violation.
pub(crate) fn unexpected(reply: &Reply<'_>) -> Error {
    let text = |message: &[u8]| String::from_utf8_lossy(message).into_owned();
    match reply {
        Reply::ServerError(message) => Error::ServerError {
            kind: ServerErrorKind::of_message(message),
            message: text(message),
        },
        Reply::ClientError(message) if crate::auth::asks_for_authentication(message) => {
            Error::AuthenticationRequired
        }
        Reply::ClientError(message) => Error::ClientError {
            message: text(message),
        },
        Reply::Error(message) => Error::UnknownCommand {
            message: text(message),
        },
        Reply::Value(_) => {
            ProtocolError::unexpected(ProtocolErrorKind::UnrequestedKey, reply).into()
        }
        _ => ProtocolError::unexpected(ProtocolErrorKind::UnexpectedReply, reply).into(),
    }
}
