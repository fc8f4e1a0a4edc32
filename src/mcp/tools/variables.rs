//! Nomad Variables: list and read (keys always, values only when asked and allowed),
//! create or update with check-and-set, delete.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

use super::{Ctx, Kind, Line, Summary, ToolDef, define, define_list};
use crate::mcp::progress::operation_text;
use crate::service::PageRequest;
use crate::service::consequences::Change;
use crate::service::policy::Access;
use crate::service::variables::{
    VariableChange, VariableDetail, VariablePut, VariableRow, string_items,
};

pub fn tools() -> Vec<ToolDef> {
    vec![
        define_list(
            "list_variables",
            "List variables",
            "List the Nomad Variables under `prefix` in a namespace (`*`: all you may read): path, \
             modify index and times, no keys or values.",
            Access::Read,
            |ctx: Ctx, input: ListVariablesInput| async move {
                let page = PageRequest::new(input.cursor, input.limit);
                ctx.service
                    .list_variables(
                        &ctx.who,
                        input.namespace.as_deref(),
                        input.prefix.as_deref(),
                        &page,
                    )
                    .await
            },
        ),
        define(
            "get_variable",
            "Get a variable",
            "Show a Nomad Variable: its keys, modify index (the `cas` for put_variable) and times. \
             Values are secrets: shown only with `include_values` and the `variables:read` scope.",
            Kind::Read,
            Access::Read,
            |ctx: Ctx, input: GetVariableInput| async move {
                ctx.service
                    .get_variable(
                        &ctx.who,
                        &input.path,
                        input.namespace.as_deref(),
                        input.include_values,
                    )
                    .await
            },
        ),
        define(
            "put_variable",
            "Create or update a variable",
            "Create a Nomad Variable or replace all its items (string values, 64 KiB in all); \
             `cas` updates only if its modify index is still that (0: create only). Needs \
             `variables:write`.",
            Kind::Idempotent,
            Access::VariablesWrite,
            |ctx: Ctx, input: PutVariableInput| async move {
                let request = VariablePut {
                    namespace: input.namespace,
                    items: input.items,
                    cas: input.cas,
                };
                let service = ctx.writing(input.idempotency_key.clone(), None);
                let put = service.put_variable(&ctx.who, &input.path, request);
                ctx.write(&service, None, put).await
            },
        ),
        define(
            "delete_variable",
            "Delete a variable",
            "Delete a Nomad Variable and all its items; `cas` deletes only if its modify index is \
             still that. Deleting a missing one succeeds. Needs `variables:write`.",
            Kind::Destructive { idempotent: true },
            Access::VariablesWrite,
            |ctx: Ctx, input: DeleteVariableInput| async move {
                let service = ctx.writing(input.idempotency_key.clone(), None);
                let delete = service.delete_variable(
                    &ctx.who,
                    &input.path,
                    input.namespace.as_deref(),
                    input.cas,
                );
                ctx.write(&service, None, delete).await
            },
        )
        .asks(|i: DeleteVariableInput| Change::DeleteVariable {
            path: i.path,
            namespace: i.namespace,
        }),
    ]
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListVariablesInput {
    #[serde(default)]
    pub namespace: Option<String>,
    /// Only paths that start with this.
    #[serde(default)]
    pub prefix: Option<String>,
    #[serde(default)]
    pub cursor: Option<String>,
    #[serde(default)]
    #[schemars(range(min = 1, max = 200))]
    pub limit: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetVariableInput {
    /// The variable's path (list_variables shows them).
    pub path: String,
    #[serde(default)]
    pub namespace: Option<String>,
    /// Also return the values (needs the `variables:read` scope).
    #[serde(default)]
    pub include_values: bool,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PutVariableInput {
    /// The variable's path: letters, digits, `-`, `_`, `~` and `/`, at most 128 characters.
    pub path: String,
    #[serde(default)]
    pub namespace: Option<String>,
    /// Key → value (strings); replaces every item the variable had.
    #[serde(deserialize_with = "string_items")]
    pub items: BTreeMap<String, String>,
    /// Write only if the variable's modify index is this (0: only if it does not exist).
    #[serde(default)]
    pub cas: Option<u64>,
    /// Retries with this key change nothing again.
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteVariableInput {
    /// The variable's path.
    pub path: String,
    #[serde(default)]
    pub namespace: Option<String>,
    /// Delete only if the variable's modify index is this.
    #[serde(default)]
    pub cas: Option<u64>,
    /// Retries with this key change nothing again.
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

impl Line for VariableRow {
    fn line(&self) -> String {
        format!(
            "{} (namespace {}) modify index {}{}",
            self.path,
            self.namespace,
            self.modify_index,
            self.modified_at
                .as_deref()
                .map(|t| format!(", modified {t}"))
                .unwrap_or_default()
        )
    }
}

impl Summary for VariableDetail {
    fn summary(&self) -> String {
        let head = format!(
            "Variable '{}' in namespace '{}' at modify index {}",
            self.path, self.namespace, self.modify_index
        );
        match &self.items {
            // Asked for: the caller needs them, and some clients read only the text.
            Some(items) => {
                let pairs: Vec<String> = items.iter().map(|(k, v)| format!("{k}={v}")).collect();
                format!("{head}:\n{}", pairs.join("\n"))
            }
            None => format!(
                "{head}: keys {}; values not shown (include_values: true, with the variables:read scope).",
                self.keys.join(", ")
            ),
        }
    }
}

impl Summary for VariableChange {
    fn summary(&self) -> String {
        let index = self
            .modify_index
            .map(|i| format!(" at modify index {i}"))
            .unwrap_or_default();
        let keys = if self.keys.is_empty() {
            String::new()
        } else {
            format!(" (keys {})", self.keys.join(", "))
        };
        format!(
            "Variable '{}' in namespace '{}' {}{index}{keys}.{}",
            self.path,
            self.namespace,
            self.result,
            operation_text(&self.operation, &self.not_followed)
        )
    }
}
