//! The operations, one function per operation, shared by the REST handlers and the MCP
//! tools. Validation, policy, audit and Nomad calls happen here or below, never above.

pub mod admin;
pub mod allocations;
pub mod audit;
pub mod claims;
pub mod cluster;
pub mod complete;
pub mod consequences;
pub mod control;
pub mod deployments;
pub mod diagnose;
mod error;
pub mod evaluations;
mod guard;
mod job_diff;
mod job_parts;
pub mod jobs;
pub mod keys;
pub mod log_follow;
pub mod log_search;
pub mod logs;
pub mod lookup;
pub mod nodes;
pub mod oauth;
pub mod operations;
pub mod page;
pub mod policy;
pub mod problems;
pub mod ratelimit;
mod results;
pub mod services;
pub mod spec;
mod spec_job;
pub mod submit;
mod suggest;
pub mod timeline;
pub mod tracking;
pub mod variables;
pub mod versions;
pub mod wait;
pub mod watch;

pub use error::{FieldError, ServiceError};
pub use guard::Guard;
pub use policy::Principal;

use crate::nomad::{NomadClient, QueryOptions};

/// The service layer's handles on the outside world.
#[derive(Clone)]
pub struct Service {
    nomad: NomadClient,
    guard: std::sync::Arc<Guard>,
    /// Tracked operations; `None` without a database (the CLI, tests).
    operations: Option<std::sync::Arc<crate::operations::Operations>>,
    /// Options of the write about to run (idempotency key, expected version).
    write: tracking::WriteOptions,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("nomad", &self.nomad)
            .finish_non_exhaustive()
    }
}

/// Largest page a list returns, whatever the caller asks.
pub use page::{DEFAULT_PAGE, MAX_PAGE, Page, PageRequest};

impl Service {
    /// A service without policy limits or audit (the CLI, tests).
    pub fn new(nomad: NomadClient) -> Service {
        Service::with_guard(nomad, Guard::open())
    }

    pub fn with_guard(nomad: NomadClient, guard: Guard) -> Service {
        Service {
            nomad,
            guard: std::sync::Arc::new(guard),
            operations: None,
            write: tracking::WriteOptions::default(),
        }
    }

    /// Records every tracked write as an operation in this database.
    pub fn with_operations(
        mut self,
        operations: std::sync::Arc<crate::operations::Operations>,
    ) -> Service {
        self.operations = Some(operations);
        self
    }

    /// The tracked operations, when this service records them.
    pub fn operations(&self) -> Option<&std::sync::Arc<crate::operations::Operations>> {
        self.operations.as_ref()
    }

    /// A copy of the service whose next writes carry these options.
    pub fn with_write_options(&self, write: tracking::WriteOptions) -> Service {
        let mut service = self.clone();
        service.write = write;
        service
    }

    /// The audit log, when this service records one.
    pub fn audit(&self) -> Option<&crate::service::audit::Audit> {
        self.guard.audit()
    }

    /// Whether the gateway refuses every write (`GATEWAY_READ_ONLY`).
    pub fn read_only(&self) -> bool {
        self.guard.read_only()
    }

    pub fn nomad(&self) -> &NomadClient {
        &self.nomad
    }

    /// The namespace an operation works in: the caller's choice or the gateway's default.
    fn namespace(&self, requested: Option<&str>) -> String {
        requested
            .filter(|n| !n.is_empty())
            .unwrap_or(self.nomad.default_namespace())
            .to_string()
    }

    fn in_namespace(&self, namespace: &str) -> QueryOptions {
        QueryOptions::namespace(namespace)
    }
}

/// Nanoseconds since the epoch (Nomad's timestamps) as RFC 3339, for people.
pub fn timestamp(nanos: i64) -> Option<String> {
    if nanos <= 0 {
        return None;
    }
    chrono::DateTime::from_timestamp(nanos / 1_000_000_000, (nanos % 1_000_000_000) as u32)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}
