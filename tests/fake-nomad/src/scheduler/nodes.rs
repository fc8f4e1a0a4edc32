//! Node drains and scheduling eligibility.

use serde_json::json;

use super::{Refusal, refuse};
use crate::jobspec;
use crate::world::*;

impl World {
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
        let was_draining = node.drain.is_some();
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
            if was_draining {
                self.node_event_in(
                    node_id,
                    "NodeDrain",
                    "Drain",
                    "Node drain disabled",
                    Default::default(),
                );
            }
            self.retry_blocked();
            return Ok(Vec::new());
        };
        let started_at = node.drain.as_ref().map_or(now, |d| d.started_at);
        node.drain = Some(Drain {
            deadline_ns: deadline,
            ignore_system,
            // A new strategy keeps the drain's start (`Node.UpdateDrain`).
            started_at,
            force_deadline: if deadline > 0 { now + deadline } else { 0 },
        });
        node.eligibility = "ineligible".into();
        node.last_drain = Some((started_at, now, "draining".into()));
        // `Node.UpdateDrain`'s event: set for a new drain, updated for a changed one.
        let message = if was_draining {
            "Node drain strategy updated"
        } else {
            "Node drain strategy set"
        };
        self.node_event_in(node_id, "NodeDrain", "Drain", message, Default::default());
        // The drainer moves the allocations from here on (a node without work is done at
        // once); its evaluations are its own, so the answer names none
        // (`Node.UpdateDrain` makes evaluations only for a node turning eligible).
        self.drain_pass();
        Ok(Vec::new())
    }

    /// Purges a node (`nomad/node_endpoint.go` Deregister and createNodeEvals): the
    /// node is gone from the state store, the scheduler finds its allocations lost (on a
    /// node that no longer exists), and there is a `node-update` evaluation for every job
    /// with an allocation on it (sysbatch jobs excepted) and every system job of its
    /// pool and datacenter. Returns the evaluations and the index of the removal.
    pub fn purge_node(&mut self, node_id: &str) -> Result<(Vec<String>, u64), Refusal> {
        let Some(position) = self.nodes.iter().position(|n| n.id == node_id) else {
            return refuse(500, "node not found");
        };
        let index = self.bump();
        let node = self.nodes.remove(position);
        let payload = json!({"Node": crate::render::node(&node)});
        self.emit("Node", "NodeDeregistration", node_id, "", payload);
        let mut jobs: Vec<(String, String)> = Vec::new();
        for a in self.allocs.values().filter(|a| a.node_id == node_id) {
            let key = (a.namespace.clone(), a.job_id.clone());
            if a.job_type != "sysbatch" && !jobs.contains(&key) {
                jobs.push(key);
            }
        }
        for r in self.jobs.values() {
            let job = r.current();
            let pool = jobspec::str_of(job, "NodePool");
            let in_dc = job["Datacenters"].as_array().is_none_or(|dcs| {
                dcs.iter().any(|d| {
                    let d = d.as_str().unwrap_or("");
                    d == "*" || d == node.datacenter
                })
            });
            let key = (r.namespace.clone(), r.id.clone());
            if r.job_type() == "system"
                && (pool == "all" || pool == node.pool)
                && in_dc
                && !jobs.contains(&key)
            {
                jobs.push(key);
            }
        }
        let lost: Vec<String> = self
            .allocs
            .values()
            .filter(|a| a.node_id == node_id && a.holds_resources())
            .map(|a| a.id.clone())
            .collect();
        for id in lost {
            self.finish_alloc(&id, "lost", "alloc is lost since its node is down");
        }
        let evals = jobs
            .into_iter()
            .map(|(ns, job)| self.evaluate(&ns, &job, "node-update", Some(node_id)))
            .collect();
        Ok((evals, index))
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
}
