//! Incremental, fail-fast UTF-8 validation, and a `Bytes` that is known to be UTF-8.

use bytes::Bytes;

use crate::Error;

/// Validates a text message whose bytes arrive in pieces (across fragments, and inside a
/// frame as it is read). It fails at the first byte that cannot begin or continue a valid
/// sequence, which is what Autobahn's 6.x cases check, rather than at the end of the message.
///
/// It never allocates: at most three bytes of an unfinished sequence are carried between
/// calls. It is built on `core::str::from_utf8`, whose `Utf8Error::error_len` tells an
/// invalid sequence (`Some`) from one that the end of the input cut short (`None`).
///
/// ```
/// use oyez_frame::Utf8Validator;
/// let mut v = Utf8Validator::new();
/// let euro = "€".as_bytes(); // e2 82 ac
/// v.feed(&euro[..1], false).unwrap();
/// v.feed(&euro[1..], true).unwrap();
///
/// v.reset();
/// assert!(v.feed(&[0xe2, 0x28], false).is_err()); // fails at once, not at the end
/// ```
#[derive(Clone, Debug, Default)]
pub struct Utf8Validator {
    /// The bytes of a sequence begun but not finished by the previous chunk.
    /// INVARIANT: `partial_len < 4`, and `partial[..partial_len]` is a valid, incomplete prefix.
    partial: [u8; 4],
    partial_len: u8,
}

impl Utf8Validator {
    /// A validator at the start of a message.
    pub const fn new() -> Self {
        Self {
            partial: [0; 4],
            partial_len: 0,
        }
    }

    /// Validates `chunk` as the continuation of the message so far. `fin` says that no more
    /// bytes will follow, so an unfinished sequence at its end is an error.
    ///
    /// # Errors
    /// [`Error::InvalidUtf8`] (close code 1007) at the first invalid sequence, or at `fin` if
    /// the message ends inside a sequence. After an error, call [`Self::reset`] before reuse.
    pub fn feed(&mut self, mut chunk: &[u8], fin: bool) -> Result<(), Error> {
        if self.partial_len > 0 {
            let have = usize::from(self.partial_len);
            let need = sequence_len(self.partial[0]) - have;
            let take = need.min(chunk.len());
            self.partial[have..have + take].copy_from_slice(&chunk[..take]);
            let filled = have + take;
            match core::str::from_utf8(&self.partial[..filled]) {
                Ok(_) => {
                    self.partial_len = 0;
                    chunk = &chunk[take..];
                }
                Err(e) if e.error_len().is_none() => {
                    // Still a valid prefix; the chunk ran out before the sequence ended.
                    self.partial_len = u8::try_from(filled).expect("filled < 4");
                    return if fin { Err(Error::InvalidUtf8) } else { Ok(()) };
                }
                Err(_) => return Err(Error::InvalidUtf8),
            }
        }
        match core::str::from_utf8(chunk) {
            Ok(_) => Ok(()),
            Err(e) if e.error_len().is_none() && !fin => {
                let tail = &chunk[e.valid_up_to()..];
                // INVARIANT: an incomplete sequence is 1 to 3 bytes long.
                debug_assert!(!tail.is_empty() && tail.len() < 4);
                self.partial[..tail.len()].copy_from_slice(tail);
                self.partial_len = u8::try_from(tail.len()).expect("tail < 4");
                Ok(())
            }
            Err(_) => Err(Error::InvalidUtf8),
        }
    }

    /// Forgets any unfinished sequence, ready for a new message.
    pub fn reset(&mut self) {
        self.partial_len = 0;
    }

    /// Whether the bytes so far end inside a sequence.
    pub const fn is_incomplete(&self) -> bool {
        self.partial_len != 0
    }
}

/// The length of the sequence that `first` begins, for a byte that `from_utf8` already
/// accepted as the start of an incomplete sequence (so 2, 3 or 4).
const fn sequence_len(first: u8) -> usize {
    match first {
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        _ => 4,
    }
}

/// [`Bytes`] that hold valid UTF-8: the payload of a text message, or a close reason.
///
/// Constructed only from a `&'static str`, a `String`, or bytes this crate has validated.
/// Clones share the buffer.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Utf8Bytes(Bytes);

impl Utf8Bytes {
    /// An empty string.
    pub const fn new() -> Self {
        Self(Bytes::new())
    }

    /// A static string, without copying.
    pub const fn from_static(s: &'static str) -> Self {
        Self(Bytes::from_static(s.as_bytes()))
    }

    /// Checks `bytes` and wraps them.
    ///
    /// # Errors
    /// [`Error::InvalidUtf8`] if they are not UTF-8.
    pub fn try_from_bytes(bytes: Bytes) -> Result<Self, Error> {
        core::str::from_utf8(&bytes).map_err(|_| Error::InvalidUtf8)?;
        Ok(Self(bytes))
    }

    /// Wraps bytes the caller has already validated.
    pub(crate) fn from_validated(bytes: Bytes) -> Self {
        debug_assert!(core::str::from_utf8(&bytes).is_ok());
        Self(bytes)
    }

    /// The text.
    ///
    /// This checks the bytes again (the crate forbids `unsafe`, so it cannot skip the check);
    /// `core::str::from_utf8` runs at many GB/s on ASCII, but a relay that only forwards text
    /// should use [`Self::as_bytes`] or [`Self::into_bytes`] instead.
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(&self.0).expect("INVARIANT: Utf8Bytes holds valid UTF-8")
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The underlying buffer.
    pub fn into_bytes(self) -> Bytes {
        self.0
    }

    /// The length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the string is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<String> for Utf8Bytes {
    fn from(s: String) -> Self {
        Self(Bytes::from(s))
    }
}

impl From<&'static str> for Utf8Bytes {
    fn from(s: &'static str) -> Self {
        Self::from_static(s)
    }
}

impl TryFrom<Bytes> for Utf8Bytes {
    type Error = Error;

    fn try_from(bytes: Bytes) -> Result<Self, Error> {
        Self::try_from_bytes(bytes)
    }
}

impl From<Utf8Bytes> for Bytes {
    fn from(s: Utf8Bytes) -> Self {
        s.0
    }
}

impl AsRef<[u8]> for Utf8Bytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl PartialEq<str> for Utf8Bytes {
    fn eq(&self, other: &str) -> bool {
        self.0 == other.as_bytes()
    }
}

impl PartialEq<&str> for Utf8Bytes {
    fn eq(&self, other: &&str) -> bool {
        self.0 == other.as_bytes()
    }
}

impl core::fmt::Debug for Utf8Bytes {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl core::fmt::Display for Utf8Bytes {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn feed_chunks(data: &[u8], cuts: &[usize]) -> Result<(), Error> {
        let mut v = Utf8Validator::new();
        let mut start = 0;
        for &cut in cuts {
            let end = cut.clamp(start, data.len());
            v.feed(&data[start..end], false)?;
            start = end;
        }
        v.feed(&data[start..], true)
    }

    #[test]
    fn fails_at_the_first_bad_byte() {
        // Autobahn 6.4.x: a frame that turns invalid midway must fail before its end.
        let mut v = Utf8Validator::new();
        // κόσμε followed by 0xf4 0x90 (beyond U+10FFFF): invalid at the second byte.
        let mut bad = "κόσμε".as_bytes().to_vec();
        bad.extend_from_slice(&[0xf4, 0x90]);
        assert_eq!(v.feed(&bad, false), Err(Error::InvalidUtf8));

        // The same split across feeds: the prefix is fine, the continuation byte is not.
        let mut v = Utf8Validator::new();
        v.feed(&[0xce, 0xba, 0xf4], false).unwrap();
        assert!(v.is_incomplete());
        assert_eq!(v.feed(&[0x90], false), Err(Error::InvalidUtf8));

        // Overlong and surrogate prefixes fail at the second byte.
        for bad in [[0xe0, 0x80], [0xed, 0xa0], [0xc0, 0x80], [0xf5, 0x80]] {
            let mut v = Utf8Validator::new();
            let first = v.feed(&bad[..1], false);
            let second = first.and_then(|()| v.feed(&bad[1..], false));
            assert_eq!(second, Err(Error::InvalidUtf8), "{bad:x?}");
        }
    }

    #[test]
    fn truncated_at_fin_is_an_error() {
        let mut v = Utf8Validator::new();
        v.feed(&[0xe2, 0x82], false).unwrap();
        assert_eq!(v.feed(&[], true), Err(Error::InvalidUtf8));
        let mut v = Utf8Validator::new();
        assert_eq!(v.feed(&[0x61, 0xe2], true), Err(Error::InvalidUtf8));
    }

    #[test]
    fn one_byte_at_a_time() {
        let s = "a€𝄞ö".as_bytes();
        let cuts: Vec<usize> = (1..s.len()).collect();
        assert_eq!(feed_chunks(s, &cuts), Ok(()));
    }

    #[test]
    fn utf8_bytes_views() {
        let t = Utf8Bytes::from(String::from("héllo"));
        assert_eq!(t.as_str(), "héllo");
        assert_eq!(t, "héllo");
        assert_eq!(t.len(), 6);
        assert!(Utf8Bytes::try_from_bytes(Bytes::from_static(&[0xff])).is_err());
        assert!(Utf8Bytes::new().is_empty());
    }

    proptest! {
        #[test]
        fn agrees_with_std_over_any_chunking(
            data in prop_oneof![
                any::<String>().prop_map(String::into_bytes),
                proptest::collection::vec(any::<u8>(), 0..64),
                // Valid text with one byte flipped: near misses.
                (any::<String>(), any::<usize>(), any::<u8>()).prop_map(|(s, i, b)| {
                    let mut v = s.into_bytes();
                    if !v.is_empty() { let n = v.len(); v[i % n] = b; }
                    v
                }),
            ],
            mut cuts in proptest::collection::vec(any::<usize>(), 0..8),
        ) {
            if !data.is_empty() {
                for c in &mut cuts { *c %= data.len() + 1; }
            }
            cuts.sort_unstable();
            let expected = core::str::from_utf8(&data).is_ok();
            prop_assert_eq!(feed_chunks(&data, &cuts).is_ok(), expected);
        }

        #[test]
        fn fails_no_later_than_std_says(data in proptest::collection::vec(any::<u8>(), 1..48)) {
            // Fed one byte at a time, the validator must fail at exactly the byte where the
            // input stops being a valid prefix.
            let first_bad = match core::str::from_utf8(&data) {
                Ok(_) => None,
                Err(e) => e.error_len().map(|_| {
                    // The first index i such that data[..=i] is not a valid prefix.
                    (e.valid_up_to()..data.len())
                        .find(|&i| matches!(core::str::from_utf8(&data[e.valid_up_to()..=i]), Err(e) if e.error_len().is_some()))
                        .expect("an invalid sequence has a first bad byte")
                }),
            };
            let mut v = Utf8Validator::new();
            let mut failed_at = None;
            for (i, b) in data.iter().enumerate() {
                if v.feed(core::slice::from_ref(b), false).is_err() {
                    failed_at = Some(i);
                    break;
                }
            }
            prop_assert_eq!(failed_at, first_bad);
        }
    }
}
