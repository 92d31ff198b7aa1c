//! Writing JSON exactly as JavaScript's `JSON.stringify` does, for the values envelopes hold.

use std::collections::BTreeMap;

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

/// An object's top-level fields, raw (values are not parsed, so a field we ignore costs no
/// allocation and cannot fail on, say, a number too big for `f64`). Duplicate keys: the last
/// wins, as in `JSON.parse`.
pub(crate) fn fields(bytes: &[u8]) -> Result<BTreeMap<String, Box<RawValue>>, Error> {
    serde_json::from_slice(bytes).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => Error::NotObject,
        _ => Error::Json(e),
    })
}

/// Removes `key` and returns it if it is a JSON string. A string field with a lone surrogate
/// escape or other invalid content is an error, not a silent `None`.
pub(crate) fn take_string(
    map: &mut BTreeMap<String, Box<RawValue>>,
    key: &str,
) -> Result<Option<String>, Error> {
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
