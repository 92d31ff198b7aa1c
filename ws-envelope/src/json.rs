//! Writing JSON exactly as JavaScript's `JSON.stringify` does, for the values envelopes hold.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;

use crate::Error;

/// Appends `s` as a JSON string. serde_json's compact escaping is `JSON.stringify`'s: `"` and
/// `\` escaped, `\b \f \n \r \t`, other controls as `\u00xx` (lowercase hex), everything else
/// (`/`, DEL, U+2028/9, non-ASCII) literal.
pub(crate) fn push_str(out: &mut Vec<u8>, s: &str) {
    serde_json::to_writer(&mut *out, s).expect("writing a str to a Vec cannot fail");
}

/// Appends `"key":` (keys are ASCII literals without escapes).
pub(crate) fn push_key(out: &mut Vec<u8>, first: bool, key: &str) {
    if !first {
        out.push(b',');
    }
    out.push(b'"');
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b"\":");
}

/// Appends a string or `null`.
pub(crate) fn push_opt_str(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => push_str(out, s),
        None => out.extend_from_slice(b"null"),
    }
}

/// Appends raw JSON verbatim.
pub(crate) fn push_raw(out: &mut Vec<u8>, raw: &RawValue) {
    out.extend_from_slice(raw.get().as_bytes());
}

/// An object's top-level fields, raw and borrowed from the input.
pub(crate) type Fields<'a> = BTreeMap<String, &'a RawValue>;

/// An object's top-level fields, raw (values are neither parsed nor copied, so a field we
/// ignore costs nothing and cannot fail on, say, a number too big for `f64`). Duplicate keys:
/// the last wins, as in `JSON.parse`.
pub(crate) fn fields(bytes: &[u8]) -> Result<Fields<'_>, Error> {
    serde_json::from_slice(bytes).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => Error::NotObject,
        _ => Error::Json(e),
    })
}

/// Removes `key` and returns it if it is a JSON string. A string field with a lone surrogate
/// escape or other invalid content is an error, not a silent `None`.
pub(crate) fn take_string(map: &mut Fields<'_>, key: &str) -> Result<Option<String>, Error> {
    let Some(raw) = map.remove(key) else {
        return Ok(None);
    };
    if !raw.get().starts_with('"') {
        return Ok(None);
    }
    serde_json::from_str(raw.get())
        .map(Some)
        .map_err(Error::Json)
}

/// The string value of the top-level `key` of a JSON object, without building the object:
/// other values are skipped unparsed, and the result borrows from `bytes` unless the string
/// holds escapes. The last duplicate key wins, as in `JSON.parse`. `None` if `bytes` is not a
/// JSON object, or the value is not a string (or holds a lone surrogate escape).
pub(crate) fn peek_string<'a>(bytes: &'a [u8], key: &str) -> Option<Cow<'a, str>> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let raw = FindKey(key).deserialize(&mut de).ok()?;
    de.end().ok()?;
    let text = raw?.get();
    if !text.starts_with('"') {
        return None;
    }
    match serde_json::from_str::<&'a str>(text) {
        Ok(s) => Some(Cow::Borrowed(s)),
        // Escapes: a borrowed &str is impossible, decode into a String.
        Err(_) => serde_json::from_str::<String>(text).ok().map(Cow::Owned),
    }
}

/// Visits an object, keeping the raw value of the last `self.0` key.
struct FindKey<'k>(&'k str);

impl<'de> DeserializeSeed<'de> for FindKey<'_> {
    type Value = Option<&'de RawValue>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for FindKey<'_> {
    type Value = Option<&'de RawValue>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found = None;
        while let Some(is_key) = map.next_key_seed(KeyIs(self.0))? {
            if is_key {
                found = Some(map.next_value::<&'de RawValue>()?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }
}

/// Compares a map key with `self.0` without allocating.
struct KeyIs<'k>(&'k str);

impl<'de> DeserializeSeed<'de> for KeyIs<'_> {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for KeyIs<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string key")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<bool, E> {
        Ok(v == self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peek_borrows_skips_and_lets_the_last_key_win() {
        let bytes = br#"{"a":[1,{"src":"no"}],"src":"me","z":1e999}"#;
        let got = peek_string(bytes, "src");
        assert!(matches!(got, Some(Cow::Borrowed("me"))), "{got:?}");
        let got = peek_string(br#"{"src":"a\u0041"}"#, "src");
        assert!(matches!(&got, Some(Cow::Owned(s)) if s == "aA"), "{got:?}");
        assert_eq!(
            peek_string(br#"{"src":"x","src":"y"}"#, "src").as_deref(),
            Some("y")
        );
        assert_eq!(
            peek_string(br#"{"src":"x","src":null}"#, "src").as_deref(),
            None
        );
        for bad in [
            &br#"{"src":"x"} junk"#[..],
            br#"{"src":"x","#,
            br#"["src","x"]"#,
            br#"{"src":"\ud800"}"#,
            br#"{"src":5}"#,
            b"",
        ] {
            assert_eq!(peek_string(bad, "src"), None, "{bad:?}");
        }
    }
}
