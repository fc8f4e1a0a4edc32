//! The node drainer (`nomad/drainer/`): it moves a draining node's allocations away as
//! their groups' `migrate` blocks allow, and ends the drain once they are gone, or at
//! the drain's deadline.
//!
//! - A service group migrates at most `migrate.max_parallel` allocations at a time, and
//!   only while enough of the group has reported its health: `handleTaskGroup` in
//!   `watch_jobs.go` drains `healthy - (count - max_parallel)` more, where `healthy`
//!   counts the group's running allocations with a health set and not yet marked.
//! - Batch allocations are left to finish; system allocations move last (`IsDone` and
//!   `RemainingAllocs` in `draining_node.go`), or stay with `IgnoreSystemJobs`.
//! - At the deadline every remaining allocation is marked at once
//!   (`handleDeadlinedNodes` in `drainer.go`); a negative deadline is a force drain, zero
//!   none (`DrainStrategy.DeadlineTime`).
//! - A drain ends with the event "Node drain complete" (subsystem `Drain`, detail
//!   `deadline_reached` when the deadline ended it); the node stays ineligible.
//!
//! Marking sets the allocation's `DesiredTransition.Migrate` and makes a `node-drain`
//! evaluation of its job; the reconciler does the moving.

use std::collections::BTreeSet;

use crate::jobspec;
use crate::world::*;

impl World {
    /// One pass over every draining node; the evaluations it made.
    pub fn drain_pass(&mut self) -> Vec<String> {
        let now = now_ns();
        let draining: Vec<(String, Drain)> = self
            .nodes
            .iter()
            .filter_map(|n| n.drain.clone().map(|d| (n.id.clone(), d)))
            .collect();
        if draining.is_empty() {
            return Vec::new();
        }
        let on_draining: BTreeSet<&str> = draining.iter().map(|(id, _)| id.as_str()).collect();
        let mut mark: Vec<String> = Vec::new();
        let mut complete: Vec<(String, bool)> = Vec::new();
        for (node_id, drain) in &draining {
            let deadlined =
                drain.deadline_ns < 0 || (drain.force_deadline > 0 && now >= drain.force_deadline);
            let remaining = || {
                self.allocs
                    .values()
                    .filter(|a| &a.node_id == node_id && !a.terminal() && !a.migrate)
                    .filter(|a| !(drain.ignore_system && a.job_type == "system"))
                    .map(|a| a.id.clone())
                    .collect::<Vec<_>>()
            };
            if deadlined {
                mark.extend(remaining());
                complete.push((node_id.clone(), true));
                continue;
            }
            let busy = self
                .allocs
                .values()
                .any(|a| &a.node_id == node_id && !a.client_terminal() && a.job_type != "system");
            if !busy {
                mark.extend(remaining());
                complete.push((node_id.clone(), false));
            }
        }
        let deadlined: BTreeSet<&str> = complete
            .iter()
            .filter(|(_, d)| *d)
            .map(|(id, _)| id.as_str())
            .collect();
        let jobs: BTreeSet<(String, String)> = self
            .allocs
            .values()
            .filter(|a| {
                a.job_type == "service"
                    && on_draining.contains(a.node_id.as_str())
                    && !deadlined.contains(a.node_id.as_str())
                    && !a.client_terminal()
                    && !a.migrate
            })
            .map(|a| (a.namespace.clone(), a.job_id.clone()))
            .collect();
        for (ns, job_id) in jobs {
            mark.extend(self.drainable(&ns, &job_id, &on_draining));
        }

        let mut evals = Vec::new();
        let mut marked_jobs: BTreeSet<(String, String)> = BTreeSet::new();
        for id in mark {
            let index = self.bump();
            if let Some(a) = self.allocs.get_mut(&id) {
                a.migrate = true;
                a.modify_index = index;
                marked_jobs.insert((a.namespace.clone(), a.job_id.clone()));
            }
        }
        for (ns, job_id) in marked_jobs {
            evals.push(self.evaluate(&ns, &job_id, "node-drain", None));
        }
        for (node_id, deadlined) in complete {
            if let Some(node) = self.node_mut(&node_id) {
                let started = node.drain.as_ref().map_or(now, |d| d.started_at);
                node.drain = None;
                node.last_drain = Some((started, now_ns(), "complete".into()));
            }
            // `NodeDrainEventComplete`, with `deadline_reached` when the deadline ended it.
            let details = if deadlined {
                [("deadline_reached".to_string(), "true".to_string())].into()
            } else {
                Default::default()
            };
            self.node_event_in(
                &node_id,
                "NodeDrain",
                "Drain",
                "Node drain complete",
                details,
            );
        }
        evals
    }

    /// The allocations of one service job to migrate now (`handleTaskGroup`).
    fn drainable(&self, ns: &str, job_id: &str, on_draining: &BTreeSet<&str>) -> Vec<String> {
        let Some(record) = self.job(ns, job_id) else {
            return Vec::new();
        };
        let allocs = self.job_allocs(ns, job_id);
        let mut out = Vec::new();
        for group in jobspec::groups(record.current()) {
            let name = jobspec::str_of(group, "Name");
            let count = group["Count"].as_i64().unwrap_or(1);
            let max_parallel = group
                .pointer("/Migrate/MaxParallel")
                .and_then(|v| v.as_i64())
                .unwrap_or(1);
            let of_group = || allocs.iter().filter(|a| a.task_group == name);
            let healthy = of_group()
                .filter(|a| !a.terminal() && a.healthy.is_some() && !a.migrate)
                .count() as i64;
            // Oldest first, as the state store lists them.
            let mut drainable: Vec<&&Alloc> = of_group()
                .filter(|a| {
                    on_draining.contains(a.node_id.as_str()) && !a.client_terminal() && !a.migrate
                })
                .collect();
            drainable.sort_by_key(|a| a.create_index);
            let take = (healthy - (count - max_parallel)).clamp(0, drainable.len() as i64);
            out.extend(drainable[..take as usize].iter().map(|a| a.id.clone()));
        }
        out
    }
}
