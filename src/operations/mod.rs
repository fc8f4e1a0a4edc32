//! Tracked operations: every accepted write becomes an operation that a watcher follows
//! through Nomad (evaluation → allocations → deployment) to a final state, across
//! restarts and replicas (a lease in the database says which replica follows it).
//!
//! - `model.rs`: the states, per-group progress and the view callers read;
//! - `follow.rs`: one look at Nomad for one operation: its new state and message;
//! - `watcher.rs`: claims unfinished operations (lease with expiry), follows each with
//!   blocking queries, hands them over at shutdown, removes old ones (retention);
//! - `locks.rs`: writes to one job run one at a time (in process, and across replicas
//!   through the database).

pub mod follow;
pub mod locks;
pub mod model;
pub mod placement;
pub mod watcher;

use std::sync::Arc;
use std::time::Duration;

use sea_orm::DatabaseConnection;
use tokio::sync::Notify;

use crate::nomad::NomadClient;

pub use model::{Facts, GroupProgress, Operation, State};

/// Settings of the operations room.
#[derive(Debug, Clone)]
pub struct Settings {
    /// How long finished operations are kept.
    pub retention: Duration,
    /// How long a replica's claim on an operation lasts without renewal.
    pub lease: Duration,
}

/// The shared handle: database, Nomad, this replica's identity, the job locks.
pub struct Operations {
    pub(crate) db: DatabaseConnection,
    pub(crate) nomad: NomadClient,
    /// This process's lease owner name: unique per start.
    pub owner: String,
    pub(crate) settings: Settings,
    /// Wakes the watcher when this process accepted a new operation.
    pub(crate) wake: Notify,
    pub(crate) locks: locks::JobLocks,
    /// Cancelled once the watcher has stopped and handed its operations over.
    pub(crate) stopped: tokio_util::sync::CancellationToken,
}

impl Operations {
    pub fn new(db: DatabaseConnection, nomad: NomadClient, settings: Settings) -> Arc<Operations> {
        let owner = format!("{}-{}", std::process::id(), uuid::Uuid::now_v7().simple());
        Arc::new(Operations {
            db,
            nomad,
            owner,
            settings,
            wake: Notify::new(),
            locks: locks::JobLocks::default(),
            stopped: tokio_util::sync::CancellationToken::new(),
        })
    }

    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Waits (at most `limit`) until the watcher, told to stop by the shutdown token, has
    /// handed its unfinished operations over to the other replicas.
    pub async fn wait_stopped(&self, limit: Duration) {
        let _ = tokio::time::timeout(limit, self.stopped.cancelled()).await;
    }
}
