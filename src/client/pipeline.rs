//! Pipelining: many commands on one connection, written in windows and read in order.
//!
//! A client that writes a whole batch before reading can block forever: once the server's
//! replies fill both socket buffers the server stops reading, and the client's write never
//! finishes. Here requests go out in windows, and at most [`WINDOWS_IN_FLIGHT`] windows are
//! unanswered at a time: the client writes the next window and then reads the replies to the
//! oldest, so the server always has the next window queued. Memory stays bounded by the
//! windows, whatever the batch size; only the per-item results grow with it.
//!
//! The window size depends on the replies. A store, delete or touch is answered by a short
//! line, so the server never waits to write and always keeps reading: [`STORE_WINDOW_BYTES`]
//! can be large, for fewer system calls. A retrieval can be answered by far more bytes than
//! it asked with; while the client writes its next window the server may be stalled on
//! replies the client is not yet reading, so everything in flight must fit in the kernel's
//! socket buffers: [`READ_WINDOW_BYTES`] keeps it to a small fraction of their default size.

use std::collections::VecDeque;
use std::time::Instant;

use super::Client;
use crate::batch::{BatchReport, ItemResult};
use crate::connection::Replies;
use crate::error::Error;

/// The request bytes encoded into one window of commands answered by short lines (a window
/// ends after the command that crosses this mark).
pub(crate) const STORE_WINDOW_BYTES: usize = 64 * 1024;

/// The request bytes encoded into one window of retrievals.
pub(crate) const READ_WINDOW_BYTES: usize = 16 * 1024;

/// How many windows may be written and not yet answered.
const WINDOWS_IN_FLIGHT: usize = 2;

/// The most results reserved up front. A source's size hint can be anything (`usize::MAX`
/// for an endless iterator, none at all for most adapters), and the results grow as needed
/// anyway; within this, a source that knows its length gets exactly its length.
const MAX_RESERVED_RESULTS: usize = 1 << 20;

/// A command that was written, with what its reader needs to know.
pub(super) struct Sent<X> {
    /// The item's position in the batch's input.
    pub(super) index: usize,
    /// Where the command ends in the window's request bytes.
    end: usize,
    pub(super) context: X,
}

/// A window of commands, and when its last byte was written: its replies must all arrive
/// within one read timeout of then.
struct Window<X> {
    commands: Vec<Sent<X>>,
    sent: Instant,
}

/// How the replies to a window are read: one engine, two protocols. The classic commands are
/// answered one reply each, in order ([`InOrder`]); quiet meta commands answer only what
/// failed and end the window with `MN` (see the quiet module).
pub(super) trait WindowReader<X, T> {
    /// Appends what must follow a window's last command (quiet: the `mn` barrier); returns
    /// whether it appended anything.
    fn close(&mut self, _request: &mut Vec<u8>) -> bool {
        false
    }

    /// Reads the replies to one window's `commands` (in the order written) into `results`,
    /// at each command's [`Sent::index`]. An item whose outcome is not known yet stays
    /// [`ItemResult::Unconfirmed`]. Returns the error that stops the batch, if one came.
    fn read(
        &mut self,
        replies: &mut Replies<'_>,
        commands: &[Sent<X>],
        results: &mut [ItemResult<T>],
    ) -> Result<(), Error>;
}

/// The classic reader: one reply per command, in order, each turned into its outcome by the
/// closure.
struct InOrder<F>(F);

impl<X, T, F> WindowReader<X, T> for InOrder<F>
where
    F: FnMut(&X, &mut Replies<'_>) -> Result<T, Error>,
{
    fn read(
        &mut self,
        replies: &mut Replies<'_>,
        commands: &[Sent<X>],
        results: &mut [ItemResult<T>],
    ) -> Result<(), Error> {
        for sent in commands {
            results[sent.index] = item_result((self.0)(&sent.context, replies))?;
        }
        Ok(())
    }
}

/// An item's outcome as a batch records it: `Done`, or `Failed` with an error that leaves the
/// connection in step; an error that breaks it stops the window instead (`Err`).
pub(super) fn item_result<T>(outcome: Result<T, Error>) -> Result<ItemResult<T>, Error> {
    match outcome {
        Ok(value) => Ok(ItemResult::Done(value)),
        Err(error) if !error.breaks_connection() => Ok(ItemResult::Failed(error)),
        Err(error) => Err(error),
    }
}

/// The input's length, if its size hint states it exactly (as a `Vec`'s or a range's does).
pub(super) fn exact_len((lower, upper): (usize, Option<usize>)) -> Option<usize> {
    (upper == Some(lower)).then_some(lower)
}

impl Client {
    /// Runs `commands` through the connection. `encode` appends one command's bytes, or
    /// refuses it (the item then fails alone and nothing of it is sent); what it returns is
    /// handed to `read` with the reply reader when that command's turn comes. Each window is
    /// written within the write timeout, and all of its replies must arrive within one read
    /// timeout of its send; the caller's [`Deadline`](crate::Deadline) bounds the whole batch.
    ///
    /// An error that leaves the stream in step (`SERVER_ERROR`) fails its item only; any
    /// other stops the batch: the items written and unanswered become
    /// [`ItemResult::Unconfirmed`], those encoded but not written [`ItemResult::NotSent`],
    /// and no further command is taken from `commands` (a slow or endless source cannot hold
    /// the caller past the failure). How many were left untaken is known when `commands`
    /// gave an exact size hint at the start, as a `Vec` or a range does.
    pub(crate) fn pipeline<C, X, T>(
        &mut self,
        window_bytes: usize,
        commands: impl IntoIterator<Item = C>,
        mut encode: impl FnMut(C, &mut Vec<u8>) -> Result<X, Error>,
        read: impl FnMut(&X, &mut Replies<'_>) -> Result<T, Error>,
    ) -> BatchReport<T> {
        self.run_pipeline(
            window_bytes,
            commands,
            |command, _, buf| encode(command, buf),
            &mut InOrder(read),
        )
    }

    /// The engine behind [`Client::pipeline`], with any [`WindowReader`]. `encode` is also
    /// given the command's position in its window (0 for the first command written in it),
    /// which a quiet reader matches replies by. Stops as [`Client::pipeline`] says, and also
    /// when `reader` returns an error that leaves the stream in step: the connection is then
    /// dropped if a window is still unanswered, since its replies would answer the next
    /// request.
    pub(super) fn run_pipeline<C, X, T>(
        &mut self,
        window_bytes: usize,
        commands: impl IntoIterator<Item = C>,
        mut encode: impl FnMut(C, usize, &mut Vec<u8>) -> Result<X, Error>,
        reader: &mut impl WindowReader<X, T>,
    ) -> BatchReport<T> {
        let mut commands = commands.into_iter();
        let hint = commands.size_hint();
        let reserved = match hint {
            // An endless source has no upper bound: reserve nothing rather than everything.
            (lower, Some(_)) => lower.min(MAX_RESERVED_RESULTS),
            (_, None) => 0,
        };
        // The input's length, if it knows it: less the items taken, what a stopped batch left.
        let length = exact_len(hint);
        let mut results = Vec::with_capacity(reserved);
        let mut windows: VecDeque<Window<X>> = VecDeque::with_capacity(WINDOWS_IN_FLIGHT);
        // Read windows are cleared and reused, so a long batch allocates no window after the
        // first two.
        let mut spare: Vec<Vec<Sent<X>>> = Vec::with_capacity(WINDOWS_IN_FLIGHT);
        let mut exhausted = false;
        let stop_error = loop {
            if !exhausted && windows.len() < WINDOWS_IN_FLIGHT {
                self.request.clear();
                let mut window = spare.pop().unwrap_or_default();
                while self.request.len() < window_bytes {
                    let Some(command) = commands.next() else {
                        exhausted = true;
                        break;
                    };
                    let index = results.len();
                    let mark = self.request.len();
                    match encode(command, window.len(), &mut self.request) {
                        Ok(context) => {
                            results.push(ItemResult::Unconfirmed);
                            window.push(Sent {
                                index,
                                end: self.request.len(),
                                context,
                            });
                        }
                        Err(error) => {
                            self.request.truncate(mark);
                            results.push(ItemResult::Failed(error));
                        }
                    }
                }
                if !window.is_empty() {
                    let closed = reader
                        .close(&mut self.request)
                        .then_some(self.request.len());
                    // Replies to windows in flight may already be buffered, so the check that a
                    // connection is fit for a new exchange applies only when none are.
                    let connection = match self.connection.as_mut() {
                        Some(connection) if !windows.is_empty() => Ok(connection),
                        _ => Self::connection(&mut self.connection, &self.addr, &self.config),
                    };
                    let connection = match connection {
                        Ok(connection) => connection,
                        Err(error) => {
                            for sent in &window {
                                results[sent.index] = ItemResult::NotSent;
                            }
                            break Some(error);
                        }
                    };
                    // A failed write may have sent part of the window: its items stay
                    // unconfirmed.
                    let ends = window.iter().map(|s| s.end).chain(closed);
                    match connection.write_commands(&self.request, ends) {
                        Ok(sent) => windows.push_back(Window {
                            commands: window,
                            sent,
                        }),
                        Err(error) => break Some(error),
                    }
                } else {
                    spare.push(window);
                }
            }
            let must_read =
                windows.len() == WINDOWS_IN_FLIGHT || (exhausted && !windows.is_empty());
            if must_read {
                let Some(mut window) = windows.pop_front() else {
                    unreachable!("a window was written")
                };
                let connection = self.connection.as_mut().expect("a window was written");
                let mut replies = connection.replies(window.sent);
                if let Err(error) = reader.read(&mut replies, &window.commands, &mut results) {
                    break Some(error);
                }
                window.commands.clear();
                spare.push(window.commands);
            } else if exhausted {
                break None;
            }
        };
        if stop_error.is_some() && !windows.is_empty() {
            self.connection = None;
        }
        self.settle(stop_error.as_ref());
        let not_taken = if exhausted {
            Some(0)
        } else {
            // A size hint is only a promise: one that undercounted leaves nothing, not less.
            length.map(|length| length.saturating_sub(results.len()))
        };
        BatchReport {
            results,
            stop_error,
            not_taken,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;
    use std::net::TcpListener;
    use std::panic::{catch_unwind, AssertUnwindSafe};

    use crate::{Client, Entry};

    #[test]
    fn a_batch_cut_short_by_a_panic_leaves_its_connection_unfit_for_another_request() {
        // A server that reads everything and answers nothing: the first window's replies are
        // still owed when the caller's iterator panics while the second is being encoded.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let server = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut sink = Vec::new();
            let _ = stream.read_to_end(&mut sink);
        });
        let mut client = Client::connect(&addr).unwrap();
        let entries = (0..10_000).map(|i| {
            assert!(i < 3_000, "the caller's iterator panics");
            Entry::new(format!("panic:{i:010}"), "v")
        });
        let panicked = catch_unwind(AssertUnwindSafe(|| client.set_many(entries)));
        assert!(panicked.is_err());
        let connection = client.connection.as_mut().expect("nothing dropped it");
        assert!(
            !connection.is_reusable(),
            "its owed replies would answer the next request"
        );
        drop(client);
        server.join().unwrap();
    }
}
