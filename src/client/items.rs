//! Where a retrieval line's reader puts the items it reads: a closure that is handed each item
//! as it is parsed, or a [`Found`] map, into whose buffer a large value is read straight from
//! the stream.

use crate::connection::DIRECT_READ_EXACT_MAX;
use crate::found::Found;
use crate::protocol::{Value, ValueHeader};

/// What takes the items a retrieval reply holds.
pub(crate) trait Items {
    /// Takes the item answering `keys[position]`; `None` if the frame cannot answer the
    /// command (a `gets` reply without its CAS value).
    fn item(&mut self, position: usize, value: &Value<'_>) -> Option<()>;

    /// Where the data of a large value of `header` may be read straight to: a vector it is
    /// appended to (see [`Replies::each`](crate::connection::Replies::each)). `None`, the
    /// default, reads it through the connection's buffer.
    fn direct_sink(&mut self, _header: &ValueHeader<'_>) -> Option<&mut Vec<u8>> {
        None
    }

    /// [`Items::item`] for a value of `header` that was appended to the
    /// [direct sink](Items::direct_sink).
    fn direct_item(&mut self, _position: usize, _header: &ValueHeader<'_>) -> Option<()> {
        unreachable!("no direct sink, so no direct reads")
    }
}

/// Items handed to a closure, borrowed from the reply, as each is parsed (see [`each`]).
pub(crate) struct Each<F>(F);

/// Hands each item to `take`, with the position of its key; `take` returns `None` if the
/// frame cannot answer the command.
pub(crate) fn each<F: FnMut(usize, &Value<'_>) -> Option<()>>(take: F) -> Each<F> {
    Each(take)
}

impl<F: FnMut(usize, &Value<'_>) -> Option<()>> Items for Each<F> {
    fn item(&mut self, position: usize, value: &Value<'_>) -> Option<()> {
        (self.0)(position, value)
    }
}

/// Items into a [`Found`] map, each with the CAS value `cas` makes of its frame's (`None`:
/// the frame does not answer the command, a `gets` reply without one).
pub(crate) struct IntoFound<'f, T, C> {
    pub(crate) found: &'f mut Found<T>,
    pub(crate) cas: C,
}

impl<T, C: Fn(Option<u64>) -> Option<u64>> Items for IntoFound<'_, T, C> {
    fn item(&mut self, _: usize, value: &Value<'_>) -> Option<()> {
        let cas = (self.cas)(value.cas)?;
        self.found.insert(value.key, value.data, value.flags, cas);
        Some(())
    }

    /// The map's buffer, with the key appended first and room made for the data (up to
    /// [`DIRECT_READ_EXACT_MAX`], as the reader sizes it) in one amortized growth, so that many
    /// large values move the buffer a few times in all, not once each.
    fn direct_sink(&mut self, header: &ValueHeader<'_>) -> Option<&mut Vec<u8>> {
        let buffer = self.found.buffer();
        buffer.reserve(header.key.len() + header.data_len.min(DIRECT_READ_EXACT_MAX));
        buffer.extend_from_slice(header.key);
        Some(buffer)
    }

    fn direct_item(&mut self, _: usize, header: &ValueHeader<'_>) -> Option<()> {
        let cas = (self.cas)(header.cas)?;
        let (key_len, value_len) = (header.key.len(), header.data_len);
        self.found
            .insert_tail(key_len, value_len, header.flags, cas);
        Some(())
    }
}
