//! The records the world keeps: nodes and node pools, jobs, evaluations, allocations and
//! their tasks, deployments, scaling policies, volumes, namespaces and events.

use std::collections::BTreeMap;
use std::time::Instant;

use serde_json::Value;

use super::now_ns;
use crate::jobspec::Behavior;

#[derive(Debug, Clone)]
pub struct Drain {
    pub deadline_ns: i64,
    pub ignore_system: bool,
    pub started_at: i64,
    pub force_deadline: i64,
}

#[derive(Debug, Clone)]
pub struct NodeEvent {
    pub message: String,
    pub subsystem: String,
    /// `Details` (`deadline_reached` on a drain that hit its deadline).
    pub details: BTreeMap<String, String>,
    pub at: i64,
    pub index: u64,
}

#[derive(Debug, Clone)]
pub struct Node {
    pub id: String,
    pub name: String,
    pub datacenter: String,
    pub address: String,
    pub cpu: u64,
    pub memory: u64,
    pub disk: u64,
    pub status: String,
    pub eligibility: String,
    pub drain: Option<Drain>,
    pub last_drain: Option<(i64, i64, String)>,
    pub meta: BTreeMap<String, String>,
    pub static_meta: BTreeMap<String, String>,
    /// `NodePool` (`default` unless the node registered in another).
    pub pool: String,
    /// `NodeClass` (empty unless set).
    pub class: String,
    pub events: Vec<NodeEvent>,
    pub status_updated_at: i64,
    pub create_index: u64,
    pub modify_index: u64,
}

#[derive(Debug, Clone)]
pub struct JobRecord {
    pub namespace: String,
    pub id: String,
    /// Every version, oldest first; the last is the job as it is now.
    pub versions: Vec<Value>,
    pub create_index: u64,
    pub modify_index: u64,
    pub job_modify_index: u64,
    pub submit_time: i64,
    /// Dispatch idempotency token → dispatched child job ID.
    pub dispatched: BTreeMap<String, String>,
    pub dispatch_count: u64,
    /// Scaling events per group.
    pub scale_events: BTreeMap<String, Vec<Value>>,
}

impl JobRecord {
    pub fn current(&self) -> &Value {
        self.versions.last().expect("a job has a version")
    }
    pub fn current_mut(&mut self) -> &mut Value {
        self.versions.last_mut().expect("a job has a version")
    }
    pub fn version(&self) -> u64 {
        self.current()["Version"].as_u64().unwrap_or(0)
    }
    pub fn job_type(&self) -> String {
        self.current()["Type"]
            .as_str()
            .unwrap_or("service")
            .to_string()
    }
    pub fn stopped(&self) -> bool {
        self.current()["Stop"].as_bool().unwrap_or(false)
    }
}

#[derive(Debug, Clone)]
pub struct Eval {
    pub id: String,
    pub namespace: String,
    pub job_id: String,
    pub priority: u64,
    pub kind: String,
    pub triggered_by: String,
    pub job_modify_index: u64,
    pub node_id: String,
    pub node_modify_index: u64,
    pub deployment_id: String,
    pub status: String,
    pub status_description: String,
    pub previous_eval: String,
    pub next_eval: String,
    pub blocked_eval: String,
    pub failed: BTreeMap<String, Value>,
    pub queued: BTreeMap<String, u64>,
    pub class_eligibility: Option<Value>,
    pub snapshot_index: u64,
    pub create_index: u64,
    pub modify_index: u64,
    pub create_time: i64,
    pub modify_time: i64,
}

#[derive(Debug, Clone)]
pub struct TaskEvent {
    pub kind: String,
    pub at: i64,
    pub message: String,
    pub display: String,
    pub exit_code: i64,
    pub fails_task: bool,
    pub restart_reason: String,
    pub details: BTreeMap<String, String>,
}

impl TaskEvent {
    pub fn new(kind: &str, display: &str) -> TaskEvent {
        TaskEvent {
            kind: kind.into(),
            at: now_ns(),
            message: String::new(),
            display: display.into(),
            exit_code: 0,
            fails_task: false,
            restart_reason: String::new(),
            details: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct TaskState {
    pub state: String,
    pub failed: bool,
    pub restarts: u64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub last_restart: Option<i64>,
    pub events: Vec<TaskEvent>,
    pub behavior: Behavior,
    pub cpu: u64,
    pub memory: u64,
    pub log_bytes: Option<u64>,
    /// Lines a second a running task adds to its stdout (meta
    /// `fake_nomad_log_lines_per_second`).
    pub log_rate: Option<u64>,
}

#[derive(Debug, Clone)]
pub struct Alloc {
    pub id: String,
    pub eval_id: String,
    pub name: String,
    pub namespace: String,
    pub node_id: String,
    pub node_name: String,
    pub job_id: String,
    pub job_version: u64,
    pub job_type: String,
    pub task_group: String,
    pub desired_status: String,
    pub desired_description: String,
    pub client_status: String,
    pub client_description: String,
    pub tasks: BTreeMap<String, TaskState>,
    pub deployment_id: String,
    pub canary: bool,
    pub healthy: Option<bool>,
    pub health_at: i64,
    /// The group's `update` block asks for health set by hand (`health_check = "manual"`).
    pub manual_health: bool,
    /// Marked by the drainer to move off its node (`DesiredTransition.Migrate`).
    pub migrate: bool,
    pub metrics: Value,
    pub previous_allocation: String,
    pub next_allocation: String,
    pub followup_eval: String,
    pub restart_attempts: u64,
    pub create_index: u64,
    pub modify_index: u64,
    pub alloc_modify_index: u64,
    pub create_time: i64,
    pub modify_time: i64,
    /// When the simulation moves this allocation next.
    pub next_step: Option<Instant>,
}

impl Alloc {
    pub fn terminal(&self) -> bool {
        matches!(self.client_status.as_str(), "complete" | "failed" | "lost")
            || (self.desired_status != "run" && self.client_status != "running")
    }
    /// Ended on the client (`ClientTerminalStatus`).
    pub fn client_terminal(&self) -> bool {
        matches!(self.client_status.as_str(), "complete" | "failed" | "lost")
    }
    /// Holding resources on its node.
    pub fn holds_resources(&self) -> bool {
        !matches!(self.client_status.as_str(), "complete" | "failed" | "lost")
            && self.desired_status == "run"
    }
    /// Whether the client reports this allocation's health (`client/allocrunner/
    /// health_hook.go`): every service allocation is watched, by the group's `update`
    /// block in a deployment and by its `migrate` block otherwise, except in a deployment
    /// whose health is set by hand.
    pub fn watches_health(&self) -> bool {
        self.job_type == "service" && (!self.manual_health || self.deployment_id.is_empty())
    }
    pub fn ask(&self) -> (u64, u64) {
        self.tasks
            .values()
            .fold((0, 0), |(c, m), t| (c + t.cpu, m + t.memory))
    }
}

#[derive(Debug, Clone, Default)]
pub struct DeploymentGroup {
    pub auto_revert: bool,
    pub auto_promote: bool,
    pub promoted: bool,
    pub placed_canaries: Vec<String>,
    pub desired_canaries: u64,
    pub desired_total: u64,
    pub placed: u64,
    pub healthy: u64,
    pub unhealthy: u64,
    pub progress_deadline: i64,
    pub require_progress_by: i64,
}

#[derive(Debug, Clone)]
pub struct Deployment {
    pub id: String,
    pub namespace: String,
    pub job_id: String,
    pub job_version: u64,
    pub job_modify_index: u64,
    pub job_spec_modify_index: u64,
    pub job_create_index: u64,
    pub groups: BTreeMap<String, DeploymentGroup>,
    pub status: String,
    pub status_description: String,
    pub create_index: u64,
    pub modify_index: u64,
    /// A progress deadline the watcher let pass (the deployment was paused then), which
    /// it does not act on again (Unix nanoseconds; 0 for none).
    pub skipped_deadline: i64,
}

impl Deployment {
    pub fn active(&self) -> bool {
        matches!(self.status.as_str(), "running" | "paused" | "pending")
    }
}

#[derive(Debug, Clone)]
pub struct Namespace {
    pub name: String,
    pub description: String,
    pub create_index: u64,
    pub modify_index: u64,
}

#[derive(Debug, Clone)]
pub struct Event {
    pub topic: String,
    pub kind: String,
    pub key: String,
    pub namespace: String,
    /// What else a `Topic:key` filter matches (`nomad/state/events.go`): an allocation's or
    /// evaluation's job and deployment, a deployment's job.
    pub filter_keys: Vec<String>,
    pub index: u64,
    pub payload: Value,
}

/// A node pool (`structs.NodePool`): the built-in `all` and `default`, and those nodes
/// registered in.
#[derive(Debug, Clone)]
pub struct NodePool {
    pub name: String,
    pub description: String,
    pub meta: BTreeMap<String, String>,
    pub create_index: u64,
    pub modify_index: u64,
}

/// A task group's scaling policy (`structs.ScalingPolicy` of type `horizontal`), kept
/// from the job's `TaskGroups[].Scaling` block.
#[derive(Debug, Clone, PartialEq)]
pub struct ScalingPolicy {
    pub id: String,
    pub namespace: String,
    pub job_id: String,
    pub group: String,
    pub kind: String,
    pub min: i64,
    pub max: i64,
    pub enabled: bool,
    pub policy: Value,
    pub create_index: u64,
    pub modify_index: u64,
}

/// A registered CSI volume, with the indexes and times of its registration.
#[derive(Debug, Clone)]
pub struct CsiVolumeRecord {
    pub spec: crate::volumes::CsiVolume,
    pub create_index: u64,
    pub modify_index: u64,
    pub create_time: i64,
}

/// A dynamic host volume on a node, with its node's pool and its indexes and times.
#[derive(Debug, Clone)]
pub struct HostVolumeRecord {
    pub spec: crate::volumes::HostVolume,
    pub node_id: String,
    pub node_pool: String,
    pub create_index: u64,
    pub modify_index: u64,
    pub create_time: i64,
}
