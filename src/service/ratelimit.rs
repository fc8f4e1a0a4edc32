//! Per-caller rate limits with separate budgets for reads and writes: a token bucket per
//! caller that holds a minute's worth of calls and refills continuously.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

struct Bucket {
    tokens: f64,
    at: Instant,
}

pub struct Limiter {
    per_minute: u32,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl Limiter {
    /// `per_minute == 0` never limits.
    pub fn new(per_minute: u32) -> Limiter {
        Limiter {
            per_minute,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one call from `caller`'s budget, or says how long until one is available.
    pub fn check(&self, caller: &str) -> Result<(), Duration> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let capacity = f64::from(self.per_minute);
        let per_second = capacity / 60.0;
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
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / per_second)
                .max(Duration::from_secs(1)))
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_minute_of_calls_then_a_wait() {
        let limiter = super::Limiter::new(3);
        assert!(limiter.check("a").is_ok());
        assert!(limiter.check("a").is_ok());
        assert!(limiter.check("a").is_ok());
        let wait = limiter.check("a").unwrap_err();
        assert!(wait.as_secs() >= 1 && wait.as_secs() <= 20, "{wait:?}");
        assert!(limiter.check("b").is_ok(), "budgets are per caller");
        assert!(super::Limiter::new(0).check("a").is_ok());
    }
}
