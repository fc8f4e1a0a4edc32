//! CSI and dynamic host volumes.

use schemars::JsonSchema;
use serde::Deserialize;

use super::{Ctx, Kind, Line, Summary, ToolDef, define, define_list};
use crate::service::PageRequest;
use crate::service::lookup::{VolumeDetail, VolumeRow};
use crate::service::policy::Access;

pub fn tools() -> Vec<ToolDef> {
    vec![
        define_list(
            "list_volumes",
            "List volumes",
            "List CSI and dynamic host volumes in a namespace (`*`: all): plugin, status, access \
             mode and claims, or node and capacity.",
            Access::Read,
            |ctx: Ctx, input: ListVolumesInput| async move {
                let page = PageRequest::new(input.cursor, input.limit);
                ctx.service
                    .list_volumes(
                        &ctx.who,
                        input.kind.as_deref(),
                        input.namespace.as_deref(),
                        &page,
                    )
                    .await
            },
        ),
        define(
            "get_volume",
            "Get a volume",
            "Show a CSI or host volume: status, requested capabilities, plugin health or host \
             path, and the allocations that claim it.",
            Kind::Read,
            Access::Read,
            |ctx: Ctx, input: VolumeRef| async move {
                ctx.service
                    .get_volume(
                        &ctx.who,
                        &input.volume_id,
                        input.kind.as_deref(),
                        input.namespace.as_deref(),
                    )
                    .await
            },
        ),
    ]
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListVolumesInput {
    /// `csi` or `host` (default: both).
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub cursor: Option<String>,
    #[serde(default)]
    #[schemars(range(min = 1, max = 200))]
    pub limit: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VolumeRef {
    /// The volume's ID (list_volumes shows it).
    pub volume_id: String,
    /// `csi` or `host` (default: either).
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub namespace: Option<String>,
}

impl Line for VolumeRow {
    fn line(&self) -> String {
        let detail = match (&self.access_mode, &self.node_id) {
            (Some(mode), _) => format!(
                "{mode}, {} reader(s), {} writer(s)",
                self.readers.unwrap_or(0),
                self.writers.unwrap_or(0)
            ),
            (None, Some(node)) => format!("on node {node}"),
            (None, None) => String::new(),
        };
        format!(
            "{} {} '{}' ({}): {}, plugin {} {detail}",
            self.kind, self.id, self.name, self.namespace, self.status, self.plugin_id
        )
        .trim_end()
        .to_string()
    }
}

impl Summary for VolumeDetail {
    fn summary(&self) -> String {
        let mut text = format!("{}.", self.volume.line());
        if let Some(health) = &self.plugin_health {
            text.push_str(&format!(" Plugin: {health}."));
        }
        if let Some(path) = &self.host_path {
            text.push_str(&format!(" Path: {path}."));
        }
        if self.claims.is_empty() {
            text.push_str(" No allocation claims it.");
        } else {
            let claims: Vec<String> = self
                .claims
                .iter()
                .map(|c| {
                    format!(
                        "{} ({} {}, {})",
                        c.alloc_id, c.job_id, c.group, c.client_status
                    )
                })
                .collect();
            text.push_str(&format!(" Claimed by: {}.", claims.join(", ")));
        }
        text
    }
}
