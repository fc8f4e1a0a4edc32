//! Job writes: register, deregister, scale, dispatch, revert and forced evaluation.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{Refusal, WriteOutcome, refuse};
use crate::jobspec;
use crate::world::*;

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
        jobspec::canonicalize_identities(&mut job);
        let pool = jobspec::str_of(&job, "NodePool").to_string();
        if !self.node_pools.contains_key(&pool) {
            // `nomad/job_endpoint_hook_node_pool.go` validate.
            return refuse(
                500,
                format!("job {id:?} is in nonexistent node pool {pool:?}"),
            );
        }
        let index = self.bump();
        self.assign_scaling(&mut job, &namespace, &id, index);
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
        self.sync_scaling(&namespace, &id);
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
            // `state_store.go` DeleteJobTxn deletes the job's scaling policies.
            self.scaling_policies
                .retain(|_, p| !(p.namespace == namespace && p.job_id == id));
            self.emit("Job", "JobDeregistered", id, namespace, payload);
        } else if !record.stopped() {
            job["Stop"] = json!(true);
            // `nomad/fsm.go` handleJobDeregister: "Disable scaling policies to avoid
            // monitoring stopped jobs".
            for group in job["TaskGroups"].as_array_mut().into_iter().flatten() {
                if group["Scaling"].is_object() {
                    group["Scaling"]["Enabled"] = json!(false);
                }
            }
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
        // `nomad/job_endpoint.go` Scale: the group's scaling policy bounds the count.
        if tg["Scaling"].is_object() {
            let min = tg["Scaling"]["Min"].as_i64().unwrap_or(0);
            let max = tg["Scaling"]["Max"].as_i64().unwrap_or(i64::MAX);
            if count < min {
                return refuse(
                    400,
                    format!("group count was less than scaling policy minimum: {count} < {min}"),
                );
            }
            if max < count {
                return refuse(
                    400,
                    format!("group count was greater than scaling policy maximum: {count} > {max}"),
                );
            }
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

    /// Gives each group's `Scaling` block its ID and indexes: the ID of the current
    /// version's policy of the same type and group (`nomad/job_endpoint.go`
    /// propagateScalingPolicyIDs) or a new one; the indexes of the stored policy when
    /// nothing changed, else a ModifyIndex of this write (`state_store.go`
    /// UpsertScalingPoliciesTxn, which compares all but the ID and indexes).
    fn assign_scaling(&self, job: &mut Value, namespace: &str, id: &str, index: u64) {
        let current = self.job(namespace, id).map(|r| r.current().clone());
        for group in job["TaskGroups"].as_array_mut().into_iter().flatten() {
            let name = jobspec::str_of(group, "Name").to_string();
            let Some(scaling) = group.get_mut("Scaling").filter(|s| s.is_object()) else {
                continue;
            };
            let kind = jobspec::str_of(scaling, "Type").to_string();
            let previous_id = current
                .as_ref()
                .and_then(|j| {
                    jobspec::groups(j)
                        .into_iter()
                        .find(|g| g["Name"] == name.as_str())
                })
                .map(|g| &g["Scaling"])
                .filter(|s| s["Type"] == kind.as_str())
                .and_then(|s| s["ID"].as_str())
                .filter(|i| !i.is_empty())
                .map(String::from);
            scaling["ID"] = json!(previous_id.unwrap_or_else(new_id));
            let stored = self.scaling_policies.values().find(|p| {
                p.namespace == namespace && p.job_id == id && p.group == name && p.kind == kind
            });
            let (create, modify) = match stored {
                Some(p) => {
                    scaling["ID"] = json!(p.id);
                    let same = p.min == scaling["Min"].as_i64().unwrap_or(0)
                        && p.max == scaling["Max"].as_i64().unwrap_or(0)
                        && p.enabled == scaling["Enabled"].as_bool().unwrap_or(true)
                        && p.policy == scaling["Policy"];
                    (p.create_index, if same { p.modify_index } else { index })
                }
                None => (index, index),
            };
            scaling["CreateIndex"] = json!(create);
            scaling["ModifyIndex"] = json!(modify);
        }
    }

    /// Makes the scaling policies table follow the job's current version
    /// (`state_store.go` updateJobScalingPolicies: policies no longer in the job are
    /// deleted, the others upserted).
    fn sync_scaling(&mut self, namespace: &str, id: &str) {
        let Some(record) = self.job(namespace, id) else {
            return;
        };
        let policies: Vec<ScalingPolicy> = jobspec::groups(record.current())
            .into_iter()
            .filter(|g| g["Scaling"].is_object())
            .map(|g| {
                let s = &g["Scaling"];
                ScalingPolicy {
                    id: jobspec::str_of(s, "ID").to_string(),
                    namespace: namespace.to_string(),
                    job_id: id.to_string(),
                    group: jobspec::str_of(g, "Name").to_string(),
                    kind: jobspec::str_of(s, "Type").to_string(),
                    min: s["Min"].as_i64().unwrap_or(0),
                    max: s["Max"].as_i64().unwrap_or(0),
                    enabled: s["Enabled"].as_bool().unwrap_or(true),
                    policy: s["Policy"].clone(),
                    create_index: s["CreateIndex"].as_u64().unwrap_or(0),
                    modify_index: s["ModifyIndex"].as_u64().unwrap_or(0),
                }
            })
            .collect();
        self.scaling_policies.retain(|pid, p| {
            !(p.namespace == namespace && p.job_id == id) || policies.iter().any(|n| n.id == *pid)
        });
        for p in policies {
            self.scaling_policies.insert(p.id.clone(), p);
        }
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
}
