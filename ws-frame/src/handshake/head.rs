//! An HTTP/1.1 head (request or response) kept as one buffer plus offsets into it.

use core::ops::Range;

use bytes::{Bytes, BytesMut};

use crate::{Error, Limits};

/// The header fields of a parsed head: the raw bytes, and where each name and value is.
#[derive(Clone, Debug)]
pub(crate) struct Head {
    pub(crate) bytes: Bytes,
    /// INVARIANT: every range lies within `bytes`; names are ASCII tokens (httparse checked).
    pub(crate) fields: Vec<(Range<usize>, Range<usize>)>,
}

impl Head {
    pub(crate) fn get(&self, name: &str) -> Option<&[u8]> {
        self.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    pub(crate) fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> + '_ {
        self.fields
            .iter()
            .map(|(n, v)| (self.str_at(n.clone()), &self.bytes[v.clone()]))
    }

    /// Whether any field `name` holds `token` in its comma-separated list (case-insensitive).
    pub(crate) fn has_token(&self, name: &str, token: &str) -> bool {
        self.all(name)
            .any(|v| tokens(v).any(|t| t.eq_ignore_ascii_case(token.as_bytes())))
    }

    pub(crate) fn str_at(&self, range: Range<usize>) -> &str {
        // httparse only yields tokens and request targets made of visible ASCII.
        core::str::from_utf8(&self.bytes[range]).unwrap_or_default()
    }
}

/// The comma-separated, whitespace-trimmed, non-empty elements of a header value.
pub(crate) fn tokens(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|b| *b == b',')
        .map(<[u8]>::trim_ascii)
        .filter(|t| !t.is_empty())
}

/// Finds the end of the head (just past the blank line), accepting CRLF or bare LF line ends
/// as httparse does. `Ok(None)`: not there yet.
///
/// # Errors
/// [`Error::HandshakeTooLarge`] once the head exceeds the limit, whether or not its end has
/// arrived, so a peer that never ends its head cannot make us buffer without bound.
pub(crate) fn find_end(buf: &[u8], limits: &Limits) -> Result<Option<usize>, Error> {
    let max = limits.max_handshake_bytes();
    let window = &buf[..buf.len().min(max)];
    let end = window.iter().enumerate().find_map(|(i, b)| {
        if *b != b'\n' {
            return None;
        }
        match &window[i + 1..] {
            [b'\n', ..] => Some(i + 2),
            [b'\r', b'\n', ..] => Some(i + 3),
            _ => None,
        }
    });
    match end {
        Some(end) => Ok(Some(end)),
        None if buf.len() >= max => Err(Error::HandshakeTooLarge),
        None => Ok(None),
    }
}

/// Byte offset of `part` within `base`; `part` must be a subslice of `base`.
pub(crate) fn offset_in(base: &[u8], part: &[u8]) -> Range<usize> {
    let start = (part.as_ptr() as usize).wrapping_sub(base.as_ptr() as usize);
    debug_assert!(start <= base.len() && start + part.len() <= base.len());
    start..start + part.len()
}

/// httparse's header slices as offsets into `base`.
pub(crate) fn field_offsets(
    base: &[u8],
    headers: &[httparse::Header<'_>],
) -> Vec<(Range<usize>, Range<usize>)> {
    headers
        .iter()
        .map(|h| (offset_in(base, h.name.as_bytes()), offset_in(base, h.value)))
        .collect()
}

impl Head {
    /// Splits the head (the first `end` bytes) off `buf`.
    pub(crate) fn split_off(
        buf: &mut BytesMut,
        end: usize,
        fields: Vec<(Range<usize>, Range<usize>)>,
    ) -> Self {
        Self {
            bytes: buf.split_to(end).freeze(),
            fields,
        }
    }
}

pub(crate) fn map_httparse(e: httparse::Error) -> Error {
    match e {
        httparse::Error::TooManyHeaders => Error::TooManyHeaders,
        _ => Error::MalformedHttp,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn end_of_head() {
        let l = Limits::default();
        assert_eq!(
            find_end(b"GET / HTTP/1.1\r\nHost: a\r\n\r\nrest", &l),
            Ok(Some(27))
        );
        assert_eq!(
            find_end(b"GET / HTTP/1.1\nHost: a\n\nrest", &l),
            Ok(Some(24))
        );
        assert_eq!(find_end(b"GET / HTTP/1.1\r\nHost: a\r\n\r", &l), Ok(None));
        let small = l.with_max_handshake_bytes(10);
        assert_eq!(
            find_end(b"GET / HTTP/1.1\r\n", &small),
            Err(Error::HandshakeTooLarge)
        );
    }

    #[test]
    fn token_lists() {
        let t: Vec<&[u8]> = tokens(b" keep-alive ,Upgrade,, ").collect();
        assert_eq!(t, vec![&b"keep-alive"[..], b"Upgrade"]);
    }
}
