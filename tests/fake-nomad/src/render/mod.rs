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
mod scaling;
mod services;
mod stats;
mod variables;
mod volumes;

pub use allocs::{alloc, alloc_stub};
pub use cluster::{agent_self, member, namespace};
pub use deployments::deployment;
pub use evals::{eval, eval_with_related};
pub use jobs::{job, job_stub, job_summary};
pub use nodes::{node, node_pool, node_stub};
pub use scaling::{scaling_policy, scaling_policy_stub};
pub use services::{checks, registration, service_list};
pub use stats::alloc_stats;
pub use variables::{variable, variable_metadata};
pub use volumes::{csi_volume, csi_volume_stub, host_volume, host_volume_stub};
