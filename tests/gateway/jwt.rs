//! JWTs: HS256 with the gateway's secret, ES256 from a JWKS served here, and the attacks
//! and mistakes that must be refused.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use fake_nomad::{FakeNomad, Options};
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::auth::auth_env;
use crate::support::{Gateway, TestDb, run, set};

const SECRET: &str = "a-test-secret-that-is-longer-than-32-bytes";
const ISSUER: &str = "https://idp.example.test";
const AUDIENCE: &str = "nomad-gateway";

struct Idp {
    keys: Arc<Mutex<Vec<Jwk>>>,
    url: String,
}

async fn serve_jwks() -> Idp {
    let keys: Arc<Mutex<Vec<Jwk>>> = Arc::new(Mutex::new(Vec::new()));
    let shared = keys.clone();
    let app = axum::Router::new().route(
        "/jwks",
        axum::routing::get(move || {
            let keys = shared.clone();
            async move {
                axum::Json(JwkSet {
                    keys: keys.lock().unwrap().clone(),
                })
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/jwks", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Idp { keys, url }
}

struct EcKey {
    kid: String,
    encoding: EncodingKey,
    jwk: Jwk,
}

fn ec_key(kid: &str) -> EcKey {
    let pair = rcgen::KeyPair::generate().unwrap();
    let encoding = EncodingKey::from_ec_pem(pair.serialize_pem().as_bytes()).unwrap();
    let mut jwk = Jwk::from_encoding_key(&encoding, Algorithm::ES256).unwrap();
    jwk.common.key_id = Some(kid.to_string());
    EcKey {
        kid: kid.to_string(),
        encoding,
        jwk,
    }
}

fn claims(sub: &str, exp_in: i64, nbf_in: i64) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({
        "sub": sub, "iss": ISSUER, "aud": AUDIENCE,
        "exp": now + exp_in, "nbf": now + nbf_in, "iat": now,
        "scope": "nomad:read nomad:write", "nomad_namespaces": ["default"]
    })
}

fn es256(key: &EcKey, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(key.kid.clone());
    jsonwebtoken::encode(&header, claims, &key.encoding).unwrap()
}

fn hs256(secret: &[u8], claims: &Value) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret),
    )
    .unwrap()
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

async fn status(http: &reqwest::Client, gateway: &Gateway, token: &str) -> (u16, String) {
    let response = http
        .get(gateway.url("/api/v1/jobs"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn jwts_are_checked_for_key_algorithm_issuer_audience_and_time() {
    let fake = FakeNomad::start(Options::default()).await;
    let idp = serve_jwks().await;
    let first = ec_key("key-1");
    idp.keys.lock().unwrap().push(first.jwk.clone());
    let db = TestDb::new().await;
    let mut env = auth_env(&db, &fake);
    set(&mut env, "GATEWAY_JWT_SECRET", SECRET);
    set(&mut env, "GATEWAY_JWT_JWKS_URL", &idp.url);
    set(&mut env, "GATEWAY_JWT_ISSUER", ISSUER);
    set(&mut env, "GATEWAY_JWT_AUDIENCE", AUDIENCE);
    let gateway = Gateway::start(&env);
    gateway
        .wait_for_log("JWKS loaded", Duration::from_secs(5))
        .await;
    let http = reqwest::Client::new();

    // Accepted: HS256 with the secret, ES256 with a JWKS key, and `token mint`'s output.
    assert_eq!(
        status(
            &http,
            &gateway,
            &hs256(SECRET.as_bytes(), &claims("alice", 300, 0))
        )
        .await
        .0,
        200
    );
    assert_eq!(
        status(&http, &gateway, &es256(&first, &claims("bob", 300, 0)))
            .await
            .0,
        200
    );
    let (code, minted, stderr) = run(
        &[
            "token",
            "mint",
            "--sub",
            "carol",
            "--scope",
            "nomad:read",
            "--ttl",
            "10m",
        ],
        &env,
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(status(&http, &gateway, minted.trim()).await.0, 200);

    // Refused, each with a reason.
    let header_none = b64(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = b64(claims("mallory", 300, 0).to_string().as_bytes());
    let alg_none = format!("{header_none}.{payload}.");
    let rsa = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap();
    let rsa_public_pem = rsa.public_key_pem();
    let mut rsa_jwk = Jwk::from_encoding_key(
        &EncodingKey::from_rsa_pem(rsa.serialize_pem().as_bytes()).unwrap(),
        Algorithm::RS256,
    )
    .unwrap();
    rsa_jwk.common.key_id = Some("rsa-1".into());
    idp.keys.lock().unwrap().push(rsa_jwk);
    let mut confused_header = Header::new(Algorithm::HS256);
    confused_header.kid = Some("rsa-1".into());
    let confused = jsonwebtoken::encode(
        &confused_header,
        &claims("mallory", 300, 0),
        &EncodingKey::from_secret(rsa_public_pem.as_bytes()),
    )
    .unwrap();
    let mut wrong_issuer = claims("mallory", 300, 0);
    wrong_issuer["iss"] = json!("https://evil.example");
    let mut wrong_audience = claims("mallory", 300, 0);
    wrong_audience["aud"] = json!("someone-else");
    let cases = [
        ("alg none", alg_none),
        ("HS256 signed with the RSA public key", confused),
        ("wrong issuer", es256(&first, &wrong_issuer)),
        ("wrong audience", es256(&first, &wrong_audience)),
        ("expired", es256(&first, &claims("mallory", -600, -700))),
        (
            "not yet valid",
            es256(&first, &claims("mallory", 3600, 600)),
        ),
        (
            "wrong secret",
            hs256(
                b"another-secret-that-is-also-long-enough!!",
                &claims("mallory", 300, 0),
            ),
        ),
    ];
    for (what, token) in cases {
        let (code, body) = status(&http, &gateway, &token).await;
        assert_eq!(code, 401, "{what}: {body}");
    }

    // The identity provider rotates its keys: a token with the new kid is accepted once
    // the gateway has fetched the key set again.
    let second = ec_key("key-2");
    *idp.keys.lock().unwrap() = vec![second.jwk.clone()];
    let token = es256(&second, &claims("dave", 300, 0));
    let started = std::time::Instant::now();
    loop {
        let (code, body) = status(&http, &gateway, &token).await;
        if code == 200 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the rotated key is still refused: {body}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // Scopes come from the token: a read-only token cannot write.
    let mut reader = claims("erin", 300, 0);
    reader["scope"] = json!("nomad:read");
    let response = http
        .post(gateway.url("/api/v1/jobs"))
        .bearer_auth(es256(&second, &reader))
        .json(&json!({"job_id": "web", "image": "nginx"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
}

/// Without `GATEWAY_JWT_AUDIENCE`, a token must be issued for this gateway (its MCP
/// resource or its public URL): one for another service of the same identity provider, or
/// one naming no audience, is refused on REST and on both MCP transports.
#[tokio::test]
async fn without_a_configured_audience_tokens_must_be_issued_for_this_gateway() {
    let fake = FakeNomad::start(Options::default()).await;
    let db = TestDb::new().await;
    let mut env = auth_env(&db, &fake);
    set(&mut env, "GATEWAY_JWT_SECRET", SECRET);
    let gateway = Gateway::start(&env);
    // The public URL of a test gateway is derived from GATEWAY_LISTEN (port 0).
    let own = "http://127.0.0.1:0/mcp";
    let token = |aud: Option<&str>| {
        let mut claims = json!({
            "sub": "alice",
            "scope": "nomad:read",
            "nomad_namespaces": ["*"],
            "exp": chrono::Utc::now().timestamp() + 300,
        });
        if let Some(aud) = aud {
            claims["aud"] = json!(aud);
        }
        hs256(SECRET.as_bytes(), &claims)
    };
    let (code, minted, stderr) = run(
        &[
            "token",
            "mint",
            "--sub",
            "carol",
            "--scope",
            "nomad:read",
            "--ttl",
            "10m",
        ],
        &env,
    );
    assert_eq!(code, 0, "{stderr}");
    let minted = minted.trim().to_string();
    let http = reqwest::Client::new();
    let ping = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "aud", "version": "1"}}});
    for (what, bearer, accepted) in [
        ("token mint", minted.clone(), true),
        ("this gateway's MCP resource", token(Some(own)), true),
        (
            "this gateway's URL",
            token(Some("http://127.0.0.1:0")),
            true,
        ),
        (
            "another service",
            token(Some("https://other.example.com")),
            false,
        ),
        ("no audience", token(None), false),
    ] {
        let rest = http
            .get(gateway.url("/api/v1/jobs"))
            .bearer_auth(&bearer)
            .send()
            .await
            .unwrap();
        let mcp = http
            .post(gateway.url("/mcp"))
            .bearer_auth(&bearer)
            .header("accept", "application/json, text/event-stream")
            .json(&ping)
            .send()
            .await
            .unwrap();
        let sse = http
            .get(gateway.url("/sse"))
            .bearer_auth(&bearer)
            .header("accept", "text/event-stream")
            .send()
            .await
            .unwrap();
        for (surface, response) in [("REST", rest), ("/mcp", mcp), ("/sse", sse)] {
            if accepted {
                assert_eq!(response.status(), 200, "{what} on {surface}");
            } else {
                assert_eq!(response.status(), 401, "{what} on {surface}");
                let challenge = response.headers()["www-authenticate"].to_str().unwrap();
                assert!(
                    challenge.contains("error=\"invalid_token\""),
                    "{what} on {surface}: {challenge}"
                );
            }
        }
    }
    // `config check` says which audiences are accepted.
    let (code, out, _) = run(&["config", "check"], &env);
    assert_eq!(code, 0);
    assert!(
        out.contains("# JWTs are accepted with aud = http://127.0.0.1:0/mcp or"),
        "{out}"
    );
}
