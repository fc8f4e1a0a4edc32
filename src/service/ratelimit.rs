//! Per-caller rate limits with separate budgets for reads and writes: a token bucket per
//! caller that holds a minute's worth of calls and refills continuously.
//!
//! On Postgres the bucket is shared by every replica (`db::budgets`): a replica takes up
//! to one second's refill from it at a time and spends that share locally for at most
//! [`HOLD`], so most calls cost no database round trip and no replica can grant what the
//! bucket does not hold. The tolerance: calls may be granted up to `HOLD` after the shared
//! bucket gave them out, and a share left unspent expires (a caller bouncing between
//! replicas can be refused a little early, never admitted beyond the budget). When the
//! database cannot be reached, each replica falls back to its own bucket. On SQLite there
//! is one process, and its own bucket is the whole truth.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sea_orm::{DatabaseConnection, DbBackend};

/// How long a replica may spend a share taken from the shared bucket.
pub const HOLD: Duration = Duration::from_secs(2);

struct Bucket {
    tokens: f64,
    at: Instant,
}

struct Share {
    tokens: u32,
    until: Instant,
}

struct Shared {
    db: DatabaseConnection,
    /// Which budget (`read`, `write`, `auth`): the shared bucket's key starts with it.
    name: &'static str,
    shares: Mutex<HashMap<String, Share>>,
}

pub struct Limiter {
    per_minute: u32,
    buckets: Mutex<HashMap<String, Bucket>>,
    shared: Option<Shared>,
}

impl Limiter {
    /// A bucket in this process only. `per_minute == 0` never limits.
    pub fn new(per_minute: u32) -> Limiter {
        Limiter {
            per_minute,
            buckets: Mutex::new(HashMap::new()),
            shared: None,
        }
    }

    /// A bucket every replica on the same Postgres shares (on SQLite, this process's own).
    pub fn shared(name: &'static str, per_minute: u32, db: &DatabaseConnection) -> Limiter {
        let shared = (db.get_database_backend() == DbBackend::Postgres).then(|| Shared {
            db: db.clone(),
            name,
            shares: Mutex::new(HashMap::new()),
        });
        Limiter {
            shared,
            ..Limiter::new(per_minute)
        }
    }

    fn per_second(&self) -> f64 {
        f64::from(self.per_minute) / 60.0
    }

    /// Takes one call from `caller`'s budget, or says how long until one is available.
    pub async fn check(&self, caller: &str) -> Result<(), Duration> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let Some(shared) = &self.shared else {
            return self.check_local(caller);
        };
        {
            let mut shares = shared.shares.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            if shares.len() > 100_000 {
                shares.retain(|_, s| s.until > now);
            }
            if let Some(share) = shares.get_mut(caller)
                && share.tokens > 0
                && share.until > now
            {
                share.tokens -= 1;
                return Ok(());
            }
        }
        let want = (self.per_minute / 60).max(1);
        let key = format!("{}:{caller}", shared.name);
        let capacity = f64::from(self.per_minute);
        match crate::db::budgets::take(&shared.db, &key, capacity, self.per_second(), want).await {
            Ok(take) if take.granted > 0 => {
                shared
                    .shares
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(
                        caller.to_string(),
                        Share {
                            tokens: take.granted - 1,
                            until: Instant::now() + HOLD,
                        },
                    );
                Ok(())
            }
            Ok(take) => Err(self.wait_for(take.left)),
            Err(error) => {
                tracing::warn!(budget = shared.name, %error, "the shared rate budget is unavailable; this replica counts alone");
                self.check_local(caller)
            }
        }
    }

    fn wait_for(&self, tokens: f64) -> Duration {
        Duration::from_secs_f64((1.0 - tokens).max(0.0) / self.per_second())
            .max(Duration::from_secs(1))
    }

    fn check_local(&self, caller: &str) -> Result<(), Duration> {
        let capacity = f64::from(self.per_minute);
        let per_second = self.per_second();
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() > 100_000 {
            buckets.retain(|_, b| now.duration_since(b.at) < Duration::from_secs(120));
        }
        let bucket = buckets.entry(caller.to_string()).or_insert(Bucket {
            tokens: capacity,
            at: now,
        });
        bucket.tokens = (bucket.tokens + now.duration_since(bucket.at).as_secs_f64() * per_second)
            .min(capacity);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(self.wait_for(bucket.tokens))
        }
    }
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn a_minute_of_calls_then_a_wait() {
        let limiter = super::Limiter::new(3);
        assert!(limiter.check("a").await.is_ok());
        assert!(limiter.check("a").await.is_ok());
        assert!(limiter.check("a").await.is_ok());
        let wait = limiter.check("a").await.unwrap_err();
        assert!(wait.as_secs() >= 1 && wait.as_secs() <= 20, "{wait:?}");
        assert!(limiter.check("b").await.is_ok(), "budgets are per caller");
        assert!(super::Limiter::new(0).check("a").await.is_ok());
    }
}
