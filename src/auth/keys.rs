//! API keys: `ngw_<prefix>_<secret>`. The prefix (public, unique) finds the row; the
//! SHA-256 of the whole key is compared in constant time. Lookups are cached for a few
//! seconds, so a revoked or expired key stops working on every replica within
//! `CACHE_TTL`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sea_orm::DatabaseConnection;
use subtle::ConstantTimeEq;

use crate::db::keys::{self as store, ApiKeyRow};
use crate::service::keys::{hash, now, prefix_of, principal_of};
use crate::service::policy::Principal;

/// How long a looked-up key is trusted before the database is asked again.
pub const CACHE_TTL: Duration = Duration::from_secs(3);
/// `last_used_at` is written at most this often per key.
const TOUCH_EVERY: Duration = Duration::from_secs(60);

/// A key as shown to its owner once.
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
