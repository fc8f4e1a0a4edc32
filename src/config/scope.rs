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
    /// The values of Nomad Variables (their paths, keys and indexes need only `nomad:read`).
    VariablesRead,
    /// Creating, updating and deleting Nomad Variables.
    VariablesWrite,
    /// API keys and the audit log.
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 6] = [
        Scope::NomadRead,
        Scope::NomadWrite,
        Scope::NodesWrite,
        Scope::VariablesRead,
        Scope::VariablesWrite,
        Scope::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::NomadRead => "nomad:read",
            Scope::NomadWrite => "nomad:write",
            Scope::NodesWrite => "nodes:write",
            Scope::VariablesRead => "variables:read",
            Scope::VariablesWrite => "variables:write",
            Scope::Admin => "admin",
        }
    }

    /// Every scope's name, for messages: `nomad:read, ..., variables:write or admin`.
    pub fn names() -> String {
        let names: Vec<&str> = Scope::ALL.iter().map(|s| s.as_str()).collect();
        let (last, rest) = names.split_last().expect("scopes");
        format!("{} or {last}", rest.join(", "))
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
