//! The watcher: claims unfinished operations (a lease in the database, so one replica
//! follows each), follows each with Nomad blocking queries until it is final, renews the
//! lease on every look, gives its leases up at shutdown, and removes old operations.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::Operations;
use super::follow::{Follower, Next, block_for, wait_change};
use super::model::{Progress, State};
use crate::db::operations as q;

/// How often unclaimed operations are looked for (also woken at once by a new write).
const SCAN: Duration = Duration::from_secs(1);

impl Operations {
    fn lease_until(&self) -> q::Timestamp {
        q::now() + chrono::Duration::from_std(self.settings.lease).unwrap_or_default()
    }

    /// Starts the watcher and the retention task; both end with `shutdown`.
    pub fn spawn(self: &Arc<Self>, shutdown: CancellationToken) {
        let ops = self.clone();
        let token = shutdown.clone();
        tokio::spawn(async move { ops.watch(token).await });
        let ops = self.clone();
        tokio::spawn(async move { ops.retain(shutdown).await });
    }

    async fn watch(self: Arc<Self>, shutdown: CancellationToken) {
        tracing::info!(owner = %self.owner, "operations watcher started");
        let following: Arc<Mutex<HashSet<Uuid>>> = Arc::default();
        let followers = tokio_util::task::TaskTracker::new();
        loop {
            match q::claimable(&self.db, q::now(), 100).await {
                Ok(rows) => {
                    for row in rows {
                        if following
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .contains(&row.id)
                        {
                            continue;
                        }
                        match q::claim(&self.db, row.id, &self.owner, self.lease_until(), q::now())
                            .await
                        {
                            Ok(true) => {
                                let mut now_following =
                                    following.lock().unwrap_or_else(|e| e.into_inner());
                                now_following.insert(row.id);
                                metrics::gauge!("gateway_operations_followed")
                                    .set(now_following.len() as f64);
                                drop(now_following);
                                let ops = self.clone();
                                let following = following.clone();
                                let token = shutdown.clone();
                                followers.spawn(async move {
                                    ops.follow(row.id, token).await;
                                    let mut now_following =
                                        following.lock().unwrap_or_else(|e| e.into_inner());
                                    now_following.remove(&row.id);
                                    metrics::gauge!("gateway_operations_followed")
                                        .set(now_following.len() as f64);
                                });
                            }
                            Ok(false) => {}
                            Err(error) => tracing::warn!(%error, "claiming an operation failed"),
                        }
                    }
                }
                Err(error) => tracing::warn!(%error, "looking for operations to follow failed"),
            }
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(SCAN) => {}
            }
        }
        followers.close();
        let _ = tokio::time::timeout(Duration::from_secs(5), followers.wait()).await;
        match q::release_all(&self.db, &self.owner).await {
            Ok(n) if n > 0 => tracing::info!(released = n, "handed unfinished operations over"),
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "releasing operation leases failed"),
        }
        self.stopped.cancel();
    }

    /// Follows one operation until it is final, the lease is lost, or shutdown.
    async fn follow(&self, id: Uuid, shutdown: CancellationToken) {
        tracing::info!(operation_id = %id, owner = %self.owner, "following operation");
        let wait = block_for(self.settings.lease);
        loop {
            let row = match q::find(&self.db, id).await {
                Ok(Some(row)) => row,
                Ok(None) => return,
                Err(error) => {
                    tracing::warn!(%error, operation_id = %id, "reading an operation failed");
                    tokio::select! {
                        _ = shutdown.cancelled() => return,
                        _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
                    }
                }
            };
            if row.finished_at.is_some() || row.lease_owner.as_deref() != Some(&self.owner) {
                return;
            }
            let mut updated = row.clone();
            let next = if row.result.is_none() {
                // The write never came back: the process that sent it stopped first.
                updated.state = State::Failed.as_str().into();
                updated.message = Some(
                    "the gateway stopped before Nomad answered this write; check the job to see whether it took effect"
                        .into(),
                );
                Next::Nothing
            } else {
                let look = Follower::new(&self.nomad, &row).step().await;
                let mut progress = Progress::of(&row);
                progress.groups = look.groups;
                updated.state = look.state.as_str().into();
                updated.message = Some(look.message);
                updated.progress = progress.to_json();
                updated.deployment_id = look.deployment_id;
                updated.job_version = look.job_version.map(|v| v as i64);
                look.next
            };
            let state = State::parse(&updated.state).unwrap_or(State::Pending);
            let changed = (
                &updated.state,
                &updated.message,
                &updated.progress,
                &updated.deployment_id,
                updated.job_version,
            ) != (
                &row.state,
                &row.message,
                &row.progress,
                &row.deployment_id,
                row.job_version,
            );
            if changed {
                updated.updated_at = q::now();
            }
            if state.is_final() {
                updated.finished_at = Some(q::now());
            }
            match q::update_followed(&self.db, &updated, &self.owner, self.lease_until()).await {
                Ok(true) => {}
                Ok(false) => return,
                Err(error) => {
                    tracing::warn!(%error, operation_id = %id, "recording an operation failed")
                }
            }
            if state.is_final() {
                metrics::counter!("gateway_operations_finished_total",
                    "kind" => row.kind.clone(), "state" => state.as_str())
                .increment(1);
                tracing::info!(
                    operation_id = %id,
                    state = state.as_str(),
                    message = updated.message.as_deref().unwrap_or_default(),
                    "operation finished"
                );
                return;
            }
            let namespace = row.namespace.clone().unwrap_or_default();
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = wait_change(&self.nomad, &namespace, &next, wait) => {}
            }
            // A floor between looks, whatever Nomad's blocking answers do.
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Removes finished operations older than the retention, now and then.
    async fn retain(self: Arc<Self>, stop: CancellationToken) {
        let retention = self.settings.retention;
        let every = (retention / 4).clamp(Duration::from_secs(1), Duration::from_secs(3600));
        loop {
            let before = q::now() - chrono::Duration::from_std(retention).unwrap_or_default();
            match q::delete_finished_before(&self.db, before).await {
                Ok(n) if n > 0 => tracing::info!(removed = n, "removed old operations"),
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "removing old operations failed"),
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(every) => {}
            }
        }
    }
}
