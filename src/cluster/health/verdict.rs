//! What a call's outcome says about its server.

use crate::batch::BatchReport;
use crate::error::Error;

/// What one call learnt about a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// The server answered, even if with an error of its own.
    Answered,
    /// The server could not be reached, or the connection failed.
    Unreachable(Failure),
    /// The call never reached the server.
    Unknown,
}

/// How strongly a failure says the server is gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// Refused or unreachable, closed or reset: something answered "not here", or the route
    /// is gone. Counted against the failure threshold.
    Hard,
    /// A timeout: the server may only be slow for a moment. Counted against the timeout
    /// threshold.
    Soft,
}

impl Verdict {
    /// The verdict of a call that ended with `error`, or succeeded if `None`.
    pub(crate) fn of(error: Option<&Error>) -> Self {
        match error {
            None => Self::Answered,
            // Refused by this client's own health or pool: the server was not asked. Or the
            // caller's own deadline passed: that says how long the caller could wait, not
            // whether the server works.
            Some(
                Error::ServerDown { .. }
                | Error::PoolTimeout { .. }
                | Error::DeadlineExceeded { .. },
            ) => Self::Unknown,
            // memcached answered (no credentials, or the wrong ones): it is up, and a wrong
            // password must not take a healthy server out of the ring.
            Some(error) if error.is_authentication_error() => Self::Answered,
            Some(Error::Timeout { .. }) => Self::Unreachable(Failure::Soft),
            Some(error) if error.is_connection_error() => Self::Unreachable(Failure::Hard),
            Some(error) if !error.may_have_reached_server() => Self::Unknown,
            Some(_) => Self::Answered,
        }
    }

    /// The verdict of one server's share of a batch. A batch whose every item was refused
    /// before sending (say, all keys invalid) got a connection but no answer: that proves
    /// nothing, and must not end an outage when it was the probe.
    pub(crate) fn of_batch<T>(report: &BatchReport<T>) -> Self {
        match report.stop_error() {
            Some(error) => Self::of(Some(error)),
            None if report.server_answered() => Self::Answered,
            None => Self::Unknown,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Phase;

    #[test]
    fn refusals_and_broken_connections_are_hard_failures_and_timeouts_soft() {
        let io = || std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        let hard = [
            Error::Connect {
                addr: "h:1".into(),
                source: std::io::Error::from(std::io::ErrorKind::ConnectionRefused).into(),
            },
            Error::ConnectionClosed { phase: Phase::Read },
            Error::Io {
                phase: Phase::Write,
                source: io().into(),
            },
        ];
        for error in &hard {
            let verdict = Verdict::of(Some(error));
            assert_eq!(verdict, Verdict::Unreachable(Failure::Hard), "{error:?}");
        }
        for phase in [Phase::Connect, Phase::Write, Phase::Read] {
            let error = Error::Timeout {
                phase,
                timeout: std::time::Duration::from_millis(1),
            };
            let verdict = Verdict::of(Some(&error));
            assert_eq!(verdict, Verdict::Unreachable(Failure::Soft), "{phase}");
        }
    }

    #[test]
    fn an_authentication_error_is_an_answer_from_a_server_that_is_up() {
        for error in [Error::AuthenticationRequired, Error::AuthenticationFailed] {
            assert_eq!(Verdict::of(Some(&error)), Verdict::Answered, "{error:?}");
        }
    }

    #[test]
    fn a_proxy_reporting_its_backend_down_answered_and_a_refused_command_proves_nothing() {
        use crate::protocol::ServerErrorKind;
        // twemproxy's words for a dead and for a stalled backend: the proxy itself is up.
        for (kind, message) in [
            (ServerErrorKind::BackendUnavailable, "Connection refused"),
            (ServerErrorKind::BackendTimedOut, "Connection timed out"),
        ] {
            let error = Error::ServerError {
                kind,
                message: message.into(),
            };
            assert_eq!(Verdict::of(Some(&error)), Verdict::Answered, "{message}");
        }
        // Refused before sending for want of support: the server was never asked.
        let refused = Error::NotSupportedByServer {
            command: "gat",
            server: crate::config::ServerKind::Twemproxy,
        };
        assert_eq!(Verdict::of(Some(&refused)), Verdict::Unknown);
    }

    #[test]
    fn the_callers_deadline_says_nothing_about_the_server() {
        for phase in [Phase::Connect, Phase::Write, Phase::Read] {
            let error = Error::DeadlineExceeded { phase };
            assert_eq!(Verdict::of(Some(&error)), Verdict::Unknown, "{phase}");
        }
    }
}
