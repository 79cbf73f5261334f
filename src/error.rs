//! The one error type, and the predicates a caller or a retry policy decides with.

use std::io;
use std::time::Duration;

use crate::protocol::{KeyError, ProtocolError, ProtocolErrorKind};

/// Which wait ran out, or which direction of the connection failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Getting a connection: waiting for a pooled one, resolving the address, opening it.
    Connect,
    /// Sending the request.
    Write,
    /// Waiting for and reading the reply.
    Read,
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Connect => "connect",
            Self::Write => "write",
            Self::Read => "read",
        })
    }
}

/// Everything that can go wrong. A cache miss is never an error: it is `Ok(None)`.
///
/// | what happened | variant |
/// |---|---|
/// | nothing listening, host unknown, unreachable | [`Error::Connect`] |
/// | no answer within a configured timeout | [`Error::Timeout`] with its [`Phase`] |
/// | the caller's [`Deadline`](crate::Deadline) for the whole call passed | [`Error::DeadlineExceeded`] |
/// | server closed the connection mid-exchange | [`Error::ConnectionClosed`] |
/// | reset or another socket error | [`Error::Io`] |
/// | bytes that are not a valid reply | [`Error::Protocol`] |
/// | `SERVER_ERROR …` / `CLIENT_ERROR …` / `ERROR` | [`Error::Server`] / [`Error::Client`] / [`Error::UnknownCommand`] |
/// | a key or value refused before sending | [`Error::InvalidKey`], [`Error::ValueTooLarge`], [`Error::InvalidArgument`] |
/// | the server requires authentication and the client has no credentials | [`Error::AuthenticationRequired`] |
/// | the server refused the credentials | [`Error::AuthenticationFailed`] |
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No connection could be opened to the server: the name did not resolve, or every
    /// address it resolved to refused or was unreachable; for a Unix domain socket, the path
    /// does not exist (`NotFound`), nobody listens on it (`ConnectionRefused`, a stale socket
    /// file) or this process may not connect to it (`PermissionDenied`). Nothing was sent.
    #[error("cannot connect to memcached at {addr}: {source}")]
    Connect {
        /// The address as the caller gave it.
        addr: String,
        /// The last failure, from resolution or from the last address tried.
        #[source]
        source: io::Error,
    },
    /// A wait ran past the timeout the caller configured for that phase. After a read or write
    /// timeout the connection is dropped: a late reply can never answer a later request.
    #[error("{phase} timed out after {timeout:?}")]
    Timeout {
        /// Which wait ran out.
        phase: Phase,
        /// The configured timeout that elapsed.
        timeout: Duration,
    },
    /// The caller's own [`Deadline`](crate::Deadline) for the whole call passed during this
    /// phase. Like a timeout, a request in flight leaves its connection dropped; unlike one,
    /// it says nothing about the server's health, so a [`Cluster`](crate::Cluster) neither
    /// counts it against the server nor retries it.
    #[error("the caller's deadline passed during the {phase}")]
    DeadlineExceeded {
        /// Which wait was under way.
        phase: Phase,
    },
    /// The server closed the connection before the reply was complete (memcached was
    /// restarted or killed, or closed the connection on purpose).
    #[error("memcached closed the connection during the {phase}")]
    ConnectionClosed {
        /// Whether the close was seen while sending or while reading.
        phase: Phase,
    },
    /// Any other socket error on an open connection, such as a reset.
    #[error("socket error during the {phase}: {source}")]
    Io {
        /// Whether the error was seen while sending or while reading.
        phase: Phase,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The server sent bytes that are not a valid reply to the command sent. The connection is
    /// dropped; the stream is never read again.
    #[error("protocol violation: {0}")]
    Protocol(#[from] ProtocolError),
    /// memcached answered `SERVER_ERROR <message>`: it could not carry out the command, for
    /// example `object too large for cache` or `out of memory storing object`. See
    /// [`Error::is_item_too_large`] and [`Error::is_out_of_memory`].
    #[error("memcached SERVER_ERROR: {message}")]
    Server {
        /// The message after `SERVER_ERROR`.
        message: String,
    },
    /// memcached answered `CLIENT_ERROR <message>`: it found the request malformed, or (for
    /// incr/decr) the stored value is not a number. The connection is dropped, because
    /// memcached may read what follows a malformed request as a new command.
    #[error("memcached CLIENT_ERROR: {message}")]
    Client {
        /// The message after `CLIENT_ERROR`.
        message: String,
    },
    /// memcached answered `ERROR`: it did not know the command (or, with a message such as
    /// `Too many open connections`, refused the connection). The connection is dropped.
    #[error("memcached answered ERROR{}{message}", if message.is_empty() { "" } else { ": " })]
    UnknownCommand {
        /// The text after `ERROR`, often empty.
        message: String,
    },
    /// The key cannot be sent; nothing was written.
    #[error("invalid key: {0}")]
    InvalidKey(#[from] KeyError),
    /// The value is longer than the configured maximum
    /// ([`Config::with_max_value_size`](crate::Config::with_max_value_size)); nothing was
    /// written.
    #[error("value of {len} bytes is larger than the {limit}-byte limit")]
    ValueTooLarge {
        /// The value's length.
        len: usize,
        /// The configured maximum.
        limit: usize,
    },
    /// An argument other than a key cannot be sent (an expiration time memcached cannot
    /// represent, a malformed stats argument); nothing was written.
    #[error("invalid {what}: {reason}")]
    InvalidArgument {
        /// Which argument.
        what: &'static str,
        /// Why it was refused.
        reason: String,
    },
    /// The server that owns the key is marked down after repeated connection failures; the
    /// call failed at once, without waiting on the network. Nothing was sent.
    #[error("memcached at {addr} is marked down; next probe in {retry_in:?}")]
    ServerDown {
        /// The server's address.
        addr: String,
        /// How long until one caller probes it again.
        retry_in: Duration,
    },
    /// Every connection of a [`Pool`](crate::Pool) stayed in use for the whole checkout
    /// timeout. Nothing was sent.
    #[error("no pooled connection came free within {waited:?} (pool of {max_size})")]
    PoolTimeout {
        /// The checkout timeout that elapsed.
        waited: Duration,
        /// The pool's maximum size.
        max_size: usize,
    },
    /// memcached answered `NOT_STORED` to a `set`, which memcached 1.6 does not do; reported
    /// so that no refusal is ever mistaken for a store. (`add`, `replace`, `append` and
    /// `prepend` report `NOT_STORED` as a value, [`StoreOutcome::NotStored`](crate::StoreOutcome).)
    #[error("memcached did not store the item (NOT_STORED)")]
    NotStored,
    /// memcached requires authentication (it runs with `-Y`) and this client has no
    /// credentials ([`Config::with_credentials`](crate::Config::with_credentials)). memcached
    /// answered `CLIENT_ERROR unauthenticated`, or, to a `set` (which it reads as an
    /// authentication attempt), `CLIENT_ERROR authentication failure` or `CLIENT_ERROR bad
    /// authentication token format`; it carried out nothing. Not transient: the same call
    /// without credentials gets the same answer. The connection is dropped.
    #[error("memcached requires authentication and no credentials are configured")]
    AuthenticationRequired,
    /// memcached refused the configured credentials (`CLIENT_ERROR authentication failure`)
    /// right after the connection opened; nothing of the call was sent. memcached would keep
    /// the connection open and unauthenticated; this client closes it, and never sends a
    /// command on it. Not transient, and not a sign the server is down: a
    /// [`Cluster`](crate::Cluster) keeps the server up. (The message names neither the user
    /// nor the password.)
    #[error("memcached refused the configured credentials")]
    AuthenticationFailed,
}

impl Error {
    /// A wait ran out: a configured timeout ([`Error::Timeout`]) or the caller's deadline
    /// ([`Error::DeadlineExceeded`]), in any phase.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Self::Timeout { .. } | Self::DeadlineExceeded { .. })
    }

    /// Which phase timed out, if this is a timeout.
    pub fn timeout_phase(&self) -> Option<Phase> {
        match self {
            Self::Timeout { phase, .. } | Self::DeadlineExceeded { phase } => Some(*phase),
            _ => None,
        }
    }

    /// The server could not be reached or the connection failed: connect errors, timeouts,
    /// closed connections, socket errors, and a server already marked down. These are what
    /// failover and dead-host marking act on.
    pub fn is_connection_error(&self) -> bool {
        matches!(
            self,
            Self::Connect { .. }
                | Self::ServerDown { .. }
                | Self::Timeout { .. }
                | Self::ConnectionClosed { .. }
                | Self::Io { .. }
        )
    }

    /// memcached refused the call for want of authentication: no credentials
    /// ([`Error::AuthenticationRequired`]) or wrong ones ([`Error::AuthenticationFailed`]).
    /// The server answered, so it is up; retrying cannot help until the configuration changes.
    pub fn is_authentication_error(&self) -> bool {
        matches!(
            self,
            Self::AuthenticationRequired | Self::AuthenticationFailed
        )
    }

    /// The caller passed something that cannot be sent; retrying the same call cannot help.
    pub fn is_invalid_input(&self) -> bool {
        matches!(
            self,
            Self::InvalidKey(_) | Self::ValueTooLarge { .. } | Self::InvalidArgument { .. }
        )
    }

    /// memcached answered `SERVER_ERROR object too large for cache`: the value is over the
    /// server's item size limit (`-I`). memcached also deletes the key's old value when it
    /// refuses an oversized store.
    pub fn is_item_too_large(&self) -> bool {
        matches!(self, Self::Server { message } if message.contains("too large"))
    }

    /// memcached answered `SERVER_ERROR out of memory …`: it could not make room (for
    /// example when started with `-M`, which forbids evictions).
    pub fn is_out_of_memory(&self) -> bool {
        matches!(self, Self::Server { message } if message.contains("out of memory"))
    }

    /// The request may have reached the server, so the command may have been applied even
    /// though no reply was read. False when the failure came before anything was written
    /// (connect errors, connect timeouts, pool timeouts, refused input, refused credentials),
    /// and when memcached answered that it carried out nothing for want of authentication.
    pub fn may_have_reached_server(&self) -> bool {
        let before_sending = matches!(
            self,
            Self::Connect { .. }
                | Self::PoolTimeout { .. }
                | Self::ServerDown { .. }
                | Self::Timeout {
                    phase: Phase::Connect,
                    ..
                }
                | Self::DeadlineExceeded {
                    phase: Phase::Connect
                }
        );
        !(before_sending || self.is_invalid_input() || self.is_authentication_error())
    }

    /// A later attempt, on a fresh connection, might succeed: the failure lay in the network,
    /// the server's state or a garbled stream, not in the request. (A value longer than this
    /// client accepts is not transient: asking again cannot make it shorter.)
    pub fn is_transient(&self) -> bool {
        let too_long = matches!(
            self,
            Self::Protocol(ProtocolError {
                kind: ProtocolErrorKind::ValueTooLong { .. },
                ..
            })
        );
        let connections_full = matches!(
            self,
            Self::UnknownCommand { message } if message.contains("Too many open connections")
        );
        self.is_connection_error()
            || (matches!(self, Self::Protocol(_)) && !too_long)
            || matches!(self, Self::PoolTimeout { .. })
            || self.is_out_of_memory()
            || connections_full
    }

    /// Whether repeating the operation that failed is safe and may help. `idempotent` says
    /// whether doing the operation twice changes nothing, outcome included: reads (`get`,
    /// `gets`, `gat`, `gats`) and `touch`, which may be retried after any transient error.
    /// Others (`incr`, `decr`, `add`, `append`, `prepend`, `cas`, and `set`, `replace` and
    /// `delete`, whose second attempt can misreport or overwrite) only when the request cannot
    /// have reached the server. [`Cluster`](crate::Cluster) follows exactly this rule.
    ///
    /// ```
    /// # use memcache_sync::{Error, Phase};
    /// # use std::time::Duration;
    /// let read_timeout = Error::Timeout { phase: Phase::Read, timeout: Duration::from_millis(300) };
    /// assert!(read_timeout.is_safe_to_retry(true)); // a get may be asked again
    /// assert!(!read_timeout.is_safe_to_retry(false)); // an incr may already have counted
    /// ```
    pub fn is_safe_to_retry(&self, idempotent: bool) -> bool {
        self.is_transient() && (idempotent || !self.may_have_reached_server())
    }

    /// A copy of this error, to report one failure against each of several items. An IO
    /// error keeps its kind, OS error code and message, not its inner source.
    pub(crate) fn duplicate(&self) -> Error {
        let io = |e: &io::Error| {
            e.raw_os_error().map_or_else(
                || io::Error::new(e.kind(), e.to_string()),
                io::Error::from_raw_os_error,
            )
        };
        match self {
            Self::Connect { addr, source } => Self::Connect {
                addr: addr.clone(),
                source: io(source),
            },
            Self::Timeout { phase, timeout } => Self::Timeout {
                phase: *phase,
                timeout: *timeout,
            },
            Self::DeadlineExceeded { phase } => Self::DeadlineExceeded { phase: *phase },
            Self::ConnectionClosed { phase } => Self::ConnectionClosed { phase: *phase },
            Self::Io { phase, source } => Self::Io {
                phase: *phase,
                source: io(source),
            },
            Self::Protocol(error) => Self::Protocol(error.clone()),
            Self::Server { message } => Self::Server {
                message: message.clone(),
            },
            Self::Client { message } => Self::Client {
                message: message.clone(),
            },
            Self::UnknownCommand { message } => Self::UnknownCommand {
                message: message.clone(),
            },
            Self::InvalidKey(error) => Self::InvalidKey(*error),
            Self::ValueTooLarge { len, limit } => Self::ValueTooLarge {
                len: *len,
                limit: *limit,
            },
            Self::InvalidArgument { what, reason } => Self::InvalidArgument {
                what,
                reason: reason.clone(),
            },
            Self::ServerDown { addr, retry_in } => Self::ServerDown {
                addr: addr.clone(),
                retry_in: *retry_in,
            },
            Self::PoolTimeout { waited, max_size } => Self::PoolTimeout {
                waited: *waited,
                max_size: *max_size,
            },
            Self::NotStored => Self::NotStored,
            Self::AuthenticationRequired => Self::AuthenticationRequired,
            Self::AuthenticationFailed => Self::AuthenticationFailed,
        }
    }

    /// Whether the connection must be dropped after this error: everything that happened once
    /// bytes were on the wire, except the replies memcached sends in step (`SERVER_ERROR`,
    /// `NOT_STORED`). A connection that is not authenticated is never kept: every command on
    /// it would fail, and a `set` on it would be taken as an authentication attempt.
    pub(crate) fn breaks_connection(&self) -> bool {
        self.is_authentication_error()
            || (self.may_have_reached_server()
                && !matches!(self, Self::Server { .. } | Self::NotStored))
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ProtocolErrorKind;

    fn examples() -> Vec<Error> {
        let io = || io::Error::from(io::ErrorKind::ConnectionReset);
        vec![
            Error::Connect {
                addr: "h:1".into(),
                source: io::Error::from(io::ErrorKind::ConnectionRefused),
            },
            Error::Timeout {
                phase: Phase::Connect,
                timeout: Duration::from_secs(1),
            },
            Error::Timeout {
                phase: Phase::Write,
                timeout: Duration::from_secs(1),
            },
            Error::Timeout {
                phase: Phase::Read,
                timeout: Duration::from_secs(1),
            },
            Error::ConnectionClosed { phase: Phase::Read },
            Error::DeadlineExceeded { phase: Phase::Read },
            Error::DeadlineExceeded {
                phase: Phase::Connect,
            },
            Error::Io {
                phase: Phase::Read,
                source: io(),
            },
            Error::Protocol(ProtocolError::new(
                ProtocolErrorKind::UnknownReply,
                b"HELLO",
            )),
            Error::Server {
                message: "object too large for cache".into(),
            },
            Error::Server {
                message: "out of memory storing object".into(),
            },
            Error::Client {
                message: "bad data chunk".into(),
            },
            Error::UnknownCommand {
                message: String::new(),
            },
            Error::InvalidKey(KeyError::Empty),
            Error::ValueTooLarge { len: 2, limit: 1 },
            Error::InvalidArgument {
                what: "expiry",
                reason: "x".into(),
            },
            Error::NotStored,
            Error::PoolTimeout {
                waited: Duration::from_secs(1),
                max_size: 4,
            },
            Error::ServerDown {
                addr: "h:1".into(),
                retry_in: Duration::from_secs(1),
            },
        ]
    }

    #[test]
    fn predicates_classify_every_variant() {
        // (is_connection_error, may_have_reached_server, is_transient, breaks_connection)
        let expected = [
            (true, false, true, false),
            (true, false, true, false),
            (true, true, true, true),
            (true, true, true, true),
            (true, true, true, true),
            (false, true, false, true),
            (false, false, false, false),
            (true, true, true, true),
            (false, true, true, true),
            (false, true, false, false),
            (false, true, true, false),
            (false, true, false, true),
            (false, true, false, true),
            (false, false, false, false),
            (false, false, false, false),
            (false, false, false, false),
            (false, true, false, false),
            (false, false, true, false),
            (true, false, true, false),
        ];
        for (error, want) in examples().iter().zip(expected) {
            let got = (
                error.is_connection_error(),
                error.may_have_reached_server(),
                error.is_transient(),
                error.breaks_connection(),
            );
            assert_eq!(got, want, "{error:?}");
        }
    }

    #[test]
    fn authentication_errors_are_answers_that_no_retry_or_failover_acts_on() {
        for error in [Error::AuthenticationRequired, Error::AuthenticationFailed] {
            assert!(error.is_authentication_error(), "{error:?}");
            assert!(!error.is_transient(), "{error:?}");
            assert!(!error.is_connection_error(), "{error:?}");
            assert!(!error.is_timeout(), "{error:?}");
            assert!(!error.may_have_reached_server(), "nothing was carried out");
            assert!(!error.is_safe_to_retry(true), "{error:?}");
            assert!(
                error.breaks_connection(),
                "an unauthenticated connection is never kept"
            );
            let copy = error.duplicate();
            assert_eq!(copy.to_string(), error.to_string());
            assert!(copy.is_authentication_error());
        }
        assert!(!Error::NotStored.is_authentication_error());
    }

    #[test]
    fn only_requests_that_never_left_may_be_repeated_when_not_idempotent() {
        for error in examples() {
            if error.is_safe_to_retry(false) {
                assert!(!error.may_have_reached_server(), "{error:?}");
            }
            if error.is_invalid_input() {
                assert!(!error.is_safe_to_retry(true), "{error:?}");
            }
        }
    }

    #[test]
    fn a_duplicate_reads_and_classifies_like_the_original() {
        for error in examples() {
            let copy = error.duplicate();
            assert_eq!(copy.to_string(), error.to_string());
            assert_eq!(copy.is_safe_to_retry(false), error.is_safe_to_retry(false));
            assert_eq!(copy.breaks_connection(), error.breaks_connection());
        }
    }

    #[test]
    fn server_errors_are_recognisable() {
        let errors = examples();
        assert!(errors[9].is_item_too_large() && !errors[9].is_out_of_memory());
        assert!(errors[10].is_out_of_memory() && !errors[10].is_item_too_large());
    }

    #[test]
    fn messages_name_the_phase_and_the_source_is_kept() {
        use std::error::Error as _;
        let errors = examples();
        assert_eq!(errors[3].to_string(), "read timed out after 1s");
        assert!(errors[0].source().is_some());
        assert!(errors[8].source().is_some());
        assert_eq!(errors[12].to_string(), "memcached answered ERROR");
        let with_message = Error::UnknownCommand {
            message: "Too many open connections".into(),
        };
        assert_eq!(
            with_message.to_string(),
            "memcached answered ERROR: Too many open connections"
        );
    }
}
