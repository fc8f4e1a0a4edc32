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

/// Parses the command line and runs the chosen subcommand.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::from_env(cli.config.as_deref()) {
        Ok(config) => config,
        Err(error) => return config_failure(&error),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => return runtime_failure(&error.into()),
    };
    runtime.block_on(async move {
        match cli.command.unwrap_or(Command::Serve) {
            Command::Serve => serve(config).await,
            Command::Migrate => migrate(config).await,
            Command::Config {
                action: ConfigAction::Check,
            } => check(&config),
            Command::Healthcheck(args) => crate::healthcheck::run(&config, &args).await,
        }
    })
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
    eprintln!("configuration is valid");
    ExitCode::SUCCESS
}
