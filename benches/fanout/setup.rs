//! The configurations the fan-out bench runs, and the keys each reads.

use std::time::Duration;

use memcache_sync::{Client, Cluster, PoolConfig};

use crate::common::floor::Floor;
use crate::common::keys::VALUE_LEN;
use crate::common::placement::Placement;
use crate::fanfloor::FanFloor;

pub enum FanSetup {
    /// One connection to the first server; keys all on it.
    Floor(Floor),
    /// `Client::get_many` on the first server; keys all on it.
    Client(Box<Client>),
    /// `Cluster::get_many`; keys spread over the four servers, or (`spread: false`) all on the
    /// first one.
    Cluster { cluster: Cluster, spread: bool },
    /// One raw connection per server, keys spread over the four servers as the cluster
    /// spreads them: the floor `Cluster::get_many` over four servers is held to.
    FanFloor(Box<FanFloor>),
}

/// The default ketama cluster, pools of max 4 per server.
pub fn cluster(addrs: &[String]) -> Cluster {
    Cluster::builder(addrs)
        .pool(
            PoolConfig::default()
                .with_max_size(4)
                .with_checkout_timeout(Duration::from_secs(30)),
        )
        .build()
        .expect("cluster builds")
}

/// The floor and the `Client` on the first server, two clusters, and the fan-out floor over
/// every server: the index of the cluster that reads keys spread over every server is
/// [`SPREAD`], the fan-out floor's [`FAN_FLOOR`].
pub fn lineup(addrs: &[String]) -> Vec<FanSetup> {
    vec![
        FanSetup::Floor(Floor::connect(&addrs[0])),
        FanSetup::Client(Box::new(
            Client::connect(&addrs[0]).expect("Client connects"),
        )),
        FanSetup::Cluster {
            cluster: cluster(addrs),
            spread: true,
        },
        FanSetup::Cluster {
            cluster: cluster(addrs),
            spread: false,
        },
        FanSetup::FanFloor(Box::new(FanFloor::connect(addrs))),
    ]
}

pub const SPREAD: usize = 2;
pub const FAN_FLOOR: usize = 4;

impl FanSetup {
    pub fn name(&self, placement: Placement) -> String {
        let pinned = if self.pinned(placement) {
            ", pinned"
        } else {
            ""
        };
        match self {
            FanSetup::Floor(_) => format!("floor: 1 get line, 1 connection, 1 server{pinned}"),
            FanSetup::Client(_) => format!("Client::get_many, 1 server{pinned}"),
            FanSetup::Cluster { spread: true, .. } => {
                "Cluster::get_many, keys over 4 servers".into()
            }
            FanSetup::Cluster { spread: false, .. } => {
                "Cluster::get_many, keys all on 1 server".into()
            }
            FanSetup::FanFloor(_) => "floor: fan-out, 4 get lines, 4 connections, 4 servers".into(),
        }
    }

    /// Whether this run is pinned to one CPU with its server under `placement`.
    pub fn pinned(&self, placement: Placement) -> bool {
        placement.single().is_some() && matches!(self, FanSetup::Floor(_) | FanSetup::Client(_))
    }

    /// Reads `one` (keys all on the first server), or for the spread cluster `spread`; checks
    /// every key was found.
    pub fn get_many(&mut self, one: &[&str], spread: &[&'static str]) {
        let n = one.len();
        match self {
            FanSetup::Floor(floor) => floor.get(one, VALUE_LEN),
            FanSetup::Client(client) => {
                assert_eq!(client.get_many(one).expect("get_many").len(), n);
            }
            FanSetup::Cluster { cluster, spread: s } => {
                let keys = if *s { spread } else { one };
                let report = cluster.get_many(keys).expect("get_many");
                assert!(report.failed.is_empty(), "{:?}", report.failed.first());
                assert_eq!(report.found.len(), n);
            }
            FanSetup::FanFloor(floor) => floor.get(spread, VALUE_LEN),
        }
    }
}

/// `size` consecutive keys starting at the `call`-th window of `keys`.
pub fn window<'a>(keys: &'a [&'static str], size: usize, call: usize) -> &'a [&'static str] {
    let windows = keys.len() / size;
    let first = (call % windows) * size;
    &keys[first..first + size]
}
