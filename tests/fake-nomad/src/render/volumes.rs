//! Volumes: `structs.CSIVolume` and its `CSIVolListStub`, `structs.HostVolume` and its
//! `HostVolumeStub` (`nomad/structs/csi.go`, `nomad/structs/host_volumes.go` at 1.11.2).
//! The fake's volumes are never claimed: `ReadAllocs` and `WriteAllocs` are empty, the
//! current access and attachment modes unset, and a host volume's `Allocations` (which
//! Nomad encodes `omitempty`) absent.

use serde_json::{Value, json};

use crate::world::*;

/// `time.Time{}` as Go encodes it.
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

fn topologies(v: &crate::volumes::CsiVolume) -> Value {
    if v.topology.is_empty() {
        Value::Null
    } else {
        json!([{"Segments": v.topology}])
    }
}

/// The plugin's health, as CSIVolumeDenormalizePlugins copies it onto the volume: one
/// controller, and a node plugin on every node.
fn plugin_health(world: &World) -> (usize, usize) {
    let nodes = world.nodes.iter().filter(|n| n.status == "ready").count();
    (1, nodes)
}

pub fn csi_volume_stub(world: &World, r: &CsiVolumeRecord) -> Value {
    let v = &r.spec;
    let (controllers, nodes) = plugin_health(world);
    json!({
        "ID": v.id,
        "Namespace": v.namespace,
        "Name": v.name,
        "ExternalID": v.external_id,
        "Topologies": topologies(v),
        "AccessMode": "",
        "AttachmentMode": "",
        "CurrentReaders": 0,
        "CurrentWriters": 0,
        "Schedulable": v.schedulable,
        "PluginID": v.plugin_id,
        "Provider": v.provider,
        "ControllerRequired": true,
        "ControllersHealthy": controllers,
        "ControllersExpected": controllers,
        "NodesHealthy": nodes,
        "NodesExpected": world.nodes.len(),
        "ResourceExhausted": ZERO_TIME,
        "CreateIndex": r.create_index,
        "ModifyIndex": r.modify_index,
        "CreateTime": r.create_time,
        "ModifyTime": r.create_time
    })
}

pub fn csi_volume(world: &World, r: &CsiVolumeRecord) -> Value {
    let v = &r.spec;
    let (controllers, nodes) = plugin_health(world);
    json!({
        "ID": v.id,
        "Name": v.name,
        "ExternalID": v.external_id,
        "Namespace": v.namespace,
        "RequestedTopologies": null,
        "Topologies": topologies(v),
        "AccessMode": "",
        "AttachmentMode": "",
        "MountOptions": null,
        "Secrets": null,
        "Parameters": v.parameters,
        "Context": null,
        "Capacity": v.capacity_bytes,
        "RequestedCapacityMin": v.capacity_bytes,
        "RequestedCapacityMax": v.capacity_bytes,
        "RequestedCapabilities": [{"AttachmentMode": v.attachment_mode, "AccessMode": v.access_mode}],
        "CloneID": "",
        "SnapshotID": "",
        "ReadAllocs": {},
        "WriteAllocs": {},
        "Schedulable": v.schedulable,
        "PluginID": v.plugin_id,
        "Provider": v.provider,
        "ProviderVersion": v.provider_version,
        "ControllerRequired": true,
        "ControllersHealthy": controllers,
        "ControllersExpected": controllers,
        "NodesHealthy": nodes,
        "NodesExpected": world.nodes.len(),
        "ResourceExhausted": ZERO_TIME,
        "CreateIndex": r.create_index,
        "ModifyIndex": r.modify_index,
        "CreateTime": r.create_time,
        "ModifyTime": r.create_time
    })
}

pub fn host_volume_stub(r: &HostVolumeRecord) -> Value {
    let v = &r.spec;
    json!({
        "Namespace": v.namespace,
        "ID": v.id,
        "Name": v.name,
        "PluginID": v.plugin_id,
        "NodePool": r.node_pool,
        "NodeID": r.node_id,
        "CapacityBytes": v.capacity_bytes,
        "State": v.state,
        "CreateIndex": r.create_index,
        "CreateTime": r.create_time,
        "ModifyIndex": r.modify_index,
        "ModifyTime": r.create_time
    })
}

pub fn host_volume(r: &HostVolumeRecord) -> Value {
    let v = &r.spec;
    let mut out = json!({
        "Namespace": v.namespace,
        "ID": v.id,
        "Name": v.name,
        "PluginID": v.plugin_id,
        "NodePool": r.node_pool,
        "NodeID": r.node_id,
        "RequestedCapacityMinBytes": v.capacity_bytes,
        "RequestedCapacityMaxBytes": v.capacity_bytes,
        "CapacityBytes": v.capacity_bytes,
        "RequestedCapabilities": [{"AttachmentMode": "file-system", "AccessMode": "single-node-writer"}],
        "HostPath": v.host_path(),
        "State": v.state,
        "CreateIndex": r.create_index,
        "CreateTime": r.create_time,
        "ModifyIndex": r.modify_index,
        "ModifyTime": r.create_time
    });
    // `Parameters` is `omitempty`.
    if !v.parameters.is_empty() {
        out["Parameters"] = json!(v.parameters);
    }
    out
}
