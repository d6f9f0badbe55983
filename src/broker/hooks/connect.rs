//! The connect hook: async connect middleware that POSTs
//! `{"sid","nsp","auth","headers","query","address","user"}` to
//! `connect_url` and accepts, refuses or enriches the socket by the reply.
//!
//! `sid` is the socket's id (Node's `socket.id`, chosen before middleware
//! runs): the one the client sees, the event hook sends and `POST
//! /api/join {"sid"}` takes, so a backend can address the socket by it.
//! `user` is the token's `sub` (or null): the token was checked by the
//! middleware before this one, which left its claims in the shard's
//! one-entry slot (`grants::take_verified`); this middleware takes them
//! synchronously, before its first `.await`, so the slot still holds them.

use std::time::Instant;

use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::client::{self, CallError};
use super::metrics::{Hook, Outcome};
use super::{note, Admitted, Hooks};
use crate::broker::auth::{Token, Verifier};
use crate::broker::grants;
use crate::broker::pattern::Pattern;
use crate::server::{ConnectRequest, NamespaceBuilder, Refusal};

/// The longest refusal reason relayed from the backend's `"error"`.
const MAX_REASON_BYTES: usize = 256;

/// A 200 reply.
/// Other fields are ignored (a backend may say more than the broker reads).
#[derive(Deserialize)]
struct Reply {
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    join: Option<Vec<String>>,
    #[serde(default)]
    rooms: Option<Vec<String>>,
    #[serde(default)]
    publish: Option<Vec<String>>,
    #[serde(default)]
    data: Option<Value>,
}

/// Adds the connect hook to `ns` (after the token check, if any).
pub(in crate::broker) fn install(
    ns: &mut NamespaceBuilder,
    hooks: &std::sync::Arc<Hooks>,
    verifier: Option<std::sync::Arc<Verifier>>,
) {
    if hooks.connect.is_none() {
        return;
    }
    let hooks = hooks.clone();
    ns.use_middleware_async(move |req: ConnectRequest| {
        // Before the first await: the token middleware's claims are still
        // in the slot (see the module docs).
        let claims = claims_of(&req, verifier.as_deref());
        let body = body(&req, claims.as_ref());
        let hooks = hooks.clone();
        async move {
            let verdict = ask(&hooks, &body).await;
            let reply = verdict?;
            let claims = merge(claims, reply.0);
            req.set_data(Admitted {
                data: reply.1,
                claims: Some(claims),
            });
            Ok(())
        }
    });
}

/// The verified claims of the request's token, if it has one.
fn claims_of(req: &ConnectRequest, verifier: Option<&Verifier>) -> Option<Token> {
    let verifier = verifier?;
    let Some(Ok(token)) = Verifier::token_of(req.auth()) else {
        return None;
    };
    grants::take_verified(token).map_or_else(|| verifier.verify(token).ok(), Some)
}

/// The JSON the backend receives.
fn body(req: &ConnectRequest, claims: Option<&Token>) -> Vec<u8> {
    let hs = req.handshake();
    let mut headers = Map::new();
    for (name, value) in hs.headers() {
        match headers.get_mut(name) {
            Some(Value::String(v)) => {
                v.push_str(", ");
                v.push_str(value);
            }
            _ => {
                headers.insert(name.to_owned(), Value::String(value.to_owned()));
            }
        }
    }
    let mut query = Map::new();
    for pair in hs.query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let k = ringcast_proto::http::percent_decode(k);
        // The first occurrence wins, as in the Engine.IO query.
        query
            .entry(k)
            .or_insert_with(|| Value::String(ringcast_proto::http::percent_decode(v)));
    }
    let body = json!({
        "sid": req.id(),
        "nsp": req.namespace(),
        "auth": req.auth(),
        "headers": headers,
        "query": query,
        "address": hs.address,
        "user": claims.and_then(|c| c.sub.as_deref()),
    });
    // Invariant: a serde_json Value always serializes.
    serde_json::to_vec(&body).unwrap_or_default()
}

/// Calls the backend: the reply's grants and data, or the refusal.
async fn ask(hooks: &Hooks, body: &[u8]) -> Result<(Grant, Value), Refusal> {
    // Invariant: `install` registers this middleware only with a connect URL.
    let Some(endpoint) = hooks.connect.as_ref() else {
        return Err(refusal("unavailable"));
    };
    let started = Instant::now();
    let result = client::post(endpoint, body, hooks.timeout).await;
    let took = started.elapsed();
    let response = match result {
        Ok(r) => r,
        Err(e) => {
            let outcome = match e {
                CallError::Timeout => Outcome::TimedOut,
                _ => Outcome::Failed,
            };
            note(Hook::Connect, &endpoint.url, took, outcome, Some(&e));
            return Err(refusal("unavailable"));
        }
    };
    if response.status != 200 {
        note(Hook::Connect, &endpoint.url, took, Outcome::Refused, None);
        return Err(refusal(&reason_of(&response.body)));
    }
    match parse_reply(&response.body) {
        Ok(reply) => {
            note(Hook::Connect, &endpoint.url, took, Outcome::Answered, None);
            Ok(reply)
        }
        Err(what) => {
            let e = CallError::Malformed(what);
            note(
                Hook::Connect,
                &endpoint.url,
                took,
                Outcome::Failed,
                Some(&e),
            );
            Err(refusal("unavailable"))
        }
    }
}

/// What a 200 reply adds to the token.
#[derive(Debug, Default, PartialEq)]
struct Grant {
    user: Option<String>,
    join: Vec<String>,
    rooms: Vec<Pattern>,
    publish: Vec<Pattern>,
}

/// A 200 reply's grants and data; `Err` says why it does not parse.
fn parse_reply(body: &[u8]) -> Result<(Grant, Value), &'static str> {
    // An empty body accepts with nothing added.
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok((Grant::default(), Value::Null));
    }
    let reply: Reply = serde_json::from_slice(body)
        .map_err(|_| "the 200 reply is not the expected JSON object")?;
    let patterns = |list: Option<Vec<String>>| -> Result<Vec<Pattern>, &'static str> {
        list.unwrap_or_default()
            .iter()
            .map(|p| Pattern::parse(p).map_err(|_| "invalid pattern in the reply"))
            .collect()
    };
    Ok((
        Grant {
            user: reply.user,
            join: reply.join.unwrap_or_default(),
            rooms: patterns(reply.rooms)?,
            publish: patterns(reply.publish)?,
        },
        reply.data.unwrap_or(Value::Null),
    ))
}

/// The reason of a refusal: the reply's `"error"` (a non-empty string),
/// else `"denied"`.
fn reason_of(body: &[u8]) -> String {
    let error = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| match v.get("error") {
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            _ => None,
        });
    match error {
        Some(mut s) => {
            if s.len() > MAX_REASON_BYTES {
                let mut end = MAX_REASON_BYTES;
                while !s.is_char_boundary(end) {
                    end -= 1;
                }
                s.truncate(end);
            }
            s
        }
        None => "denied".to_owned(),
    }
}

/// The token's claims with the hook's grant added: the hook's user
/// replaces `sub`, its lists extend the token's.
fn merge(claims: Option<Token>, grant: Grant) -> Token {
    let mut t = claims.unwrap_or_else(|| Token {
        sub: None,
        expires_ms: None,
        rooms: Vec::new(),
        publish: Vec::new(),
        join: Vec::new(),
    });
    if grant.user.is_some() {
        t.sub = grant.user;
    }
    t.join.extend(grant.join);
    t.rooms.extend(grant.rooms);
    t.publish.extend(grant.publish);
    t
}

fn refusal(reason: &str) -> Refusal {
    Refusal {
        message: "unauthorized".into(),
        data: Some(json!({ "reason": reason })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies() {
        let (g, data) = parse_reply(
            br#"{"user":"u1","join":["a"],"rooms":["chat:*"],"publish":["user:{sub}"],"data":{"x":1}}"#,
        )
        .expect("valid");
        assert_eq!(g.user.as_deref(), Some("u1"));
        assert_eq!(g.join, ["a"]);
        assert_eq!((g.rooms.len(), g.publish.len()), (1, 1));
        assert_eq!(data, json!({"x": 1}));
        assert_eq!(parse_reply(b"").map(|r| r.0), Ok(Grant::default()));
        assert_eq!(parse_reply(b"{}").map(|r| r.1), Ok(Value::Null));
        for bad in [
            &b"[1]"[..],
            b"{\"join\":\"a\"}",
            b"{\"rooms\":[\"a*b\"]}",
            b"nope",
        ] {
            assert!(
                parse_reply(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn reasons() {
        assert_eq!(reason_of(br#"{"error":"banned"}"#), "banned");
        assert_eq!(reason_of(br#"{"error":""}"#), "denied");
        assert_eq!(reason_of(br#"{"error":5}"#), "denied");
        assert_eq!(reason_of(b"<html>"), "denied");
        let long = format!("{{\"error\":\"{}\"}}", "é".repeat(200));
        assert!(reason_of(long.as_bytes()).len() <= MAX_REASON_BYTES);
    }

    #[test]
    fn merging() {
        let token = Token {
            sub: Some("t".into()),
            expires_ms: Some(5),
            rooms: vec![],
            publish: vec![],
            join: vec!["x".into()],
        };
        let grant = Grant {
            user: Some("h".into()),
            join: vec!["y".into()],
            ..Grant::default()
        };
        let m = merge(Some(token), grant);
        assert_eq!(
            (m.sub.as_deref(), m.join.as_slice(), m.expires_ms),
            (Some("h"), &["x".to_owned(), "y".to_owned()][..], Some(5))
        );
        assert_eq!(merge(None, Grant::default()).sub, None);
    }
}
