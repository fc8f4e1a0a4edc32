//! sea-orm entities for the tables in `migrations/`.

pub mod api_key;
pub mod audit_event;
pub mod mcp_confirmation;
pub mod mcp_relay;
pub mod mcp_session;
pub mod mcp_subscription;
pub mod oauth_client;
pub mod oauth_code;
pub mod oauth_grant;
pub mod oauth_key;
pub mod oauth_pending;
pub mod oauth_refresh_token;
pub mod operation;
pub mod replica;
