//! Nomad Variables: the store keyed by namespace and path, with Nomad's validation and
//! check-and-set rules (`nomad/structs/variables.go` Validate and validatePath,
//! `nomad/state/state_store_variables.go` varSetCASTxn, varSetTxn, svDeleteCASTxn and
//! svDeleteTxn at Nomad 1.11).
//!
//! As in Nomad, the namespace a variable is written to need not exist (Nomad never checks:
//! hashicorp/nomad#15379), and a write whose Items equal the stored ones still counts as a
//! change: Nomad's state store skips only an entry equal to the stored one, encrypted bytes
//! included, and each write encrypts with a fresh nonce and sets a new ModifyTime, so that
//! never happens (Nomad's own `api/variables_test.go` keeps its "update sv1 no change" case
//! commented out for that reason).

use std::collections::BTreeMap;

use super::{World, now_ns};

/// The unencrypted size Nomad allows a variable's Items (keys and values): 64 KiB.
pub const MAX_VARIABLE_SIZE: usize = 65_536;

/// A variable as Nomad stores it (`structs.VariableDecrypted`, without a lock).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variable {
    pub namespace: String,
    pub path: String,
    /// Empty only in the zero value a check-and-set conflict answers for a variable that
    /// does not exist (rendered `"Items": null`).
    pub items: BTreeMap<String, String>,
    pub create_index: u64,
    pub create_time: i64,
    pub modify_index: u64,
    pub modify_time: i64,
}

impl Variable {
    /// What Nomad answers as the conflicting variable when a check-and-set expected one
    /// that does not exist: namespace and path, everything else zero.
    pub fn zero(namespace: &str, path: &str) -> Variable {
        Variable {
            namespace: namespace.into(),
            path: path.into(),
            items: BTreeMap::new(),
            create_index: 0,
            create_time: 0,
            modify_index: 0,
            modify_time: 0,
        }
    }
}

/// What a write on a variable came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VarOutcome {
    /// Written: the variable as stored now; for a delete, the variable removed (`None`
    /// when there was none, which is a success too).
    Done(Option<Variable>),
    /// The check-and-set index did not match: the variable as it is (or its zero value).
    Conflict(Variable),
    /// Nomad refused the request: status and message (validation errors are plain RPC
    /// errors, which Nomad's HTTP layer answers with 500).
    Refused(u16, String),
}

/// `VariableDecrypted.Validate` for a set: the namespace, the Items' size, then the path.
pub fn validate(
    namespace: &str,
    path: &str,
    items: &BTreeMap<String, String>,
) -> Result<(), String> {
    if namespace == "*" {
        return Err("can not target wildcard (\"*\")namespace".into());
    }
    if items.is_empty() {
        return Err("empty variables are invalid".into());
    }
    let size: usize = items.iter().map(|(k, v)| k.len() + v.len()).sum();
    if size > MAX_VARIABLE_SIZE {
        return Err("variables are limited to 64KiB in total size".into());
    }
    validate_path(path)
}

/// `validatePath`: `^[a-zA-Z0-9-_~/]{1,128}$`, and under `nomad/` only `nomad/jobs...` and
/// `nomad/job-templates/<name>`.
pub fn validate_path(path: &str) -> Result<(), String> {
    if path.is_empty() {
        return Err("variable requires path".into());
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '~' | '/');
    if path.len() > 128 || !path.chars().all(allowed) {
        return Err(format!("invalid path {path:?}"));
    }
    let parts: Vec<&str> = path.split('/').collect();
    if parts[0] != "nomad" {
        return Ok(());
    }
    match parts.get(1) {
        None => Err("\"nomad\" is a reserved top-level directory path, but you may write variables to \"nomad/jobs\", \"nomad/job-templates\", or below".into()),
        Some(&"jobs") => Ok(()),
        Some(&"job-templates") if parts.len() == 3 => Ok(()),
        Some(&"job-templates") => Err("\"nomad/job-templates\" is a reserved directory path, but you may write variables at the level below it, for example, \"nomad/job-templates/template-name\"".into()),
        Some(_) => Err("only paths at \"nomad/jobs\" or \"nomad/job-templates\" and below are valid paths under the top-level \"nomad\" directory".into()),
    }
}

impl World {
    pub fn variable(&self, namespace: &str, path: &str) -> Option<&Variable> {
        self.variables
            .get(&(namespace.to_string(), path.to_string()))
    }

    /// The variables table's index as Nomad reports it for lists and misses: the index of
    /// the last variable write, at least 1 (`setReplyQueryMeta`).
    pub fn variables_table_index(&self) -> u64 {
        self.variables_index.max(1)
    }

    /// Sets a variable (`VarOpSet`, or `VarOpCAS` with `cas`): validation first, then the
    /// check-and-set, then the write at a new index; an existing variable keeps its
    /// CreateIndex and CreateTime.
    pub fn set_variable(
        &mut self,
        namespace: &str,
        path: &str,
        items: BTreeMap<String, String>,
        cas: Option<u64>,
    ) -> VarOutcome {
        if let Err(message) = validate(namespace, path, &items) {
            return VarOutcome::Refused(500, message);
        }
        let key = (namespace.to_string(), path.to_string());
        let existing = self.variables.get(&key);
        if let Some(cas) = cas {
            match existing {
                Some(v) if cas == 0 || cas != v.modify_index => {
                    return VarOutcome::Conflict(v.clone());
                }
                None if cas != 0 => return VarOutcome::Conflict(Variable::zero(namespace, path)),
                _ => {}
            }
        }
        let created = existing.map(|v| (v.create_index, v.create_time));
        let now = now_ns();
        let index = self.bump();
        self.variables_index = index;
        let (create_index, create_time) = created.unwrap_or((index, now));
        let variable = Variable {
            namespace: namespace.into(),
            path: path.into(),
            items,
            create_index,
            create_time,
            modify_index: index,
            modify_time: now,
        };
        self.variables.insert(key, variable.clone());
        VarOutcome::Done(Some(variable))
    }

    /// Deletes a variable (`VarOpDelete`, or `VarOpDeleteCAS` with `cas`). Deleting one that
    /// does not exist succeeds without changing anything; with `cas=0` that is the only
    /// success (delete-if-absent).
    pub fn delete_variable(&mut self, namespace: &str, path: &str, cas: Option<u64>) -> VarOutcome {
        let key = (namespace.to_string(), path.to_string());
        let existing = self.variables.get(&key);
        if let Some(cas) = cas {
            match existing {
                None if cas == 0 => return VarOutcome::Done(None),
                None => return VarOutcome::Conflict(Variable::zero(namespace, path)),
                Some(v) if cas == 0 || cas != v.modify_index => {
                    return VarOutcome::Conflict(v.clone());
                }
                Some(_) => {}
            }
        }
        let removed = self.variables.remove(&key);
        if removed.is_some() {
            self.variables_index = self.bump();
        }
        VarOutcome::Done(removed)
    }
}
