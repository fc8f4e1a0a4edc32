//! The built-in authorization server's endpoints (`GATEWAY_OAUTH=builtin`): its metadata
//! (RFC 8414), key set, client registration (RFC 7591), the authorization endpoint with its
//! sign-in and consent page, the token endpoint and revocation (RFC 7009). With it off
//! these routes answer the same 404 as any unknown path.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Json, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use base64::Engine;
use subtle::ConstantTimeEq;

use super::ApiError;
use super::page::{self, Consent};
use crate::config::Scope;
use crate::service::oauth::grants::{
    Approval, AuthorizeRequest, Checked, Refusal, RevokeRequest, TokenRequest,
};
use crate::service::oauth::{AuthorizationServer, OAuthError, random_token};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/.well-known/oauth-authorization-server", get(metadata))
        .route("/oauth/jwks.json", get(jwks))
        .route("/oauth/register", post(register))
        .route(
            "/oauth/authorize",
            get(authorize_page).post(authorize_answer),
        )
        .route("/oauth/token", post(token))
        .route("/oauth/revoke", post(revoke))
        .route("/oauth/oidc/callback", get(provider_callback))
}

type Server = Arc<AuthorizationServer>;

/// The authorization server, or the 404 any unknown path gets when it is off.
fn server(state: &AppState, path: &str) -> Result<Server, ApiError> {
    state.oauth.clone().ok_or_else(|| {
        ApiError::NotFound(format!(
            "no route for {path}; the REST API lives under /api/v1"
        ))
    })
}

/// A JSON answer nobody may cache (RFC 6749 §5.1).
fn no_store(status: StatusCode, body: serde_json::Value) -> Response {
    let mut response = (status, Json(body)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

fn oauth_error(error: OAuthError) -> Response {
    let status = StatusCode::from_u16(error.status).unwrap_or(StatusCode::BAD_REQUEST);
    let mut response = no_store(status, error.json());
    if let Some(wait) = error.retry_after
        && let Ok(value) = HeaderValue::from_str(&wait.as_secs().max(1).to_string())
    {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"nomad-gateway\""),
        );
    }
    response
}

async fn metadata(State(state): State<AppState>) -> Response {
    match server(&state, "/.well-known/oauth-authorization-server") {
        Ok(server) => Json(server.metadata()).into_response(),
        Err(response) => response.into_response(),
    }
}

async fn jwks(State(state): State<AppState>) -> Response {
    let server = match server(&state, "/oauth/jwks.json") {
        Ok(server) => server,
        Err(response) => return response.into_response(),
    };
    match server.jwks().await {
        Ok(keys) => {
            let mut response = Json(keys).into_response();
            response.headers_mut().insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=300"),
            );
            response
        }
        Err(error) => oauth_error(error),
    }
}

fn address(connect: Option<Extension<ConnectInfo<SocketAddr>>>) -> Option<String> {
    connect.map(|Extension(c)| c.0.ip().to_string())
}

async fn register(
    State(state): State<AppState>,
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
    body: Bytes,
) -> Response {
    let server = match server(&state, "/oauth/register") {
        Ok(server) => server,
        Err(response) => return response.into_response(),
    };
    let request = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(e) => {
            return oauth_error(OAuthError::bad(
                "invalid_client_metadata",
                format!("the registration must be a JSON object (RFC 7591): {e}"),
            ));
        }
    };
    match server.register(request, address(connect)).await {
        Ok(registered) => no_store(
            StatusCode::CREATED,
            serde_json::to_value(registered).unwrap_or_default(),
        ),
        Err(error) => oauth_error(error),
    }
}

/// The CSRF cookie: `__Host-` over HTTPS (no subdomain can set or read it).
fn csrf_cookie_name(state: &AppState) -> &'static str {
    if state.config.server.public_url.scheme() == "https" {
        "__Host-ngw_csrf"
    } else {
        "ngw_csrf"
    }
}

/// The value of the cookie `name` the browser sent.
fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// The authorization request as hidden fields of the form.
fn hidden(request: &AuthorizeRequest) -> Vec<(&'static str, String)> {
    let fields = [
        ("client_id", &request.client_id),
        ("redirect_uri", &request.redirect_uri),
        ("response_type", &request.response_type),
        ("state", &request.state),
        ("code_challenge", &request.code_challenge),
        ("code_challenge_method", &request.code_challenge_method),
        ("resource", &request.resource),
        ("scope", &request.scope),
    ];
    fields
        .into_iter()
        .filter_map(|(k, v)| v.clone().map(|v| (k, v)))
        .collect()
}

fn refusal(refusal: Refusal) -> Response {
    match refusal {
        Refusal::Page(error) => {
            let status = if error.status == 503 {
                StatusCode::SERVICE_UNAVAILABLE
            } else {
                StatusCode::BAD_REQUEST
            };
            page::error_page(status, &error.description)
        }
        Refusal::Redirect(to) => Redirect::to(&to).into_response(),
    }
}

struct Shown<'a> {
    state: &'a AppState,
    server: &'a Server,
    request: &'a AuthorizeRequest,
    checked: &'a Checked,
    csrf: String,
    /// The identity provider (name, origin), when one is configured.
    provider: Option<(String, String)>,
}

fn show(shown: Shown<'_>, ticked: &[Scope], problem: Option<&str>, set_cookie: bool) -> Response {
    let fields = hidden(shown.request);
    let mut response = page::consent_page(&Consent {
        client_name: &shown.checked.client.name,
        published_by: crate::service::oauth::documents::publisher(&shown.checked.client.client_id),
        redirect_uri: &shown.checked.redirect_uri,
        gateway: shown.server.issuer(),
        scopes: &shown.checked.scopes,
        ticked,
        hidden: &fields,
        csrf: &shown.csrf,
        problem,
        provider: shown.provider.clone(),
    });
    if set_cookie {
        let secure = if shown.state.config.server.public_url.scheme() == "https" {
            "; Secure"
        } else {
            ""
        };
        let cookie = format!(
            "{}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age=900{secure}",
            csrf_cookie_name(shown.state),
            shown.csrf
        );
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().insert(header::SET_COOKIE, value);
        }
    }
    response
}

async fn authorize_page(State(state): State<AppState>, RawQuery(query): RawQuery) -> Response {
    let server = match server(&state, "/oauth/authorize") {
        Ok(server) => server,
        Err(response) => return response.into_response(),
    };
    let request: AuthorizeRequest = match serde_urlencoded::from_str(query.as_deref().unwrap_or(""))
    {
        Ok(request) => request,
        Err(e) => {
            return page::error_page(
                StatusCode::BAD_REQUEST,
                &format!("the authorization request is malformed (a parameter given twice?): {e}"),
            );
        }
    };
    let checked = match server.check_authorize(&request).await {
        Ok(checked) => checked,
        Err(r) => return refusal(r),
    };
    let csrf = match random_token(32) {
        Ok(csrf) => csrf,
        Err(error) => {
            return page::error_page(StatusCode::INTERNAL_SERVER_ERROR, &error.description);
        }
    };
    let ticked = checked.scopes.clone();
    show(
        Shown {
            state: &state,
            server: &server,
            request: &request,
            checked: &checked,
            csrf,
            provider: server.provider().await,
        },
        &ticked,
        None,
        true,
    )
}

/// The consent form as sent: the request's fields, the CSRF token, the API key, the
/// decision and the ticked scopes (a repeated `grant` field).
#[derive(Default)]
struct Submitted {
    request: AuthorizeRequest,
    csrf: String,
    api_key: String,
    decision: String,
    ticked: Vec<Scope>,
}

fn submitted(body: &[u8]) -> Submitted {
    let mut form = Submitted::default();
    for (key, value) in form_urlencoded::parse(body) {
        let value = value.into_owned();
        let r = &mut form.request;
        match key.as_ref() {
            "client_id" => r.client_id = Some(value),
            "redirect_uri" => r.redirect_uri = Some(value),
            "response_type" => r.response_type = Some(value),
            "state" => r.state = Some(value),
            "code_challenge" => r.code_challenge = Some(value),
            "code_challenge_method" => r.code_challenge_method = Some(value),
            "resource" => r.resource = Some(value),
            "scope" => r.scope = Some(value),
            "csrf" => form.csrf = value,
            "api_key" => form.api_key = value.trim().to_string(),
            "decision" => form.decision = value,
            "grant" => form.ticked.extend(Scope::parse(&value)),
            _ => {}
        }
    }
    form
}

async fn authorize_answer(
    State(state): State<AppState>,
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let server = match server(&state, "/oauth/authorize") {
        Ok(server) => server,
        Err(response) => return response.into_response(),
    };
    let form = submitted(&body);
    let cookie = cookie_value(&headers, csrf_cookie_name(&state)).unwrap_or_default();
    if form.csrf.is_empty() || !bool::from(form.csrf.as_bytes().ct_eq(cookie.as_bytes())) {
        return page::error_page(
            StatusCode::FORBIDDEN,
            "this form has expired or was not sent from this gateway's sign-in page (its check token does not match); start the sign-in again from the application",
        );
    }
    let checked = match server.check_authorize(&form.request).await {
        Ok(checked) => checked,
        Err(r) => return refusal(r),
    };
    let provider = server.provider().await;
    let shown = || Shown {
        state: &state,
        server: &server,
        request: &form.request,
        checked: &checked,
        csrf: form.csrf.clone(),
        provider: provider.clone(),
    };
    match form.decision.as_str() {
        "deny" => return Redirect::to(&server.deny(&checked, None).await).into_response(),
        "oidc" if !form.ticked.is_empty() => return depart(&state, &server, &form).await,
        "approve" | "oidc" => {}
        _ => return show(shown(), &form.ticked, Some("choose Approve or Deny"), false),
    }
    if form.ticked.is_empty() {
        return show(
            shown(),
            &form.ticked,
            Some("tick at least one thing it may do, or choose Deny"),
            false,
        );
    }
    if form.api_key.is_empty() {
        return show(
            shown(),
            &form.ticked,
            Some("paste your API key (ngw_...) to sign in"),
            false,
        );
    }
    let signer = match state.auth.sign_in(&form.api_key, address(connect)).await {
        Ok(signer) => signer,
        Err(error) => return show(shown(), &form.ticked, Some(&error.to_string()), false),
    };
    let api_key_id = match &signer.credential {
        crate::service::policy::Credential::ApiKey { id, .. } => Some(*id),
        _ => None,
    };
    match server
        .approve(Approval {
            checked: &checked,
            signer: &signer,
            api_key_id,
            ticked: &form.ticked,
        })
        .await
    {
        Ok(to) => Redirect::to(&to).into_response(),
        Err(error) if error.status == 503 => {
            page::error_page(StatusCode::SERVICE_UNAVAILABLE, &error.description)
        }
        Err(error) => show(shown(), &form.ticked, Some(&error.description), false),
    }
}

/// The browser leaves for the identity provider with a cookie that binds its return to it:
/// `SameSite=Lax`, since the return is a top-level navigation from the provider's site.
async fn depart(state: &AppState, server: &Server, form: &Submitted) -> Response {
    match server.depart(&form.request, &form.ticked).await {
        Ok(departure) => {
            let https = state.config.server.public_url.scheme() == "https";
            let cookie = format!(
                "{}={}; Path=/oauth/oidc; HttpOnly; SameSite=Lax; Max-Age=600{}",
                provider_cookie_name(state),
                departure.browser,
                if https { "; Secure" } else { "" }
            );
            let mut response = Redirect::to(&departure.provider_url).into_response();
            if let Ok(value) = HeaderValue::from_str(&cookie) {
                response.headers_mut().insert(header::SET_COOKIE, value);
            }
            response
        }
        Err(error) => page::error_page(
            StatusCode::from_u16(error.status).unwrap_or(StatusCode::BAD_GATEWAY),
            &error.description,
        ),
    }
}

fn provider_cookie_name(state: &AppState) -> &'static str {
    if state.config.server.public_url.scheme() == "https" {
        "__Secure-ngw_oidc"
    } else {
        "ngw_oidc"
    }
}

#[derive(Debug, Default, serde::Deserialize)]
struct ProviderAnswer {
    state: Option<String>,
    code: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// `GET /oauth/oidc/callback`: the identity provider sends the browser back.
async fn provider_callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let server = match server(&state, "/oauth/oidc/callback") {
        Ok(server) => server,
        Err(response) => return response.into_response(),
    };
    let answer: ProviderAnswer =
        serde_urlencoded::from_str(query.as_deref().unwrap_or("")).unwrap_or_default();
    let Some(sent) = answer.state.as_deref() else {
        return page::error_page(
            StatusCode::BAD_REQUEST,
            "the identity provider's answer carries no state; start again from the application",
        );
    };
    let said = answer
        .error
        .as_deref()
        .map(|e| match &answer.error_description {
            Some(d) => format!("{e} ({d})"),
            None => e.to_string(),
        });
    let browser = cookie_value(&headers, provider_cookie_name(&state)).unwrap_or_default();
    match server
        .arrive(sent, answer.code.as_deref(), said.as_deref(), &browser)
        .await
    {
        Ok(to) => Redirect::to(&to).into_response(),
        Err(r) => refusal(r),
    }
}

/// HTTP Basic client credentials (RFC 6749 §2.3.1: each part form-urlencoded).
fn basic(headers: &HeaderMap) -> Result<Option<(String, String)>, OAuthError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let bad = || OAuthError::client("the Authorization header is not Basic client credentials");
    let text = value.to_str().map_err(|_| bad())?;
    let Some((scheme, encoded)) = text.split_once(' ') else {
        return Err(bad());
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(bad());
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| bad())?;
    let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(bad)?;
    let unescape = |s: &str| {
        form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Ok(Some((unescape(id), unescape(secret))))
}

fn form<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, OAuthError> {
    serde_urlencoded::from_bytes(body).map_err(|e| {
        OAuthError::bad(
            "invalid_request",
            format!(
                "the request must be application/x-www-form-urlencoded, each parameter once: {e}"
            ),
        )
    })
}

async fn token(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let server = match server(&state, "/oauth/token") {
        Ok(server) => server,
        Err(response) => return response.into_response(),
    };
    let result = async {
        let request: TokenRequest = form(&body)?;
        server.token(request, basic(&headers)?).await
    }
    .await;
    match result {
        Ok(tokens) => no_store(
            StatusCode::OK,
            serde_json::to_value(tokens).unwrap_or_default(),
        ),
        Err(error) => oauth_error(error),
    }
}

async fn revoke(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let server = match server(&state, "/oauth/revoke") {
        Ok(server) => server,
        Err(response) => return response.into_response(),
    };
    let result = async {
        let request: RevokeRequest = form(&body)?;
        server.revoke(request, basic(&headers)?).await
    }
    .await;
    match result {
        Ok(()) => no_store(StatusCode::OK, serde_json::json!({})),
        Err(error) => oauth_error(error),
    }
}
