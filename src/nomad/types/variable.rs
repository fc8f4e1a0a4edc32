//! Nomad Variables (`nomad/structs/variables.go`): metadata as lists answer it, and the
//! items of one variable. Items are secrets: their `Debug` shows the keys only, so no
//! log line or error built from a value of these types can carry one.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `structs.VariableMetadata`: what `GET /v1/vars` answers per variable, and the part of
/// a check-and-set conflict the gateway reads.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct VariableMetadata {
    pub namespace: String,
    pub path: String,
    pub create_index: u64,
    pub modify_index: u64,
    /// Unix nanoseconds.
    pub create_time: i64,
    pub modify_time: i64,
}

/// A variable's key/value pairs (`structs.VariableItems`).
#[derive(Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct VariableItems(pub BTreeMap<String, String>);

impl std::fmt::Debug for VariableItems {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

/// `structs.VariableDecrypted`: one variable with its items, as `GET /v1/var/:path` and
/// a successful `PUT` answer it. A conflict on a variable that does not exist answers a
/// zero value with `Items: null`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct Variable {
    #[serde(flatten)]
    pub metadata: VariableMetadata,
    #[serde(default, deserialize_with = "super::null_default")]
    pub items: VariableItems,
}

/// The body of `PUT /v1/var/:path`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct VariableUpsert<'a> {
    pub namespace: &'a str,
    pub path: &'a str,
    pub items: &'a VariableItems,
}
