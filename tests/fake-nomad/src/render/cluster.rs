//! The cluster: namespaces, the server member and `/v1/agent/self`.

use serde_json::{Value, json};

use crate::world::*;

pub fn namespace(ns: &Namespace) -> Value {
    json!({
        "Name": ns.name,
        "Description": ns.description,
        "Quota": "",
        "Capabilities": null,
        "NodePoolConfiguration": null,
        "Meta": null,
        "CreateIndex": ns.create_index,
        "ModifyIndex": ns.modify_index
    })
}

pub fn member(addr: &str) -> Value {
    json!({
        "Name": "fake-server-1.global",
        "Addr": addr,
        "Port": 4648,
        "Tags": {
            "role": "nomad", "region": "global", "dc": "dc1", "vsn": "1", "mvn": "1",
            "build": "1.11.2", "port": "4647", "bootstrap": "1", "expect": "1",
            "id": "00000000-0000-0000-0000-000000000001", "raft_vsn": "3", "rpc_addr": addr
        },
        "Status": "alive",
        "ProtocolMin": 1,
        "ProtocolMax": 5,
        "ProtocolCur": 2,
        "DelegateMin": 2,
        "DelegateMax": 5,
        "DelegateCur": 4
    })
}

pub fn agent_self(addr: &str, index: u64) -> Value {
    json!({
        "config": {
            "Region": "global",
            "Datacenter": "dc1",
            "NodeName": "fake-server-1",
            "DataDir": "/var/lib/nomad",
            "LogLevel": "INFO",
            "BindAddr": "0.0.0.0",
            "EnableDebug": false,
            "Ports": {"HTTP": 4646, "RPC": 4647, "Serf": 4648},
            "Addresses": {"HTTP": "0.0.0.0", "RPC": "0.0.0.0", "Serf": "0.0.0.0"},
            "AdvertiseAddrs": {"HTTP": addr, "RPC": addr, "Serf": addr},
            "Client": {"Enabled": false},
            "Server": {"Enabled": true, "BootstrapExpect": 1, "NumSchedulers": 2,
                       "EnabledSchedulers": ["service", "batch", "system", "sysbatch", "_core"]},
            "ACL": {"Enabled": false},
            "Version": {"Version": "1.11.2", "VersionPrerelease": "", "VersionMetadata": "",
                        "Revision": "a443448d00ca4fa5af3166b2ff9b9031b39a9f57"},
            "Files": null
        },
        "member": member(addr),
        "stats": {
            "nomad": {"server": "true", "leader": "true", "leader_addr": addr,
                      "bootstrap": "true", "known_regions": "1"},
            "raft": {"state": "Leader", "num_peers": "0", "applied_index": index.to_string(),
                     "commit_index": index.to_string(), "last_log_index": index.to_string(),
                     "last_contact": "0", "term": "2"},
            "runtime": {"arch": "amd64", "cpu_count": "4", "goroutines": "120",
                        "kernel.name": "linux", "max_procs": "4", "version": "go1.25"},
            "client": {"known_servers": "1", "num_allocations": "0",
                       "heartbeat_ttl": "15s", "last_heartbeat": "1s",
                       "node_id": ""},
            "serf": {"members": "1", "failed": "0", "left": "0", "health_score": "0",
                     "encrypted": "false", "event_queue": "0", "event_time": "1",
                     "intent_queue": "0", "member_time": "1", "query_queue": "0",
                     "query_time": "1"}
        }
    })
}
