//! Integration tests of the gateway, run as a real process against a real database
//! (SQLite, or Postgres when `TEST_DATABASE_URL` is set) with certificates made here.

mod audit;
mod audit_chaos;
mod auth;
mod config_errors;
mod database;
mod fake_fidelity;
mod hostile;
mod in_process;
mod job_spec;
mod jwt;
mod layers;
mod lookup;
mod mcp;
mod mcp_auth;
mod mcp_sse;
mod nomad_client;
mod nomad_paths;
mod nomad_samples;
mod openapi;
mod operations;
mod postgres_tls;
mod problems;
mod replicas;
mod rest_claude;
mod rest_errors;
mod rest_nomad;
mod self_submit;
mod server;
mod sessions_in_memory;
mod support;
mod telemetry;
mod timeline;
mod tls;
mod variables;
mod versions;
