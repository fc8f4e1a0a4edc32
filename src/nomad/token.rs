//! The gateway's Nomad ACL token: fixed (`NOMAD_TOKEN`) or read from a file
//! (`NOMAD_TOKEN_FILE`) and re-read whenever the file changes, because Nomad workload
//! identity tokens rotate under the running gateway.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::SystemTime;

use super::error::TokenSource;
use crate::config::{NomadSettings, Secret};

#[derive(Debug)]
pub enum Token {
    None,
    Fixed(Secret),
    File {
        path: PathBuf,
        cached: Mutex<Option<Cached>>,
    },
}

#[derive(Debug)]
pub struct Cached {
    modified: Option<SystemTime>,
    len: u64,
    value: Secret,
}

impl Token {
    pub fn from_settings(settings: &NomadSettings) -> Token {
        match (&settings.token, &settings.token_file) {
            (Some(token), _) => Token::Fixed(token.clone()),
            (None, Some(path)) => Token::File {
                path: path.clone(),
                cached: Mutex::new(None),
            },
            (None, None) => Token::None,
        }
    }

    pub fn source(&self) -> TokenSource {
        match self {
            Token::None => TokenSource::None,
            Token::Fixed(_) => TokenSource::Env,
            Token::File { path, .. } => TokenSource::File(path.clone()),
        }
    }

    /// The token to send now. A file is checked (one `stat`) on every call and read again
    /// when its modification time or size changed; an unreadable file keeps the last
    /// token, which Nomad will refuse if it has expired.
    pub fn current(&self) -> Option<Secret> {
        match self {
            Token::None => None,
            Token::Fixed(secret) => Some(secret.clone()),
            Token::File { path, cached } => {
                let mut cached = cached.lock().unwrap_or_else(|e| e.into_inner());
                let meta = std::fs::metadata(path).ok();
                let stamp = meta.as_ref().map(|m| (m.modified().ok(), m.len()));
                let fresh = match (&*cached, stamp) {
                    (Some(c), Some((modified, len))) => c.modified == modified && c.len == len,
                    (Some(_), None) => true,
                    (None, _) => false,
                };
                if !fresh
                    && let Some((modified, len)) = stamp
                    && let Ok(text) = std::fs::read_to_string(path)
                {
                    *cached = Some(Cached {
                        modified,
                        len,
                        value: Secret::new(text.trim()),
                    });
                }
                cached.as_ref().map(|c| c.value.clone())
            }
        }
    }
}
