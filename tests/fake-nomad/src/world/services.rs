//! Nomad-native services and their checks, derived from the allocations as Nomad's client
//! keeps them (Nomad 1.11.2, hashicorp/nomad at a443448d):
//!
//! - a `service` block with `provider = "nomad"` is registered for every allocation that
//!   runs it: a group service while the allocation runs, a task service while its task
//!   runs (`client/allocrunner/groupservice_hook.go`, `taskrunner/service_hook.go`), and
//!   it is gone once the allocation stops; its ID is `_nomad-task-<alloc>-<task or
//!   group-<group>>-<service>-<port label>` (`client/serviceregistration/id.go`), its
//!   address the node's, its port the allocation's port of that label;
//! - the results of those services' checks live from the allocation's start until it is
//!   stopped (`client/allocrunner/checks_hook.go`: a `pending` stub first, purged at
//!   PreKill), keyed by a 32-digit hex ID (`structs.NomadCheckID` is an MD5).
//!
//! The checks of a task that crashes (see `jobspec::behavior`), or of a job, group or task
//! whose meta has `fake_nomad_check = "failing"`, fail; the others pass.

use serde_json::Value;

use super::{Alloc, World};
use crate::jobspec::{self, Behavior};

/// `structs.ServiceRegistration`.
#[derive(Debug, Clone)]
pub struct Registration {
    pub id: String,
    pub service_name: String,
    pub namespace: String,
    pub node_id: String,
    pub datacenter: String,
    pub job_id: String,
    pub alloc_id: String,
    pub tags: Vec<String>,
    pub address: String,
    pub port: u64,
    pub create_index: u64,
    pub modify_index: u64,
}

/// `structs.CheckQueryResult`.
#[derive(Debug, Clone)]
pub struct CheckResult {
    pub id: String,
    pub mode: &'static str,
    pub status: &'static str,
    /// The HTTP status of an HTTP check; 0 (left out) for TCP checks.
    pub status_code: u16,
    pub output: String,
    /// Unix seconds.
    pub timestamp: i64,
    pub group: String,
    pub task: String,
    pub service: String,
    pub check: String,
}

/// One `provider = "nomad"` service of an allocation's group, with where it is declared.
struct NomadService<'a> {
    spec: &'a Value,
    /// The task of a task-level service; `None` for a group service.
    task: Option<&'a Value>,
}

impl World {
    /// The job version an allocation runs.
    fn alloc_job(&self, alloc: &Alloc) -> Option<&Value> {
        let record = self.job(&alloc.namespace, &alloc.job_id)?;
        record
            .versions
            .iter()
            .find(|v| v["Version"].as_u64() == Some(alloc.job_version))
            .or(record.versions.last())
    }

    fn nomad_services<'a>(
        job: &'a Value,
        alloc: &Alloc,
    ) -> (Option<&'a Value>, Vec<NomadService<'a>>) {
        let group = job["TaskGroups"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|g| jobspec::str_of(g, "Name") == alloc.task_group);
        let Some(group) = group else {
            return (None, Vec::new());
        };
        let nomad = |s: &&Value| jobspec::str_of(s, "Provider") == "nomad";
        let mut services: Vec<NomadService> = group["Services"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(nomad)
            .map(|spec| NomadService { spec, task: None })
            .collect();
        for task in group["Tasks"].as_array().into_iter().flatten() {
            services.extend(
                task["Services"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(nomad)
                    .map(|spec| NomadService {
                        spec,
                        task: Some(task),
                    }),
            );
        }
        (Some(group), services)
    }

    /// Every native service registered now, ordered by namespace and ID as Nomad's state
    /// store holds them.
    pub fn registrations(&self) -> Vec<Registration> {
        let mut out = Vec::new();
        for alloc in self.allocs.values() {
            if !alloc.holds_resources() || alloc.client_status != "running" {
                continue;
            }
            let Some(job) = self.alloc_job(alloc) else {
                continue;
            };
            let node = self.node(&alloc.node_id);
            let (Some(group), services) = Self::nomad_services(job, alloc) else {
                continue;
            };
            for service in services {
                let owner = match service.task {
                    None => format!("group-{}", alloc.task_group),
                    Some(task) => {
                        let name = jobspec::str_of(task, "Name");
                        if alloc.tasks.get(name).is_none_or(|t| t.state != "running") {
                            continue;
                        }
                        name.to_string()
                    }
                };
                let name = interpolate(
                    jobspec::str_of(service.spec, "Name"),
                    job,
                    alloc,
                    service.task,
                );
                let label = jobspec::str_of(service.spec, "PortLabel");
                let custom = jobspec::str_of(service.spec, "Address");
                out.push(Registration {
                    id: format!("_nomad-task-{}-{owner}-{name}-{label}", alloc.id),
                    service_name: name,
                    namespace: alloc.namespace.clone(),
                    node_id: alloc.node_id.clone(),
                    datacenter: node.map(|n| n.datacenter.clone()).unwrap_or_default(),
                    job_id: alloc.job_id.clone(),
                    alloc_id: alloc.id.clone(),
                    tags: strings(&service.spec["Tags"]),
                    address: if custom.is_empty() {
                        node.map(|n| n.address.clone()).unwrap_or_default()
                    } else {
                        custom.to_string()
                    },
                    port: port(group, alloc, label),
                    create_index: alloc.create_index,
                    modify_index: alloc.create_index,
                });
            }
        }
        out.sort_by(|a, b| (&a.namespace, &a.id).cmp(&(&b.namespace, &b.id)));
        out
    }

    /// The latest results of an allocation's Nomad service checks; `None` when the client
    /// keeps none for it (not started yet, stopped, or never had a check), which Nomad
    /// answers as `null`.
    pub fn alloc_checks(&self, alloc_id: &str) -> Option<Vec<CheckResult>> {
        let alloc = self.allocs.get(alloc_id)?;
        if !alloc.holds_resources() {
            return None;
        }
        let job = self.alloc_job(alloc)?;
        let (Some(group), services) = Self::nomad_services(job, alloc) else {
            return None;
        };
        let address = self
            .node(&alloc.node_id)
            .map(|n| n.address.clone())
            .unwrap_or_default();
        let mut results = Vec::new();
        for service in &services {
            let service_name = interpolate(
                jobspec::str_of(service.spec, "Name"),
                job,
                alloc,
                service.task,
            );
            let task_name = jobspec::str_of(service.spec, "TaskName");
            let task_name = match service.task {
                Some(task) if task_name.is_empty() => jobspec::str_of(task, "Name"),
                _ => task_name,
            };
            for check in service.spec["Checks"].as_array().into_iter().flatten() {
                let kind = jobspec::str_of(check, "Type");
                let label = match jobspec::str_of(check, "PortLabel") {
                    "" => jobspec::str_of(service.spec, "PortLabel"),
                    label => label,
                };
                let target = format!("{address}:{}", port(group, alloc, label));
                let failing = self.check_fails(job, group, service.task, alloc);
                let name = match jobspec::str_of(check, "Name") {
                    "" => format!("service: {service_name:?} check"),
                    name => name.to_string(),
                };
                let (status, status_code, output) = if alloc.client_status == "pending" {
                    ("pending", 0, "nomad: waiting to run".to_string())
                } else {
                    outcome(kind, check, &target, failing)
                };
                results.push(CheckResult {
                    id: check_id(&[&alloc.id, &alloc.task_group, task_name, &name, kind, label]),
                    mode: if jobspec::str_of(check, "OnUpdate") == "ignore" {
                        "readiness"
                    } else {
                        "healthiness"
                    },
                    status,
                    status_code,
                    output,
                    timestamp: alloc.modify_time / 1_000_000_000,
                    group: alloc.name.clone(),
                    task: task_name.to_string(),
                    service: service_name.clone(),
                    check: name,
                });
            }
        }
        (!results.is_empty()).then_some(results)
    }

    /// Whether a service's checks fail: its task (or, for a group service, any task of
    /// the group) crashes or is not running, or meta asks for it.
    fn check_fails(&self, job: &Value, group: &Value, task: Option<&Value>, alloc: &Alloc) -> bool {
        let asked = [task.unwrap_or(&Value::Null), group, job]
            .into_iter()
            .any(|level| level["Meta"]["fake_nomad_check"].as_str() == Some("failing"));
        let task_down = |state: Option<&super::TaskState>| {
            state.is_none_or(|t| t.state != "running" || t.behavior == Behavior::Crash)
        };
        let down = match task {
            Some(task) => task_down(alloc.tasks.get(jobspec::str_of(task, "Name"))),
            None => alloc.tasks.values().all(|t| task_down(Some(t))),
        };
        asked || down
    }
}

/// The port a label names: a number as it is, else the group network's reserved or
/// dynamic port of that label (a dynamic port's value is the allocation's own, stable
/// for its life, from the node's dynamic range 20000-32000).
fn port(group: &Value, alloc: &Alloc, label: &str) -> u64 {
    if label.is_empty() {
        return 0;
    }
    if let Ok(number) = label.parse::<u64>() {
        return number;
    }
    for network in group["Networks"].as_array().into_iter().flatten() {
        for port in network["ReservedPorts"].as_array().into_iter().flatten() {
            if jobspec::str_of(port, "Label") == label {
                return port["Value"].as_u64().unwrap_or(0);
            }
        }
        for port in network["DynamicPorts"].as_array().into_iter().flatten() {
            if jobspec::str_of(port, "Label") == label {
                return 20_000 + fnv(&[&alloc.id, label], 0) % 12_000;
            }
        }
    }
    0
}

/// Nomad's answer for one check run.
fn outcome(kind: &str, check: &Value, target: &str, failing: bool) -> (&'static str, u16, String) {
    let refused = format!("dial tcp {target}: connect: connection refused");
    match (kind, failing) {
        ("http", false) => ("success", 200, "nomad: http ok".into()),
        ("http", true) => {
            let protocol = match jobspec::str_of(check, "Protocol") {
                "" => "http",
                p => p,
            };
            let path = jobspec::str_of(check, "Path");
            let url = format!("{protocol}://{target}{path}");
            ("failure", 0, format!("nomad: Get {url:?}: {refused}"))
        }
        (_, false) => ("success", 0, "nomad: tcp ok".into()),
        (_, true) => ("failure", 0, refused),
    }
}

/// The runtime variables a service name may use, as the client interpolates them.
fn interpolate(text: &str, job: &Value, alloc: &Alloc, task: Option<&Value>) -> String {
    let job_name = match jobspec::str_of(job, "Name") {
        "" => alloc.job_id.as_str(),
        name => name,
    };
    let task_name = task.map(|t| jobspec::str_of(t, "Name")).unwrap_or("");
    text.replace("${NOMAD_JOB_NAME}", job_name)
        .replace("${NOMAD_JOB_ID}", &alloc.job_id)
        .replace("${NOMAD_GROUP_NAME}", &alloc.task_group)
        .replace("${NOMAD_TASK_NAME}", task_name)
        .replace("${NOMAD_NAMESPACE}", &alloc.namespace)
        .replace("${NOMAD_ALLOC_ID}", &alloc.id)
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(String::from))
        .collect()
}

/// FNV-1a over the parts (separated), from a seed.
fn fnv(parts: &[&str], seed: u64) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325u64 ^ seed;
    for part in parts {
        for byte in part.bytes().chain(std::iter::once(0)) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

/// A check ID in the shape of Nomad's (32 hex digits), stable for the check's coordinates.
fn check_id(parts: &[&str]) -> String {
    format!("{:016x}{:016x}", fnv(parts, 1), fnv(parts, 2))
}
