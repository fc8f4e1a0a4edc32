//! User actions on allocations: stop, restart and signal.

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

/// The signals Nomad's docker driver accepts (consul-template v0.41.3
/// `signals/signals_unix.go` SignalLookup, in `ValidSignals`' sorted order).
const VALID_SIGNALS: [&str; 28] = [
    "SIGABRT", "SIGALRM", "SIGBUS", "SIGCONT", "SIGFPE", "SIGHUP", "SIGILL", "SIGINT", "SIGIO",
    "SIGIOT", "SIGKILL", "SIGNULL", "SIGPIPE", "SIGPROF", "SIGQUIT", "SIGSEGV", "SIGSTOP",
    "SIGSYS", "SIGTERM", "SIGTRAP", "SIGTSTP", "SIGTTIN", "SIGTTOU", "SIGUSR1", "SIGUSR2",
    "SIGWINCH", "SIGXCPU", "SIGXFSZ",
];

/// hashicorp/go-multierror's text, as Nomad prints it.
fn multierror(errors: &[String]) -> String {
    let mut text = format!(
        "{} error{} occurred:\n",
        errors.len(),
        if errors.len() == 1 { "" } else { "s" }
    );
    for e in errors {
        text.push_str(&format!("\t* {e}\n"));
    }
    text.push('\n');
    text
}

impl World {
    /// Whether the server can reach the allocation's client (`nomad/util.go`
    /// getNodeForRpc, then the node connection): a node that is gone is
    /// `500 Unknown node <id>`, one that is down `404 No path to node`.
    pub fn client_of(&self, alloc: &Alloc) -> Result<(), Refusal> {
        match self.node(&alloc.node_id) {
            None => refuse(500, format!("Unknown node {}", alloc.node_id)),
            Some(n) if n.status == "down" => refuse(404, "No path to node"),
            Some(_) => Ok(()),
        }
    }

    /// Signals a task, or every task, of an allocation as its client does
    /// (`client/allocrunner/alloc_runner.go` Signal, `taskrunner/lifecycle.go` Signal): a
    /// task the allocation does not have is `Task not found`, one that is not running
    /// `Task not running`; a running one gets a `Signaling` event ("Task being sent a
    /// signal", the signal in its details) and then the driver's answer: the docker
    /// driver refuses a name consul-template's `signals.Parse` does not know (in any
    /// case), exec and raw_exec send SIGINT instead. Without a task, every task is
    /// signalled and the failures come back as one multierror.
    pub fn signal_allocation(
        &mut self,
        alloc_id: &str,
        task: Option<&str>,
        signal: &str,
    ) -> Result<(), Refusal> {
        let Some(alloc) = self.allocs.get(alloc_id) else {
            return refuse(404, format!("Unknown allocation {alloc_id:?}"));
        };
        self.client_of(alloc)?;
        let drivers: std::collections::BTreeMap<String, String> = self
            .job(&alloc.namespace, &alloc.job_id)
            .and_then(|r| {
                r.versions
                    .iter()
                    .find(|v| v["Version"].as_u64() == Some(alloc.job_version))
                    .or(r.versions.last())
            })
            .map(|job| {
                crate::jobspec::groups(job)
                    .into_iter()
                    .filter(|g| g["Name"] == alloc.task_group.as_str())
                    .flat_map(|g| g["Tasks"].as_array().cloned().unwrap_or_default())
                    .map(|t| {
                        (
                            crate::jobspec::str_of(&t, "Name").to_string(),
                            crate::jobspec::str_of(&t, "Driver").to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        if let Some(task) = task
            && !alloc.tasks.contains_key(task)
        {
            return refuse(500, "Task not found");
        }
        let index = self.bump();
        let now = now_ns();
        let alloc = self.allocs.get_mut(alloc_id).expect("checked above");
        let mut errors = Vec::new();
        let mut signalled = false;
        for (name, state) in alloc.tasks.iter_mut() {
            if task.is_some_and(|t| t != name) {
                continue;
            }
            let outcome = if state.state != "running" {
                Err("Task not running".to_string())
            } else {
                let mut event = TaskEvent::new("Signaling", "Task being sent a signal");
                event.details.insert("signal".into(), signal.into());
                state.events.push(event);
                // The client keeps the last 10 events of a task.
                if state.events.len() > 10 {
                    let excess = state.events.len() - 10;
                    state.events.drain(..excess);
                }
                signalled = true;
                let docker = drivers.get(name).is_none_or(|d| d == "docker");
                if docker && !VALID_SIGNALS.contains(&signal.to_uppercase().as_str()) {
                    Err(format!(
                        "rpc error: code = Unknown desc = failed to parse signal: invalid signal {signal:?} - valid signals are [{}]",
                        VALID_SIGNALS.map(|s| format!("{s:?}")).join(" ")
                    ))
                } else {
                    Ok(())
                }
            };
            if let Err(e) = outcome {
                errors.push(match task {
                    Some(_) => e,
                    None => format!("Failed to signal task: {name}, err: {e}"),
                });
            }
        }
        if signalled {
            alloc.modify_index = index;
            alloc.modify_time = now;
            let payload = json!({"Allocation": crate::render::alloc_stub(alloc)});
            let ns = alloc.namespace.clone();
            self.emit("Allocation", "AllocationUpdated", alloc_id, &ns, payload);
        }
        match (task, errors.len()) {
            (_, 0) => Ok(()),
            (Some(_), _) => refuse(500, errors.remove(0)),
            (None, _) => refuse(500, multierror(&errors)),
        }
    }
}
