//! Postgres over TLS: `sslmode` and `sslrootcert` in `DATABASE_URL` are honoured.
//!
//! These need a Postgres server with TLS on, so they are `#[ignore]`d in a plain
//! `cargo test` and run by `tests/run.sh` in its Postgres pass (`--include-ignored`).

use crate::support::{Ca, TestDb, write};

fn with_params(url: &str, params: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}{params}")
}

async fn open(url: &str) -> Result<sea_orm::DatabaseConnection, String> {
    let settings = nomad_gateway::config::Config::load(None, &|k| {
        (k == "DATABASE_URL").then(|| url.to_string())
    })
    .map_err(|e| e.to_string())?
    .database;
    nomad_gateway::db::connect(&settings)
        .await
        .map_err(|e| e.to_string())
}

#[tokio::test]
#[ignore = "needs TEST_DATABASE_URL with a TLS-enabled Postgres; tests/run.sh runs it"]
async fn sslmode_require_makes_the_connection_encrypted() {
    let db = TestDb::new().await;
    assert!(db.is_postgres(), "set TEST_DATABASE_URL=postgres://...");
    let conn = open(&with_params(&db.url, "sslmode=require"))
        .await
        .unwrap();
    use sea_orm::{ConnectionTrait, Statement};
    let row = conn
        .query_one_raw(Statement::from_string(
            conn.get_database_backend(),
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
        ))
        .await
        .unwrap()
        .unwrap();
    assert!(
        row.try_get::<bool>("", "ssl").unwrap(),
        "the session is not encrypted"
    );
}

#[tokio::test]
#[ignore = "needs TEST_DATABASE_URL with a TLS-enabled Postgres; tests/run.sh runs it"]
async fn sslrootcert_decides_which_server_certificates_are_trusted() {
    let db = TestDb::new().await;
    assert!(db.is_postgres(), "set TEST_DATABASE_URL=postgres://...");
    let dir = tempfile::tempdir().unwrap();
    let stranger = write(
        dir.path(),
        "other-ca.pem",
        &Ca::new("Not the database CA").cert_pem(),
    );
    let url = with_params(
        &db.url,
        &format!("sslmode=verify-ca&sslrootcert={}", stranger.display()),
    );
    let error = open(&url).await.unwrap_err();
    assert!(error.contains("cannot open the database"), "{error}");
    assert!(
        error.to_lowercase().contains("certificate") || error.contains("UnknownIssuer"),
        "{error}"
    );
}
