//! What write results tell the guard and the tracker: `Audited` (the evaluation for the
//! audit event, the tracked side, the stored answer for a replay) and `Tracked` (what the
//! write set off, for the watcher), implemented for every write result.

use serde_json::Value;

use crate::operations::{Facts, Operation};
use crate::service::allocations::AllocationStop;
use crate::service::control::{DispatchResult, RestartMode, RestartResult};
use crate::service::deployments::DeploymentChange;
use crate::service::jobs::WriteResult;
use crate::service::nodes::NodeChange;
use crate::service::variables::VariableChange;

/// A write result that starts an operation.
pub trait Tracked: Send {
    /// What the write set off, for the watcher.
    fn facts(&self) -> Facts;
    fn set_operation_id(&mut self, id: String);
    fn operation_id(&self) -> Option<String>;
    /// The operation's state when the caller waited for it.
    fn set_operation(&mut self, operation: Operation);
    /// Why a write the caller waited for could not be followed.
    fn set_not_followed(&mut self, why: String);
    /// The answer as stored for retries with the same idempotency key.
    fn record(&self) -> Value;
}

macro_rules! tracked_fields {
    () => {
        fn set_operation_id(&mut self, id: String) {
            self.operation_id = Some(id);
        }
        fn operation_id(&self) -> Option<String> {
            self.operation_id.clone()
        }
        fn set_operation(&mut self, operation: Operation) {
            self.operation = Some(operation);
        }
        fn set_not_followed(&mut self, why: String) {
            self.not_followed = Some(why);
        }
        fn record(&self) -> Value {
            serde_json::to_value(self).unwrap_or_default()
        }
    };
}

impl Tracked for WriteResult {
    fn facts(&self) -> Facts {
        Facts {
            job_id: Some(self.job_id.clone()),
            namespace: Some(self.namespace.clone()),
            eval_id: self.eval_id.clone(),
            job_modify_index: Some(self.job_modify_index),
            ..Facts::default()
        }
    }
    tracked_fields!();
}

impl Tracked for DispatchResult {
    fn facts(&self) -> Facts {
        Facts {
            namespace: Some(self.namespace.clone()),
            eval_id: self.eval_id.clone(),
            dispatched_job_id: Some(self.dispatched_job_id.clone()),
            ..Facts::default()
        }
    }
    tracked_fields!();
}

impl Tracked for RestartResult {
    fn facts(&self) -> Facts {
        Facts {
            job_id: Some(self.job_id.clone()),
            namespace: Some(self.namespace.clone()),
            eval_id: self.eval_id.clone(),
            done: (self.mode == RestartMode::InPlace).then(|| {
                format!(
                    "restarted the tasks of {} allocation(s) in place",
                    self.restarted_allocations.len()
                )
            }),
            ..Facts::default()
        }
    }
    tracked_fields!();
}

impl Tracked for DeploymentChange {
    fn facts(&self) -> Facts {
        Facts {
            eval_id: self.eval_id.clone(),
            deployment_id: Some(self.deployment_id.clone()),
            reverted_to_version: self.reverted_to_version,
            done: self.done.clone(),
            ..Facts::default()
        }
    }
    tracked_fields!();
}

impl Tracked for AllocationStop {
    fn facts(&self) -> Facts {
        Facts {
            job_id: Some(self.job_id.clone()),
            namespace: Some(self.namespace.clone()),
            eval_id: self.eval_id.clone(),
            ..Facts::default()
        }
    }
    tracked_fields!();
}

impl Tracked for NodeChange {
    fn facts(&self) -> Facts {
        Facts {
            node_id: Some(self.node_id.clone()),
            eval_id: self.eval_ids.first().cloned(),
            more_eval_ids: self.eval_ids.iter().skip(1).cloned().collect(),
            ..Facts::default()
        }
    }
    tracked_fields!();
}

impl Tracked for VariableChange {
    fn facts(&self) -> Facts {
        Facts {
            namespace: Some(self.namespace.clone()),
            done: Some(format!("variable '{}' {}", self.path, self.result)),
            ..Facts::default()
        }
    }
    tracked_fields!();
}

/// A tracked write's result: it has an operation and can be replayed.
macro_rules! tracked_result {
    () => {
        fn tracked(&mut self) -> Option<&mut dyn Tracked> {
            Some(self)
        }
        fn replay(value: Value) -> Option<Self> {
            serde_json::from_value(value).ok()
        }
    };
}

/// The evaluation a write's result names, for the audit log.
pub trait Audited {
    fn eval_id(&self) -> Option<String> {
        None
    }
    /// The operation side of a tracked write's result.
    fn tracked(&mut self) -> Option<&mut dyn Tracked> {
        None
    }
    /// The stored answer of a tracked write, for a retry with the same idempotency key.
    fn replay(_value: Value) -> Option<Self>
    where
        Self: Sized,
    {
        None
    }
}

impl Audited for WriteResult {
    fn eval_id(&self) -> Option<String> {
        self.eval_id.clone()
    }
    tracked_result!();
}
impl Audited for DispatchResult {
    fn eval_id(&self) -> Option<String> {
        self.eval_id.clone()
    }
    tracked_result!();
}
impl Audited for RestartResult {
    fn eval_id(&self) -> Option<String> {
        self.eval_id.clone()
    }
    tracked_result!();
}
impl Audited for DeploymentChange {
    tracked_result!();
}
impl Audited for NodeChange {
    tracked_result!();
}
impl Audited for AllocationStop {
    fn eval_id(&self) -> Option<String> {
        self.eval_id.clone()
    }
    tracked_result!();
}
impl Audited for VariableChange {
    tracked_result!();
}
impl Audited for () {}
impl<K, V> Audited for std::collections::BTreeMap<K, V> {}
