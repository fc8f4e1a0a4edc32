//! The allocation lifecycle on a timer: each step starts, runs, crashes, restarts or
//! finishes the allocations that are due and lets deployments and jobs follow.

use std::collections::BTreeSet;
use std::time::Instant;

use serde_json::json;

use crate::jobspec::Behavior;
use crate::world::*;

impl World {
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
        // Deployments past a progress deadline fail even when no allocation moved.
        let late = now_ns();
        deployments.extend(
            self.deployments
                .values()
                .filter(|d| {
                    d.active()
                        && d.groups
                            .values()
                            .any(|g| g.progress_deadline > 0 && g.require_progress_by < late)
                })
                .map(|d| d.id.clone()),
        );
        for d in deployments {
            self.update_deployment(&d);
        }
        for (ns, job) in jobs {
            self.refresh_job_status(&ns, &job);
        }
        if freed {
            self.retry_blocked();
        }
        self.drain_pass();
    }
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
    let mut stuck = false;
    for state in alloc.tasks.values_mut() {
        match state.state.as_str() {
            "pending" => {
                // The first start sets up the task directory and pulls the image once; a
                // stuck task never gets past that.
                if state.restarts == 0 && !state.events.iter().any(|e| e.kind == "Driver") {
                    state
                        .events
                        .push(TaskEvent::new("Task Setup", "Building Task Directory"));
                    state
                        .events
                        .push(TaskEvent::new("Driver", "Downloading image"));
                }
                all_dead = false;
                if state.behavior == Behavior::Stuck {
                    stuck = true;
                } else {
                    state
                        .events
                        .push(TaskEvent::new("Started", "Task started by client"));
                    state.state = "running".into();
                    state.started_at = Some(ts);
                }
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
            "running" if batch && state.behavior != Behavior::Busy => {
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
        if alloc.watches_health() && alloc.healthy.is_none() {
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
    if stuck {
        // A task that has not started keeps its allocation pending (`getClientStatus` in
        // `client/allocrunner`: a pending task wins over running ones, "No tasks have
        // started"), with nothing more to do until it is stopped.
        alloc.client_status = "pending".into();
        alloc.client_description = "No tasks have started".into();
        alloc.next_step = None;
        return Advance::Moved;
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
        // A batch task finishes three steps after it started, unless it is busy.
        let finishing = alloc
            .tasks
            .values()
            .any(|t| t.state == "running" && t.behavior != Behavior::Busy);
        alloc.next_step = finishing.then(|| now + step * 3);
    } else if alloc.watches_health() && alloc.healthy.is_none() {
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
