//! ACL tokens as Nomad answers them: an unknown secret is `403 ACL token not found`,
//! a token without the right is `403 Permission denied` (Nomad's
//! `structs.ErrTokenNotFound` and `structs.ErrPermissionDenied` texts).

/// What a token may do in its namespaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Capability {
    Read,
    Write,
}

#[derive(Debug, Clone)]
pub struct Token {
    pub secret: String,
    pub name: String,
    /// Namespaces it covers; `*` covers all.
    pub namespaces: Vec<String>,
    pub capability: Capability,
    /// Node and agent access (`node:write`, `agent:read`).
    pub node_write: bool,
    pub management: bool,
}

impl Token {
    pub fn management(secret: &str) -> Token {
        Token {
            secret: secret.into(),
            name: "management".into(),
            namespaces: vec!["*".into()],
            capability: Capability::Write,
            node_write: true,
            management: true,
        }
    }

    pub fn namespace(secret: &str, namespaces: &[&str], capability: Capability) -> Token {
        Token {
            secret: secret.into(),
            name: format!("{capability:?} on {}", namespaces.join(",")).to_lowercase(),
            namespaces: namespaces.iter().map(|s| s.to_string()).collect(),
            capability,
            node_write: false,
            management: false,
        }
    }

    pub fn covers(&self, namespace: &str, need: Capability) -> bool {
        self.management
            || (self.capability >= need
                && self.namespaces.iter().any(|n| n == "*" || n == namespace))
    }
}

pub const PERMISSION_DENIED: &str = "Permission denied";
pub const TOKEN_NOT_FOUND: &str = "ACL token not found";

/// What a request needs.
#[derive(Debug, Clone)]
pub enum Need {
    Namespace(String, Capability),
    /// Reads over several namespaces (`namespace=*`): filtered, never refused.
    AnyNamespace,
    NodeRead,
    NodeWrite,
}

/// Checks a request's token. `Ok(None)` when ACLs are off.
pub fn check<'a>(
    tokens: &'a [Token],
    secret: Option<&str>,
    need: &Need,
) -> Result<Option<&'a Token>, &'static str> {
    if tokens.is_empty() {
        return Ok(None);
    }
    let token = match secret {
        // No token: the anonymous policy, which grants nothing here.
        None | Some("") => {
            return Err(PERMISSION_DENIED);
        }
        Some(secret) => tokens
            .iter()
            .find(|t| t.secret == secret)
            .ok_or(TOKEN_NOT_FOUND)?,
    };
    let allowed = match need {
        Need::AnyNamespace | Need::NodeRead => true,
        Need::Namespace(ns, cap) => token.covers(ns, *cap),
        Need::NodeWrite => token.node_write || token.management,
    };
    if allowed {
        Ok(Some(token))
    } else {
        Err(PERMISSION_DENIED)
    }
}
