//! The command line: subcommands, exit codes, and the runtime they run on.
//!
//! Exit codes: 0 success, 1 failure while running, 2 invalid configuration or usage.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{Config, ConfigError};
use crate::server::ServeError;

#[derive(Parser, Debug)]
#[command(
    name = "nomad-gateway",
    version,
    about = "Run HashiCorp Nomad jobs safely from AI agents and people, over MCP and REST"
)]
pub struct Cli {
    /// A TOML file with settings named like the environment variables (the environment wins).
    #[arg(long, global = true, value_name = "FILE", env = "GATEWAY_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the gateway (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Inspect the configuration.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// Exit 0 when the gateway answers ready (for container health checks).
    Healthcheck(crate::healthcheck::HealthcheckArgs),
    /// Manage API keys in the gateway's database.
    ApiKey {
        #[command(subcommand)]
        action: ApiKeyAction,
    },
    /// Issue JWTs signed with GATEWAY_JWT_SECRET.
    Token {
        #[command(subcommand)]
        action: TokenAction,
    },
}

#[derive(Subcommand, Debug)]
pub enum ApiKeyAction {
    /// Create a key and print it (shown only this once).
    Create {
        /// A name people recognise, such as ci-deployer.
        #[arg(long)]
        name: String,
        /// Who the key belongs to (the caller in the audit log); defaults to the name.
        #[arg(long)]
        owner: Option<String>,
        /// nomad:read, nomad:write, nodes:write, variables:read, variables:write or admin;
        /// repeat for several.
        #[arg(long = "scope", required = true)]
        scopes: Vec<String>,
        /// A Nomad namespace the key may use, or * for all; repeat for several (default: default).
        #[arg(long = "namespace")]
        namespaces: Vec<String>,
        /// Lifetime such as 30d or 12h; without it the key does not expire.
        #[arg(long)]
        expires_in: Option<String>,
    },
    /// List keys (never their secrets).
    List,
    /// Revoke a key by id; every replica stops accepting it within seconds.
    Revoke { id: String },
}

#[derive(Subcommand, Debug)]
pub enum TokenAction {
    /// Print an HS256 JWT for a subject.
    Mint {
        #[arg(long)]
        sub: String,
        /// nomad:read, nomad:write, nodes:write, variables:read, variables:write or admin;
        /// repeat for several.
        #[arg(long = "scope", required = true)]
        scopes: Vec<String>,
        /// A Nomad namespace the token may use, or *; repeat for several (default: default).
        #[arg(long = "namespace")]
        namespaces: Vec<String>,
        /// Lifetime such as 1h (default) or 30m.
        #[arg(long, default_value = "1h")]
        ttl: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum ConfigAction {
    /// Validate the configuration and print it with secrets redacted.
    Check,
}

const CONFIG_EXIT: u8 = 2;

fn config_failure(error: &ConfigError) -> ExitCode {
    eprintln!("error: invalid configuration: {error}");
    ExitCode::from(CONFIG_EXIT)
}

fn runtime_failure(error: &anyhow::Error) -> ExitCode {
    eprintln!("error: {error:#}");
    ExitCode::FAILURE
}

/// Parses the command line and runs the chosen subcommand. `release_memory` hands the
/// calling thread's free memory back to the system (the allocator is the binary's choice);
/// a worker thread calls it when it goes idle, at most once a second.
pub fn run(release_memory: fn()) -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::from_env(cli.config.as_deref()) {
        Ok(config) => config,
        Err(error) => return config_failure(&error),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .on_thread_park(move || when_idle(release_memory))
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => return runtime_failure(&error.into()),
    };
    runtime.block_on(async move {
        match cli.command.unwrap_or(Command::Serve) {
            // On a worker, not this thread: what serving allocates and frees then lives on
            // threads that release it when idle (`block_on` has no such hook).
            Command::Serve => match tokio::spawn(serve(config)).await {
                Ok(code) => code,
                Err(error) => runtime_failure(&anyhow::anyhow!("the server stopped: {error}")),
            },
            Command::Migrate => migrate(config).await,
            Command::Config {
                action: ConfigAction::Check,
            } => check(&config),
            Command::Healthcheck(args) => crate::healthcheck::run(&config, &args).await,
            Command::ApiKey { action } => api_key(config, action).await,
            Command::Token {
                action:
                    TokenAction::Mint {
                        sub,
                        scopes,
                        namespaces,
                        ttl,
                    },
            } => mint(&config, &sub, &scopes, namespaces, &ttl),
        }
    })
}

/// Runs `release` on this thread unless it ran here less than a second ago: a worker parks
/// thousands of times a second under light load, and a collection walks the thread's pages.
fn when_idle(release: fn()) {
    use std::cell::Cell;
    use std::time::{Duration, Instant};
    thread_local! {
        static LAST: Cell<Option<Instant>> = const { Cell::new(None) };
    }
    let now = Instant::now();
    let due = LAST.with(|last| match last.get() {
        Some(at) if now.duration_since(at) < Duration::from_secs(1) => false,
        _ => {
            last.set(Some(now));
            true
        }
    });
    if due {
        release();
    }
}

async fn serve(config: Config) -> ExitCode {
    let telemetry = match crate::telemetry::init(&config.telemetry) {
        Ok(telemetry) => telemetry,
        Err(error) => return runtime_failure(&error.context("starting telemetry")),
    };
    let result = crate::server::serve(config).await;
    telemetry.shutdown().await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(ServeError::Config(error)) => config_failure(&error),
        Err(ServeError::Runtime(error)) => runtime_failure(&error),
    }
}

async fn migrate(config: Config) -> ExitCode {
    let result = async {
        let db = crate::db::connect(&config.database).await?;
        crate::db::migrate(&db).await?;
        crate::db::applied_migrations(&db).await
    }
    .await;
    match result {
        Ok(applied) => {
            println!(
                "database is up to date ({} migrations applied)",
                applied.len()
            );
            for name in applied {
                println!("  {name}");
            }
            ExitCode::SUCCESS
        }
        Err(error) => runtime_failure(&error.into()),
    }
}

fn check(config: &Config) -> ExitCode {
    if let Err(error) = crate::server::preflight(config) {
        return config_failure(&error);
    }
    print!("{}", config.describe_toml());
    if config.auth.jwt_secret.is_some() || config.auth.jwks_url.is_some() {
        // A TOML comment, so the output stays a valid --config file.
        let audiences = crate::auth::jwt::accepted_audiences(
            config.auth.audience.as_deref(),
            &config.server.public_url,
        );
        println!("# JWTs are accepted with aud = {}", audiences.join(" or "));
    }
    eprintln!("configuration is valid");
    ExitCode::SUCCESS
}

fn usage_failure(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(CONFIG_EXIT)
}

async fn api_key(config: Config, action: ApiKeyAction) -> ExitCode {
    use crate::service::admin;
    let db = match crate::db::connect(&config.database).await {
        Ok(db) => db,
        Err(error) => return runtime_failure(&error.into()),
    };
    if let Err(error) = crate::db::migrate(&db).await {
        return runtime_failure(&error.into());
    }
    match action {
        ApiKeyAction::Create {
            name,
            owner,
            scopes,
            namespaces,
            expires_in,
        } => {
            let request = admin::CreateKeyRequest {
                owner: owner.or_else(|| Some(name.clone())),
                name,
                scopes,
                namespaces,
                expires_in,
            };
            let spec = match admin::key_spec(&request, "cli") {
                Ok(spec) => spec,
                Err(error) => return usage_failure(&error.to_string()),
            };
            match crate::service::keys::create(&db, &spec, None).await {
                Ok(key) => {
                    eprintln!(
                        "created key {} (prefix {}); it is shown only this once:",
                        key.id, key.prefix
                    );
                    println!("{}", key.token);
                    ExitCode::SUCCESS
                }
                Err(error) => runtime_failure(&anyhow::anyhow!(error)),
            }
        }
        ApiKeyAction::List => match crate::db::keys::list(&db).await {
            Ok(rows) => {
                println!(
                    "{:<36}  {:<12}  {:<20}  {:<30}  {:<16}  state",
                    "id", "prefix", "name", "scopes", "namespaces"
                );
                for row in rows.iter().map(admin::key_row) {
                    let state = if row.revoked_at.is_some() {
                        "revoked".to_string()
                    } else if let Some(t) = &row.expires_at {
                        format!("expires {t}")
                    } else {
                        "active".to_string()
                    };
                    println!(
                        "{:<36}  {:<12}  {:<20}  {:<30}  {:<16}  {state}",
                        row.id,
                        row.prefix,
                        row.name,
                        row.scopes.join(","),
                        row.namespaces.join(",")
                    );
                }
                ExitCode::SUCCESS
            }
            Err(error) => runtime_failure(&error.into()),
        },
        ApiKeyAction::Revoke { id } => {
            let Ok(uuid) = uuid::Uuid::parse_str(&id) else {
                return usage_failure(&format!(
                    "'{id}' is not a key id; `api-key list` shows them"
                ));
            };
            match crate::db::keys::revoke(&db, uuid, chrono::Utc::now().fixed_offset()).await {
                Ok(true) => {
                    println!("revoked {id}");
                    ExitCode::SUCCESS
                }
                Ok(false) => usage_failure(&format!("no key with id {id}")),
                Err(error) => runtime_failure(&error.into()),
            }
        }
    }
}

fn mint(
    config: &Config,
    sub: &str,
    scopes: &[String],
    namespaces: Vec<String>,
    ttl: &str,
) -> ExitCode {
    let Some(secret) = &config.auth.jwt_secret else {
        return usage_failure("token mint needs GATEWAY_JWT_SECRET (at least 32 bytes)");
    };
    let mut parsed = Vec::new();
    for s in scopes {
        match crate::config::Scope::parse(s) {
            Some(scope) => parsed.push(scope),
            None => {
                return usage_failure(&format!(
                    "'{s}' is not a scope; use {}",
                    crate::config::Scope::names()
                ));
            }
        }
    }
    let ttl = match crate::config::parse_duration(ttl) {
        Ok(d) if !d.is_zero() => d,
        Ok(_) => return usage_failure("--ttl must be longer than zero"),
        Err(e) => return usage_failure(&format!("--ttl: {e}")),
    };
    let namespaces = if namespaces.is_empty() {
        vec!["default".to_string()]
    } else {
        namespaces
    };
    // The audience this gateway accepts first: GATEWAY_JWT_AUDIENCE, or its MCP resource.
    let audience = crate::auth::jwt::accepted_audiences(
        config.auth.audience.as_deref(),
        &config.server.public_url,
    )
    .remove(0);
    let token = crate::auth::jwt::mint(&crate::auth::jwt::Mint {
        secret: secret.expose(),
        subject: sub,
        scopes: &parsed,
        namespaces: &namespaces,
        ttl,
        issuer: config.auth.issuer.as_deref(),
        audience: Some(&audience),
        namespaces_claim: &config.auth.namespaces_claim,
    });
    match token {
        Ok(token) => {
            println!("{token}");
            ExitCode::SUCCESS
        }
        Err(error) => runtime_failure(&anyhow::anyhow!(error)),
    }
}
