//! The fake's state: nodes, jobs and their versions, evaluations, allocations,
//! deployments, namespaces and the event log, all under one Raft-like index.

use std::collections::BTreeMap;
use std::sync::Weak;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::Options;
use crate::jobspec::Behavior;

pub fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

pub fn rfc3339(ns: i64) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    let nanos = ns.rem_euclid(1_000_000_000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

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
    /// Holding resources on its node.
    pub fn holds_resources(&self) -> bool {
        !matches!(self.client_status.as_str(), "complete" | "failed" | "lost")
            && self.desired_status == "run"
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
    pub index: u64,
    pub payload: Value,
}

#[derive(Clone)]
pub struct World {
    pub index: u64,
    pub nodes: Vec<Node>,
    pub jobs: BTreeMap<(String, String), JobRecord>,
    pub evals: BTreeMap<String, Eval>,
    pub allocs: BTreeMap<String, Alloc>,
    pub deployments: BTreeMap<String, Deployment>,
    pub namespaces: BTreeMap<String, Namespace>,
    pub events: Vec<Event>,
    pub step: Duration,
}

impl World {
    pub fn new(options: &Options) -> World {
        let mut world = World {
            index: 1,
            nodes: Vec::new(),
            jobs: BTreeMap::new(),
            evals: BTreeMap::new(),
            allocs: BTreeMap::new(),
            deployments: BTreeMap::new(),
            namespaces: BTreeMap::new(),
            events: Vec::new(),
            step: options.step,
        };
        world.add_namespace("default", "Default shared namespace");
        for ns in &options.namespaces {
            world.add_namespace(ns, "");
        }
        let dcs = if options.datacenters.is_empty() {
            vec!["dc1".to_string()]
        } else {
            options.datacenters.clone()
        };
        for i in 0..options.nodes {
            world.add_node(&dcs[i % dcs.len()], options.node_cpu, options.node_memory);
        }
        world
    }

    pub fn bump(&mut self) -> u64 {
        self.index += 1;
        self.index
    }

    pub fn add_namespace(&mut self, name: &str, description: &str) {
        let index = self.bump();
        self.namespaces.insert(
            name.to_string(),
            Namespace {
                name: name.into(),
                description: description.into(),
                create_index: index,
                modify_index: index,
            },
        );
    }

    pub fn emit(&mut self, topic: &str, kind: &str, key: &str, namespace: &str, payload: Value) {
        let index = self.index;
        self.events.push(Event {
            topic: topic.into(),
            kind: kind.into(),
            key: key.into(),
            namespace: namespace.into(),
            index,
            payload,
        });
        if self.events.len() > 20_000 {
            self.events.drain(..10_000);
        }
    }

    pub fn add_node(&mut self, datacenter: &str, cpu: u64, memory: u64) -> String {
        let index = self.bump();
        let n = self.nodes.len() + 1;
        let now = now_ns();
        let node = Node {
            id: new_id(),
            name: format!("fake-node-{n}"),
            datacenter: datacenter.into(),
            address: format!("10.0.0.{}", 10 + n),
            cpu,
            memory,
            disk: 100_000,
            status: "ready".into(),
            eligibility: "eligible".into(),
            drain: None,
            last_drain: None,
            meta: BTreeMap::new(),
            static_meta: BTreeMap::from([("rack".to_string(), format!("r{}", 1 + n % 2))]),
            events: vec![NodeEvent {
                message: "Node registered".into(),
                subsystem: "Cluster".into(),
                at: now,
                index,
            }],
            status_updated_at: now / 1_000_000_000,
            create_index: index,
            modify_index: index,
        };
        let id = node.id.clone();
        let payload = json!({"Node": crate::render::node(&node)});
        self.nodes.push(node);
        self.emit("Node", "NodeRegistration", &id, "", payload);
        self.retry_blocked();
        id
    }

    pub fn node_mut(&mut self, id: &str) -> Option<&mut Node> {
        self.nodes.iter_mut().find(|n| n.id == id)
    }

    pub fn node(&self, id: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.id == id)
    }

    pub fn node_event(&mut self, node_id: &str, topic_kind: &str, message: &str) {
        let index = self.bump();
        if let Some(node) = self.node_mut(node_id) {
            node.modify_index = index;
            node.events.push(NodeEvent {
                message: message.into(),
                subsystem: "Cluster".into(),
                at: now_ns(),
                index,
            });
            let payload = json!({"Node": crate::render::node(node)});
            self.emit("Node", topic_kind, node_id, "", payload);
        }
    }

    pub fn set_node_status(&mut self, node_id: &str, status: &str) {
        let Some(node) = self.node_mut(node_id) else {
            return;
        };
        node.status = status.into();
        node.status_updated_at = now_ns() / 1_000_000_000;
        self.node_event(
            node_id,
            "NodeEvent",
            &format!("Node status changed to {status}"),
        );
        if status == "down" {
            let lost: Vec<String> = self
                .allocs
                .values()
                .filter(|a| a.node_id == node_id && a.holds_resources())
                .map(|a| a.id.clone())
                .collect();
            for id in lost {
                self.finish_alloc(&id, "lost", "alloc is lost since its node is down");
            }
            let jobs: Vec<(String, String)> = self
                .allocs
                .values()
                .filter(|a| a.node_id == node_id)
                .map(|a| (a.namespace.clone(), a.job_id.clone()))
                .collect();
            for (ns, job) in jobs {
                self.evaluate(&ns, &job, "node-update", Some(node_id));
            }
        } else {
            self.retry_blocked();
        }
    }

    /// Ends an allocation with a client status, freeing its resources.
    pub fn finish_alloc(&mut self, id: &str, client_status: &str, description: &str) {
        let index = self.bump();
        let Some(alloc) = self.allocs.get_mut(id) else {
            return;
        };
        alloc.client_status = client_status.into();
        alloc.client_description = description.into();
        if client_status == "lost" {
            alloc.desired_status = "stop".into();
        }
        for task in alloc.tasks.values_mut() {
            if task.state != "dead" {
                task.state = "dead".into();
                task.finished_at = Some(now_ns());
                task.failed = client_status == "failed";
            }
        }
        alloc.next_step = None;
        alloc.modify_index = index;
        alloc.modify_time = now_ns();
        let payload = json!({"Allocation": crate::render::alloc_stub(alloc)});
        let (ns, key) = (alloc.namespace.clone(), alloc.id.clone());
        self.emit("Allocation", "AllocationUpdated", &key, &ns, payload);
    }

    /// Stops an allocation the scheduler no longer wants.
    pub fn stop_alloc(&mut self, id: &str, description: &str) {
        let index = self.bump();
        let Some(alloc) = self.allocs.get_mut(id) else {
            return;
        };
        if alloc.desired_status != "run" {
            return;
        }
        alloc.desired_status = "stop".into();
        alloc.desired_description = description.into();
        alloc.alloc_modify_index = index;
        alloc.modify_index = index;
        alloc.modify_time = now_ns();
        if alloc.client_status == "pending" || alloc.client_status == "running" {
            alloc.client_status = "complete".into();
            alloc.client_description = "All tasks have completed".into();
            for task in alloc.tasks.values_mut() {
                if task.state != "dead" {
                    task.events.push(TaskEvent::new(
                        "Killing",
                        "Sent interrupt. Waiting 5s before force killing",
                    ));
                    task.events
                        .push(TaskEvent::new("Killed", "Task successfully killed"));
                    task.state = "dead".into();
                    task.finished_at = Some(now_ns());
                }
            }
        }
        alloc.next_step = None;
        let payload = json!({"Allocation": crate::render::alloc_stub(alloc)});
        let (ns, key) = (alloc.namespace.clone(), alloc.id.clone());
        self.emit("Allocation", "AllocationUpdated", &key, &ns, payload);
    }

    pub fn is_settled(&self) -> bool {
        // Deployments move only when their allocations do, so these are enough.
        self.allocs.values().all(|a| a.next_step.is_none())
    }

    pub fn job(&self, namespace: &str, id: &str) -> Option<&JobRecord> {
        self.jobs.get(&(namespace.to_string(), id.to_string()))
    }

    pub fn job_allocs(&self, namespace: &str, id: &str) -> Vec<&Alloc> {
        let mut v: Vec<&Alloc> = self
            .allocs
            .values()
            .filter(|a| a.namespace == namespace && a.job_id == id)
            .collect();
        v.sort_by_key(|a| std::cmp::Reverse(a.create_index));
        v
    }

    /// Job status as Nomad derives it from its allocations and evaluations.
    pub fn job_status(&self, record: &JobRecord) -> &'static str {
        let allocs = self.job_allocs(&record.namespace, &record.id);
        if allocs.iter().any(|a| !a.terminal()) {
            return "running";
        }
        let has_blocked = self.evals.values().any(|e| {
            e.namespace == record.namespace && e.job_id == record.id && e.status == "blocked"
        });
        if record.stopped() {
            return "dead";
        }
        // A parameterized or periodic parent runs as long as it may launch children.
        let job = record.current();
        if !job["Dispatched"].as_bool().unwrap_or(false)
            && (job["ParameterizedJob"].is_object() || job["Periodic"].is_object())
        {
            return "running";
        }
        if has_blocked || allocs.is_empty() {
            return "pending";
        }
        "dead"
    }

    /// Refreshes the job's stored status after allocation changes.
    pub fn refresh_job_status(&mut self, namespace: &str, id: &str) {
        let Some(record) = self.job(namespace, id) else {
            return;
        };
        let status = self.job_status(record);
        let current = record.current()["Status"]
            .as_str()
            .unwrap_or("")
            .to_string();
        if current != status {
            let index = self.bump();
            let record = self
                .jobs
                .get_mut(&(namespace.to_string(), id.to_string()))
                .expect("checked above");
            record.current_mut()["Status"] = json!(status);
            record.modify_index = index;
            let payload = json!({"Job": crate::render::job(self, namespace, id)});
            self.emit("Job", "JobStatusUpdated", id, namespace, payload);
        }
    }
}

/// Moves the simulation along: allocations start, run, crash and finish; deployments
/// count healthy allocations and finish.
pub fn spawn_lifecycle(shared: Weak<crate::Shared>) {
    tokio::spawn(async move {
        loop {
            let step = match shared.upgrade() {
                Some(s) => s.step,
                None => return,
            };
            tokio::time::sleep(step / 4).await;
            let Some(shared) = shared.upgrade() else {
                return;
            };
            shared.change(|w| w.tick(Instant::now()));
        }
    });
}
