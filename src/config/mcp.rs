//! MCP session settings: how many sessions a caller may hold, how long an idle one lives,
//! and how many a replica keeps ready in memory.

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
}

impl Default for McpSettings {
    fn default() -> Self {
        McpSettings {
            sessions_per_caller: 32,
            session_idle: Duration::from_secs(30 * 60),
            sessions_in_memory: 256,
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
    Ok(McpSettings {
        sessions_per_caller,
        session_idle,
        sessions_in_memory,
    })
}
