//! Nomad's JSON shapes for the fake's objects, key for key as in Nomad's documented
//! responses (`structs.Allocation`, `structs.AllocListStub`, `structs.Evaluation`,
//! `structs.Deployment`, `structs.Node`, `structs.NodeListStub`, `structs.JobListStub`,
//! `structs.ServiceRegistration`, `structs.CheckQueryResult`, `structs.VariableDecrypted`,
//! `structs.VariableMetadata`).

mod allocs;
mod cluster;
mod deployments;
mod evals;
mod jobs;
mod nodes;
mod services;
mod variables;

pub use allocs::{alloc, alloc_stub};
pub use cluster::{agent_self, member, namespace};
pub use deployments::deployment;
pub use evals::{eval, eval_with_related};
pub use jobs::{job, job_stub, job_summary};
pub use nodes::{node, node_stub};
pub use services::{checks, registration, service_list};
pub use variables::{variable, variable_metadata};
