//! API keys: `ngw_<prefix>_<secret>`. The prefix (public, unique) finds the row; the
//! SHA-256 of the whole key is compared in constant time. Lookups are cached for a few
//! seconds, so a revoked or expired key stops working on every replica within
//! `CACHE_TTL`.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine;
use sea_orm::DatabaseConnection;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::policy::{Credential, Namespaces, Principal, Scope, Transport};
use crate::db::keys::{self as store, ApiKeyRow};

/// How long a looked-up key is trusted before the database is asked again.
pub const CACHE_TTL: Duration = Duration::from_secs(3);
/// `last_used_at` is written at most this often per key.
const TOUCH_EVERY: Duration = Duration::from_secs(60);
const PREFIX_BYTES: usize = 6;
const SECRET_BYTES: usize = 32;

/// A key as shown to its owner once.
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

fn now() -> chrono::DateTime<chrono::FixedOffset> {
    chrono::Utc::now().fixed_offset()
}

/// Creates a key; the returned token is the only time the secret exists outside the
/// caller's hands. `fixed_prefix` is for the bootstrap key, whose unique prefix makes
/// a second bootstrap (another replica starting at the same time) fail.
pub async fn create(
    db: &DatabaseConnection,
    spec: &KeySpec,
    fixed_prefix: Option<&str>,
) -> Result<NewKey, String> {
    if spec.scopes.is_empty() {
        return Err("a key needs at least one scope".into());
    }
    let prefix = match fixed_prefix {
        Some(p) => p.to_string(),
        None => hex::encode(random(PREFIX_BYTES)?),
    };
    let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random(SECRET_BYTES)?);
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
    store::insert(db, row)
        .await
        .map_err(|e| format!("cannot store the key: {e}"))?;
    Ok(NewKey { id, prefix, token })
}

/// Why a key was not accepted (all are 401s; the reason is for the caller and logs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyProblem {
    Malformed,
    Unknown,
    Revoked,
    Expired,
    Unavailable(String),
}

impl std::fmt::Display for KeyProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyProblem::Malformed => {
                f.write_str("the API key is malformed (expected ngw_<prefix>_<secret>)")
            }
            KeyProblem::Unknown => f.write_str("the API key is not known"),
            KeyProblem::Revoked => f.write_str("the API key has been revoked"),
            KeyProblem::Expired => f.write_str("the API key has expired"),
            KeyProblem::Unavailable(e) => write!(f, "API keys cannot be checked right now: {e}"),
        }
    }
}

struct Cached {
    at: Instant,
    row: Option<ApiKeyRow>,
}

/// Key lookups with a short cache.
pub struct KeyStore {
    db: DatabaseConnection,
    cache: Mutex<HashMap<String, Cached>>,
    touched: Mutex<HashMap<uuid::Uuid, Instant>>,
}

/// The strings of a JSON array column (scopes, namespaces).
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

impl KeyStore {
    pub fn new(db: DatabaseConnection) -> KeyStore {
        KeyStore {
            db,
            cache: Mutex::new(HashMap::new()),
            touched: Mutex::new(HashMap::new()),
        }
    }

    async fn row(&self, prefix: &str) -> Result<Option<ApiKeyRow>, KeyProblem> {
        {
            let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(c) = cache.get(prefix)
                && c.at.elapsed() < CACHE_TTL
            {
                return Ok(c.row.clone());
            }
        }
        let row = store::by_prefix(&self.db, prefix)
            .await
            .map_err(|e| KeyProblem::Unavailable(e.to_string()))?;
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() > 10_000 {
            cache.retain(|_, c| c.at.elapsed() < CACHE_TTL);
        }
        cache.insert(
            prefix.to_string(),
            Cached {
                at: Instant::now(),
                row: row.clone(),
            },
        );
        Ok(row)
    }

    /// Checks a presented key.
    pub async fn verify(&self, token: &str) -> Result<Principal, KeyProblem> {
        let prefix = prefix_of(token).ok_or(KeyProblem::Malformed)?;
        let row = self.row(prefix).await?.ok_or(KeyProblem::Unknown)?;
        let presented = hash(token);
        if !bool::from(presented.as_bytes().ct_eq(row.secret_sha256.as_bytes())) {
            return Err(KeyProblem::Unknown);
        }
        if row.revoked_at.is_some() {
            return Err(KeyProblem::Revoked);
        }
        if row.expires_at.is_some_and(|t| t <= now()) {
            return Err(KeyProblem::Expired);
        }
        self.touch(row.id);
        Ok(principal_of(&row))
    }

    /// Records use, at most once a minute per key, off the request path.
    fn touch(&self, id: uuid::Uuid) {
        let mut touched = self.touched.lock().unwrap_or_else(|p| p.into_inner());
        if touched.get(&id).is_some_and(|t| t.elapsed() < TOUCH_EVERY) {
            return;
        }
        touched.insert(id, Instant::now());
        let db = self.db.clone();
        tokio::spawn(async move {
            if let Err(error) = store::touch(&db, id, now()).await {
                tracing::debug!(%error, key = %id, "could not record the key's last use");
            }
        });
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
