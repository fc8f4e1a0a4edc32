//! Ending allocations: finished by the client or stopped by the scheduler.

use serde_json::json;

use super::{TaskEvent, World, now_ns};

impl World {
    /// Ends an allocation with a client status, freeing its resources.
    pub fn finish_alloc(&mut self, id: &str, client_status: &str, description: &str) {
        let index = self.bump();
        let Some(alloc) = self.allocs.get_mut(id) else {
            return;
        };
        alloc.client_status = client_status.into();
        alloc.client_description = description.into();
        if client_status == "lost" {
            alloc.desired_status = "stop".into();
        }
        for task in alloc.tasks.values_mut() {
            if task.state != "dead" {
                task.state = "dead".into();
                task.finished_at = Some(now_ns());
                task.failed = client_status == "failed";
            }
        }
        alloc.next_step = None;
        alloc.modify_index = index;
        alloc.modify_time = now_ns();
        let payload = json!({"Allocation": crate::render::alloc_stub(alloc)});
        let (ns, key) = (alloc.namespace.clone(), alloc.id.clone());
        self.emit("Allocation", "AllocationUpdated", &key, &ns, payload);
    }

    /// Stops an allocation the scheduler no longer wants.
    pub fn stop_alloc(&mut self, id: &str, description: &str) {
        let index = self.bump();
        let Some(alloc) = self.allocs.get_mut(id) else {
            return;
        };
        if alloc.desired_status != "run" {
            return;
        }
        alloc.desired_status = "stop".into();
        alloc.desired_description = description.into();
        alloc.alloc_modify_index = index;
        alloc.modify_index = index;
        alloc.modify_time = now_ns();
        if alloc.client_status == "pending" || alloc.client_status == "running" {
            alloc.client_status = "complete".into();
            alloc.client_description = "All tasks have completed".into();
            for task in alloc.tasks.values_mut() {
                if task.state != "dead" {
                    task.events.push(TaskEvent::new(
                        "Killing",
                        "Sent interrupt. Waiting 5s before force killing",
                    ));
                    task.events
                        .push(TaskEvent::new("Killed", "Task successfully killed"));
                    task.state = "dead".into();
                    task.finished_at = Some(now_ns());
                }
            }
        }
        alloc.next_step = None;
        let payload = json!({"Allocation": crate::render::alloc_stub(alloc)});
        let (ns, key) = (alloc.namespace.clone(), alloc.id.clone());
        self.emit("Allocation", "AllocationUpdated", &key, &ns, payload);
    }
}
