//! The caller's own token, `GET /v1/acl/token/self`.
//!
//! Nomad 1.11.2 answers it with the `ACL.WhoAmI` RPC (`command/agent/acl_endpoint.go`
//! aclTokenSelf, `nomad/acl_endpoint.go` WhoAmI), which returns the identity
//! Authenticate resolved (`nomad/auth/auth.go`), not `ACL.GetToken` (whose "ACL support
//! disabled" error this endpoint never gives):
//! - ACLs off: `200` with `structs.ACLsDisabledToken` (accessor `acls-disabled`).
//! - ACLs on, no token: `200` with `structs.AnonymousACLToken` (accessor `anonymous`,
//!   policy `anonymous`).
//! - A known token: `200` with it, `X-Nomad-Index` its ModifyIndex.
//! - A UUID Nomad does not know: Authenticate's `403 Permission denied`.
//! - Another unknown secret: Authenticate tries it as a workload identity JWT, and the
//!   parse error is the answer, `500 failed to parse signed token: go-jose/go-jose:
//!   compact JWS format must have three parts` (`nomad/encrypter.go` VerifyClaim,
//!   go-jose v3.0.4 `jws.go`).
//! - An expired token: `500 ACL token expired` (`structs.ErrTokenExpired`, which WhoAmI
//!   returns as it is and the HTTP layer does not code).
//!
//! The JSON is `structs.ACLToken` through its MarshalJSON (`nomad/structs/acl.go`):
//! `ExpirationTTL` as Go duration text (empty when 0) before the other fields, `Hash`
//! as base64, `Roles` and a missing `ExpirationTime` null.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use base64::Engine;
use serde_json::{Value, json};

use crate::acl::{self, Principal, Unresolved};
use crate::api::{Ctx, Params, Q, block, json, principal, text};
use crate::world::rfc3339;

const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// The index Nomad would have written the fake's tokens at.
const TOKEN_INDEX: u64 = 1;

/// `helper.IsUUID`: 36 characters, hex digits in the 8-4-4-4-12 groups.
fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                c == '-'
            } else {
                c.is_ascii_hexdigit()
            }
        })
}

/// Go's `time.Duration.String()` for a whole number of nanoseconds.
fn go_duration_text(ns: i64) -> String {
    if ns == 0 {
        return "0s".into();
    }
    let (sign, ns) = if ns < 0 { ("-", -ns) } else { ("", ns) };
    if ns < 1_000_000_000 {
        let (unit, div) = if ns < 1_000 {
            ("ns", 1)
        } else if ns < 1_000_000 {
            ("µs", 1_000)
        } else {
            ("ms", 1_000_000)
        };
        let whole = ns / div;
        let frac = ns % div;
        let frac = if frac == 0 {
            String::new()
        } else {
            let digits = format!("{frac:0width$}", width = div.ilog10() as usize);
            format!(".{}", digits.trim_end_matches('0'))
        };
        return format!("{sign}{whole}{frac}{unit}");
    }
    let secs = ns / 1_000_000_000;
    let frac = ns % 1_000_000_000;
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    let frac = if frac == 0 {
        String::new()
    } else {
        format!(".{}", format!("{frac:09}").trim_end_matches('0'))
    };
    if h > 0 {
        format!("{sign}{h}h{m}m{s}{frac}s")
    } else if m > 0 {
        format!("{sign}{m}m{s}{frac}s")
    } else {
        format!("{sign}{s}{frac}s")
    }
}

/// A stand-in for the token's blake2b hash: 32 bytes derived from its fields.
fn hash(token: &acl::Token) -> String {
    let seed = format!(
        "{}|{}|{}",
        token.name,
        if token.management {
            "management"
        } else {
            "client"
        },
        token.policies.join(",")
    );
    let bytes: Vec<u8> = (0..2)
        .flat_map(|i| {
            acl::stable_uuid(&format!("{i}:{seed}"))
                .replace('-', "")
                .as_bytes()
                .chunks(2)
                .map(|p| {
                    u8::from_str_radix(std::str::from_utf8(p).unwrap_or("00"), 16).unwrap_or(0)
                })
                .collect::<Vec<u8>>()
        })
        .collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// `structs.ACLToken` as its MarshalJSON writes it.
fn token_json(token: &acl::Token) -> Value {
    json!({
        "ExpirationTTL": if token.expiration_ttl == 0 { String::new() } else { go_duration_text(token.expiration_ttl) },
        "AccessorID": token.accessor_id,
        "SecretID": token.secret,
        "Name": token.name,
        "Type": if token.management { "management" } else { "client" },
        "Policies": if token.policies.is_empty() { Value::Null } else { json!(token.policies) },
        "Roles": null,
        "Global": false,
        "Hash": hash(token),
        "CreateTime": rfc3339(token.create_time),
        "ExpirationTime": token.expiration_time.map(rfc3339),
        "CreateIndex": TOKEN_INDEX,
        "ModifyIndex": TOKEN_INDEX
    })
}

/// One of Nomad's built-in tokens (`structs.AnonymousACLToken`, `ACLsDisabledToken`).
fn builtin(accessor: &str, name: &str, policies: Value) -> Value {
    json!({
        "ExpirationTTL": "", "AccessorID": accessor, "SecretID": "", "Name": name,
        "Type": "client", "Policies": policies, "Roles": null, "Global": false, "Hash": null,
        "CreateTime": ZERO_TIME, "ExpirationTime": null, "CreateIndex": 0, "ModifyIndex": 0
    })
}

pub async fn token_self(State(shared): Ctx, headers: HeaderMap, Q(query): Params) -> Response {
    if let Err(e) = block(&shared, &query).await {
        return e;
    }
    let (value, index) = match principal(&shared, &headers) {
        Ok(Principal::Off) => (
            builtin("acls-disabled", "ACLs disabled token", Value::Null),
            0,
        ),
        Ok(Principal::Anonymous) => (
            builtin("anonymous", "Anonymous Token", json!(["anonymous"])),
            0,
        ),
        Ok(Principal::Token(t)) => (token_json(t), TOKEN_INDEX),
        Err(Unresolved::Expired) => {
            return text(StatusCode::INTERNAL_SERVER_ERROR, "ACL token expired");
        }
        Err(Unresolved::Unknown) => {
            let secret = headers
                .get("x-nomad-token")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            return if is_uuid(secret) {
                text(StatusCode::FORBIDDEN, acl::PERMISSION_DENIED)
            } else {
                text(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "failed to parse signed token: go-jose/go-jose: compact JWS format must have three parts",
                )
            };
        }
    };
    let mut response = json(&shared, &value);
    // WhoAmI answers with the token's ModifyIndex (0 for the built-in ones).
    response
        .headers_mut()
        .insert("x-nomad-index", HeaderValue::from(index));
    response
}

#[cfg(test)]
mod tests {
    use super::go_duration_text;

    #[test]
    fn durations_read_as_go_prints_them() {
        assert_eq!(go_duration_text(3_600_000_000_000), "1h0m0s");
        assert_eq!(go_duration_text(90_000_000_000), "1m30s");
        assert_eq!(go_duration_text(1_500_000_000), "1.5s");
        assert_eq!(go_duration_text(250_000_000), "250ms");
        assert_eq!(go_duration_text(0), "0s");
    }
}
