//! memcached's ASCII authentication (`-Y FILE`): once per connection, right after it opens,
//! before anything of a caller's is sent on it.
//!
//! Observed on memcached 1.6.18 by raw socket, and the reason for each step here:
//! - before authentication every command, even `quit`, answers `CLIENT_ERROR
//!   unauthenticated` and the connection stays open, so a `version` tells, at no risk,
//!   whether the server wants credentials;
//! - **any** `set` is taken as the authentication attempt, its data block read as
//!   `user password`; and once authenticated (or on a server without `-Y`) a `set` is an
//!   ordinary store. Sent anywhere but to a server that just said `unauthenticated`, the
//!   credentials would be stored as an item any client can read, so they are sent exactly
//!   once, only then;
//! - a wrong password answers `CLIENT_ERROR authentication failure` and leaves the
//!   connection open and unauthenticated: it is closed here, never used.

use crate::config::Credentials;
use crate::connection::Connection;
use crate::error::Error;
use crate::protocol::{encode_auth, encode_version, ProtocolError, ProtocolErrorKind, Reply};

/// memcached's answer to every command on a connection that has not authenticated.
const UNAUTHENTICATED: &[u8] = b"unauthenticated";

/// memcached's answer to credentials it refuses, and to an ordinary `set` whose value has a
/// space, sent before authenticating.
const FAILURE: &[u8] = b"authentication failure";

/// memcached's answer to an ordinary `set` whose value has no space, sent before
/// authenticating.
const BAD_TOKEN: &[u8] = b"bad authentication token format";

/// Whether a `CLIENT_ERROR` message is memcached refusing a command on a connection that has
/// not authenticated. On a connection that authenticated, none of these can come back, so
/// each means the client has no credentials.
pub(crate) fn asks_for_authentication(message: &[u8]) -> bool {
    [UNAUTHENTICATED, FAILURE, BAD_TOKEN].contains(&message)
}

/// Authenticates the new `connection` to the server at `addr` with `credentials`, if the
/// server asks for it. The connection is left in step, with nothing unread; on any error the
/// caller drops it.
pub(crate) fn authenticate(
    connection: &mut Connection,
    addr: &str,
    credentials: &Credentials,
) -> Result<(), Error> {
    let mut request = Vec::new();
    encode_auth(
        &mut request,
        credentials.user.as_bytes(),
        credentials.password.expose(),
    )
    .map_err(|error| Error::InvalidArgument {
        what: "user name",
        // The key error names a byte and its place, never the name itself.
        reason: error.to_string(),
    })?;
    let mut probe = Vec::new();
    encode_version(&mut probe);
    let asked = exchange(connection, &probe, |reply| match reply {
        Reply::Version(_) => Ok(false),
        Reply::ClientError(message) if *message == UNAUTHENTICATED => Ok(true),
        other => Err(crate::client::unexpected(other)),
    })?;
    if !asked {
        log::warn!(
            "memcached at {addr} does not ask for authentication; the configured credentials \
             were not sent"
        );
        return Ok(());
    }
    exchange(connection, &request, |reply| match reply {
        Reply::Stored => Ok(()),
        Reply::ClientError(message) if *message == FAILURE => Err(Error::AuthenticationFailed),
        other => Err(crate::client::unexpected(other)),
    })
}

/// Sends `request` and reads its one-frame reply with `accept`.
fn exchange<R>(
    connection: &mut Connection,
    request: &[u8],
    accept: impl FnOnce(&Reply<'_>) -> Result<R, Error>,
) -> Result<R, Error> {
    let result = connection
        .send(request)
        .and_then(|mut replies| replies.next(|reply| accept(&reply)));
    if result.is_ok() && connection.has_unread() {
        // More than one reply to one command: the stream cannot be trusted.
        return Err(Error::Protocol(ProtocolError::new(
            ProtocolErrorKind::UnsolicitedData,
            b"",
        )));
    }
    connection.exchange_done();
    result
}
