//! sea-orm entities for the tables in `migrations/`.

pub mod api_key;
pub mod audit_event;
pub mod mcp_confirmation;
pub mod mcp_relay;
pub mod mcp_session;
pub mod mcp_subscription;
pub mod operation;
pub mod replica;
