//! The key ring of the built-in authorization server: ES256 keys in `oauth_keys`, so every
//! replica signs and verifies with the same ones. The newest key that still signs is used;
//! when none does, a replica makes one (two replicas doing so at once is harmless: both
//! keys are published and valid). A key signs for `rotation`, then stays published until
//! the last token it signed has expired.

use std::sync::RwLock;
use std::time::{Duration, Instant};

use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{DecodingKey, EncodingKey};
use sea_orm::DatabaseConnection;
use serde_json::{Value, json};

use crate::db::oauth::{self as store, KeyRow};
use crate::db::operations::now;

/// Every `kid` of the ring starts so; the authenticator routes such tokens here.
pub const KID_PREFIX: &str = "ngw-";
/// The ring is read again at least this often (a key made by another replica).
const RELOAD_EVERY: Duration = Duration::from_secs(60);
/// An unknown `kid` makes the ring be read again at most this often.
const RELOAD_MIN: Duration = Duration::from_secs(1);

#[derive(Clone)]
pub struct Key {
    pub kid: String,
    pub encoding: EncodingKey,
    pub decoding: DecodingKey,
    pub jwk: Value,
    pub signs_until: chrono::DateTime<chrono::FixedOffset>,
}

struct Loaded {
    at: Instant,
    keys: Vec<Key>,
}

pub struct KeyRing {
    db: DatabaseConnection,
    rotation: Duration,
    /// How long a token lives: a key stays published this long after it stops signing.
    token_ttl: Duration,
    loaded: RwLock<Option<Loaded>>,
}

fn key_of(row: &KeyRow) -> Result<Key, String> {
    let der = STANDARD
        .decode(&row.private_pkcs8)
        .map_err(|e| format!("key {} is not base64: {e}", row.kid))?;
    let jwk: Value = serde_json::from_str(&row.public_jwk)
        .map_err(|e| format!("key {} has no readable JWK: {e}", row.kid))?;
    let (Some(x), Some(y)) = (jwk["x"].as_str(), jwk["y"].as_str()) else {
        return Err(format!("key {}'s JWK has no x and y", row.kid));
    };
    let decoding = DecodingKey::from_ec_components(x, y)
        .map_err(|e| format!("key {}'s JWK is not a P-256 key: {e}", row.kid))?;
    Ok(Key {
        kid: row.kid.clone(),
        encoding: EncodingKey::from_ec_der(&der),
        decoding,
        jwk,
        signs_until: row.signs_until,
    })
}

/// A new P-256 key: its row (private key as PKCS#8, public key as a JWK).
fn generate(rotation: Duration) -> Result<KeyRow, String> {
    let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
        .map_err(|_| "cannot make a signing key".to_string())?;
    let pkcs8 = pair
        .to_pkcs8v1()
        .map_err(|_| "cannot serialise the signing key".to_string())?;
    // The uncompressed point: 0x04, then x and y, 32 bytes each.
    let point = pair.public_key().as_ref();
    if point.len() != 65 || point[0] != 4 {
        return Err("the signing key's public point is not uncompressed P-256".into());
    }
    let mut id = [0u8; 12];
    getrandom::fill(&mut id).map_err(|e| format!("no randomness for a key id: {e}"))?;
    let kid = format!("{KID_PREFIX}{}", hex::encode(id));
    let jwk = json!({
        "kty": "EC",
        "crv": "P-256",
        "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
        "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
        "kid": kid,
        "alg": "ES256",
        "use": "sig",
    });
    let created = now();
    Ok(KeyRow {
        kid,
        private_pkcs8: STANDARD.encode(pkcs8.as_ref()),
        public_jwk: jwk.to_string(),
        created_at: created,
        signs_until: created
            + chrono::Duration::from_std(rotation).unwrap_or(chrono::Duration::days(30)),
    })
}

impl KeyRing {
    pub fn new(db: DatabaseConnection, rotation: Duration, token_ttl: Duration) -> KeyRing {
        KeyRing {
            db,
            rotation,
            token_ttl,
            loaded: RwLock::new(None),
        }
    }

    fn cached(&self, fresh_for: Duration) -> Option<Vec<Key>> {
        let loaded = self.loaded.read().unwrap_or_else(|p| p.into_inner());
        loaded
            .as_ref()
            .filter(|l| l.at.elapsed() < fresh_for)
            .map(|l| l.keys.clone())
    }

    async fn load(&self) -> Result<Vec<Key>, String> {
        let rows = store::keys(&self.db)
            .await
            .map_err(|e| format!("cannot read the signing keys: {e}"))?;
        let mut keys = Vec::with_capacity(rows.len());
        for row in &rows {
            match key_of(row) {
                Ok(key) => keys.push(key),
                Err(error) => tracing::warn!(%error, "a signing key is unusable; skipped"),
            }
        }
        *self.loaded.write().unwrap_or_else(|p| p.into_inner()) = Some(Loaded {
            at: Instant::now(),
            keys: keys.clone(),
        });
        Ok(keys)
    }

    async fn keys(&self) -> Result<Vec<Key>, String> {
        match self.cached(RELOAD_EVERY) {
            Some(keys) => Ok(keys),
            None => self.load().await,
        }
    }

    /// The key new tokens are signed with.
    pub async fn signing(&self) -> Result<Key, String> {
        let signs = |keys: &[Key]| keys.iter().find(|k| k.signs_until > now()).cloned();
        if let Some(key) = signs(&self.keys().await?) {
            return Ok(key);
        }
        let row = generate(self.rotation)?;
        let kid = row.kid.clone();
        store::insert_key(&self.db, row)
            .await
            .map_err(|e| format!("cannot store a new signing key: {e}"))?;
        tracing::info!(kid, "new OAuth signing key");
        signs(&self.load().await?).ok_or_else(|| "the new signing key did not load".into())
    }

    /// The key a token names, reading the ring again (at most once a second) when it is not
    /// known yet: another replica may have made it.
    pub async fn verifying(&self, kid: &str) -> Result<Option<Key>, String> {
        let find = |keys: &[Key]| keys.iter().find(|k| k.kid == kid).cloned();
        if let Some(key) = find(&self.keys().await?) {
            return Ok(Some(key));
        }
        if self.cached(RELOAD_MIN).is_some() {
            return Ok(None);
        }
        Ok(find(&self.load().await?))
    }

    /// The published key set (RFC 7517): every key a live token may have been signed with.
    pub async fn jwks(&self) -> Result<Value, String> {
        let ttl = chrono::Duration::from_std(self.token_ttl).unwrap_or(chrono::Duration::hours(1));
        let keys: Vec<Value> = self
            .keys()
            .await?
            .into_iter()
            .filter(|k| k.signs_until + ttl > now())
            .map(|k| k.jwk)
            .collect();
        Ok(json!({ "keys": keys }))
    }
}
