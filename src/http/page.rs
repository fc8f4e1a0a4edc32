//! The pages a person sees: the built-in authorization server's sign-in and consent page
//! and its error page. Server-rendered HTML with inline CSS and no JavaScript; every value
//! is escaped; the headers forbid framing, caching and referrers to other sites.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::config::Scope;

/// `text` with the five HTML-special characters escaped.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// What a scope lets a client do, in the words the consent page uses.
pub fn scope_words(scope: Scope) -> &'static str {
    match scope {
        Scope::NomadRead => "read jobs, allocations, deployments, nodes and logs",
        Scope::NomadWrite => "submit, scale, restart and stop jobs and allocations",
        Scope::NodesWrite => "drain nodes and change their eligibility",
        Scope::VariablesRead => "read the values of Nomad Variables",
        Scope::VariablesWrite => "create, change and delete Nomad Variables",
        Scope::Admin => "manage API keys and read the audit log",
    }
}

const STYLE: &str = "body{font:16px/1.5 system-ui,sans-serif;background:#f4f5f7;color:#1d2330;margin:0}\
main{max-width:34rem;margin:3rem auto;background:#fff;border-radius:8px;padding:2rem 2.25rem;box-shadow:0 1px 3px #0002}\
h1{font-size:1.35rem;margin:0 0 1rem}p{margin:.5rem 0}.who{color:#4a5163}\
fieldset{border:1px solid #d6d9e0;border-radius:6px;margin:1.25rem 0;padding:.75rem 1rem}\
legend{font-weight:600;padding:0 .35rem}label.scope{display:block;margin:.4rem 0}\
label.scope code{font-weight:600}label.scope span{display:block;margin-left:1.6rem;color:#4a5163;font-size:.92rem}\
input[type=password]{width:100%;box-sizing:border-box;padding:.55rem;font:inherit;border:1px solid #b9bfcc;border-radius:5px}\
.buttons{display:flex;gap:.75rem;margin-top:1.5rem}button{font:inherit;padding:.55rem 1.2rem;border-radius:5px;border:1px solid #b9bfcc;background:#fff;cursor:pointer}\
button.approve{background:#1f5fd1;border-color:#1f5fd1;color:#fff}.error{background:#fdecec;border:1px solid #f2b8b8;border-radius:5px;padding:.6rem .8rem;color:#8a1c1c}\
.small{font-size:.85rem;color:#6a7183}";

/// A page answer with the headers every page carries. `form_targets` are the origins a
/// form on it may submit or redirect to (CSP `form-action` also covers the redirect after
/// the POST).
pub fn respond(status: StatusCode, html: String, form_targets: &[String]) -> Response {
    let csp = format!(
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self' {}; frame-ancestors 'none'; base-uri 'none'",
        form_targets.join(" ")
    );
    let mut response = (status, html).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // `same-origin`, not `no-referrer`: under `no-referrer` a browser sends `Origin: null`
    // with the form's POST, which the origin rule refuses; across origins nothing is sent.
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    if let Ok(value) = HeaderValue::from_str(&csp) {
        headers.insert(header::CONTENT_SECURITY_POLICY, value);
    }
    response
}

fn document(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
<title>{}</title><style>{STYLE}</style></head><body><main>{body}</main></body></html>",
        escape(title)
    )
}

/// An authorization request that cannot go on, said to the person (never redirected).
pub fn error_page(status: StatusCode, what: &str) -> Response {
    let body = format!(
        "<h1>This sign-in cannot go on</h1><p class=\"error\">{}</p>\
<p class=\"small\">Start again from the application that sent you here. If it keeps happening, \
tell whoever runs this gateway.</p>",
        escape(what)
    );
    respond(
        status,
        document("Sign-in refused · nomad-gateway", &body),
        &[],
    )
}

/// What the consent page shows and carries.
pub struct Consent<'a> {
    pub client_name: &'a str,
    /// The host that publishes the client's metadata document, when it named itself by one
    /// (anyone can claim any name; the host is what vouches for it).
    pub published_by: Option<String>,
    /// Where the answer goes (its host is shown).
    pub redirect_uri: &'a str,
    pub gateway: &'a str,
    pub scopes: &'a [Scope],
    /// Ticked scopes (all, the first time).
    pub ticked: &'a [Scope],
    /// The authorization request, carried as hidden fields.
    pub hidden: &'a [(&'static str, String)],
    pub csrf: &'a str,
    /// Why the last submission did not go through.
    pub problem: Option<&'a str>,
    /// The team's identity provider (name, origin), when people may sign in through it.
    pub provider: Option<(String, String)>,
}

pub fn consent_page(consent: &Consent<'_>) -> Response {
    let target = url::Url::parse(consent.redirect_uri).ok();
    let host = target
        .as_ref()
        .and_then(|u| u.host_str().map(String::from))
        .unwrap_or_default();
    let origin = target
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default();
    let mut body = format!(
        "<h1>Sign in to nomad-gateway</h1>\
<p><strong>{}</strong> asks to use the Nomad gateway at <strong>{}</strong> as you.</p>\
<p class=\"who\">When you approve, you are sent back to <strong>{}</strong>.</p>",
        escape(consent.client_name),
        escape(consent.gateway),
        escape(&host)
    );
    if let Some(site) = &consent.published_by {
        body.push_str(&format!(
            "<p class=\"who\">Its description is published by <strong>{}</strong>.</p>",
            escape(site)
        ));
    }
    if let Some(problem) = consent.problem {
        body.push_str(&format!(
            "<p class=\"error\" role=\"alert\">{}</p>",
            escape(problem)
        ));
    }
    body.push_str("<form method=\"post\" action=\"/oauth/authorize\">");
    for (name, value) in consent.hidden {
        body.push_str(&format!(
            "<input type=\"hidden\" name=\"{name}\" value=\"{}\">",
            escape(value)
        ));
    }
    body.push_str(&format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        escape(consent.csrf)
    ));
    body.push_str("<fieldset><legend>It may</legend>");
    for scope in consent.scopes {
        let checked = if consent.ticked.contains(scope) {
            " checked"
        } else {
            ""
        };
        body.push_str(&format!(
            "<label class=\"scope\"><input type=\"checkbox\" name=\"grant\" value=\"{0}\"{checked}> <code>{0}</code><span>{1}</span></label>",
            scope.as_str(),
            scope_words(*scope)
        ));
    }
    body.push_str(
        "<p class=\"small\">Untick what it should not have. It never gets more than you may do yourself.</p></fieldset>",
    );
    // Approve comes first in the form, so Enter in the key field approves (HTML's implicit
    // submission presses the form's first submit button).
    body.push_str(
        "<fieldset><legend>Sign in with an API key</legend><label for=\"api_key\">Your API key</label>\
<input type=\"password\" id=\"api_key\" name=\"api_key\" autocomplete=\"off\" spellcheck=\"false\" placeholder=\"ngw_...\">\
<p class=\"small\">The key is checked once and not kept by the application; its tokens stop working when the key is revoked.</p></fieldset>",
    );
    body.push_str(
        "<div class=\"buttons\"><button class=\"approve\" type=\"submit\" name=\"decision\" value=\"approve\">Approve</button>\
<button type=\"submit\" name=\"decision\" value=\"deny\">Deny</button></div>",
    );
    if let Some((provider, _)) = &consent.provider {
        body.push_str(&format!(
            "<fieldset><legend>Or sign in with your identity provider</legend>\
<p><button class=\"approve\" type=\"submit\" name=\"decision\" value=\"oidc\">Sign in with {}</button></p>\
<p class=\"small\">It gets what you ticked that your groups allow.</p></fieldset>",
            escape(provider)
        ));
    }
    body.push_str("</form>");
    let status = if consent.problem.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let mut targets = vec![origin];
    targets.extend(consent.provider.as_ref().map(|(_, at)| at.clone()));
    respond(status, document("Sign in · nomad-gateway", &body), &targets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_covers_attributes_and_text() {
        assert_eq!(
            escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
