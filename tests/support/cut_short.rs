//! A batch cut short by its server: frozen or killed while the batch runs.

use std::thread;
use std::time::Instant;

use crate::{wait_for_sets, Memcached};

/// What [`cut_short`] gives back.
pub struct CutShort<R> {
    /// What the batch returned.
    pub result: R,
    /// The server, back from the thread that interrupted it (to thaw or restart).
    pub server: Memcached,
    /// When the server was interrupted, and when the batch returned.
    pub interrupted_at: Instant,
    pub returned_at: Instant,
}

/// Runs `batch` (a big `set_many` to `server`) while another thread waits until the server
/// has applied 1000 sets, then does `interrupt` to it (`Memcached::freeze`, `Memcached::kill`).
///
/// The batch and quiet-batch tests of a server that stops mid-batch differ in what stops it
/// and in what they then expect of the report, not in how the batch is cut short. Waiting for
/// the sets, not a fixed time, is what makes sure the batch was under way, with replies
/// confirmed, on a loaded machine.
pub fn cut_short<R>(
    server: Memcached,
    interrupt: fn(&mut Memcached),
    batch: impl FnOnce() -> R,
) -> CutShort<R> {
    cut_short_once(server, |addr| wait_for_sets(addr, 1000), interrupt, batch)
}

/// [`cut_short`] for a batch whose progress shows otherwise (a batch of reads): `under_way`
/// returns, given the server's address, once the batch is far enough along.
pub fn cut_short_once<R>(
    server: Memcached,
    under_way: impl FnOnce(&str) + Send + 'static,
    interrupt: fn(&mut Memcached),
    batch: impl FnOnce() -> R,
) -> CutShort<R> {
    let interrupter = thread::spawn(move || {
        let mut server = server;
        under_way(&server.addr());
        let interrupted_at = Instant::now();
        interrupt(&mut server);
        (server, interrupted_at)
    });
    let result = batch();
    let returned_at = Instant::now();
    let (server, interrupted_at) = interrupter.join().unwrap();
    CutShort {
        result,
        server,
        interrupted_at,
        returned_at,
    }
}
