//! Job lookups and the job status Nomad derives from allocations and evaluations.

use serde_json::json;

use super::{Alloc, JobRecord, World};

impl World {
    pub fn job(&self, namespace: &str, id: &str) -> Option<&JobRecord> {
        self.jobs.get(&(namespace.to_string(), id.to_string()))
    }

    pub fn job_allocs(&self, namespace: &str, id: &str) -> Vec<&Alloc> {
        let mut v: Vec<&Alloc> = self
            .allocs
            .values()
            .filter(|a| a.namespace == namespace && a.job_id == id)
            .collect();
        v.sort_by_key(|a| std::cmp::Reverse(a.create_index));
        v
    }

    /// Job status as Nomad derives it from its allocations and evaluations.
    pub fn job_status(&self, record: &JobRecord) -> &'static str {
        let allocs = self.job_allocs(&record.namespace, &record.id);
        if allocs.iter().any(|a| !a.terminal()) {
            return "running";
        }
        let has_blocked = self.evals.values().any(|e| {
            e.namespace == record.namespace && e.job_id == record.id && e.status == "blocked"
        });
        if record.stopped() {
            return "dead";
        }
        // A parameterized or periodic parent runs as long as it may launch children.
        let job = record.current();
        if !job["Dispatched"].as_bool().unwrap_or(false)
            && (job["ParameterizedJob"].is_object() || job["Periodic"].is_object())
        {
            return "running";
        }
        if has_blocked || allocs.is_empty() {
            return "pending";
        }
        "dead"
    }

    /// Refreshes the job's stored status after allocation changes.
    pub fn refresh_job_status(&mut self, namespace: &str, id: &str) {
        let Some(record) = self.job(namespace, id) else {
            return;
        };
        let status = self.job_status(record);
        let current = record.current()["Status"]
            .as_str()
            .unwrap_or("")
            .to_string();
        if current != status {
            let index = self.bump();
            let record = self
                .jobs
                .get_mut(&(namespace.to_string(), id.to_string()))
                .expect("checked above");
            record.current_mut()["Status"] = json!(status);
            record.modify_index = index;
            let payload = json!({"Job": crate::render::job(self, namespace, id)});
            self.emit("Job", "JobStatusUpdated", id, namespace, payload);
        }
    }
}
