//! A deployment in plain words: its progress per group, and why its allocations failed.

use super::{Follower, Look, Next, short};
use crate::nomad::types::{Allocation, Deployment};
use crate::operations::model::{GroupProgress, State};

impl Follower<'_> {
    pub(super) async fn deployment(&mut self, id: &str) -> Look {
        let (deployment, index): (Deployment, u64) =
            match self.nomad.read_deployment(id, &self.options()).await {
                Ok(d) => (d.value, d.meta.last_index),
                Err(e) => return self.unreachable(&e),
            };
        self.groups = deployment
            .task_groups
            .iter()
            .map(|(name, g)| {
                let progress = GroupProgress {
                    desired: g.desired_total,
                    placed: g.placed_allocs,
                    healthy: g.healthy_allocs,
                    unhealthy: g.unhealthy_allocs,
                };
                (name.clone(), progress)
            })
            .collect();
        // Only a deployment of a new version tells the job's version; one acted on later
        // (promoted, failed, resumed...) may belong to an older one.
        if self.job_version.is_none()
            && !matches!(
                self.row.kind.as_str(),
                "promote" | "fail" | "resume" | "unblock" | "set-health"
            )
        {
            self.job_version = Some(deployment.job_version);
        }
        let desired: u64 = self.groups.values().map(|g| g.desired).sum();
        let healthy: u64 = self.groups.values().map(|g| g.healthy).sum();
        let unhealthy: u64 = self.groups.values().map(|g| g.unhealthy).sum();
        let mut look = self.look(State::Deploying, String::new(), Next::Nothing);
        look.deployment_id = Some(id.to_string());
        let kind = self.row.kind.as_str();
        match deployment.status.as_str() {
            "successful" => {
                look.state = State::Succeeded;
                look.message = format!(
                    "deployment {} successful: {healthy} of {desired} allocations healthy",
                    short(id)
                );
            }
            "failed" if kind == "fail" => {
                look.state = State::Succeeded;
                look.message = format!("deployment {} failed on request", short(id));
                if let Some(v) = self.facts.reverted_to_version {
                    look.message
                        .push_str(&format!("; the job went back to version {v}"));
                }
            }
            "failed" => {
                look.state = State::Failed;
                let reasons = self.failure_reasons(id).await;
                look.message = format!(
                    "deployment failed: {unhealthy} of {desired} allocations unhealthy{}{} ({})",
                    if reasons.is_empty() { "" } else { "; " },
                    reasons.join("; "),
                    deployment.status_description
                );
            }
            "cancelled" => {
                let newer = deployment.status_description.contains("newer version")
                    || deployment.status_description.contains("stopped");
                look.state = if newer {
                    State::Superseded
                } else {
                    State::Cancelled
                };
                look.message = format!(
                    "deployment {} cancelled: {}",
                    short(id),
                    deployment.status_description
                );
            }
            status => {
                look.message = format!(
                    "deployment {} {status}: {healthy} of {desired} allocations healthy, {unhealthy} unhealthy",
                    short(id)
                );
                if !deployment.status_description.is_empty() {
                    look.message
                        .push_str(&format!(" ({})", deployment.status_description));
                }
                look.next = Next::Deployment(id.to_string(), index);
            }
        }
        look
    }

    /// Why allocations of a deployment failed: each task's exit, in words.
    async fn failure_reasons(&self, deployment_id: &str) -> Vec<String> {
        match self
            .nomad
            .deployment_allocations(deployment_id, &self.options())
            .await
        {
            Ok(allocs) => reasons(&allocs.value),
            Err(_) => Vec::new(),
        }
    }
}

/// Per failed allocation, why its tasks failed: exit codes, driver errors, the last event.
pub(super) fn reasons(allocs: &[Allocation]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for alloc in allocs {
        let unhealthy = alloc
            .deployment_status
            .as_ref()
            .and_then(|d| d.healthy)
            .is_some_and(|h| !h);
        if alloc.client_status != "failed" && !unhealthy {
            continue;
        }
        for (task, state) in &alloc.task_states {
            let events = || state.events.iter().rev();
            let driver = events().find(|e| !e.driver_error.is_empty());
            let exit = events().find(|e| e.event_type == "Terminated" && e.exit_code != 0);
            let gave_up = events()
                .find(|e| e.fails_task || e.event_type == "Not Restarting")
                .map(|e| {
                    if e.display_message.is_empty() {
                        e.message.clone()
                    } else {
                        e.display_message.clone()
                    }
                })
                .filter(|m| !m.is_empty());
            let reason = match (driver, exit) {
                (Some(e), _) => Some(format!("task '{task}' failed to start: {}", e.driver_error)),
                (None, Some(e)) => Some(format!("task '{task}' exited with code {}", e.exit_code)),
                (None, None) => gave_up.clone().map(|m| format!("task '{task}': {m}")),
            };
            let reason = match (reason, gave_up) {
                (Some(r), Some(m)) if !r.contains(&m) => Some(format!("{r} ({m})")),
                (r, _) => r,
            };
            if let Some(reason) = reason.filter(|r| !out.contains(r)) {
                out.push(reason);
            }
        }
    }
    out
}
