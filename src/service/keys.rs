//! API keys: the format `ngw_<prefix>_<secret>`, the hash that is stored, and making
//! new keys (the admin operations, the CLI and the bootstrap key). Checking a presented
//! key is `auth::keys::KeyStore`.

use std::collections::BTreeSet;

use base64::Engine;
use sea_orm::DatabaseConnection;
use sha2::{Digest, Sha256};

use super::policy::{Credential, Namespaces, Principal, Scope, Transport};
use crate::db::keys::{self as store, ApiKeyRow};

const PREFIX_BYTES: usize = 6;
const SECRET_BYTES: usize = 32;

#[derive(Debug, Clone)]
pub struct NewKey {
    pub id: uuid::Uuid,
    pub prefix: String,
    pub token: String,
}

pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn random(bytes: usize) -> Result<Vec<u8>, String> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(|e| format!("no randomness for a new key: {e}"))?;
    Ok(buf)
}

/// The prefix of a well-formed key, or `None`.
pub fn prefix_of(token: &str) -> Option<&str> {
    let rest = token.strip_prefix("ngw_")?;
    let (prefix, secret) = rest.split_once('_')?;
    (!prefix.is_empty() && secret.len() >= 40).then_some(prefix)
}

pub fn looks_like_key(token: &str) -> bool {
    token.starts_with("ngw_")
}

/// What a new key may do.
#[derive(Debug, Clone)]
pub struct KeySpec {
    pub name: String,
    pub owner: String,
    pub scopes: BTreeSet<Scope>,
    pub namespaces: Vec<String>,
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

pub fn now() -> chrono::DateTime<chrono::FixedOffset> {
    chrono::Utc::now().fixed_offset()
}

/// Creates a key; the returned token is the only time the secret exists outside the
/// caller's hands. `fixed_prefix` is for the bootstrap key, whose unique prefix makes
/// a second bootstrap (another replica starting at the same time) fail.
/// Why a key was not made.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error("a key needs at least one scope")]
    NoScope,
    #[error("{0}")]
    NoRandomness(String),
    /// The database did not take the row.
    #[error("cannot store the key: {0}")]
    Store(sea_orm::DbErr),
}

pub async fn create(
    db: &DatabaseConnection,
    spec: &KeySpec,
    fixed_prefix: Option<&str>,
) -> Result<NewKey, CreateError> {
    if spec.scopes.is_empty() {
        return Err(CreateError::NoScope);
    }
    let prefix = match fixed_prefix {
        Some(p) => p.to_string(),
        None => hex::encode(random(PREFIX_BYTES).map_err(CreateError::NoRandomness)?),
    };
    let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(random(SECRET_BYTES).map_err(CreateError::NoRandomness)?);
    let token = format!("ngw_{prefix}_{secret}");
    let id = uuid::Uuid::now_v7();
    let row = ApiKeyRow {
        id,
        prefix: prefix.clone(),
        secret_sha256: hash(&token),
        name: spec.name.clone(),
        owner: spec.owner.clone(),
        scopes: serde_json::json!(spec.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>()),
        namespaces: serde_json::json!(spec.namespaces),
        created_at: now(),
        expires_at: spec.expires_at.map(|t| t.fixed_offset()),
        last_used_at: None,
        revoked_at: None,
    };
    store::insert(db, row).await.map_err(CreateError::Store)?;
    Ok(NewKey { id, prefix, token })
}

/// Why a key was not accepted (all are 401s; the reason is for the caller and logs).
pub fn strings(value: &serde_json::Value) -> Vec<String> {
    value
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

pub fn principal_of(row: &ApiKeyRow) -> Principal {
    Principal {
        subject: if row.owner.is_empty() {
            format!("key:{}", row.name)
        } else {
            row.owner.clone()
        },
        credential: Credential::ApiKey {
            id: row.id,
            prefix: row.prefix.clone(),
        },
        scopes: strings(&row.scopes)
            .iter()
            .filter_map(|s| Scope::parse(s))
            .collect(),
        namespaces: Namespaces::from_list(strings(&row.namespaces)),
        transport: Transport::Rest,
        client_addr: None,
    }
}

/// On first start with authentication on and no keys at all: one admin key, printed
/// once on the terminal (never logged). The fixed prefix is unique in the table, so two
/// replicas starting together cannot both create one.
pub async fn bootstrap_admin_key(db: &DatabaseConnection) -> Result<(), String> {
    let count = store::count(db)
        .await
        .map_err(|e| format!("cannot count API keys: {e}"))?;
    if count > 0 {
        return Ok(());
    }
    let spec = KeySpec {
        name: "bootstrap admin".into(),
        owner: "admin".into(),
        scopes: Scope::ALL.into_iter().collect(),
        namespaces: vec!["*".into()],
        expires_at: None,
    };
    match create(db, &spec, Some("bootstrap")).await {
        Ok(key) => {
            eprintln!(
                "\nnomad-gateway: no API keys existed, so this admin key was created. It is shown only this once; store it now:\n\n    {}\n\nSend it as `Authorization: Bearer <key>`; create narrower keys with `nomad-gateway api-key create`.\n",
                key.token
            );
            tracing::info!(key.prefix = %key.prefix, "created the bootstrap admin API key");
            Ok(())
        }
        // Another replica created it first.
        Err(_) if store::count(db).await.unwrap_or(0) > 0 => Ok(()),
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_format() {
        let token = format!("ngw_abc123_{}", "x".repeat(43));
        assert_eq!(prefix_of(&token), Some("abc123"));
        assert_eq!(prefix_of("ngw_abc123_short"), None);
        assert_eq!(prefix_of("abc"), None);
        assert_eq!(hash("a").len(), 64);
        assert_ne!(hash("a"), hash("b"));
    }
}
