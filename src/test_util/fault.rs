//! The faults a [`FakeServer`](super::FakeServer) can be told to show, and the script that says
//! which request meets which.

use std::collections::VecDeque;
use std::time::Duration;

/// A way for the fake server to misbehave, applied to whole requests: the fault acts once the
/// request (its command line and any data block) has been read.
///
/// Each variant produces one error a client must handle; with this crate's
/// [`Client`](crate::Client) the comments say which.
///
/// ```
/// use memcache_sync::test_util::{FakeServer, Fault};
/// use memcache_sync::{Client, Phase};
/// use std::time::Duration;
///
/// let server = FakeServer::start();
/// let mut client = Client::connect(&server.addr())?;
/// server.fail_next(1, Fault::Delay(Duration::from_millis(50))); // slow, but within the timeout
/// assert_eq!(client.get(b"k")?, None);
///
/// server.fail_next(1, Fault::Silent);
/// let error = client.get(b"k").unwrap_err(); // once the read timeout (1 s) has passed
/// assert_eq!(error.timeout_phase(), Some(Phase::Read));
/// assert_eq!(client.get(b"k")?, None); // a new connection, and the fault is over
/// # Ok::<(), memcache_sync::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// Neither carries out nor answers the request, nor anything later on that connection: a
    /// hung server. The client's read times out
    /// ([`Error::Timeout`](crate::Error::Timeout) with [`Phase::Read`](crate::Phase::Read)).
    Silent,
    /// Closes the connection without carrying out the request: a crashed server, or a proxy
    /// dropping the connection. The client sees a connection error
    /// ([`Error::is_connection_error`](crate::Error::is_connection_error)).
    Close,
    /// Carries out the request and answers it correctly after this delay: a slow server. A
    /// delay past the client's read timeout is a timeout, with the command already applied.
    Delay(Duration),
    /// Answers `SERVER_ERROR <message>` without carrying out the request, as memcached does
    /// when it runs out of memory. The connection stays in step. Line breaks in the message
    /// are sent as spaces, so that the reply stays one line.
    ServerError(String),
    /// Stops listening, so that connects are refused
    /// ([`Error::Connect`](crate::Error::Connect)), and closes each open connection when its
    /// next request arrives: a stopped server. Listening resumes, on the same port, once the
    /// fault is over.
    ///
    /// A refused connect never reaches the server, so it cannot be counted: under
    /// [`FakeServer::fail_next`](super::FakeServer::fail_next) only requests that arrive on
    /// connections opened before count. To refuse connects for a while, use
    /// [`FakeServer::set_fault`](super::FakeServer::set_fault) and end it with
    /// `set_fault(None)`.
    Refuse,
}

/// Which fault the next requests meet: a queue of faults, each for a number of requests or
/// for good.
#[derive(Debug, Default)]
pub(crate) struct Script {
    steps: VecDeque<(Fault, Option<usize>)>,
}

impl Script {
    /// Queues `fault` for the `n` requests after those already scripted.
    pub(crate) fn push(&mut self, n: usize, fault: Fault) {
        if n > 0 {
            self.steps.push_back((fault, Some(n)));
        }
    }

    /// Replaces the whole script with `fault` for every request, or with none.
    pub(crate) fn set(&mut self, fault: Option<Fault>) {
        self.steps.clear();
        self.steps.extend(fault.map(|fault| (fault, None)));
    }

    /// The fault for the request that just arrived, counting it against its step.
    pub(crate) fn take(&mut self) -> Option<Fault> {
        let (fault, left) = self.steps.front_mut()?;
        let fault = fault.clone();
        if let Some(left) = left {
            *left -= 1;
            if *left == 0 {
                self.steps.pop_front();
            }
        }
        Some(fault)
    }

    /// Whether the server should refuse connects now.
    pub(crate) fn refusing(&self) -> bool {
        matches!(self.steps.front(), Some((Fault::Refuse, _)))
    }
}
