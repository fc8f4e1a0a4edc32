//! Read-only lookups across the cluster: the objects whose ID starts with a fragment
//! (Nomad's prefix search), the gateway's own Nomad token ("who am I to Nomad"), CSI and
//! dynamic host volumes, and scaling policies.
//!
//! Nomad's search with namespace `*` answers bare IDs without their namespaces, so a
//! caller limited to some namespaces searches each of them instead, and the answers are
//! merged. Volumes and scaling policies carry their namespace and are filtered by it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::jobs::invalid;
use super::policy::{Access, Namespaces};
use super::{Page, PageRequest, Principal, Service, ServiceError};
use crate::nomad::NomadError;
use crate::nomad::types::{
    AclToken, CsiVolume, CsiVolumeStub, HostVolume, HostVolumeStub, ScalingPolicy,
    ScalingPolicyStub, SearchRequest, SearchResponse, VolumeAllocation, VolumeCapability,
};

/// Nomad's search contexts a caller may name (`structs.Context`), `all` for every one the
/// token may read, and the call that opens an object of each.
pub const SEARCH_CONTEXTS: &[(&str, Option<&str>)] = &[
    ("all", None),
    ("jobs", Some("get_job")),
    ("allocs", Some("get_allocation")),
    ("nodes", Some("get_node")),
    ("evals", Some("get_evaluation")),
    ("deployment", Some("get_deployment")),
    ("namespaces", Some("list_namespaces")),
    ("node_pools", Some("list_node_pools")),
    ("volumes", Some("get_volume")),
    ("host_volumes", Some("get_volume")),
    ("scaling_policy", Some("list_scaling_policies")),
    ("variables", Some("get_variable")),
    ("plugins", None),
];

/// The most characters of a prefix (Nomad's IDs are UUIDs, job IDs at most 128).
const MAX_PREFIX: usize = 128;
/// Scaling policies whose bounds and policy document a page reads at once.
const POLICY_READS: usize = 50;

/// The IDs of one kind of object that start with the prefix.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct SearchMatches {
    /// Nomad's context: `jobs`, `allocs`, `nodes`, `evals`, `deployment`...
    pub context: String,
    pub ids: Vec<String>,
    /// Nomad keeps 20 per context: there are more; give a longer prefix.
    pub truncated: bool,
    /// The call that shows one of them.
    pub open_with: Option<String>,
}

/// What a prefix search found, one entry per context with matches.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct SearchResult {
    pub prefix: String,
    pub namespace: String,
    pub matches: Vec<SearchMatches>,
}

/// The token the gateway sends Nomad, as Nomad sees it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct NomadIdentity {
    /// Whether Nomad enforces ACLs; when it does not, the gateway may do everything.
    pub acl_enabled: bool,
    pub name: Option<String>,
    pub accessor_id: Option<String>,
    /// `management` (may do everything) or `client` (its policies decide).
    pub token_type: Option<String>,
    pub policies: Vec<String>,
    pub roles: Vec<String>,
    pub global: bool,
    pub created_at: Option<String>,
    /// When the token stops working; none when it does not expire.
    pub expires_at: Option<String>,
    /// What it means for the gateway's calls, in a sentence.
    pub summary: String,
}

/// A CSI or dynamic host volume in a list.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct VolumeRow {
    pub id: String,
    pub name: String,
    /// `csi` or `host`.
    pub kind: String,
    pub namespace: String,
    pub plugin_id: String,
    /// A CSI volume: `schedulable` or `unschedulable`; a host volume: `pending`, `ready`
    /// or `unavailable`.
    pub status: String,
    /// A CSI volume's access mode (`single-node-writer`...).
    pub access_mode: Option<String>,
    /// Allocations reading and writing a CSI volume now.
    pub readers: Option<u64>,
    pub writers: Option<u64>,
    /// The node of a host volume.
    pub node_id: Option<String>,
    pub capacity_bytes: Option<i64>,
}

/// An allocation that claims a volume.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct VolumeClaim {
    pub alloc_id: String,
    pub job_id: String,
    pub group: String,
    pub node_id: String,
    pub client_status: String,
}

/// One volume: its row, what it was asked to offer, and who uses it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct VolumeDetail {
    #[serde(flatten)]
    pub volume: VolumeRow,
    /// `access mode / attachment mode` pairs it was asked for.
    pub capabilities: Vec<String>,
    /// A CSI volume's ID in its storage provider, and the provider.
    pub external_id: Option<String>,
    pub provider: Option<String>,
    /// CSI plugin health: nodes and controllers healthy of expected.
    pub plugin_health: Option<String>,
    /// Where a host volume lives on its node.
    pub host_path: Option<String>,
    pub claims: Vec<VolumeClaim>,
}

/// A scaling policy: what it scales, its bounds and the autoscaler's policy document.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct ScalingPolicyRow {
    pub id: String,
    pub namespace: String,
    pub job_id: String,
    pub group: String,
    /// The task of a vertical policy.
    pub task: Option<String>,
    /// `horizontal`, `vertical_cpu` or `vertical_mem`.
    pub policy_type: String,
    pub enabled: bool,
    pub min: Option<i64>,
    pub max: Option<i64>,
    /// The autoscaler's `policy` block as Nomad keeps it; null when it could not be read.
    #[schema(value_type = Option<Object>)]
    pub policy: Option<serde_json::Value>,
}

impl Service {
    /// The objects whose ID starts with `prefix`, in one context or `all`, in a namespace
    /// (`*`: every namespace the caller may read); nodes are found from any namespace.
    pub async fn search_ids(
        &self,
        who: &Principal,
        prefix: &str,
        context: Option<&str>,
        namespace: Option<&str>,
    ) -> Result<SearchResult, ServiceError> {
        let namespace = self.namespace(namespace);
        self.allow(who, Access::Read, Some(&namespace), "search_ids")
            .await?;
        let prefix = prefix.trim();
        if prefix.is_empty() || prefix.chars().count() > MAX_PREFIX {
            return Err(invalid(
                "prefix",
                "give the first characters of an ID: 1 to 128 characters",
            ));
        }
        let context = context.filter(|c| !c.is_empty()).unwrap_or("all");
        if !SEARCH_CONTEXTS.iter().any(|(name, _)| *name == context) {
            let names: Vec<&str> = SEARCH_CONTEXTS.iter().map(|(n, _)| *n).collect();
            return Err(invalid(
                "context",
                format!(
                    "'{context}' is not a search context; use one of {}",
                    names.join(", ")
                ),
            ));
        }
        let namespaces = match (&who.namespaces, namespace.as_str()) {
            (Namespaces::Only(list), "*") => list.iter().cloned().collect(),
            _ => vec![namespace.clone()],
        };
        let request = SearchRequest {
            prefix: prefix.to_string(),
            context: context.to_string(),
        };
        let searches = namespaces.iter().map(|ns| {
            let (request, options) = (&request, self.in_namespace(ns));
            async move { self.nomad.search(request, &options).await }
        });
        let mut merged: BTreeMap<String, (Vec<String>, bool)> = BTreeMap::new();
        for answer in futures::future::join_all(searches).await {
            let answer: SearchResponse = answer.map_err(|e| {
                ServiceError::from_nomad(e, || format!("namespace '{namespace}' not found"))
            })?;
            for (ctx, ids) in answer.matches {
                let entry = merged.entry(ctx.clone()).or_default();
                for id in ids.unwrap_or_default() {
                    if !entry.0.contains(&id) {
                        entry.0.push(id);
                    }
                }
                entry.1 |= answer.truncations.get(&ctx).copied().unwrap_or(false);
            }
        }
        let matches = merged
            .into_iter()
            .filter(|(_, (ids, _))| !ids.is_empty())
            .map(|(context, (ids, truncated))| SearchMatches {
                open_with: SEARCH_CONTEXTS
                    .iter()
                    .find(|(name, _)| *name == context)
                    .and_then(|(_, call)| call.map(String::from)),
                context,
                ids,
                truncated,
            })
            .collect();
        Ok(SearchResult {
            prefix: prefix.to_string(),
            namespace,
            matches,
        })
    }

    /// The gateway's own Nomad token: its policies and expiry, or that ACLs are off.
    pub async fn nomad_identity(&self, who: &Principal) -> Result<NomadIdentity, ServiceError> {
        self.allow(who, Access::ClusterRead, None, "get_nomad_identity")
            .await?;
        match self.nomad.token_self().await {
            // Nomad 1.11 answers `/v1/acl/token/self` through `ACL.WhoAmI`, which stands in
            // a token with accessor `acls-disabled` when ACLs are off
            // (`command/agent/acl_endpoint.go` aclTokenSelf, `nomad/acl_endpoint.go`
            // WhoAmI); older servers answer "ACL support disabled" (`ACL.GetToken`).
            Ok(token) if token.accessor_id == "acls-disabled" => Ok(acls_off()),
            Ok(token) => Ok(identity(token)),
            Err(error) if error.to_string().contains("ACL support disabled") => Ok(acls_off()),
            Err(error) => Err(ServiceError::from_nomad(error, || {
                "Nomad does not know the gateway's token (NOMAD_TOKEN or NOMAD_TOKEN_FILE): it was deleted or has expired".into()
            })),
        }
    }

    /// CSI and dynamic host volumes (`kind`: `csi` or `host`; both when left out) of a
    /// namespace (`*`: every namespace the caller may read).
    pub async fn list_volumes(
        &self,
        who: &Principal,
        kind: Option<&str>,
        namespace: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<VolumeRow>, ServiceError> {
        let namespace = self.namespace(namespace);
        self.allow(who, Access::Read, Some(&namespace), "list_volumes")
            .await?;
        let (csi, host) = volume_kinds(kind)?;
        page.limit()?;
        page.offset()?;
        let options = self.in_namespace(&namespace);
        let missing = || format!("namespace '{namespace}' not found");
        let (csi_rows, host_rows) = futures::future::join(
            async {
                if !csi {
                    return Ok(Vec::new());
                }
                self.nomad.list_csi_volumes(&options).await.map(|r| r.value)
            },
            async {
                if !host {
                    return Ok(Vec::new());
                }
                match self.nomad.list_host_volumes(&options).await {
                    Ok(r) => Ok(r.value),
                    // Nomad before 1.10 has no dynamic host volumes and refuses `type=host`.
                    Err(NomadError::BadRequest { .. }) if kind.is_none() => Ok(Vec::new()),
                    Err(e) => Err(e),
                }
            },
        )
        .await;
        let mut rows: Vec<VolumeRow> = csi_rows
            .map_err(|e| ServiceError::from_nomad(e, missing))?
            .iter()
            .map(csi_row)
            .chain(
                host_rows
                    .map_err(|e| ServiceError::from_nomad(e, missing))?
                    .iter()
                    .map(host_row),
            )
            .filter(|row| who.namespaces.allows(&row.namespace))
            .collect();
        rows.sort_by(|a, b| {
            (&a.namespace, &a.kind, &a.name, &a.id).cmp(&(&b.namespace, &b.kind, &b.name, &b.id))
        });
        page.of(rows)
    }

    /// One volume, CSI or host (both are tried when `kind` is left out).
    pub async fn get_volume(
        &self,
        who: &Principal,
        id: &str,
        kind: Option<&str>,
        namespace: Option<&str>,
    ) -> Result<VolumeDetail, ServiceError> {
        let namespace = self.namespace(namespace);
        self.allow(who, Access::Read, Some(&namespace), "get_volume")
            .await?;
        if namespace == "*" {
            return Err(invalid(
                "namespace",
                "a volume is read in one namespace; list the volumes with namespace '*' to see where it is",
            ));
        }
        let (csi, host) = volume_kinds(kind)?;
        let options = self.in_namespace(&namespace);
        let missing = || {
            format!(
                "volume '{id}' not found in namespace '{namespace}'; list the volumes (list_volumes, GET /api/v1/volumes) to see which exist"
            )
        };
        if csi {
            match self.nomad.read_csi_volume(id, &options).await {
                Ok(volume) => return Ok(csi_detail(volume)),
                Err(NomadError::NotFound { .. }) if host => {}
                Err(e) => return Err(ServiceError::from_nomad(e, missing)),
            }
        }
        self.nomad
            .read_host_volume(id, &options)
            .await
            .map(host_detail)
            .map_err(|e| ServiceError::from_nomad(e, missing))
    }

    /// The scaling policies of a namespace (`*`: every namespace the caller may read), of
    /// one job when `job_id` is given, each with its bounds and policy document.
    pub async fn list_scaling_policies(
        &self,
        who: &Principal,
        job_id: Option<&str>,
        namespace: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<ScalingPolicyRow>, ServiceError> {
        let namespace = self.namespace(namespace);
        self.allow(who, Access::Read, Some(&namespace), "list_scaling_policies")
            .await?;
        page.limit()?;
        page.offset()?;
        let options = self.in_namespace(&namespace);
        let job_id = job_id.filter(|j| !j.is_empty());
        let mut stubs: Vec<ScalingPolicyStub> = self
            .nomad
            .list_scaling_policies(job_id, &options)
            .await
            .map_err(|e| {
                ServiceError::from_nomad(e, || format!("namespace '{namespace}' not found"))
            })?
            .value
            .into_iter()
            .filter(|p| who.namespaces.allows(&p.target.namespace))
            .collect();
        fn key(p: &ScalingPolicyStub) -> (&str, &str, &str, &str, &str) {
            let t = &p.target;
            (&t.namespace, &t.job, &t.group, &t.task, &p.id)
        }
        stubs.sort_by(|a, b| key(a).cmp(&key(b)));
        let stubs = page.of(stubs)?;
        let reads = stubs.items.iter().take(POLICY_READS).map(|stub| {
            let options = self.in_namespace(&stub.target.namespace);
            async move {
                self.nomad
                    .read_scaling_policy(&stub.id, &options)
                    .await
                    .ok()
            }
        });
        let read: Vec<Option<ScalingPolicy>> = futures::future::join_all(reads).await;
        let items = stubs
            .items
            .iter()
            .enumerate()
            .map(|(i, stub)| policy_row(stub, read.get(i).cloned().flatten()))
            .collect();
        Ok(Page {
            items,
            total: stubs.total,
            next_cursor: stubs.next_cursor,
            resume: stubs.resume,
        })
    }
}

fn acls_off() -> NomadIdentity {
    NomadIdentity {
        acl_enabled: false,
        name: None,
        accessor_id: None,
        token_type: None,
        policies: Vec::new(),
        roles: Vec::new(),
        global: false,
        created_at: None,
        expires_at: None,
        summary: "Nomad does not enforce ACLs: no token limits the gateway's calls; only the gateway's scopes and namespaces limit its callers".into(),
    }
}

fn identity(token: AclToken) -> NomadIdentity {
    let expires_at = token.expiration_time.clone().filter(|t| !t.is_empty());
    let grants: Vec<&str> = token
        .policies
        .iter()
        .map(String::as_str)
        .chain(token.roles.iter().map(|r| r.name.as_str()))
        .collect();
    let summary = if token.accessor_id == "anonymous" {
        "no token: Nomad treats the gateway as anonymous, allowed only what the anonymous policy grants (set NOMAD_TOKEN or NOMAD_TOKEN_FILE)".to_string()
    } else if token.token_type == "management" {
        "a management token: Nomad allows the gateway everything".to_string()
    } else if grants.is_empty() {
        "a client token without policies or roles: Nomad allows the gateway almost nothing"
            .to_string()
    } else {
        format!(
            "a client token: Nomad allows the gateway what its policies ({}) grant; a call they do not cover is refused with 403",
            grants.join(", ")
        )
    };
    NomadIdentity {
        acl_enabled: true,
        name: Some(token.name).filter(|n| !n.is_empty()),
        accessor_id: Some(token.accessor_id),
        token_type: Some(token.token_type),
        policies: token.policies,
        roles: token.roles.into_iter().map(|r| r.name).collect(),
        global: token.global,
        created_at: token.create_time.filter(|t| !t.is_empty()),
        expires_at,
        summary,
    }
}

/// Which kinds of volume to read: (`csi`, `host`).
fn volume_kinds(kind: Option<&str>) -> Result<(bool, bool), ServiceError> {
    match kind.filter(|k| !k.is_empty()) {
        None => Ok((true, true)),
        Some("csi") => Ok((true, false)),
        Some("host") => Ok((false, true)),
        Some(other) => Err(invalid(
            "type",
            format!("'{other}' is not a volume type; use csi or host, or leave it out for both"),
        )),
    }
}

fn csi_row(v: &CsiVolumeStub) -> VolumeRow {
    VolumeRow {
        id: v.id.clone(),
        name: v.name.clone(),
        kind: "csi".into(),
        namespace: v.namespace.clone(),
        plugin_id: v.plugin_id.clone(),
        status: if v.schedulable {
            "schedulable"
        } else {
            "unschedulable"
        }
        .into(),
        access_mode: Some(v.access_mode.clone()).filter(|m| !m.is_empty()),
        readers: Some(v.current_readers),
        writers: Some(v.current_writers),
        node_id: None,
        capacity_bytes: None,
    }
}

fn host_row(v: &HostVolumeStub) -> VolumeRow {
    VolumeRow {
        id: v.id.clone(),
        name: v.name.clone(),
        kind: "host".into(),
        namespace: v.namespace.clone(),
        plugin_id: v.plugin_id.clone(),
        status: v.state.clone(),
        access_mode: None,
        readers: None,
        writers: None,
        node_id: Some(v.node_id.clone()).filter(|n| !n.is_empty()),
        capacity_bytes: Some(v.capacity_bytes).filter(|c| *c > 0),
    }
}

fn capabilities(list: &[VolumeCapability]) -> Vec<String> {
    list.iter()
        .map(|c| format!("{} / {}", c.access_mode, c.attachment_mode))
        .collect()
}

fn claims(list: &[VolumeAllocation]) -> Vec<VolumeClaim> {
    list.iter()
        .map(|a| VolumeClaim {
            alloc_id: a.id.clone(),
            job_id: a.job_id.clone(),
            group: a.task_group.clone(),
            node_id: a.node_id.clone(),
            client_status: a.client_status.clone(),
        })
        .collect()
}

fn csi_detail(v: CsiVolume) -> VolumeDetail {
    let mut volume = csi_row(&v.stub);
    volume.capacity_bytes = Some(v.capacity).filter(|c| *c > 0);
    VolumeDetail {
        capabilities: capabilities(&v.requested_capabilities),
        external_id: Some(v.stub.external_id.clone()).filter(|e| !e.is_empty()),
        provider: Some(v.stub.provider.clone()).filter(|p| !p.is_empty()),
        plugin_health: Some(format!(
            "nodes {} of {} healthy, controllers {} of {}",
            v.stub.nodes_healthy,
            v.stub.nodes_expected,
            v.stub.controllers_healthy,
            v.stub.controllers_expected
        )),
        host_path: None,
        claims: claims(&v.allocations),
        volume,
    }
}

fn host_detail(v: HostVolume) -> VolumeDetail {
    VolumeDetail {
        volume: host_row(&v.stub),
        capabilities: capabilities(&v.requested_capabilities),
        external_id: None,
        provider: None,
        plugin_health: None,
        host_path: Some(v.host_path).filter(|p| !p.is_empty()),
        claims: claims(&v.allocations),
    }
}

fn policy_row(stub: &ScalingPolicyStub, policy: Option<ScalingPolicy>) -> ScalingPolicyRow {
    ScalingPolicyRow {
        id: stub.id.clone(),
        namespace: stub.target.namespace.clone(),
        job_id: stub.target.job.clone(),
        group: stub.target.group.clone(),
        task: Some(stub.target.task.clone()).filter(|t| !t.is_empty()),
        policy_type: stub.policy_type.clone(),
        enabled: stub.enabled,
        min: policy.as_ref().and_then(|p| p.min),
        max: policy.as_ref().map(|p| p.max),
        policy: policy.map(|p| serde_json::to_value(p.policy).unwrap_or_default()),
    }
}
