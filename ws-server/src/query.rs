//! Query strings: one parameter parser for the whole crate.

use std::borrow::Cow;

/// The value of `name` in a query string, percent-decoded; borrowed when it has no escapes.
pub(crate) fn param<'a>(query: &'a str, name: &str) -> Option<Cow<'a, str>> {
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        (k == name).then(|| {
            if v.contains(['%', '+']) {
                Cow::Owned(percent_decode(v))
            } else {
                Cow::Borrowed(v)
            }
        })
    })
}

/// Decodes `%XX` escapes and `+` (a space, as forms and `URLSearchParams` write it); a `%`
/// not followed by two hex digits stays as it is, and invalid UTF-8 becomes U+FFFD.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let (hi, lo) = (bytes[i + 1], bytes[i + 2]);
                let hex = (hi.is_ascii_hexdigit() && lo.is_ascii_hexdigit())
                    .then(|| core::str::from_utf8(&bytes[i + 1..i + 3]).ok())
                    .flatten()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::param;

    #[test]
    fn query_params_are_decoded() {
        assert_eq!(param("ns=%2Fchat&x=1", "ns").as_deref(), Some("/chat"));
        assert_eq!(param("a=b+c", "a").as_deref(), Some("b c"));
        assert_eq!(param("a=%zz%", "a").as_deref(), Some("%zz%"));
        assert_eq!(param("a=%+1", "a").as_deref(), Some("% 1"));
        assert_eq!(
            param("user=Ana%20Mar%C3%ADa", "user").as_deref(),
            Some("Ana María")
        );
        assert_eq!(param("a=1", "b"), None);
    }
}
