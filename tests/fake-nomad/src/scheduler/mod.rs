//! The scheduler and the allocation lifecycle: evaluations reconcile a job's wanted
//! state with its allocations, place new ones on nodes with enough free CPU and memory
//! (bin packing), leave a blocked evaluation with `FailedTGAllocs` metrics when nodes
//! run out, and drive deployments. Writes that Nomad rejects come back as
//! `(status, Nomad's message)`.
//!
//! This file holds what the parts share: the refusal type and a write's outcome.

mod allocs;
mod deployments;
mod drainer;
mod evals;
mod jobs;
mod lifecycle;
mod nodes;
mod placement;
mod reconcile;

pub type Refusal = (u16, String);

pub struct WriteOutcome {
    pub eval_id: String,
    pub eval_create_index: u64,
    pub job_modify_index: u64,
    pub index: u64,
    pub warnings: String,
}

fn refuse<T>(status: u16, message: impl Into<String>) -> Result<T, Refusal> {
    Err((status, message.into()))
}
