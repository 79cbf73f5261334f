//! Quiet batches: store, delete and touch batches as quiet meta commands, each window closed
//! by `mn` (see [`Config::with_quiet_batches`](crate::Config::with_quiet_batches)), and the
//! meta batch reads (`meta_get_many`, see the meta_batch module).
//!
//! With `q`, memcached answers an `ms`/`md` only when it did not succeed, and an `mg` only
//! when it hit; `MN` answers the `mn` after the last command, once every command before it has
//! been processed. Each command carries its position in the window as its opaque (`O`), so
//! every reply names its item, and the items no reply named are known to have succeeded (or,
//! for a touch, missed) only when `MN` arrives. The engine, windows and bounds are the
//! classic pipeline's; only the reply reader differs. Their bound holds as it is: a failure
//! reply (`NS O1a`) is no longer than the classic reply to the same command (`NOT_STORED`),
//! and a success has none, so the replies to a window in flight stay short. A read's hits are
//! as long as a classic `get`'s, so reads go in the classic retrievals' smaller windows.
//!
//! memcached writes its error lines without the opaque (observed on 1.6.18: a quiet `ms` of a
//! value over the item size limit answers `SERVER_ERROR object too large for cache`, and
//! swallows the data block). Replies come in command order, so such an error belongs to one
//! of the unanswered items between the last reply that named its item and the next. To keep
//! that one match exact, a value of [`LOUD_VALUE_MIN`] bytes or more is sent without `q`: it
//! always gets a reply, so the errors between two named replies go, in order, to the loud
//! items there, or to every item there when there are as many errors as items. Any other
//! count (a server out of memory failing some of many quiet items) cannot be matched: those
//! items stay [`ItemResult::Unconfirmed`] and the batch stops with the error, after reading
//! up to the window's `MN`.

use std::ops::Range;

use super::pipeline::{exact_len, item_result, Sent, WindowReader};
use super::Client;
use crate::batch::{BatchReport, ItemResult};
use crate::connection::Replies;
use crate::error::Error;
use crate::protocol::meta::{MetaReply, MetaResponse, ReturnCode, ReturnedFlags};
use crate::protocol::{ProtocolError, ProtocolErrorKind, ServerErrorKind};

/// A value at least this long is sent without `q`. Its reply costs nothing next to its bytes,
/// and it is the kind of item memcached may refuse with an error line that names no item.
pub(super) const LOUD_VALUE_MIN: usize = 8 * 1024;

/// The opaque tokens: an item's position in its window in base 64, most significant digit
/// first, in as few digits as it takes. Every digit is a byte a token may hold (no space,
/// control byte or DEL), and a window's positions fit in three digits.
pub(super) mod opaque {
    const DIGITS: &[u8; 64] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_";

    /// The most digits a token has: far more positions than a window can hold.
    pub(crate) const MAX_DIGITS: usize = 4;

    /// Encodes `position` into `out`; returns the token's bytes.
    pub(crate) fn encode(mut position: usize, out: &mut [u8; MAX_DIGITS]) -> &[u8] {
        assert!(
            position < 1 << (6 * MAX_DIGITS),
            "a window holds fewer items"
        );
        let mut at = MAX_DIGITS;
        loop {
            at -= 1;
            out[at] = DIGITS[position % 64];
            position /= 64;
            if position == 0 {
                return &out[at..];
            }
        }
    }

    /// The position `token` encodes, if it is a token [`encode`] makes: a leading zero digit,
    /// any other byte or too many digits is not one, so no two tokens decode alike.
    pub(crate) fn decode(token: &[u8]) -> Option<usize> {
        if token.is_empty() || token.len() > MAX_DIGITS || (token.len() > 1 && token[0] == b'0') {
            return None;
        }
        token.iter().try_fold(0usize, |position, &byte| {
            let digit = match byte {
                b'0'..=b'9' => byte - b'0',
                b'A'..=b'Z' => byte - b'A' + 10,
                b'a'..=b'z' => byte - b'a' + 36,
                b'-' => 62,
                b'_' => 63,
                _ => return None,
            };
            Some(position * 64 + usize::from(digit))
        })
    }
}

/// What a quiet batch remembers of each command it sent.
pub(super) struct Quiet {
    /// Sent without `q`: it is always answered.
    pub(super) loud: bool,
}

/// The quiet reader. `answered` turns a reply that named its item into that item's outcome,
/// given the item's position in the batch (`None`: the reply does not answer this command);
/// `hidden` is the outcome of an item that no reply named once `MN` has come.
pub(super) struct QuietReader<A, H> {
    pub(super) answered: A,
    pub(super) hidden: H,
    /// Whether a named reply may carry returned flags besides its opaque, and a value: a
    /// retrieval's hits do, and `answered` judges them; a store's or a delete's failure
    /// never does, so anything more there is out of step.
    items: bool,
    /// Error lines that named no item, since the last reply that did.
    unmatched: Vec<Error>,
    /// Positions in the window whose outcome the unmatched errors leave unknown.
    unknown: Vec<Range<usize>>,
    /// The first unmatched error that left an outcome unknown: it stops the batch.
    stop: Option<Error>,
}

impl<A, H> QuietReader<A, H> {
    pub(super) fn new(answered: A, hidden: H, items: bool) -> Self {
        Self {
            answered,
            hidden,
            items,
            unmatched: Vec::new(),
            unknown: Vec::new(),
            stop: None,
        }
    }
}

/// One frame of a quiet window, as the reader needs it.
enum Frame<T> {
    /// A reply naming the item at this position, and its outcome.
    Named(usize, Result<T, Error>),
    /// An error line, which names no item.
    Unnamed(Error),
    /// `MN`: every command of the window was processed.
    Barrier,
}

impl<T, A, H> WindowReader<Quiet, T> for QuietReader<A, H>
where
    A: FnMut(&MetaResponse<'_>, usize) -> Option<Result<T, Error>>,
    H: FnMut() -> T,
{
    fn close(&mut self, request: &mut Vec<u8>) -> bool {
        request.extend_from_slice(b"mn\r\n");
        true
    }

    fn read(
        &mut self,
        replies: &mut Replies<'_>,
        commands: &[Sent<Quiet>],
        results: &mut [ItemResult<T>],
    ) -> Result<(), Error> {
        self.unmatched.clear();
        self.unknown.clear();
        // Every position before this one is accounted for: named, or left to `MN`.
        let mut next = 0;
        loop {
            let (answered, items) = (&mut self.answered, self.items);
            let frame =
                replies.next_meta(|frame| classify(frame, next, commands, items, answered))?;
            match frame {
                Frame::Named(position, outcome) => {
                    self.match_unnamed(next..position, commands, results)?;
                    results[commands[position].index] = item_result(outcome)?;
                    next = position + 1;
                }
                Frame::Unnamed(error) => self.unmatched.push(error),
                Frame::Barrier => {
                    self.match_unnamed(next..commands.len(), commands, results)?;
                    break;
                }
            }
        }
        let mut unknown = self.unknown.iter().peekable();
        for (position, sent) in commands.iter().enumerate() {
            while unknown.next_if(|range| range.end <= position).is_some() {}
            if unknown
                .peek()
                .is_some_and(|range| range.contains(&position))
            {
                continue;
            }
            let result = &mut results[sent.index];
            if result.is_unconfirmed() {
                *result = ItemResult::Done((self.hidden)());
            }
        }
        match self.stop.take() {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }
}

impl<A, H> QuietReader<A, H> {
    /// Gives the error lines that came between two named replies to the unnamed items
    /// between them, `positions`, where that is exact; else leaves those items unknown.
    fn match_unnamed<T>(
        &mut self,
        positions: Range<usize>,
        commands: &[Sent<Quiet>],
        results: &mut [ItemResult<T>],
    ) -> Result<(), Error> {
        let between = &commands[positions.clone()];
        let loud = between.iter().filter(|sent| sent.context.loud).count();
        let errors = self.unmatched.len();
        if errors < loud || errors > between.len() {
            // A loud command went unanswered, or more answers came than commands: out of step.
            return Err(out_of_step(b"error lines and commands do not match"));
        }
        if errors == 0 {
            return Ok(());
        }
        let all = errors == between.len();
        if errors == loud || all {
            let failed = between.iter().filter(|sent| all || sent.context.loud);
            for (sent, error) in failed.zip(self.unmatched.drain(..)) {
                results[sent.index] = ItemResult::Failed(error);
            }
        } else {
            self.unknown.push(positions);
            let first = self.unmatched.drain(..).next();
            self.stop = self.stop.take().or(first);
        }
        Ok(())
    }
}

/// Reads one frame of a quiet window whose positions from `next` on are still unnamed.
fn classify<T>(
    frame: MetaReply<'_>,
    next: usize,
    commands: &[Sent<Quiet>],
    items: bool,
    answered: &mut impl FnMut(&MetaResponse<'_>, usize) -> Option<Result<T, Error>>,
) -> Result<Frame<T>, Error> {
    let text = |message: &[u8]| String::from_utf8_lossy(message).into_owned();
    let response = match frame {
        MetaReply::Response(response) => response,
        MetaReply::ServerError(message) => {
            return Ok(Frame::Unnamed(Error::ServerError {
                kind: ServerErrorKind::of_message(message),
                message: text(message),
            }))
        }
        // The classic batch's rule: these leave the stream out of step, and stop the batch.
        MetaReply::ClientError(message) => {
            return Err(Error::ClientError {
                message: text(message),
            })
        }
        MetaReply::Error(message) => {
            return Err(Error::UnknownCommand {
                message: text(message),
            })
        }
        MetaReply::Debug(debug) => return Err(out_of_step(debug.key)),
    };
    // Asked only of `MN` and of replies to commands that carry no item: most replies do not
    // need it.
    let bare = || {
        let only_opaque = ReturnedFlags {
            opaque: response.flags.opaque,
            ..ReturnedFlags::default()
        };
        response.flags == only_opaque && response.value.is_none()
    };
    if response.code == ReturnCode::Noop {
        if !bare() {
            return Err(out_of_step(response.code.as_bytes()));
        }
        return match response.flags.opaque {
            None => Ok(Frame::Barrier),
            Some(token) => Err(out_of_step(token)),
        };
    }
    // A position behind `next` was named already, or is before one that was: a reply out of
    // order answers some other request.
    let token = response.flags.opaque.unwrap_or(b"");
    let position = opaque::decode(token)
        .filter(|position| (next..commands.len()).contains(position))
        .ok_or_else(|| out_of_step(token))?;
    if !items && !bare() {
        return Err(out_of_step(response.code.as_bytes()));
    }
    let outcome = answered(&response, commands[position].index)
        .ok_or_else(|| out_of_step(response.code.as_bytes()))?;
    Ok(Frame::Named(position, outcome))
}

/// A frame that answers no command in flight: the connection cannot be trusted further.
fn out_of_step(excerpt: &[u8]) -> Error {
    ProtocolError::new(ProtocolErrorKind::UnexpectedReply, excerpt).into()
}

impl Client {
    /// Runs a quiet batch: `encode` is handed each command, its window position's opaque
    /// token and the request buffer, and says whether it sent it loud; see the module docs
    /// for `answered` and `hidden`. Refused as a whole, before anything is taken from
    /// `commands`, when the server kind lacks the meta protocol.
    pub(super) fn quiet_pipeline<C, T>(
        &mut self,
        window_bytes: usize,
        commands: impl IntoIterator<Item = C>,
        encode: impl FnMut(C, &[u8], &mut Vec<u8>) -> Result<bool, Error>,
        mut answered: impl FnMut(&MetaResponse<'_>) -> Option<Result<T, Error>>,
        hidden: impl FnMut() -> T,
    ) -> BatchReport<T> {
        let answered = move |response: &MetaResponse<'_>, _: usize| answered(response);
        self.run_quiet(
            window_bytes,
            commands,
            encode,
            QuietReader::new(answered, hidden, false),
        )
    }

    /// A quiet batch of retrievals: as [`Client::quiet_pipeline`], but a reply naming its
    /// item may carry returned flags and a value, which `answered` judges, with the item's
    /// position in the batch (its key then checks the reply's key echo).
    pub(super) fn quiet_reads<C, T>(
        &mut self,
        window_bytes: usize,
        commands: impl IntoIterator<Item = C>,
        encode: impl FnMut(C, &[u8], &mut Vec<u8>) -> Result<bool, Error>,
        answered: impl FnMut(&MetaResponse<'_>, usize) -> Option<Result<T, Error>>,
        hidden: impl FnMut() -> T,
    ) -> BatchReport<T> {
        let reader = QuietReader::new(answered, hidden, true);
        self.run_quiet(window_bytes, commands, encode, reader)
    }

    fn run_quiet<C, T, A, H>(
        &mut self,
        window_bytes: usize,
        commands: impl IntoIterator<Item = C>,
        mut encode: impl FnMut(C, &[u8], &mut Vec<u8>) -> Result<bool, Error>,
        mut reader: QuietReader<A, H>,
    ) -> BatchReport<T>
    where
        A: FnMut(&MetaResponse<'_>, usize) -> Option<Result<T, Error>>,
        H: FnMut() -> T,
    {
        let commands = commands.into_iter();
        if let Err(refused) = self.refuse_unsupported("meta") {
            return BatchReport {
                results: Vec::new(),
                stop_error: Some(refused),
                not_taken: exact_len(commands.size_hint()),
            };
        }
        let mut token = [0; opaque::MAX_DIGITS];
        self.run_pipeline(
            window_bytes,
            commands,
            |command, position, buf| {
                let loud = encode(command, opaque::encode(position, &mut token), buf)?;
                Ok(Quiet { loud })
            },
            &mut reader,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::opaque::{decode, encode, MAX_DIGITS};

    #[test]
    fn every_position_encodes_to_a_short_token_that_decodes_back_to_it() {
        let mut out = [0; MAX_DIGITS];
        for position in (0..70_000).chain([(1 << 24) - 1]) {
            let token = encode(position, &mut out).to_vec();
            assert_eq!(decode(&token), Some(position), "{position}");
            let digits = match position {
                0..64 => 1,
                64..4096 => 2,
                4096..262_144 => 3,
                _ => 4,
            };
            assert_eq!(token.len(), digits, "{position}");
            assert!(token.iter().all(|&b| b > b' ' && b != 0x7f));
        }
    }

    #[test]
    fn only_tokens_the_encoder_makes_decode() {
        for token in [
            &b""[..],
            b"00",
            b"01",
            b"12345",
            b" ",
            b"1 ",
            b"+",
            b"\x7f",
            b"a\r",
        ] {
            assert_eq!(
                decode(token),
                None,
                "{:?}",
                token.escape_ascii().to_string()
            );
        }
        assert_eq!(decode(b"_"), Some(63));
        assert_eq!(decode(b"10"), Some(64));
        assert_eq!(decode(b"0"), Some(0));
    }
}
