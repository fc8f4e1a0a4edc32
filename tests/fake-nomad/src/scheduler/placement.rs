//! Placement: eligible nodes, bin packing on free CPU and memory (with the metrics
//! Nomad reports), and creating the placed allocation.

use std::collections::BTreeMap;
use std::time::Instant;

use serde_json::{Value, json};

use crate::jobspec;
use crate::world::*;

pub(super) struct Placement {
    pub(super) group: String,
    pub(super) index: u64,
    pub(super) canary: bool,
    pub(super) previous: Option<String>,
    /// Replaces `previous`, which the drainer marked to migrate: it stops once this is placed.
    pub(super) migrating: bool,
}

impl World {
    pub(super) fn eligible_nodes(&self, job: &Value) -> (Vec<usize>, u64, BTreeMap<String, u64>) {
        let dcs: Vec<String> = job["Datacenters"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|d| d.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_else(|| vec!["*".into()]);
        let pool = job["NodePool"].as_str().unwrap_or("default");
        let dc_matches = |dc: &str| {
            dcs.iter().any(|pattern| {
                pattern == "*"
                    || pattern == dc
                    || (pattern.ends_with('*') && dc.starts_with(&pattern[..pattern.len() - 1]))
            })
        };
        let mut available: BTreeMap<String, u64> = BTreeMap::new();
        let mut filtered = 0;
        let mut eligible = Vec::new();
        for (i, node) in self.nodes.iter().enumerate() {
            if pool != "all" && pool != node.pool {
                continue;
            }
            let ready =
                node.status == "ready" && node.eligibility == "eligible" && node.drain.is_none();
            if !ready {
                continue;
            }
            if !dc_matches(&node.datacenter) {
                filtered += 1;
                continue;
            }
            *available.entry(node.datacenter.clone()).or_default() += 1;
            eligible.push(i);
        }
        (eligible, filtered, available)
    }

    fn used_on(&self, node_id: &str) -> (u64, u64) {
        self.allocs
            .values()
            .filter(|a| a.node_id == node_id && a.holds_resources())
            .fold((0, 0), |(c, m), a| {
                let (ac, am) = a.ask();
                (c + ac, m + am)
            })
    }

    /// Picks the fullest node the ask fits on, or the metrics of the failure.
    pub(super) fn pick_node(&self, job: &Value, ask: (u64, u64)) -> Result<(usize, Value), Value> {
        let (eligible, filtered, available) = self.eligible_nodes(job);
        let mut exhausted: BTreeMap<&str, u64> = BTreeMap::new();
        let mut best: Option<(usize, u64)> = None;
        let mut scores = serde_json::Map::new();
        for &i in &eligible {
            let node = &self.nodes[i];
            let (used_cpu, used_mem) = self.used_on(&node.id);
            let free_cpu = node.cpu.saturating_sub(used_cpu);
            let free_mem = node.memory.saturating_sub(used_mem);
            if free_cpu < ask.0 {
                *exhausted.entry("cpu").or_default() += 1;
                continue;
            }
            if free_mem < ask.1 {
                *exhausted.entry("memory").or_default() += 1;
                continue;
            }
            let score = 1.0 - (free_mem - ask.1) as f64 / node.memory.max(1) as f64;
            scores.insert(format!("{}.binpack", node.id), json!(score));
            if best.is_none_or(|(_, free)| free_mem < free) {
                best = Some((i, free_mem));
            }
        }
        let exhausted_total: u64 = exhausted.values().sum();
        let metrics = json!({
            "NodesEvaluated": eligible.len(),
            "NodesFiltered": filtered,
            "NodesInPool": self.nodes.len(),
            "NodesAvailable": available,
            "ClassFiltered": null,
            "ConstraintFiltered": if filtered > 0 {
                json!({"${node.datacenter}": filtered})
            } else { Value::Null },
            "NodesExhausted": exhausted_total,
            "ClassExhausted": null,
            "DimensionExhausted": if exhausted.is_empty() { Value::Null } else { json!(exhausted) },
            "QuotaExhausted": null,
            "ResourcesExhausted": null,
            "Scores": if scores.is_empty() { Value::Null } else { Value::Object(scores) },
            "ScoreMetaData": null,
            "AllocationTime": 41_234,
            "CoalescedFailures": 0
        });
        match best {
            Some((i, _)) => Ok((i, metrics)),
            None => Err(metrics),
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn place(
        &mut self,
        eval_id: &str,
        record: &JobRecord,
        group: &Value,
        placement: &Placement,
        node: usize,
        metrics: Value,
        deployment_id: Option<&str>,
    ) -> String {
        let index = self.bump();
        let now = now_ns();
        let job = record.current();
        let group_name = jobspec::str_of(group, "Name");
        let mut tasks = BTreeMap::new();
        for task in group["Tasks"].as_array().into_iter().flatten() {
            let mut received = TaskEvent::new("Received", "Task received by client");
            received.at = now;
            tasks.insert(
                jobspec::str_of(task, "Name").to_string(),
                TaskState {
                    state: "pending".into(),
                    failed: false,
                    restarts: 0,
                    started_at: None,
                    finished_at: None,
                    last_restart: None,
                    events: vec![received],
                    behavior: jobspec::behavior(job, group, task),
                    cpu: task
                        .pointer("/Resources/CPU")
                        .and_then(Value::as_u64)
                        .unwrap_or(100),
                    memory: task
                        .pointer("/Resources/MemoryMB")
                        .and_then(Value::as_u64)
                        .unwrap_or(300),
                    log_bytes: jobspec::log_bytes(job, group, task),
                    log_rate: jobspec::log_rate(job, group, task),
                },
            );
        }
        let node = &self.nodes[node];
        let alloc = Alloc {
            id: new_id(),
            eval_id: eval_id.into(),
            name: format!("{}.{}[{}]", record.id, group_name, placement.index),
            namespace: record.namespace.clone(),
            node_id: node.id.clone(),
            node_name: node.name.clone(),
            job_id: record.id.clone(),
            job_version: record.version(),
            job_type: record.job_type(),
            task_group: group_name.into(),
            desired_status: "run".into(),
            desired_description: String::new(),
            client_status: "pending".into(),
            client_description: "No tasks have started".into(),
            tasks,
            deployment_id: deployment_id.unwrap_or("").into(),
            canary: placement.canary,
            healthy: None,
            health_at: 0,
            manual_health: group.pointer("/Update/HealthCheck").and_then(Value::as_str)
                == Some("manual"),
            migrate: false,
            metrics,
            previous_allocation: placement.previous.clone().unwrap_or_default(),
            next_allocation: String::new(),
            followup_eval: String::new(),
            restart_attempts: group
                .pointer("/RestartPolicy/Attempts")
                .and_then(Value::as_u64)
                .unwrap_or(2),
            create_index: index,
            modify_index: index,
            alloc_modify_index: index,
            create_time: now,
            modify_time: now,
            next_step: Some(Instant::now() + self.step),
        };
        let id = alloc.id.clone();
        let payload = json!({"Allocation": crate::render::alloc_stub(&alloc)});
        self.emit("Allocation", "PlanResult", &id, &record.namespace, payload);
        self.allocs.insert(id.clone(), alloc);
        id
    }
}
