//! User actions on allocations: stop and restart.

use serde_json::json;

use super::{Refusal, refuse};
use crate::world::*;

impl World {
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
}
