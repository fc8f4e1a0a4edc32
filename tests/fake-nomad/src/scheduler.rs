//! The scheduler and the allocation lifecycle: evaluations reconcile a job's wanted
//! state with its allocations, place new ones on nodes with enough free CPU and memory
//! (bin packing), leave a blocked evaluation with `FailedTGAllocs` metrics when nodes
//! run out, and drive deployments. Writes that Nomad rejects come back as
//! `(status, Nomad's message)`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use serde_json::{Value, json};

use crate::jobspec::{self, Behavior};
use crate::world::*;

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

struct Placement {
    group: String,
    index: u64,
    canary: bool,
    previous: Option<String>,
}

impl World {
    pub fn register(
        &mut self,
        mut job: Value,
        default_namespace: &str,
        enforce_index: Option<u64>,
    ) -> Result<WriteOutcome, Refusal> {
        jobspec::validate(&job, None)?;
        let namespace = match job.get("Namespace").and_then(Value::as_str) {
            Some(ns) if !ns.is_empty() => ns.to_string(),
            _ => default_namespace.to_string(),
        };
        let id = jobspec::str_of(&job, "ID").to_string();
        if !self.namespaces.contains_key(&namespace) {
            return refuse(
                500,
                format!("job {id:?} is in nonexistent namespace {namespace:?}"),
            );
        }
        let key = (namespace.clone(), id.clone());
        if let Some(enforce) = enforce_index {
            // Nomad's RegisterEnforceIndexErrPrefix texts (nomad/job_endpoint.go).
            match (self.jobs.get(&key), enforce) {
                (Some(_), 0) => {
                    return refuse(500, "Enforcing job modify index 0: job already exists");
                }
                (None, i) if i > 0 => {
                    return refuse(
                        500,
                        format!("Enforcing job modify index {i}: job does not exist"),
                    );
                }
                (Some(r), i) if r.job_modify_index != i => {
                    return refuse(
                        500,
                        format!(
                            "Enforcing job modify index {i}: job exists with conflicting job modify index: {}",
                            r.job_modify_index
                        ),
                    );
                }
                _ => {}
            }
        }
        jobspec::canonicalize(&mut job, &namespace);
        let index = self.bump();
        let now = now_ns();
        let record = self.jobs.entry(key.clone()).or_insert_with(|| JobRecord {
            namespace: namespace.clone(),
            id: id.clone(),
            versions: Vec::new(),
            create_index: index,
            modify_index: index,
            job_modify_index: index,
            submit_time: now,
            dispatched: BTreeMap::new(),
            dispatch_count: 0,
            scale_events: BTreeMap::new(),
        });
        let changed = match record.versions.last() {
            None => true,
            Some(current) => {
                jobspec::spec_identity(current) != jobspec::spec_identity(&job)
                    || current["Stop"] != job["Stop"]
            }
        };
        if changed {
            let version = record
                .versions
                .last()
                .map(|v| v["Version"].as_u64().unwrap_or(0) + 1);
            job["Version"] = json!(version.unwrap_or(0));
            job["SubmitTime"] = json!(now);
            job["CreateIndex"] = json!(record.create_index);
            job["JobModifyIndex"] = json!(index);
            job["ModifyIndex"] = json!(index);
            job["Stable"] = json!(false);
            job["Status"] = json!("pending");
            record.versions.push(job);
            // Nomad keeps the last six versions (structs.JobTrackedVersions).
            if record.versions.len() > 6 {
                record.versions.remove(0);
            }
            record.job_modify_index = index;
            record.submit_time = now;
        }
        record.modify_index = index;
        let job_modify_index = record.job_modify_index;
        let payload = json!({"Job": crate::render::job(self, &namespace, &id)});
        self.emit("Job", "JobRegistered", &id, &namespace, payload);
        let eval_id = self.evaluate(&namespace, &id, "job-register", None);
        let eval_create_index = self.evals[&eval_id].create_index;
        Ok(WriteOutcome {
            eval_id,
            eval_create_index,
            job_modify_index,
            index: self.index,
            warnings: String::new(),
        })
    }

    pub fn deregister(
        &mut self,
        namespace: &str,
        id: &str,
        purge: bool,
    ) -> Result<WriteOutcome, Refusal> {
        let key = (namespace.to_string(), id.to_string());
        let Some(record) = self.jobs.get(&key) else {
            return refuse(404, "job not found");
        };
        let mut job = record.current().clone();
        let payload = json!({"Job": crate::render::job(self, namespace, id)});
        if purge {
            self.bump();
            self.jobs.remove(&key);
            self.emit("Job", "JobDeregistered", id, namespace, payload);
        } else if !record.stopped() {
            job["Stop"] = json!(true);
            self.register(job, namespace, None)?;
            self.emit("Job", "JobDeregistered", id, namespace, payload);
        }
        let eval_id = self.evaluate(namespace, id, "job-deregister", None);
        let eval = &self.evals[&eval_id];
        Ok(WriteOutcome {
            eval_id: eval_id.clone(),
            eval_create_index: eval.create_index,
            job_modify_index: eval.job_modify_index,
            index: self.index,
            warnings: String::new(),
        })
    }

    pub fn scale(
        &mut self,
        namespace: &str,
        id: &str,
        group: &str,
        count: Option<i64>,
        message: &str,
    ) -> Result<WriteOutcome, Refusal> {
        let Some(record) = self.job(namespace, id) else {
            return refuse(404, "job not found");
        };
        let mut job = record.current().clone();
        let Some(tg) = job["TaskGroups"]
            .as_array_mut()
            .and_then(|g| g.iter_mut().find(|g| g["Name"] == group))
        else {
            return refuse(
                400,
                format!("task group {group:?} specified for scaling does not exist in job"),
            );
        };
        let previous = tg["Count"].as_i64().unwrap_or(0);
        let Some(count) = count else {
            return refuse(400, "must specify count when scaling");
        };
        if count < 0 {
            return refuse(400, "scaling action count can't be negative");
        }
        tg["Count"] = json!(count);
        let outcome = self.register(job, namespace, None)?;
        let index = self.index;
        let record = self
            .jobs
            .get_mut(&(namespace.to_string(), id.to_string()))
            .expect("just registered");
        record
            .scale_events
            .entry(group.to_string())
            .or_default()
            .insert(
                0,
                json!({
                    "Count": count, "PreviousCount": previous, "Message": message,
                    "Error": false, "Meta": null, "EvalID": outcome.eval_id,
                    "Time": now_ns(), "CreateIndex": index
                }),
            );
        Ok(outcome)
    }

    pub fn dispatch(
        &mut self,
        namespace: &str,
        id: &str,
        payload: Option<String>,
        meta: BTreeMap<String, String>,
        idempotency_token: Option<String>,
    ) -> Result<(String, WriteOutcome), Refusal> {
        let Some(record) = self.job(namespace, id) else {
            return refuse(404, "job not found");
        };
        let parent = record.current().clone();
        if !parent["ParameterizedJob"].is_object() {
            return refuse(
                400,
                format!("Specified job {id:?} is not a parameterized job"),
            );
        }
        if let Some(token) = &idempotency_token
            && let Some(child) = record.dispatched.get(token)
        {
            // Nomad answers a repeated token with the existing child and no new evaluation.
            return Ok((
                child.clone(),
                WriteOutcome {
                    eval_id: String::new(),
                    eval_create_index: 0,
                    job_modify_index: record.job_modify_index,
                    index: self.index,
                    warnings: String::new(),
                },
            ));
        }
        let spec = &parent["ParameterizedJob"];
        for required in spec["MetaRequired"].as_array().into_iter().flatten() {
            let name = required.as_str().unwrap_or("");
            if !meta.contains_key(name) {
                return refuse(
                    400,
                    format!("Dispatch did not provide required meta keys: [{name}]"),
                );
            }
        }
        if spec["Payload"] == "required" && payload.is_none() {
            return refuse(
                400,
                "Payload is not provided but required by parameterized job",
            );
        }
        if spec["Payload"] == "forbidden" && payload.is_some() {
            return refuse(400, "Payload provided but forbidden by parameterized job");
        }
        let n = record.dispatch_count + 1;
        let child_id = format!(
            "{id}/dispatch-{}-{}",
            now_ns() / 1_000_000_000,
            &new_id()[..8]
        );
        let mut child = parent.clone();
        child["ID"] = json!(child_id);
        child["Name"] = json!(child_id);
        child["ParentID"] = json!(id);
        child["Dispatched"] = json!(true);
        child["Payload"] = payload.map(Value::String).unwrap_or(Value::Null);
        let mut child_meta = jobspec::object(&parent["Meta"]);
        for (k, v) in meta {
            child_meta.insert(k, json!(v));
        }
        child["Meta"] = Value::Object(child_meta);
        if let Some(token) = &idempotency_token {
            child["DispatchIdempotencyToken"] = json!(token);
        }
        let outcome = self.register(child, namespace, None)?;
        let record = self
            .jobs
            .get_mut(&(namespace.to_string(), id.to_string()))
            .expect("checked above");
        record.dispatch_count = n;
        if let Some(token) = idempotency_token {
            record.dispatched.insert(token, child_id.clone());
        }
        Ok((child_id, outcome))
    }

    pub fn revert(
        &mut self,
        namespace: &str,
        id: &str,
        version: u64,
        enforce_prior: Option<u64>,
    ) -> Result<WriteOutcome, Refusal> {
        let Some(record) = self.job(namespace, id) else {
            return refuse(404, "job not found");
        };
        let current = record.version();
        if let Some(prior) = enforce_prior
            && prior != current
        {
            return refuse(
                500,
                format!("Current job has version {current}; enforcing version {prior}"),
            );
        }
        if version == current {
            return refuse(500, format!("can't revert to current version {version}"));
        }
        let Some(target) = record
            .versions
            .iter()
            .find(|v| v["Version"].as_u64() == Some(version))
        else {
            return refuse(
                500,
                format!("job {id:?} in namespace {namespace:?} at version {version} not found"),
            );
        };
        let mut job = target.clone();
        job["Stop"] = record.current()["Stop"].clone();
        self.register(job, namespace, None)
    }

    pub fn force_evaluate(&mut self, namespace: &str, id: &str) -> Result<WriteOutcome, Refusal> {
        let Some(record) = self.job(namespace, id) else {
            return refuse(404, "job not found");
        };
        if record.current()["Periodic"].is_object()
            || record.current()["ParameterizedJob"].is_object()
        {
            return refuse(400, "can't evaluate periodic or parameterized job");
        }
        let eval_id = self.evaluate(namespace, id, "job-register", None);
        let eval = &self.evals[&eval_id];
        Ok(WriteOutcome {
            eval_id: eval_id.clone(),
            eval_create_index: eval.create_index,
            job_modify_index: eval.job_modify_index,
            index: self.index,
            warnings: String::new(),
        })
    }

    /// Creates an evaluation for the job and processes it at once.
    pub fn evaluate(
        &mut self,
        namespace: &str,
        job_id: &str,
        triggered_by: &str,
        node_id: Option<&str>,
    ) -> String {
        let index = self.bump();
        let now = now_ns();
        let (priority, kind, job_modify_index) = match self.job(namespace, job_id) {
            Some(r) => (
                r.current()["Priority"].as_u64().unwrap_or(50),
                r.job_type(),
                r.job_modify_index,
            ),
            None => (50, "service".to_string(), 0),
        };
        let eval = Eval {
            id: new_id(),
            namespace: namespace.into(),
            job_id: job_id.into(),
            priority,
            kind,
            triggered_by: triggered_by.into(),
            job_modify_index,
            node_id: node_id.unwrap_or("").into(),
            node_modify_index: 0,
            deployment_id: String::new(),
            status: "pending".into(),
            status_description: String::new(),
            previous_eval: String::new(),
            next_eval: String::new(),
            blocked_eval: String::new(),
            failed: BTreeMap::new(),
            queued: BTreeMap::new(),
            class_eligibility: None,
            snapshot_index: index,
            create_index: index,
            modify_index: index,
            create_time: now,
            modify_time: now,
        };
        let id = eval.id.clone();
        self.evals.insert(id.clone(), eval);
        self.process(&id);
        id
    }

    fn eligible_nodes(&self, job: &Value) -> (Vec<usize>, u64, BTreeMap<String, u64>) {
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
            if pool != "all" && pool != "default" {
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
    fn pick_node(&self, job: &Value, ask: (u64, u64)) -> Result<(usize, Value), Value> {
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

    /// Reconciles one job against its allocations (the work of a scheduler worker).
    fn process(&mut self, eval_id: &str) {
        let eval = self.evals[eval_id].clone();
        let (ns, job_id) = (eval.namespace.clone(), eval.job_id.clone());
        let record = self.job(&ns, &job_id).cloned();
        let Some(record) = record else {
            // Purged: everything of the job stops.
            let ids: Vec<String> = self
                .job_allocs(&ns, &job_id)
                .iter()
                .filter(|a| a.desired_status == "run")
                .map(|a| a.id.clone())
                .collect();
            for id in ids {
                self.stop_alloc(&id, "alloc not needed since job was stopped");
            }
            self.complete_eval(eval_id, BTreeMap::new(), BTreeMap::new());
            return;
        };
        let job = record.current().clone();
        let version = record.version();
        let stopped = record.stopped();
        let job_type = record.job_type();
        let parameterized =
            job["ParameterizedJob"].is_object() && !job["Dispatched"].as_bool().unwrap_or(false);

        // Old blocked evaluations of this job are superseded by this one.
        let superseded: Vec<String> = self
            .evals
            .values()
            .filter(|e| {
                e.namespace == ns && e.job_id == job_id && e.status == "blocked" && e.id != eval_id
            })
            .map(|e| e.id.clone())
            .collect();
        for id in superseded {
            let index = self.bump();
            if let Some(e) = self.evals.get_mut(&id) {
                e.status = "cancelled".into();
                e.status_description = "evaluation superseded by a newer one".into();
                e.modify_index = index;
                e.modify_time = now_ns();
            }
        }

        let active_deployment = self
            .deployments
            .values()
            .find(|d| d.namespace == ns && d.job_id == job_id && d.active())
            .cloned();
        let mut placements: Vec<Placement> = Vec::new();
        let mut stops: Vec<(String, &'static str)> = Vec::new();
        let mut inplace: Vec<String> = Vec::new();
        let mut canary_groups: BTreeMap<String, u64> = BTreeMap::new();

        for group in jobspec::groups(&job) {
            let name = jobspec::str_of(group, "Name").to_string();
            let mut wanted = if stopped || parameterized {
                0
            } else {
                group["Count"].as_u64().unwrap_or(1)
            };
            if job_type == "system" || job_type == "sysbatch" {
                wanted = if stopped {
                    0
                } else {
                    self.eligible_nodes(&job).0.len() as u64
                };
            }
            let identity = jobspec::group_identity(group);
            let allocs: Vec<Alloc> = self
                .job_allocs(&ns, &job_id)
                .into_iter()
                .filter(|a| a.task_group == name)
                .cloned()
                .collect();
            let live: Vec<&Alloc> = allocs
                .iter()
                .filter(|a| {
                    a.desired_status == "run"
                        && matches!(a.client_status.as_str(), "pending" | "running")
                })
                .collect();
            // A finished batch allocation is done, not missing.
            let done = if job_type == "batch" || job_type == "sysbatch" {
                allocs
                    .iter()
                    .filter(|a| {
                        a.desired_status == "run"
                            && a.client_status == "complete"
                            && a.job_version == version
                    })
                    .count() as u64
            } else {
                0
            };
            let mut current = Vec::new();
            let mut outdated = Vec::new();
            for alloc in live {
                if alloc.job_version == version {
                    current.push(alloc);
                    continue;
                }
                let old_group = record
                    .versions
                    .iter()
                    .find(|v| v["Version"].as_u64() == Some(alloc.job_version))
                    .and_then(|v| {
                        jobspec::groups(v)
                            .into_iter()
                            .find(|g| g["Name"] == name.as_str())
                    })
                    .map(jobspec::group_identity);
                if old_group.as_ref() == Some(&identity) {
                    inplace.push(alloc.id.clone());
                    current.push(alloc);
                } else {
                    outdated.push(alloc);
                }
            }
            let canaries = group
                .pointer("/Update/Canary")
                .and_then(Value::as_u64)
                .unwrap_or(0);
            let promoted = active_deployment
                .as_ref()
                .filter(|d| d.job_version == version)
                .and_then(|d| d.groups.get(&name))
                .map(|g| g.promoted)
                .unwrap_or(false);
            if canaries > 0 && !outdated.is_empty() && !promoted && !stopped {
                // Canaries first; the old allocations keep serving until promotion.
                let placed_canaries = current.iter().filter(|a| a.canary).count() as u64;
                let used: BTreeSet<u64> = allocs
                    .iter()
                    .filter(|a| !a.terminal())
                    .map(|a| alloc_index(&a.name))
                    .collect();
                let mut next = 0;
                for _ in placed_canaries..canaries {
                    while used.contains(&next)
                        || placements
                            .iter()
                            .any(|p| p.group == name && p.index == next)
                    {
                        next += 1;
                    }
                    placements.push(Placement {
                        group: name.clone(),
                        index: next,
                        canary: true,
                        previous: None,
                    });
                    next += 1;
                }
                canary_groups.insert(name.clone(), canaries);
                continue;
            }
            for alloc in &outdated {
                stops.push((alloc.id.clone(), "alloc is being updated due to job update"));
            }
            let mut keep: Vec<&Alloc> = current;
            keep.sort_by_key(|a| alloc_index(&a.name));
            let have = keep.len() as u64 + done;
            if have > wanted {
                let excess = (have - wanted) as usize;
                for alloc in keep.iter().rev().take(excess) {
                    let why = if stopped {
                        "alloc not needed since job was stopped"
                    } else {
                        "alloc not needed due to job update"
                    };
                    stops.push((alloc.id.clone(), why));
                }
            } else {
                let used: BTreeSet<u64> = keep.iter().map(|a| alloc_index(&a.name)).collect();
                let mut replaced = outdated.iter().map(|a| a.id.clone());
                let mut next = 0;
                for _ in have..wanted {
                    while used.contains(&next) {
                        next += 1;
                    }
                    placements.push(Placement {
                        group: name.clone(),
                        index: next,
                        canary: false,
                        previous: replaced.next(),
                    });
                    next += 1;
                }
            }
        }

        for (id, why) in &stops {
            self.stop_alloc(id, why);
        }
        for id in &inplace {
            let index = self.bump();
            if let Some(a) = self.allocs.get_mut(id) {
                a.job_version = version;
                a.alloc_modify_index = index;
                a.modify_index = index;
            }
        }

        // A deployment for a service job whose new version places allocations.
        let mut deployment_id = active_deployment
            .as_ref()
            .filter(|d| d.job_version == version)
            .map(|d| d.id.clone());
        let needs_deployment =
            job_type == "service" && !stopped && !placements.is_empty() && deployment_id.is_none();
        if needs_deployment {
            deployment_id = Some(self.start_deployment(&record, &canary_groups));
            // Allocations updated in place (a count change) belong to the new deployment
            // and keep the health they had, as Nomad's reconciler carries it over.
            let d = deployment_id.clone().expect("just started");
            for id in &inplace {
                let Some(alloc) = self.allocs.get_mut(id) else {
                    continue;
                };
                alloc.deployment_id = d.clone();
                if alloc.client_status == "running" && alloc.healthy.is_none() {
                    alloc.healthy = Some(true);
                }
                let group = alloc.task_group.clone();
                if let Some(g) = self
                    .deployments
                    .get_mut(&d)
                    .and_then(|dep| dep.groups.get_mut(&group))
                {
                    g.placed += 1;
                }
            }
        }

        let mut failed: BTreeMap<String, Value> = BTreeMap::new();
        let mut queued: BTreeMap<String, u64> = BTreeMap::new();
        for group in jobspec::groups(&job) {
            queued.insert(jobspec::str_of(group, "Name").to_string(), 0);
        }
        for placement in placements {
            let group = jobspec::groups(&job)
                .into_iter()
                .find(|g| g["Name"] == placement.group.as_str())
                .cloned()
                .unwrap_or(Value::Null);
            let ask = jobspec::group_ask(&group);
            match self.pick_node(&job, ask) {
                Ok((node, metrics)) => {
                    let alloc_id = self.place(
                        eval_id,
                        &record,
                        &group,
                        &placement,
                        node,
                        metrics,
                        deployment_id.as_deref(),
                    );
                    if let Some(previous) = &placement.previous
                        && let Some(old) = self.allocs.get_mut(previous)
                    {
                        old.next_allocation = alloc_id.clone();
                    }
                    if let Some(d) = deployment_id
                        .as_ref()
                        .and_then(|d| self.deployments.get_mut(d))
                        && let Some(g) = d.groups.get_mut(&placement.group)
                    {
                        g.placed += 1;
                        if placement.canary {
                            g.placed_canaries.push(alloc_id.clone());
                        }
                    }
                }
                Err(metrics) => {
                    *queued.entry(placement.group.clone()).or_default() += 1;
                    failed
                        .entry(placement.group.clone())
                        .and_modify(|m| {
                            m["CoalescedFailures"] =
                                json!(m["CoalescedFailures"].as_u64().unwrap_or(0) + 1)
                        })
                        .or_insert(metrics);
                }
            }
        }
        if let Some(d) = deployment_id {
            self.update_deployment(&d);
        }
        self.complete_eval(eval_id, failed, queued);
        self.refresh_job_status(&ns, &job_id);
    }

    fn complete_eval(
        &mut self,
        eval_id: &str,
        failed: BTreeMap<String, Value>,
        queued: BTreeMap<String, u64>,
    ) {
        let index = self.bump();
        let now = now_ns();
        let mut blocked = None;
        if !failed.is_empty() {
            let mut b = self.evals[eval_id].clone();
            b.id = new_id();
            b.status = "blocked".into();
            b.status_description = "created to place remaining allocations".into();
            b.triggered_by = "queued-allocs".into();
            b.previous_eval = eval_id.into();
            b.failed = failed.clone();
            b.queued = queued.clone();
            b.class_eligibility = Some(json!({}));
            b.create_index = index;
            b.modify_index = index;
            b.snapshot_index = index;
            b.create_time = now;
            b.modify_time = now;
            blocked = Some(b.id.clone());
            self.evals.insert(b.id.clone(), b.clone());
            let payload = json!({"Evaluation": crate::render::eval(&b)});
            self.emit(
                "Evaluation",
                "EvaluationUpdated",
                &b.id,
                &b.namespace,
                payload,
            );
        }
        let eval = self.evals.get_mut(eval_id).expect("evaluation exists");
        eval.status = "complete".into();
        eval.failed = failed;
        eval.queued = queued;
        eval.blocked_eval = blocked.unwrap_or_default();
        eval.modify_index = index;
        eval.modify_time = now;
        let payload = json!({"Evaluation": crate::render::eval(eval)});
        let (key, ns) = (eval.id.clone(), eval.namespace.clone());
        self.emit("Evaluation", "EvaluationUpdated", &key, &ns, payload);
    }

    #[allow(clippy::too_many_arguments)]
    fn place(
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

    fn start_deployment(&mut self, record: &JobRecord, canaries: &BTreeMap<String, u64>) -> String {
        let index = self.bump();
        let job = record.current();
        // A newer version cancels the deployment of an older one.
        let older: Vec<String> = self
            .deployments
            .values()
            .filter(|d| d.namespace == record.namespace && d.job_id == record.id && d.active())
            .map(|d| d.id.clone())
            .collect();
        for id in older {
            if let Some(d) = self.deployments.get_mut(&id) {
                d.status = "cancelled".into();
                d.status_description = "Cancelled due to newer version of job".into();
                d.modify_index = index;
            }
        }
        let mut groups = BTreeMap::new();
        for group in jobspec::groups(job) {
            let name = jobspec::str_of(group, "Name").to_string();
            let update = &group["Update"];
            let deadline = update["ProgressDeadline"]
                .as_i64()
                .unwrap_or(600_000_000_000);
            groups.insert(
                name.clone(),
                DeploymentGroup {
                    auto_revert: update["AutoRevert"].as_bool().unwrap_or(false),
                    auto_promote: update["AutoPromote"].as_bool().unwrap_or(false),
                    promoted: false,
                    placed_canaries: Vec::new(),
                    desired_canaries: canaries.get(&name).copied().unwrap_or(0),
                    desired_total: group["Count"].as_u64().unwrap_or(1),
                    placed: 0,
                    healthy: 0,
                    unhealthy: 0,
                    progress_deadline: deadline,
                    require_progress_by: now_ns() + deadline,
                },
            );
        }
        let deployment = Deployment {
            id: new_id(),
            namespace: record.namespace.clone(),
            job_id: record.id.clone(),
            job_version: record.version(),
            job_modify_index: record.job_modify_index,
            job_spec_modify_index: record.job_modify_index,
            job_create_index: record.create_index,
            groups,
            status: "running".into(),
            status_description: "Deployment is running".into(),
            create_index: index,
            modify_index: index,
        };
        let id = deployment.id.clone();
        let payload = json!({"Deployment": crate::render::deployment(&deployment)});
        self.emit(
            "Deployment",
            "DeploymentStatusUpdate",
            &id,
            &record.namespace,
            payload,
        );
        self.deployments.insert(id.clone(), deployment);
        id
    }

    /// Recounts a deployment's allocations and moves its status.
    pub fn update_deployment(&mut self, id: &str) {
        let Some(d) = self.deployments.get(id).cloned() else {
            return;
        };
        if !d.active() {
            return;
        }
        let mut d2 = d.clone();
        for (name, group) in d2.groups.iter_mut() {
            let allocs: Vec<&Alloc> = self
                .allocs
                .values()
                .filter(|a| a.deployment_id == id && &a.task_group == name)
                .collect();
            group.healthy = allocs.iter().filter(|a| a.healthy == Some(true)).count() as u64;
            group.unhealthy = allocs.iter().filter(|a| a.healthy == Some(false)).count() as u64;
        }
        let unhealthy = d2.groups.values().any(|g| g.unhealthy > 0);
        let awaiting_promotion = d2
            .groups
            .values()
            .any(|g| g.desired_canaries > 0 && !g.promoted);
        let canaries_healthy = d2
            .groups
            .values()
            .all(|g| g.desired_canaries == 0 || g.promoted || g.healthy >= g.desired_canaries);
        let done = d2
            .groups
            .values()
            .all(|g| (g.desired_canaries == 0 || g.promoted) && g.healthy >= g.desired_total);
        let auto_revert = d2.groups.values().any(|g| g.auto_revert);
        let mut promote_now = false;
        if unhealthy {
            d2.status = "failed".into();
            d2.status_description = if auto_revert {
                "Failed due to unhealthy allocations - rolling back to job version".into()
            } else {
                "Failed due to unhealthy allocations".into()
            };
        } else if done {
            d2.status = "successful".into();
            d2.status_description = "Deployment completed successfully".into();
        } else if awaiting_promotion && canaries_healthy {
            if d2
                .groups
                .values()
                .all(|g| g.desired_canaries == 0 || g.auto_promote)
            {
                promote_now = true;
            } else {
                d2.status_description =
                    "Deployment is running but requires manual promotion".into();
            }
        }
        let changed = d2.status != d.status
            || d2.status_description != d.status_description
            || d2.groups.values().zip(d.groups.values()).any(|(a, b)| {
                a.healthy != b.healthy || a.unhealthy != b.unhealthy || a.placed != b.placed
            });
        if changed {
            let index = self.bump();
            d2.modify_index = index;
            if d2.status == "successful" {
                // The version that deployed cleanly is stable.
                if let Some(r) = self
                    .jobs
                    .get_mut(&(d2.namespace.clone(), d2.job_id.clone()))
                    && let Some(v) = r
                        .versions
                        .iter_mut()
                        .find(|v| v["Version"].as_u64() == Some(d2.job_version))
                {
                    v["Stable"] = json!(true);
                }
            }
            let payload = json!({"Deployment": crate::render::deployment(&d2)});
            let (ns, status) = (d2.namespace.clone(), d2.status.clone());
            self.deployments.insert(id.to_string(), d2.clone());
            self.emit("Deployment", "DeploymentStatusUpdate", id, &ns, payload);
            if status == "failed" && auto_revert {
                self.auto_revert(&d2);
            }
        }
        if promote_now {
            let _ = self.promote(id, &[]);
        }
    }

    fn auto_revert(&mut self, d: &Deployment) {
        let Some(record) = self.job(&d.namespace, &d.job_id) else {
            return;
        };
        let stable = record
            .versions
            .iter()
            .rev()
            .find(|v| {
                v["Stable"].as_bool() == Some(true) && v["Version"].as_u64() != Some(d.job_version)
            })
            .and_then(|v| v["Version"].as_u64());
        if let Some(version) = stable {
            let _ = self.revert(&d.namespace.clone(), &d.job_id.clone(), version, None);
        }
    }

    pub fn promote(&mut self, id: &str, groups: &[String]) -> Result<String, Refusal> {
        let Some(d) = self.deployments.get_mut(id) else {
            return refuse(404, "deployment not found");
        };
        if !d.active() {
            return refuse(
                500,
                format!("can't promote terminal deployment: status {:?}", d.status),
            );
        }
        if d.groups.values().all(|g| g.desired_canaries == 0) {
            return refuse(500, "no canaries to promote");
        }
        for (name, g) in d.groups.iter_mut() {
            if groups.is_empty() || groups.contains(name) {
                g.promoted = true;
            }
        }
        d.status_description = "Deployment is running".into();
        let (ns, job) = (d.namespace.clone(), d.job_id.clone());
        let index = self.bump();
        if let Some(d) = self.deployments.get_mut(id) {
            d.modify_index = index;
        }
        // Promoted canaries become regular allocations.
        for alloc in self.allocs.values_mut().filter(|a| a.deployment_id == id) {
            alloc.canary = false;
        }
        Ok(self.evaluate(&ns, &job, "deployment-watcher", None))
    }

    pub fn fail_deployment(&mut self, id: &str) -> Result<String, Refusal> {
        let Some(d) = self.deployments.get_mut(id) else {
            return refuse(404, "deployment not found");
        };
        if !d.active() {
            return refuse(
                500,
                format!("can't fail terminal deployment: status {:?}", d.status),
            );
        }
        d.status = "failed".into();
        d.status_description = "Deployment marked as failed".into();
        let d = d.clone();
        let index = self.bump();
        if let Some(dm) = self.deployments.get_mut(id) {
            dm.modify_index = index;
        }
        let payload = json!({"Deployment": crate::render::deployment(&d)});
        self.emit(
            "Deployment",
            "DeploymentStatusUpdate",
            id,
            &d.namespace,
            payload,
        );
        if d.groups.values().any(|g| g.auto_revert) {
            self.auto_revert(&d);
        }
        Ok(self.evaluate(&d.namespace, &d.job_id, "deployment-watcher", None))
    }

    /// Re-evaluates blocked jobs when some node could now take their allocations.
    pub fn retry_blocked(&mut self) {
        type Blocked = (String, String, Vec<(u64, u64)>);
        let blocked: Vec<Blocked> = self
            .evals
            .values()
            .filter(|e| e.status == "blocked")
            .filter_map(|e| {
                let record = self.job(&e.namespace, &e.job_id)?;
                let asks = jobspec::groups(record.current())
                    .into_iter()
                    .filter(|g| e.failed.contains_key(jobspec::str_of(g, "Name")))
                    .map(jobspec::group_ask)
                    .collect();
                Some((e.namespace.clone(), e.job_id.clone(), asks))
            })
            .collect();
        for (ns, job_id, asks) in blocked {
            let Some(job) = self.job(&ns, &job_id).map(|r| r.current().clone()) else {
                continue;
            };
            if asks.iter().any(|ask| self.pick_node(&job, *ask).is_ok()) {
                self.evaluate(&ns, &job_id, "queued-allocs", None);
            }
        }
    }

    pub fn stop_allocation(&mut self, alloc_id: &str) -> Result<String, Refusal> {
        let Some(alloc) = self.allocs.get(alloc_id) else {
            return refuse(404, "alloc not found");
        };
        let (ns, job) = (alloc.namespace.clone(), alloc.job_id.clone());
        self.stop_alloc(alloc_id, "alloc was stopped by the user");
        let eval = self.evaluate(&ns, &job, "alloc-stop", None);
        self.retry_blocked();
        Ok(eval)
    }

    pub fn restart_allocation(
        &mut self,
        alloc_id: &str,
        task: Option<&str>,
    ) -> Result<(), Refusal> {
        let index = self.bump();
        let Some(alloc) = self.allocs.get_mut(alloc_id) else {
            return refuse(404, "Unknown allocation");
        };
        if alloc.client_status != "running" {
            return refuse(500, "Task not running");
        }
        if let Some(task) = task
            && !alloc.tasks.contains_key(task)
        {
            return refuse(
                500,
                format!("Failed to restart task {task:?}: Task not running"),
            );
        }
        let now = now_ns();
        for (name, state) in alloc.tasks.iter_mut() {
            if task.is_some_and(|t| t != name) || state.state != "running" {
                continue;
            }
            let mut signaled = TaskEvent::new("Restart Signaled", "User requested restart");
            signaled.restart_reason = "User requested restart".into();
            state.events.push(signaled);
            state
                .events
                .push(TaskEvent::new("Terminated", "Exit Code: 0"));
            state
                .events
                .push(TaskEvent::new("Restarting", "Task restarting in 0s"));
            state
                .events
                .push(TaskEvent::new("Started", "Task started by client"));
            state.restarts += 1;
            state.last_restart = Some(now);
            state.started_at = Some(now);
        }
        alloc.modify_index = index;
        alloc.modify_time = now;
        let payload = json!({"Allocation": crate::render::alloc_stub(alloc)});
        let ns = alloc.namespace.clone();
        self.emit("Allocation", "AllocationUpdated", alloc_id, &ns, payload);
        Ok(())
    }

    pub fn drain_node(
        &mut self,
        node_id: &str,
        spec: Option<(i64, bool)>,
        mark_eligible: bool,
    ) -> Result<Vec<String>, Refusal> {
        let Some(node) = self.node_mut(node_id) else {
            return refuse(404, "node not found");
        };
        let now = now_ns();
        let Some((deadline, ignore_system)) = spec else {
            // Cancel a drain.
            node.drain = None;
            if mark_eligible {
                node.eligibility = "eligible".into();
            }
            if let Some(last) = node.last_drain.as_mut() {
                last.2 = "canceled".into();
                last.1 = now;
            }
            self.node_event(node_id, "NodeDrain", "Node drain strategy cleared");
            self.retry_blocked();
            return Ok(Vec::new());
        };
        node.drain = Some(Drain {
            deadline_ns: deadline,
            ignore_system,
            started_at: now,
            force_deadline: if deadline > 0 { now + deadline } else { 0 },
        });
        node.eligibility = "ineligible".into();
        node.last_drain = Some((now, now, "draining".into()));
        self.node_event(node_id, "NodeDrain", "Node drain strategy set");
        // Migrate everything off the node (the drainer's job, here done at once).
        let moving: Vec<(String, String, String)> = self
            .allocs
            .values()
            .filter(|a| a.node_id == node_id && a.holds_resources())
            .filter(|a| !(ignore_system && a.job_type == "system"))
            .map(|a| (a.id.clone(), a.namespace.clone(), a.job_id.clone()))
            .collect();
        let mut evals = Vec::new();
        for (id, _, _) in &moving {
            self.stop_alloc(id, "alloc is being migrated");
        }
        let jobs: BTreeSet<(String, String)> =
            moving.into_iter().map(|(_, ns, j)| (ns, j)).collect();
        for (ns, job) in jobs {
            evals.push(self.evaluate(&ns, &job, "node-drain", Some(node_id)));
        }
        if let Some(node) = self.node_mut(node_id) {
            node.drain = None;
            node.last_drain = Some((now, now_ns(), "complete".into()));
        }
        self.node_event(node_id, "NodeDrain", "Node drain complete");
        Ok(evals)
    }

    pub fn set_eligibility(&mut self, node_id: &str, eligible: bool) -> Result<(), Refusal> {
        let Some(node) = self.node_mut(node_id) else {
            return refuse(404, "node not found");
        };
        if eligible && node.drain.is_some() {
            return refuse(
                400,
                "can not set node's scheduling eligibility to eligible while it is draining",
            );
        }
        node.eligibility = if eligible { "eligible" } else { "ineligible" }.into();
        let message = if eligible {
            "Node marked as eligible for scheduling"
        } else {
            "Node marked as ineligible for scheduling"
        };
        self.node_event(node_id, "NodeEligibility", message);
        if eligible {
            self.retry_blocked();
        }
        Ok(())
    }

    /// One lifecycle step for everything that is due.
    pub fn tick(&mut self, now: Instant) {
        let due: Vec<String> = self
            .allocs
            .values()
            .filter(|a| a.next_step.is_some_and(|t| t <= now))
            .map(|a| a.id.clone())
            .collect();
        let mut freed = false;
        let mut deployments = BTreeSet::new();
        let mut jobs = BTreeSet::new();
        for id in due {
            let step = self.step;
            let index = self.bump();
            let Some(alloc) = self.allocs.get_mut(&id) else {
                continue;
            };
            let outcome = advance(alloc, now, step);
            alloc.modify_index = index;
            alloc.modify_time = now_ns();
            if outcome == Advance::Ended {
                freed = true;
            }
            if !alloc.deployment_id.is_empty() {
                deployments.insert(alloc.deployment_id.clone());
            }
            jobs.insert((alloc.namespace.clone(), alloc.job_id.clone()));
            let payload = json!({"Allocation": crate::render::alloc_stub(alloc)});
            let ns = alloc.namespace.clone();
            self.emit("Allocation", "AllocationUpdated", &id, &ns, payload);
        }
        for d in deployments {
            self.update_deployment(&d);
        }
        for (ns, job) in jobs {
            self.refresh_job_status(&ns, &job);
        }
        if freed {
            self.retry_blocked();
        }
    }
}

fn alloc_index(name: &str) -> u64 {
    name.rsplit('[')
        .next()
        .and_then(|s| s.trim_end_matches(']').parse().ok())
        .unwrap_or(0)
}

#[derive(PartialEq, Eq)]
enum Advance {
    Moved,
    Ended,
}

/// Moves one allocation one step: start, become healthy, crash and restart, finish.
fn advance(alloc: &mut Alloc, now: Instant, step: std::time::Duration) -> Advance {
    let ts = now_ns();
    let batch = alloc.job_type == "batch" || alloc.job_type == "sysbatch";
    let attempts = alloc.restart_attempts;
    let mut all_dead = true;
    let mut any_failed = false;
    let mut any_crash = false;
    for state in alloc.tasks.values_mut() {
        match state.state.as_str() {
            "pending" => {
                if state.restarts == 0 {
                    state
                        .events
                        .push(TaskEvent::new("Task Setup", "Building Task Directory"));
                    state
                        .events
                        .push(TaskEvent::new("Driver", "Downloading image"));
                }
                state
                    .events
                    .push(TaskEvent::new("Started", "Task started by client"));
                state.state = "running".into();
                state.started_at = Some(ts);
                all_dead = false;
            }
            "running" if state.behavior == Behavior::Crash => {
                any_crash = true;
                let mut terminated = TaskEvent::new(
                    "Terminated",
                    "Exit Code: 1, Exit Message: \"Docker container exited with non-zero exit code: 1\"",
                );
                terminated.exit_code = 1;
                terminated.details.insert("exit_code".into(), "1".into());
                state.events.push(terminated);
                if state.restarts < attempts {
                    let mut restarting = TaskEvent::new("Restarting", "Task restarting in 15s");
                    restarting.restart_reason = "Restart within policy".into();
                    restarting
                        .details
                        .insert("restart_reason".into(), "Restart within policy".into());
                    state.events.push(restarting);
                    state.restarts += 1;
                    state.last_restart = Some(ts);
                    state.state = "pending".into();
                    all_dead = false;
                } else {
                    let mut giving_up = TaskEvent::new(
                        "Not Restarting",
                        "Exceeded allowed attempts 2 in interval 30m0s and mode is \"fail\"",
                    );
                    giving_up.display = format!(
                        "Exceeded allowed attempts {attempts} in interval 30m0s and mode is \"fail\""
                    );
                    giving_up.fails_task = true;
                    giving_up.restart_reason = giving_up.display.clone();
                    state.events.push(giving_up);
                    state.state = "dead".into();
                    state.failed = true;
                    state.finished_at = Some(ts);
                    any_failed = true;
                }
            }
            "running" if batch => {
                state
                    .events
                    .push(TaskEvent::new("Terminated", "Exit Code: 0"));
                state.state = "dead".into();
                state.finished_at = Some(ts);
            }
            "running" => {
                all_dead = false;
            }
            _ => {}
        }
        if state.events.len() > 10 {
            // Nomad keeps the last 10 task events (structs.TaskStateEventsMax... is 10).
            let excess = state.events.len() - 10;
            state.events.drain(..excess);
        }
    }
    if any_failed {
        alloc.client_status = "failed".into();
        alloc.client_description = "Failed tasks".into();
        if !alloc.deployment_id.is_empty() && alloc.healthy.is_none() {
            alloc.healthy = Some(false);
        }
        alloc.next_step = None;
        return Advance::Ended;
    }
    if all_dead {
        alloc.client_status = "complete".into();
        alloc.client_description = "All tasks have completed".into();
        alloc.next_step = None;
        return Advance::Ended;
    }
    alloc.client_status = "running".into();
    alloc.client_description = "Tasks are running".into();
    let restarting = alloc.tasks.values().any(|t| t.state == "pending");
    if restarting || any_crash {
        // Health needs two clean steps in a row, as Nomad's min_healthy_time: a task that
        // crashes and restarts starts the count again.
        alloc.health_at = 0;
        alloc.next_step = Some(now + step);
    } else if batch {
        alloc.next_step = Some(now + step * 3);
    } else if !alloc.deployment_id.is_empty() && alloc.healthy.is_none() {
        if alloc.health_at == 0 {
            alloc.health_at = 1;
            alloc.next_step = Some(now + step * 2);
        } else {
            alloc.healthy = Some(true);
            alloc.next_step = None;
        }
    } else {
        alloc.next_step = None;
    }
    let crashing = alloc
        .tasks
        .values()
        .any(|t| t.behavior == Behavior::Crash && t.state == "running");
    if crashing {
        alloc.next_step = Some(now + step);
    }
    Advance::Moved
}
