//! MCP session settings: how many sessions a caller may hold and how long an idle one lives.

use std::time::Duration;

use super::{ConfigError, Sources, duration, parse};

#[derive(Debug, Clone)]
pub struct McpSettings {
    /// `GATEWAY_MCP_SESSIONS_PER_CALLER`: open sessions per caller and transport; one more
    /// closes that caller's least recently used.
    pub sessions_per_caller: usize,
    /// `GATEWAY_MCP_SESSION_IDLE`: a session without a request for this long is closed.
    pub session_idle: Duration,
}

impl Default for McpSettings {
    fn default() -> Self {
        McpSettings {
            sessions_per_caller: 32,
            session_idle: Duration::from_secs(30 * 60),
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
    Ok(McpSettings {
        sessions_per_caller,
        session_idle,
    })
}
