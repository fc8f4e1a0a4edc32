//! Volumes a test starts the fake with (`Options::csi_volumes`, `Options::host_volumes`),
//! as an operator would have registered them: a CSI volume of a plugin, and a dynamic
//! host volume created on a node. The fake serves them read-only
//! (`GET /v1/volumes?type=csi|host`, `GET /v1/volume/csi/:id`, `GET /v1/volume/host/:id`);
//! no job claims them, so their allocation lists are empty and a CSI volume's current
//! access and attachment modes are unset, as Nomad reports an unclaimed volume.

use std::collections::BTreeMap;

/// A CSI volume (`structs.CSIVolume`).
#[derive(Debug, Clone)]
pub struct CsiVolume {
    pub id: String,
    pub name: String,
    pub namespace: String,
    /// The storage provider's ID for it (`ExternalID`).
    pub external_id: String,
    pub plugin_id: String,
    /// The plugin's provider name and version (`Provider`, `ProviderVersion`).
    pub provider: String,
    pub provider_version: String,
    /// `Capacity` in bytes; `RequestedCapacityMin` and `Max` are the same.
    pub capacity_bytes: i64,
    /// The capability it was registered with (`RequestedCapabilities`):
    /// `single-node-writer`, `multi-node-multi-writer`...; `file-system` or `block-device`.
    pub access_mode: String,
    pub attachment_mode: String,
    /// Whether its plugin is healthy enough to place claims (`Schedulable`).
    pub schedulable: bool,
    /// Topology segments the volume is reachable from (`Topologies[].Segments`).
    pub topology: BTreeMap<String, String>,
    pub parameters: BTreeMap<String, String>,
}

impl CsiVolume {
    /// A 10 GiB `single-node-writer` `file-system` volume of the `aws-ebs0` plugin.
    pub fn new(id: &str, namespace: &str) -> CsiVolume {
        CsiVolume {
            id: id.into(),
            name: id.into(),
            namespace: namespace.into(),
            external_id: format!(
                "vol-{}",
                &crate::acl::stable_uuid(id).replace('-', "")[..17]
            ),
            plugin_id: "aws-ebs0".into(),
            provider: "ebs.csi.aws.com".into(),
            provider_version: "1.35.0".into(),
            capacity_bytes: 10 * 1024 * 1024 * 1024,
            access_mode: "single-node-writer".into(),
            attachment_mode: "file-system".into(),
            schedulable: true,
            topology: BTreeMap::from([(
                "topology.ebs.csi.aws.com/zone".to_string(),
                "us-east-1a".to_string(),
            )]),
            parameters: BTreeMap::from([("type".to_string(), "gp3".to_string())]),
        }
    }
}

/// A dynamic host volume (`structs.HostVolume`) on one of the nodes the fake starts with.
#[derive(Debug, Clone)]
pub struct HostVolume {
    /// A UUID, as Nomad gives one; [`HostVolume::new`] derives it from the namespace and
    /// the name, so it is the same every run.
    pub id: String,
    pub name: String,
    pub namespace: String,
    /// The node it lives on: an index into the nodes the fake starts with
    /// (`FakeNomad::node_ids()` order).
    pub node: usize,
    /// `mkdir` (Nomad's built-in plugin) or an external plugin's ID.
    pub plugin_id: String,
    pub capacity_bytes: i64,
    /// `ready`, `pending` or `unavailable`.
    pub state: String,
    pub parameters: BTreeMap<String, String>,
}

impl HostVolume {
    /// A ready 1 GiB volume of the `mkdir` plugin on the `node`-th node.
    pub fn new(name: &str, namespace: &str, node: usize) -> HostVolume {
        HostVolume {
            id: crate::acl::stable_uuid(&format!("host-volume:{namespace}/{name}")),
            name: name.into(),
            namespace: namespace.into(),
            node,
            plugin_id: "mkdir".into(),
            capacity_bytes: 1024 * 1024 * 1024,
            state: "ready".into(),
            parameters: BTreeMap::new(),
        }
    }

    /// Where Nomad's client puts it (`<data_dir>/host_volumes/<id>`).
    pub fn host_path(&self) -> String {
        format!("/opt/nomad/data/host_volumes/{}", self.id)
    }
}
