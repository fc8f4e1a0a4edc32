//! Every operation passes here first: the policy (scope, namespace, read-only), the
//! caller's rate limit, and for writes a place in the audit queue, taken before the
//! write runs and filled with its outcome afterwards. Refusals are audited too.

use std::future::Future;
use std::time::Instant;

use serde_json::Value;

pub use super::results::Audited;
use super::{Service, ServiceError};
use crate::config::AuthSettings;
use crate::service::audit::{Audit, Entry, Outcome};
use crate::service::policy::{self, Access, Credential, Principal};
use crate::service::ratelimit::Limiter;
use crate::service::tracking::Begin;

/// Policy settings and the shared audit and rate-limit state.
pub struct Guard {
    read_only: bool,
    audit: Option<Audit>,
    db: Option<sea_orm::DatabaseConnection>,
    reads: Limiter,
    writes: Limiter,
}

impl Guard {
    /// No limits and no audit: for tools and tests that call the service directly.
    pub fn open() -> Guard {
        Guard {
            read_only: false,
            audit: None,
            db: None,
            reads: Limiter::new(0),
            writes: Limiter::new(0),
        }
    }

    pub fn new(settings: &AuthSettings, audit: Audit, db: sea_orm::DatabaseConnection) -> Guard {
        Guard {
            read_only: settings.read_only,
            audit: Some(audit),
            reads: Limiter::shared("read", settings.rate_limit_reads, &db),
            writes: Limiter::shared("write", settings.rate_limit_writes, &db),
            db: Some(db),
        }
    }

    pub fn read_only(&self) -> bool {
        self.read_only
    }

    pub fn audit(&self) -> Option<&Audit> {
        self.audit.as_ref()
    }

    pub fn db(&self) -> Option<&sea_orm::DatabaseConnection> {
        self.db.as_ref()
    }
}

/// What a write is, for the policy, the audit log and its tracked operation.
pub(crate) struct WriteCall {
    pub operation: &'static str,
    pub access: Access,
    pub namespace: Option<String>,
    pub job_id: Option<String>,
    /// The request's arguments (redacted before they are recorded).
    pub arguments: Value,
}

impl WriteCall {
    /// A change to a job in a namespace.
    pub fn job(operation: &'static str, namespace: &str, job_id: &str, arguments: Value) -> Self {
        WriteCall {
            operation,
            access: Access::Write,
            namespace: Some(namespace.to_string()),
            job_id: Some(job_id.to_string()),
            arguments,
        }
    }

    /// A change in a namespace that names no job (an allocation, a deployment).
    pub fn in_namespace(operation: &'static str, namespace: &str, arguments: Value) -> Self {
        WriteCall {
            operation,
            access: Access::Write,
            namespace: Some(namespace.to_string()),
            job_id: None,
            arguments,
        }
    }

    /// A change to the gateway's own keys (`admin`).
    pub fn admin(operation: &'static str, arguments: Value) -> Self {
        WriteCall {
            operation,
            access: Access::Admin,
            namespace: None,
            job_id: None,
            arguments,
        }
    }

    /// The call's audit event.
    fn entry(
        &self,
        outcome: Outcome,
        message: Option<String>,
        eval_id: Option<String>,
        started: Instant,
    ) -> Entry {
        Entry {
            operation: self.operation,
            namespace: self.namespace.clone(),
            job_id: self.job_id.clone(),
            arguments: crate::service::audit::redact(self.arguments.clone()),
            outcome,
            message,
            eval_id,
            duration: started.elapsed(),
        }
    }

    /// A change to a variable in a namespace (`variables:write`).
    pub fn variable(operation: &'static str, namespace: &str, arguments: Value) -> Self {
        WriteCall {
            operation,
            access: Access::VariablesWrite,
            namespace: Some(namespace.to_string()),
            job_id: None,
            arguments,
        }
    }

    /// A change to a node (`nodes:write`, no namespace).
    pub fn node(operation: &'static str, arguments: Value) -> Self {
        WriteCall {
            operation,
            access: Access::NodesWrite,
            namespace: None,
            job_id: None,
            arguments,
        }
    }
}

impl Principal {
    /// The caller as one string (credential kind, issuer and subject, or key id): what a
    /// budget is counted under and what a pending confirmation belongs to.
    pub fn key(&self) -> String {
        caller_key(self)
    }
}

fn caller_key(who: &Principal) -> String {
    match &who.credential {
        Credential::ApiKey { id, .. } => format!("key:{id}"),
        Credential::Jwt { issuer } => {
            format!("jwt:{}:{}", issuer.as_deref().unwrap_or(""), who.subject)
        }
        Credential::Local => format!("local:{}", who.subject),
    }
}

/// How a failed call is recorded.
fn outcome_of(error: &ServiceError) -> Outcome {
    match error {
        ServiceError::Forbidden { .. }
        | ServiceError::RateLimited { .. }
        | ServiceError::AuditUnavailable(_) => Outcome::Refused,
        _ => Outcome::Failed,
    }
}

impl Service {
    /// Records a refusal without waiting for it (reads, checks inside an operation).
    fn refuse(
        &self,
        who: &Principal,
        operation: &'static str,
        namespace: Option<&str>,
        error: &ServiceError,
    ) {
        if let Some(audit) = self.guard.audit() {
            audit.record(
                who,
                Entry {
                    operation,
                    namespace: namespace.map(String::from),
                    job_id: None,
                    arguments: Value::Object(Default::default()),
                    outcome: Outcome::Refused,
                    message: Some(error.to_string()),
                    eval_id: None,
                    duration: std::time::Duration::ZERO,
                },
            );
        }
    }

    /// The policy decision alone, unrecorded: for checks inside the work of `audited`, whose
    /// own event records a refusal (recording here too would make two events of one call).
    pub(crate) fn check_policy(
        &self,
        who: &Principal,
        access: Access,
        namespace: Option<&str>,
        operation: &'static str,
    ) -> Result<(), ServiceError> {
        policy::decide(who, access, namespace, self.guard.read_only).map_err(|refusal| {
            let missing_scope = match refusal {
                policy::Refusal::MissingScope(scope) => Some(scope),
                _ => None,
            };
            ServiceError::Forbidden {
                message: format!("{operation} refused: {refusal}"),
                missing_scope,
            }
        })
    }

    /// Whether the caller's scopes allow `access` at all (no namespace, unrecorded): what
    /// a listing of operations shows this caller.
    pub fn may(&self, who: &Principal, access: Access) -> bool {
        policy::decide(who, access, None, self.guard.read_only).is_ok()
    }

    /// The scope check at a transport's door, before an operation runs; the budget is left
    /// to the operation itself. A refused write is audited as `audited` audits one (its
    /// namespace, job and redacted arguments, and the answer waits for the event); a
    /// refused read as `allow` does.
    pub async fn admit(
        &self,
        who: &Principal,
        access: Access,
        operation: &'static str,
        arguments: &serde_json::Map<String, Value>,
    ) -> Result<(), ServiceError> {
        let Err(error) = self.check_policy(who, access, None, operation) else {
            return Ok(());
        };
        let text = |key: &str| arguments.get(key).and_then(Value::as_str).map(String::from);
        match self.guard.audit() {
            Some(audit) if access.is_write() => {
                let call = WriteCall {
                    operation,
                    access,
                    namespace: text("namespace"),
                    job_id: text("job_id"),
                    arguments: Value::Object(arguments.clone()),
                };
                let entry = call.entry(
                    Outcome::Refused,
                    Some(error.to_string()),
                    None,
                    Instant::now(),
                );
                audit.record_refusal(who, entry).await;
            }
            _ => self.refuse(who, operation, text("namespace").as_deref(), &error),
        }
        Err(error)
    }

    /// The policy and the caller's budget, unrecorded.
    async fn check_call(
        &self,
        who: &Principal,
        access: Access,
        namespace: Option<&str>,
        operation: &'static str,
    ) -> Result<(), ServiceError> {
        self.check_policy(who, access, namespace, operation)?;
        let limiter = if access.is_write() {
            &self.guard.writes
        } else {
            &self.guard.reads
        };
        limiter
            .check(&caller_key(who))
            .await
            .map_err(|retry_after| {
                let kind = if access.is_write() { "write" } else { "read" };
                metrics::counter!("gateway_rate_limited_total", "budget" => kind).increment(1);
                ServiceError::RateLimited {
                    message: format!("{operation}: the {kind} budget of this caller is used up"),
                    retry_after,
                }
            })
    }

    /// The policy alone (scope, namespace, read-only gateway); a refusal is audited.
    pub(crate) fn permit(
        &self,
        who: &Principal,
        access: Access,
        namespace: Option<&str>,
        operation: &'static str,
    ) -> Result<(), ServiceError> {
        self.check_policy(who, access, namespace, operation)
            .inspect_err(|error| self.refuse(who, operation, namespace, error))
    }

    /// The policy and the caller's budget for one call (taken once per call: checks made
    /// later in the same call use `permit`).
    pub(crate) async fn allow(
        &self,
        who: &Principal,
        access: Access,
        namespace: Option<&str>,
        operation: &'static str,
    ) -> Result<(), ServiceError> {
        self.check_call(who, access, namespace, operation)
            .await
            .inspect_err(|error| self.refuse(who, operation, namespace, error))
    }

    /// Runs a write: policy and rate limit, a reserved audit place, the work (tracked),
    /// and the event. Every way out records exactly one event, refusals included, and
    /// the answer leaves only once that event is durable.
    pub(crate) async fn audited<T, F>(
        &self,
        who: &Principal,
        call: WriteCall,
        work: F,
    ) -> Result<T, ServiceError>
    where
        T: Audited,
        F: Future<Output = Result<T, ServiceError>>,
    {
        let started = Instant::now();
        let (operation, namespace) = (call.operation, call.namespace.as_deref());
        let admitted = self
            .check_call(who, call.access, namespace, operation)
            .await
            .and_then(|()| {
                self.guard
                    .audit()
                    .map(|audit| audit.reserve())
                    .transpose()
                    .map_err(ServiceError::AuditUnavailable)
            });
        let slot = match admitted {
            Ok(slot) => slot,
            Err(error) => {
                if let Some(audit) = self.guard.audit() {
                    let entry =
                        call.entry(Outcome::Refused, Some(error.to_string()), None, started);
                    audit.record_refusal(who, entry).await;
                }
                return Err(error);
            }
        };
        let mut result = self.run_tracked(who, &call, work).await;
        if let Some(slot) = slot {
            let (outcome, message, eval_id) = match &mut result {
                Ok((value, replayed)) => (
                    Outcome::Ok,
                    replayed.then(|| {
                        "answered with the stored result of an earlier call with this idempotency key".to_string()
                    }),
                    value.eval_id(),
                ),
                Err(error) => (outcome_of(error), Some(error.to_string()), None),
            };
            slot.record(who, call.entry(outcome, message, eval_id, started))
                .await;
        }
        result.map(|(value, _)| value)
    }

    /// The work inside its tracked operation, or the stored answer of an earlier call with
    /// the same idempotency key (then `true`).
    async fn run_tracked<T, F>(
        &self,
        who: &Principal,
        call: &WriteCall,
        work: F,
    ) -> Result<(T, bool), ServiceError>
    where
        T: Audited,
        F: Future<Output = Result<T, ServiceError>>,
    {
        let ticket = match self
            .track_begin(
                who,
                call.operation,
                call.namespace.as_deref(),
                call.job_id.as_deref(),
                &call.arguments,
            )
            .await?
        {
            Begin::Untracked => None,
            Begin::Replay(answer) => {
                let operation = call.operation;
                return T::replay(answer).map(|value| (value, true)).ok_or_else(|| {
                    ServiceError::Conflict(format!(
                        "{operation}: the stored answer for this idempotency key cannot be read; use a new key"
                    ))
                });
            }
            Begin::Tracked(ticket) => Some(ticket),
        };
        let mut result = work.await;
        if let Some(ticket) = ticket {
            let tracked = result.as_mut().ok().and_then(|value| value.tracked());
            self.track_finish(ticket, tracked).await;
        }
        result.map(|value| (value, false))
    }
}
