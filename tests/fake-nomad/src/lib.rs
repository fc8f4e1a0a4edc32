//! A stateful stand-in for the Nomad HTTP API.
