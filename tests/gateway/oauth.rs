//! The built-in authorization server (`GATEWAY_OAUTH=builtin`), driven over HTTP the way an
//! MCP client drives it: discovery from a 401, registration, the sign-in and consent page,
//! the code exchanged with PKCE, tokens used on REST and MCP, refresh rotation with reuse
//! detection, revocation, and the refusals with their exact answers.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use fake_nomad::{FakeNomad, Options};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::auth::{auth_env, create_key};
use crate::support::{Gateway, TestDb, base_env, run, set};

/// A form body (reqwest's `form` needs a feature the gateway does not use).
trait FormBody {
    fn form_body<T: serde::Serialize + ?Sized>(self, form: &T) -> Self;
}

impl FormBody for reqwest::RequestBuilder {
    fn form_body<T: serde::Serialize + ?Sized>(self, form: &T) -> Self {
        self.header("content-type", "application/x-www-form-urlencoded")
            .body(serde_urlencoded::to_string(form).unwrap())
    }
}

const REDIRECT: &str = "http://127.0.0.1:47123/callback";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A gateway with the built-in authorization server on a known port (its public URL is
/// the issuer), an admin key and a key that may only read.
struct Setup {
    _gateway: Gateway,
    base: String,
    env: Vec<(String, String)>,
    admin: String,
    reader: String,
    reader_id: String,
    http: reqwest::Client,
    _fake: FakeNomad,
    _db: TestDb,
}

async fn setup(extra: &[(&str, &str)]) -> Setup {
    let fake = FakeNomad::start(Options::default()).await;
    let db = TestDb::new().await;
    let mut env = auth_env(&db, &fake);
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    set(&mut env, "GATEWAY_LISTEN", &format!("127.0.0.1:{port}"));
    set(&mut env, "GATEWAY_PUBLIC_URL", &format!("{base}/"));
    set(&mut env, "GATEWAY_OAUTH", "builtin");
    for (k, v) in extra {
        set(&mut env, k, v);
    }
    let (_, admin) = create_key(&env, &["nomad:read", "nomad:write", "admin"], &["*"], None);
    let (reader_id, reader) = create_key(&env, &["nomad:read"], &["default"], None);
    let gateway = Gateway::start(&env);
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    Setup {
        _gateway: gateway,
        base,
        env,
        admin,
        reader,
        reader_id,
        http,
        _fake: fake,
        _db: db,
    }
}

fn pkce() -> (String, String) {
    let verifier = URL_SAFE_NO_PAD.encode(uuid::Uuid::new_v4().as_bytes().repeat(2));
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

/// The claims of a JWT, unchecked.
fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// The query parameters of a URL.
fn params(url: &str) -> std::collections::HashMap<String, String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

/// The value of `name="<field>" value="..."` in the page.
fn field(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\" value=\""))?;
    let rest = &html[at + name.len() + 15..];
    Some(rest[..rest.find('"').unwrap()].to_string())
}

impl Setup {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn register(&self, body: Value) -> (u16, Value) {
        let response = self
            .http
            .post(self.url("/oauth/register"))
            .json(&body)
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }

    async fn public_client(&self) -> String {
        let (status, client) = self
            .register(json!({
                "client_name": "Test <Connector>",
                "redirect_uris": ["http://127.0.0.1/callback"],
                "token_endpoint_auth_method": "none",
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
            }))
            .await;
        assert_eq!(status, 201, "{client}");
        client["client_id"].as_str().unwrap().to_string()
    }

    fn authorize_query(&self, client: &str, challenge: &str, scope: &str) -> Vec<(String, String)> {
        [
            ("response_type", "code"),
            ("client_id", client),
            ("redirect_uri", REDIRECT),
            ("state", "st-123"),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
            ("resource", &format!("{}/mcp", self.base)),
            ("scope", scope),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    async fn authorize_get(&self, query: &[(String, String)]) -> reqwest::Response {
        self.http
            .get(self.url("/oauth/authorize"))
            .query(query)
            .send()
            .await
            .unwrap()
    }

    /// The consent page for `query`: its HTML and the CSRF cookie it set.
    async fn consent(&self, query: &[(String, String)]) -> (String, String) {
        let response = self.authorize_get(query).await;
        assert_eq!(response.status(), 200);
        let cookie = response
            .headers()
            .get("set-cookie")
            .expect("the page sets its CSRF cookie")
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_string();
        (response.text().await.unwrap(), cookie)
    }

    /// Submits the consent form as the page's browser would.
    async fn submit(
        &self,
        html: &str,
        cookie: &str,
        key: &str,
        ticked: &[&str],
        decision: &str,
    ) -> reqwest::Response {
        let mut form: Vec<(String, String)> = [
            "client_id",
            "redirect_uri",
            "response_type",
            "state",
            "code_challenge",
            "code_challenge_method",
            "resource",
            "scope",
            "csrf",
        ]
        .iter()
        .filter_map(|name| Some((name.to_string(), field(html, name)?)))
        .collect();
        form.push(("api_key".into(), key.into()));
        form.push(("decision".into(), decision.into()));
        for scope in ticked {
            form.push(("grant".into(), scope.to_string()));
        }
        self.http
            .post(self.url("/oauth/authorize"))
            .header("cookie", cookie)
            .header("origin", &self.base)
            .form_body(&form)
            .send()
            .await
            .unwrap()
    }

    /// Sign-in and consent through to the redirect with a code.
    async fn code(&self, client: &str, key: &str, ticked: &[&str]) -> (String, String) {
        let (verifier, challenge) = pkce();
        let query = self.authorize_query(client, &challenge, "nomad:read nomad:write");
        let (html, cookie) = self.consent(&query).await;
        let response = self.submit(&html, &cookie, key, ticked, "approve").await;
        assert_eq!(response.status(), 303, "{}", response.text().await.unwrap());
        let location = response.headers()["location"].to_str().unwrap().to_string();
        assert!(location.starts_with(REDIRECT), "{location}");
        let answer = params(&location);
        assert_eq!(answer["state"], "st-123");
        assert_eq!(answer["iss"], self.base);
        (answer["code"].clone(), verifier)
    }

    async fn token(&self, form: &[(&str, &str)]) -> (u16, Value) {
        let response = self
            .http
            .post(self.url("/oauth/token"))
            .form_body(form)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        assert_eq!(response.headers()["cache-control"], "no-store");
        (status, response.json().await.unwrap())
    }

    async fn exchange(&self, client: &str, code: &str, verifier: &str) -> (u16, Value) {
        let resource = format!("{}/mcp", self.base);
        self.token(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("client_id", client),
            ("code_verifier", verifier),
            ("resource", &resource),
        ])
        .await
    }

    async fn refresh(&self, client: &str, refresh: &str) -> (u16, Value) {
        self.token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh),
            ("client_id", client),
        ])
        .await
    }

    async fn jobs_status(&self, token: &str) -> u16 {
        self.http
            .get(self.url("/api/v1/jobs"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    /// Waits (the grant cache lives 5 s) until the token is refused.
    async fn until_refused(&self, token: &str) -> Duration {
        let started = std::time::Instant::now();
        loop {
            if self.jobs_status(token).await == 401 {
                return started.elapsed();
            }
            assert!(
                started.elapsed() < Duration::from_secs(8),
                "the token still works"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn audit_operations(&self) -> Vec<(String, String, String)> {
        let events: Value = self
            .http
            .get(self.url("/api/v1/audit?limit=200"))
            .bearer_auth(&self.admin)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        events["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["operation"].as_str().unwrap_or("").starts_with("oauth_"))
            .map(|e| {
                (
                    e["operation"].as_str().unwrap().to_string(),
                    e["outcome"].as_str().unwrap_or("").to_string(),
                    e["caller"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect()
    }
}

#[tokio::test]
async fn with_oauth_off_there_is_no_authorization_server() {
    let fake = FakeNomad::start(Options::default()).await;
    let db = TestDb::new().await;
    let gateway = Gateway::start(&auth_env(&db, &fake));
    let http = reqwest::Client::new();
    for (method, path) in [
        ("GET", "/.well-known/oauth-authorization-server"),
        ("GET", "/oauth/authorize"),
        ("POST", "/oauth/token"),
        ("POST", "/oauth/register"),
    ] {
        let response = http
            .request(method.parse().unwrap(), gateway.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "{method} {path}");
    }
    let metadata: Value = http
        .get(gateway.url("/.well-known/oauth-protected-resource"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(metadata["authorization_servers"], json!([]));
}

#[tokio::test]
async fn builtin_needs_authentication_and_an_https_or_loopback_public_url() {
    let db = TestDb::new().await;
    let mut env = base_env(&db);
    set(&mut env, "GATEWAY_OAUTH", "builtin");
    let (code, _, stderr) = run(&["config", "check"], &env);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("GATEWAY_OAUTH: builtin needs authentication on"),
        "{stderr}"
    );
    set(&mut env, "GATEWAY_AUTH", "on");
    set(&mut env, "GATEWAY_PUBLIC_URL", "http://gw.example.com/");
    let (code, _, stderr) = run(&["config", "check"], &env);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("needs an https GATEWAY_PUBLIC_URL"),
        "{stderr}"
    );
    set(&mut env, "GATEWAY_PUBLIC_URL", "https://gw.example.com/");
    set(&mut env, "GATEWAY_OAUTH", "later");
    let (code, _, stderr) = run(&["config", "check"], &env);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("'later' is not one of off, builtin"),
        "{stderr}"
    );
    set(&mut env, "GATEWAY_OAUTH", "builtin");
    let (code, stdout, stderr) = run(&["config", "check"], &env);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("GATEWAY_OAUTH") && stdout.contains("builtin"),
        "{stdout}"
    );

    // The identity provider: all three settings or none, https, openid asked for.
    let refused = |env: &Vec<(String, String)>, says: &str| {
        let (code, _, stderr) = run(&["config", "check"], env);
        assert_eq!(code, 2, "{stderr}");
        assert!(stderr.contains(says), "expected {says:?} in {stderr}");
        assert!(!stderr.contains("idp-secret"), "{stderr}");
    };
    set(&mut env, "GATEWAY_OIDC_ISSUER", "https://login.example.com");
    refused(
        &env,
        "GATEWAY_OIDC_CLIENT_ID: is needed with GATEWAY_OIDC_ISSUER",
    );
    set(&mut env, "GATEWAY_OIDC_CLIENT_ID", "gw");
    refused(
        &env,
        "GATEWAY_OIDC_CLIENT_SECRET: is needed with GATEWAY_OIDC_ISSUER",
    );
    set(&mut env, "GATEWAY_OIDC_CLIENT_SECRET", "idp-secret-1");
    set(&mut env, "GATEWAY_OIDC_ISSUER", "http://login.example.com");
    refused(&env, "GATEWAY_OIDC_ISSUER: must be an https URL");
    set(&mut env, "GATEWAY_OIDC_ISSUER", "https://login.example.com");
    set(&mut env, "GATEWAY_OIDC_SCOPES", "profile email");
    refused(&env, "GATEWAY_OIDC_SCOPES: must include openid");
    set(&mut env, "GATEWAY_OIDC_SCOPES", "openid email groups");
    let (code, stdout, stderr) = run(&["config", "check"], &env);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("https://login.example.com"), "{stdout}");
    assert!(
        !stdout.contains("idp-secret-1"),
        "the secret is redacted: {stdout}"
    );
    set(&mut env, "GATEWAY_OAUTH", "off");
    refused(
        &env,
        "GATEWAY_OIDC_ISSUER: people sign in through it on the built-in authorization server",
    );
}

#[tokio::test]
async fn a_client_discovers_registers_signs_in_and_calls_with_its_token() {
    let s = setup(&[]).await;
    // Discovery, as an MCP client does it: a 401 names the resource metadata, which names
    // the gateway as the authorization server, whose metadata names the endpoints.
    let refused = s
        .http
        .post(s.url("/mcp"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    let challenge = refused.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        challenge.contains(&format!(
            "resource_metadata=\"{}/.well-known/oauth-protected-resource\"",
            s.base
        )),
        "{challenge}"
    );
    let resource: Value = s
        .http
        .get(s.url("/.well-known/oauth-protected-resource/mcp"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(resource["resource"], format!("{}/mcp", s.base));
    assert_eq!(resource["authorization_servers"], json!([s.base]));
    let metadata = s.server_metadata().await;
    assert_eq!(metadata["issuer"], s.base);
    assert_eq!(
        metadata["authorization_endpoint"],
        format!("{}/oauth/authorize", s.base)
    );
    assert_eq!(
        metadata["token_endpoint"],
        format!("{}/oauth/token", s.base)
    );
    assert_eq!(
        metadata["registration_endpoint"],
        format!("{}/oauth/register", s.base)
    );
    assert_eq!(
        metadata["code_challenge_methods_supported"],
        json!(["S256"])
    );
    assert_eq!(
        metadata["grant_types_supported"],
        json!(["authorization_code", "refresh_token"])
    );

    let client = s.public_client().await;
    let (verifier, challenge) = pkce();
    let query = s.authorize_query(&client, &challenge, "nomad:read nomad:write");
    let (html, cookie) = s.consent(&query).await;
    // The page names the client (escaped), the scopes asked for, and carries no script.
    assert!(html.contains("Test &lt;Connector&gt;"), "{html}");
    assert!(
        html.contains("value=\"nomad:read\" checked")
            && html.contains("value=\"nomad:write\" checked"),
        "{html}"
    );
    assert!(
        !html.contains("value=\"admin\""),
        "only the scopes asked for are offered"
    );
    assert!(!html.contains("<script"));
    assert!(cookie.starts_with("ngw_csrf="), "{cookie}");

    // The reader's key may only read: ticking both grants only nomad:read.
    let response = s
        .submit(
            &html,
            &cookie,
            &s.reader,
            &["nomad:read", "nomad:write"],
            "approve",
        )
        .await;
    assert_eq!(response.status(), 303);
    let location = response.headers()["location"].to_str().unwrap().to_string();
    let answer = params(&location);
    assert!(location.starts_with(REDIRECT));
    assert_eq!(answer["state"], "st-123");
    let (status, tokens) = s.exchange(&client, &answer["code"], &verifier).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["scope"], "nomad:read");
    assert_eq!(tokens["expires_in"], 900);
    let access = tokens["access_token"].as_str().unwrap().to_string();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_string();

    // The token is a JWT of the gateway's published key, bound to the MCP resource.
    let header = jsonwebtoken::decode_header(&access).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::ES256);
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    let kid = header.kid.unwrap();
    let jwks: Value = s
        .http
        .get(s.url("/oauth/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .expect("the token's key is published")
        .clone();
    let key = jsonwebtoken::DecodingKey::from_ec_components(
        jwk["x"].as_str().unwrap(),
        jwk["y"].as_str().unwrap(),
    )
    .unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.set_audience(&[format!("{}/mcp", s.base)]);
    validation.set_issuer(&[&s.base]);
    let claims = jsonwebtoken::decode::<Value>(&access, &key, &validation)
        .unwrap()
        .claims;
    assert_eq!(claims["client_id"], client.as_str());
    assert_eq!(claims["namespaces"], json!(["default"]));
    assert!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap() == 900);

    // REST and MCP take it: reads pass, a write is refused for its scope.
    assert_eq!(s.jobs_status(&access).await, 200);
    let write = s
        .http
        .post(s.url("/api/v1/jobs"))
        .bearer_auth(&access)
        .json(&json!({"job_id": "web", "image": "nginx"}))
        .send()
        .await
        .unwrap();
    assert_eq!(write.status(), 403);
    let mcp = s.http.post(s.url("/mcp")).bearer_auth(&access)
        .header("accept", "application/json, text/event-stream")
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}))
        .send().await.unwrap();
    assert_eq!(mcp.status(), 200);

    // Refresh rotates: a new pair, the old refresh token spent.
    let (status, renewed) = s.refresh(&client, &refresh).await;
    assert_eq!(status, 200, "{renewed}");
    let renewed_access = renewed["access_token"].as_str().unwrap().to_string();
    let renewed_refresh = renewed["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(renewed_refresh, refresh);
    assert_eq!(s.jobs_status(&renewed_access).await, 200);
    // The old one again: reuse. The whole grant goes, the new tokens with it.
    let (status, reused) = s.refresh(&client, &refresh).await;
    assert_eq!(status, 400);
    assert_eq!(reused["error"], "invalid_grant");
    assert!(
        reused["error_description"]
            .as_str()
            .unwrap()
            .contains("used already; every token of this sign-in is revoked"),
        "{reused}"
    );
    let (status, after) = s.refresh(&client, &renewed_refresh).await;
    assert_eq!(
        (status, after["error"].as_str()),
        (400, Some("invalid_grant")),
        "{after}"
    );
    let waited = s.until_refused(&renewed_access).await;
    assert!(waited < Duration::from_secs(6), "{waited:?}");

    let operations = s.audit_operations().await;
    for (operation, outcome) in [
        ("oauth_authorize", "ok"),
        ("oauth_token", "ok"),
        ("oauth_refresh", "ok"),
        ("oauth_refresh_reuse", "refused"),
    ] {
        assert!(
            operations
                .iter()
                .any(|(o, r, who)| o == operation && r == outcome && who == "test"),
            "no {operation} {outcome} event by test in {operations:?}"
        );
    }
}

#[tokio::test]
async fn revocation_and_a_revoked_api_key_end_the_tokens() {
    let s = setup(&[]).await;
    let client = s.public_client().await;
    // RFC 7009 revocation of the refresh token ends the access token too.
    let (code, verifier) = s.code(&client, &s.reader, &["nomad:read"]).await;
    let (_, tokens) = s.exchange(&client, &code, &verifier).await;
    let access = tokens["access_token"].as_str().unwrap().to_string();
    assert_eq!(s.jobs_status(&access).await, 200);
    let revoked = s
        .http
        .post(s.url("/oauth/revoke"))
        .form_body(&[
            ("token", tokens["refresh_token"].as_str().unwrap()),
            ("client_id", &client),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);
    s.until_refused(&access).await;
    // An unknown token is not an error (RFC 7009 §2.2).
    let unknown = s
        .http
        .post(s.url("/oauth/revoke"))
        .form_body(&[("token", "nonsense"), ("client_id", client.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 200);

    // Tokens die with the API key they were signed in with.
    let (code, verifier) = s.code(&client, &s.reader, &["nomad:read"]).await;
    let (_, tokens) = s.exchange(&client, &code, &verifier).await;
    let access = tokens["access_token"].as_str().unwrap().to_string();
    assert_eq!(s.jobs_status(&access).await, 200);
    let (status, _, stderr) = run(&["api-key", "revoke", &s.reader_id], &s.env);
    assert_eq!(status, 0, "{stderr}");
    s.until_refused(&access).await;
    let (status, refused) = s
        .refresh(&client, tokens["refresh_token"].as_str().unwrap())
        .await;
    assert_eq!(status, 400);
    assert!(
        refused["error_description"]
            .as_str()
            .unwrap()
            .contains("API key this sign-in used has been revoked"),
        "{refused}"
    );
    assert!(
        s.audit_operations()
            .await
            .iter()
            .any(|(o, r, _)| o == "oauth_revoke" && r == "ok")
    );
}

#[tokio::test]
async fn authorization_requests_are_refused_with_exact_answers() {
    let s = setup(&[]).await;
    let client = s.public_client().await;
    let (_, challenge) = pkce();
    let with = |changes: &[(&str, Option<&str>)]| {
        let mut query = s.authorize_query(&client, &challenge, "nomad:read");
        for (k, v) in changes {
            query.retain(|(key, _)| key != k);
            if let Some(v) = v {
                query.push((k.to_string(), v.to_string()));
            }
        }
        query
    };
    // Back to the client with an error.
    for (changes, error, says) in [
        (
            vec![("resource", Some("https://elsewhere.example/mcp"))],
            "invalid_target",
            "resource 'https://elsewhere.example/mcp' is not this gateway",
        ),
        (
            vec![("resource", None)],
            "invalid_request",
            "resource is required (RFC 8707)",
        ),
        (
            vec![("code_challenge", None), ("code_challenge_method", None)],
            "invalid_request",
            "code_challenge is required",
        ),
        (
            vec![("code_challenge_method", Some("plain"))],
            "invalid_request",
            "code_challenge_method must be S256 (plain is refused)",
        ),
        (
            vec![("code_challenge_method", None)],
            "invalid_request",
            "code_challenge_method must be S256 (none given, which means plain is refused)",
        ),
        (
            vec![("response_type", Some("token"))],
            "unsupported_response_type",
            "response_type must be code",
        ),
        (
            vec![("scope", Some("nomad:read root"))],
            "invalid_scope",
            "unknown scope 'root'",
        ),
    ] {
        let response = s.authorize_get(&with(&changes)).await;
        assert_eq!(response.status(), 303, "{changes:?}");
        let location = response.headers()["location"].to_str().unwrap().to_string();
        assert!(location.starts_with(REDIRECT), "{location}");
        let answer = params(&location);
        assert_eq!(answer["error"], error, "{changes:?}: {answer:?}");
        assert!(
            answer["error_description"].contains(says),
            "{changes:?}: {answer:?}"
        );
        assert_eq!(answer["iss"], s.base);
    }
    // Never redirected: a redirect URI that is not registered, an unknown client.
    for (changes, says) in [
        (
            vec![("redirect_uri", Some("https://attacker.example/cb"))],
            "redirect_uri &#39;https://attacker.example/cb&#39; is not one registered",
        ),
        (
            vec![("redirect_uri", Some("http://127.0.0.1:47123/other"))],
            "is not one registered",
        ),
        (
            vec![("client_id", Some("ngwc_nobody"))],
            "client &#39;ngwc_nobody&#39; is not registered here",
        ),
    ] {
        let response = s.authorize_get(&with(&changes)).await;
        assert_eq!(response.status(), 400, "{changes:?}");
        assert!(response.headers().get("location").is_none());
        let html = response.text().await.unwrap();
        assert!(html.contains(says), "{changes:?}: {html}");
    }
    // No state is fine (PKCE binds the answer): none comes back.
    let (html, cookie) = s.consent(&with(&[("state", None)])).await;
    let approved = s
        .submit(&html, &cookie, &s.reader, &["nomad:read"], "approve")
        .await;
    assert_eq!(approved.status(), 303);
    let answer = params(approved.headers()["location"].to_str().unwrap());
    assert!(
        answer.contains_key("code") && !answer.contains_key("state"),
        "{answer:?}"
    );
    // A form without the page's cookie (another site posting it) is refused.
    let (html, _cookie) = s.consent(&with(&[])).await;
    let forged = s
        .submit(
            &html,
            "ngw_csrf=forged",
            &s.reader,
            &["nomad:read"],
            "approve",
        )
        .await;
    assert_eq!(forged.status(), 403);
    // A wrong key is said on the page, and nothing is granted.
    let (html, cookie) = s.consent(&with(&[])).await;
    let wrong = s
        .submit(
            &html,
            &cookie,
            "ngw_abc_0000000000000000000000000000000000000000",
            &["nomad:read"],
            "approve",
        )
        .await;
    assert_eq!(wrong.status(), 400);
    assert!(
        wrong
            .text()
            .await
            .unwrap()
            .contains("the API key is not known")
    );
    // Deny goes back with access_denied.
    let denied = s.submit(&html, &cookie, "", &["nomad:read"], "deny").await;
    assert_eq!(denied.status(), 303);
    assert_eq!(
        params(denied.headers()["location"].to_str().unwrap())["error"],
        "access_denied"
    );
}

#[tokio::test]
async fn codes_are_used_once_with_their_verifier_and_redirect() {
    let s = setup(&[]).await;
    let client = s.public_client().await;
    let (code, verifier) = s.code(&client, &s.reader, &["nomad:read"]).await;
    // A wrong verifier, a wrong redirect URI: refused, and each spends nothing...
    let (status, wrong) = s
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("client_id", &client),
            ("code_verifier", &"x".repeat(43)),
        ])
        .await;
    assert_eq!(
        (status, wrong["error"].as_str()),
        (400, Some("invalid_grant")),
        "{wrong}"
    );
    assert!(
        wrong["error_description"]
            .as_str()
            .unwrap()
            .contains("code_verifier does not match")
    );
    // ... except that a code is spent by its first presentation, whatever came of it: a
    // second try with the right verifier is a reuse.
    let (status, again) = s.exchange(&client, &code, &verifier).await;
    assert_eq!(
        (status, again["error"].as_str()),
        (400, Some("invalid_grant")),
        "{again}"
    );
    assert!(
        again["error_description"]
            .as_str()
            .unwrap()
            .contains("used already"),
        "{again}"
    );

    // The normal way: once works, twice revokes what the first gave.
    let (code, verifier) = s.code(&client, &s.reader, &["nomad:read"]).await;
    let (status, tokens) = s.exchange(&client, &code, &verifier).await;
    assert_eq!(status, 200, "{tokens}");
    let access = tokens["access_token"].as_str().unwrap().to_string();
    let (status, twice) = s.exchange(&client, &code, &verifier).await;
    assert_eq!(
        (status, twice["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    s.until_refused(&access).await;

    // Missing PKCE at the token endpoint; another client's code; an unknown client.
    let (code, _) = s.code(&client, &s.reader, &["nomad:read"]).await;
    let (status, missing) = s
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("client_id", &client),
        ])
        .await;
    assert_eq!(
        (status, missing["error"].as_str()),
        (400, Some("invalid_request")),
        "{missing}"
    );
    let (status, unknown) = s
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", "x"),
            ("client_id", "ngwc_nobody"),
        ])
        .await;
    assert_eq!(
        (status, unknown["error"].as_str()),
        (401, Some("invalid_client")),
        "{unknown}"
    );
    let (status, grant_type) = s
        .token(&[("grant_type", "password"), ("client_id", &client)])
        .await;
    assert_eq!(
        (status, grant_type["error"].as_str()),
        (400, Some("unsupported_grant_type"))
    );
}

#[tokio::test]
async fn an_expired_code_is_refused() {
    let s = setup(&[]).await;
    let client = s.public_client().await;
    let (code, verifier) = s.code(&client, &s.reader, &["nomad:read"]).await;
    tokio::time::sleep(Duration::from_secs(61)).await;
    let (status, expired) = s.exchange(&client, &code, &verifier).await;
    assert_eq!(
        (status, expired["error"].as_str()),
        (400, Some("invalid_grant")),
        "{expired}"
    );
    assert!(
        expired["error_description"]
            .as_str()
            .unwrap()
            .contains("has expired (codes live 60s)"),
        "{expired}"
    );
}

#[tokio::test]
async fn registration_checks_redirect_uris_and_keeps_to_its_budget() {
    let s = setup(&[("GATEWAY_OAUTH_REGISTRATIONS", "3")]).await;
    let (status, refused) = s.register(json!({"redirect_uris": ["http://example.com/cb"], "token_endpoint_auth_method": "none"})).await;
    assert_eq!(
        (status, refused["error"].as_str()),
        (400, Some("invalid_redirect_uri")),
        "{refused}"
    );
    assert!(
        refused["error_description"]
            .as_str()
            .unwrap()
            .contains("not loopback")
    );
    let (status, none) = s.register(json!({"client_name": "no uris"})).await;
    assert_eq!(
        (status, none["error"].as_str()),
        (400, Some("invalid_redirect_uri"))
    );
    // A confidential client (the RFC 7591 default method) gets a secret, and must send it.
    let (status, confidential) = s
        .register(json!({"redirect_uris": ["https://app.example/cb"]}))
        .await;
    assert_eq!(status, 201, "{confidential}");
    assert_eq!(
        confidential["token_endpoint_auth_method"],
        "client_secret_basic"
    );
    let secret = confidential["client_secret"].as_str().unwrap();
    let id = confidential["client_id"].as_str().unwrap();
    let (status, no_secret) = s
        .token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "x"),
            ("client_id", id),
        ])
        .await;
    assert_eq!(
        (status, no_secret["error"].as_str()),
        (401, Some("invalid_client")),
        "{no_secret}"
    );
    let response = s
        .http
        .post(s.url("/oauth/token"))
        .basic_auth(id, Some(secret))
        .form_body(&[("grant_type", "refresh_token"), ("refresh_token", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        400,
        "authenticated; the refresh token is what is wrong"
    );
    // Over the budget of 3 a minute from this address.
    let (status, over) = s
        .register(json!({"redirect_uris": ["http://127.0.0.1/cb"]}))
        .await;
    assert_eq!(status, 429, "{over}");
    assert!(
        over["error_description"]
            .as_str()
            .unwrap()
            .contains("too many registrations"),
        "{over}"
    );
}

#[tokio::test]
#[ignore = "needs TEST_DATABASE_URL with Postgres; tests/run.sh runs it"]
async fn replicas_share_the_key_ring_the_refresh_tokens_and_the_revocations() {
    // Both replicas seal the signing keys with the same secret.
    let s = setup(&[(
        "GATEWAY_OAUTH_KEY_SECRET",
        "replicas-share-this-sealing-secret-0123456789",
    )])
    .await;
    // A second replica on the same database and public URL (the same issuer).
    let mut env = s.env.clone();
    set(
        &mut env,
        "GATEWAY_LISTEN",
        &format!("127.0.0.1:{}", free_port()),
    );
    let other = Gateway::start(&env);
    let client = s.public_client().await;
    let (code, verifier) = s.code(&client, &s.reader, &["nomad:read"]).await;
    let (_, tokens) = s.exchange(&client, &code, &verifier).await;
    let access = tokens["access_token"].as_str().unwrap();
    let spent = tokens["refresh_token"].as_str().unwrap();
    let status = |token: String| {
        let http = s.http.clone();
        let url = other.url("/api/v1/jobs");
        async move {
            http.get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    // The other replica checks a token the first signed, and refreshes it.
    assert_eq!(status(access.to_string()).await, 200);
    let refreshed: Value = s
        .http
        .post(other.url("/oauth/token"))
        .form_body(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", spent),
            ("client_id", client.as_str()),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let renewed = refreshed["access_token"]
        .as_str()
        .expect("refreshed")
        .to_string();
    assert_eq!(s.jobs_status(&renewed).await, 200);
    // A reuse on the first replica revokes the grant on both.
    let (status_code, reused) = s.refresh(&client, spent).await;
    assert_eq!(
        (status_code, reused["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let started = std::time::Instant::now();
    while status(renewed.clone()).await != 401 {
        assert!(
            started.elapsed() < Duration::from_secs(8),
            "the other replica still takes the revoked grant's token"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // What the database holds of the signing key is sealed.
    use sqlx::Connection;
    let mut pg = sqlx::PgConnection::connect(&s._db.url).await.unwrap();
    let stored: Vec<String> = sqlx::query_scalar("SELECT private_pkcs8 FROM oauth_keys")
        .fetch_all(&mut pg)
        .await
        .unwrap();
    assert!(
        !stored.is_empty() && stored.iter().all(|k| k.starts_with("sealed-v1:")),
        "{stored:?}"
    );
}

/// A test OpenID Connect provider on loopback: discovery, an authorization endpoint that
/// signs its one user in at once (as a provider with a live session does) and sends the
/// browser back, a token endpoint that checks the client's secret and the PKCE verifier and
/// signs an ES256 ID token, and its key set.
struct FakeIdp {
    base: String,
    state: std::sync::Arc<IdpState>,
    _server: tokio::task::JoinHandle<()>,
}

struct IdpState {
    base: String,
    encoding: jsonwebtoken::EncodingKey,
    jwk: Value,
    /// code → (nonce, PKCE challenge, redirect URI)
    codes: std::sync::Mutex<std::collections::HashMap<String, (String, String, String)>>,
    /// The user's claims (email, groups).
    user: std::sync::Mutex<Value>,
    /// Sign a nonce other than the one asked for.
    wrong_nonce: std::sync::atomic::AtomicBool,
}

const IDP_CLIENT: &str = "nomad-gateway";
const IDP_SECRET: &str = "idp-secret-do-not-log";

impl FakeIdp {
    async fn start() -> FakeIdp {
        use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
        use axum::extract::{Query, State};
        use axum::response::{IntoResponse, Redirect};
        use axum::routing::{get, post};
        use std::collections::HashMap;
        use std::sync::Arc;

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
        let point = pair.public_key().as_ref().to_vec();
        let state = Arc::new(IdpState {
            base: base.clone(),
            encoding: jsonwebtoken::EncodingKey::from_ec_der(pair.to_pkcs8v1().unwrap().as_ref()),
            jwk: json!({"kty": "EC", "crv": "P-256", "kid": "idp-1", "alg": "ES256", "use": "sig",
                "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..65])}),
            codes: std::sync::Mutex::new(HashMap::new()),
            user: std::sync::Mutex::new(json!({"email": "alice@example.com", "groups": ["ops"]})),
            wrong_nonce: std::sync::atomic::AtomicBool::new(false),
        });
        type S = Arc<IdpState>;
        async fn discovery(State(s): State<S>) -> axum::Json<Value> {
            axum::Json(json!({
                "issuer": s.base,
                "authorization_endpoint": format!("{}/authorize", s.base),
                "token_endpoint": format!("{}/token", s.base),
                "jwks_uri": format!("{}/jwks", s.base),
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["ES256"],
            }))
        }
        async fn authorize(
            State(s): State<S>,
            Query(q): Query<HashMap<String, String>>,
        ) -> axum::response::Response {
            if q.get("client_id").map(String::as_str) != Some(IDP_CLIENT)
                || q.get("code_challenge_method").map(String::as_str) != Some("S256")
                || !q
                    .get("scope")
                    .is_some_and(|s| s.split(' ').any(|w| w == "openid"))
            {
                return (
                    axum::http::StatusCode::BAD_REQUEST,
                    "bad authorization request",
                )
                    .into_response();
            }
            let code = uuid::Uuid::new_v4().to_string();
            let redirect = q["redirect_uri"].clone();
            s.codes.lock().unwrap().insert(
                code.clone(),
                (
                    q["nonce"].clone(),
                    q["code_challenge"].clone(),
                    redirect.clone(),
                ),
            );
            let mut to = url::Url::parse(&redirect).unwrap();
            to.query_pairs_mut()
                .append_pair("code", &code)
                .append_pair("state", &q["state"]);
            Redirect::to(to.as_str()).into_response()
        }
        async fn token(
            State(s): State<S>,
            headers: axum::http::HeaderMap,
            body: String,
        ) -> axum::response::Response {
            let form: HashMap<String, String> = serde_urlencoded::from_str(&body).unwrap();
            let expected = format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD
                    .encode(format!("{IDP_CLIENT}:{IDP_SECRET}"))
            );
            if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(expected.as_str())
            {
                return (
                    axum::http::StatusCode::UNAUTHORIZED,
                    axum::Json(json!({"error": "invalid_client"})),
                )
                    .into_response();
            }
            let Some((nonce, challenge, redirect)) = s.codes.lock().unwrap().remove(&form["code"])
            else {
                return (
                    axum::http::StatusCode::BAD_REQUEST,
                    axum::Json(json!({"error": "invalid_grant"})),
                )
                    .into_response();
            };
            let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(form["code_verifier"].as_bytes()));
            if computed != challenge || form["redirect_uri"] != redirect {
                return (
                    axum::http::StatusCode::BAD_REQUEST,
                    axum::Json(json!({"error": "invalid_grant"})),
                )
                    .into_response();
            }
            let now = chrono::Utc::now().timestamp();
            let mut claims = s.user.lock().unwrap().clone();
            let nonce = if s.wrong_nonce.load(std::sync::atomic::Ordering::SeqCst) {
                "other".to_string()
            } else {
                nonce
            };
            for (k, v) in [
                ("iss", json!(s.base)),
                ("sub", json!("u-123")),
                ("aud", json!(IDP_CLIENT)),
                ("iat", json!(now)),
                ("exp", json!(now + 300)),
                ("nonce", json!(nonce)),
            ] {
                claims[k] = v;
            }
            let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
            header.kid = Some("idp-1".into());
            let id_token = jsonwebtoken::encode(&header, &claims, &s.encoding).unwrap();
            axum::Json(
                json!({"access_token": "idp-access", "token_type": "Bearer", "id_token": id_token}),
            )
            .into_response()
        }
        async fn jwks(State(s): State<S>) -> axum::Json<Value> {
            axum::Json(json!({"keys": [s.jwk]}))
        }
        let app = axum::Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .route("/jwks", get(jwks))
            .with_state(state.clone());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        FakeIdp {
            base,
            state,
            _server: server,
        }
    }
}

impl Setup {
    /// Ticks `ticked`, chooses the identity provider, follows it back: answers the final
    /// redirect (to the client, or a page) and the PKCE verifier.
    async fn through_provider(&self, client: &str, ticked: &[&str]) -> (reqwest::Response, String) {
        let (verifier, challenge) = pkce();
        let query = self.authorize_query(client, &challenge, "nomad:read nomad:write");
        let (html, cookie) = self.consent(&query).await;
        assert!(html.contains("Sign in with 127.0.0.1"), "{html}");
        let departed = self.submit(&html, &cookie, "", ticked, "oidc").await;
        assert_eq!(departed.status(), 303, "{}", departed.text().await.unwrap());
        let browser = departed.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_string();
        assert!(browser.starts_with("ngw_oidc="), "{browser}");
        let at_provider = departed.headers()["location"].to_str().unwrap().to_string();
        let back = self.http.get(&at_provider).send().await.unwrap();
        assert_eq!(back.status(), 303, "{}", back.text().await.unwrap());
        let callback = back.headers()["location"].to_str().unwrap().to_string();
        assert!(
            callback.starts_with(&format!("{}/oauth/oidc/callback?", self.base)),
            "{callback}"
        );
        (
            self.http
                .get(&callback)
                .header("cookie", browser)
                .send()
                .await
                .unwrap(),
            verifier,
        )
    }
}

#[tokio::test]
async fn a_person_signs_in_through_the_identity_provider_and_their_groups_decide() {
    let idp = FakeIdp::start().await;
    let s = setup(&[
        ("GATEWAY_OIDC_ISSUER", idp.base.as_str()),
        ("GATEWAY_OIDC_CLIENT_ID", IDP_CLIENT),
        ("GATEWAY_OIDC_CLIENT_SECRET", IDP_SECRET),
        (
            "GATEWAY_JWT_GROUP_SCOPES",
            "ops=nomad:read,nomad:write;readers=nomad:read",
        ),
    ])
    .await;
    let client = s.public_client().await;
    let (arrived, verifier) = s
        .through_provider(&client, &["nomad:read", "nomad:write"])
        .await;
    assert_eq!(arrived.status(), 303, "{}", arrived.text().await.unwrap());
    let answer = params(arrived.headers()["location"].to_str().unwrap());
    assert_eq!(answer["state"], "st-123");
    let (status, tokens) = s.exchange(&client, &answer["code"], &verifier).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["scope"], "nomad:read nomad:write");
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(s.jobs_status(access).await, 200);
    let claims = claims_of(access);
    assert_eq!(claims["sub"], "alice@example.com");
    assert_eq!(
        claims["namespaces"],
        json!(["default"]),
        "GATEWAY_OIDC_NAMESPACES' default"
    );
    assert!(
        s.audit_operations()
            .await
            .iter()
            .any(|(o, r, who)| o == "oauth_authorize" && r == "ok" && who == "alice@example.com"),
        "{:?}",
        s.audit_operations().await
    );

    // A reader gets no more than reading, whatever is ticked.
    *idp.state.user.lock().unwrap() = json!({"email": "bob@example.com", "groups": ["readers"]});
    let (arrived, verifier) = s
        .through_provider(&client, &["nomad:read", "nomad:write"])
        .await;
    let answer = params(arrived.headers()["location"].to_str().unwrap());
    let (_, tokens) = s.exchange(&client, &answer["code"], &verifier).await;
    assert_eq!(tokens["scope"], "nomad:read");
    // No group that grants anything ticked: said on a page.
    *idp.state.user.lock().unwrap() = json!({"email": "eve@example.com", "groups": ["guests"]});
    let (arrived, _) = s.through_provider(&client, &["nomad:read"]).await;
    assert_eq!(arrived.status(), 400);
    assert!(arrived.text().await.unwrap().contains("nothing to grant"));
    // An ID token signed for another nonce is refused.
    *idp.state.user.lock().unwrap() = json!({"email": "alice@example.com", "groups": ["ops"]});
    idp.state
        .wrong_nonce
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let (arrived, _) = s.through_provider(&client, &["nomad:read"]).await;
    assert_eq!(arrived.status(), 400);
    assert!(
        arrived
            .text()
            .await
            .unwrap()
            .contains("nonce is not the one this sign-in sent")
    );
    idp.state
        .wrong_nonce
        .store(false, std::sync::atomic::Ordering::SeqCst);

    // The provider's answer in another browser (no cookie), or twice, goes nowhere.
    let (verifier_unused, challenge) = pkce();
    let _ = verifier_unused;
    let query = s.authorize_query(&client, &challenge, "nomad:read");
    let (html, cookie) = s.consent(&query).await;
    let departed = s.submit(&html, &cookie, "", &["nomad:read"], "oidc").await;
    let browser = departed.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let back = s
        .http
        .get(departed.headers()["location"].to_str().unwrap())
        .send()
        .await
        .unwrap();
    let callback = back.headers()["location"].to_str().unwrap().to_string();
    let elsewhere = s.http.get(&callback).send().await.unwrap();
    assert_eq!(elsewhere.status(), 400);
    assert!(
        elsewhere
            .text()
            .await
            .unwrap()
            .contains("started in another browser")
    );
    let replayed = s
        .http
        .get(&callback)
        .header("cookie", &browser)
        .send()
        .await
        .unwrap();
    assert_eq!(replayed.status(), 400);
    assert!(
        replayed
            .text()
            .await
            .unwrap()
            .contains("not known here or was finished already")
    );
    // The client secret never reaches the logs.
    assert!(!s._gateway.logs().contains(IDP_SECRET));
}

/// A site publishing client ID metadata documents over HTTPS (a certificate of the test's
/// own CA for 127.0.0.1 and localhost), counting how often each is fetched.
struct DocumentSite {
    base: String,
    ca_file: std::path::PathBuf,
    fetched: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, usize>>>,
    _dir: tempfile::TempDir,
    _server: tokio::task::JoinHandle<()>,
}

/// A long path, so the client id is longer than a registration's (64 characters).
const LONG_DOC: &str = "/clients/nomad-gateway-connector/metadata-document-of-the-test.json";

impl DocumentSite {
    async fn start() -> DocumentSite {
        use axum::response::IntoResponse;
        use axum::routing::get;
        crate::support::install_crypto_provider();
        let ca = crate::support::Ca::new("documents-ca");
        let leaf = ca.server("documents");
        let dir = tempfile::tempdir().unwrap();
        let ca_file = crate::support::write(dir.path(), "ca.pem", &ca.cert_pem());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let base = format!("https://127.0.0.1:{port}");
        let fetched = std::sync::Arc::new(std::sync::Mutex::new(std::collections::HashMap::<
            String,
            usize,
        >::new()));
        let counter = fetched.clone();
        let app = axum::Router::new().fallback(get(
            move |uri: axum::http::Uri, headers: axum::http::HeaderMap| {
                let counter = counter.clone();
                async move {
                    let path = uri.path().to_string();
                    *counter.lock().unwrap().entry(path.clone()).or_default() += 1;
                    // HTTP/1.1 names the host in `Host`, HTTP/2 in the URI's authority.
                    let host = headers
                        .get("host")
                        .map(|h| h.to_str().unwrap().to_string())
                        .or_else(|| uri.authority().map(|a| a.to_string()))
                        .unwrap();
                    let me = format!("https://{host}{path}");
                    let doc = |extra: Value| {
                        let mut doc = json!({
                            "client_id": me,
                            "client_name": "Doc Connector",
                            "client_uri": "https://example.com",
                            "redirect_uris": ["http://127.0.0.1/callback"],
                            "grant_types": ["authorization_code", "refresh_token"],
                            "response_types": ["code"],
                            "token_endpoint_auth_method": "none",
                        });
                        for (k, v) in extra.as_object().unwrap() {
                            doc[k] = v.clone();
                        }
                        (
                            [
                                ("content-type", "application/json"),
                                ("cache-control", "max-age=300"),
                            ],
                            doc.to_string(),
                        )
                            .into_response()
                    };
                    match path.as_str() {
                        "/good.json" | LONG_DOC => doc(json!({})),
                        "/mismatch.json" => {
                            doc(json!({"client_id": "https://other.example/c.json"}))
                        }
                        "/secret.json" => {
                            doc(json!({"token_endpoint_auth_method": "client_secret_basic"}))
                        }
                        "/web-redirect.json" => {
                            doc(json!({"redirect_uris": ["http://app.example/cb"]}))
                        }
                        "/moved.json" => {
                            axum::response::Redirect::temporary("/good.json").into_response()
                        }
                        "/big.json" => {
                            // Streamed without a length: the cut is made while reading.
                            let chunks = (0..8).map(|_| {
                                Ok::<_, std::io::Error>(axum::body::Bytes::from(vec![b' '; 1024]))
                            });
                            axum::body::Body::from_stream(tokio_stream::iter(chunks))
                                .into_response()
                        }
                        "/slow.json" => {
                            tokio::time::sleep(Duration::from_secs(8)).await;
                            doc(json!({}))
                        }
                        "/not-json.json" => "<html>hello</html>".into_response(),
                        _ => axum::http::StatusCode::NOT_FOUND.into_response(),
                    }
                }
            },
        ));
        let config = axum_server::tls_rustls::RustlsConfig::from_pem(
            leaf.cert_pem.into_bytes(),
            leaf.key_pem.into_bytes(),
        )
        .await
        .unwrap();
        let server = axum_server::from_tcp_rustls(listener, config).unwrap();
        let server = tokio::spawn(async move {
            let _ = server.serve(app.into_make_service()).await;
        });
        DocumentSite {
            base,
            ca_file,
            fetched,
            _dir: dir,
            _server: server,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn fetches(&self, path: &str) -> usize {
        self.fetched.lock().unwrap().get(path).copied().unwrap_or(0)
    }
}

/// A gateway that may fetch metadata documents from the loopback site, trusting its CA.
async fn documents_setup(site: &DocumentSite) -> Setup {
    let ca = site.ca_file.to_str().unwrap().to_string();
    setup(&[
        ("GATEWAY_OAUTH_CLIENT_DOCUMENTS_PRIVATE", "allow"),
        ("GATEWAY_OAUTH_CLIENT_DOCUMENTS_CA", &ca),
    ])
    .await
}

impl Setup {
    /// The authorization server metadata (RFC 8414).
    async fn server_metadata(&self) -> Value {
        self.http
            .get(self.url("/.well-known/oauth-authorization-server"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// The refusal page for a client id: its status and text.
    async fn client_refused(&self, client: &str) -> (u16, String) {
        let (_, challenge) = pkce();
        let response = self
            .authorize_get(&self.authorize_query(client, &challenge, "nomad:read"))
            .await;
        (response.status().as_u16(), response.text().await.unwrap())
    }
}

#[tokio::test]
async fn a_client_named_by_its_metadata_document_signs_in_refreshes_and_is_fetched_once() {
    let site = DocumentSite::start().await;
    let s = documents_setup(&site).await;
    let metadata = s.server_metadata().await;
    assert_eq!(metadata["client_id_metadata_document_supported"], true);

    let client = site.url(LONG_DOC);
    assert!(client.len() > 64, "{client}");
    let (_, challenge) = pkce();
    let (html, _) = s
        .consent(&s.authorize_query(&client, &challenge, "nomad:read"))
        .await;
    assert!(
        html.contains("<strong>Doc Connector</strong> asks"),
        "{html}"
    );
    assert!(
        html.contains("Its description is published by <strong>127.0.0.1</strong>."),
        "{html}"
    );

    let (code, verifier) = s.code(&client, &s.admin, &["nomad:read"]).await;
    let (status, tokens) = s.exchange(&client, &code, &verifier).await;
    assert_eq!(status, 200, "{tokens}");
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(s.jobs_status(access).await, 200);
    let claims = claims_of(access);
    assert_eq!(claims["client_id"], client.as_str());
    let (status, refreshed) = s
        .refresh(&client, tokens["refresh_token"].as_str().unwrap())
        .await;
    assert_eq!(status, 200, "{refreshed}");
    // Two pages, an approval, a code exchange and a refresh: one fetch (max-age=300).
    assert_eq!(site.fetches(LONG_DOC), 1);

    // A document client cannot present a secret it was never given: the token endpoint
    // treats it as the public client it is, and a redirect URI it does not list is refused.
    let (_, challenge) = pkce();
    let mut query = s.authorize_query(&client, &challenge, "nomad:read");
    query.retain(|(k, _)| k != "redirect_uri");
    query.push(("redirect_uri".into(), "https://evil.example/cb".into()));
    let response = s.authorize_get(&query).await;
    assert_eq!(response.status(), 400);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("is not one registered for Doc Connector")
    );
}

#[tokio::test]
async fn metadata_documents_are_refused_with_exact_answers() {
    let site = DocumentSite::start().await;
    let s = documents_setup(&site).await;
    let cases = [
        (
            "/mismatch.json",
            "names the client_id &#39;https://other.example/c.json&#39;; it must be exactly its own URL",
        ),
        (
            "/secret.json",
            "token_endpoint_auth_method &#39;client_secret_basic&#39; is not supported; use none",
        ),
        (
            "/web-redirect.json",
            "uses http on a host that is not loopback",
        ),
        (
            "/moved.json",
            "redirects (307 Temporary Redirect) to /good.json; redirects are not followed",
        ),
        ("/big.json", "is larger than 5120 bytes"),
        ("/missing.json", "answered 404 Not Found, not 200"),
        ("/not-json.json", "is not a client metadata document"),
    ];
    for (path, said) in cases {
        let (status, text) = s.client_refused(&site.url(path)).await;
        assert_eq!(status, 400, "{path}: {text}");
        assert!(text.contains(said), "{path}: {text}");
        assert!(
            text.contains(&format!("the client metadata document {}", site.url(path))),
            "{text}"
        );
    }
    // The moved document's target was not fetched.
    assert_eq!(site.fetches("/good.json"), 0);

    // URL rules, said before anything is fetched.
    for (client, said) in [
        (
            format!("{}/a/../good.json", site.base),
            ". or .. path segments",
        ),
        (format!("{}/good.json#top", site.base), "has a fragment"),
        (format!("{}/", site.base), "has no path"),
        (
            site.url("/good.json").replace("https://", "http://"),
            "is not an https URL",
        ),
    ] {
        let (status, text) = s.client_refused(&client).await;
        assert_eq!(status, 400, "{client}: {text}");
        assert!(text.contains(said), "{client}: {text}");
    }
    assert_eq!(site.fetches("/good.json"), 0);

    // A refusal is kept for a few seconds: asking again does not fetch again.
    let before = site.fetches("/missing.json");
    s.client_refused(&site.url("/missing.json")).await;
    assert_eq!(site.fetches("/missing.json"), before);

    // The token endpoint answers a bad document as invalid_client, in JSON.
    let (status, answer) = s
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", "ngwa_x"),
            ("client_id", &site.url("/mismatch.json")),
            ("code_verifier", &"v".repeat(43)),
        ])
        .await;
    assert_eq!(status, 401, "{answer}");
    assert_eq!(answer["error"], "invalid_client");
    assert!(
        answer["error_description"]
            .as_str()
            .unwrap()
            .contains("it must be exactly its own URL"),
        "{answer}"
    );

    // A document that does not come within 5 s.
    let started = std::time::Instant::now();
    let (status, text) = s.client_refused(&site.url("/slow.json")).await;
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("did not answer within 5s"), "{text}");
    assert!(
        started.elapsed() < Duration::from_secs(7),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn metadata_documents_on_private_addresses_are_refused_unless_allowed() {
    let site = DocumentSite::start().await;
    let ca = site.ca_file.to_str().unwrap().to_string();
    let s = setup(&[("GATEWAY_OAUTH_CLIENT_DOCUMENTS_CA", &ca)]).await;
    let (status, text) = s.client_refused(&site.url("/good.json")).await;
    assert_eq!(status, 400, "{text}");
    assert!(
        text.contains(
            "is on 127.0.0.1, a loopback or private address; documents there are refused"
        ),
        "{text}"
    );
    // A name that resolves to loopback: refused by the resolver, nothing connects.
    let by_name = site.url("/good.json").replace("127.0.0.1", "localhost");
    let (status, text) = s.client_refused(&by_name).await;
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("localhost has no public address"), "{text}");
    assert_eq!(site.fetches("/good.json"), 0);

    // With documents off, a URL is just an unknown client.
    let off = setup(&[("GATEWAY_OAUTH_CLIENT_DOCUMENTS", "off")]).await;
    let metadata = off.server_metadata().await;
    assert_eq!(metadata["client_id_metadata_document_supported"], false);
    let (status, text) = off.client_refused(&site.url("/good.json")).await;
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("is not registered here"), "{text}");
    assert_eq!(site.fetches("/good.json"), 0);
}
