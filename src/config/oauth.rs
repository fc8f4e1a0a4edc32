//! The built-in authorization server: `GATEWAY_OAUTH`, its lifetimes, and the team's
//! OpenID Connect provider people sign in through (`GATEWAY_OIDC_*`).

use std::time::Duration;

use super::{
    AuthSettings, ConfigError, Secret, ServerSettings, Sources, duration, parse, path, text, word,
};

#[derive(Debug, Clone)]
pub struct OAuthSettings {
    /// `GATEWAY_OAUTH=builtin`: the gateway is its own OAuth authorization server.
    pub builtin: bool,
    /// `GATEWAY_OAUTH_ACCESS_TTL`: how long an access token lives.
    pub access_ttl: Duration,
    /// `GATEWAY_OAUTH_REFRESH_TTL`: how long a sign-in lasts (its refresh tokens with it).
    pub refresh_ttl: Duration,
    /// `GATEWAY_OAUTH_KEY_ROTATION`: how long one signing key signs.
    pub key_rotation: Duration,
    /// `GATEWAY_OAUTH_KEY_SECRET`: seals the signing keys in the database (AES-256-GCM),
    /// so reading the database is not enough to mint tokens.
    pub key_secret: Option<Secret>,
    /// `GATEWAY_OAUTH_REGISTRATIONS`: client registrations per client address per minute.
    pub registrations: u32,
    /// The team's identity provider, when `GATEWAY_OIDC_ISSUER` is set.
    pub oidc: Option<OidcSettings>,
    /// Clients named by a client ID metadata document.
    pub documents: DocumentSettings,
}

#[derive(Debug, Clone)]
pub struct DocumentSettings {
    /// `GATEWAY_OAUTH_CLIENT_DOCUMENTS=on|off`: an `https` URL as `client_id` is fetched.
    pub enabled: bool,
    /// `GATEWAY_OAUTH_CLIENT_DOCUMENTS_PRIVATE=allow`: documents may be fetched from
    /// loopback and private addresses (a lab, the tests); refused by default.
    pub private: bool,
    /// `GATEWAY_OAUTH_CLIENT_DOCUMENTS_CA`: a file of PEM roots trusted besides the
    /// system's, and what it holds.
    pub ca_file: Option<std::path::PathBuf>,
    pub ca_pem: Option<Vec<u8>>,
}

#[derive(Debug, Clone)]
pub struct OidcSettings {
    /// `GATEWAY_OIDC_ISSUER`: the provider (its discovery document is under it).
    pub issuer: url::Url,
    /// `GATEWAY_OIDC_CLIENT_ID`: the gateway's client at the provider.
    pub client_id: String,
    /// `GATEWAY_OIDC_CLIENT_SECRET`.
    pub client_secret: Secret,
    /// `GATEWAY_OIDC_SCOPES`: what the gateway asks the provider for.
    pub scopes: String,
    /// `GATEWAY_OIDC_NAMESPACES`: the namespaces of a person whose ID token names none.
    pub namespaces: Vec<String>,
}

/// Whether a URL's host is a loopback address or `localhost`.
fn is_loopback(url: &url::Url) -> bool {
    host_is_loopback(url.host())
}

/// Whether a host is a loopback address or `localhost`: where `http` may stand in for
/// `https` (RFC 8252 §7.3 for native clients' redirects, a laptop's gateway).
pub fn host_is_loopback(host: Option<url::Host<&str>>) -> bool {
    match host {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

fn document_settings(s: &Sources) -> Result<DocumentSettings, ConfigError> {
    let key = "GATEWAY_OAUTH_CLIENT_DOCUMENTS_CA";
    let ca_file = path(s, key);
    let ca_pem = match &ca_file {
        None => None,
        Some(file) => {
            let pem = std::fs::read(file).map_err(|e| {
                ConfigError::new(key, format!("cannot read {}: {e}", file.display()))
            })?;
            if !String::from_utf8_lossy(&pem).contains("-----BEGIN CERTIFICATE-----") {
                return Err(ConfigError::new(
                    key,
                    format!("{} holds no PEM certificate", file.display()),
                ));
            }
            Some(pem)
        }
    };
    Ok(DocumentSettings {
        enabled: word(s, "GATEWAY_OAUTH_CLIENT_DOCUMENTS", &["on", "off"], "on")? == "on",
        private: word(
            s,
            "GATEWAY_OAUTH_CLIENT_DOCUMENTS_PRIVATE",
            &["refuse", "allow"],
            "refuse",
        )? == "allow",
        ca_file,
        ca_pem,
    })
}

fn oidc_settings(s: &Sources) -> Result<Option<OidcSettings>, ConfigError> {
    let issuer = text(s, "GATEWAY_OIDC_ISSUER");
    let client_id = text(s, "GATEWAY_OIDC_CLIENT_ID");
    let secret = s.get("GATEWAY_OIDC_CLIENT_SECRET").map(Secret::new);
    let (issuer, client_id, client_secret) = match (issuer, client_id, secret) {
        (None, None, None) => return Ok(None),
        (Some(i), Some(c), Some(k)) => (i, c, k),
        (None, _, _) => {
            return Err(ConfigError::new(
                "GATEWAY_OIDC_ISSUER",
                "is needed with GATEWAY_OIDC_CLIENT_ID and GATEWAY_OIDC_CLIENT_SECRET",
            ));
        }
        (_, None, _) => {
            return Err(ConfigError::new(
                "GATEWAY_OIDC_CLIENT_ID",
                "is needed with GATEWAY_OIDC_ISSUER: the gateway's client id at the provider",
            ));
        }
        (_, _, None) => {
            return Err(ConfigError::new(
                "GATEWAY_OIDC_CLIENT_SECRET",
                "is needed with GATEWAY_OIDC_ISSUER: the gateway's client secret at the provider",
            ));
        }
    };
    let issuer = url::Url::parse(&issuer).map_err(|e| {
        ConfigError::new(
            "GATEWAY_OIDC_ISSUER",
            format!("'{issuer}' is not a URL: {e}"),
        )
    })?;
    if issuer.scheme() != "https" && !(issuer.scheme() == "http" && is_loopback(&issuer)) {
        return Err(ConfigError::new(
            "GATEWAY_OIDC_ISSUER",
            format!("must be an https URL (http only on loopback), and it is {issuer}"),
        ));
    }
    let scopes = text(s, "GATEWAY_OIDC_SCOPES").unwrap_or_else(|| "openid profile email".into());
    if !scopes.split(' ').any(|w| w == "openid") {
        return Err(ConfigError::new(
            "GATEWAY_OIDC_SCOPES",
            format!("must include openid (it is '{scopes}'): without it no ID token comes back"),
        ));
    }
    let namespaces: Vec<String> = text(s, "GATEWAY_OIDC_NAMESPACES")
        .unwrap_or_else(|| "default".into())
        .split(',')
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty())
        .collect();
    Ok(Some(OidcSettings {
        issuer,
        client_id,
        client_secret,
        scopes,
        namespaces,
    }))
}

fn bounded(
    s: &Sources,
    key: &str,
    default: Duration,
    (min, max): (Duration, Duration),
    shown: (&str, &str),
) -> Result<Duration, ConfigError> {
    let value = duration(s, key, default)?;
    if value < min || value > max {
        return Err(ConfigError::new(
            key,
            format!("must be between {} and {}", shown.0, shown.1),
        ));
    }
    Ok(value)
}

const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(86_400);

pub(super) fn oauth_settings(
    s: &Sources,
    server: &ServerSettings,
    auth: &AuthSettings,
) -> Result<OAuthSettings, ConfigError> {
    let builtin = word(s, "GATEWAY_OAUTH", &["off", "builtin"], "off")? == "builtin";
    let settings = OAuthSettings {
        builtin,
        access_ttl: bounded(
            s,
            "GATEWAY_OAUTH_ACCESS_TTL",
            15 * MINUTE,
            (MINUTE, DAY),
            ("1m", "24h"),
        )?,
        refresh_ttl: bounded(
            s,
            "GATEWAY_OAUTH_REFRESH_TTL",
            30 * DAY,
            (HOUR, 365 * DAY),
            ("1h", "365d"),
        )?,
        key_rotation: bounded(
            s,
            "GATEWAY_OAUTH_KEY_ROTATION",
            30 * DAY,
            (HOUR, 365 * DAY),
            ("1h", "365d"),
        )?,
        registrations: parse(
            s,
            "GATEWAY_OAUTH_REGISTRATIONS",
            10,
            "a number of registrations a minute",
        )?,
        key_secret: s.get("GATEWAY_OAUTH_KEY_SECRET").map(Secret::new),
        oidc: oidc_settings(s)?,
        documents: document_settings(s)?,
    };
    if let Some(secret) = &settings.key_secret
        && secret.expose().len() < 32
    {
        return Err(ConfigError::new(
            "GATEWAY_OAUTH_KEY_SECRET",
            "must be at least 32 characters (openssl rand -base64 32 makes one)",
        ));
    }
    if settings.registrations == 0 || settings.registrations > 10_000 {
        return Err(ConfigError::new(
            "GATEWAY_OAUTH_REGISTRATIONS",
            "must be between 1 and 10000 registrations a minute per client address",
        ));
    }
    if !builtin {
        if settings.oidc.is_some() {
            return Err(ConfigError::new(
                "GATEWAY_OIDC_ISSUER",
                "people sign in through it on the built-in authorization server; set GATEWAY_OAUTH=builtin",
            ));
        }
        return Ok(settings);
    }
    if !auth.enabled {
        return Err(ConfigError::new(
            "GATEWAY_OAUTH",
            "builtin needs authentication on (GATEWAY_AUTH=on): the tokens it issues are credentials",
        ));
    }
    if !auth.authorization_servers.is_empty() {
        return Err(ConfigError::new(
            "GATEWAY_OAUTH",
            "builtin makes the gateway its own authorization server; leave GATEWAY_OAUTH_AUTHORIZATION_SERVERS unset",
        ));
    }
    let url = &server.public_url;
    let loopback = is_loopback(url);
    if url.scheme() != "https" && !loopback {
        return Err(ConfigError::new(
            "GATEWAY_OAUTH",
            format!(
                "builtin needs an https GATEWAY_PUBLIC_URL (OAuth 2.1 sends codes and tokens only over TLS), and it is {url}"
            ),
        ));
    }
    if url.path() != "/" {
        return Err(ConfigError::new(
            "GATEWAY_OAUTH",
            format!(
                "builtin needs GATEWAY_PUBLIC_URL without a path (clients look for the metadata at /.well-known/ of the host), and it is {url}"
            ),
        ));
    }
    Ok(settings)
}
