//! Nodes: the full node (attributes, resources, drivers, drain) and its list stub.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::world::*;

fn drivers() -> Value {
    let driver = |attrs: Value| {
        json!({
            "Attributes": attrs, "Detected": true, "Healthy": true,
            "HealthDescription": "Healthy", "UpdateTime": "2026-01-15T10:00:00.000000000Z"
        })
    };
    json!({
        "docker": driver(json!({"driver.docker": "true", "driver.docker.version": "27.3.1",
                                "driver.docker.bridge_ip": "172.17.0.1",
                                "driver.docker.os_type": "linux",
                                "driver.docker.runtimes": "runc"})),
        "exec": driver(Value::Null),
        "raw_exec": driver(json!({"driver.raw_exec": "true"}))
    })
}

fn node_attributes(node: &Node) -> Value {
    json!({
        "cpu.arch": "amd64",
        "cpu.numcores": "4",
        "cpu.frequency": (node.cpu / 4).to_string(),
        "cpu.totalcompute": node.cpu.to_string(),
        "cpu.modelname": "Fake CPU",
        "memory.totalbytes": (node.memory * 1024 * 1024).to_string(),
        "kernel.name": "linux",
        "kernel.version": "6.1.0",
        "os.name": "debian",
        "os.version": "12",
        "os.signals": "SIGINT,SIGTERM,SIGKILL,SIGHUP",
        "nomad.version": "1.11.2",
        "nomad.revision": "a443448d00ca4fa5af3166b2ff9b9031b39a9f57",
        "driver.docker": "1",
        "driver.raw_exec": "1",
        "unique.hostname": node.name,
        "unique.network.ip-address": node.address,
        "unique.advertise.address": format!("{}:4646", node.address),
        "unique.storage.volume": "/dev/vda1",
        "unique.storage.bytestotal": "107374182400",
        "unique.storage.bytesfree": "53687091200",
        "unique.cgroup.mountpoint": "/sys/fs/cgroup"
    })
}

fn node_meta(node: &Node) -> BTreeMap<String, String> {
    let mut meta = node.static_meta.clone();
    meta.extend(node.meta.clone());
    meta
}

fn drain_strategy(node: &Node) -> Value {
    match &node.drain {
        None => Value::Null,
        Some(d) => json!({
            "Deadline": d.deadline_ns,
            "IgnoreSystemJobs": d.ignore_system,
            "ForceDeadline": if d.force_deadline > 0 { rfc3339(d.force_deadline) } else { "0001-01-01T00:00:00Z".into() },
            "StartedAt": rfc3339(d.started_at)
        }),
    }
}

fn last_drain(node: &Node) -> Value {
    match &node.last_drain {
        None => Value::Null,
        Some((started, updated, status)) => json!({
            "StartedAt": rfc3339(*started), "UpdatedAt": rfc3339(*updated),
            "Status": status, "AccessorID": "", "Meta": null
        }),
    }
}

/// `structs.Node` without its secret.
pub fn node(node: &Node) -> Value {
    json!({
        "ID": node.id,
        "SecretID": "",
        "Datacenter": node.datacenter,
        "Name": node.name,
        "HTTPAddr": format!("{}:4646", node.address),
        "TLSEnabled": false,
        "Attributes": node_attributes(node),
        "NodeResources": {
            "Cpu": {"CpuShares": node.cpu, "TotalCpuCores": 4, "ReservableCpuCores": [0, 1, 2, 3]},
            "Memory": {"MemoryMB": node.memory},
            "Disk": {"DiskMB": node.disk},
            "Networks": [{"Mode": "host", "Device": "eth0", "CIDR": format!("{}/32", node.address),
                          "IP": node.address, "MBits": 1000, "DNS": null,
                          "ReservedPorts": null, "DynamicPorts": null}],
            "NodeNetworks": [{"Mode": "host", "Device": "eth0", "MacAddress": "02:00:00:00:00:01",
                              "Speed": 1000, "Addresses": [{"Family": "ipv4", "Alias": "default",
                              "Address": node.address, "ReservedPorts": "", "Gateway": ""}]}],
            "Devices": null,
            "MinDynamicPort": 20000,
            "MaxDynamicPort": 32000
        },
        "ReservedResources": {
            "Cpu": {"CpuShares": 0}, "Memory": {"MemoryMB": 0}, "Disk": {"DiskMB": 0},
            "Networks": {"ReservedHostPorts": ""}
        },
        "Links": {},
        "Meta": node_meta(node),
        "NodeClass": node.class,
        "NodePool": node.pool,
        "ComputedClass": "v1:1234567890",
        "Drain": node.drain.is_some(),
        "DrainStrategy": drain_strategy(node),
        "SchedulingEligibility": node.eligibility,
        "Status": node.status,
        "StatusDescription": "",
        "StatusUpdatedAt": node.status_updated_at,
        "Events": node.events.iter().map(|e| json!({
            "Message": e.message, "Subsystem": e.subsystem,
            "Details": if e.details.is_empty() { Value::Null } else { json!(e.details) },
            "Timestamp": rfc3339(e.at), "CreateIndex": e.index
        })).collect::<Vec<_>>(),
        "Drivers": drivers(),
        "HostVolumes": {},
        "HostNetworks": {},
        "CSIControllerPlugins": null,
        "CSINodePlugins": null,
        "LastDrain": last_drain(node),
        "CreateIndex": node.create_index,
        "ModifyIndex": node.modify_index
    })
}

/// `structs.NodeListStub`; `resources` adds `NodeResources` and `ReservedResources`
/// (the `?resources=true` query).
pub fn node_stub(node: &Node, resources: bool) -> Value {
    let full = self::node(node);
    let mut stub = json!({
        "Address": node.address,
        "ID": node.id,
        "Attributes": {"os.name": "debian", "kernel.name": "linux", "nomad.version": "1.11.2"},
        "Datacenter": node.datacenter,
        "Name": node.name,
        "NodeClass": node.class,
        "NodePool": node.pool,
        "Version": "1.11.2",
        "Drain": node.drain.is_some(),
        "SchedulingEligibility": node.eligibility,
        "Status": node.status,
        "StatusDescription": "",
        "Drivers": drivers(),
        "HostVolumes": null,
        "NodeResources": null,
        "ReservedResources": null,
        "LastDrain": last_drain(node),
        "CreateIndex": node.create_index,
        "ModifyIndex": node.modify_index
    });
    if resources {
        stub["NodeResources"] = full["NodeResources"].clone();
        stub["ReservedResources"] = full["ReservedResources"].clone();
    }
    stub
}

/// `structs.NodePool`. The built-in pools and those created by a node's registration have
/// no hash (only the node pool upsert RPC sets one) and no scheduler configuration;
/// `NodeIdentityTTL` is the default, 24 hours, in nanoseconds (`structs.Duration` has no
/// text form here).
pub fn node_pool(pool: &NodePool) -> Value {
    json!({
        "Name": pool.name,
        "Description": pool.description,
        "Meta": if pool.meta.is_empty() { Value::Null } else { json!(pool.meta) },
        "SchedulerConfiguration": null,
        "NodeIdentityTTL": 86_400_000_000_000i64,
        "Hash": null,
        "CreateIndex": pool.create_index,
        "ModifyIndex": pool.modify_index
    })
}
