//! MCP settings: how many sessions a caller may hold, how long an idle one lives, how many
//! a replica keeps ready in memory, and which toolsets `tools/list` offers.

use std::time::Duration;

use super::{ConfigError, Sources, duration, parse};

#[derive(Debug, Clone)]
pub struct McpSettings {
    /// `GATEWAY_MCP_SESSIONS_PER_CALLER`: open sessions per caller and transport; one more
    /// closes that caller's least recently used.
    pub sessions_per_caller: usize,
    /// `GATEWAY_MCP_SESSION_IDLE`: a session without a request for this long is closed.
    pub session_idle: Duration,
    /// `GATEWAY_MCP_SESSIONS_IN_MEMORY`: sessions a replica keeps ready in memory; beyond
    /// that the least recently used idle one is set aside, and its next request restores it
    /// from its row.
    pub sessions_in_memory: usize,
    /// `GATEWAY_MCP_TOOLSETS`: the groups of tools offered, in [`Toolset::ALL`]'s order
    /// (default: all). A tool outside them is neither listed nor callable over MCP; the
    /// REST API is not affected.
    pub toolsets: Vec<Toolset>,
    /// `GATEWAY_MCP_CONFIRM`: whether a destructive tool asks the person first.
    pub confirm: Confirm,
    /// `GATEWAY_MCP_ANSWER_BYTES`: the most a tool answer's text and `structuredContent`
    /// take together; a larger answer is cut, saying what was cut and how to get the rest.
    pub answer_bytes: usize,
}

/// 24 KiB: about 6,000 to 8,000 tokens of JSON and prose, under the 10,000 tokens at which
/// Claude Code starts warning about a tool's output.
pub const DEFAULT_ANSWER_BYTES: usize = 24 * 1024;
pub const MIN_ANSWER_BYTES: usize = 4 * 1024;
pub const MAX_ANSWER_BYTES: usize = 1024 * 1024;

/// When a destructive tool (`destructiveHint`) asks the person before it runs: by
/// elicitation on a session, by an `input_required` answer (SEP-2322) on the 2026-07-28
/// revision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirm {
    /// Ask a client that can ask; run for one that cannot (the tool's hint is all it has).
    Ask,
    /// Ask a client that can ask; refuse the call for one that cannot.
    Require,
    /// Never ask.
    Off,
}

impl Confirm {
    pub fn name(self) -> &'static str {
        match self {
            Confirm::Ask => "ask",
            Confirm::Require => "require",
            Confirm::Off => "off",
        }
    }
}

/// A group of MCP tools an operator offers or leaves out as a whole, since every listed
/// tool costs an agent context at the start of every conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Toolset {
    Jobs,
    Allocations,
    Services,
    Variables,
    Evaluations,
    Deployments,
    Nodes,
    Volumes,
    Cluster,
    Operations,
}

impl Toolset {
    pub const ALL: [Toolset; 10] = [
        Toolset::Jobs,
        Toolset::Allocations,
        Toolset::Services,
        Toolset::Variables,
        Toolset::Evaluations,
        Toolset::Deployments,
        Toolset::Nodes,
        Toolset::Volumes,
        Toolset::Cluster,
        Toolset::Operations,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Toolset::Jobs => "jobs",
            Toolset::Allocations => "allocations",
            Toolset::Services => "services",
            Toolset::Variables => "variables",
            Toolset::Evaluations => "evaluations",
            Toolset::Deployments => "deployments",
            Toolset::Nodes => "nodes",
            Toolset::Volumes => "volumes",
            Toolset::Cluster => "cluster",
            Toolset::Operations => "operations",
        }
    }

    /// The names, comma-separated, as `GATEWAY_MCP_TOOLSETS` takes them.
    pub fn list(sets: &[Toolset]) -> String {
        sets.iter().map(|t| t.name()).collect::<Vec<_>>().join(",")
    }
}

impl Default for McpSettings {
    fn default() -> Self {
        McpSettings {
            sessions_per_caller: 32,
            session_idle: Duration::from_secs(30 * 60),
            sessions_in_memory: 256,
            toolsets: Toolset::ALL.to_vec(),
            confirm: Confirm::Ask,
            answer_bytes: DEFAULT_ANSWER_BYTES,
        }
    }
}

pub(super) fn mcp_settings(s: &Sources) -> Result<McpSettings, ConfigError> {
    let defaults = McpSettings::default();
    let sessions_per_caller: usize = parse(
        s,
        "GATEWAY_MCP_SESSIONS_PER_CALLER",
        defaults.sessions_per_caller,
        "a number of sessions",
    )?;
    if !(1..=1_000_000).contains(&sessions_per_caller) {
        return Err(ConfigError::new(
            "GATEWAY_MCP_SESSIONS_PER_CALLER",
            format!("{sessions_per_caller} is out of range; use 1 to 1000000"),
        ));
    }
    let session_idle = duration(s, "GATEWAY_MCP_SESSION_IDLE", defaults.session_idle)?;
    if session_idle < Duration::from_secs(10) {
        return Err(ConfigError::new(
            "GATEWAY_MCP_SESSION_IDLE",
            "use at least 10s (clients pause between calls)",
        ));
    }
    let sessions_in_memory: usize = parse(
        s,
        "GATEWAY_MCP_SESSIONS_IN_MEMORY",
        defaults.sessions_in_memory,
        "a number of sessions",
    )?;
    if !(1..=1_000_000).contains(&sessions_in_memory) {
        return Err(ConfigError::new(
            "GATEWAY_MCP_SESSIONS_IN_MEMORY",
            format!("{sessions_in_memory} is out of range; use 1 to 1000000"),
        ));
    }
    let toolsets = match s.get("GATEWAY_MCP_TOOLSETS") {
        None => defaults.toolsets,
        Some(text) => toolsets(text).map_err(|e| ConfigError::new("GATEWAY_MCP_TOOLSETS", e))?,
    };
    let confirm = match s
        .get("GATEWAY_MCP_CONFIRM")
        .map(|v| v.trim().to_ascii_lowercase())
    {
        None => defaults.confirm,
        Some(v) if v == "ask" => Confirm::Ask,
        Some(v) if v == "require" => Confirm::Require,
        Some(v) if v == "off" => Confirm::Off,
        Some(v) => {
            return Err(ConfigError::new(
                "GATEWAY_MCP_CONFIRM",
                format!(
                    "'{v}' is not a choice; use ask (ask clients that can, run for the others), \
                     require (refuse clients that cannot ask) or off"
                ),
            ));
        }
    };
    let answer_bytes: usize = parse(
        s,
        "GATEWAY_MCP_ANSWER_BYTES",
        defaults.answer_bytes,
        "a number of bytes",
    )?;
    if !(MIN_ANSWER_BYTES..=MAX_ANSWER_BYTES).contains(&answer_bytes) {
        return Err(ConfigError::new(
            "GATEWAY_MCP_ANSWER_BYTES",
            format!(
                "{answer_bytes} is out of range; use {MIN_ANSWER_BYTES} to {MAX_ANSWER_BYTES} \
                 (the default, {DEFAULT_ANSWER_BYTES}, is about 7,000 tokens)"
            ),
        ));
    }
    Ok(McpSettings {
        sessions_per_caller,
        session_idle,
        sessions_in_memory,
        toolsets,
        confirm,
        answer_bytes,
    })
}

/// `jobs,allocations` (any order, any case, `all` for every one) as toolsets in
/// [`Toolset::ALL`]'s order.
fn toolsets(text: &str) -> Result<Vec<Toolset>, String> {
    let mut chosen = Vec::new();
    for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let name = name.to_ascii_lowercase();
        if name == "all" {
            return Ok(Toolset::ALL.to_vec());
        }
        match Toolset::ALL.iter().find(|t| t.name() == name) {
            Some(set) => chosen.push(*set),
            None => {
                return Err(format!(
                    "'{name}' is not a toolset; use some of {} (comma-separated), or all",
                    Toolset::list(&Toolset::ALL)
                ));
            }
        }
    }
    if chosen.is_empty() {
        return Err(format!(
            "name at least one toolset: {} (comma-separated), or all",
            Toolset::list(&Toolset::ALL)
        ));
    }
    Ok(Toolset::ALL
        .into_iter()
        .filter(|t| chosen.contains(t))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toolsets_are_named_in_any_order_and_case() {
        assert_eq!(
            toolsets(" Nodes, jobs,jobs ").unwrap(),
            vec![Toolset::Jobs, Toolset::Nodes]
        );
        assert_eq!(toolsets("jobs,all").unwrap(), Toolset::ALL.to_vec());
        let unknown = toolsets("jobs,drains").unwrap_err();
        assert!(unknown.starts_with("'drains' is not a toolset; use some of jobs,allocations,"));
        assert!(
            toolsets(" , ")
                .unwrap_err()
                .starts_with("name at least one toolset")
        );
    }
}
