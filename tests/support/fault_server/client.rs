//! A client on a fault server's first connection, the setup of every fault test.

use memcache_sync::{Client, Config};

use super::{Fault, FaultServer};

/// A server whose connection 0 follows `fault` and every later one is healthy, holding
/// `items`, and a client with `config` connected to it (connection 0).
///
/// The fault test files (text, meta, batches, allocations) each built this pair the same way;
/// they differ only in the items and the timeouts. The later connections are healthy so that
/// a test can tell a client that recovered on a new connection from one that did not.
pub fn faulty_client(
    fault: Fault,
    items: &[(&[u8], &[u8])],
    config: Config,
) -> (FaultServer, Client) {
    let server = FaultServer::start(vec![fault, Fault::Healthy]);
    for (key, value) in items {
        server.insert(key, value);
    }
    let client = Client::builder(&server.addr())
        .config(config)
        .connect()
        .expect("connect to fault server");
    (server, client)
}
