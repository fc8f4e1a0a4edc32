//! Deployments: starting one, counting health and moving its status, auto-revert,
//! promotion and failing by hand.

use std::collections::BTreeMap;

use serde_json::json;

use super::{Refusal, refuse};
use crate::jobspec;
use crate::world::*;

impl World {
    pub(super) fn start_deployment(
        &mut self,
        record: &JobRecord,
        canaries: &BTreeMap<String, u64>,
    ) -> String {
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
            skipped_deadline: 0,
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
            let healthy = allocs.iter().filter(|a| a.healthy == Some(true)).count() as u64;
            // Progress moves the group's deadline on (`deploymentwatcher`, which sets
            // RequireProgressBy to the newest healthy time plus the progress deadline).
            if healthy > group.healthy && group.progress_deadline > 0 {
                group.require_progress_by = now_ns() + group.progress_deadline;
            }
            group.healthy = healthy;
            group.unhealthy = allocs.iter().filter(|a| a.healthy == Some(false)).count() as u64;
        }
        let unhealthy = d2.groups.values().any(|g| g.unhealthy > 0);
        let now = now_ns();
        // The watcher's deadline is the earliest of the groups not done yet
        // (`getDeploymentProgressCutoff`); when it passes, `shouldFail` fails the deployment
        // unless it is paused or its groups have what they need (healthy canaries awaiting
        // promotion count). A deadline passed while paused is not acted on again: the
        // timer is only set anew when the cutoff moves (`deployment_watcher.go` watch).
        let short = |g: &DeploymentGroup| {
            if g.desired_canaries > 0 && !g.promoted {
                g.healthy < g.desired_canaries
            } else {
                g.healthy < g.desired_total
            }
        };
        let cutoff = d2
            .groups
            .values()
            .filter(|g| g.progress_deadline > 0 && short(g))
            .map(|g| g.require_progress_by)
            .min();
        let mut late = cutoff.is_some_and(|c| c < now);
        if late && (d2.status == "paused" || cutoff == Some(d2.skipped_deadline)) {
            d2.skipped_deadline = cutoff.unwrap_or(0);
            late = false;
        }
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
        } else if late && !done {
            // `structs.DeploymentStatusDescriptionProgressDeadline`.
            d2.status = "failed".into();
            d2.status_description = if auto_revert {
                "Failed due to progress deadline - rolling back to job version".into()
            } else {
                "Failed due to progress deadline".into()
            };
        } else if done {
            d2.status = "successful".into();
            d2.status_description = "Deployment completed successfully".into();
        } else if awaiting_promotion && canaries_healthy && d2.status != "paused" {
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
        if !changed
            && d2.skipped_deadline != d.skipped_deadline
            && let Some(stored) = self.deployments.get_mut(id)
        {
            // The watcher's own memory: no write, no event.
            stored.skipped_deadline = d2.skipped_deadline;
        }
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

    /// Pauses or resumes an active deployment (`nomad/deploymentwatcher/
    /// deployment_watcher.go` PauseDeployment): paused with "Deployment is paused" and no
    /// evaluation, or running with "Deployment is running" and an evaluation, whose ID
    /// comes back.
    pub fn pause_deployment(&mut self, id: &str, pause: bool) -> Option<String> {
        let index = self.bump();
        let d = self.deployments.get_mut(id)?;
        if pause {
            d.status = "paused".into();
            d.status_description = "Deployment is paused".into();
        } else {
            d.status = "running".into();
            d.status_description = "Deployment is running".into();
        }
        d.modify_index = index;
        let d = d.clone();
        let payload = json!({"Deployment": crate::render::deployment(&d)});
        self.emit(
            "Deployment",
            "DeploymentStatusUpdate",
            id,
            &d.namespace,
            payload,
        );
        if pause {
            return None;
        }
        let eval = self.evaluate(&d.namespace, &d.job_id, "deployment-watcher", None);
        self.update_deployment(id);
        Some(eval)
    }

    /// Sets the health of a deployment's allocations by hand (`deployment_watcher.go`
    /// setAllocHealth, `state_store.go` UpdateDeploymentAllocHealth). Every ID is checked
    /// before anything changes; an unhealthy one fails the deployment, and when its group
    /// auto-reverts, the job goes back to the latest stable version unless that version
    /// has the current specification (handleRollbackValidity). Returns the evaluation
    /// and the version reverted to.
    pub fn set_alloc_health(
        &mut self,
        id: &str,
        healthy: &[String],
        unhealthy: &[String],
    ) -> Result<(String, Option<u64>), Refusal> {
        for alloc_id in healthy.iter().chain(unhealthy) {
            match self.allocs.get(alloc_id) {
                None => return refuse(500, format!("unknown alloc {alloc_id:?}")),
                Some(a) if a.deployment_id != id => {
                    return refuse(
                        500,
                        format!("alloc {alloc_id:?} is not part of deployment {id:?}"),
                    );
                }
                Some(_) => {}
            }
        }
        let Some(d) = self.deployments.get(id).cloned() else {
            return refuse(500, "deployment not found");
        };
        // The rollback, decided before the write as the watcher does.
        let mut revert_to = None;
        let mut description = "Failed due to unhealthy allocations".to_string();
        let reverts = unhealthy.iter().any(|a| {
            self.allocs
                .get(a)
                .and_then(|a| d.groups.get(&a.task_group))
                .is_some_and(|g| g.auto_revert)
        });
        if reverts && let Some(record) = self.job(&d.namespace, &d.job_id) {
            let stable = record
                .versions
                .iter()
                .rev()
                .find(|v| v["Stable"].as_bool() == Some(true));
            if let Some(stable) = stable {
                let version = stable["Version"].as_u64().unwrap_or(0);
                if jobspec::spec_identity(stable) != jobspec::spec_identity(record.current()) {
                    description = format!("{description} - rolling back to job version {version}");
                    revert_to = Some(version);
                } else {
                    description = format!(
                        "{description} - not rolling back to stable job version {version} as current job has same specification"
                    );
                }
            }
        }
        let index = self.bump();
        let now = now_ns();
        for (ids, health) in [(healthy, true), (unhealthy, false)] {
            for alloc_id in ids {
                if let Some(a) = self.allocs.get_mut(alloc_id) {
                    a.healthy = Some(health);
                    a.modify_index = index;
                    a.modify_time = now;
                    let payload = json!({"Allocation": crate::render::alloc_stub(a)});
                    let ns = a.namespace.clone();
                    self.emit("Allocation", "AllocationUpdated", alloc_id, &ns, payload);
                }
            }
        }
        if unhealthy.is_empty() {
            self.update_deployment(id);
        } else {
            let allocs: Vec<(String, Option<bool>)> = self
                .allocs
                .values()
                .filter(|a| a.deployment_id == id)
                .map(|a| (a.task_group.clone(), a.healthy))
                .collect();
            if let Some(dm) = self.deployments.get_mut(id) {
                for (name, group) in dm.groups.iter_mut() {
                    let of_group = allocs.iter().filter(|(g, _)| g == name);
                    group.healthy =
                        of_group.clone().filter(|(_, h)| *h == Some(true)).count() as u64;
                    group.unhealthy = of_group.filter(|(_, h)| *h == Some(false)).count() as u64;
                }
                dm.status = "failed".into();
                dm.status_description = description;
                dm.modify_index = index;
                let dm = dm.clone();
                let payload = json!({"Deployment": crate::render::deployment(&dm)});
                self.emit(
                    "Deployment",
                    "DeploymentStatusUpdate",
                    id,
                    &dm.namespace,
                    payload,
                );
            }
            if let Some(version) = revert_to {
                let _ = self.revert(&d.namespace, &d.job_id, version, None);
            }
        }
        let eval = self.evaluate(&d.namespace, &d.job_id, "deployment-watcher", None);
        Ok((eval, revert_to))
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
}
