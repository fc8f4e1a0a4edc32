//! The service layer's error: what went wrong in words a caller can act on. REST maps it
//! to problem documents, MCP to tool errors; neither adds logic.

use crate::nomad::NomadError;

/// One invalid field of a request.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct FieldError {
    /// The field's path in the request (`ports[1].static`).
    pub field: String,
    /// What is wrong and what is allowed.
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("invalid request: {}", summary(.0))]
    Validation(Vec<FieldError>),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// Nomad refused the request as invalid (a job it cannot accept).
    #[error("{0}")]
    Rejected(String),
    #[error("{0}")]
    NomadUnavailable(String),
    /// The gateway's own database did not answer (never reported as Nomad's fault).
    #[error("{0}")]
    DatabaseUnavailable(String),
    #[error("{0}")]
    NomadFailed(String),
    /// Nomad refused the gateway's own token: an operator has to fix its policy.
    #[error("the gateway's Nomad token lacks a permission: {0}")]
    NomadPermission(String),
    /// The caller may not do this (scope, namespace, read-only gateway); `missing_scope`
    /// names the scope when that is the reason.
    #[error("{message}")]
    Forbidden {
        message: String,
        missing_scope: Option<crate::service::policy::Scope>,
    },
    /// The caller used up a budget; try again after `retry_after`.
    #[error("rate limit reached: {message}; retry in {} s", .retry_after.as_secs())]
    RateLimited {
        message: String,
        retry_after: std::time::Duration,
    },
    /// The gateway itself failed (not Nomad, not the database): a bug or the host.
    #[error("the gateway failed: {0}")]
    Internal(String),
    /// The audit log cannot take the event, so the write does not run.
    #[error("{0}")]
    AuditUnavailable(crate::service::audit::Unavailable),
}

fn summary(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(|e| format!("{}: {}", e.field, e.message))
        .collect::<Vec<_>>()
        .join("; ")
}

impl ServiceError {
    /// The gateway's database failed; the cause is logged here, the caller gets `doing`
    /// ("nothing was sent to Nomad") and a hint to retry.
    pub fn database(error: impl std::fmt::Display, doing: &str) -> ServiceError {
        tracing::warn!(%error, "the gateway's database did not answer");
        ServiceError::DatabaseUnavailable(format!(
            "the gateway's database is unavailable; {doing}retry shortly"
        ))
    }

    /// Translates a Nomad failure; `not_found` says what was missing in the caller's terms
    /// ("job 'web' not found in namespace 'dev'").
    pub fn from_nomad(error: NomadError, not_found: impl FnOnce() -> String) -> ServiceError {
        match error {
            NomadError::NotFound { .. } => ServiceError::NotFound(not_found()),
            NomadError::Conflict { .. } => ServiceError::Conflict(error.to_string()),
            NomadError::BadRequest { .. } => ServiceError::Rejected(error.to_string()),
            NomadError::PermissionDenied { .. } => ServiceError::NomadPermission(error.to_string()),
            NomadError::Unavailable { .. } => ServiceError::NomadUnavailable(error.to_string()),
            NomadError::Server { ref message, .. } => match missing_namespace(message) {
                // Nomad answers a write into a namespace that does not exist with a 500
                // (`job "x" is in nonexistent namespace "y"`, from its state store).
                Some(namespace) => ServiceError::NotFound(format!(
                    "namespace '{namespace}' does not exist in Nomad; list the namespaces to see which do"
                )),
                None => ServiceError::NomadFailed(error.to_string()),
            },
            NomadError::Decode { .. } => ServiceError::NomadFailed(error.to_string()),
        }
    }
}

/// The namespace named in Nomad's "nonexistent namespace" error, if that is the error.
fn missing_namespace(message: &str) -> Option<&str> {
    let rest = &message[message.find("nonexistent namespace")? + "nonexistent namespace".len()..];
    let name = rest.trim().trim_matches(|c| c == '"' || c == '\'');
    let name = name.split(['"', '\'', ' ', '\n']).next().unwrap_or(name);
    (!name.is_empty()).then_some(name)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_missing_namespace_is_read_from_nomads_message() {
        assert_eq!(
            super::missing_namespace("job \"web\" is in nonexistent namespace \"dev\""),
            Some("dev")
        );
        assert_eq!(super::missing_namespace("rpc error: leader lost"), None);
    }
}
