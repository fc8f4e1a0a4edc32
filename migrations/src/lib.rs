//! Database migrations of nomad-gateway, applied at start and by `nomad-gateway migrate`.
//!
//! Each file adds one room; a migration that has shipped is never edited, only followed
//! by a new one. Every migration runs on both SQLite and Postgres.

pub use sea_orm_migration::prelude::*;

mod m20261122_000001_api_keys;
mod m20261122_000002_audit_events;
mod m20261122_000003_operations;
mod m20261130_000004_operation_results;
mod m20261201_000005_shared_sessions;
mod m20261202_000006_confirmations;
mod m20261202_000007_subscriptions;
mod m20261203_000008_oauth;
mod m20261204_000009_client_documents;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_api_keys::Migration),
            Box::new(m20261122_000002_audit_events::Migration),
            Box::new(m20261122_000003_operations::Migration),
            Box::new(m20261130_000004_operation_results::Migration),
            Box::new(m20261201_000005_shared_sessions::Migration),
            Box::new(m20261202_000006_confirmations::Migration),
            Box::new(m20261202_000007_subscriptions::Migration),
            Box::new(m20261203_000008_oauth::Migration),
            Box::new(m20261204_000009_client_documents::Migration),
        ]
    }
}
