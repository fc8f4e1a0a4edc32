//! Nomad Variables: list and read (keys always, values only when asked and allowed),
//! create or update with check-and-set, delete.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

use super::{Ctx, Kind, Line, Summary, ToolDef, define, define_list};
use crate::mcp::progress::operation_text;
use crate::service::PageRequest;
use crate::service::policy::Access;
use crate::service::variables::{
    VariableChange, VariableDetail, VariablePut, VariableRow, string_items,
};

pub fn tools() -> Vec<ToolDef> {
    vec![
        define_list(
            "list_variables",
            "List variables",
            "List the Nomad Variables of a namespace whose path starts with `prefix`: path, \
             modify index and times, no keys or values. `namespace` `*` lists every namespace \
             you may read. get_variable shows one variable's keys.",
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
            "Show one Nomad Variable: its item keys, modify index (the `cas` for \
             put_variable) and times. Values are secrets: they are shown only with \
             `include_values: true` and the `variables:read` scope; leave them out unless the \
             task needs them.",
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
            "Create a Nomad Variable or replace all of its items (every value a string; at most \
             64 KiB in all). Pass `cas` with the modify index get_variable showed to update only \
             if nobody changed it since (0: create only if it does not exist). Needs the \
             `variables:write` scope; values are never logged or audited.",
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
            "Delete a Nomad Variable and all of its items; tasks that read it lose them. Pass \
             `cas` with the modify index get_variable showed to delete only if nobody changed \
             it since. Deleting a variable that does not exist succeeds. Needs the \
             `variables:write` scope.",
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
        ),
    ]
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListVariablesInput {
    /// A namespace, or `*` for all you may read; the gateway's default when left out.
    #[serde(default)]
    #[schemars(example = &"default")]
    pub namespace: Option<String>,
    /// Only paths that start with this.
    #[serde(default)]
    #[schemars(example = &"nomad/jobs/web")]
    pub prefix: Option<String>,
    /// The `next_cursor` of the previous page; leave out for the first page.
    #[serde(default)]
    #[schemars(example = &"50")]
    pub cursor: Option<String>,
    /// Variables per page (default 50, at most 200).
    #[serde(default)]
    #[schemars(example = 20, range(min = 1, max = 200))]
    pub limit: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetVariableInput {
    /// The variable's path (list_variables shows them).
    #[schemars(example = &"nomad/jobs/web")]
    pub path: String,
    /// The Nomad namespace; the gateway's default when left out.
    #[serde(default)]
    #[schemars(example = &"default")]
    pub namespace: Option<String>,
    /// Also return the values (needs the `variables:read` scope).
    #[serde(default)]
    #[schemars(example = false)]
    pub include_values: bool,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PutVariableInput {
    /// The variable's path: letters, digits, `-`, `_`, `~` and `/`, at most 128 characters.
    #[schemars(example = &"nomad/jobs/web")]
    pub path: String,
    /// The Nomad namespace; the gateway's default when left out.
    #[serde(default)]
    #[schemars(example = &"default")]
    pub namespace: Option<String>,
    /// Key → value (strings); replaces every item the variable had.
    #[serde(deserialize_with = "string_items")]
    #[schemars(example = serde_json::json!({"db_user": "web", "db_password": "s3cret"}))]
    pub items: BTreeMap<String, String>,
    /// Write only if the variable's modify index is this (0: only if it does not exist).
    #[serde(default)]
    #[schemars(example = 0)]
    pub cas: Option<u64>,
    /// Retrying with the same key returns the first call's answer without writing again;
    /// a different request with a used key is refused.
    #[serde(default)]
    #[schemars(example = &"rotate-web-db-2026-12-01")]
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteVariableInput {
    /// The variable's path.
    #[schemars(example = &"nomad/jobs/web")]
    pub path: String,
    /// The Nomad namespace; the gateway's default when left out.
    #[serde(default)]
    #[schemars(example = &"default")]
    pub namespace: Option<String>,
    /// Delete only if the variable's modify index is this.
    #[serde(default)]
    #[schemars(example = 1457)]
    pub cas: Option<u64>,
    /// Retrying with the same key returns the first call's answer without deleting again.
    #[serde(default)]
    #[schemars(example = &"cleanup-web-2026-12-01")]
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
