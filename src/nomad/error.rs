//! Errors of the Nomad adapter, with Nomad's own message text.
//!
//! Nomad answers errors as plain text with a status code; `command/agent/http.go`
//! (`wrap`) maps "Permission denied" and "ACL token not found" to 403, coded errors to
//! their code (404 "job not found", 400 for bad input) and everything else to 500. A
//! register with `EnforceIndex` that loses the race is a 500 whose text starts with
//! "Enforcing job modify index" (`nomad/job_endpoint.go`), which is a conflict, not a
//! server fault.

/// Where the gateway's Nomad token came from, to name it without revealing it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    None,
    Env,
    File(std::path::PathBuf),
}

impl std::fmt::Display for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TokenSource::None => f.write_str("no token (NOMAD_TOKEN is unset)"),
            TokenSource::Env => f.write_str("the token in NOMAD_TOKEN"),
            TokenSource::File(path) => {
                write!(f, "the token in NOMAD_TOKEN_FILE={}", path.display())
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum NomadError {
    /// 404: the object does not exist (or is not visible in that namespace).
    #[error("Nomad could not {operation}: {message}")]
    NotFound {
        operation: &'static str,
        message: String,
    },
    /// 403: the gateway's own token lacks a permission, or Nomad does not know it.
    #[error("Nomad refused to {operation} with {token}: {message}")]
    PermissionDenied {
        operation: &'static str,
        token: TokenSource,
        message: String,
    },
    /// 400: Nomad rejected the request as invalid.
    #[error("Nomad rejected the request to {operation}: {message}")]
    BadRequest {
        operation: &'static str,
        message: String,
    },
    /// The object changed meanwhile (`EnforceIndex`).
    #[error("Nomad could not {operation} because it changed meanwhile: {message}")]
    Conflict {
        operation: &'static str,
        message: String,
    },
    /// No answer: connection refused, timeout, TLS failure.
    #[error("Nomad at {addr} is unreachable ({operation}): {reason}")]
    Unavailable {
        operation: &'static str,
        addr: String,
        reason: String,
    },
    /// 5xx or another unexpected status.
    #[error("Nomad failed to {operation} (HTTP {status}): {message}")]
    Server {
        operation: &'static str,
        status: u16,
        message: String,
    },
    /// A 2xx answer the client could not read.
    #[error("Nomad sent an unreadable answer to {operation}: {reason}")]
    Decode {
        operation: &'static str,
        reason: String,
    },
}

/// Texts of Nomad errors (answered with 500) that are about the request: job validation
/// (go-multierror output of `Job.Validate`), deployment state, dispatch and revert checks.
const REQUEST_PROBLEMS: &[&str] = &[
    "validation failed",
    "Missing job task groups",
    "Missing task group",
    "Invalid job type",
    "can't promote terminal deployment",
    "can't fail terminal deployment",
    "no canaries to promote",
    "Task not running",
    "can't revert to current version",
    " at version ",
    "is not a parameterized job",
    "Dispatch did not provide required meta keys",
    "Payload is not provided",
    "Payload provided but forbidden",
];

impl NomadError {
    /// Classifies an error answer by its status and Nomad's text.
    pub fn from_status(
        operation: &'static str,
        status: u16,
        body: &str,
        token: TokenSource,
    ) -> NomadError {
        let message = body.trim().to_string();
        match status {
            404 => NomadError::NotFound { operation, message },
            403 => NomadError::PermissionDenied {
                operation,
                token,
                message,
            },
            409 => NomadError::Conflict { operation, message },
            _ if message.contains("Enforcing job modify index") => {
                NomadError::Conflict { operation, message }
            }
            // Nomad's RPC layer answers many refusals of the request itself with a 500;
            // these are the caller's to fix, not Nomad failing, and retrying them is futile.
            500 if REQUEST_PROBLEMS.iter().any(|m| message.contains(m)) => {
                NomadError::BadRequest { operation, message }
            }
            400..=499 => NomadError::BadRequest { operation, message },
            _ => NomadError::Server {
                operation,
                status,
                message,
            },
        }
    }

    /// Worth another try for a read: Nomad was unreachable or failed on its side.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            NomadError::Unavailable { .. } | NomadError::Server { .. }
        )
    }
}

#[cfg(test)]
mod classification {
    use super::*;

    #[test]
    fn request_problems_answered_with_500_are_bad_requests() {
        let e = NomadError::from_status(
            "register the job",
            500,
            "1 error occurred:\n\t* Task group web validation failed: Missing tasks for task group\n\n",
            TokenSource::None,
        );
        assert!(matches!(e, NomadError::BadRequest { .. }), "{e:?}");
        assert!(!e.is_transient());
        let e = NomadError::from_status(
            "list jobs",
            500,
            "rpc error: No cluster leader",
            TokenSource::None,
        );
        assert!(matches!(e, NomadError::Server { .. }), "{e:?}");
        assert!(e.is_transient());
    }
}
