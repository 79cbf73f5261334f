//! The one error type, and the predicates a caller or a retry policy decides with.

use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use crate::batch::{items, were, BatchError};
use crate::config::ServerKind;
use crate::protocol::{KeyError, ProtocolError, ProtocolErrorKind, ServerErrorKind};

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
/// | `SERVER_ERROR …` / `CLIENT_ERROR …` / `ERROR` | [`Error::ServerError`] / [`Error::ClientError`] / [`Error::UnknownCommand`] |
/// | a key or value refused before sending | [`Error::InvalidKey`], [`Error::ValueTooLarge`], [`Error::InvalidArgument`] |
/// | a command the configured [`ServerKind`] lacks, refused before sending | [`Error::NotSupportedByServer`] |
/// | items of a batch not confirmed, after `?` on a [`BatchError`] | [`Error::Batch`] |
/// | the server requires authentication and the client has no credentials | [`Error::AuthenticationRequired`] |
/// | the server refused the credentials | [`Error::AuthenticationFailed`] |
/// | TLS: certificate refused, alert from the server, handshake failed | [`Error::Tls`] with its [`TlsFailure`] |
///
/// An `Error` is cheap to clone (an IO error inside is shared), so one failure can be
/// reported against each of several items.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Error {
    /// No connection could be opened to the server: the name did not resolve, or every
    /// address it resolved to refused or was unreachable; for a Unix domain socket, the path
    /// does not exist (`NotFound`), nobody listens on it (`ConnectionRefused`, a stale socket
    /// file) or this process may not connect to it (`PermissionDenied`). Nothing was sent.
    Connect {
        /// The address as the caller gave it.
        addr: String,
        /// The last failure, from resolution or from the last address tried; also what
        /// [`source`](std::error::Error::source) returns.
        source: Arc<io::Error>,
    },
    /// A wait ran past the timeout the caller configured for that phase. After a read or write
    /// timeout the connection is dropped: a late reply can never answer a later request.
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
    DeadlineExceeded {
        /// Which wait was under way.
        phase: Phase,
    },
    /// The server closed the connection before the reply was complete (memcached was
    /// restarted or killed, or closed the connection on purpose). See
    /// [`Error::is_connection_lost`].
    ConnectionClosed {
        /// Whether the close was seen while sending or while reading.
        phase: Phase,
    },
    /// Any other socket error on an open connection, such as a reset. See
    /// [`Error::is_connection_lost`].
    Io {
        /// Whether the error was seen while sending or while reading.
        phase: Phase,
        /// The underlying error; also what [`source`](std::error::Error::source) returns.
        source: Arc<io::Error>,
    },
    /// The server sent bytes that are not a valid reply to the command sent. The connection is
    /// dropped; the stream is never read again.
    Protocol(ProtocolError),
    /// memcached answered `SERVER_ERROR <message>`: it could not carry out the command, for
    /// example `object too large for cache` or `out of memory storing object`. See
    /// [`Error::is_item_too_large`] and [`Error::is_out_of_memory`].
    ServerError {
        /// What the message reports, as the codec reads it
        /// ([`ServerErrorKind::of_message`]).
        kind: ServerErrorKind,
        /// The message after `SERVER_ERROR`.
        message: String,
    },
    /// memcached answered `CLIENT_ERROR <message>`: it found the request malformed, or (for
    /// incr/decr) the stored value is not a number. The connection is dropped, because
    /// memcached may read what follows a malformed request as a new command.
    ClientError {
        /// The message after `CLIENT_ERROR`.
        message: String,
    },
    /// memcached answered `ERROR`: it did not know the command (or, with a message such as
    /// `Too many open connections`, refused the connection). The connection is dropped.
    UnknownCommand {
        /// The text after `ERROR`, often empty.
        message: String,
    },
    /// The key cannot be sent; nothing was written.
    InvalidKey(KeyError),
    /// The value is longer than the configured maximum
    /// ([`Config::with_max_value_size`](crate::Config::with_max_value_size)); nothing was
    /// written.
    ValueTooLarge {
        /// The value's length.
        len: usize,
        /// The configured maximum.
        limit: usize,
    },
    /// An argument other than a key cannot be sent (an expiration time memcached cannot
    /// represent, a malformed stats argument); nothing was written.
    InvalidArgument {
        /// Which argument.
        what: &'static str,
        /// Why it was refused.
        reason: String,
    },
    /// The configured [`ServerKind`] ([`Config::with_server_kind`](crate::Config::with_server_kind))
    /// does not answer this command, so it was refused before anything was written; the
    /// connection is kept. twemproxy would close the connection instead of answering. Not
    /// transient and not a connection error: asking again gets the same answer, and a
    /// [`Cluster`](crate::Cluster) does not count it against the server.
    NotSupportedByServer {
        /// The command, as memcached spells it: `gat`, `stats`, `flush_all`, …
        command: &'static str,
        /// The kind of server it was refused for.
        server: ServerKind,
    },
    /// The server that owns the key is marked down after repeated connection failures; the
    /// call failed at once, without waiting on the network. Nothing was sent.
    ServerDown {
        /// The server's address.
        addr: String,
        /// How long until one caller probes it again.
        retry_in: Duration,
    },
    /// Every connection of a [`Pool`](crate::Pool) stayed in use for the whole checkout
    /// timeout. Nothing was sent.
    PoolTimeout {
        /// The checkout timeout that elapsed.
        waited: Duration,
        /// The pool's maximum size.
        max_size: usize,
    },
    /// memcached answered `NOT_STORED` to a `set`, which memcached 1.6 does not do; reported
    /// so that no refusal is ever mistaken for a store. (`add`, `replace`, `append` and
    /// `prepend` report `NOT_STORED` as a value, [`StoreOutcome::NotStored`](crate::StoreOutcome).)
    NotStored,
    /// Items of a batch were not confirmed: a [`BatchError`] turned into an `Error` (by `?`),
    /// keeping its first failure and how many there were but not the per-item report.
    ///
    /// The predicates that say what went wrong ([`Error::is_timeout`],
    /// [`Error::is_connection_lost`], [`Error::is_transient`], …) answer for the first
    /// failure; [`Error::may_have_reached_server`] is always true, because other items of the
    /// batch may have been applied.
    Batch {
        /// The position, in the batch's input, of the first item that was not confirmed.
        index: usize,
        /// How many items were not confirmed: failed, unconfirmed, not sent, and never taken
        /// from the input when that number is known
        /// ([`BatchReport::not_taken`](crate::BatchReport::not_taken)).
        failed: usize,
        /// Why the first one was not; also what [`source`](std::error::Error::source)
        /// returns.
        source: Box<Error>,
    },
    /// memcached requires authentication (it runs with `-Y`) and this client has no
    /// credentials ([`Config::with_credentials`](crate::Config::with_credentials)). memcached
    /// answered `CLIENT_ERROR unauthenticated`, or, to a `set` (which it reads as an
    /// authentication attempt), `CLIENT_ERROR authentication failure` or `CLIENT_ERROR bad
    /// authentication token format`; it carried out nothing. Not transient: the same call
    /// without credentials gets the same answer. The connection is dropped.
    AuthenticationRequired,
    /// memcached refused the configured credentials (`CLIENT_ERROR authentication failure`)
    /// right after the connection opened; nothing of the call was sent. memcached would keep
    /// the connection open and unauthenticated; this client closes it, and never sends a
    /// command on it. Not transient, and not a sign the server is down: a
    /// [`Cluster`](crate::Cluster) keeps the server up. (The message names neither the user
    /// nor the password.)
    AuthenticationFailed,
    /// TLS failed (`Config::with_tls`, with the `tls` feature): the server's certificate
    /// was refused, the server ended the session with an alert (it requires a client
    /// certificate, or refused ours), or the handshake failed. Not transient, not a
    /// connection error (no retry or failover acts on it: another attempt meets the same
    /// certificate), and never reported as a reset or a closed connection: memcached resets
    /// the connection right after its alert, and the alert is the error.
    Tls {
        /// What failed.
        failure: TlsFailure,
        /// When: during the connect (the handshake), or at the first write or read after it,
        /// where TLS 1.3 servers report a refused client certificate.
        phase: Phase,
        /// The reason, with the `tls` feature a `rustls::Error` (downcast it for the exact
        /// certificate error or alert); also what [`source`](std::error::Error::source)
        /// returns.
        source: Arc<dyn std::error::Error + Send + Sync>,
    },
    /// The server does not support a flag the meta command used: it is older than the flag
    /// (memcached answered `CLIENT_ERROR invalid flag`, see
    /// [`unsupported_flag`](crate::protocol::meta::unsupported_flag)). Nothing was carried
    /// out. The connection is kept: the client checks that the stream is still in step (with
    /// an `mn`) before it trusts it again. Not transient: the same server refuses it again.
    Unsupported {
        /// The version-gated flag the request carried (`E` or `x`), when it carried one.
        flag: Option<char>,
        /// The message after `CLIENT_ERROR`.
        message: String,
    },
}

/// What part of TLS failed, in an [`Error::Tls`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TlsFailure {
    /// The server's certificate was not accepted: not from a trusted CA, issued for another
    /// name, expired, or otherwise invalid.
    Certificate,
    /// The server sent a fatal alert: `certificate_required` (it requires a client
    /// certificate and none was configured), `unknown_ca` or `bad_certificate` (it refused
    /// the one given), `handshake_failure`, …
    Alert,
    /// The handshake failed otherwise: no protocol version or cipher suite in common, or a
    /// peer that does not speak TLS.
    Handshake,
    /// The TLS settings could not be used: a client key that does not match its
    /// certificate, or no server name to check (a Unix socket needs
    /// `TlsConfig::server_name`).
    Config,
}

impl fmt::Display for TlsFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Certificate => "certificate verification failed",
            Self::Alert => "the server sent an alert",
            Self::Handshake => "handshake failed",
            Self::Config => "configuration unusable",
        })
    }
}

// Display and source() are written out rather than derived: the IO errors are shared in an
// `Arc` so that `Error` can be `Clone`, and a derived source() would hand out the `Arc`,
// which a caller cannot downcast to the `io::Error` it holds.
impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Connect { addr, source } => {
                write!(f, "cannot connect to memcached at {addr}: {source}")
            }
            Self::Timeout { phase, timeout } => write!(f, "{phase} timed out after {timeout:?}"),
            Self::DeadlineExceeded { phase } => {
                write!(f, "the caller's deadline passed during the {phase}")
            }
            Self::ConnectionClosed { phase } => {
                write!(f, "memcached closed the connection during the {phase}")
            }
            Self::Io { phase, source } => write!(f, "socket error during the {phase}: {source}"),
            Self::Protocol(error) => write!(f, "protocol violation: {error}"),
            Self::ServerError { message, .. } => write!(f, "memcached SERVER_ERROR: {message}"),
            Self::ClientError { message } => write!(f, "memcached CLIENT_ERROR: {message}"),
            Self::UnknownCommand { message } if message.is_empty() => {
                f.write_str("memcached answered ERROR")
            }
            Self::UnknownCommand { message } => write!(f, "memcached answered ERROR: {message}"),
            Self::InvalidKey(error) => write!(f, "invalid key: {error}"),
            Self::ValueTooLarge { len, limit } => {
                write!(
                    f,
                    "value of {len} bytes is larger than the {limit}-byte limit"
                )
            }
            Self::InvalidArgument { what, reason } => write!(f, "invalid {what}: {reason}"),
            Self::NotSupportedByServer { command, server } => {
                write!(f, "{server} does not support `{command}`; nothing was sent")
            }
            Self::ServerDown { addr, retry_in } => {
                write!(
                    f,
                    "memcached at {addr} is marked down; next probe in {retry_in:?}"
                )
            }
            Self::PoolTimeout { waited, max_size } => write!(
                f,
                "no pooled connection came free within {waited:?} (pool of {max_size})"
            ),
            Self::NotStored => f.write_str("memcached did not store the item (NOT_STORED)"),
            Self::AuthenticationRequired => {
                f.write_str("memcached requires authentication and no credentials are configured")
            }
            Self::AuthenticationFailed => {
                f.write_str("memcached refused the configured credentials")
            }
            Self::Tls {
                failure,
                phase,
                source,
            } => write!(f, "TLS {failure} during the {phase}: {source}"),
            Self::Unsupported {
                flag: Some(flag),
                message,
            } => write!(f, "memcached does not support the {flag} flag: {message}"),
            Self::Unsupported {
                flag: None,
                message,
            } => {
                write!(
                    f,
                    "memcached does not support a flag of the command: {message}"
                )
            }
            Self::Batch {
                index,
                failed,
                source,
            } => write!(
                f,
                "{failed} {} of a batch {} not confirmed; the first, item {index}: {source}",
                items(*failed),
                were(*failed)
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Connect { source, .. } | Self::Io { source, .. } => Some(&**source),
            Self::Protocol(error) => Some(error),
            Self::InvalidKey(error) => Some(error),
            Self::Batch { source, .. } => Some(&**source),
            Self::Tls { source, .. } => Some(&**source),
            _ => None,
        }
    }
}

impl From<ProtocolError> for Error {
    fn from(error: ProtocolError) -> Self {
        Self::Protocol(error)
    }
}

impl From<KeyError> for Error {
    fn from(error: KeyError) -> Self {
        Self::InvalidKey(error)
    }
}

impl Error {
    /// A wait ran out: a configured timeout ([`Error::Timeout`]) or the caller's deadline
    /// ([`Error::DeadlineExceeded`]), in any phase.
    pub fn is_timeout(&self) -> bool {
        matches!(
            self.first(),
            Self::Timeout { .. } | Self::DeadlineExceeded { .. }
        )
    }

    /// Which phase timed out, if this is a timeout.
    pub fn timeout_phase(&self) -> Option<Phase> {
        match self.first() {
            Self::Timeout { phase, .. } | Self::DeadlineExceeded { phase } => Some(*phase),
            _ => None,
        }
    }

    /// The server could not be reached or the connection failed: connect errors, timeouts,
    /// closed connections, socket errors, and a server already marked down. These are what
    /// failover and dead-host marking act on.
    pub fn is_connection_error(&self) -> bool {
        matches!(
            self.first(),
            Self::Connect { .. }
                | Self::ServerDown { .. }
                | Self::Timeout { .. }
                | Self::ConnectionClosed { .. }
                | Self::Io { .. }
        )
    }

    /// An open connection was lost: the server closed it ([`Error::ConnectionClosed`], what
    /// a restarted or killed memcached gives) or the socket failed ([`Error::Io`], such as a
    /// reset). Not a timeout, and not a connection that could not be opened.
    ///
    /// ```
    /// # use memcache_sync::{Error, Phase};
    /// # use std::{io, sync::Arc};
    /// let closed = Error::ConnectionClosed { phase: Phase::Read };
    /// let reset = Error::Io { phase: Phase::Write, source: Arc::new(io::ErrorKind::ConnectionReset.into()) };
    /// assert!(closed.is_connection_lost() && reset.is_connection_lost());
    /// ```
    pub fn is_connection_lost(&self) -> bool {
        matches!(
            self.first(),
            Self::ConnectionClosed { .. } | Self::Io { .. }
        )
    }

    /// memcached refused the call for want of authentication: no credentials
    /// ([`Error::AuthenticationRequired`]) or wrong ones ([`Error::AuthenticationFailed`]).
    /// The server answered, so it is up; retrying cannot help until the configuration changes.
    pub fn is_authentication_error(&self) -> bool {
        matches!(
            self.first(),
            Self::AuthenticationRequired | Self::AuthenticationFailed
        )
    }

    /// TLS failed ([`Error::Tls`]): a certificate, an alert, the handshake or the TLS
    /// settings. Retrying cannot help until a certificate or the configuration changes.
    pub fn is_tls_error(&self) -> bool {
        matches!(self.first(), Self::Tls { .. })
    }

    /// The caller passed something that cannot be sent; retrying the same call cannot help.
    pub fn is_invalid_input(&self) -> bool {
        matches!(
            self.first(),
            Self::InvalidKey(_) | Self::ValueTooLarge { .. } | Self::InvalidArgument { .. }
        )
    }

    /// memcached answered `SERVER_ERROR object too large for cache`
    /// ([`ServerErrorKind::TooLarge`]): the value is over the server's item size limit
    /// (`-I`). memcached also deletes the key's old value when it refuses an oversized store.
    pub fn is_item_too_large(&self) -> bool {
        self.server_error_kind() == Some(ServerErrorKind::TooLarge)
    }

    /// memcached answered `SERVER_ERROR out of memory …` ([`ServerErrorKind::OutOfMemory`]):
    /// it could not make room (for example when started with `-M`, which forbids
    /// evictions).
    pub fn is_out_of_memory(&self) -> bool {
        self.server_error_kind() == Some(ServerErrorKind::OutOfMemory)
    }

    /// A proxy answered that the backend owning the key is unavailable
    /// ([`ServerErrorKind::BackendUnavailable`], such as twemproxy's `SERVER_ERROR Connection
    /// refused`) or did not answer in time ([`ServerErrorKind::BackendTimedOut`], twemproxy's
    /// `SERVER_ERROR Connection timed out`). Transient: the backend may be back soon.
    ///
    /// The proxy itself answered, so a [`Cluster`](crate::Cluster) keeps it up. And the
    /// error does not mean the command was not applied: after a backend timeout the request
    /// may sit in the stalled backend's socket and be carried out when it resumes (observed
    /// with nutcracker 0.5: every `set` answered `Connection timed out` was applied once the
    /// backend continued), so [`Error::may_have_reached_server`] stays true.
    ///
    /// ```
    /// # use memcache_sync::{Error, ServerErrorKind};
    /// let message = "Connection timed out";
    /// let timed_out = Error::ServerError {
    ///     kind: ServerErrorKind::of_message(message.as_bytes()),
    ///     message: message.into(),
    /// };
    /// assert!(timed_out.is_backend_unavailable() && timed_out.is_transient());
    /// assert!(timed_out.may_have_reached_server() && !timed_out.is_safe_to_retry(false));
    /// ```
    pub fn is_backend_unavailable(&self) -> bool {
        matches!(
            self.server_error_kind(),
            Some(ServerErrorKind::BackendUnavailable | ServerErrorKind::BackendTimedOut)
        )
    }

    fn server_error_kind(&self) -> Option<ServerErrorKind> {
        match self.first() {
            Self::ServerError { kind, .. } => Some(*kind),
            _ => None,
        }
    }

    /// The request may have reached the server, so the command may have been applied even
    /// though no reply was read. False when the failure came before anything was written
    /// (connect errors, connect timeouts, pool timeouts, refused input, refused credentials),
    /// and when memcached answered that it carried out nothing for want of authentication.
    /// Always true for [`Error::Batch`]: whatever stopped its first item, others may have gone.
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
                | Self::Tls {
                    phase: Phase::Connect,
                    ..
                }
                | Self::NotSupportedByServer { .. }
        );
        let batch = matches!(self, Self::Batch { .. });
        batch || !(before_sending || self.is_invalid_input() || self.is_authentication_error())
    }

    /// A later attempt, on a fresh connection, might succeed: the failure lay in the network,
    /// the server's state or a garbled stream, not in the request. (A value longer than this
    /// client accepts is not transient: asking again cannot make it shorter.)
    pub fn is_transient(&self) -> bool {
        let error = self.first();
        let too_long = matches!(
            error,
            Self::Protocol(ProtocolError {
                kind: ProtocolErrorKind::ValueTooLong { .. },
                ..
            })
        );
        let connections_full = matches!(
            error,
            Self::UnknownCommand { message } if message.contains("Too many open connections")
        );
        error.is_connection_error()
            || (matches!(error, Self::Protocol(_)) && !too_long)
            || matches!(error, Self::PoolTimeout { .. })
            || error.is_out_of_memory()
            || error.is_backend_unavailable()
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

    /// A socket error on an open connection, as [`Error::Io`].
    pub(crate) fn io(phase: Phase, source: io::Error) -> Self {
        Self::Io {
            phase,
            source: Arc::new(source),
        }
    }

    /// The error the predicates judge: a batch's first failure, or this error itself.
    fn first(&self) -> &Error {
        match self {
            Self::Batch { source, .. } => source.first(),
            error => error,
        }
    }

    /// Whether the connection must be dropped after this error: everything that happened once
    /// bytes were on the wire, except the replies memcached sends in step (`SERVER_ERROR`,
    /// `NOT_STORED`). A connection that is not authenticated is never kept: every command on
    /// it would fail, and a `set` on it would be taken as an authentication attempt.
    pub(crate) fn breaks_connection(&self) -> bool {
        self.is_authentication_error()
            || (self.may_have_reached_server()
                && !matches!(self, Self::ServerError { .. } | Self::NotStored))
    }
}

impl<T> From<BatchError<T>> for Error {
    fn from(error: BatchError<T>) -> Self {
        let (index, failed) = (error.first_failure().0, error.report().not_confirmed());
        Self::Batch {
            index,
            failed,
            source: Box::new(error.into_first_error()),
        }
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ProtocolErrorKind;

    fn server_error(message: &str) -> Error {
        Error::ServerError {
            kind: ServerErrorKind::of_message(message.as_bytes()),
            message: message.into(),
        }
    }

    fn examples() -> Vec<Error> {
        let io = || Arc::new(io::Error::from(io::ErrorKind::ConnectionReset));
        vec![
            Error::Connect {
                addr: "h:1".into(),
                source: Arc::new(io::Error::from(io::ErrorKind::ConnectionRefused)),
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
            server_error("object too large for cache"),
            server_error("out of memory storing object"),
            Error::ClientError {
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
            Error::Batch {
                index: 3,
                failed: 2,
                source: Box::new(Error::ConnectionClosed { phase: Phase::Read }),
            },
        ]
    }

    #[test]
    fn predicates_classify_every_variant() {
        // (is_connection_error, may_have_reached_server, is_transient, breaks_connection,
        // is_connection_lost)
        let expected = [
            (true, false, true, false, false),
            (true, false, true, false, false),
            (true, true, true, true, false),
            (true, true, true, true, false),
            (true, true, true, true, true),
            (false, true, false, true, false),
            (false, false, false, false, false),
            (true, true, true, true, true),
            (false, true, true, true, false),
            (false, true, false, false, false),
            (false, true, true, false, false),
            (false, true, false, true, false),
            (false, true, false, true, false),
            (false, false, false, false, false),
            (false, false, false, false, false),
            (false, false, false, false, false),
            (false, true, false, false, false),
            (false, false, true, false, false),
            (true, false, true, false, false),
            (true, true, true, true, true),
        ];
        let errors = examples();
        assert_eq!(errors.len(), expected.len());
        for (error, want) in errors.iter().zip(expected) {
            let got = (
                error.is_connection_error(),
                error.may_have_reached_server(),
                error.is_transient(),
                error.breaks_connection(),
                error.is_connection_lost(),
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
            let copy = error.clone();
            assert_eq!(copy.to_string(), error.to_string());
            assert!(copy.is_authentication_error());
        }
        assert!(!Error::NotStored.is_authentication_error());
    }

    #[test]
    fn tls_failures_are_neither_transient_nor_connection_errors_and_keep_their_reason() {
        use std::error::Error as _;
        let tls = |phase| Error::Tls {
            failure: TlsFailure::Alert,
            phase,
            source: Arc::new(io::Error::other(
                "received fatal alert: CertificateRequired",
            )),
        };
        for phase in [Phase::Connect, Phase::Write, Phase::Read] {
            let error = tls(phase);
            assert!(error.is_tls_error(), "{error:?}");
            assert!(
                !error.is_transient(),
                "another attempt meets the same certificate"
            );
            assert!(!error.is_connection_error() && !error.is_connection_lost());
            assert!(!error.is_safe_to_retry(true), "{error:?}");
            assert_eq!(error.may_have_reached_server(), phase != Phase::Connect);
            assert!(error.source().is_some());
            let copy = error.clone();
            assert_eq!(copy.to_string(), error.to_string());
        }
        assert_eq!(
            tls(Phase::Write).to_string(),
            "TLS the server sent an alert during the write: \
             received fatal alert: CertificateRequired"
        );
        assert!(tls(Phase::Write).breaks_connection());
        assert!(!Error::NotStored.is_tls_error());
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
    fn a_clone_reads_and_classifies_like_the_original_and_shares_its_io_error() {
        for error in examples() {
            let copy = error.clone();
            assert_eq!(copy.to_string(), error.to_string());
            assert_eq!(copy.is_safe_to_retry(false), error.is_safe_to_retry(false));
            assert_eq!(copy.breaks_connection(), error.breaks_connection());
            assert_eq!(copy.is_connection_lost(), error.is_connection_lost());
        }
        let error = Error::Io {
            phase: Phase::Read,
            source: Arc::new(io::Error::other("the one and only")),
        };
        let (Error::Io { source: a, .. }, Error::Io { source: b, .. }) = (&error, error.clone())
        else {
            unreachable!()
        };
        assert!(
            Arc::ptr_eq(a, &b),
            "a clone shares the io::Error, kind, code and all"
        );
    }

    #[test]
    fn the_source_of_an_io_or_connect_error_is_the_io_error_itself() {
        use std::error::Error as _;
        let refused = || Arc::new(io::Error::new(io::ErrorKind::ConnectionRefused, "refused"));
        let errors = [
            Error::Connect {
                addr: "h:1".into(),
                source: refused(),
            },
            Error::Io {
                phase: Phase::Write,
                source: refused(),
            },
        ];
        for error in errors.iter().chain(&errors.clone()) {
            let source = error.source().expect("an IO error has a source");
            let io = source
                .downcast_ref::<io::Error>()
                .unwrap_or_else(|| panic!("the source of {error:?} is not an io::Error"));
            assert_eq!(io.kind(), io::ErrorKind::ConnectionRefused);
            assert_eq!(io.to_string(), "refused");
        }
        let key = Error::InvalidKey(KeyError::Empty);
        assert_eq!(
            key.source().and_then(|s| s.downcast_ref::<KeyError>()),
            Some(&KeyError::Empty)
        );
    }

    #[test]
    fn server_errors_are_recognisable_by_their_kind() {
        let errors = examples();
        assert!(errors[9].is_item_too_large() && !errors[9].is_out_of_memory());
        assert!(errors[10].is_out_of_memory() && !errors[10].is_item_too_large());
        assert!(matches!(
            errors[9],
            Error::ServerError {
                kind: ServerErrorKind::TooLarge,
                ..
            }
        ));
        // memcached's own spelling of some out-of-memory replies; transient like the others.
        let allocating = server_error("Out of memory allocating item");
        assert!(allocating.is_out_of_memory() && allocating.is_transient());
        let other = server_error("output line too long");
        assert!(!other.is_out_of_memory() && !other.is_item_too_large() && !other.is_transient());
        // The kind decides, not the message: a caller's own error is classified as it says.
        let declared = Error::ServerError {
            kind: ServerErrorKind::Other,
            message: "out of memory".into(),
        };
        assert!(!declared.is_out_of_memory());
    }

    #[test]
    fn a_backend_failure_behind_a_proxy_is_transient_and_may_have_been_applied() {
        for message in ["Connection refused", "Connection timed out"] {
            let error = server_error(message);
            assert!(error.is_backend_unavailable(), "{message}");
            assert!(
                error.is_transient() && error.may_have_reached_server(),
                "{message}"
            );
            assert!(
                !error.is_connection_error() && !error.breaks_connection(),
                "{message}"
            );
            assert!(error.is_safe_to_retry(true) && !error.is_safe_to_retry(false));
        }
        assert!(!server_error("out of memory storing object").is_backend_unavailable());
    }

    #[test]
    fn a_command_the_server_kind_lacks_was_never_sent_and_keeps_the_connection() {
        let error = Error::NotSupportedByServer {
            command: "gat",
            server: ServerKind::Twemproxy,
        };
        assert!(!error.may_have_reached_server() && !error.breaks_connection());
        assert!(!error.is_transient() && !error.is_connection_error());
        assert!(!error.is_invalid_input() && !error.is_safe_to_retry(true));
        assert_eq!(
            error.to_string(),
            "twemproxy does not support `gat`; nothing was sent"
        );
    }

    #[test]
    fn a_batch_error_is_judged_by_its_first_failure_but_may_have_reached_the_server() {
        let batch = |first: Error| Error::Batch {
            index: 0,
            failed: 1,
            source: Box::new(first),
        };
        let timeout = batch(Error::Timeout {
            phase: Phase::Read,
            timeout: Duration::from_secs(1),
        });
        assert!(timeout.is_timeout() && timeout.is_transient());
        assert_eq!(timeout.timeout_phase(), Some(Phase::Read));
        assert!(timeout.is_safe_to_retry(true) && !timeout.is_safe_to_retry(false));
        let refused = batch(Error::Connect {
            addr: "h:1".into(),
            source: Arc::new(io::ErrorKind::ConnectionRefused.into()),
        });
        // Its first item was never sent, but items after it may have been.
        assert!(refused.may_have_reached_server() && !refused.is_safe_to_retry(false));
        let too_large = batch(server_error("object too large for cache"));
        assert!(too_large.is_item_too_large());
        let invalid = batch(Error::InvalidKey(KeyError::Empty));
        assert!(invalid.is_invalid_input() && !invalid.is_safe_to_retry(true));
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
        let batch = &errors[19];
        assert_eq!(
            batch.to_string(),
            "2 items of a batch were not confirmed; the first, item 3: \
             memcached closed the connection during the read"
        );
        assert!(batch
            .source()
            .and_then(|s| s.downcast_ref::<Error>())
            .is_some_and(|first| matches!(first, Error::ConnectionClosed { .. })));
    }
}
