//! `/v1/vars` and `/v1/var/:path`: Nomad Variables (`command/agent/variable_endpoint.go`).
//!
//! A check-and-set that loses answers 409 with the variable as it is (its items too when
//! the token may read them, and a zero value when it does not exist); that answer is read
//! into its metadata here and its items dropped at once. An answer that cannot be read is
//! reported without serde's text, which could quote a value.

use reqwest::{Method, StatusCode};

use crate::nomad::client::{Call, NomadClient};
use crate::nomad::error::NomadError;
use crate::nomad::query::{QueryOptions, Response};
use crate::nomad::types::{Variable, VariableItems, VariableMetadata, VariableUpsert};

/// What a check-and-set write came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VariableWrite {
    /// Written (or deleted); the metadata of the written variable. None for a delete, and
    /// should Nomad answer `null` to a write: its state store skips an entry equal to the
    /// stored one, ciphertext included, which a fresh encryption never is.
    Done(Option<VariableMetadata>),
    /// The check-and-set index did not match: the variable as it is (a zero index when it
    /// does not exist).
    Conflict(VariableMetadata),
}

/// The URL of a variable: the path keeps its slashes (Nomad reads everything after
/// `/v1/var/` as the path); its characters are checked by the caller against Nomad's
/// `^[a-zA-Z0-9-_~/]{1,128}$`, none of which needs escaping.
fn url(path: &str) -> String {
    format!("/v1/var/{path}")
}

fn unreadable(operation: &'static str, error: NomadError) -> NomadError {
    match error {
        NomadError::Decode { .. } => NomadError::Decode {
            operation,
            reason: "the variable in the answer is not in Nomad's shape (its text is not shown: it may hold values)".into(),
        },
        other => other,
    }
}

fn cas_pair(cas: Option<u64>) -> Vec<(&'static str, String)> {
    cas.map(|index| vec![("cas", index.to_string())])
        .unwrap_or_default()
}

impl NomadClient {
    /// The variables of a namespace (`*`: every namespace the token may list) whose path
    /// starts with `prefix` (in `options`): metadata only.
    pub async fn list_variables(
        &self,
        options: &QueryOptions,
    ) -> Result<Response<Vec<VariableMetadata>>, NomadError> {
        let call = Call {
            operation: "list variables",
            template: "/v1/vars",
            path: "/v1/vars".into(),
        };
        self.get(call, options, &[]).await
    }

    /// One variable with its items; 404 when it does not exist.
    pub async fn read_variable(
        &self,
        path: &str,
        options: &QueryOptions,
    ) -> Result<Response<Variable>, NomadError> {
        let call = Call {
            operation: "read the variable",
            template: "/v1/var/{path}",
            path: url(path),
        };
        self.get(call, options, &[])
            .await
            .map_err(|e| unreadable("read the variable", e))
    }

    /// Creates or replaces a variable's items; with `cas`, only if its modify index is
    /// that (0: only if it does not exist).
    pub async fn put_variable(
        &self,
        namespace: &str,
        path: &str,
        items: &VariableItems,
        cas: Option<u64>,
    ) -> Result<VariableWrite, NomadError> {
        let call = Call {
            operation: "write the variable",
            template: "/v1/var/{path}",
            path: url(path),
        };
        let body = VariableUpsert {
            namespace,
            path,
            items,
        };
        let answer: Result<Option<VariableMetadata>, VariableMetadata> = self
            .write_or_refused(
                call,
                Method::PUT,
                &QueryOptions::namespace(namespace),
                &cas_pair(cas),
                Some(&body),
                StatusCode::CONFLICT,
            )
            .await
            .map_err(|e| unreadable("write the variable", e))?;
        Ok(match answer {
            Ok(written) => VariableWrite::Done(written),
            Err(current) => VariableWrite::Conflict(current),
        })
    }

    /// Deletes a variable (deleting one that does not exist succeeds); with `cas`, only
    /// if its modify index is that. Nomad answers 204 without a body (its documentation's
    /// sample shows `{"Index": ...}`; either is read).
    pub async fn delete_variable(
        &self,
        namespace: &str,
        path: &str,
        cas: Option<u64>,
    ) -> Result<VariableWrite, NomadError> {
        let call = Call {
            operation: "delete the variable",
            template: "/v1/var/{path}",
            path: url(path),
        };
        let answer: Result<serde::de::IgnoredAny, VariableMetadata> = self
            .write_or_refused(
                call,
                Method::DELETE,
                &QueryOptions::namespace(namespace),
                &cas_pair(cas),
                None::<&()>,
                StatusCode::CONFLICT,
            )
            .await
            .map_err(|e| unreadable("delete the variable", e))?;
        Ok(match answer {
            Ok(_) => VariableWrite::Done(None),
            Err(current) => VariableWrite::Conflict(current),
        })
    }
}
