//! The events a cluster emits, recorded and reduced to what the tests compare.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use memcache_sync::{Cluster, ClusterBuilder, Error, Event, Observer, Phase};

/// An error, reduced to what the tests compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Connect,
    ServerDown,
    Timeout(Phase),
    Closed,
    Io,
    PoolTimeout,
    Other,
}

impl Kind {
    pub fn of(error: &Error) -> Kind {
        match error {
            Error::Connect { .. } => Kind::Connect,
            Error::ServerDown { .. } => Kind::ServerDown,
            Error::Timeout { phase, .. } => Kind::Timeout(*phase),
            Error::ConnectionClosed { .. } => Kind::Closed,
            Error::Io { .. } => Kind::Io,
            Error::PoolTimeout { .. } => Kind::PoolTimeout,
            _ => Kind::Other,
        }
    }

    /// A failure to reach the server, as opposed to being refused at once as down.
    pub fn is_reach_failure(self) -> bool {
        matches!(
            self,
            Kind::Connect | Kind::Timeout(_) | Kind::Closed | Kind::Io
        )
    }
}

/// An [`Event`], owned.
#[derive(Debug, Clone, PartialEq)]
pub enum Seen {
    Operation {
        server: String,
        command: &'static str,
        latency: Duration,
        error: Option<Kind>,
    },
    Retry {
        server: String,
        command: &'static str,
        attempt: u32,
        error: Kind,
        backoff: Duration,
    },
    Down {
        server: String,
        retry_in: Duration,
    },
    Up {
        server: String,
    },
}

/// Records every event a cluster emits.
#[derive(Clone, Default)]
pub struct Recorder(Arc<Mutex<Vec<Seen>>>);

impl Recorder {
    pub fn observer(&self) -> impl Observer + 'static {
        let events = Arc::clone(&self.0);
        move |event: &Event<'_>| {
            let seen = match *event {
                Event::Operation {
                    server,
                    command,
                    latency,
                    error,
                } => Seen::Operation {
                    server: server.to_owned(),
                    command,
                    latency,
                    error: error.map(Kind::of),
                },
                Event::Retry {
                    server,
                    command,
                    attempt,
                    error,
                    backoff,
                } => Seen::Retry {
                    server: server.to_owned(),
                    command,
                    attempt,
                    error: Kind::of(error),
                    backoff,
                },
                Event::ServerDown { server, retry_in } => Seen::Down {
                    server: server.to_owned(),
                    retry_in,
                },
                Event::ServerUp { server } => Seen::Up {
                    server: server.to_owned(),
                },
                _ => return,
            };
            events.lock().unwrap().push(seen);
        }
    }

    pub fn take(&self) -> Vec<Seen> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }

    pub fn snapshot(&self) -> Vec<Seen> {
        self.0.lock().unwrap().clone()
    }
}

/// The cluster `builder` builds, with a fresh [`Recorder`] as its observer.
///
/// Most tests that look at events want nothing more from the observer than every event
/// recorded; this keeps the recorder and the cluster it listens to made together, so that no
/// test reads a recorder that some other cluster fills.
pub fn observed(builder: ClusterBuilder) -> (Cluster, Recorder) {
    let recorder = Recorder::default();
    let cluster = builder.observer(recorder.observer()).build().unwrap();
    (cluster, recorder)
}

pub fn retries(events: &[Seen]) -> Vec<&Seen> {
    events
        .iter()
        .filter(|e| matches!(e, Seen::Retry { .. }))
        .collect()
}

/// The up/down transitions of `server`, in order.
pub fn transitions(events: &[Seen], server: &str) -> Vec<&'static str> {
    events
        .iter()
        .filter_map(|e| match e {
            Seen::Down { server: s, .. } if s == server => Some("down"),
            Seen::Up { server: s } if s == server => Some("up"),
            _ => None,
        })
        .collect()
}
