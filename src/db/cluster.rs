//! This process as one replica among several on the same database: its id, its row in
//! `replicas` (refreshed every [`BEAT`]), and the message bus with a channel for all
//! replicas and one of its own.

use std::sync::Arc;
use std::time::Duration;

use sea_orm::{DatabaseConnection, DbBackend, DbErr};
use tokio_util::sync::CancellationToken;

use super::bus::Bus;
use super::operations::{Timestamp, now};

/// How often a replica refreshes its row.
pub const BEAT: Duration = Duration::from_secs(2);
/// A replica whose row is older than this is taken for dead.
pub const STALE: Duration = Duration::from_secs(10);
/// The channel every replica listens on.
pub const ALL: &str = "ngw_all";

pub struct Cluster {
    /// Unique per start: `<pid>-<uuid>`.
    pub id: String,
    pub bus: Arc<Bus>,
    db: DatabaseConnection,
    started: Timestamp,
}

fn ago(duration: Duration) -> Timestamp {
    now() - chrono::Duration::from_std(duration).unwrap_or_default()
}

impl Cluster {
    /// Registers this replica, starts its heartbeat and its listeners.
    pub async fn join(
        db: DatabaseConnection,
        shutdown: CancellationToken,
    ) -> Result<Arc<Cluster>, DbErr> {
        let id = format!("{}-{}", std::process::id(), uuid::Uuid::now_v7().simple());
        let started = now();
        super::replicas::beat(&db, &id, started, started).await?;
        let channels = [ALL.to_string(), channel_of(&id)];
        let bus = Bus::start(db.clone(), &channels, shutdown.clone()).await?;
        let cluster = Arc::new(Cluster {
            id,
            bus,
            db,
            started,
        });
        let beating = cluster.clone();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let mut tick = tokio::time::interval(BEAT);
                let postgres = beating.db.get_database_backend() == DbBackend::Postgres;
                for beat in 0u64.. {
                    tokio::select! {
                        _ = shutdown.cancelled() => break,
                        _ = tick.tick() => {}
                    }
                    if let Err(error) =
                        super::replicas::beat(&beating.db, &beating.id, beating.started, now())
                            .await
                    {
                        tracing::warn!(%error, "refreshing this replica's row failed");
                    }
                    // About once a minute: rate buckets untouched for ten (full again by now).
                    if postgres && beat % 30 == 29 {
                        let _ = super::budgets::sweep(&beating.db, 600.0).await;
                    }
                }
            });
        }
        Ok(cluster)
    }

    /// The channel only this replica listens on.
    pub fn own_channel(&self) -> String {
        channel_of(&self.id)
    }

    /// Runs `handle` on each message of the channel of all replicas and of this replica's
    /// own, one at a time, until shutdown (outside a runtime: never).
    pub fn on_messages<F, Fut>(&self, shutdown: CancellationToken, handle: F)
    where
        F: Fn(String) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()> + Send,
    {
        use tokio::sync::broadcast::error::RecvError;
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let mut all = self.bus.subscribe(ALL);
        let mut own = self.bus.subscribe(&self.own_channel());
        runtime.spawn(async move {
            loop {
                let message = tokio::select! {
                    _ = shutdown.cancelled() => break,
                    message = all.recv() => message,
                    message = own.recv() => message,
                };
                match message {
                    Ok(message) => handle(message).await,
                    // Missed messages have a sweep or a timeout behind them (see `bus`).
                    Err(RecvError::Lagged(_)) => continue,
                    Err(RecvError::Closed) => break,
                }
            }
        });
    }

    /// True when `replica` refreshed its row recently.
    pub async fn alive(&self, replica: &str) -> Result<bool, DbErr> {
        if replica == self.id {
            return Ok(true);
        }
        super::replicas::alive(&self.db, replica, ago(STALE)).await
    }

    /// The replicas alive now (this one included).
    pub async fn members(&self) -> Result<Vec<String>, DbErr> {
        let mut alive = super::replicas::all_alive(&self.db, ago(STALE)).await?;
        if !alive.contains(&self.id) {
            alive.push(self.id.clone());
        }
        Ok(alive)
    }

    /// At shutdown: the SSE sessions this replica holds end with it (their clients open new
    /// ones elsewhere), and its row goes, along with those of replicas long dead.
    pub async fn leave(&self) {
        if let Err(error) = super::sessions::delete_held_by(&self.db, &self.id).await {
            tracing::warn!(%error, "removing this replica's SSE sessions failed");
        }
        if let Err(error) = super::replicas::remove(&self.db, &self.id, ago(STALE * 6)).await {
            tracing::warn!(%error, "removing this replica's row failed");
        }
    }
}

/// The channel of one replica.
pub fn channel_of(replica: &str) -> String {
    format!("ngw_{}", replica.replace('-', "_"))
}
