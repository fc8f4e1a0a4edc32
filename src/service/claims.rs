//! Reading identity tokens the same way wherever they come from (the JWTs callers present,
//! the ID tokens of the team's identity provider): list claims, the algorithm of a published
//! key, and the scopes a caller's groups grant.

use std::collections::BTreeSet;
use std::str::FromStr;

use jsonwebtoken::Algorithm;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk};
use serde_json::Value;

use crate::config::Scope;

/// A claim's strings: a JSON array of strings, or one string split on spaces and commas.
pub fn strings(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(s)) => s
            .split([' ', ','])
            .filter(|p| !p.is_empty())
            .map(String::from)
            .collect(),
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_str().map(String::from))
            .collect(),
        _ => Vec::new(),
    }
}

/// The algorithm a JWK is for: its `alg`, else what its key type and curve imply. Symmetric
/// keys never count (HS/RS confusion, RFC 8725 §3.1).
pub fn key_algorithm(jwk: &Jwk) -> Option<Algorithm> {
    if let Some(alg) = &jwk.common.key_algorithm {
        return Algorithm::from_str(&alg.to_string()).ok();
    }
    match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => Some(Algorithm::RS256),
        AlgorithmParameters::EllipticCurve(p) => match p.curve {
            EllipticCurve::P256 => Some(Algorithm::ES256),
            EllipticCurve::P384 => Some(Algorithm::ES384),
            _ => None,
        },
        AlgorithmParameters::OctetKeyPair(_) => Some(Algorithm::EdDSA),
        _ => None,
    }
}

/// The scopes `groups` grant under the group mapping (`GATEWAY_JWT_GROUP_SCOPES`).
pub fn group_scopes(groups: &[String], mapping: &[(String, Vec<String>)]) -> BTreeSet<Scope> {
    mapping
        .iter()
        .filter(|(group, _)| groups.contains(group))
        .flat_map(|(_, granted)| granted.iter().filter_map(|s| Scope::parse(s)))
        .collect()
}
