//! Writes to one job run one at a time: an in-process mutex per job, and on Postgres an
//! advisory lock held in a transaction, so replicas take turns too.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use sea_orm::{DatabaseConnection, DatabaseTransaction};
use tokio::sync::OwnedMutexGuard;

#[derive(Default)]
pub struct JobLocks {
    local: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// Held while a write to the job runs; dropping it lets the next one in.
pub struct JobLock {
    _database: Option<DatabaseTransaction>,
    _local: OwnedMutexGuard<()>,
}

impl JobLocks {
    /// Waits for the job's turn. The key names namespace and job.
    pub async fn lock(
        &self,
        db: &DatabaseConnection,
        key: &str,
    ) -> Result<JobLock, sea_orm::DbErr> {
        let mutex = {
            let mut map = self.local.lock().unwrap_or_else(|e| e.into_inner());
            // Forget locks nobody holds or waits for, so the map stays small.
            map.retain(|_, m| Arc::strong_count(m) > 1);
            map.entry(key.to_string()).or_default().clone()
        };
        let local = mutex.lock_owned().await;
        let database = crate::db::operations::lock_job(db, key).await?;
        Ok(JobLock {
            _database: database,
            _local: local,
        })
    }
}
