//! The database URL, the audit spool beside it, and how tracked operations are kept.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use super::{
    ConfigError, DEFAULT_DATABASE_URL, Secret, Sources, duration, parse, redact_url_password, text,
};

/// Tracked operations.
#[derive(Debug, Clone)]
pub struct OperationsSettings {
    /// `GATEWAY_OPERATIONS_RETENTION`: how long finished operations are kept.
    pub retention: Duration,
    /// `GATEWAY_OPERATIONS_LEASE`: how long a replica's claim on an operation lasts
    /// without renewal; another replica takes over after it.
    pub lease: Duration,
}

#[derive(Debug, Clone)]
pub enum DatabaseSettings {
    Sqlite {
        path: Option<PathBuf>,
        url: String,
    },
    Postgres {
        url: Secret,
        /// `GATEWAY_DB_MAX_CONNECTIONS`: the pool's size.
        max_connections: u32,
    },
}

/// `GATEWAY_AUDIT_SPOOL`: the folder of the audit spool.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum AuditSpool {
    /// `off`: events wait in memory only, and writes are refused while the database is away.
    #[default]
    Off,
    /// Not set: `audit-spool` beside the SQLite file, else `data/audit-spool`; when it
    /// cannot be created the gateway runs without one (and says so).
    Default(PathBuf),
    /// A folder the operator named: the gateway does not start without it.
    Path(PathBuf),
}

impl AuditSpool {
    pub fn folder(&self) -> Option<&std::path::Path> {
        match self {
            AuditSpool::Off => None,
            AuditSpool::Default(p) | AuditSpool::Path(p) => Some(p),
        }
    }
}

pub(super) fn operations_settings(s: &Sources) -> Result<OperationsSettings, ConfigError> {
    let retention = duration(
        s,
        "GATEWAY_OPERATIONS_RETENTION",
        Duration::from_secs(30 * 86_400),
    )?;
    if retention.is_zero() {
        return Err(ConfigError::new(
            "GATEWAY_OPERATIONS_RETENTION",
            "must be longer than 0s",
        ));
    }
    let lease = duration(s, "GATEWAY_OPERATIONS_LEASE", Duration::from_secs(15))?;
    if lease < Duration::from_secs(1) {
        return Err(ConfigError::new(
            "GATEWAY_OPERATIONS_LEASE",
            "use at least 1s",
        ));
    }
    Ok(OperationsSettings { retention, lease })
}

pub(super) fn database_settings(s: &Sources) -> Result<DatabaseSettings, ConfigError> {
    let url = s.get("DATABASE_URL").unwrap_or(DEFAULT_DATABASE_URL).trim();
    let scheme = url.split(':').next().unwrap_or_default();
    match scheme {
        "postgres" | "postgresql" => {
            // Parse now so a malformed URL or sslmode stops start-up, not the first query.
            // The error text of the driver never contains the password.
            sqlx::postgres::PgConnectOptions::from_str(url).map_err(|e| {
                ConfigError::new(
                    "DATABASE_URL",
                    format!(
                        "'{}' is not a valid Postgres URL: {e}",
                        redact_url_password(url)
                    ),
                )
            })?;
            let max_connections: u32 = parse(
                s,
                "GATEWAY_DB_MAX_CONNECTIONS",
                10,
                "a number of connections",
            )?;
            if !(1..=1000).contains(&max_connections) {
                return Err(ConfigError::new(
                    "GATEWAY_DB_MAX_CONNECTIONS",
                    format!("{max_connections} is out of range; use 1 to 1000"),
                ));
            }
            Ok(DatabaseSettings::Postgres {
                url: Secret::new(url),
                max_connections,
            })
        }
        "sqlite" => {
            let rest = url.trim_start_matches("sqlite:").trim_start_matches("//");
            let file = rest.split('?').next().unwrap_or_default();
            let path = match file {
                "" => {
                    return Err(ConfigError::new(
                        "DATABASE_URL",
                        format!(
                            "'{url}' names no file; use sqlite://data/nomad-gateway.db or sqlite:///abs/path.db"
                        ),
                    ));
                }
                ":memory:" => None,
                f => Some(PathBuf::from(f)),
            };
            Ok(DatabaseSettings::Sqlite {
                path,
                url: url.to_string(),
            })
        }
        _ => Err(ConfigError::new(
            "DATABASE_URL",
            format!(
                "unknown scheme '{scheme}' in '{}'; use postgres://... or sqlite://...",
                redact_url_password(url)
            ),
        )),
    }
}

pub(super) fn audit_spool(
    s: &Sources,
    database: &DatabaseSettings,
) -> Result<AuditSpool, ConfigError> {
    match text(s, "GATEWAY_AUDIT_SPOOL").as_deref() {
        Some("off") => Ok(AuditSpool::Off),
        Some(folder) => {
            let folder = PathBuf::from(folder);
            if folder.is_file() {
                return Err(ConfigError::new(
                    "GATEWAY_AUDIT_SPOOL",
                    format!(
                        "{} is a file; name a folder (the spool file is created in it) or off",
                        folder.display()
                    ),
                ));
            }
            Ok(AuditSpool::Path(folder))
        }
        None => {
            let data = match database {
                DatabaseSettings::Sqlite {
                    path: Some(file), ..
                } => file
                    .parent()
                    .filter(|p| !p.as_os_str().is_empty())
                    .map(PathBuf::from)
                    .unwrap_or_else(|| PathBuf::from(".")),
                _ => PathBuf::from("data"),
            };
            Ok(AuditSpool::Default(data.join("audit-spool")))
        }
    }
}
