//! nomad-gateway: run HashiCorp Nomad jobs safely from AI agents and people, over MCP and
//! REST. See `docs/architecture.md` for the rooms and how data flows between them.

pub mod auth;
pub mod cli;
pub mod config;
pub mod crypto;
pub mod db;
pub mod healthcheck;
pub mod http;
pub mod mcp;
pub mod nomad;
pub mod operations;
pub mod server;
pub mod service;
pub mod state;
pub mod telemetry;
