//! ACL tokens as Nomad answers them: an unknown secret is `403 ACL token not found`,
//! a token without the right is `403 Permission denied` (Nomad's
//! `structs.ErrTokenNotFound` and `structs.ErrPermissionDenied` texts).
//!
//! The endpoints added later (search, node pools, volumes, scaling policies, the token's
//! own read) resolve the caller as Nomad 1.11's `nomad/auth/auth.go` Authenticate does
//! ([`resolve`]): no secret is the anonymous token (which grants nothing here), and a
//! secret Nomad does not know fails authentication, which those RPCs answer with
//! `403 Permission denied`.

use crate::world::now_ns;

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
    /// The token's public ID (`AccessorID`); the constructors derive a stable UUID from
    /// the secret.
    pub accessor_id: String,
    /// The names of the ACL policies it is tied to (`Policies`). A management token has
    /// none, as Nomad's bootstrap token; [`Token::namespace`] names one policy per
    /// namespace, `<namespace>-read` or `<namespace>-write` (`*` as `all`), and adds
    /// `node-write` for a token with node access.
    pub policies: Vec<String>,
    /// `CreateTime`, Unix nanoseconds.
    pub create_time: i64,
    /// `ExpirationTime`, Unix nanoseconds; `None` never expires. Past it Nomad no longer
    /// authenticates the token (`structs.ErrTokenExpired`): requests are refused.
    pub expiration_time: Option<i64>,
    /// `ExpirationTTL` in nanoseconds, as it was asked for at creation (0 when none).
    pub expiration_ttl: i64,
}

/// A UUID derived from `seed`, the same every run (FNV-1a over the seed, twice).
pub fn stable_uuid(seed: &str) -> String {
    let hash = |salt: u64| {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ salt;
        for b in seed.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        h
    };
    let (a, b) = (hash(0), hash(0x9e37_79b9_7f4a_7c15));
    let hex = format!("{a:016x}{b:016x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
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
            accessor_id: stable_uuid(&format!("accessor:{secret}")),
            policies: Vec::new(),
            create_time: now_ns(),
            expiration_time: None,
            expiration_ttl: 0,
        }
    }

    pub fn namespace(secret: &str, namespaces: &[&str], capability: Capability) -> Token {
        let level = match capability {
            Capability::Read => "read",
            Capability::Write => "write",
        };
        Token {
            secret: secret.into(),
            name: format!("{capability:?} on {}", namespaces.join(",")).to_lowercase(),
            namespaces: namespaces.iter().map(|s| s.to_string()).collect(),
            capability,
            node_write: false,
            management: false,
            accessor_id: stable_uuid(&format!("accessor:{secret}")),
            policies: namespaces
                .iter()
                .map(|ns| format!("{}-{level}", if *ns == "*" { "all" } else { ns }))
                .collect(),
            create_time: now_ns(),
            expiration_time: None,
            expiration_ttl: 0,
        }
    }

    /// The same token, also allowed node writes (`node:write`), with the `node-write`
    /// policy named.
    pub fn with_node_write(mut self) -> Token {
        if !self.node_write {
            self.node_write = true;
            if !self.management {
                self.policies.push("node-write".into());
            }
        }
        self
    }

    /// The same token with an expiration `ttl` from its creation (`ExpirationTTL`).
    pub fn expiring_in(mut self, ttl: std::time::Duration) -> Token {
        let ttl = ttl.as_nanos() as i64;
        self.expiration_ttl = ttl;
        self.expiration_time = Some(self.create_time + ttl);
        self
    }

    /// Past its expiration time.
    pub fn expired(&self) -> bool {
        self.expiration_time.is_some_and(|t| t <= now_ns())
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
    if token.expired() {
        // Authenticate fails with ErrTokenExpired, which the RPCs answer as denied.
        return Err(PERMISSION_DENIED);
    }
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

/// Who is asking, as Nomad's Authenticate resolves a request's secret.
#[derive(Debug, Clone, Copy)]
pub enum Principal<'a> {
    /// ACLs are off: `structs.ACLsDisabledToken`, allowed everything.
    Off,
    /// No secret with ACLs on: `structs.AnonymousACLToken`, allowed nothing here.
    Anonymous,
    Token(&'a Token),
}

/// Why a secret did not resolve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unresolved {
    /// Not a token the fake has (`ErrTokenNotFound`, or for a secret that is not a UUID
    /// `ErrTokenInvalid` and a failed workload identity check).
    Unknown,
    /// `structs.ErrTokenExpired`.
    Expired,
}

/// Resolves a request's secret (`nomad/auth/auth.go` resolveSecretToken).
pub fn resolve<'a>(tokens: &'a [Token], secret: Option<&str>) -> Result<Principal<'a>, Unresolved> {
    if tokens.is_empty() {
        return Ok(Principal::Off);
    }
    let Some(secret) = secret.filter(|s| !s.is_empty()) else {
        return Ok(Principal::Anonymous);
    };
    let token = tokens
        .iter()
        .find(|t| t.secret == secret)
        .ok_or(Unresolved::Unknown)?;
    if token.expired() {
        return Err(Unresolved::Expired);
    }
    Ok(Principal::Token(token))
}

impl Principal<'_> {
    /// A management token, or ACLs off (`acl.ACL.IsManagement` and `aclsDisabled`).
    pub fn management(&self) -> bool {
        match self {
            Principal::Off => true,
            Principal::Anonymous => false,
            Principal::Token(t) => t.management,
        }
    }

    /// `AllowNsOp(ns, op)` for an operation of `cap`; for `*`, whether any namespace of
    /// the token allows it (`acl.go` AllowNamespaceOperation).
    pub fn allows(&self, namespace: &str, cap: Capability) -> bool {
        match self {
            Principal::Off => true,
            Principal::Anonymous => false,
            Principal::Token(t) if namespace == "*" => {
                t.management || (t.capability >= cap && !t.namespaces.is_empty())
            }
            Principal::Token(t) => t.covers(namespace, cap),
        }
    }

    /// `AllowNamespace(ns)`: any operation in the namespace.
    pub fn allows_namespace(&self, namespace: &str) -> bool {
        self.allows(namespace, Capability::Read)
    }

    /// `node:read`, and likewise `node_pool:read` and `plugin:list`, which the fake's
    /// tokens do not tell apart: every token has them, the anonymous one none.
    pub fn node_read(&self) -> bool {
        !matches!(self, Principal::Anonymous)
    }
}
