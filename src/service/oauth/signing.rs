//! The key ring of the built-in authorization server: ES256 keys in `oauth_keys`, so every
//! replica signs and verifies with the same ones. The newest key that still signs is used;
//! when none does, a replica makes one (two replicas doing so at once is harmless: both
//! keys are published and valid). A key signs for `rotation`, then stays published until
//! the last token it signed has expired.
//!
//! With `GATEWAY_OAUTH_KEY_SECRET` the private keys are sealed before they are stored
//! (AES-256-GCM under a key derived from the secret with HKDF-SHA256, RFC 5869; the `kid` is
//! the associated data, so a sealed key cannot be moved to another row): a copy of the
//! database alone cannot mint tokens. A key that does not open (sealed under another secret,
//! or sealed while the gateway now has none) still verifies the tokens it signed (its public
//! JWK is public) but signs no more, so a new key takes over; unsealed keys from before the
//! secret was set keep signing until they rotate out.

use std::sync::RwLock;
use std::time::{Duration, Instant};

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::hkdf::{HKDF_SHA256, Salt};
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{DecodingKey, EncodingKey};
use sea_orm::DatabaseConnection;
use serde_json::{Value, json};

use crate::config::Secret;
use crate::db::oauth::{self as store, KeyRow};
use crate::db::operations::now;

/// Every `kid` of the ring starts so; the authenticator routes such tokens here.
pub const KID_PREFIX: &str = "ngw-";
/// The ring is read again at least this often (a key made by another replica).
const RELOAD_EVERY: Duration = Duration::from_secs(60);
/// An unknown `kid` makes the ring be read again at most this often.
const RELOAD_MIN: Duration = Duration::from_secs(1);

/// How a sealed private key starts in `oauth_keys.private_pkcs8`; then base64 of the nonce
/// and the ciphertext with its tag.
const SEALED: &str = "sealed-v1:";

/// Seals and opens private keys with the key derived from `GATEWAY_OAUTH_KEY_SECRET`.
struct Sealer(LessSafeKey);

impl Sealer {
    fn new(secret: &Secret) -> Result<Sealer, String> {
        let prk = Salt::new(HKDF_SHA256, b"nomad-gateway oauth signing keys")
            .extract(secret.expose().as_bytes());
        let derived = prk
            .expand(&[b"aes-256-gcm v1"], &AES_256_GCM)
            .map_err(|_| "cannot derive the key-sealing key".to_string())?;
        Ok(Sealer(LessSafeKey::new(UnboundKey::from(derived))))
    }

    fn seal(&self, kid: &str, plain: &[u8]) -> Result<String, String> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|e| format!("no randomness for a nonce: {e}"))?;
        let mut data = plain.to_vec();
        self.0
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(kid.as_bytes()),
                &mut data,
            )
            .map_err(|_| format!("cannot seal key {kid}"))?;
        Ok(format!(
            "{SEALED}{}",
            STANDARD.encode([nonce.as_slice(), &data].concat())
        ))
    }

    fn open(&self, kid: &str, sealed: &str) -> Result<Vec<u8>, String> {
        let bytes = STANDARD
            .decode(sealed)
            .map_err(|e| format!("key {kid}'s sealed form is not base64: {e}"))?;
        if bytes.len() <= NONCE_LEN {
            return Err(format!("key {kid}'s sealed form is too short"));
        }
        let (nonce, data) = bytes.split_at(NONCE_LEN);
        let mut data = data.to_vec();
        let nonce = Nonce::try_assume_unique_for_key(nonce)
            .map_err(|_| format!("key {kid}'s nonce is malformed"))?;
        let plain = self
            .0
            .open_in_place(nonce, Aad::from(kid.as_bytes()), &mut data)
            .map_err(|_| {
                format!("key {kid} does not open with this GATEWAY_OAUTH_KEY_SECRET (it was sealed under another)")
            })?;
        Ok(plain.to_vec())
    }
}

#[derive(Clone)]
pub struct Key {
    pub kid: String,
    /// `None` when its private part does not open here: it still verifies, never signs.
    pub encoding: Option<EncodingKey>,
    pub decoding: DecodingKey,
    pub jwk: Value,
    pub signs_until: chrono::DateTime<chrono::FixedOffset>,
}

/// A key that signs: its `kid` and private key.
#[derive(Clone)]
pub struct Signer {
    pub kid: String,
    pub encoding: EncodingKey,
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
    /// Seals new keys and opens sealed ones, with `GATEWAY_OAUTH_KEY_SECRET`.
    sealer: Option<Sealer>,
    loaded: RwLock<Option<Loaded>>,
}

/// The private key of a row as PKCS#8, opened when it is sealed.
fn private_of(row: &KeyRow, sealer: Option<&Sealer>) -> Result<Vec<u8>, String> {
    match (row.private_pkcs8.strip_prefix(SEALED), sealer) {
        (Some(sealed), Some(sealer)) => sealer.open(&row.kid, sealed),
        (Some(_), None) => Err(format!(
            "key {} is sealed and GATEWAY_OAUTH_KEY_SECRET is not set",
            row.kid
        )),
        (None, _) => STANDARD
            .decode(&row.private_pkcs8)
            .map_err(|e| format!("key {} is not base64: {e}", row.kid)),
    }
}

fn key_of(row: &KeyRow, sealer: Option<&Sealer>) -> Result<Key, String> {
    let encoding = match private_of(row, sealer) {
        Ok(der) => Some(EncodingKey::from_ec_der(&der)),
        Err(problem) => {
            tracing::warn!(
                kid = row.kid,
                %problem,
                "a signing key cannot sign here; it still verifies the tokens it signed"
            );
            None
        }
    };
    let jwk: Value = serde_json::from_str(&row.public_jwk)
        .map_err(|e| format!("key {} has no readable JWK: {e}", row.kid))?;
    let (Some(x), Some(y)) = (jwk["x"].as_str(), jwk["y"].as_str()) else {
        return Err(format!("key {}'s JWK has no x and y", row.kid));
    };
    let decoding = DecodingKey::from_ec_components(x, y)
        .map_err(|e| format!("key {}'s JWK is not a P-256 key: {e}", row.kid))?;
    Ok(Key {
        kid: row.kid.clone(),
        encoding,
        decoding,
        jwk,
        signs_until: row.signs_until,
    })
}

/// A new P-256 key: its row (private key as PKCS#8, sealed when there is a sealer; public
/// key as a JWK).
fn generate(rotation: Duration, sealer: Option<&Sealer>) -> Result<KeyRow, String> {
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
    let private_pkcs8 = match sealer {
        Some(sealer) => sealer.seal(&kid, pkcs8.as_ref())?,
        None => STANDARD.encode(pkcs8.as_ref()),
    };
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
        private_pkcs8,
        public_jwk: jwk.to_string(),
        created_at: created,
        signs_until: created
            + chrono::Duration::from_std(rotation).unwrap_or(chrono::Duration::days(30)),
    })
}

impl KeyRing {
    pub fn new(
        db: DatabaseConnection,
        rotation: Duration,
        token_ttl: Duration,
        secret: Option<&Secret>,
    ) -> Result<KeyRing, String> {
        Ok(KeyRing {
            db,
            rotation,
            token_ttl,
            sealer: secret.map(Sealer::new).transpose()?,
            loaded: RwLock::new(None),
        })
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
            match key_of(row, self.sealer.as_ref()) {
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

    /// The key new tokens are signed with: the newest that still signs and opens here.
    pub async fn signing(&self) -> Result<Signer, String> {
        let signs = |keys: &[Key]| {
            keys.iter().find_map(|k| match &k.encoding {
                Some(encoding) if k.signs_until > now() => Some(Signer {
                    kid: k.kid.clone(),
                    encoding: encoding.clone(),
                }),
                _ => None,
            })
        };
        if let Some(key) = signs(&self.keys().await?) {
            return Ok(key);
        }
        let row = generate(self.rotation, self.sealer.as_ref())?;
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

#[cfg(test)]
mod tests {
    use sea_orm::sea_query::Expr;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

    use super::*;
    use crate::db::entities::oauth_key;

    const TTL: Duration = Duration::from_secs(900);

    fn ring(db: &DatabaseConnection, secret: Option<&str>) -> KeyRing {
        let secret = secret.map(Secret::new);
        KeyRing::new(db.clone(), Duration::from_secs(3600), TTL, secret.as_ref()).unwrap()
    }

    /// Moves a key's end of signing to `ago` in the past.
    async fn stopped(db: &DatabaseConnection, kid: &str, ago: chrono::Duration) {
        oauth_key::Entity::update_many()
            .col_expr(oauth_key::Column::SignsUntil, Expr::value(now() - ago))
            .filter(oauth_key::Column::Kid.eq(kid))
            .exec(db)
            .await
            .unwrap();
    }

    fn kids(jwks: &Value) -> Vec<String> {
        let mut kids: Vec<String> = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_string())
            .collect();
        kids.sort();
        kids
    }

    /// A token signed by `key` verifies with the key the ring finds for its kid.
    async fn signs_and_verifies(ring: &KeyRing, key: &Signer) {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        header.kid = Some(key.kid.clone());
        let claims = json!({"sub": "alice", "exp": chrono::Utc::now().timestamp() + 60});
        let token = jsonwebtoken::encode(&header, &claims, &key.encoding).unwrap();
        let found = ring
            .verifying(&key.kid)
            .await
            .unwrap()
            .expect("the kid is known");
        let validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
        let read = jsonwebtoken::decode::<Value>(&token, &found.decoding, &validation).unwrap();
        assert_eq!(read.claims["sub"], "alice");
    }

    #[tokio::test]
    async fn a_key_signs_for_its_rotation_then_stays_published_until_its_tokens_expire() {
        let db = crate::db::in_memory().await;
        let ring = ring(&db, None);
        let first = ring.signing().await.unwrap();
        assert!(first.kid.starts_with(KID_PREFIX));
        assert_eq!(ring.signing().await.unwrap().kid, first.kid);
        signs_and_verifies(&ring, &first).await;

        // Its rotation is over: the next signing makes a new key; both are published, since
        // tokens the first signed may still be alive.
        stopped(&db, &first.kid, chrono::Duration::minutes(1)).await;
        ring.load().await.unwrap();
        let second = ring.signing().await.unwrap();
        assert_ne!(second.kid, first.kid);
        signs_and_verifies(&ring, &second).await;
        let mut both = vec![first.kid.clone(), second.kid.clone()];
        both.sort();
        assert_eq!(kids(&ring.jwks().await.unwrap()), both);
        assert!(ring.verifying(&first.kid).await.unwrap().is_some());

        // Longer ago than a token lives: no longer published.
        stopped(&db, &first.kid, chrono::Duration::minutes(16)).await;
        ring.load().await.unwrap();
        assert_eq!(kids(&ring.jwks().await.unwrap()), vec![second.kid.clone()]);
        assert_eq!(ring.signing().await.unwrap().kid, second.kid);
    }

    #[tokio::test]
    async fn sealed_keys_open_only_with_their_secret() {
        let db = crate::db::in_memory().await;
        let secret = "a-secret-of-at-least-thirty-two-characters";
        let sealed_ring = ring(&db, Some(secret));
        let key = sealed_ring.signing().await.unwrap();
        signs_and_verifies(&sealed_ring, &key).await;
        let rows = store::keys(&db).await.unwrap();
        assert_eq!(rows.len(), 1);
        let stored = &rows[0].private_pkcs8;
        assert!(stored.starts_with(SEALED), "{stored}");
        // What is stored is not the key; opened, it is.
        let bytes = STANDARD.decode(&stored[SEALED.len()..]).unwrap();
        assert!(EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &bytes).is_err());
        let sealer = Sealer::new(&Secret::new(secret)).unwrap();
        let opened = sealer.open(&key.kid, &stored[SEALED.len()..]).unwrap();
        assert!(EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &opened).is_ok());

        // The same secret on another replica opens it.
        let replica = ring(&db, Some(secret));
        assert_eq!(replica.signing().await.unwrap().kid, key.kid);

        // Another secret, or none: the sealed key cannot sign there, so a new key takes
        // over; the old one still verifies the tokens it signed (its public half is public).
        let other = ring(&db, Some("another-secret-of-at-least-thirty-two-chars"));
        let fresh = other.signing().await.unwrap();
        assert_ne!(fresh.kid, key.kid);
        signs_and_verifies(&other, &key).await;
        signs_and_verifies(&other, &fresh).await;
        let unsealed = ring(&db, None);
        let plain = unsealed.signing().await.unwrap();
        assert!(![key.kid.as_str(), fresh.kid.as_str()].contains(&plain.kid.as_str()));
        signs_and_verifies(&unsealed, &key).await;
        let published = kids(&unsealed.jwks().await.unwrap());
        assert_eq!(published.len(), 3, "{published:?}");

        // A sealed key copied onto another row does not open there (the kid is bound in).
        let moved = &stored[SEALED.len()..];
        assert!(sealer.open(&key.kid, moved).is_ok());
        assert!(
            sealer
                .open("ngw-other", moved)
                .unwrap_err()
                .contains("does not open with this GATEWAY_OAUTH_KEY_SECRET")
        );
    }
}
