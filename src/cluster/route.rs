//! One call's groups routed to servers, and every server's connection taken before anything
//! is sent.
//!
//! A call across servers waits for its servers together, connects included: idle pooled
//! connections are taken on the calling thread (the common case starts no thread), and only
//! the servers that need a new connection, or must wait for a pooled one, are opened at the
//! same time, so however many of them stall the call waits one connect timeout.
//!
//! Groups that meet on one server share the connection the call holds there: under
//! [`Failover::NextServer`](super::Failover::NextServer) a down server's keys go to their next
//! owners, which may own keys of their own in the same call. A call that asked the pool for a
//! second connection would wait on the one it holds itself (with a pool of one, until its
//! checkout timeout).

use super::health::{Admission, Health};
use super::{passes_on, Cluster, Failover, Lease, Ring};
use crate::deadline::Deadline;
use crate::error::Error;
use crate::pool::PooledClient;

/// A server's connection for one call, with every item routed to it.
pub(super) struct Share<'c, I> {
    pub(super) lease: Lease<'c>,
    pub(super) group: Vec<I>,
}

/// An owner's group that no server took, with the first refusal or failure on its way: the
/// owner's own, as a single key's call reports.
pub(super) struct Refused<I> {
    pub(super) owner: usize,
    pub(super) group: Vec<I>,
    pub(super) error: Error,
}

/// One owner's group, or the part of it bound for one server, on its way to a server.
struct Part<I> {
    owner: usize,
    /// The server the group goes to next: the owner, or after failover the next owner of
    /// every key in the group.
    target: usize,
    /// The servers that passed the group on, in order: excluded when its keys' next owners
    /// are asked for.
    passed: Vec<usize>,
    place: Place,
    group: Vec<I>,
    /// The first refusal or failure on the way: the group's error if no server takes it.
    error: Option<Error>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    Unrouted,
    On(usize),
    /// Its target passed it on: its keys go to their next owners, each its own.
    PassedOn,
    Refused,
}

impl<I> Part<I> {
    /// The server the group was on failed to connect: the group fails too, or goes on to its
    /// keys' next owners.
    fn failed(&mut self, error: &Error, passes_on: bool) {
        self.error.get_or_insert_with(|| error.clone());
        self.pass_on_if(passes_on);
    }

    fn pass_on_if(&mut self, passes_on: bool) {
        self.place = if passes_on {
            self.passed.push(self.target);
            Place::PassedOn
        } else {
            Place::Refused
        };
    }
}

/// What one call holds of one server.
#[allow(clippy::large_enum_variant)] // most slots are leased: a box would cost an allocation each
enum Slot<'c> {
    Free,
    Leased(Lease<'c>),
    /// Admitted by the server's health; its connection is still to be taken.
    Opening(Admitted<'c>),
    /// Its connection failed in this call, which does not try it again (that would cost
    /// another connect timeout).
    Failed {
        error: Error,
        passes_on: bool,
    },
}

impl<'c> Slot<'c> {
    /// The admission of a server still to be opened; the slot is free until the outcome is
    /// known.
    fn take_opening(&mut self) -> Option<Admitted<'c>> {
        match std::mem::replace(self, Slot::Free) {
            Slot::Opening(admitted) => Some(admitted),
            other => {
                *self = other;
                None
            }
        }
    }
}

/// A server's health admitted the call, which has no connection yet. Dropped without an
/// outcome recorded (a panic on the way), it gives up its probe, as a [`Lease`] does.
struct Admitted<'c> {
    index: usize,
    admission: Admission,
    health: Option<&'c Health>,
}

impl<'c> Admitted<'c> {
    fn lease(mut self, client: PooledClient) -> Lease<'c> {
        Lease {
            index: self.index,
            admission: self.admission,
            client,
            health: self.health.take(),
        }
    }

    fn recorded(mut self) {
        self.health = None;
    }
}

impl Drop for Admitted<'_> {
    fn drop(&mut self) {
        if let (Some(health), Admission::Probe(probe)) = (self.health, self.admission) {
            health.abandon_probe(probe);
        }
    }
}

impl Cluster {
    /// Takes a connection to the server of each non-empty group (`groups[owner]`), under the
    /// servers' health and the failover policy, as [`Cluster::lease`] does for one key, and
    /// merges the groups that end up on one server. Returns the shares in server order, and
    /// the groups no server took.
    ///
    /// Nothing waits here for one server after another: the idle connections are taken at
    /// once, then the servers still without one are opened together. Only a failed probe,
    /// which passes its groups on, starts another such round.
    ///
    /// A group whose owner passes it on (under [`Failover::NextServer`](super::Failover))
    /// is split by `key`: each item goes to its own key's next owner, as a single key's call
    /// would, so a dead server's share spreads over the servers its distribution names.
    pub(super) fn lease_all<'c, I: Send>(
        &self,
        ring: &'c Ring,
        groups: Vec<Vec<I>>,
        key: impl Fn(&I) -> &[u8],
    ) -> (Vec<Share<'c, I>>, Vec<Refused<I>>) {
        let mut slots: Vec<Slot<'c>> = ring.nodes.iter().map(|_| Slot::Free).collect();
        let mut parts: Vec<Part<I>> = groups
            .into_iter()
            .enumerate()
            .filter(|(_, group)| !group.is_empty())
            .map(|(owner, group)| Part {
                owner,
                target: owner,
                passed: Vec::new(),
                place: Place::Unrouted,
                group,
                error: None,
            })
            .collect();
        loop {
            while parts
                .iter()
                .any(|p| matches!(p.place, Place::Unrouted | Place::PassedOn))
            {
                let mut next = Vec::with_capacity(parts.len());
                for part in parts {
                    if part.place == Place::PassedOn {
                        self.split(ring, part, &key, &mut next);
                    } else {
                        next.push(part);
                    }
                }
                parts = next;
                for part in parts.iter_mut().filter(|p| p.place == Place::Unrouted) {
                    self.route(ring, part, &mut slots);
                }
            }
            let opening: Vec<Admitted<'c>> =
                slots.iter_mut().filter_map(Slot::take_opening).collect();
            if opening.is_empty() {
                break;
            }
            let opened = all_at_once(opening, |admitted| {
                let result = ring.nodes[admitted.index].pool.get();
                (admitted, result)
            });
            for (admitted, result) in opened {
                let index = admitted.index;
                slots[index] = match result {
                    Ok(client) => Slot::Leased(admitted.lease(client)),
                    Err(error) => {
                        self.record(ring, index, admitted.admission, Some(&error));
                        let passes_on = passes_on(admitted.admission, &error);
                        admitted.recorded();
                        for part in parts.iter_mut().filter(|p| p.place == Place::On(index)) {
                            part.failed(&error, passes_on);
                        }
                        Slot::Failed { error, passes_on }
                    }
                };
            }
        }

        let mut merged: Vec<Vec<I>> = slots.iter().map(|_| Vec::new()).collect();
        // One refusal per owner, however its group was split on the way: a caller reports
        // one failure per server.
        let mut refused: Vec<Refused<I>> = Vec::new();
        for part in parts {
            match part.place {
                Place::On(index) if merged[index].is_empty() => merged[index] = part.group,
                Place::On(index) => merged[index].extend(part.group),
                Place::Unrouted | Place::PassedOn | Place::Refused => {
                    match refused.iter_mut().find(|r| r.owner == part.owner) {
                        Some(earlier) => earlier.group.extend(part.group),
                        None => refused.push(Refused {
                            owner: part.owner,
                            group: part.group,
                            error: part.error.expect("a group is refused only with an error"),
                        }),
                    }
                }
            }
        }
        let shares = slots
            .into_iter()
            .zip(merged)
            .filter_map(|(slot, group)| match slot {
                Slot::Leased(lease) => Some(Share { lease, group }),
                _ => None,
            })
            .collect();
        (shares, refused)
    }

    /// Sends the items of a group its target passed on to their keys' next owners, one part
    /// per server, into `parts`; refuses it whole if the failover policy moves no key, or
    /// no server is left.
    fn split<I>(
        &self,
        ring: &Ring,
        mut part: Part<I>,
        key: &impl Fn(&I) -> &[u8],
        parts: &mut Vec<Part<I>>,
    ) {
        if self.shared.failover != Failover::NextServer || part.passed.len() >= ring.nodes.len() {
            part.place = Place::Refused;
            parts.push(part);
            return;
        }
        let first = parts.len();
        let mut stranded = Vec::new();
        for item in part.group {
            let Some(next) = self.next_owner(ring, key(&item), &part.passed) else {
                stranded.push(item);
                continue;
            };
            match parts[first..].iter_mut().find(|p| p.target == next) {
                Some(bound) => bound.group.push(item),
                None => parts.push(Part {
                    owner: part.owner,
                    target: next,
                    passed: part.passed.clone(),
                    place: Place::Unrouted,
                    group: vec![item],
                    error: part.error.clone(),
                }),
            }
        }
        if !stranded.is_empty() {
            parts.push(Part {
                place: Place::Refused,
                group: stranded,
                ..part
            });
        }
    }

    /// Places `part` on its target if this call holds it or its health admits the call,
    /// taking the server's idle connection if it has one; or passes it on, or refuses it.
    fn route<'c, I>(&self, ring: &'c Ring, part: &mut Part<I>, slots: &mut [Slot<'c>]) {
        let index = part.target;
        match &slots[index] {
            Slot::Leased(_) | Slot::Opening(_) => {
                part.place = if self.may_fail_over(ring, part.owner, index, Admission::Go) {
                    Place::On(index)
                } else {
                    Place::Refused
                };
                return;
            }
            Slot::Failed { error, passes_on } => {
                part.error.get_or_insert_with(|| error.clone());
                part.pass_on_if(*passes_on);
                return;
            }
            Slot::Free => {}
        }
        let node = &ring.nodes[index];
        match node.health.admit(node.pool.addr()) {
            Ok(admission) => {
                if !self.may_fail_over(ring, part.owner, index, admission) {
                    part.place = Place::Refused;
                    return;
                }
                let health = Some(&node.health);
                slots[index] = match node.pool.try_idle() {
                    Some(client) => Slot::Leased(Lease {
                        index,
                        admission,
                        client,
                        health,
                    }),
                    None => Slot::Opening(Admitted {
                        index,
                        admission,
                        health,
                    }),
                };
                part.place = Place::On(index);
            }
            Err(refusal) => {
                part.error.get_or_insert(refusal);
                part.pass_on_if(true);
            }
        }
    }
}

/// Runs `run` on every one of `items` at the same time: the first on the calling thread (so
/// one item starts no thread), each other on a scoped thread under the caller's
/// [`Deadline`]. Returns the results in the items' order; a panic in any is resumed here.
pub(super) fn all_at_once<T: Send, R: Send>(items: Vec<T>, run: impl Fn(T) -> R + Sync) -> Vec<R> {
    let mut items = items.into_iter();
    let Some(first) = items.next() else {
        return Vec::new();
    };
    let run = &run;
    let deadline = Deadline::current();
    std::thread::scope(|scope| {
        let others: Vec<_> = items
            .map(|item| scope.spawn(move || Deadline::run_under(deadline, || run(item))))
            .collect();
        let mut results = Vec::with_capacity(others.len() + 1);
        results.push(run(first));
        results.extend(others.into_iter().map(|thread| {
            thread
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        }));
        results
    })
}
