//! Where a cluster's calls meet the health rules: announcing what changed, and asking the
//! failover budget before a call leaves its owner.

use super::fleet::Spend;
use super::{Admission, Change, FailOpen, Transition};
use crate::cluster::{Cluster, Event, Ring};

impl Cluster {
    /// Whether fail-open is keeping a server up now: more servers reached their failure
    /// threshold than [`HealthConfig::with_max_down_share`](crate::HealthConfig::with_max_down_share)
    /// lets be down, and some of them go on being tried. Always false with fail-open off.
    ///
    /// ```
    /// # use memcache_sync::{Cluster, HealthConfig};
    /// # let addr = std::env::var("MEMCACHED_ADDR").unwrap_or_else(|_| "127.0.0.1:11211".into());
    /// let cluster = Cluster::builder([addr.as_str()])
    ///     .health(HealthConfig::default().with_max_down_share(0.5))
    ///     .build()?;
    /// assert!(!cluster.is_failing_open());
    /// # Ok::<(), memcache_sync::Error>(())
    /// ```
    pub fn is_failing_open(&self) -> bool {
        self.shared.fleet.is_failing_open()
    }

    /// Logs and emits what one recorded outcome changed on the server at `index`.
    pub(in crate::cluster) fn announce(&self, ring: &Ring, index: usize, change: Change) {
        let server = ring.addr(index);
        let servers = self.shared.fleet.servers();
        // Fail-open's start names the server it kept up, so it goes first.
        if let Some(FailOpen::Entered { down }) = change.fail_open {
            log::warn!(
                "{down} of {servers} memcached servers are marked down, as many as allowed: \
                 {server} and any other that fails now are kept up and tried (fail-open)"
            );
            self.emit(&Event::FailOpen {
                server,
                down: down as usize,
                servers,
            });
        }
        match change.server {
            Some(Transition::Down {
                retry_in,
                hard,
                soft,
                recent_outages,
            }) => {
                log::warn!(
                    "memcached at {server} marked down after {hard} refused or broken \
                     connections and {soft} timeouts; next probe in {retry_in:?}"
                );
                self.emit(&Event::ServerDown { server, retry_in });
                if recent_outages > 0 {
                    log::warn!(
                        "memcached at {server} is flapping: {recent_outages} recent outages \
                         lengthen its backoff"
                    );
                    self.emit(&Event::Flapping {
                        server,
                        recent_outages,
                        retry_in,
                    });
                }
            }
            Some(Transition::StillDown { retry_in }) => {
                log::warn!("memcached at {server} is still down; next probe in {retry_in:?}");
                self.emit(&Event::ServerDown { server, retry_in });
            }
            Some(Transition::Up) => {
                log::info!("memcached at {server} is up again");
                self.emit(&Event::ServerUp { server });
            }
            Some(Transition::KeptUp { hard, soft }) => {
                log::warn!(
                    "memcached at {server} kept up after {hard} refused or broken connections \
                     and {soft} timeouts: as many servers as allowed are down (fail-open)"
                );
            }
            None => {}
        }
        if let Some(FailOpen::Ended { down }) = change.fail_open {
            log::info!(
                "fail-open ended: every memcached server it kept up has answered or been \
                 marked down; {down} of {servers} are down"
            );
            self.emit(&Event::FailOpenEnded {
                down: down as usize,
                servers,
            });
        }
    }

    /// Whether a call (or a batch's group) for a key owned by `owner` may go to `to`, which
    /// has `admission` for it: always for the owner itself, else if the failover budget has a
    /// token. A refused call gives back a probe it was admitted as, and fails with the
    /// owner's error.
    pub(in crate::cluster) fn may_fail_over(
        &self,
        ring: &Ring,
        owner: usize,
        to: usize,
        admission: Admission,
    ) -> bool {
        let Some(budget) = self.shared.fleet.failover().filter(|_| to != owner) else {
            return true;
        };
        let (nodes, server) = (&ring.nodes, ring.addr(owner));
        match budget.spend() {
            Spend::Granted { resumed } => {
                if resumed {
                    log::info!("failovers resumed: the failover budget has tokens again");
                }
                true
            }
            Spend::Refused { first } => {
                if let Admission::Probe(probe) = admission {
                    nodes[to].health.abandon_probe(probe);
                }
                if first {
                    log::warn!(
                        "failover budget spent: keys of memcached servers marked down, such as \
                         {server}, fail instead of moving until it refills"
                    );
                }
                self.emit(&Event::FailoverRefused {
                    server,
                    to: nodes[to].pool.addr(),
                });
                false
            }
        }
    }
}
