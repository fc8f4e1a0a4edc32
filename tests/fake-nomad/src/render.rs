//! Nomad's JSON shapes for the fake's objects, key for key as in Nomad's documented
//! responses (`structs.Allocation`, `structs.AllocListStub`, `structs.Evaluation`,
//! `structs.Deployment`, `structs.Node`, `structs.NodeListStub`, `structs.JobListStub`).

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::world::*;

fn summary_counts(world: &World, namespace: &str, id: &str, job: &Value) -> Map<String, Value> {
    let mut summary = Map::new();
    for group in crate::jobspec::groups(job) {
        let name = crate::jobspec::str_of(group, "Name").to_string();
        let allocs: Vec<&Alloc> = world
            .job_allocs(namespace, id)
            .into_iter()
            .filter(|a| a.task_group == name)
            .collect();
        let count = |status: &str| allocs.iter().filter(|a| a.client_status == status).count();
        let queued: u64 = world
            .evals
            .values()
            .filter(|e| e.namespace == namespace && e.job_id == id && e.status == "blocked")
            .filter_map(|e| e.queued.get(&name))
            .sum();
        summary.insert(
            name,
            json!({
                "Queued": queued, "Complete": count("complete"), "Failed": count("failed"),
                "Running": count("running"), "Starting": count("pending"), "Lost": count("lost"),
                "Unknown": count("unknown")
            }),
        );
    }
    summary
}

fn children(world: &World, namespace: &str, id: &str) -> Value {
    let mut pending = 0;
    let mut running = 0;
    let mut dead = 0;
    for record in world.jobs.values() {
        if record.namespace == namespace && record.current()["ParentID"] == id {
            match world.job_status(record) {
                "pending" => pending += 1,
                "running" => running += 1,
                _ => dead += 1,
            }
        }
    }
    json!({"Pending": pending, "Running": running, "Dead": dead})
}

pub fn job_summary(world: &World, namespace: &str, id: &str) -> Value {
    let record = world.job(namespace, id).expect("caller checked");
    json!({
        "JobID": id,
        "Namespace": namespace,
        "Summary": summary_counts(world, namespace, id, record.current()),
        "Children": children(world, namespace, id),
        "CreateIndex": record.create_index,
        "ModifyIndex": record.modify_index
    })
}

/// The job as `GET /v1/job/:id` returns it.
pub fn job(world: &World, namespace: &str, id: &str) -> Value {
    let record = world.job(namespace, id).expect("caller checked");
    let mut job = record.current().clone();
    job["Status"] = json!(world.job_status(record));
    job["CreateIndex"] = json!(record.create_index);
    job["ModifyIndex"] = json!(record.modify_index);
    job["JobModifyIndex"] = json!(record.job_modify_index);
    job
}

pub fn job_stub(world: &World, record: &JobRecord) -> Value {
    let job = record.current();
    json!({
        "ID": record.id,
        "ParentID": job["ParentID"],
        "Name": job["Name"],
        "Namespace": record.namespace,
        "Datacenters": job["Datacenters"],
        "NodePool": job["NodePool"],
        "Multiregion": job["Multiregion"],
        "Type": job["Type"],
        "Priority": job["Priority"],
        "Periodic": job["Periodic"].is_object(),
        "ParameterizedJob": job["ParameterizedJob"].is_object(),
        "Stop": job["Stop"],
        "Status": world.job_status(record),
        "StatusDescription": job["StatusDescription"],
        "JobSummary": job_summary(world, &record.namespace, &record.id),
        "CreateIndex": record.create_index,
        "ModifyIndex": record.modify_index,
        "JobModifyIndex": record.job_modify_index,
        "SubmitTime": record.submit_time
    })
}

fn task_event(e: &TaskEvent) -> Value {
    json!({
        "Type": e.kind, "Time": e.at, "Message": e.message, "DisplayMessage": e.display,
        "Details": e.details, "FailsTask": e.fails_task, "RestartReason": e.restart_reason,
        "SetupError": "", "DriverError": "", "ExitCode": e.exit_code, "Signal": 0,
        "KillTimeout": 0, "KillError": "", "KillReason": "", "StartDelay": 0,
        "DownloadError": "", "ValidationError": "", "DiskLimit": 0, "FailedSibling": "",
        "VaultError": "", "TaskSignalReason": "", "TaskSignal": "", "DriverMessage": "",
        "GenericSource": ""
    })
}

/// Go's `time.Time`: the zero time when unset, never null.
fn go_time(t: Option<i64>) -> String {
    t.map(rfc3339)
        .unwrap_or_else(|| "0001-01-01T00:00:00Z".to_string())
}

fn task_states(alloc: &Alloc) -> Value {
    let mut states = Map::new();
    for (name, t) in &alloc.tasks {
        states.insert(
            name.clone(),
            json!({
                "State": t.state,
                "Failed": t.failed,
                "Restarts": t.restarts,
                "LastRestart": go_time(t.last_restart),
                "StartedAt": go_time(t.started_at),
                "FinishedAt": go_time(t.finished_at),
                "Events": t.events.iter().map(task_event).collect::<Vec<_>>(),
                "TaskHandle": null
            }),
        );
    }
    Value::Object(states)
}

fn deployment_status(alloc: &Alloc) -> Value {
    if alloc.deployment_id.is_empty() {
        return Value::Null;
    }
    json!({
        "Healthy": alloc.healthy,
        "Timestamp": rfc3339(alloc.modify_time),
        "Canary": alloc.canary,
        "ModifyIndex": alloc.modify_index
    })
}

/// `structs.AllocListStub`: lists and the event stream.
pub fn alloc_stub(alloc: &Alloc) -> Value {
    json!({
        "ID": alloc.id,
        "EvalID": alloc.eval_id,
        "Name": alloc.name,
        "Namespace": alloc.namespace,
        "NodeID": alloc.node_id,
        "NodeName": alloc.node_name,
        "JobID": alloc.job_id,
        "JobType": alloc.job_type,
        "JobVersion": alloc.job_version,
        "TaskGroup": alloc.task_group,
        "AllocatedResources": null,
        "DesiredStatus": alloc.desired_status,
        "DesiredDescription": alloc.desired_description,
        "ClientStatus": alloc.client_status,
        "ClientDescription": alloc.client_description,
        "DesiredTransition": {"Migrate": null, "Reschedule": null, "ForceReschedule": null},
        "TaskStates": task_states(alloc),
        "DeploymentStatus": deployment_status(alloc),
        "FollowupEvalID": alloc.followup_eval,
        "NextAllocation": alloc.next_allocation,
        "PreviousAllocation": alloc.previous_allocation,
        "RescheduleTracker": null,
        "PreemptedAllocations": null,
        "PreemptedByAllocation": "",
        "CreateIndex": alloc.create_index,
        "ModifyIndex": alloc.modify_index,
        "CreateTime": alloc.create_time,
        "ModifyTime": alloc.modify_time
    })
}

fn resources(cpu: u64, memory: u64) -> Value {
    json!({"CPU": cpu, "MemoryMB": memory, "DiskMB": 0, "IOPS": 0, "Networks": null})
}

/// `structs.Allocation`: `GET /v1/allocation/:id`, with the job it runs.
pub fn alloc(world: &World, alloc: &Alloc) -> Value {
    let mut out = alloc_stub(alloc);
    let job = world
        .job(&alloc.namespace, &alloc.job_id)
        .and_then(|r| {
            r.versions
                .iter()
                .find(|v| v["Version"].as_u64() == Some(alloc.job_version))
                .or(r.versions.last())
        })
        .cloned()
        .unwrap_or(Value::Null);
    let (cpu, memory) = alloc.ask();
    let mut task_resources = Map::new();
    for (name, t) in &alloc.tasks {
        task_resources.insert(name.clone(), resources(t.cpu, t.memory));
    }
    let o = out.as_object_mut().expect("object");
    o.insert("Job".into(), job);
    o.insert("Resources".into(), resources(cpu, memory));
    o.insert(
        "SharedResources".into(),
        json!({"CPU": 0, "MemoryMB": 0, "DiskMB": 300, "Networks": null}),
    );
    o.insert("TaskResources".into(), Value::Object(task_resources));
    o.insert("Metrics".into(), alloc.metrics.clone());
    o.insert("DeploymentID".into(), json!(alloc.deployment_id));
    o.insert("AllocModifyIndex".into(), json!(alloc.alloc_modify_index));
    o.insert("SignedIdentities".into(), Value::Null);
    out
}

pub fn eval(e: &Eval) -> Value {
    let failed = if e.failed.is_empty() {
        Value::Null
    } else {
        json!(e.failed)
    };
    json!({
        "ID": e.id,
        "Namespace": e.namespace,
        "Priority": e.priority,
        "Type": e.kind,
        "TriggeredBy": e.triggered_by,
        "JobID": e.job_id,
        "JobModifyIndex": e.job_modify_index,
        "NodeID": e.node_id,
        "NodeModifyIndex": e.node_modify_index,
        "DeploymentID": e.deployment_id,
        "Status": e.status,
        "StatusDescription": e.status_description,
        "Wait": 0,
        "WaitUntil": null,
        "NextEval": e.next_eval,
        "PreviousEval": e.previous_eval,
        "BlockedEval": e.blocked_eval,
        "RelatedEvals": null,
        "FailedTGAllocs": failed,
        "ClassEligibility": e.class_eligibility,
        "EscapedComputedClass": false,
        "QuotaLimitReached": "",
        "AnnotatePlan": false,
        "QueuedAllocations": e.queued,
        "LeaderACL": "",
        "SnapshotIndex": e.snapshot_index,
        "CreateIndex": e.create_index,
        "ModifyIndex": e.modify_index,
        "CreateTime": e.create_time,
        "ModifyTime": e.modify_time
    })
}

/// `GET /v1/evaluation/:id?related=true` adds the stubs of related evaluations.
pub fn eval_with_related(world: &World, e: &Eval) -> Value {
    let mut out = eval(e);
    let related: Vec<Value> = world
        .evals
        .values()
        .filter(|o| {
            o.id != e.id
                && (o.previous_eval == e.id || e.previous_eval == o.id || e.blocked_eval == o.id)
        })
        .map(|o| {
            json!({
                "ID": o.id, "Namespace": o.namespace, "Priority": o.priority, "Type": o.kind,
                "TriggeredBy": o.triggered_by, "JobID": o.job_id, "NodeID": o.node_id,
                "DeploymentID": o.deployment_id, "Status": o.status,
                "StatusDescription": o.status_description, "WaitUntil": null,
                "NextEval": o.next_eval, "PreviousEval": o.previous_eval,
                "BlockedEval": o.blocked_eval, "CreateIndex": o.create_index,
                "ModifyIndex": o.modify_index, "CreateTime": o.create_time,
                "ModifyTime": o.modify_time
            })
        })
        .collect();
    out["RelatedEvals"] = json!(related);
    out
}

pub fn deployment(d: &Deployment) -> Value {
    let mut groups = Map::new();
    for (name, g) in &d.groups {
        groups.insert(
            name.clone(),
            json!({
                "AutoRevert": g.auto_revert,
                "AutoPromote": g.auto_promote,
                "ProgressDeadline": g.progress_deadline,
                "RequireProgressBy": rfc3339(g.require_progress_by),
                "Promoted": g.promoted,
                "PlacedCanaries": g.placed_canaries,
                "DesiredCanaries": g.desired_canaries,
                "DesiredTotal": g.desired_total,
                "PlacedAllocs": g.placed,
                "HealthyAllocs": g.healthy,
                "UnhealthyAllocs": g.unhealthy
            }),
        );
    }
    json!({
        "ID": d.id,
        "Namespace": d.namespace,
        "JobID": d.job_id,
        "JobVersion": d.job_version,
        "JobModifyIndex": d.job_modify_index,
        "JobSpecModifyIndex": d.job_spec_modify_index,
        "JobCreateIndex": d.job_create_index,
        "IsMultiregion": false,
        "TaskGroups": groups,
        "Status": d.status,
        "StatusDescription": d.status_description,
        "EvalPriority": 50,
        "CreateIndex": d.create_index,
        "ModifyIndex": d.modify_index
    })
}

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
        "NodeClass": "",
        "NodePool": "default",
        "ComputedClass": "v1:1234567890",
        "Drain": node.drain.is_some(),
        "DrainStrategy": drain_strategy(node),
        "SchedulingEligibility": node.eligibility,
        "Status": node.status,
        "StatusDescription": "",
        "StatusUpdatedAt": node.status_updated_at,
        "Events": node.events.iter().map(|e| json!({
            "Message": e.message, "Subsystem": e.subsystem, "Details": null,
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
        "NodeClass": "",
        "NodePool": "default",
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
