//! The database adapter: opens Postgres or SQLite through sea-orm, runs migrations, and
//! answers the readiness check. Nothing outside `db/` and `migrations/` writes SQL.

pub mod audit;
pub mod budgets;
pub mod bus;
pub mod cluster;
pub mod confirmations;
pub mod entities;
pub mod keys;
pub mod oauth;
pub mod operations;
pub mod relay;
pub mod replicas;
pub mod sessions;
pub mod subscriptions;

use std::str::FromStr;
use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, DatabaseConnection, SqlxPostgresConnector, SqlxSqliteConnector};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};

use crate::config::{DatabaseSettings, redact_url_password};

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("cannot open the database {target}: {reason}")]
    Connect { target: String, reason: String },
    #[error("database migration failed: {0}")]
    Migrate(sea_orm::DbErr),
    #[error("database query failed: {0}")]
    Query(#[from] sea_orm::DbErr),
}

/// Which engine serves, for logs and `/readyz`.
pub fn backend_name(settings: &DatabaseSettings) -> &'static str {
    match settings {
        DatabaseSettings::Sqlite { .. } => "sqlite",
        DatabaseSettings::Postgres { .. } => "postgres",
    }
}

/// Opens a connection pool. For SQLite the file and its folder are created on first use
/// and the journal is switched to WAL, so readers never wait for the single writer.
pub async fn connect(settings: &DatabaseSettings) -> Result<DatabaseConnection, DbError> {
    match settings {
        DatabaseSettings::Sqlite { path, url } => {
            let connect_error = |reason: String| DbError::Connect {
                target: url.clone(),
                reason,
            };
            let options = match path {
                Some(path) => {
                    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                        std::fs::create_dir_all(dir).map_err(|e| {
                            connect_error(format!("cannot create folder {}: {e}", dir.display()))
                        })?;
                    }
                    SqliteConnectOptions::new()
                        .filename(path)
                        .create_if_missing(true)
                }
                None => SqliteConnectOptions::from_str("sqlite::memory:")
                    .map_err(|e| connect_error(e.to_string()))?,
            };
            let options = options
                .journal_mode(SqliteJournalMode::Wal)
                .busy_timeout(Duration::from_secs(5))
                .foreign_keys(true);
            // An in-memory database lives in one connection; a file is shared by a few.
            let max = if path.is_some() { 4 } else { 1 };
            let pool = SqlitePoolOptions::new()
                .max_connections(max)
                .min_connections(1)
                .idle_timeout(None)
                .acquire_timeout(Duration::from_secs(5))
                .connect_with(options)
                .await
                .map_err(|e| connect_error(e.to_string()))?;
            Ok(SqlxSqliteConnector::from_sqlx_sqlite_pool(pool))
        }
        DatabaseSettings::Postgres {
            url,
            max_connections,
        } => {
            let shown = redact_url_password(url.expose());
            // sslmode and sslrootcert in the URL are honoured by the driver.
            let options =
                PgConnectOptions::from_str(url.expose()).map_err(|e| DbError::Connect {
                    target: shown.clone(),
                    reason: e.to_string(),
                })?;
            let pool = PgPoolOptions::new()
                .max_connections(*max_connections)
                .acquire_timeout(Duration::from_secs(5))
                .connect_with(options)
                .await
                .map_err(|e| DbError::Connect {
                    target: shown,
                    reason: e.to_string(),
                })?;
            Ok(SqlxPostgresConnector::from_sqlx_postgres_pool(pool))
        }
    }
}

/// Applies every pending migration.
/// Applies the pending migrations. On Postgres, replicas that start together take turns:
/// each holds a session advisory lock (on a connection of its own, outside the pool) while
/// it migrates, so the others wait and then find nothing left to do. Without it, three
/// replicas on an empty database failed two times in three (`duplicate key value violates
/// unique constraint "pg_type_typname_nsp_index"`: concurrent `CREATE TABLE`s).
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbError> {
    if db.get_database_backend() != sea_orm::DbBackend::Postgres {
        return Migrator::up(db, None).await.map_err(DbError::Migrate);
    }
    use sqlx::Connection;
    let options = db.get_postgres_connection_pool().connect_options();
    let lock_error = |e: sqlx::Error| {
        DbError::Migrate(sea_orm::DbErr::Custom(format!(
            "cannot take the migration lock: {e}"
        )))
    };
    let mut lock = sqlx::PgConnection::connect_with(&options)
        .await
        .map_err(lock_error)?;
    sqlx::query("SELECT pg_advisory_lock(hashtextextended('nomad-gateway migrations', 0))")
        .execute(&mut lock)
        .await
        .map_err(lock_error)?;
    let result = Migrator::up(db, None).await.map_err(DbError::Migrate);
    // Closing the session releases the lock even if the unlock does not arrive.
    let _ =
        sqlx::query("SELECT pg_advisory_unlock(hashtextextended('nomad-gateway migrations', 0))")
            .execute(&mut lock)
            .await;
    let _ = lock.close().await;
    result
}

/// Names of the migrations applied so far, oldest first.
pub async fn applied_migrations(db: &DatabaseConnection) -> Result<Vec<String>, DbError> {
    let applied = Migrator::get_applied_migrations(db).await?;
    Ok(applied.iter().map(|m| m.name().to_string()).collect())
}

/// A round trip to the database, for readiness.
pub async fn ping(db: &DatabaseConnection) -> Result<(), DbError> {
    db.execute_unprepared("SELECT 1").await?;
    Ok(())
}

/// A migrated in-memory SQLite database, for unit tests.
#[cfg(test)]
pub async fn in_memory() -> DatabaseConnection {
    let db = connect(&crate::config::DatabaseSettings::Sqlite {
        path: None,
        url: "sqlite::memory:".into(),
    })
    .await
    .unwrap();
    migrate(&db).await.unwrap();
    db
}
