//! Signed identities in the binary: the key from the settings, and the routes mounted with
//! or without them ([`oyez_server::apps::auth`] has the token rules).

use std::time::Duration;

use oyez_server::Builder;
use oyez_server::apps::auth::{Algorithm, Key, TokenAuth, Verifier};
use oyez_server::apps::{self, Site};

use crate::settings::SettingError;

/// The `WS_JWT_*` settings as given.
#[derive(Debug, Default)]
pub(crate) struct AuthSettings {
    pub(crate) algorithm: Option<String>,
    pub(crate) secret: Option<String>,
    pub(crate) public_key: Option<String>,
    pub(crate) public_key_file: Option<String>,
    pub(crate) leeway: Option<u64>,
    pub(crate) issuer: Option<String>,
    pub(crate) audience: Option<String>,
}

fn error(name: &'static str, reason: impl Into<String>) -> SettingError {
    SettingError {
        name,
        reason: reason.into(),
    }
}

/// The verifier the settings describe: `None` without a secret or a public key (identities
/// are then unauthenticated).
pub(crate) fn verifier(s: &AuthSettings) -> Result<Option<Verifier>, SettingError> {
    let algorithm = s
        .algorithm
        .as_deref()
        .map(str::parse::<Algorithm>)
        .transpose()
        .map_err(|e| error("WS_JWT_ALGORITHM", e))?;
    let pem = match (&s.public_key, &s.public_key_file) {
        (Some(_), Some(_)) => {
            return Err(error(
                "WS_JWT_PUBLIC_KEY_FILE",
                "set WS_JWT_PUBLIC_KEY or WS_JWT_PUBLIC_KEY_FILE, not both",
            ));
        }
        // A PEM in one line of the environment may write its line breaks as `\n`.
        (Some(text), None) => Some((text.replace("\\n", "\n"), "WS_JWT_PUBLIC_KEY")),
        (None, Some(path)) => Some((
            std::fs::read_to_string(path)
                .map_err(|e| error("WS_JWT_PUBLIC_KEY_FILE", format!("{path}: {e}")))?,
            "WS_JWT_PUBLIC_KEY_FILE",
        )),
        (None, None) => None,
    };
    let key = match (&s.secret, pem) {
        (Some(_), Some(_)) => {
            return Err(error(
                "WS_JWT_SECRET",
                "set a secret (HS256) or a public key (RS256, ES256), not both",
            ));
        }
        (Some(secret), None) => {
            if algorithm.is_some_and(|a| a != Algorithm::Hs256) {
                return Err(error(
                    "WS_JWT_ALGORITHM",
                    "a secret is for HS256; RS256 and ES256 need WS_JWT_PUBLIC_KEY",
                ));
            }
            Key::hs256(secret.as_bytes()).map_err(|e| error("WS_JWT_SECRET", e.to_string()))?
        }
        (None, Some((pem, name))) => {
            if algorithm == Some(Algorithm::Hs256) {
                return Err(error("WS_JWT_ALGORITHM", "HS256 needs WS_JWT_SECRET"));
            }
            Key::from_pem(&pem, algorithm).map_err(|e| error(name, e.to_string()))?
        }
        (None, None) => {
            if s.algorithm.is_some() {
                return Err(error(
                    "WS_JWT_ALGORITHM",
                    "needs WS_JWT_SECRET or WS_JWT_PUBLIC_KEY",
                ));
            }
            return Ok(None);
        }
    };
    let mut v = Verifier::new(key);
    if let Some(secs) = s.leeway {
        v = v.with_leeway(Duration::from_secs(secs));
    }
    if let Some(iss) = &s.issuer {
        v = v.with_issuer(iss);
    }
    if let Some(aud) = &s.audience {
        v = v.with_audience(aud);
    }
    Ok(Some(v))
}

/// The binary's routes and site on `builder`: with a verifier, every upgrade needs a valid
/// token and the public roster is off; without one, `?user=` is taken at its word, and the
/// log says so.
pub(crate) fn mount(builder: Builder, site: Site, verifier: Option<Verifier>) -> Builder {
    match verifier {
        Some(v) => {
            tracing::info!(
                algorithm = %v.algorithm(),
                "signed identities: every connection needs a valid JWT; /chat/roster is off"
            );
            apps::mount(builder, site.without_public_roster()).upgrade_hook(TokenAuth::new(v))
        }
        None => {
            tracing::warn!(
                "identities are UNAUTHENTICATED: anyone who can connect may claim any ?user= and \
                 receive that user's direct messages, and /chat/roster lists user ids to anyone; \
                 set WS_JWT_SECRET or WS_JWT_PUBLIC_KEY to require signed tokens"
            );
            apps::mount(builder, site)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EC: &str = include_str!("../../ws-server/tests/keys/ec-public.pem");

    fn with(f: impl FnOnce(&mut AuthSettings)) -> Result<Option<Verifier>, SettingError> {
        let mut s = AuthSettings::default();
        f(&mut s);
        verifier(&s)
    }

    #[test]
    fn keys_and_algorithms() {
        assert!(with(|_| {}).unwrap().is_none());
        let hs = with(|s| s.secret = Some("s".repeat(32))).unwrap().unwrap();
        assert_eq!(hs.algorithm(), Algorithm::Hs256);
        let es = with(|s| s.public_key = Some(EC.replace('\n', "\\n")))
            .unwrap()
            .unwrap();
        assert_eq!(es.algorithm(), Algorithm::Es256);
        let path = std::env::temp_dir().join(format!("oyez-ec-{}.pem", std::process::id()));
        std::fs::write(&path, EC).unwrap();
        let file = path.to_string_lossy().into_owned();
        let es = with(|s| {
            s.public_key_file = Some(file.clone());
            s.algorithm = Some("es256".into());
        })
        .unwrap()
        .unwrap();
        assert_eq!(es.algorithm(), Algorithm::Es256);
        let _ = std::fs::remove_file(&path);
        for (f, name) in [
            (
                Box::new(|s: &mut AuthSettings| s.secret = Some("short".into()))
                    as Box<dyn FnOnce(&mut AuthSettings)>,
                "WS_JWT_SECRET",
            ),
            (
                Box::new(|s: &mut AuthSettings| {
                    s.secret = Some("s".repeat(32));
                    s.algorithm = Some("RS256".into());
                }),
                "WS_JWT_ALGORITHM",
            ),
            (
                Box::new(|s: &mut AuthSettings| {
                    s.public_key = Some(EC.into());
                    s.algorithm = Some("RS256".into());
                }),
                "WS_JWT_PUBLIC_KEY",
            ),
            (
                Box::new(|s: &mut AuthSettings| s.algorithm = Some("none".into())),
                "WS_JWT_ALGORITHM",
            ),
            (
                Box::new(|s: &mut AuthSettings| s.algorithm = Some("HS256".into())),
                "WS_JWT_ALGORITHM",
            ),
            (
                Box::new(|s: &mut AuthSettings| {
                    s.secret = Some("s".repeat(32));
                    s.public_key = Some(EC.into());
                }),
                "WS_JWT_SECRET",
            ),
            (
                Box::new(|s: &mut AuthSettings| {
                    s.public_key_file = Some("/nonexistent/key.pem".into());
                }),
                "WS_JWT_PUBLIC_KEY_FILE",
            ),
        ] {
            let e = with(f).unwrap_err();
            assert_eq!(e.name, name, "{e}");
        }
    }
}
