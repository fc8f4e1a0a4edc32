//! A string that never shows itself in logs, `Debug` output or `config check`.

use std::fmt;

/// A secret value (token, password, signing key). Read it with [`Secret::expose`] at the
/// one place that needs it; everything else sees `<redacted>`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// `postgres://user:password@host/db` with the password replaced, for display.
pub fn redact_url_password(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("<redacted>"));
            parsed.to_string()
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_do_not_print() {
        let secret = Secret::new("hunter2");
        assert_eq!(format!("{secret:?} {secret}"), "<redacted> <redacted>");
        assert_eq!(secret.expose(), "hunter2");
    }

    #[test]
    fn url_passwords_are_redacted() {
        let shown = redact_url_password("postgres://app:s3cret@db:5432/gw?sslmode=require");
        assert!(!shown.contains("s3cret"));
        assert!(shown.contains("app:%3Credacted%3E@db") || shown.contains("app:<redacted>@db"));
    }
}
