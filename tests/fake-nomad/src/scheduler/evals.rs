//! Evaluations: creating one, completing it (with a blocked follow-up when placements
//! failed) and retrying blocked ones when capacity frees up.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::jobspec;
use crate::world::*;

impl World {
    /// Creates an evaluation for the job and processes it at once.
    pub fn evaluate(
        &mut self,
        namespace: &str,
        job_id: &str,
        triggered_by: &str,
        node_id: Option<&str>,
    ) -> String {
        let index = self.bump();
        let now = now_ns();
        let (priority, kind, job_modify_index) = match self.job(namespace, job_id) {
            Some(r) => (
                r.current()["Priority"].as_u64().unwrap_or(50),
                r.job_type(),
                r.job_modify_index,
            ),
            None => (50, "service".to_string(), 0),
        };
        let eval = Eval {
            id: new_id(),
            namespace: namespace.into(),
            job_id: job_id.into(),
            priority,
            kind,
            triggered_by: triggered_by.into(),
            job_modify_index,
            node_id: node_id.unwrap_or("").into(),
            node_modify_index: 0,
            deployment_id: String::new(),
            status: "pending".into(),
            status_description: String::new(),
            previous_eval: String::new(),
            next_eval: String::new(),
            blocked_eval: String::new(),
            failed: BTreeMap::new(),
            queued: BTreeMap::new(),
            class_eligibility: None,
            snapshot_index: index,
            create_index: index,
            modify_index: index,
            create_time: now,
            modify_time: now,
        };
        let id = eval.id.clone();
        self.evals.insert(id.clone(), eval);
        self.process(&id);
        id
    }

    pub(super) fn complete_eval(
        &mut self,
        eval_id: &str,
        failed: BTreeMap<String, Value>,
        queued: BTreeMap<String, u64>,
    ) {
        let index = self.bump();
        let now = now_ns();
        let mut blocked = None;
        if !failed.is_empty() {
            let mut b = self.evals[eval_id].clone();
            b.id = new_id();
            b.status = "blocked".into();
            b.status_description = "created to place remaining allocations".into();
            b.triggered_by = "queued-allocs".into();
            b.previous_eval = eval_id.into();
            b.failed = failed.clone();
            b.queued = queued.clone();
            b.class_eligibility = Some(json!({}));
            b.create_index = index;
            b.modify_index = index;
            b.snapshot_index = index;
            b.create_time = now;
            b.modify_time = now;
            blocked = Some(b.id.clone());
            self.evals.insert(b.id.clone(), b.clone());
            let payload = json!({"Evaluation": crate::render::eval(&b)});
            self.emit(
                "Evaluation",
                "EvaluationUpdated",
                &b.id,
                &b.namespace,
                payload,
            );
        }
        let eval = self.evals.get_mut(eval_id).expect("evaluation exists");
        eval.status = "complete".into();
        eval.failed = failed;
        eval.queued = queued;
        eval.blocked_eval = blocked.unwrap_or_default();
        eval.modify_index = index;
        eval.modify_time = now;
        let payload = json!({"Evaluation": crate::render::eval(eval)});
        let (key, ns) = (eval.id.clone(), eval.namespace.clone());
        self.emit("Evaluation", "EvaluationUpdated", &key, &ns, payload);
    }

    /// Re-evaluates blocked jobs when some node could now take their allocations.
    pub fn retry_blocked(&mut self) {
        type Blocked = (String, String, Vec<(u64, u64)>);
        let blocked: Vec<Blocked> = self
            .evals
            .values()
            .filter(|e| e.status == "blocked")
            .filter_map(|e| {
                let record = self.job(&e.namespace, &e.job_id)?;
                let asks = jobspec::groups(record.current())
                    .into_iter()
                    .filter(|g| e.failed.contains_key(jobspec::str_of(g, "Name")))
                    .map(jobspec::group_ask)
                    .collect();
                Some((e.namespace.clone(), e.job_id.clone(), asks))
            })
            .collect();
        for (ns, job_id, asks) in blocked {
            let Some(job) = self.job(&ns, &job_id).map(|r| r.current().clone()) else {
                continue;
            };
            if asks.iter().any(|ask| self.pick_node(&job, *ask).is_ok()) {
                self.evaluate(&ns, &job_id, "queued-allocs", None);
            }
        }
    }
}
