//! Migrations from an empty database, on SQLite and on Postgres (`TEST_DATABASE_URL`).

use sea_orm::{ConnectionTrait, Statement};

use crate::support::{TestDb, base_env, run};

const TABLES: [&str; 15] = [
    "api_keys",
    "audit_events",
    "operations",
    "mcp_sessions",
    "mcp_relay",
    "mcp_confirmations",
    "mcp_subscriptions",
    "replicas",
    "rate_buckets",
    "oauth_clients",
    "oauth_grants",
    "oauth_codes",
    "oauth_refresh_tokens",
    "oauth_keys",
    "oauth_pending",
];

#[tokio::test]
async fn migrate_creates_every_table_from_empty_and_is_repeatable() {
    let db = TestDb::new().await;
    let env = base_env(&db);
    let (code, stdout, stderr) = run(&["migrate"], &env);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("9 migrations applied"), "{stdout}");
    assert!(stdout.contains("m20261122_000003_operations"), "{stdout}");
    assert!(
        stdout.contains("m20261201_000005_shared_sessions")
            && stdout.contains("m20261202_000006_confirmations")
            && stdout.contains("m20261202_000007_subscriptions"),
        "{stdout}"
    );
    let (code, stdout, _) = run(&["migrate"], &env);
    assert_eq!(code, 0);
    assert!(stdout.contains("9 migrations applied"), "{stdout}");

    let settings = nomad_gateway::config::Config::load(None, &|k| {
        env.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone())
    })
    .unwrap()
    .database;
    let conn = nomad_gateway::db::connect(&settings).await.unwrap();
    for table in TABLES {
        let count = conn
            .query_one_raw(Statement::from_string(
                conn.get_database_backend(),
                format!("SELECT COUNT(*) AS n FROM {table}"),
            ))
            .await
            .unwrap_or_else(|e| panic!("table {table} is missing: {e}"))
            .unwrap();
        assert_eq!(
            count.try_get::<i64>("", "n").unwrap(),
            0,
            "{table} starts empty"
        );
    }
}

#[tokio::test]
async fn an_unreachable_database_is_a_clear_error() {
    let env = vec![(
        "DATABASE_URL".to_string(),
        "postgres://gw:secret-pw@127.0.0.1:1/gw".to_string(),
    )];
    let (code, _, stderr) = run(&["migrate"], &env);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("cannot open the database postgres://gw:"),
        "{stderr}"
    );
    assert!(!stderr.contains("secret-pw"), "{stderr}");
}

#[tokio::test]
#[ignore = "needs TEST_DATABASE_URL with Postgres; tests/run.sh runs it"]
async fn replicas_starting_together_migrate_one_after_another() {
    let db = TestDb::new().await;
    assert!(
        db.is_postgres(),
        "this test needs Postgres (TEST_DATABASE_URL)"
    );
    let env = base_env(&db);
    // Four processes at once on an empty database, as three replicas and an operator's
    // `migrate` would: every one succeeds, none sees a half-made schema.
    let dirs: Vec<tempfile::TempDir> = (0..4).map(|_| tempfile::tempdir().unwrap()).collect();
    let children: Vec<std::process::Child> = dirs
        .iter()
        .map(|dir| {
            crate::support::command(&["migrate"], &env, dir.path())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let (code, stdout, stderr) = run(&["migrate"], &env);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("9 migrations applied"), "{stdout}");
}
