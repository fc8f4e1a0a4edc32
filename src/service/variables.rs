//! Nomad Variables: list and read their metadata (path, keys, indexes and times) with
//! `nomad:read`; read their values only with `variables:read` and only when asked; create,
//! update (with check-and-set) and delete them with `variables:write`.
//!
//! Values are secrets end to end: they go to Nomad and, when asked for, to the caller, and
//! nowhere else. Audit rows and tracked operations record the keys (`redact` turns an
//! `items` object into its keys); errors name keys, never values; the Nomad adapter drops
//! the items of a conflicting variable before anything can print them.
//!
//! Nomad's own validation (`nomad/structs/variables.go`, `VariableDecrypted.Validate` and
//! `validatePath`) answers with a 500, which would read as Nomad failing; the same rules
//! are checked here first, so a bad path or empty items is a 400 that sends nothing.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::guard::WriteCall;
use super::jobs::invalid;
use super::{FieldError, Page, PageRequest, Principal, Service, ServiceError, timestamp};
use crate::nomad::VariableWrite;
use crate::nomad::types::{VariableItems, VariableMetadata};
use crate::service::policy::Access;

/// Nomad's limit on a variable's items: keys and values together (`maxVariableSize`).
pub const MAX_ITEMS_BYTES: usize = 64 * 1024;
/// Nomad's limit on a path's length (`validVariablePath`).
pub const MAX_PATH: usize = 128;

/// A variable as lists show it: no keys, no values.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct VariableRow {
    pub path: String,
    pub namespace: String,
    pub create_index: u64,
    /// The index a check-and-set update or delete names (`cas`).
    pub modify_index: u64,
    pub created_at: Option<String>,
    pub modified_at: Option<String>,
}

impl From<VariableMetadata> for VariableRow {
    fn from(m: VariableMetadata) -> Self {
        VariableRow {
            created_at: timestamp(m.create_time),
            modified_at: timestamp(m.modify_time),
            path: m.path,
            namespace: m.namespace,
            create_index: m.create_index,
            modify_index: m.modify_index,
        }
    }
}

/// One variable: its keys always, its values only when asked for with `variables:read`.
#[derive(Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct VariableDetail {
    pub path: String,
    pub namespace: String,
    /// The item keys, sorted.
    pub keys: Vec<String>,
    /// Key → value; present only when values were asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items: Option<BTreeMap<String, String>>,
    pub create_index: u64,
    pub modify_index: u64,
    pub created_at: Option<String>,
    pub modified_at: Option<String>,
}

impl std::fmt::Debug for VariableDetail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VariableDetail")
            .field("path", &self.path)
            .field("namespace", &self.namespace)
            .field("keys", &self.keys)
            .field("modify_index", &self.modify_index)
            .finish_non_exhaustive()
    }
}

/// Create or replace a variable's items.
#[derive(Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VariablePut {
    /// The Nomad namespace; the gateway's default when left out.
    #[serde(default)]
    pub namespace: Option<String>,
    /// Key → value, every value a string; replaces all of the variable's items.
    #[serde(deserialize_with = "string_items")]
    #[schema(value_type = BTreeMap<String, String>)]
    pub items: BTreeMap<String, String>,
    /// Check-and-set: write only if the variable's modify index is this (0: only if it
    /// does not exist yet). Leave out to write whatever is there.
    #[serde(default)]
    pub cas: Option<u64>,
}

impl std::fmt::Debug for VariablePut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VariablePut")
            .field("namespace", &self.namespace)
            .field("keys", &self.items.keys().collect::<Vec<_>>())
            .field("cas", &self.cas)
            .finish()
    }
}

/// Items whose values are strings. serde's own message for a value of another type
/// quotes it ("invalid type: integer `1234`"); this one names the key only.
pub fn string_items<'de, D>(deserializer: D) -> Result<BTreeMap<String, String>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let serde_json::Value::Object(raw) = serde_json::Value::deserialize(deserializer)? else {
        return Err(serde::de::Error::custom(
            "items must be an object of key → string value, such as {\"user\": \"web\"}",
        ));
    };
    raw.into_iter()
        .map(|(key, value)| match value {
            serde_json::Value::String(text) => Ok((key, text)),
            _ => Err(serde::de::Error::custom(format!(
                "the value of item '{key}' is not a string; Nomad stores every value as text"
            ))),
        })
        .collect()
}

/// What a write did.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct VariableChange {
    pub path: String,
    pub namespace: String,
    /// `written`, `deleted`, or `unchanged` should Nomad report that nothing was written.
    pub result: String,
    /// The item keys written, sorted; empty for a delete.
    pub keys: Vec<String>,
    /// The variable's modify index after the write (the `cas` of the next update); absent
    /// for a delete.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modify_index: Option<u64>,
    /// The operation that records this write (`GET /api/v1/operations/{id}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation_id: Option<String>,
    /// With `wait`: the operation as it stood when the wait ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<crate::operations::Operation>,
    /// With `wait`, when the write could not be followed: why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_followed: Option<String>,
}

/// Nomad's rules for a variable path (`validatePath`), as field errors.
pub fn check_path(path: &str) -> Result<(), ServiceError> {
    let bad = |message: String| Err(invalid("path", message));
    if path.is_empty() {
        return bad("is empty; name the variable's path, such as 'app/config'".into());
    }
    if path.len() > MAX_PATH {
        return bad(format!(
            "is {} characters long; Nomad allows at most {MAX_PATH}",
            path.len()
        ));
    }
    if let Some(c) = path
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '~' | '/')))
    {
        return bad(format!(
            "'{path}' has '{c}'; a path may hold letters, digits, '-', '_', '~' and '/'"
        ));
    }
    let parts: Vec<&str> = path.split('/').collect();
    if parts[0] != "nomad" {
        return Ok(());
    }
    match parts.get(1) {
        None => bad("'nomad' is reserved; write below 'nomad/jobs' or 'nomad/job-templates'".into()),
        Some(&"jobs") => Ok(()),
        Some(&"job-templates") if parts.len() == 3 => Ok(()),
        Some(&"job-templates") => bad(
            "under 'nomad/job-templates' a variable is one level down, such as 'nomad/job-templates/web'".into(),
        ),
        Some(_) => bad(
            "below 'nomad/' only 'nomad/jobs/...' and 'nomad/job-templates/<name>' may be written".into(),
        ),
    }
}

/// Nomad's rules for items (`VariableDecrypted.Validate`): at least one, 64 KiB in all.
fn check_items(items: &BTreeMap<String, String>) -> Result<(), ServiceError> {
    let mut errors = Vec::new();
    if items.is_empty() {
        errors.push(FieldError {
            field: "items".into(),
            message: "is empty; a variable holds at least one item (delete_variable removes one)"
                .into(),
        });
    }
    if items.keys().any(String::is_empty) {
        errors.push(FieldError {
            field: "items".into(),
            message: "has an empty key; name every item".into(),
        });
    }
    let size: usize = items.iter().map(|(k, v)| k.len() + v.len()).sum();
    if size > MAX_ITEMS_BYTES {
        errors.push(FieldError {
            field: "items".into(),
            message: format!(
                "hold {size} bytes of keys and values; Nomad allows at most {MAX_ITEMS_BYTES}"
            ),
        });
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ServiceError::Validation(errors))
    }
}

fn conflict(
    path: &str,
    namespace: &str,
    cas: Option<u64>,
    current: &VariableMetadata,
) -> ServiceError {
    let asked = cas.map(|c| format!(" (cas {c})")).unwrap_or_default();
    let now = if current.modify_index == 0 {
        format!(
            "variable '{path}' does not exist in namespace '{namespace}'; use cas 0 to create it only if it is still missing"
        )
    } else {
        format!(
            "variable '{path}' in namespace '{namespace}' is at modify index {}; read it again (get_variable) and retry with cas {}",
            current.modify_index, current.modify_index
        )
    };
    ServiceError::Conflict(format!("check-and-set failed{asked}: {now}"))
}

fn sorted_keys(items: &BTreeMap<String, String>) -> Vec<String> {
    items.keys().cloned().collect()
}

impl Service {
    /// The variables of a namespace (`*`: of every namespace the caller may read) whose
    /// path starts with `prefix`, without keys or values.
    pub async fn list_variables(
        &self,
        who: &Principal,
        namespace: Option<&str>,
        prefix: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<VariableRow>, ServiceError> {
        let namespace = self.namespace(namespace);
        self.allow(who, Access::Read, Some(&namespace), "list_variables")
            .await?;
        page.limit()?;
        page.offset()?;
        let mut options = self.in_namespace(&namespace);
        options.prefix = prefix.filter(|p| !p.is_empty()).map(String::from);
        let listed = self
            .nomad
            .list_variables(&options)
            .await
            .map_err(|e| {
                ServiceError::from_nomad(e, || format!("namespace '{namespace}' not found"))
            })?
            .value;
        let mut rows: Vec<VariableRow> = listed
            .into_iter()
            .filter(|m| who.namespaces.allows(&m.namespace))
            .map(VariableRow::from)
            .collect();
        rows.sort_by(|a, b| (&a.namespace, &a.path).cmp(&(&b.namespace, &b.path)));
        page.of(rows)
    }

    /// One variable's keys and indexes; its values too with `values` (and the
    /// `variables:read` scope).
    pub async fn get_variable(
        &self,
        who: &Principal,
        path: &str,
        namespace: Option<&str>,
        values: bool,
    ) -> Result<VariableDetail, ServiceError> {
        let namespace = self.namespace(namespace);
        self.allow(who, Access::Read, Some(&namespace), "get_variable")
            .await?;
        if values {
            self.permit(who, Access::VariablesRead, Some(&namespace), "get_variable")?;
        }
        let namespace = one_namespace(namespace)?;
        check_path(path)?;
        let variable = self
            .nomad
            .read_variable(path, &self.in_namespace(&namespace))
            .await
            .map_err(|e| {
                ServiceError::from_nomad(e, || {
                    format!(
                        "variable '{path}' not found in namespace '{namespace}'; list_variables (GET /api/v1/variables) shows the paths"
                    )
                })
            })?
            .value;
        let VariableItems(items) = variable.items;
        let m = variable.metadata;
        Ok(VariableDetail {
            keys: sorted_keys(&items),
            items: values.then_some(items),
            created_at: timestamp(m.create_time),
            modified_at: timestamp(m.modify_time),
            path: m.path,
            namespace: m.namespace,
            create_index: m.create_index,
            modify_index: m.modify_index,
        })
    }

    /// Creates or replaces a variable's items (`variables:write`).
    pub async fn put_variable(
        &self,
        who: &Principal,
        path: &str,
        request: VariablePut,
    ) -> Result<VariableChange, ServiceError> {
        let namespace = self.namespace(request.namespace.as_deref());
        // `items` is recorded as its keys (see `audit::redact`).
        let call = WriteCall::variable(
            "put_variable",
            &namespace,
            serde_json::json!({"path": path, "items": request.items, "cas": request.cas}),
        );
        self.audited(who, call, async {
            let namespace = one_namespace(namespace.clone())?;
            check_path(path)?;
            check_items(&request.items)?;
            let keys = sorted_keys(&request.items);
            let items = VariableItems(request.items);
            let answer = self
                .nomad
                .put_variable(&namespace, path, &items, request.cas)
                .await
                .map_err(|e| {
                    ServiceError::from_nomad(e, || format!("namespace '{namespace}' not found"))
                })?;
            match answer {
                // `null` would mean nothing was written (`state_store_variables.go`,
                // varSetTxn); Nomad encrypts each write afresh, so it does not happen.
                VariableWrite::Done(written) => Ok(VariableChange {
                    path: path.to_string(),
                    namespace: namespace.clone(),
                    result: if written.is_some() {
                        "written"
                    } else {
                        "unchanged"
                    }
                    .into(),
                    keys,
                    modify_index: written.map(|m| m.modify_index),
                    operation_id: None,
                    operation: None,
                    not_followed: None,
                }),
                VariableWrite::Conflict(current) => {
                    Err(conflict(path, &namespace, request.cas, &current))
                }
            }
        })
        .await
    }

    /// Deletes a variable (`variables:write`); with `cas`, only at that modify index.
    /// Deleting one that does not exist succeeds, as in Nomad.
    pub async fn delete_variable(
        &self,
        who: &Principal,
        path: &str,
        namespace: Option<&str>,
        cas: Option<u64>,
    ) -> Result<VariableChange, ServiceError> {
        let namespace = self.namespace(namespace);
        let call = WriteCall::variable(
            "delete_variable",
            &namespace,
            serde_json::json!({"path": path, "cas": cas}),
        );
        self.audited(who, call, async {
            let namespace = one_namespace(namespace.clone())?;
            check_path(path)?;
            let answer = self
                .nomad
                .delete_variable(&namespace, path, cas)
                .await
                .map_err(|e| {
                    ServiceError::from_nomad(e, || format!("namespace '{namespace}' not found"))
                })?;
            match answer {
                VariableWrite::Done(_) => Ok(VariableChange {
                    path: path.to_string(),
                    namespace: namespace.clone(),
                    result: "deleted".into(),
                    keys: Vec::new(),
                    modify_index: None,
                    operation_id: None,
                    operation: None,
                    not_followed: None,
                }),
                VariableWrite::Conflict(current) => Err(conflict(path, &namespace, cas, &current)),
            }
        })
        .await
    }
}

/// A variable lives in one namespace: `*` names none.
fn one_namespace(namespace: String) -> Result<String, ServiceError> {
    if namespace == "*" {
        return Err(invalid(
            "namespace",
            "a variable is in one namespace; list the variables with namespace '*' to see which",
        ));
    }
    Ok(namespace)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(path: &str) -> String {
        match check_path(path) {
            Err(ServiceError::Validation(errors)) => errors[0].message.clone(),
            other => panic!("{path}: {other:?}"),
        }
    }

    #[test]
    fn paths_follow_nomads_rules() {
        for good in [
            "app/config",
            "a",
            "nomad/jobs",
            "nomad/jobs/web/task",
            "nomad/job-templates/web",
            "A-b_c~d/e",
        ] {
            assert!(check_path(good).is_ok(), "{good}");
        }
        assert!(refused("").contains("empty"));
        assert!(refused(&"a".repeat(129)).contains("at most 128"));
        assert!(refused("app/config.json").contains("'.'"));
        assert!(refused("app config").contains("' '"));
        assert!(refused("nomad").contains("reserved"));
        assert!(refused("nomad/job-templates").contains("one level down"));
        assert!(refused("nomad/job-templates/a/b").contains("one level down"));
        assert!(refused("nomad/other").contains("only 'nomad/jobs/...'"));
    }

    #[test]
    fn item_errors_never_quote_a_value() {
        let items: BTreeMap<String, String> =
            [("password".to_string(), "x".repeat(MAX_ITEMS_BYTES))].into();
        let text = check_items(&items).unwrap_err().to_string();
        assert!(
            text.contains("at most 65536") && !text.contains("xxx"),
            "{text}"
        );
        assert!(check_items(&BTreeMap::new()).is_err());
        let wrong: Result<VariablePut, _> =
            serde_json::from_str(r#"{"items": {"pin": 123456789}}"#);
        let text = wrong.err().unwrap().to_string();
        assert!(
            text.contains("'pin'") && !text.contains("123456789"),
            "{text}"
        );
        let wrong: Result<VariablePut, _> = serde_json::from_str(r#"{"items": "pin=987654"}"#);
        let text = wrong.err().unwrap().to_string();
        assert!(
            text.contains("object") && !text.contains("987654"),
            "{text}"
        );
    }
}
