//! One connection, over any transport: its read buffer, and reads and writes held to a
//! deadline.

use std::io::{self, IoSlice};
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::deadline::Bound;
use crate::error::{Error, Phase};
use crate::protocol::meta::{parse_meta_reply, MetaReply};
use crate::protocol::{
    parse_reply, parse_value_header, ProtocolError, ProtocolErrorKind, Reply, Status, Value,
    ValueHeader,
};
use crate::transport::Stream;

/// The read buffer's first size; it grows only while a frame that the parser has accepted as
/// within bounds is still incomplete.
const INITIAL_BUFFER: usize = 16 * 1024;

/// A read buffer grown past this by one large reply is given back after the exchange, so an
/// idle pooled connection does not keep twice its largest reply for good.
pub(crate) const SHRINK_ABOVE: usize = 4 * INITIAL_BUFFER;

/// While each read fills all the room it was given (more of a long reply is waiting), the
/// read buffer doubles up to this, so that a multi-get of a megabyte is read in a few reads,
/// not a hundred of 16 KiB (a system call each).
const READ_AHEAD_MAX: usize = 256 * 1024;

/// The socket timeout is reset only when it differs from the time left by more than this, so
/// the common operation (one write, one read) costs no extra system call. The kernel measures
/// socket timeouts in scheduler ticks anyway.
const ARM_SLACK: Duration = Duration::from_millis(2);

/// A data block read straight into its destination is allocated at once at the length its
/// header claims when that is at most this: memcached's default item size limit (`-I 1m`),
/// and the client's default maximum value size.
pub(crate) const DIRECT_READ_EXACT_MAX: usize = 1024 * 1024;

/// A longer claim (possible only under a raised maximum value size) sizes nothing by itself:
/// the destination is given this much room at first, then room that doubles with the bytes
/// received, as the read buffer grows, so that a peer that claims 64 MiB and stalls costs
/// this much, not 64 MiB.
pub(crate) const DIRECT_READ_FIRST: usize = 256 * 1024;

/// How long a destination of `capacity`, whose first `filled` bytes hold data, may grow next
/// on its way to `data_len` bytes (see [`DIRECT_READ_EXACT_MAX`] and [`DIRECT_READ_FIRST`]): a
/// reused one is first given all of its capacity's worth.
fn room_target(capacity: usize, filled: usize, data_len: usize) -> usize {
    let wanted = if data_len <= DIRECT_READ_EXACT_MAX {
        data_len
    } else {
        filled.saturating_mul(2).max(DIRECT_READ_FIRST)
    };
    data_len.min(wanted.max(capacity))
}

/// Grows the data area of `sink`, which starts at `base`, to [`room_target`] bytes,
/// zero-filled: for a stream that cannot [`drain`](Stream::drains) into spare capacity.
fn make_room(sink: &mut Vec<u8>, base: usize, filled: usize, data_len: usize) {
    let target = room_target(sink.capacity() - base, filled, data_len);
    if sink.capacity() == 0 {
        // Allocated zeroed, which the allocator may do for free.
        *sink = vec![0; target];
    } else {
        sink.reserve_exact(base + target - sink.len());
        sink.resize(base + target, 0);
    }
}

/// A data block at least this long is drained into spare capacity (see
/// [`Stream::drain_into`]) rather than read into zero-filled room: below it, zeroing costs
/// less than the drain's extra system calls (two to switch the socket's blocking mode, and
/// std's reads that start at 8 KiB and double).
const DRAIN_MIN: usize = 128 * 1024;

/// The most parts one vectored write of [`Connection::send_parts`] takes.
const MAX_PARTS: usize = 4;

/// A `VALUE` whose data block is at least this long and not yet buffered is read straight
/// into its destination (see [`Replies::next_into`]), not through the read buffer.
pub(crate) const DIRECT_READ_MIN: usize = 8 * 1024;

#[derive(Debug)]
pub(crate) struct Connection {
    stream: Stream,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    read_timeout: Duration,
    write_timeout: Duration,
    armed_read: Duration,
    armed_write: Duration,
    max_value_len: usize,
    /// A request was written whose replies have not all been read.
    in_exchange: bool,
    /// The most buffered bytes this exchange needed at once.
    peak: usize,
    /// The last read filled all the room it was given.
    read_full: bool,
    /// Which connection this is, among every one this process opened, and how many requests
    /// it has begun to write: together, whether a caller's code used the server (see
    /// [`Connection::activity`]).
    serial: u64,
    requests: u64,
}

/// The serial of the last connection opened.
static LAST_SERIAL: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

impl Connection {
    pub(crate) fn open(addr: &str, config: &Config) -> Result<Self, Error> {
        let stream = crate::connect::open(addr, config)?;
        let mut connection = Self {
            stream,
            buf: Vec::new(),
            start: 0,
            end: 0,
            read_timeout: config.read_timeout(),
            write_timeout: config.write_timeout(),
            armed_read: Duration::ZERO,
            armed_write: Duration::ZERO,
            max_value_len: config.max_value_size(),
            peak: 0,
            read_full: false,
            in_exchange: false,
            serial: LAST_SERIAL.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1,
            requests: 0,
        };
        // Armed with the full timeouts, so that an operation's first read and write, which
        // start with almost all of their time left, need no further system call.
        let set =
            |phase, result: std::io::Result<()>| result.map_err(|source| Error::io(phase, source));
        set(
            Phase::Read,
            connection.stream.set_read_timeout(connection.read_timeout),
        )?;
        set(
            Phase::Write,
            connection
                .stream
                .set_write_timeout(connection.write_timeout),
        )?;
        connection.armed_read = connection.read_timeout;
        connection.armed_write = connection.write_timeout;
        // Here, so that every connection of a client, a pool and a cluster, reconnects
        // included, authenticates exactly once before it carries anything of a caller's.
        if let Some(credentials) = config.credentials() {
            crate::auth::authenticate(&mut connection, addr, credentials)?;
        }
        Ok(connection)
    }

    /// Whether the connection can carry a request: nothing unread is buffered, and the server
    /// has neither closed it nor sent anything unasked since the last reply. Checked before
    /// every request, however soon after the last: a text-protocol reply carries nothing that
    /// ties it to its request, so a stray `END` that arrives a moment after a reply would
    /// otherwise answer the next `get` as a false miss, and a close sent just after a reply
    /// (a proxy's, after `SERVER_ERROR`) would fail the next call.
    /// The stream answers for what lies beneath this buffer (see [`Stream::is_quiet`]).
    pub(crate) fn is_reusable(&mut self) -> bool {
        !self.in_exchange && self.start == self.end && self.stream.is_quiet()
    }

    /// Marks the exchange begun by the last write as complete: every reply it asked for was
    /// read (or the connection is about to be dropped). Until then the connection is not
    /// reusable, so an exchange cut short by a panic leaves no replies behind for the next
    /// request to take as its own. A read buffer that one large reply grew is given back.
    pub(crate) fn exchange_done(&mut self) {
        self.in_exchange = false;
        // Given back after the first exchange that did without it, not after the large one
        // itself: a run of large replies would otherwise grow (and zero) it afresh each time.
        if self.buf.len() > SHRINK_ABOVE && self.start == self.end && self.peak <= INITIAL_BUFFER {
            self.buf = Vec::new();
        }
        self.peak = 0;
        self.read_full = false;
    }

    /// This connection and how many requests it has begun to write: a value that changes
    /// whenever a request is written, on this connection or a new one.
    pub(crate) fn activity(&self) -> (u64, u64) {
        (self.serial, self.requests)
    }

    /// Whether bytes beyond the last reply are buffered: the server said more than it was
    /// asked, and the stream cannot be trusted.
    pub(crate) fn has_unread(&self) -> bool {
        self.start != self.end
    }

    /// Sends `request` within the write timeout, then hands back the reader of its reply,
    /// whose read timeout starts now.
    pub(crate) fn send(&mut self, request: &[u8]) -> Result<Replies<'_>, Error> {
        let sent = self.write_all(request)?;
        Ok(self.replies(sent))
    }

    /// Writes all of `request` within one write timeout (or the caller's deadline, if that
    /// comes first), and returns when the last byte left: the start of its replies' read
    /// timeout.
    pub(crate) fn write_all(&mut self, request: &[u8]) -> Result<Instant, Error> {
        self.write_parts(&[request])
    }

    /// Writes a request of several commands, the `i`-th of which ends at `ends[i]` (the last
    /// at `request.len()`), within one write timeout, as [`Connection::write_all`].
    ///
    /// Over TLS the commands go out in records that each end where a command ends: runs of
    /// whole commands up to a record's worth, and a command longer than that in records of
    /// its own. memcached before 1.6.39 reads a stored value's data straight from its TLS
    /// session, and when the record that carries the end of the data holds the next command
    /// too, the server keeps that command in the session's buffer, waits for the socket
    /// instead, and answers nothing more until the client writes again (fixed upstream in
    /// memcached commit 96e05b75, "tls: fix potential hang when pipelining sets"). A
    /// pipelined batch, which waits for those answers, would time out.
    pub(crate) fn write_commands(
        &mut self,
        request: &[u8],
        ends: impl IntoIterator<Item = usize>,
    ) -> Result<Instant, Error> {
        let Some(limit) = self.stream.record_limit() else {
            return self.write_all(request);
        };
        self.in_exchange = true;
        self.requests += 1;
        let bound = Bound::from_now(self.write_timeout);
        for chunk in record_chunks(ends, limit) {
            self.write_within(&[&request[chunk]], &bound)?;
        }
        Ok(Instant::now())
    }

    /// Sends `parts` one after another, as one request (so a large value goes out from where
    /// it lies, not copied after its command line), within the write timeout as
    /// [`Connection::write_all`]; then hands back the reader of its reply.
    pub(crate) fn send_parts(&mut self, parts: &[&[u8]]) -> Result<Replies<'_>, Error> {
        let sent = self.write_parts(parts)?;
        Ok(self.replies(sent))
    }

    /// The one write loop: every byte of `parts`, in order, within one write bound. The last
    /// part left goes out with a plain write, so a one-part request costs one `write` as ever;
    /// several go out with vectored writes.
    fn write_parts(&mut self, parts: &[&[u8]]) -> Result<Instant, Error> {
        self.in_exchange = true;
        self.requests += 1;
        self.write_within(parts, &Bound::from_now(self.write_timeout))?;
        Ok(Instant::now())
    }

    /// Every byte of `parts`, in order, before `bound`.
    fn write_within(&mut self, parts: &[&[u8]], bound: &Bound) -> Result<(), Error> {
        let (mut part, mut offset) = (0, 0);
        // Empty parts write nothing; skipping them keeps `Ok(0)` meaning a closed peer.
        while part < parts.len() && parts[part].is_empty() {
            part += 1;
        }
        while part < parts.len() {
            let pending = &parts[part..];
            self.arm(Phase::Write, bound)?;
            let written = if pending.len() == 1 {
                self.stream.write(&pending[0][offset..])
            } else {
                let mut slices = [IoSlice::new(&[]); MAX_PARTS];
                slices[0] = IoSlice::new(&pending[0][offset..]);
                for (slice, rest) in slices[1..].iter_mut().zip(&pending[1..]) {
                    *slice = IoSlice::new(rest);
                }
                self.stream
                    .write_vectored(&slices[..pending.len().min(MAX_PARTS)])
            };
            match written {
                Ok(0) => {
                    return Err(Error::ConnectionClosed {
                        phase: Phase::Write,
                    })
                }
                Ok(mut n) => {
                    // Past the parts written whole, and into the one written in part.
                    while part < parts.len() && n >= parts[part].len() - offset {
                        n -= parts[part].len() - offset;
                        (part, offset) = (part + 1, 0);
                    }
                    offset += n;
                }
                Err(error) => {
                    if let Some(error) = classify(error, Phase::Write, bound) {
                        return Err(error);
                    }
                }
            }
        }
        Ok(())
    }

    /// The reader of the replies to what was written at `sent` (as [`Connection::write_all`]
    /// returned it): all of them must arrive within one read timeout of then, or the
    /// caller's deadline if that comes first. One rule for a single command and for a
    /// pipeline's window alike.
    pub(crate) fn replies(&mut self, sent: Instant) -> Replies<'_> {
        let bound = Bound::new(sent, self.read_timeout);
        Replies {
            connection: self,
            bound,
        }
    }

    /// Sets the socket's timeout for `phase` to the time left before `bound`, or fails if none
    /// is left.
    fn arm(&mut self, phase: Phase, bound: &Bound) -> Result<(), Error> {
        let remaining = bound.remaining();
        if remaining.is_zero() {
            return Err(bound.expired(phase));
        }
        let armed = if phase == Phase::Read {
            &mut self.armed_read
        } else {
            &mut self.armed_write
        };
        if armed.abs_diff(remaining) > ARM_SLACK {
            let set = if phase == Phase::Read {
                self.stream.set_read_timeout(remaining)
            } else {
                self.stream.set_write_timeout(remaining)
            };
            set.map_err(|source| Error::io(phase, source))?;
            *armed = remaining;
        }
        Ok(())
    }

    /// Reads at least one more byte into the buffer, making room first: the bytes not yet
    /// consumed move to the front when less than a quarter of the buffer is left after them
    /// (a read into a sliver costs a system call for a few bytes), and the buffer doubles when
    /// they fill it (a frame longer than the buffer) or, up to [`READ_AHEAD_MAX`], when the
    /// last read filled all its room.
    fn fill(&mut self, bound: &Bound) -> Result<(), Error> {
        if self.start > 0 && self.buf.len() - self.end < self.buf.len() / 4 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() || (self.read_full && self.buf.len() < READ_AHEAD_MAX) {
            let len = (self.buf.len() * 2).max(INITIAL_BUFFER);
            self.buf.resize(len, 0);
        }
        // Lent out for the read, so the read can borrow the connection whole.
        let mut buf = std::mem::take(&mut self.buf);
        let room = buf.len() - self.end;
        let read = self.read_into(&mut buf[self.end..], bound);
        self.buf = buf;
        let read = read?;
        self.read_full = read == room;
        self.end += read;
        self.peak = self.peak.max(self.end - self.start);
        Ok(())
    }

    /// One successful read of at least one byte into `dest` (which is not empty), within
    /// `bound`: the one read loop, for the buffer and for data read straight to where it
    /// belongs.
    fn read_into(&mut self, dest: &mut [u8], bound: &Bound) -> Result<usize, Error> {
        loop {
            self.arm(Phase::Read, bound)?;
            match self.stream.read(dest) {
                Ok(0) => return Err(Error::ConnectionClosed { phase: Phase::Read }),
                Ok(n) => return Ok(n),
                Err(error) => {
                    if let Some(error) = classify(error, Phase::Read, bound) {
                        return Err(error);
                    }
                }
            }
        }
    }

    /// Appends between one and `limit` bytes to `sink` (see [`Stream::drain_into`]) within
    /// `bound`: what is waiting, else what arrives first. Each drain moves at most `limit`
    /// bytes without waiting, each wait is one blocking peek under the armed timeout, and the
    /// bound is checked before both, so a peer that trickles cannot stretch the read.
    fn drain_into(
        &mut self,
        sink: &mut Vec<u8>,
        limit: usize,
        bound: &Bound,
    ) -> Result<usize, Error> {
        loop {
            if bound.passed() {
                return Err(bound.expired(Phase::Read));
            }
            // Drained first: the header just read says the data is on its way, and most
            // often it is already here.
            match self.stream.drain_into(sink, limit) {
                Ok(0) => return Err(Error::ConnectionClosed { phase: Phase::Read }),
                Ok(n) => return Ok(n),
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
                Err(error) => {
                    if let Some(error) = classify(error, Phase::Read, bound) {
                        return Err(error);
                    }
                    continue;
                }
            }
            self.arm(Phase::Read, bound)?;
            if let Err(error) = self.stream.wait_readable() {
                if let Some(error) = classify(error, Phase::Read, bound) {
                    return Err(error);
                }
            }
        }
    }

    fn consume(&mut self, len: usize) {
        self.start += len;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }
}

/// The stretches of a request of commands ending at `ends` that are each written as one
/// record of at most `limit` bytes: as many whole commands as fit, or one command alone when
/// it does not fit by itself.
fn record_chunks(
    ends: impl IntoIterator<Item = usize>,
    limit: usize,
) -> impl Iterator<Item = std::ops::Range<usize>> {
    let mut ends = ends.into_iter().peekable();
    let mut start = 0;
    std::iter::from_fn(move || {
        let mut end = ends.next()?;
        while let Some(&next) = ends.peek() {
            if next - start > limit {
                break;
            }
            end = next;
            ends.next();
        }
        let chunk = start..end;
        start = end;
        Some(chunk)
    })
}

/// The one place an IO error becomes an [`Error`], for every transport. `None` means "try the
/// call again": it was interrupted (or a layer of the stream asked to be called again, see
/// [`crate::transport`]), or the socket timeout fired before the operation's bound.
fn classify(error: io::Error, phase: Phase, bound: &Bound) -> Option<Error> {
    let error = match crate::transport::tls_failure(error, phase) {
        Ok(tls) => return Some(tls),
        Err(error) => error,
    };
    match error.kind() {
        io::ErrorKind::Interrupted => None,
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
            bound.passed().then(|| bound.expired(phase))
        }
        io::ErrorKind::UnexpectedEof | io::ErrorKind::BrokenPipe => {
            Some(Error::ConnectionClosed { phase })
        }
        _ => Some(Error::io(phase, error)),
    }
}

/// The reader of one request's (or one window's) reply frames, all within one bound.
pub(crate) struct Replies<'c> {
    connection: &'c mut Connection,
    bound: Bound,
}

/// A reply codec the reader can decode frames with: the text protocol's or the meta
/// protocol's, one read loop for both.
trait Codec {
    type Frame<'a>;
    fn parse(buf: &[u8], max_value_len: usize) -> Result<Status<Self::Frame<'_>>, ProtocolError>;
}

struct Text;

impl Codec for Text {
    type Frame<'a> = Reply<'a>;
    fn parse(buf: &[u8], max_value_len: usize) -> Result<Status<Reply<'_>>, ProtocolError> {
        parse_reply(buf, max_value_len)
    }
}

struct Meta;

impl Codec for Meta {
    type Frame<'a> = MetaReply<'a>;
    fn parse(buf: &[u8], max_value_len: usize) -> Result<Status<MetaReply<'_>>, ProtocolError> {
        parse_meta_reply(buf, max_value_len)
    }
}

impl Replies<'_> {
    /// Decodes the next frame, reading as needed, and passes it to `f`. The frame is consumed
    /// whatever `f` returns, so the stream stays in step.
    pub(crate) fn next<R>(
        &mut self,
        f: impl FnOnce(Reply<'_>) -> Result<R, Error>,
    ) -> Result<R, Error> {
        self.next_frame::<Text, R>(f)
    }

    /// Decodes frames, reading as needed, and handles each until one is the last: for a reply
    /// of many frames (a multi-get's), decoded by the caller, which knows what frame comes
    /// next (see [`Frames`]). A frame is consumed whatever its handling returned, so the stream
    /// stays in step; an error decoding consumes nothing. A `VALUE` whose data is at least
    /// [`DRAIN_MIN`] bytes and not all buffered is read straight into the vector
    /// [`Frames::direct_sink`] gives, if it gives one, as [`Replies::next_into`] reads one.
    /// (Not from [`DIRECT_READ_MIN`] on, as a single value is: among many frames, a read of
    /// one value's data alone costs a system call more than buffering the value with the
    /// frames around it, which the read buffer, grown for a long reply, holds whole.)
    pub(crate) fn each(&mut self, frames: &mut impl Frames) -> Result<(), Error> {
        loop {
            let conn = &mut *self.connection;
            let buffered = &conn.buf[conn.start..conn.end];
            match frames.decode(buffered, conn.max_value_len)? {
                Some((len, more)) => {
                    conn.consume(len);
                    if !more? {
                        return Ok(());
                    }
                }
                None => {
                    let pending = large_value_pending(buffered, conn.max_value_len, DRAIN_MIN)?;
                    if let Some((header, header_len)) = pending {
                        let data_len = header.data_len;
                        if let Some(sink) = frames.direct_sink(&header) {
                            let base = sink.len();
                            self.read_direct_data(sink, base, header_len, data_len)?;
                            let more =
                                self.finish_direct(header_len, |header| frames.direct(header))?;
                            if !more? {
                                return Ok(());
                            }
                            continue;
                        }
                    }
                    self.connection.fill(&self.bound)?;
                }
            }
        }
    }

    /// [`Replies::next`] for a meta command's reply.
    pub(crate) fn next_meta<R>(
        &mut self,
        f: impl FnOnce(MetaReply<'_>) -> Result<R, Error>,
    ) -> Result<R, Error> {
        self.next_frame::<Meta, R>(f)
    }

    /// The read loop: try to decode what is buffered, else read more within the bound.
    fn next_frame<C: Codec, R>(
        &mut self,
        f: impl FnOnce(C::Frame<'_>) -> Result<R, Error>,
    ) -> Result<R, Error> {
        let conn = &mut *self.connection;
        let mut f = Some(f);
        loop {
            // The frame borrows the buffer: it is handed to `f` and gone before the buffer is
            // consumed or refilled.
            let decoded = match C::parse(&conn.buf[conn.start..conn.end], conn.max_value_len)? {
                Status::Complete { frame, len } => {
                    let f = f.take().expect("called once, at the one complete frame");
                    Some((f(frame), len))
                }
                Status::Incomplete => None,
            };
            match decoded {
                Some((result, len)) => {
                    conn.consume(len);
                    return result;
                }
                None => conn.fill(&self.bound)?,
            }
        }
    }
}

impl Replies<'_> {
    /// Like [`Replies::next`], for a reply whose `VALUE` data belongs in `sink`: a `VALUE`'s
    /// data is put in `sink` (replacing what it held, which ends exactly as long as the data),
    /// and `f` sees it there. A data block of at least [`DIRECT_READ_MIN`] bytes that has not
    /// all arrived is read straight into `sink`, sized once to the length its header claims
    /// (up to [`DIRECT_READ_EXACT_MAX`], see [`room_target`]) and not zero-filled first where
    /// the stream [drains](Stream::drains), instead of growing the read buffer and copying out
    /// of it; within the same bound, with the same errors as a buffered read.
    pub(crate) fn next_into<R>(
        &mut self,
        sink: &mut Vec<u8>,
        f: impl FnOnce(Reply<'_>) -> Result<R, Error>,
    ) -> Result<R, Error> {
        let conn = &mut *self.connection;
        loop {
            let buffered = &conn.buf[conn.start..conn.end];
            match parse_reply(buffered, conn.max_value_len)? {
                Status::Complete { frame, len } => {
                    let frame = match frame {
                        Reply::Value(value) => {
                            sink.clear();
                            sink.extend_from_slice(value.data);
                            Reply::Value(Value {
                                data: sink,
                                ..value
                            })
                        }
                        frame => frame,
                    };
                    let result = f(frame);
                    conn.consume(len);
                    return result;
                }
                Status::Incomplete => {
                    let pending =
                        large_value_pending(buffered, conn.max_value_len, DIRECT_READ_MIN)?;
                    if let Some((header, header_len)) = pending {
                        let data_len = header.data_len;
                        self.read_direct_data(sink, 0, header_len, data_len)?;
                        let result = self.finish_direct(header_len, |header| {
                            f(Reply::Value(Value {
                                key: header.key,
                                flags: header.flags,
                                cas: header.cas,
                                data: sink,
                            }))
                        })?;
                        return result;
                    }
                    conn.fill(&self.bound)?;
                }
            }
        }
    }

    /// Reads the data of a `VALUE` whose header, `header_len` bytes, is buffered with fewer
    /// than its `data_len` bytes of data after it, into `sink` from `base` on: what `sink`
    /// holds past `base` is room to read into (all of it is overwritten, and `sink` ends
    /// exactly `base + data_len` long); what it holds before `base` stays.
    fn read_direct_data(
        &mut self,
        sink: &mut Vec<u8>,
        base: usize,
        header_len: usize,
        data_len: usize,
    ) -> Result<(), Error> {
        let conn = &mut *self.connection;
        let data_start = conn.start + header_len;
        sink.truncate(base + data_len);
        // First the part of the data already buffered (less than all of it): over the old
        // contents, then after them...
        let buffered = &conn.buf[data_start..conn.end];
        let in_place = buffered.len().min(sink.len() - base);
        sink[base..base + in_place].copy_from_slice(&buffered[..in_place]);
        if in_place < buffered.len() {
            let target =
                room_target(sink.capacity() - base, in_place, data_len).max(buffered.len());
            sink.reserve_exact(base + target - sink.len());
            sink.extend_from_slice(&buffered[in_place..]);
        }
        let mut filled = buffered.len();
        // ...taken out of the buffer (the header stays until the frame is done), then the rest
        // straight from the stream: into the old contents while they last, then into spare
        // capacity as it is, not zero-filled first where the stream can (a fresh 500 KiB
        // vector costs as much to zero as to receive) and the block is long enough to repay
        // the drain.
        conn.end = data_start;
        // The read that filled the buffer was of this data, now read elsewhere: no sign that
        // the buffer needs to grow.
        conn.read_full = false;
        while filled < data_len {
            if base + filled < sink.len() {
                filled += conn.read_into(&mut sink[base + filled..], &self.bound)?;
            } else if data_len >= DRAIN_MIN && conn.stream.drains() {
                let target = room_target(sink.capacity() - base, filled, data_len);
                sink.reserve_exact(base + target - sink.len());
                filled += conn.drain_into(sink, target - filled, &self.bound)?;
            } else {
                make_room(sink, base, filled, data_len);
            }
        }
        Ok(())
    }

    /// The end of a `VALUE` read by [`Replies::read_direct_data`]: its `\r\n` after the data,
    /// then `f` sees the header, still buffered, and the frame is consumed.
    fn finish_direct<R>(
        &mut self,
        header_len: usize,
        f: impl FnOnce(&ValueHeader<'_>) -> R,
    ) -> Result<R, Error> {
        let conn = &mut *self.connection;
        while conn.end - conn.start < header_len + 2 {
            conn.fill(&self.bound)?;
        }
        let buffered = &conn.buf[conn.start..conn.end];
        let Status::Complete {
            frame: Some(header),
            ..
        } = parse_value_header(buffered, conn.max_value_len)?
        else {
            unreachable!("the header was parsed before");
        };
        if &buffered[header_len..header_len + 2] != b"\r\n" {
            return Err(ProtocolError::new(
                ProtocolErrorKind::UnterminatedData,
                &buffered[..header_len - 2],
            )
            .into());
        }
        let result = f(&header);
        conn.consume(header_len + 2);
        Ok(result)
    }
}

/// The header and its length, if `buffered` starts with a `VALUE` header whose data is at
/// least `min` bytes and not all buffered: a data block worth reading straight into its
/// destination.
fn large_value_pending(
    buffered: &[u8],
    max_value_len: usize,
    min: usize,
) -> Result<Option<(ValueHeader<'_>, usize)>, ProtocolError> {
    Ok(match parse_value_header(buffered, max_value_len)? {
        Status::Complete {
            frame: Some(header),
            len: header_len,
        } if header.data_len >= min && buffered.len() - header_len < header.data_len => {
            Some((header, header_len))
        }
        _ => None,
    })
}

/// What [`Replies::each`] reads a reply of many frames with.
pub(crate) trait Frames {
    /// Decodes what is buffered (`max_value_len` bounds a `VALUE`'s data): `None` while it
    /// holds no whole frame, else how many bytes of frames were handled and what the handling
    /// gave, `false` after the last frame.
    #[allow(clippy::type_complexity)]
    fn decode(
        &mut self,
        buffered: &[u8],
        max_value_len: usize,
    ) -> Result<Option<(usize, Result<bool, Error>)>, Error>;

    /// Where to read the data of a large `VALUE` of `header` straight to (see
    /// [`Replies::each`]): a vector that the data is appended to. `None`, the default, reads it
    /// through the read buffer.
    fn direct_sink(&mut self, _header: &ValueHeader<'_>) -> Option<&mut Vec<u8>> {
        None
    }

    /// Handles the `VALUE` of `header` whose data was appended to the
    /// [direct sink](Frames::direct_sink), as [`Frames::decode`] handles a frame.
    fn direct(&mut self, _header: &ValueHeader<'_>) -> Result<bool, Error> {
        unreachable!("no direct sink, so no direct reads")
    }
}

#[cfg(test)]
mod tests {
    use super::record_chunks;

    fn chunks(ends: &[usize], limit: usize) -> Vec<std::ops::Range<usize>> {
        record_chunks(ends.iter().copied(), limit).collect()
    }

    #[test]
    fn every_record_ends_where_a_command_ends_and_holds_at_most_the_limit_unless_one_command_is_longer(
    ) {
        // (command ends, limit, the records written as (start, end))
        type Case = (&'static [usize], usize, &'static [(usize, usize)]);
        let cases: &[Case] = &[
            (&[], 10, &[]),
            (&[4], 10, &[(0, 4)]),
            (&[4, 8, 10], 10, &[(0, 10)]),
            (&[4, 8, 11], 10, &[(0, 8), (8, 11)]),
            (&[25], 10, &[(0, 25)]),
            (&[3, 25, 27], 10, &[(0, 3), (3, 25), (25, 27)]),
            (&[10, 20, 30], 10, &[(0, 10), (10, 20), (20, 30)]),
            (&[2, 14, 15, 16], 10, &[(0, 2), (2, 14), (14, 16)]),
        ];
        for (ends, limit, want) in cases {
            let want: Vec<_> = want.iter().map(|&(start, end)| start..end).collect();
            assert_eq!(chunks(ends, *limit), want, "ends {ends:?}, limit {limit}");
        }
    }

    proptest::proptest! {
        #[test]
        fn records_cover_the_request_in_order_and_split_no_command(
            lengths in proptest::collection::vec(1usize..40, 0..60),
            limit in 1usize..64,
        ) {
            let ends: Vec<usize> = lengths
                .iter()
                .scan(0, |end, len| { *end += len; Some(*end) })
                .collect();
            let got = chunks(&ends, limit);
            let mut at = 0;
            for chunk in &got {
                proptest::prop_assert_eq!(chunk.start, at);
                proptest::prop_assert!(ends.contains(&chunk.end));
                let commands = ends.iter().filter(|&&e| e > chunk.start && e <= chunk.end).count();
                proptest::prop_assert!(chunk.len() <= limit || commands == 1);
                // Greedy: the next command would not have fitted in this record too.
                if let Some(&next) = ends.iter().find(|&&e| e > chunk.end) {
                    proptest::prop_assert!(next - chunk.start > limit);
                }
                at = chunk.end;
            }
            proptest::prop_assert_eq!(at, ends.last().copied().unwrap_or(0));
        }
    }
}
