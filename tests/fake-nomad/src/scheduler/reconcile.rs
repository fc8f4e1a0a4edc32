//! The reconciler: what one evaluation decides for a job — which allocations stop,
//! which are updated in place, which are placed (canaries first), and the deployment.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use super::placement::Placement;
use crate::jobspec;
use crate::world::*;

impl World {
    /// Reconciles one job against its allocations (the work of a scheduler worker).
    pub(super) fn process(&mut self, eval_id: &str) {
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
        let mut destructive = false;
        // A paused deployment of this version places nothing more (the reconciler's
        // DeploymentPaused, `scheduler/reconciler/reconcile_cluster.go`): no canaries, no
        // destructive updates, no new allocations, until it is resumed.
        let paused = active_deployment
            .as_ref()
            .is_some_and(|d| d.job_version == version && d.status == "paused");

        let system_nodes: BTreeSet<String> = self
            .eligible_nodes(&job)
            .0
            .into_iter()
            .map(|i| self.nodes[i].id.clone())
            .collect();
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
            if paused && !stopped {
                continue;
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
            // A finished batch allocation is done, not missing, and so is one the drainer
            // stopped at its deadline (`MigrateDisablePlacement`).
            let done = if job_type == "batch" || job_type == "sysbatch" {
                allocs
                    .iter()
                    .filter(|a| {
                        a.job_version == version
                            && ((a.desired_status == "run" && a.client_status == "complete")
                                || (a.migrate && a.desired_status == "stop"))
                    })
                    .count() as u64
            } else {
                0
            };
            // Allocations the drainer marked to move off their node: a service allocation
            // is replaced first and stopped once its replacement is placed (`computePlacements`
            // in `scheduler/generic_sched.go` backs the stop out when the placement fails);
            // a batch one is stopped without a replacement, a system one as its node is
            // tainted.
            let (migrating, mut live): (Vec<&Alloc>, Vec<&Alloc>) =
                live.into_iter().partition(|a| a.migrate && !stopped);
            if (job_type == "system" || job_type == "sysbatch") && !stopped {
                // A system allocation on a node that takes no new work (ineligible, or
                // draining until the drainer gets to it) keeps running and is not counted.
                live.retain(|a| system_nodes.contains(&a.node_id));
            }
            for alloc in &migrating {
                match job_type.as_str() {
                    "service" => placements.push(Placement {
                        group: name.clone(),
                        index: alloc_index(&alloc.name),
                        canary: false,
                        previous: Some(alloc.id.clone()),
                        migrating: true,
                    }),
                    "batch" => stops.push((alloc.id.clone(), "alloc is being migrated")),
                    _ => stops.push((alloc.id.clone(), "alloc not needed as node is tainted")),
                }
            }
            let moving = if job_type == "service" {
                migrating.len() as u64
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
            destructive |= !outdated.is_empty();
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
                        migrating: false,
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
            let have = keep.len() as u64 + done + moving;
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
                let used: BTreeSet<u64> = keep
                    .iter()
                    .chain(&migrating)
                    .map(|a| alloc_index(&a.name))
                    .collect();
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
                        migrating: false,
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
        // Nomad's reconciler (`createDeployment`) starts one only for a version that has
        // not run yet or that changes allocations, and keeps a failed one of this version:
        // replacing a lost, rescheduled or migrated allocation starts none.
        let had_running = self
            .job_allocs(&ns, &job_id)
            .iter()
            .any(|a| a.job_version == version);
        let failed_here = self.deployments.values().any(|d| {
            d.namespace == ns
                && d.job_id == job_id
                && d.job_version == version
                && d.status == "failed"
        });
        let needs_deployment = job_type == "service"
            && !stopped
            && !placements.is_empty()
            && deployment_id.is_none()
            && !failed_here
            && (!had_running || destructive || !inplace.is_empty());
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
                    if placement.migrating
                        && let Some(previous) = &placement.previous
                    {
                        self.stop_alloc(previous, "alloc is being migrated");
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
}

fn alloc_index(name: &str) -> u64 {
    name.rsplit('[')
        .next()
        .and_then(|s| s.trim_end_matches(']').parse().ok())
        .unwrap_or(0)
}
