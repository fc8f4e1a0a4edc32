//! Invalid configuration stops start-up with exit code 2 and one line naming the setting.

use crate::support::{Ca, TestDb, base_env, run, write};

fn with(mut env: Vec<(String, String)>, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    for (k, v) in extra {
        env.retain(|(key, _)| key != k);
        env.push((k.to_string(), v.to_string()));
    }
    env
}

/// Asserts exit code 2 and a single stderr line that names `variable` and says `problem`.
fn assert_refused(env: &[(String, String)], variable: &str, problem: &str) {
    for args in [&["serve"][..], &["config", "check"][..]] {
        let (code, _stdout, stderr) = run(args, env);
        assert_eq!(code, 2, "{args:?} should exit 2; stderr: {stderr}");
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(
            lines.len(),
            1,
            "{args:?} should print one line, got: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(
            lines[0].contains(variable),
            "{args:?}: expected {variable} in: {stderr}"
        );
        assert!(
            lines[0].contains(problem),
            "{args:?}: expected {problem:?} in: {stderr}"
        );
    }
}

#[tokio::test]
async fn unknown_database_scheme_is_refused() {
    let db = TestDb::new().await;
    let env = with(
        base_env(&db),
        &[("DATABASE_URL", "mysql://root:pw@localhost/gw")],
    );
    assert_refused(&env, "DATABASE_URL", "unknown scheme 'mysql'");
    let (_, _, stderr) = run(&["serve"], &env);
    assert!(
        !stderr.contains("pw@"),
        "the password must not be printed: {stderr}"
    );
}

#[tokio::test]
async fn missing_certificate_is_refused() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let key = write(dir.path(), "key.pem", &Ca::new("ca").server("gw").key_pem);
    let env = with(
        base_env(&db),
        &[
            ("GATEWAY_TLS_CERT", "/nonexistent/cert.pem"),
            ("GATEWAY_TLS_KEY", key.to_str().unwrap()),
        ],
    );
    assert_refused(
        &env,
        "GATEWAY_TLS_CERT",
        "cannot read /nonexistent/cert.pem",
    );
}

#[tokio::test]
async fn unreadable_certificate_is_refused() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let leaf = Ca::new("ca").server("gw");
    let key = write(dir.path(), "key.pem", &leaf.key_pem);
    // A folder where the file should be cannot be read, even by root.
    let env = with(
        base_env(&db),
        &[
            ("GATEWAY_TLS_CERT", dir.path().to_str().unwrap()),
            ("GATEWAY_TLS_KEY", key.to_str().unwrap()),
        ],
    );
    assert_refused(&env, "GATEWAY_TLS_CERT", "cannot read");
    let garbage = write(dir.path(), "cert.pem", "this is not a certificate\n");
    let env = with(env, &[("GATEWAY_TLS_CERT", garbage.to_str().unwrap())]);
    assert_refused(&env, "GATEWAY_TLS_CERT", "contains no PEM certificate");
}

#[tokio::test]
async fn malformed_listen_address_is_refused() {
    let db = TestDb::new().await;
    let env = with(base_env(&db), &[("GATEWAY_LISTEN", "localhost:eighty")]);
    assert_refused(
        &env,
        "GATEWAY_LISTEN",
        "'localhost:eighty' is not a socket address",
    );
}

#[tokio::test]
async fn key_that_does_not_match_the_certificate_is_refused() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("ca");
    let cert = write(dir.path(), "cert.pem", &ca.server("one").cert_pem);
    let other_key = write(dir.path(), "key.pem", &ca.server("two").key_pem);
    let env = with(
        base_env(&db),
        &[
            ("GATEWAY_TLS_CERT", cert.to_str().unwrap()),
            ("GATEWAY_TLS_KEY", other_key.to_str().unwrap()),
        ],
    );
    assert_refused(&env, "GATEWAY_TLS_KEY", "does not match the certificate");
}

#[tokio::test]
async fn bad_values_name_their_setting() {
    let db = TestDb::new().await;
    let cases = [
        ("GATEWAY_LOG_FORMAT", "yaml", "not a log format"),
        ("GATEWAY_REQUEST_TIMEOUT", "soon", "not a duration"),
        ("NOMAD_ADDR", "ftp://nomad:4646", "not a Nomad address"),
        (
            "NOMAD_CACERT",
            "/nonexistent/ca.pem",
            "cannot read /nonexistent/ca.pem",
        ),
        ("NOMAD_SKIP_VERIFY", "maybe", "not a boolean"),
        ("GATEWAY_TLS_CLIENT_CA", "/tmp/ca.pem", "need TLS"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json", "not supported"),
    ];
    for (variable, value, problem) in cases {
        let env = with(base_env(&db), &[(variable, value)]);
        assert_refused(&env, variable, problem);
    }
}

#[tokio::test]
async fn a_config_file_is_read_and_the_environment_wins() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "gateway.toml",
        "gateway_listen = \"0.0.0.0:9999\"\nNOMAD_REGION = \"eu-west\"\nGATEWAY_REQUEST_TIMEOUT = \"45s\"\n",
    );
    let env = with(base_env(&db), &[("GATEWAY_LISTEN", "127.0.0.1:7777")]);
    let (code, stdout, stderr) = run(
        &["--config", file.to_str().unwrap(), "config", "check"],
        &env,
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("GATEWAY_LISTEN = \"127.0.0.1:7777\""),
        "{stdout}"
    );
    assert!(stdout.contains("NOMAD_REGION = \"eu-west\""), "{stdout}");
    assert!(
        stdout.contains("GATEWAY_REQUEST_TIMEOUT = \"45s\""),
        "{stdout}"
    );

    let typo = write(
        dir.path(),
        "typo.toml",
        "gateway_lisen = \"0.0.0.0:9999\"\n",
    );
    let (code, _, stderr) = run(&["--config", typo.to_str().unwrap(), "serve"], &env);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("gateway_lisen: unknown setting"),
        "{stderr}"
    );

    let bad = write(dir.path(), "bad.toml", "GATEWAY_BODY_LIMIT = \"lots\"\n");
    let (code, _, stderr) = run(&["--config", bad.to_str().unwrap(), "serve"], &env);
    assert_eq!(code, 2);
    assert!(
        stderr.contains(&format!("GATEWAY_BODY_LIMIT (set in {})", bad.display())),
        "{stderr}"
    );
}

#[tokio::test]
async fn config_check_prints_every_secret_redacted() {
    let db = TestDb::new().await;
    let env = with(
        base_env(&db),
        &[
            (
                "DATABASE_URL",
                "postgres://gateway:db-password-123@db.internal:5432/gateway?sslmode=require",
            ),
            ("NOMAD_TOKEN", "nomad-token-456"),
            (
                "GATEWAY_JWT_SECRET",
                "jwt-secret-789-jwt-secret-789-jwt-secret-789",
            ),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://tempo:4318"),
            (
                "OTEL_EXPORTER_OTLP_HEADERS",
                "authorization=Basic otlp-secret-000",
            ),
        ],
    );
    let (code, stdout, stderr) = run(&["config", "check"], &env);
    assert_eq!(code, 0, "{stderr}");
    for secret in [
        "db-password-123",
        "nomad-token-456",
        "jwt-secret-789",
        "otlp-secret-000",
    ] {
        assert!(
            !stdout.contains(secret) && !stderr.contains(secret),
            "{secret} leaked:\n{stdout}"
        );
    }
    assert!(stdout.contains("NOMAD_TOKEN = \"<redacted>\""), "{stdout}");
    assert!(
        stdout.contains("db.internal:5432/gateway?sslmode=require"),
        "{stdout}"
    );
    assert!(
        stdout.contains("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT = \"http://tempo:4318/v1/traces\""),
        "{stdout}"
    );
}

#[tokio::test]
async fn postgres_pool_size_is_checked() {
    let db = TestDb::new().await;
    let env = with(
        base_env(&db),
        &[
            ("DATABASE_URL", "postgres://postgres@127.0.0.1:1/gw"),
            ("GATEWAY_DB_MAX_CONNECTIONS", "0"),
        ],
    );
    assert_refused(
        &env,
        "GATEWAY_DB_MAX_CONNECTIONS",
        "out of range; use 1 to 1000",
    );
    let env = with(env, &[("GATEWAY_DB_MAX_CONNECTIONS", "many")]);
    assert_refused(
        &env,
        "GATEWAY_DB_MAX_CONNECTIONS",
        "is not a number of connections",
    );
    let env = with(env, &[("GATEWAY_DB_MAX_CONNECTIONS", "25")]);
    let (code, stdout, stderr) = run(&["config", "check"], &env);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("GATEWAY_DB_MAX_CONNECTIONS = \"25\""),
        "{stdout}"
    );
}

#[tokio::test]
async fn session_and_spool_settings_out_of_range_are_refused() {
    let db = TestDb::new().await;
    let file = tempfile::NamedTempFile::new().unwrap();
    for (variable, value, problem) in [
        ("GATEWAY_MCP_SESSIONS_PER_CALLER", "0", "out of range"),
        (
            "GATEWAY_MCP_SESSIONS_PER_CALLER",
            "many",
            "not a number of sessions",
        ),
        ("GATEWAY_MCP_SESSION_IDLE", "2s", "at least 10s"),
        (
            "GATEWAY_MCP_TOOLSETS",
            "jobs,drains",
            "'drains' is not a toolset; use some of jobs,allocations,services,variables,",
        ),
        ("GATEWAY_MCP_TOOLSETS", ",", "name at least one toolset"),
        (
            "GATEWAY_MCP_CONFIRM",
            "always",
            "'always' is not a choice; use ask (ask clients that can, run for the others), require",
        ),
        ("GATEWAY_MCP_SESSIONS_IN_MEMORY", "0", "out of range"),
        (
            "GATEWAY_MCP_ANSWER_BYTES",
            "1000",
            "1000 is out of range; use 4096 to 1048576",
        ),
        (
            "GATEWAY_MCP_ANSWER_BYTES",
            "24k",
            "'24k' is not a number of bytes",
        ),
        (
            "GATEWAY_MCP_SESSIONS_IN_MEMORY",
            "lots",
            "not a number of sessions",
        ),
        (
            "GATEWAY_AUDIT_SPOOL",
            file.path().to_str().unwrap(),
            "is a file",
        ),
    ] {
        let env = with(base_env(&db), &[(variable, value)]);
        assert_refused(&env, variable, problem);
    }
}

#[tokio::test]
async fn config_check_shows_the_session_and_spool_settings() {
    let db = TestDb::new().await;
    let env = with(
        base_env(&db),
        &[
            ("GATEWAY_MCP_SESSIONS_PER_CALLER", "500"),
            ("GATEWAY_AUDIT_SPOOL", "off"),
        ],
    );
    let (code, stdout, stderr) = run(&["config", "check"], &env);
    assert_eq!(code, 0, "{stderr}");
    for line in [
        "GATEWAY_MCP_SESSIONS_PER_CALLER = \"500\"",
        "GATEWAY_MCP_SESSION_IDLE = \"30m\"",
        "GATEWAY_AUDIT_SPOOL = \"off\"",
    ] {
        assert!(stdout.contains(line), "{line} missing from:\n{stdout}");
    }
}

#[tokio::test]
async fn a_shutdown_delay_over_five_minutes_is_refused() {
    let db = TestDb::new().await;
    let env = with(base_env(&db), &[("GATEWAY_SHUTDOWN_DELAY", "10m")]);
    assert_refused(&env, "GATEWAY_SHUTDOWN_DELAY", "must be at most 5m");
    let env = with(base_env(&db), &[("GATEWAY_SHUTDOWN_DELAY", "soon")]);
    assert_refused(&env, "GATEWAY_SHUTDOWN_DELAY", "soon");
}

#[tokio::test]
async fn oauth_key_and_client_document_settings_are_checked() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let not_pem = write(dir.path(), "roots.txt", "these are not certificates");
    for (extra, variable, problem) in [
        (
            ("GATEWAY_OAUTH_CLIENT_DOCUMENTS", "sometimes"),
            "GATEWAY_OAUTH_CLIENT_DOCUMENTS",
            "'sometimes' is not one of on, off",
        ),
        (
            ("GATEWAY_OAUTH_KEY_SECRET", "short"),
            "GATEWAY_OAUTH_KEY_SECRET",
            "must be at least 32 characters",
        ),
        (
            ("GATEWAY_OAUTH_CLIENT_DOCUMENTS_PRIVATE", "yes"),
            "GATEWAY_OAUTH_CLIENT_DOCUMENTS_PRIVATE",
            "'yes' is not one of refuse, allow",
        ),
        (
            (
                "GATEWAY_OAUTH_CLIENT_DOCUMENTS_CA",
                "/nonexistent/roots.pem",
            ),
            "GATEWAY_OAUTH_CLIENT_DOCUMENTS_CA",
            "cannot read /nonexistent/roots.pem",
        ),
        (
            (
                "GATEWAY_OAUTH_CLIENT_DOCUMENTS_CA",
                not_pem.to_str().unwrap(),
            ),
            "GATEWAY_OAUTH_CLIENT_DOCUMENTS_CA",
            "holds no PEM certificate",
        ),
    ] {
        assert_refused(&with(base_env(&db), &[extra]), variable, problem);
    }
}
