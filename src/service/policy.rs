//! Who may do what: the caller (`Principal`), the scopes, and the one policy function
//! REST and MCP both go through (called from the service layer).

use std::collections::BTreeSet;
use std::fmt;

pub use crate::config::Scope;

/// The Nomad namespaces a caller may touch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Namespaces {
    All,
    Only(BTreeSet<String>),
}

impl Namespaces {
    pub fn allows(&self, namespace: &str) -> bool {
        match self {
            Namespaces::All => true,
            Namespaces::Only(list) => list.contains(namespace),
        }
    }

    /// From a list where `*` means all.
    pub fn from_list<I: IntoIterator<Item = String>>(list: I) -> Namespaces {
        let set: BTreeSet<String> = list.into_iter().collect();
        if set.contains("*") {
            Namespaces::All
        } else {
            Namespaces::Only(set)
        }
    }

    pub fn to_list(&self) -> Vec<String> {
        match self {
            Namespaces::All => vec!["*".to_string()],
            Namespaces::Only(list) => list.iter().cloned().collect(),
        }
    }
}

/// Which way a call came in, for the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Rest,
    McpHttp,
    McpSse,
    Cli,
}

impl Transport {
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Rest => "rest",
            Transport::McpHttp => "mcp-http",
            Transport::McpSse => "mcp-sse",
            Transport::Cli => "cli",
        }
    }
}

/// How the caller proved who they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// Authentication is off (loopback development) or the call comes from the CLI.
    Local,
    ApiKey {
        id: uuid::Uuid,
        prefix: String,
    },
    Jwt {
        issuer: Option<String>,
    },
}

/// The caller of an operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub subject: String,
    pub credential: Credential,
    pub scopes: BTreeSet<Scope>,
    pub namespaces: Namespaces,
    pub transport: Transport,
    pub client_addr: Option<String>,
}

impl Principal {
    /// The local operator: every scope, every namespace (authentication off, CLI).
    pub fn local() -> Principal {
        Principal {
            subject: "local".to_string(),
            credential: Credential::Local,
            scopes: Scope::ALL.into_iter().collect(),
            namespaces: Namespaces::All,
            transport: Transport::Rest,
            client_addr: None,
        }
    }

    /// A caller nobody identified: no scope, no namespace. What a transport falls back
    /// to when a request somehow carries no `Principal`, so a gap refuses rather than
    /// grants.
    pub fn anonymous() -> Principal {
        Principal {
            subject: "anonymous".to_string(),
            credential: Credential::Local,
            scopes: BTreeSet::new(),
            namespaces: Namespaces::Only(BTreeSet::new()),
            transport: Transport::Rest,
            client_addr: None,
        }
    }

    pub fn has(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
    }
}

/// What an operation needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Reads of jobs, allocations, evaluations, deployments in a namespace.
    Read,
    /// Changes to jobs and their allocations and deployments in a namespace.
    Write,
    /// Reads of nodes and the cluster (not namespaced).
    ClusterRead,
    /// Node drain, eligibility, metadata.
    NodesWrite,
    /// The values of variables in a namespace.
    VariablesRead,
    /// Creating, updating and deleting variables in a namespace.
    VariablesWrite,
    /// API keys, audit log.
    Admin,
}

impl Access {
    pub fn scope(self) -> Scope {
        match self {
            Access::Read | Access::ClusterRead => Scope::NomadRead,
            Access::Write => Scope::NomadWrite,
            Access::NodesWrite => Scope::NodesWrite,
            Access::VariablesRead => Scope::VariablesRead,
            Access::VariablesWrite => Scope::VariablesWrite,
            Access::Admin => Scope::Admin,
        }
    }

    pub fn is_write(self) -> bool {
        matches!(
            self,
            Access::Write | Access::NodesWrite | Access::VariablesWrite
        )
    }
}

/// Why a call was refused (403).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The gateway runs with `GATEWAY_READ_ONLY=true`.
    ReadOnly,
    MissingScope(Scope),
    Namespace(String),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::ReadOnly => f.write_str(
                "the gateway is read-only (GATEWAY_READ_ONLY=true); no change is allowed",
            ),
            Refusal::MissingScope(scope) => {
                write!(f, "insufficient_scope: this needs the '{scope}' scope")
            }
            Refusal::Namespace(ns) => write!(
                f,
                "namespace '{ns}' is not among the namespaces this credential may use"
            ),
        }
    }
}

/// The policy: may `who` do something needing `access` in `namespace` (when the
/// operation is namespaced)?
pub fn decide(
    who: &Principal,
    access: Access,
    namespace: Option<&str>,
    read_only: bool,
) -> Result<(), Refusal> {
    if read_only && access.is_write() {
        return Err(Refusal::ReadOnly);
    }
    let scope = access.scope();
    if !who.has(scope) {
        return Err(Refusal::MissingScope(scope));
    }
    if let Some(ns) = namespace
        && ns != "*"
        && !who.namespaces.allows(ns)
    {
        return Err(Refusal::Namespace(ns.to_string()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(scopes: &[Scope], namespaces: &[&str]) -> Principal {
        Principal {
            subject: "alice".into(),
            credential: Credential::Jwt { issuer: None },
            scopes: scopes.iter().copied().collect(),
            namespaces: Namespaces::from_list(namespaces.iter().map(|s| s.to_string())),
            transport: Transport::Rest,
            client_addr: None,
        }
    }

    #[test]
    fn the_policy_table() {
        use Access::{ClusterRead, Read, Write};
        use Scope::{NomadRead, NomadWrite};
        let reader = caller(&[NomadRead], &["dev"]);
        let writer = caller(&[NomadRead, NomadWrite], &["dev", "staging"]);
        let operator = caller(&[NomadRead, Scope::NodesWrite], &["*"]);
        let admin = caller(&[Scope::Admin], &[]);
        type Row<'a> = (
            &'a Principal,
            Access,
            Option<&'a str>,
            bool,
            Result<(), Refusal>,
        );
        let table: Vec<Row> = vec![
            (&reader, Read, Some("dev"), false, Ok(())),
            (
                &reader,
                Read,
                Some("prod"),
                false,
                Err(Refusal::Namespace("prod".into())),
            ),
            (
                &reader,
                Write,
                Some("dev"),
                false,
                Err(Refusal::MissingScope(NomadWrite)),
            ),
            (&reader, ClusterRead, None, false, Ok(())),
            (
                &reader,
                Access::NodesWrite,
                None,
                false,
                Err(Refusal::MissingScope(Scope::NodesWrite)),
            ),
            (&writer, Write, Some("staging"), false, Ok(())),
            (
                &writer,
                Write,
                Some("prod"),
                false,
                Err(Refusal::Namespace("prod".into())),
            ),
            (&writer, Write, Some("dev"), true, Err(Refusal::ReadOnly)),
            (&writer, Read, Some("dev"), true, Ok(())),
            (&operator, Access::NodesWrite, None, false, Ok(())),
            (
                &operator,
                Access::NodesWrite,
                None,
                true,
                Err(Refusal::ReadOnly),
            ),
            (&operator, Read, Some("anything"), false, Ok(())),
            (&admin, Access::Admin, None, false, Ok(())),
            (
                &admin,
                Read,
                Some("dev"),
                false,
                Err(Refusal::MissingScope(NomadRead)),
            ),
            (
                &writer,
                Access::Admin,
                None,
                false,
                Err(Refusal::MissingScope(Scope::Admin)),
            ),
        ];
        for (who, access, ns, read_only, want) in table {
            assert_eq!(
                decide(who, access, ns, read_only),
                want,
                "{} {access:?} {ns:?} read_only={read_only}",
                who.subject
            );
        }
    }

    #[test]
    fn scopes_round_trip() {
        for scope in Scope::ALL {
            assert_eq!(Scope::parse(scope.as_str()), Some(scope));
        }
        assert_eq!(Scope::parse("nomad:everything"), None);
    }
}
