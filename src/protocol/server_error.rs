//! What a `SERVER_ERROR` reply reports, read from memcached's message.

/// The kind of failure a `SERVER_ERROR <message>` reply reports, for the replies a caller may
/// act on. memcached has no error codes in the text protocol, only messages; this reads the
/// ones memcached 1.6 sends, and twemproxy's for a failed backend (see
/// [`ServerErrorKind::of_message`]).
///
/// ```
/// use memcache_sync::protocol::ServerErrorKind;
/// assert_eq!(ServerErrorKind::of_message(b"out of memory storing object"), ServerErrorKind::OutOfMemory);
/// assert_eq!(ServerErrorKind::of_message(b"object too large for cache"), ServerErrorKind::TooLarge);
/// assert_eq!(ServerErrorKind::of_message(b"Connection refused"), ServerErrorKind::BackendUnavailable);
/// assert_eq!(ServerErrorKind::of_message(b"output line too long"), ServerErrorKind::Other);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ServerErrorKind {
    /// memcached could not allocate memory for the command, for example when started with
    /// `-M` (no evictions) and full: `out of memory storing object`, `Out of memory
    /// allocating item` and the other `out of memory …` messages. Another attempt may succeed
    /// once memory is freed.
    OutOfMemory,
    /// The value is over the server's item size limit (`-I`): `object too large for cache`.
    /// memcached also deletes the key's old value when it refuses an oversized store.
    TooLarge,
    /// A proxy could not reach the backend that owns the key: twemproxy (nutcracker 0.5)
    /// answers with the system's message for the failure, `Connection refused` for a dead
    /// backend, or `Connection reset by peer`, `No route to host`, `Network is unreachable`,
    /// `Host is down`, `Broken pipe`. The proxy itself is up.
    BackendUnavailable,
    /// A proxy gave up waiting for the backend's reply after its own timeout: twemproxy's
    /// `Connection timed out`. The backend may still carry the command out (a stalled
    /// memcached applies it when it resumes), so this does not mean "not applied".
    BackendTimedOut,
    /// Any other message, such as `output line too long`.
    Other,
}

/// The system messages (`strerror`) twemproxy forwards for a backend it cannot reach. memcached
/// itself sends none of them.
const BACKEND_UNAVAILABLE: [&[u8]; 6] = [
    b"connection refused",
    b"connection reset",
    b"no route to host",
    b"network is unreachable",
    b"host is down",
    b"broken pipe",
];

impl ServerErrorKind {
    /// Classifies the message after `SERVER_ERROR `, as [`Reply::ServerError`](super::Reply)
    /// holds it. memcached 1.6 spells its out-of-memory messages with both `out` and `Out`,
    /// so case is ignored; and a proxy may wrap a server's message in its own words, so the
    /// phrase may stand anywhere in it.
    pub fn of_message(message: &[u8]) -> Self {
        let holds = |phrase: &[u8]| {
            message
                .windows(phrase.len())
                .any(|window| window.eq_ignore_ascii_case(phrase))
        };
        if holds(b"out of memory") {
            Self::OutOfMemory
        } else if holds(b"too large") {
            Self::TooLarge
        } else if holds(b"connection timed out") {
            Self::BackendTimedOut
        } else if BACKEND_UNAVAILABLE.iter().any(|phrase| holds(phrase)) {
            Self::BackendUnavailable
        } else {
            Self::Other
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ServerErrorKind::{
        self, BackendTimedOut, BackendUnavailable, Other, OutOfMemory, TooLarge,
    };

    #[test]
    fn every_server_error_memcached_1_6_18_sends_is_classified() {
        // Every `SERVER_ERROR` string in the memcached 1.6.18 binary.
        let cases: [(&[u8], ServerErrorKind); 16] = [
            (b"out of memory", OutOfMemory),
            (b"out of memory storing object", OutOfMemory),
            (b"out of memory reading request", OutOfMemory),
            (b"out of memory writing get response", OutOfMemory),
            (b"out of memory writing stats", OutOfMemory),
            (b"Out of memory allocating item", OutOfMemory),
            (b"Out of memory allocating new item", OutOfMemory),
            (b"Out of memory during read", OutOfMemory),
            (b"Out of memory generating stats", OutOfMemory),
            (b"Out of memory incrementing value", OutOfMemory),
            (b"Out of memory preparing to send stats", OutOfMemory),
            (b"object too large for cache", TooLarge),
            (b"output line too long", Other),
            (b"refcount overflow during fetch", Other),
            (b"Unhandled storage type.", Other),
            (b"", Other),
        ];
        for (message, kind) in cases {
            assert_eq!(
                ServerErrorKind::of_message(message),
                kind,
                "{}",
                message.escape_ascii()
            );
        }
    }

    #[test]
    fn twemproxys_backend_failures_are_classified() {
        // The two observed through nutcracker 0.5 (a killed and a SIGSTOPped backend), then
        // the other socket errors it forwards as `strerror` text.
        let cases: [(&[u8], ServerErrorKind); 7] = [
            (b"Connection refused", BackendUnavailable),
            (b"Connection timed out", BackendTimedOut),
            (b"Connection reset by peer", BackendUnavailable),
            (b"No route to host", BackendUnavailable),
            (b"Network is unreachable", BackendUnavailable),
            (b"Host is down", BackendUnavailable),
            (b"Broken pipe", BackendUnavailable),
        ];
        for (message, kind) in cases {
            assert_eq!(
                ServerErrorKind::of_message(message),
                kind,
                "{}",
                message.escape_ascii()
            );
        }
    }

    #[test]
    fn the_phrase_decides_wherever_it_stands_and_whatever_its_case() {
        assert_eq!(
            ServerErrorKind::of_message(b"backend: Out Of Memory storing object"),
            OutOfMemory
        );
        assert_eq!(ServerErrorKind::of_message(b"OBJECT TOO LARGE"), TooLarge);
        assert_eq!(ServerErrorKind::of_message(b"out of mem"), Other);
        assert_eq!(ServerErrorKind::of_message(b"too"), Other);
    }
}
