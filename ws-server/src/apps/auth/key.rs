//! Verification keys: an HS256 secret, or a public key in PEM (RS256: RSA, 2048 to 8192
//! bits, as `PUBLIC KEY` or `RSA PUBLIC KEY`; ES256: P-256, as `PUBLIC KEY`). The PEM and
//! DER are read here by hand (a few fixed shapes), and fuzzed
//! ([`crate::__fuzz::public_key`]); signatures are checked by `ring`.

use base64::Engine as _;

use super::Algorithm;

/// The shortest HS256 secret accepted: 256 bits (RFC 7518 §3.2).
pub const MIN_SECRET: usize = 32;

/// A key that verifies tokens of one [`Algorithm`].
#[derive(Clone)]
pub struct Key {
    pub(super) kind: KeyKind,
}

#[derive(Clone)]
pub(super) enum KeyKind {
    Hs256(ring::hmac::Key),
    /// An RSA public key, as PKCS#1 `RSAPublicKey` DER.
    Rs256(Vec<u8>),
    /// A P-256 point, uncompressed (65 bytes).
    Es256(Vec<u8>),
}

impl core::fmt::Debug for Key {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Key")
            .field("algorithm", &self.algorithm())
            .finish_non_exhaustive()
    }
}

/// A key that cannot be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// An HS256 secret shorter than 32 bytes.
    #[error("an HS256 secret needs at least {MIN_SECRET} bytes")]
    ShortSecret,
    /// Not PEM, or PEM whose base64 is broken.
    #[error("not a PEM public key (-----BEGIN PUBLIC KEY----- … -----END PUBLIC KEY-----)")]
    NotPem,
    /// A private key where a public key belongs.
    #[error("this is a private key: give the public key (openssl pkey -in key.pem -pubout)")]
    PrivateKey,
    /// DER that is not a public key of a known shape.
    #[error("not a public key this server reads: {0}")]
    Malformed(&'static str),
    /// A public key of another algorithm than the one configured.
    #[error("the key is for {key}, not {configured}")]
    WrongAlgorithm {
        /// What the key is for.
        key: Algorithm,
        /// What was configured.
        configured: Algorithm,
    },
}

/// rsaEncryption, 1.2.840.113549.1.1.1.
const OID_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
/// id-ecPublicKey, 1.2.840.10045.2.1.
const OID_EC: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
/// prime256v1 (P-256), 1.2.840.10045.3.1.7.
const OID_P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

impl Key {
    /// An HS256 secret (at least 32 bytes).
    ///
    /// # Errors
    /// [`KeyError::ShortSecret`].
    pub fn hs256(secret: &[u8]) -> Result<Self, KeyError> {
        if secret.len() < MIN_SECRET {
            return Err(KeyError::ShortSecret);
        }
        Ok(Self {
            kind: KeyKind::Hs256(ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret)),
        })
    }

    /// A public key from PEM: RSA (`PUBLIC KEY` or `RSA PUBLIC KEY`) for RS256, P-256
    /// (`PUBLIC KEY`) for ES256. With `expect`, a key of another algorithm is refused.
    ///
    /// # Errors
    /// [`KeyError`]: not PEM, a private key, a shape or curve not read here, an RSA key
    /// outside 2048 to 8192 bits, or another algorithm than `expect`.
    pub fn from_pem(pem: &str, expect: Option<Algorithm>) -> Result<Self, KeyError> {
        let (label, der) = pem_block(pem)?;
        let kind = match label {
            "PUBLIC KEY" => spki(&der)?,
            "RSA PUBLIC KEY" => KeyKind::Rs256(rsa_public_key(&der)?.to_vec()),
            l if l.contains("PRIVATE KEY") => return Err(KeyError::PrivateKey),
            _ => return Err(KeyError::NotPem),
        };
        let key = Self { kind };
        match expect {
            Some(configured) if configured != key.algorithm() => Err(KeyError::WrongAlgorithm {
                key: key.algorithm(),
                configured,
            }),
            _ => Ok(key),
        }
    }

    /// The algorithm this key verifies: the only one a token may use.
    pub const fn algorithm(&self) -> Algorithm {
        match self.kind {
            KeyKind::Hs256(_) => Algorithm::Hs256,
            KeyKind::Rs256(_) => Algorithm::Rs256,
            KeyKind::Es256(_) => Algorithm::Es256,
        }
    }

    /// Whether `signature` signs `message` with this key.
    pub(super) fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        use ring::signature::{ECDSA_P256_SHA256_FIXED, RSA_PKCS1_2048_8192_SHA256};
        use ring::signature::{UnparsedPublicKey, VerificationAlgorithm};
        let public = |alg: &'static dyn VerificationAlgorithm, key: &[u8]| {
            UnparsedPublicKey::new(alg, key)
                .verify(message, signature)
                .is_ok()
        };
        match &self.kind {
            KeyKind::Hs256(k) => ring::hmac::verify(k, message, signature).is_ok(),
            KeyKind::Rs256(der) => public(&RSA_PKCS1_2048_8192_SHA256, der),
            KeyKind::Es256(point) => public(&ECDSA_P256_SHA256_FIXED, point),
        }
    }
}

/// The label and the decoded body of the first PEM block in `pem`.
fn pem_block(pem: &str) -> Result<(&str, Vec<u8>), KeyError> {
    let start = pem.find("-----BEGIN ").ok_or(KeyError::NotPem)?;
    let rest = &pem[start + "-----BEGIN ".len()..];
    let (label, rest) = rest.split_once("-----").ok_or(KeyError::NotPem)?;
    let end = format!("-----END {label}-----");
    let (body, _) = rest.split_once(end.as_str()).ok_or(KeyError::NotPem)?;
    let b64: String = body.split_ascii_whitespace().collect();
    if label.contains("PRIVATE KEY") {
        return Err(KeyError::PrivateKey);
    }
    let der = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|_| KeyError::NotPem)?;
    Ok((label, der))
}

/// One DER element: its tag and contents, and what follows it.
fn der(input: &[u8]) -> Result<(u8, &[u8], &[u8]), KeyError> {
    let bad = KeyError::Malformed("DER that does not parse");
    let (&tag, rest) = input.split_first().ok_or(bad)?;
    let (&first, rest) = rest.split_first().ok_or(bad)?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 3 || rest.len() < n || rest[0] == 0 {
            return Err(bad);
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| acc << 8 | usize::from(*b));
        if len < 0x80 {
            return Err(bad); // not the shortest form
        }
        (len, &rest[n..])
    };
    if rest.len() < len {
        return Err(bad);
    }
    Ok((tag, &rest[..len], &rest[len..]))
}

/// One element of `tag`, and nothing after it.
fn only<'a>(input: &'a [u8], tag: u8, what: &'static str) -> Result<&'a [u8], KeyError> {
    match der(input)? {
        (t, body, []) if t == tag => Ok(body),
        _ => Err(KeyError::Malformed(what)),
    }
}

/// `SubjectPublicKeyInfo ::= SEQUENCE { algorithm AlgorithmIdentifier, subjectPublicKey BIT STRING }`.
fn spki(input: &[u8]) -> Result<KeyKind, KeyError> {
    let seq = only(input, 0x30, "no SubjectPublicKeyInfo")?;
    let (tag, alg, rest) = der(seq)?;
    if tag != 0x30 {
        return Err(KeyError::Malformed("no AlgorithmIdentifier"));
    }
    let bits = only(rest, 0x03, "no subjectPublicKey")?;
    let Some((0, key)) = bits.split_first() else {
        return Err(KeyError::Malformed("a subjectPublicKey of partial bytes"));
    };
    let (tag, oid, params) = der(alg)?;
    if tag != 0x06 {
        return Err(KeyError::Malformed("no algorithm OID"));
    }
    if oid == OID_RSA {
        // The parameters are NULL (or, rarely, absent).
        if !(params.is_empty() || params == [0x05, 0x00]) {
            return Err(KeyError::Malformed("RSA parameters that are not NULL"));
        }
        Ok(KeyKind::Rs256(rsa_public_key(key)?.to_vec()))
    } else if oid == OID_EC {
        if only(params, 0x06, "an EC key without a named curve")? != OID_P256 {
            return Err(KeyError::Malformed("an EC curve other than P-256"));
        }
        if key.len() != 65 || key[0] != 0x04 {
            return Err(KeyError::Malformed(
                "a P-256 point that is not uncompressed",
            ));
        }
        Ok(KeyKind::Es256(key.to_vec()))
    } else {
        Err(KeyError::Malformed("an algorithm other than RSA or EC"))
    }
}

/// `RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }`, checked for a
/// modulus of 2048 to 8192 bits; returns its DER, as given.
fn rsa_public_key(input: &[u8]) -> Result<&[u8], KeyError> {
    let seq = only(input, 0x30, "no RSAPublicKey")?;
    let (tag, n, rest) = der(seq)?;
    let e = only(rest, 0x02, "no RSA exponent")?;
    if tag != 0x02 || n.is_empty() || e.is_empty() || n[0] & 0x80 != 0 || e[0] & 0x80 != 0 {
        return Err(KeyError::Malformed("RSA integers that are not positive"));
    }
    let n = n.strip_prefix(&[0]).unwrap_or(n);
    let Some(top) = n.first() else {
        return Err(KeyError::Malformed("an RSA modulus of zero"));
    };
    let bits = n.len() * 8 - top.leading_zeros() as usize;
    if !(2048..=8192).contains(&bits) {
        return Err(KeyError::Malformed(
            "an RSA modulus outside 2048 to 8192 bits",
        ));
    }
    Ok(input)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RSA: &str = include_str!("../../../tests/keys/rsa-public.pem");
    const RSA1: &str = include_str!("../../../tests/keys/rsa-public-pkcs1.pem");
    const EC: &str = include_str!("../../../tests/keys/ec-public.pem");
    const EC384: &str = include_str!("../../../tests/keys/ec384-public.pem");
    const PRIVATE: &str = include_str!("../../../tests/keys/ec-private.pem");

    #[test]
    fn pem_keys() {
        assert_eq!(
            Key::from_pem(RSA, None).unwrap().algorithm(),
            Algorithm::Rs256
        );
        assert_eq!(
            Key::from_pem(RSA1, Some(Algorithm::Rs256))
                .unwrap()
                .algorithm(),
            Algorithm::Rs256
        );
        assert_eq!(
            Key::from_pem(EC, None).unwrap().algorithm(),
            Algorithm::Es256
        );
        // The two RSA forms are the same key.
        let (KeyKind::Rs256(a), KeyKind::Rs256(b)) = (
            Key::from_pem(RSA, None).unwrap().kind,
            Key::from_pem(RSA1, None).unwrap().kind,
        ) else {
            panic!()
        };
        assert_eq!(a, b);
        assert_eq!(
            Key::from_pem(EC, Some(Algorithm::Rs256)).unwrap_err(),
            KeyError::WrongAlgorithm {
                key: Algorithm::Es256,
                configured: Algorithm::Rs256
            }
        );
        assert!(matches!(
            Key::from_pem(EC384, None),
            Err(KeyError::Malformed(_))
        ));
        assert_eq!(
            Key::from_pem(PRIVATE, None).unwrap_err(),
            KeyError::PrivateKey
        );
        assert_eq!(Key::from_pem("hello", None).unwrap_err(), KeyError::NotPem);
        let broken = EC.replace("MFkw", "M!kw");
        assert_eq!(Key::from_pem(&broken, None).unwrap_err(), KeyError::NotPem);
        let cut = {
            let der = pem_block(EC).unwrap().1;
            let b64 = base64::engine::general_purpose::STANDARD.encode(&der[..der.len() - 1]);
            format!("-----BEGIN PUBLIC KEY-----\n{b64}\n-----END PUBLIC KEY-----\n")
        };
        assert!(matches!(
            Key::from_pem(&cut, None),
            Err(KeyError::Malformed(_))
        ));
    }

    #[test]
    fn secrets() {
        assert_eq!(Key::hs256(&[7; 31]).unwrap_err(), KeyError::ShortSecret);
        assert_eq!(Key::hs256(&[7; 32]).unwrap().algorithm(), Algorithm::Hs256);
    }
}
