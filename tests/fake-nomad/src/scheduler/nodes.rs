//! Node drains and scheduling eligibility.

use std::collections::BTreeSet;

use super::{Refusal, refuse};
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
}
