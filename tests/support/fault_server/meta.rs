//! The fault server's meta framing: a minimal `mg`/`ms`/`md`/`ma`/`mn` emulation over the
//! shared map, and the frames the request faults cut into or bend.
//!
//! Returned flags follow memcached 1.6.18: in the request's order, `k` and `O` echoed on every
//! code (misses included), `b` after a base64 `k`; `t` is always `-1` (the emulation keeps no
//! TTLs). Only what the client sends is emulated: of quiet mode only a hidden `mg` miss, no
//! vivify, no stale items.

use super::{Request, Shared, State, StoredItem, FALLBACK_VALUE};

/// Whether `tokens` are a meta request.
pub(super) fn is_meta(tokens: &[&[u8]]) -> bool {
    matches!(
        tokens.first().copied(),
        Some(b"mg" | b"ms" | b"md" | b"ma" | b"mn" | b"me")
    )
}

/// The request's flags: everything after its key (and, for `ms`, its data length).
fn request_flags<'t, 'a>(tokens: &'t [&'a [u8]]) -> &'t [&'a [u8]] {
    let skip = match tokens.first().copied() {
        Some(b"ms") => 3,
        Some(b"mn") => 1,
        _ => 2,
    };
    tokens.get(skip..).unwrap_or_default()
}

/// The argument of the request flag `letter`, if the request carries it.
fn flag<'a>(flags: &[&'a [u8]], letter: u8) -> Option<&'a [u8]> {
    flags
        .iter()
        .find(|f| f.first() == Some(&letter))
        .map(|f| &f[1..])
}

fn number<T: std::str::FromStr>(arg: Option<&[u8]>) -> Option<T> {
    std::str::from_utf8(arg?).ok()?.parse().ok()
}

/// The returned flags memcached writes for `flags`, in their order: with `item`, every flag
/// that reports on it; without (a miss, a refusal), only the echoes `k`, `O`, `b`.
fn echoes(out: &mut Vec<u8>, flags: &[&[u8]], key: &[u8], item: Option<&StoredItem>) {
    for f in flags {
        let Some((&letter, _)) = f.split_first() else {
            continue;
        };
        let returned = match (letter, item) {
            (b'k', _) => [b"k", key].concat(),
            (b'O' | b'b', _) => f.to_vec(),
            (b'c', Some(item)) => format!("c{}", item.cas).into_bytes(),
            (b'f', Some(item)) => format!("f{}", item.flags).into_bytes(),
            (b's', Some(item)) => format!("s{}", item.data.len()).into_bytes(),
            (b't', Some(_)) => b"t-1".to_vec(),
            (b'h', Some(_)) => b"h0".to_vec(),
            (b'l', Some(_)) => b"l0".to_vec(),
            _ => continue,
        };
        out.push(b' ');
        out.extend_from_slice(&returned);
    }
}

/// `<code> <echoes>\r\n`.
fn line(code: &[u8], flags: &[&[u8]], key: &[u8], item: Option<&StoredItem>) -> Vec<u8> {
    let mut out = code.to_vec();
    echoes(&mut out, flags, key, item);
    out.extend_from_slice(b"\r\n");
    out
}

/// The emulation's answer to a meta request, applied to the map.
pub(super) fn answer(state: &mut State, tokens: &[&[u8]], data: Option<&[u8]>) -> Vec<u8> {
    let flags = request_flags(tokens);
    let key = tokens.get(1).copied().unwrap_or_default();
    match tokens.first().copied() {
        Some(b"mn") => b"MN\r\n".to_vec(),
        Some(b"mg") if tokens.len() >= 2 => match state.items.get(key) {
            // `q` hides a miss, as memcached does; nothing else of quiet mode is emulated.
            None if flag(flags, b'q').is_some() => Vec::new(),
            None => line(b"EN", flags, key, None),
            Some(item) if flag(flags, b'v').is_some() => {
                let mut out = format!("VA {}", item.data.len()).into_bytes();
                echoes(&mut out, flags, key, Some(item));
                out.extend_from_slice(b"\r\n");
                out.extend_from_slice(&item.data);
                out.extend_from_slice(b"\r\n");
                out
            }
            Some(item) => line(b"HD", flags, key, Some(item)),
        },
        Some(b"ms") if tokens.len() >= 3 => {
            let Some(data) = data else {
                return b"CLIENT_ERROR bad data chunk\r\n".to_vec();
            };
            let existing = state.items.get(key);
            let mode = flag(flags, b'M').and_then(|m| m.first().copied());
            let code: &[u8] = match (flag(flags, b'C'), existing) {
                (Some(_), None) => b"NF",
                (Some(cas), Some(item)) if number::<u64>(Some(cas)) != Some(item.cas) => b"EX",
                _ => match (mode, existing) {
                    (Some(b'E' | b'e'), Some(_)) => b"NS",
                    (Some(b'R' | b'r' | b'A' | b'a' | b'P' | b'p'), None) => b"NS",
                    _ => b"HD",
                },
            };
            if code != b"HD" {
                return line(code, flags, key, None);
            }
            let value = match (mode, existing) {
                (Some(b'A' | b'a'), Some(item)) => [&item.data[..], data].concat(),
                (Some(b'P' | b'p'), Some(item)) => [data, &item.data[..]].concat(),
                _ => data.to_vec(),
            };
            let client_flags = number(flag(flags, b'F')).unwrap_or(0);
            let stored = store(state, key, value, client_flags);
            line(b"HD", flags, key, Some(&stored))
        }
        Some(b"md") if tokens.len() >= 2 => match (flag(flags, b'C'), state.items.get(key)) {
            (_, None) => line(b"NF", flags, key, None),
            (Some(cas), Some(item)) if number::<u64>(Some(cas)) != Some(item.cas) => {
                line(b"EX", flags, key, None)
            }
            _ => {
                state.items.remove(key);
                line(b"HD", flags, key, None)
            }
        },
        Some(b"ma") if tokens.len() >= 2 => arithmetic(state, flags, key),
        _ => b"ERROR\r\n".to_vec(),
    }
}

/// Stores `value` with a fresh CAS; returns the stored item.
fn store(state: &mut State, key: &[u8], value: Vec<u8>, flags: u32) -> StoredItem {
    let cas = state.next_cas;
    state.next_cas += 1;
    let item = StoredItem {
        data: value,
        flags,
        cas,
    };
    state.items.insert(key.to_vec(), item.clone());
    item
}

/// `ma`: `N<ttl>` creates a missing counter at `J<initial>` (returned as is), `D<delta>`
/// counts (`MD`/`M-` down, saturating at 0; up wraps), `C<cas>` compares first.
fn arithmetic(state: &mut State, flags: &[&[u8]], key: &[u8]) -> Vec<u8> {
    let decrement = matches!(
        flag(flags, b'M').and_then(|m| m.first().copied()),
        Some(b'D' | b'd' | b'-')
    );
    let delta: u64 = number(flag(flags, b'D')).unwrap_or(1);
    let value = match (state.items.get(key), flag(flags, b'C')) {
        (None, _) if flag(flags, b'N').is_some() => number(flag(flags, b'J')).unwrap_or(0),
        (None, _) => return line(b"NF", flags, key, None),
        (Some(item), Some(cas)) if number::<u64>(Some(cas)) != Some(item.cas) => {
            return line(b"EX", flags, key, None)
        }
        (Some(item), _) => {
            let Some(current) = number::<u64>(Some(&item.data)) else {
                return b"CLIENT_ERROR cannot increment or decrement non-numeric value\r\n"
                    .to_vec();
            };
            if decrement {
                current.saturating_sub(delta)
            } else {
                current.wrapping_add(delta)
            }
        }
    };
    let client_flags = state.items.get(key).map_or(0, |item| item.flags);
    let stored = store(state, key, value.to_string().into_bytes(), client_flags);
    if flag(flags, b'v').is_none() {
        return line(b"HD", flags, key, Some(&stored));
    }
    let mut out = format!("VA {}", stored.data.len()).into_bytes();
    echoes(&mut out, flags, key, Some(&stored));
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&stored.data);
    out.extend_from_slice(b"\r\n");
    out
}

/// A whole `VA` frame for the request, whatever its command: the value stored under its key
/// (or [`FALLBACK_VALUE`]) with the request's echoes, and the length of its header line. With
/// `other`, the value of that key instead, and a `k<other>` echo the request did not ask for.
pub(super) fn value_frame(
    shared: &Shared,
    request: &Request,
    other: Option<&[u8]>,
) -> (Vec<u8>, usize) {
    let tokens = request.tokens();
    let flags = request_flags(&tokens);
    let key = other.unwrap_or_else(|| tokens.get(1).copied().unwrap_or_default());
    let item = match shared.state().items.get(key) {
        Some(item) if item.data.len() >= 2 => item.clone(),
        _ => StoredItem {
            data: FALLBACK_VALUE.to_vec(),
            flags: 0,
            cas: 1,
        },
    };
    let mut frame = format!("VA {}", item.data.len()).into_bytes();
    let flags: Vec<&[u8]> = match other {
        // The key echo goes first, and any the request asked for is left out, so the one
        // echo is of the other key.
        Some(_) => std::iter::once(&b"k"[..])
            .chain(flags.iter().copied().filter(|f| f.first() != Some(&b'k')))
            .collect(),
        None => flags.to_vec(),
    };
    echoes(&mut frame, &flags, key, Some(&item));
    frame.extend_from_slice(b"\r\n");
    let header_len = frame.len();
    frame.extend_from_slice(&item.data);
    frame.extend_from_slice(b"\r\n");
    (frame, header_len)
}

/// `VA <length> O<opaque>\r\n`: a header whose length token is `length`, echoing the
/// request's opaque token so that only the length is wrong.
pub(super) fn header_with_length(request: &Request, length: &[u8]) -> Vec<u8> {
    let tokens = request.tokens();
    let mut out = [&b"VA "[..], length].concat();
    if let Some(opaque) = flag(request_flags(&tokens), b'O') {
        out.extend_from_slice(b" O");
        out.extend_from_slice(opaque);
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// `<code>` with the echoes memcached adds to a reply without an item (`k`, `O`, `b`).
pub(super) fn code_line(request: &Request, code: &[u8]) -> Vec<u8> {
    let tokens = request.tokens();
    let key = tokens.get(1).copied().unwrap_or_default();
    line(code, request_flags(&tokens), key, None)
}

/// `reply` with its first line's opaque token replaced by `opaque` (or removed): the data
/// block, if any, untouched.
pub(super) fn with_opaque(reply: &[u8], opaque: Option<&[u8]>) -> Vec<u8> {
    let line_end = reply
        .windows(2)
        .position(|w| w == b"\r\n")
        .unwrap_or(reply.len());
    let mut out: Vec<u8> = reply[..line_end]
        .split(|&b| b == b' ')
        .filter(|token| token.first() != Some(&b'O'))
        .collect::<Vec<_>>()
        .join(&b' ');
    if let Some(opaque) = opaque {
        out.extend_from_slice(b" O");
        out.extend_from_slice(opaque);
    }
    out.extend_from_slice(&reply[line_end..]);
    out
}
