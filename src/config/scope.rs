//! The scopes a credential can carry: part of the vocabulary of settings (JWT group
//! scopes, API keys), so `config/` can validate them without looking upward.

use std::fmt;

/// A permission a credential carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// Every read.
    NomadRead,
    /// Changes to jobs, allocations and deployments.
    NomadWrite,
    /// Node drain, eligibility and metadata.
    NodesWrite,
    /// API keys and the audit log.
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 4] = [
        Scope::NomadRead,
        Scope::NomadWrite,
        Scope::NodesWrite,
        Scope::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::NomadRead => "nomad:read",
            Scope::NomadWrite => "nomad:write",
            Scope::NodesWrite => "nodes:write",
            Scope::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
