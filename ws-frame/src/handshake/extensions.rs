//! The `Sec-WebSocket-Extensions` header's grammar (RFC 6455 §9.1), for any extension:
//!
//! ```text
//! extension-list  = 1#extension
//! extension       = extension-token *( ";" extension-param )
//! extension-param = token [ "=" (token | quoted-string) ]
//! ```
//!
//! with optional whitespace around every separator and empty list elements ignored (RFC 9110
//! §5.6.1). A quoted value is unescaped; RFC 6455 requires the result to be a token too.
//! What a parameter means is the extension's business (`handshake::deflate` for
//! permessage-deflate).

use std::borrow::Cow;

/// One extension of a header value: its name and its parameters, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Extension<'a> {
    pub(crate) name: &'a str,
    /// `(name, value)`; `None` for a parameter without `=`.
    pub(crate) params: Vec<(&'a str, Option<Cow<'a, str>>)>,
}

/// A header value that does not follow the grammar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Malformed;

/// Parses one header value into its extensions, in order.
///
/// # Errors
/// [`Malformed`] when the value breaks the grammar anywhere: a missing name, a character
/// that is not a token's, a quoted string that does not end or whose content is not a
/// token. Where the grammar breaks, nothing after it can be trusted, so the whole value is
/// refused.
pub(crate) fn parse(value: &[u8]) -> Result<Vec<Extension<'_>>, Malformed> {
    let mut p = Parser { s: value, at: 0 };
    let mut out = Vec::new();
    loop {
        p.skip_ows();
        match p.peek() {
            None => return Ok(out),
            Some(b',') => {
                // An empty list element.
                p.at += 1;
                continue;
            }
            Some(_) => {}
        }
        let name = p.token()?;
        let mut params = Vec::new();
        loop {
            p.skip_ows();
            match p.peek() {
                None => {
                    out.push(Extension { name, params });
                    return Ok(out);
                }
                Some(b',') => {
                    p.at += 1;
                    break;
                }
                Some(b';') => {
                    p.at += 1;
                    p.skip_ows();
                    let key = p.token()?;
                    p.skip_ows();
                    let value = if p.peek() == Some(b'=') {
                        p.at += 1;
                        p.skip_ows();
                        Some(p.value()?)
                    } else {
                        None
                    };
                    params.push((key, value));
                }
                Some(_) => return Err(Malformed),
            }
        }
        out.push(Extension { name, params });
    }
}

/// RFC 9110 §5.6.2's `tchar`.
const fn is_tchar(b: u8) -> bool {
    matches!(b,
        b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.' | b'^' | b'_' | b'`'
        | b'|' | b'~' | b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z')
}

struct Parser<'a> {
    s: &'a [u8],
    at: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.at).copied()
    }

    fn skip_ows(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.at += 1;
        }
    }

    /// A non-empty token.
    fn token(&mut self) -> Result<&'a str, Malformed> {
        let start = self.at;
        while self.peek().is_some_and(is_tchar) {
            self.at += 1;
        }
        if self.at == start {
            return Err(Malformed);
        }
        // Tokens are ASCII.
        core::str::from_utf8(&self.s[start..self.at]).map_err(|_| Malformed)
    }

    /// A token, or a quoted string whose unescaped content is a token (RFC 6455 §9.1).
    fn value(&mut self) -> Result<Cow<'a, str>, Malformed> {
        if self.peek() != Some(b'"') {
            return self.token().map(Cow::Borrowed);
        }
        self.at += 1;
        let mut out = String::new();
        loop {
            match self.peek() {
                None => return Err(Malformed),
                Some(b'"') => {
                    self.at += 1;
                    break;
                }
                Some(b'\\') => {
                    let escaped = self.s.get(self.at + 1).copied().ok_or(Malformed)?;
                    out.push(char::from(escaped));
                    self.at += 2;
                }
                Some(b) => {
                    out.push(char::from(b));
                    self.at += 1;
                }
            }
        }
        if out.is_empty() || !out.bytes().all(is_tchar) {
            return Err(Malformed);
        }
        Ok(Cow::Owned(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Owned = Vec<(String, Vec<(String, Option<String>)>)>;

    fn names(v: &str) -> Owned {
        parse(v.as_bytes())
            .unwrap()
            .into_iter()
            .map(|e| {
                (
                    e.name.to_owned(),
                    e.params
                        .into_iter()
                        .map(|(k, v)| (k.to_owned(), v.map(Cow::into_owned)))
                        .collect(),
                )
            })
            .collect()
    }

    #[test]
    fn the_grammar() {
        assert_eq!(names(""), vec![]);
        assert_eq!(names(" , ,"), vec![]);
        let got = names(
            "permessage-deflate; client_max_window_bits, permessage-deflate ;server_max_window_bits = \"10\" ,x-foo",
        );
        assert_eq!(
            got,
            vec![
                (
                    "permessage-deflate".into(),
                    vec![("client_max_window_bits".into(), None)]
                ),
                (
                    "permessage-deflate".into(),
                    vec![("server_max_window_bits".into(), Some("10".into()))]
                ),
                ("x-foo".into(), vec![]),
            ]
        );
        // An escaped character inside quotes.
        assert_eq!(
            names(r#"a; b="1\2""#),
            vec![("a".into(), vec![("b".into(), Some("12".into()))])]
        );
    }

    #[test]
    fn malformed_values_are_refused_whole() {
        for bad in [
            "; a",
            "a;",
            "a; =1",
            "a; b=",
            "a; b=\"1",
            "a; b=\"\"",
            "a; b=\"1 2\"",
            "a; b=\"1,2\"",
            "a b",
            "a; b=1 2",
            "a,; b",
            "a; b=\\",
            "a\u{e9}",
        ] {
            assert_eq!(parse(bad.as_bytes()), Err(Malformed), "{bad:?}");
        }
    }
}
