//! Fault injection for reliability tests: added latency, a rate of errors or dropped
//! connections, and a deterministic "the next N requests fail".

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// `500` with a Nomad-like error text.
    #[default]
    ServerError,
    /// `503 No cluster leader`, as during a leader election.
    NoLeader,
    /// The connection closes before any response.
    Drop,
    /// `404 page not found`, as a proxy or a path rule in front of Nomad answers a path
    /// it does not pass on (Nomad itself never says this for the paths it serves).
    NotFound,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Faults {
    /// Added to every request before it is handled.
    pub latency_ms: u64,
    /// Share of requests (0.0–1.0) answered with `error_kind`.
    pub error_rate: f64,
    pub error_kind: FaultKind,
    /// Share of requests whose connection is dropped.
    pub drop_rate: f64,
    /// The next this many requests fail with `next_kind`, then requests pass again.
    pub fail_next: u32,
    pub next_kind: FaultKind,
    /// Only requests whose path starts with this are affected (all when empty).
    pub path_prefix: String,
}

impl Faults {
    /// Decides the fate of one request; counts down `fail_next`.
    pub fn draw(&mut self, path: &str) -> Option<FaultKind> {
        if !self.path_prefix.is_empty() && !path.starts_with(&self.path_prefix) {
            return None;
        }
        if self.fail_next > 0 {
            self.fail_next -= 1;
            return Some(self.next_kind);
        }
        if self.drop_rate > 0.0 && fastrand::f64() < self.drop_rate {
            return Some(FaultKind::Drop);
        }
        if self.error_rate > 0.0 && fastrand::f64() < self.error_rate {
            return Some(self.error_kind);
        }
        None
    }
}
