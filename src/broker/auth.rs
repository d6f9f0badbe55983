//! Connection tokens: JWTs signed with HS256, RS256 or ES256, verified with
//! the `jsonwebtoken` crate (no cryptography is written here).
//!
//! The token travels the socket.io way, in the CONNECT auth payload
//! (`io(url, { auth: { token } })`). A token is accepted when its header's
//! algorithm is one the config gave a key for, its signature verifies with
//! that key, `exp` (when present) and `nbf` (when present) hold with no
//! leeway, `iss` equals `jwt_issuer` and `aud` contains `jwt_audience` when
//! those are set (then the claims are required). Everything else (a token
//! signed with another algorithm, a malformed claim, an invalid pattern in
//! `rooms` / `publish`) is refused as `invalid`.

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::{json, Value};

use super::pattern::Pattern;
use crate::server::Refusal;

/// The keys and checks of `[auth]`, ready to verify tokens on any shard.
pub struct Verifier {
    /// One entry per configured algorithm.
    keys: Vec<(Algorithm, DecodingKey, Validation)>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let algs: Vec<_> = self.keys.iter().map(|(a, _, _)| a).collect();
        f.debug_struct("Verifier")
            .field("algorithms", &algs)
            .finish()
    }
}

/// The claims of a verified token that the broker uses.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    /// `sub`: the user; the socket joins `user:<sub>`.
    pub sub: Option<String>,
    /// `exp` in milliseconds since the UNIX epoch: the socket is
    /// disconnected then.
    pub expires_ms: Option<u64>,
    /// `rooms`: patterns the socket may join.
    pub rooms: Vec<Pattern>,
    /// `publish`: patterns the socket may broadcast to.
    pub publish: Vec<Pattern>,
    /// `join`: rooms joined on connect.
    pub join: Vec<String>,
}

/// Why a CONNECT was refused; the client sees `connect_error` with
/// `err.message === "unauthorized"` and `err.data.reason` = [`Self::reason`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    /// The auth payload has no `token`.
    Missing,
    /// The token does not verify (signature, algorithm, issuer, audience,
    /// shape of a claim).
    Invalid,
    /// The token's `exp` has passed.
    Expired,
}

impl AuthFailure {
    /// The `reason` the client sees.
    pub fn reason(self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::Invalid => "invalid",
            Self::Expired => "expired",
        }
    }

    /// The connect error sent to the client.
    pub fn refusal(self) -> Refusal {
        Refusal {
            message: "unauthorized".into(),
            data: Some(json!({ "reason": self.reason() })),
        }
    }
}

/// The claims as they appear in the token.
#[derive(Deserialize)]
struct RawClaims {
    sub: Option<String>,
    exp: Option<f64>,
    #[serde(default)]
    rooms: Vec<String>,
    #[serde(default)]
    publish: Vec<String>,
    #[serde(default)]
    join: Vec<String>,
}

impl Verifier {
    /// A verifier for the given keys (at least one) and optional issuer /
    /// audience checks.
    pub fn new(
        keys: Vec<(Algorithm, DecodingKey)>,
        issuer: Option<&str>,
        audience: Option<&str>,
    ) -> Self {
        let keys = keys
            .into_iter()
            .map(|(alg, key)| {
                let mut v = Validation::new(alg);
                v.leeway = 0;
                v.validate_nbf = true;
                let mut required = vec![];
                if let Some(iss) = issuer {
                    v.set_issuer(&[iss]);
                    required.push("iss");
                }
                match audience {
                    Some(aud) => {
                        v.set_audience(&[aud]);
                        required.push("aud");
                    }
                    None => v.validate_aud = false,
                }
                v.set_required_spec_claims(&required);
                (alg, key, v)
            })
            .collect();
        Self { keys }
    }

    /// The token of a CONNECT auth payload: None when the payload has no
    /// `token` (or it is null or empty), `Err` when it is not a string.
    pub fn token_of(auth: &Value) -> Option<Result<&str, AuthFailure>> {
        match auth.get("token")? {
            Value::Null => None,
            Value::String(s) if s.is_empty() => None,
            Value::String(s) => Some(Ok(s)),
            _ => Some(Err(AuthFailure::Invalid)),
        }
    }

    /// Verifies `token` and extracts its claims.
    pub fn verify(&self, token: &str) -> Result<Token, AuthFailure> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| AuthFailure::Invalid)?;
        let (_, key, validation) = self
            .keys
            .iter()
            .find(|(alg, _, _)| *alg == header.alg)
            .ok_or(AuthFailure::Invalid)?;
        let data =
            jsonwebtoken::decode::<RawClaims>(token, key, validation).map_err(|e| {
                match e.kind() {
                    ErrorKind::ExpiredSignature => AuthFailure::Expired,
                    _ => AuthFailure::Invalid,
                }
            })?;
        let claims = data.claims;
        let patterns = |list: Vec<String>| -> Result<Vec<Pattern>, AuthFailure> {
            list.iter()
                .map(|p| Pattern::parse(p).map_err(|_| AuthFailure::Invalid))
                .collect()
        };
        let expires_ms = match claims.exp {
            Some(exp) if exp.is_finite() && exp >= 0.0 => Some((exp * 1000.0) as u64),
            Some(_) => return Err(AuthFailure::Invalid),
            None => None,
        };
        Ok(Token {
            sub: claims.sub,
            expires_ms,
            rooms: patterns(claims.rooms)?,
            publish: patterns(claims.publish)?,
            join: claims.join,
        })
    }
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{encode, EncodingKey, Header};

    use super::*;

    fn now() -> u64 {
        jsonwebtoken::get_current_timestamp()
    }

    fn hs(secret: &str, claims: Value) -> String {
        encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .expect("HS256 encodes")
    }

    fn verifier(issuer: Option<&str>, audience: Option<&str>) -> Verifier {
        Verifier::new(
            vec![(Algorithm::HS256, DecodingKey::from_secret(b"s3cret"))],
            issuer,
            audience,
        )
    }

    #[test]
    fn claims_are_extracted() {
        let t = hs(
            "s3cret",
            json!({"sub": "42", "exp": now() + 60, "rooms": ["chat:*"], "publish": ["user:{sub}"], "join": ["a"]}),
        );
        let tok = verifier(None, None).verify(&t).expect("valid token");
        assert_eq!(tok.sub.as_deref(), Some("42"));
        assert_eq!(tok.rooms, vec![Pattern::parse("chat:*").expect("valid")]);
        assert_eq!(tok.join, vec!["a".to_owned()]);
        assert!(tok.expires_ms.is_some());
        let no_exp = hs("s3cret", json!({"sub": "1"}));
        assert_eq!(
            verifier(None, None).verify(&no_exp).map(|t| t.expires_ms),
            Ok(None)
        );
    }

    #[test]
    fn refusals() {
        let v = verifier(None, None);
        assert_eq!(
            v.verify(&hs("other", json!({"sub": "1"}))),
            Err(AuthFailure::Invalid)
        );
        assert_eq!(v.verify("not.a.jwt"), Err(AuthFailure::Invalid));
        assert_eq!(
            v.verify(&hs("s3cret", json!({"exp": now() - 5}))),
            Err(AuthFailure::Expired)
        );
        assert_eq!(
            v.verify(&hs("s3cret", json!({"rooms": ["a*b"]}))),
            Err(AuthFailure::Invalid)
        );
        assert_eq!(
            v.verify(&hs("s3cret", json!({"rooms": "a"}))),
            Err(AuthFailure::Invalid)
        );
        assert_eq!(
            Verifier::token_of(&json!({"token": 5})),
            Some(Err(AuthFailure::Invalid))
        );
        assert_eq!(Verifier::token_of(&json!({})), None);
    }

    #[test]
    fn issuer_and_audience_when_set() {
        let v = verifier(Some("backend"), Some("ringcast"));
        let good = hs("s3cret", json!({"iss": "backend", "aud": "ringcast"}));
        assert!(v.verify(&good).is_ok());
        for bad in [
            json!({"iss": "other", "aud": "ringcast"}),
            json!({"iss": "backend", "aud": "other"}),
            json!({"aud": "ringcast"}),
            json!({"iss": "backend"}),
        ] {
            assert_eq!(v.verify(&hs("s3cret", bad)), Err(AuthFailure::Invalid));
        }
        // Not configured: not checked.
        let open = verifier(None, None);
        assert!(open
            .verify(&hs("s3cret", json!({"iss": "x", "aud": "y"})))
            .is_ok());
    }
}
