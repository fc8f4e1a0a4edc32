//! The built-in authorization server: `GATEWAY_OAUTH` and its lifetimes.

use std::time::Duration;

use super::{AuthSettings, ConfigError, ServerSettings, Sources, duration, parse};

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
    /// `GATEWAY_OAUTH_REGISTRATIONS`: client registrations per client address per minute.
    pub registrations: u32,
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
    let builtin = match s
        .get("GATEWAY_OAUTH")
        .map(|t| t.trim().to_ascii_lowercase())
    {
        None => false,
        Some(t) if t == "off" => false,
        Some(t) if t == "builtin" => true,
        Some(t) => {
            return Err(ConfigError::new(
                "GATEWAY_OAUTH",
                format!("'{t}' is not off or builtin"),
            ));
        }
    };
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
    };
    if settings.registrations == 0 || settings.registrations > 10_000 {
        return Err(ConfigError::new(
            "GATEWAY_OAUTH_REGISTRATIONS",
            "must be between 1 and 10000 registrations a minute per client address",
        ));
    }
    if !builtin {
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
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    };
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
