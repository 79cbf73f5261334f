//! A small in-process fake memcached for your own tests: [`FakeServer`]. Enabled by the
//! `test-util` feature, off by default; turn it on for tests only:
//!
//! ```toml
//! [dev-dependencies]
//! memcache-sync = { version = "0.1", features = ["test-util"] }
//! ```
//!
//! The fake speaks the classic text protocol on a loopback port, parsing requests with this
//! crate's own codec ([`parse_request`](crate::protocol::parse_request)) and answering with
//! its reply encoder, so it needs no memcached installed and starts in a millisecond. Its
//! behaviour follows memcached 1.6 closely enough for tests of code that uses a cache: flags,
//! CAS values, expiration times (relative, absolute, and the 30-day rule, on the real clock),
//! `incr`/`decr` wrapping and padding, `noreply`, and the error lines memcached sends. It can
//! also misbehave on cue ([`Fault`]) so that a test can check what your code does when the
//! cache times out, drops the connection, reports an error or is down.
//!
//! It is not memcached: no eviction (a store past 64 MiB in all is refused as out of
//! memory), no meta commands, no binary protocol, no `stats` groups but `reset`.
//!
//! # Bounds
//! A fake must never hang or outlive the test that made it. Every wait is polled in slices of
//! a few milliseconds, dropping the [`FakeServer`] stops and joins all of its threads, at most
//! 256 connections are served at once (more are turned away with memcached's
//! `ERROR Too many open connections`), values are held to 1 MiB (memcached's default item
//! size) and a server stops on its own after ten minutes.

mod fault;
mod server;
mod store;

use std::fmt;
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

pub use fault::Fault;
use fault::Script;
use server::{accept_loop, lock, Port, Shared};
use store::Store;

/// How long a fake server keeps serving, at most.
const LIFETIME: Duration = Duration::from_secs(10 * 60);
/// The largest value the fake stores: memcached's default item size.
const MAX_VALUE_LEN: usize = 1024 * 1024;
/// The most value bytes the fake holds in all: memcached's default memory limit.
const MAX_BYTES: usize = 64 * 1024 * 1024;

/// A fake memcached on `127.0.0.1`, serving each connection on its own thread, until dropped.
///
/// Set up state with [`insert`](Self::insert), check it with [`get`](Self::get) and
/// [`requests`](Self::requests), and script failures with [`fail_next`](Self::fail_next) and
/// [`set_fault`](Self::set_fault). All methods take `&self`, so a server can be shared with
/// the threads of a test.
///
/// ```
/// use memcache_sync::test_util::{FakeServer, Fault};
/// use memcache_sync::Client;
///
/// // The code under test: a cache in front of something slower, which must survive the
/// // cache failing.
/// fn greeting(cache: &mut Client) -> String {
///     match cache.get(b"greeting") {
///         Ok(Some(item)) => String::from_utf8_lossy(&item.value).into_owned(),
///         Ok(None) | Err(_) => "hello from the database".to_owned(),
///     }
/// }
///
/// let server = FakeServer::start();
/// server.insert(b"greeting", b"hello from the cache");
/// let mut cache = Client::connect(&server.addr())?;
/// assert_eq!(greeting(&mut cache), "hello from the cache");
///
/// server.fail_next(1, Fault::ServerError("out of memory".into()));
/// assert_eq!(greeting(&mut cache), "hello from the database");
/// assert_eq!(greeting(&mut cache), "hello from the cache"); // the fault is over
/// assert_eq!(server.requests(), ["get greeting"; 3]);
/// # Ok::<(), memcache_sync::Error>(())
/// ```
pub struct FakeServer {
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

impl FakeServer {
    /// Starts a server on a free loopback port, empty and healthy.
    ///
    /// # Panics
    /// If no loopback port can be bound or no thread spawned: a test cannot go on without its
    /// server.
    ///
    /// ```
    /// let server = memcache_sync::test_util::FakeServer::start();
    /// let mut client = memcache_sync::Client::connect(&server.addr())?;
    /// assert_eq!(client.get(b"anything")?, None);
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn start() -> FakeServer {
        let listener =
            TcpListener::bind("127.0.0.1:0").expect("cannot bind the fake memcached to 127.0.0.1");
        listener
            .set_nonblocking(true)
            .expect("cannot make the fake memcached's listener non-blocking");
        let addr: SocketAddr = listener
            .local_addr()
            .expect("the fake memcached's listener has no address");
        let shared = Arc::new(Shared {
            addr,
            max_value_len: MAX_VALUE_LEN,
            store: Mutex::new(Store::new(MAX_VALUE_LEN, MAX_BYTES)),
            script: Mutex::new(Script::default()),
            log: Mutex::default(),
            port: Mutex::new(Port::Open(listener)),
            handlers: Mutex::default(),
            stop: false.into(),
            ends_at: Instant::now() + LIFETIME,
        });
        let acceptor = {
            let shared = Arc::clone(&shared);
            thread::Builder::new()
                .name("fake-memcached-accept".into())
                .spawn(move || accept_loop(&shared))
                .expect("cannot spawn the fake memcached's accept thread")
        };
        FakeServer {
            shared,
            acceptor: Some(acceptor),
        }
    }

    /// The address to connect to, `"127.0.0.1:PORT"`. It stays the same while the server
    /// lives, through [`Fault::Refuse`] too.
    ///
    /// ```
    /// let server = memcache_sync::test_util::FakeServer::start();
    /// assert!(server.addr().starts_with("127.0.0.1:"));
    /// ```
    pub fn addr(&self) -> String {
        self.shared.addr.to_string()
    }

    /// Stores `value` under `key`, with flags 0 and no expiry, as a `set` would (a fresh CAS
    /// value included): test setup that does not depend on the client's storage methods. The
    /// key is not checked, so a test can plant one no client could send.
    ///
    /// ```
    /// let server = memcache_sync::test_util::FakeServer::start();
    /// server.insert(b"user:42", b"Ada");
    /// let mut client = memcache_sync::Client::connect(&server.addr())?;
    /// assert_eq!(client.get(b"user:42")?.map(|item| item.value), Some(b"Ada".to_vec()));
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn insert(&self, key: &[u8], value: &[u8]) {
        lock(&self.shared.store).insert(key, value);
    }

    /// The value stored under `key`, unless it is missing, expired or flushed: for asserting
    /// what the code under test stored.
    ///
    /// ```
    /// let server = memcache_sync::test_util::FakeServer::start();
    /// server.insert(b"visits", b"41");
    /// let mut client = memcache_sync::Client::connect(&server.addr())?;
    /// client.incr(b"visits", 1)?;
    /// assert_eq!(server.get(b"visits"), Some(b"42".to_vec()));
    /// assert_eq!(server.get(b"nobody"), None);
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        lock(&self.shared.store).get(key)
    }

    /// The command line of every request received, on every connection, in the order they
    /// arrived, without `\r\n` and without data blocks; bytes that are not UTF-8 are replaced.
    /// The latest 10 000 are kept.
    ///
    /// ```
    /// let server = memcache_sync::test_util::FakeServer::start();
    /// let mut client = memcache_sync::Client::connect(&server.addr())?;
    /// client.delete(b"session:1")?;
    /// assert_eq!(server.requests(), ["delete session:1"]);
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn requests(&self) -> Vec<String> {
        lock(&self.shared.log).iter().cloned().collect()
    }

    /// Makes the next `n` requests meet `fault`, after any faults already queued by earlier
    /// calls; then the server is healthy again. Requests are counted across all connections,
    /// in the order they arrive; a request counts once it has been read whole.
    ///
    /// ```
    /// use memcache_sync::test_util::{FakeServer, Fault};
    /// let server = FakeServer::start();
    /// let mut client = memcache_sync::Client::connect(&server.addr())?;
    /// server.fail_next(1, Fault::Close);
    /// assert!(client.get(b"k").unwrap_err().is_connection_error());
    /// assert_eq!(client.get(b"k")?, None); // reconnected, and the server is healthy again
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn fail_next(&self, n: usize, fault: Fault) {
        let mut script = lock(&self.shared.script);
        script.push(n, fault);
        self.sync_listener(&script);
    }

    /// Makes every request from now on meet `fault`, until the next call; `None` makes the
    /// server healthy again. Either way, faults queued by [`fail_next`](Self::fail_next) are
    /// dropped.
    ///
    /// ```
    /// use memcache_sync::test_util::{FakeServer, Fault};
    /// use memcache_sync::{Client, Error};
    /// let server = FakeServer::start();
    /// server.set_fault(Some(Fault::Refuse));
    /// assert!(matches!(Client::connect(&server.addr()), Err(Error::Connect { .. })));
    /// server.set_fault(None);
    /// assert!(Client::connect(&server.addr()).is_ok());
    /// ```
    ///
    /// # Panics
    /// If ending [`Fault::Refuse`] cannot listen on the server's port again (the port is held
    /// meanwhile, so only a socket bound to that very port can take it).
    pub fn set_fault(&self, fault: Option<Fault>) {
        let mut script = lock(&self.shared.script);
        script.set(fault);
        self.sync_listener(&script);
    }

    fn sync_listener(&self, script: &Script) {
        if let Err(e) = self.shared.sync_listener(script) {
            panic!(
                "the fake memcached cannot listen on {} again: {e}",
                self.shared.addr
            );
        }
    }
}

impl fmt::Debug for FakeServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeServer")
            .field("addr", &self.shared.addr)
            .finish_non_exhaustive()
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        // Closed now, not when the last connection thread lets go: the port is free at once.
        *lock(&self.shared.port) = Port::Held(None);
        let handlers = std::mem::take(&mut *lock(&self.shared.handlers));
        for handler in handlers {
            let _ = handler.join();
        }
    }
}
