//! Messages between replicas: Postgres `LISTEN`/`NOTIFY` when the database is Postgres,
//! an in-process broadcast on SQLite (one process: the gateways built in it). Both deliver
//! a message to every subscriber of its channel, the publishing process included, so the
//! code above it runs the same way on either.
//!
//! Delivery is at most once: a notification sent while the listening connection is being
//! re-established is lost (PostgreSQL docs, NOTIFY: notifications go only to sessions
//! listening at commit). Whoever relies on one has a timeout or a sweep behind it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

/// NOTIFY payloads must stay under 8000 bytes (PostgreSQL docs, NOTIFY).
pub const MAX_PAYLOAD: usize = 7900;

type Channels = Arc<Mutex<HashMap<String, broadcast::Sender<String>>>>;

/// On SQLite every `Bus` of the process shares one set of channels, so gateways built in
/// one process on one database file reach each other as replicas on Postgres do.
static IN_PROCESS: std::sync::OnceLock<Channels> = std::sync::OnceLock::new();

pub struct Bus {
    db: DatabaseConnection,
    channels: Channels,
    postgres: bool,
}

impl Bus {
    /// Starts listening on `channels` (on Postgres, one connection of its own, kept until
    /// shutdown and re-established when it breaks).
    pub async fn start(
        db: DatabaseConnection,
        channels: &[String],
        shutdown: CancellationToken,
    ) -> Result<Arc<Bus>, DbErr> {
        let postgres = db.get_database_backend() == DbBackend::Postgres;
        let shared = if postgres {
            Channels::default()
        } else {
            IN_PROCESS.get_or_init(Channels::default).clone()
        };
        {
            let mut known = shared.lock().unwrap_or_else(|p| p.into_inner());
            for channel in channels {
                known
                    .entry(channel.clone())
                    .or_insert_with(|| broadcast::channel(1024).0);
            }
        }
        let bus = Arc::new(Bus {
            db: db.clone(),
            channels: shared,
            postgres,
        });
        if postgres {
            let pool = db.get_postgres_connection_pool().clone();
            let mut listener = sqlx::postgres::PgListener::connect_with(&pool)
                .await
                .map_err(|e| DbErr::Custom(format!("cannot listen for notifications: {e}")))?;
            let names: Vec<&str> = channels.iter().map(String::as_str).collect();
            listener
                .listen_all(names)
                .await
                .map_err(|e| DbErr::Custom(format!("cannot listen for notifications: {e}")))?;
            let relay = bus.clone();
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        _ = shutdown.cancelled() => break,
                        received = listener.recv() => match received {
                            Ok(note) => relay.deliver(note.channel(), note.payload()),
                            Err(error) => {
                                // The next recv reconnects and listens again.
                                tracing::warn!(%error, "the notification connection broke; reconnecting");
                                tokio::time::sleep(Duration::from_millis(500)).await;
                            }
                        },
                    }
                }
            });
        }
        Ok(bus)
    }

    /// Messages on `channel` from now on (a channel given to `start`).
    pub fn subscribe(&self, channel: &str) -> broadcast::Receiver<String> {
        self.channels
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(channel.to_string())
            .or_insert_with(|| broadcast::channel(1024).0)
            .subscribe()
    }

    /// Sends `payload` to every subscriber of `channel` in every replica.
    pub async fn publish(&self, channel: &str, payload: &str) -> Result<(), DbErr> {
        if payload.len() > MAX_PAYLOAD {
            return Err(DbErr::Custom(format!(
                "a notification of {} bytes is over the {MAX_PAYLOAD}-byte limit",
                payload.len()
            )));
        }
        if !self.postgres {
            self.deliver(channel, payload);
            return Ok(());
        }
        self.db
            .execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT pg_notify($1, $2)",
                vec![channel.into(), payload.into()],
            ))
            .await
            .map(|_| ())
    }

    fn deliver(&self, channel: &str, payload: &str) {
        let channels = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(sender) = channels.get(channel) {
            // No subscriber is not an error: the message was for nobody here.
            let _ = sender.send(payload.to_string());
        }
    }
}
