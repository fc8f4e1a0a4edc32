//! Fidelity of the Nomad client's types: every documented sample response of every
//! endpoint the client calls deserializes, and the fields the gateway reads keep their
//! values. Samples: `tests/nomad-api/` (a copy of Nomad's documented samples, see its
//! README; `NOMAD_API_SAMPLES` names another folder).

use std::path::PathBuf;

use nomad_gateway::nomad::AllocStopResponse;
use nomad_gateway::nomad::types::*;
use serde::de::DeserializeOwned;
use serde_json::Value;

pub fn samples_dir() -> PathBuf {
    let dir = std::env::var("NOMAD_API_SAMPLES")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/nomad-api")));
    assert!(
        dir.join("samples").is_dir(),
        "Nomad API samples not found at {}; set NOMAD_API_SAMPLES to the nomad-api folder",
        dir.display()
    );
    dir
}

fn sample(name: &str) -> Value {
    let path = samples_dir().join("samples").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let file: Value = serde_json::from_str(&text).unwrap();
    file["response"].clone()
}

fn parse<T: DeserializeOwned>(name: &str) -> T {
    let response = sample(name);
    serde_json::from_value(response)
        .unwrap_or_else(|e| panic!("{name} does not fit {}: {e}", std::any::type_name::<T>()))
}

#[test]
fn job_samples_deserialize() {
    for name in [
        "GET_v1_jobs.json",
        "GET_v1_jobs__filter-unfiltered.json",
        "GET_v1_jobs__filter-datacenters-contains-dc2.json",
    ] {
        let jobs: Vec<JobListStub> = parse(name);
        assert!(!jobs.is_empty(), "{name}");
    }
    let jobs: Vec<JobListStub> = parse("GET_v1_jobs.json");
    assert_eq!(jobs[0].id, "example");
    assert_eq!(
        jobs[0].job_summary.as_ref().unwrap().summary["cache"].queued,
        1
    );

    let job: Job = parse("GET_v1_job_ID.json");
    assert_eq!(job.id, "example");
    assert!(!job.task_groups.is_empty() && !job.task_groups[0].tasks.is_empty());
    let parsed: Job = parse("POST_v1_jobs_parse.json");
    assert_eq!(parsed.id, "my-job");

    let summary: JobSummary = parse("GET_v1_job_ID_summary.json");
    assert_eq!(summary.summary["cache"].running, 1);
    let versions: JobVersions = parse("GET_v1_job_ID_versions.json");
    assert!(!versions.versions.is_empty());
    let with_diffs: JobVersions = parse("GET_v1_job_ID_versions__diffs.json");
    assert!(!with_diffs.diffs.is_empty());
    let plan: JobPlanResponse = parse("POST_v1_job_ID_plan.json");
    assert!(plan.diff.is_some());
    let _: Vec<Allocation> = parse("GET_v1_job_ID_allocations.json");
    let _: Vec<Evaluation> = parse("GET_v1_job_ID_evaluations.json");
    let _: Vec<Deployment> = parse("GET_v1_job_ID_deployments.json");
    let latest: Option<Deployment> = parse("GET_v1_job_ID_deployment.json");
    assert!(latest.is_some());
}

#[test]
fn job_write_answers_deserialize() {
    for name in [
        "POST_v1_jobs.json",
        "POST_v1_job_ID.json",
        "DELETE_v1_job_ID.json",
        "POST_v1_job_ID_revert.json",
        "POST_v1_job_ID_scale.json",
        "POST_v1_job_ID_evaluate.json",
    ] {
        let answer: JobWriteResponse = parse(name);
        assert!(
            answer.job_modify_index > 0 || !answer.eval_id.is_empty(),
            "{name}: {answer:?}"
        );
    }
    let dispatched: JobWriteResponse = parse("POST_v1_job_ID_dispatch.json");
    assert_eq!(
        dispatched.dispatched_job_id,
        "example/dispatch-1485408778-81644024"
    );
}

#[test]
fn allocation_samples_keep_task_events() {
    let alloc: Allocation = parse("GET_v1_allocation_ALLOC.json");
    let state = alloc.task_states.values().next().expect("task states");
    assert!(!state.events.is_empty());
    assert!(
        state
            .events
            .iter()
            .any(|e| !e.event_type.is_empty() && e.time > 0)
    );
    let _: Vec<Allocation> = parse("GET_v1_allocations.json");
    let _: Vec<Allocation> = parse("GET_v1_evaluation_EVAL_allocations.json");
    let _: Vec<Allocation> = parse("GET_v1_deployment_allocations_DEPLOYMENT.json");
    let _: Vec<Allocation> = parse("GET_v1_node_ID_allocations.json");
    let stop: AllocStopResponse = parse("POST_v1_allocation_ALLOC_stop.json");
    assert_eq!(stop.eval_id, "5456bd7a-9fc0-c0dd-6131-cbee77f57577");
    let _: Value = parse("POST_v1_client_allocation_ALLOC_restart.json");
}

#[test]
fn blocked_evaluation_keeps_its_placement_metrics() {
    let eval: Evaluation = parse("GET_v1_evaluation_EVAL.json");
    assert_eq!(eval.status, "blocked");
    let metric = &eval.failed_tg_allocs["cache"];
    assert_eq!(metric.nodes_available.get("dc1"), Some(&0));
    assert_eq!(eval.related_evals.len(), 1);
    let _: Vec<Evaluation> = parse("GET_v1_evaluations.json");
}

#[test]
fn deployment_samples_deserialize() {
    for name in [
        "GET_v1_deployments.json",
        "GET_v1_deployments__filter-unfiltered.json",
        "GET_v1_deployments__filter-status-not-successful.json",
    ] {
        let _: Vec<Deployment> = parse(name);
    }
    let deployment: Deployment = parse("GET_v1_deployment_ID.json");
    assert!(!deployment.task_groups.is_empty());
    for name in [
        "POST_v1_deployment_promote_DEPLOYMENT.json",
        "POST_v1_deployment_fail_DEPLOYMENT.json",
    ] {
        let answer: DeploymentWriteResponse = parse(name);
        assert!(!answer.eval_id.is_empty(), "{name}");
    }
}

#[test]
fn node_samples_deserialize() {
    let nodes: Vec<NodeListStub> = parse("GET_v1_nodes.json");
    assert!(!nodes[0].id.is_empty() && !nodes[0].status.is_empty());
    let node: Node = parse("GET_v1_node_ID.json");
    assert!(
        node.node_resources
            .as_ref()
            .is_some_and(|r| r.memory.memory_mb > 0),
        "{node:?}"
    );
    for name in [
        "POST_v1_node_ID_drain.json",
        "POST_v1_node_ID_eligibility.json",
    ] {
        let answer: NodeWriteResponse = parse(name);
        assert!(answer.node_modify_index > 0, "{name}");
    }
    let _: Value = parse("POST_v1_client_metadata.json");
}

#[test]
fn cluster_samples_deserialize() {
    let leader: String = parse("GET_v1_status_leader.json");
    assert!(leader.contains(':'));
    let _: Vec<String> = parse("GET_v1_status_peers.json");
    let _: Vec<String> = parse("GET_v1_regions.json");
    let agent: AgentSelf = parse("GET_v1_agent_self.json");
    assert!(!agent.member.name.is_empty());
    let members: AgentMembers = parse("GET_v1_agent_members.json");
    assert_eq!(members.members[0].status, "alive");
    let namespaces: Vec<Namespace> = parse("GET_v1_namespaces.json");
    assert_eq!(namespaces[1].meta["type"], "dev");
    let _: Namespace = parse("GET_v1_namespace_NAMESPACE.json");
}

#[test]
fn event_stream_lines_deserialize() {
    let file: Value = {
        let path = samples_dir().join("samples/GET_v1_event_stream.json");
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    };
    let line = file["response_ndjson"].as_str().unwrap();
    let batch: EventBatch = serde_json::from_str(line.trim()).unwrap();
    assert!(!batch.events.is_empty());
    assert!(!batch.events[0].topic.is_empty());
}

#[test]
fn service_and_check_samples_deserialize() {
    let lists: Vec<ServiceListStub> = parse("GET_v1_services.json");
    assert_eq!(lists[0].namespace, "default");
    assert_eq!(lists[0].services[0].service_name, "example-cache-redis");
    assert_eq!(lists[0].services[0].tags, ["cache", "db"]);
    let instances: Vec<ServiceRegistration> = parse("GET_v1_service_SERVICE_NAME.json");
    assert_eq!(instances.len(), 2);
    assert_eq!(
        instances[0].alloc_id,
        "177160af-26f6-619f-9c9f-5e46d1104395"
    );
    assert_eq!(instances[0].address, "127.0.0.1");
    assert_eq!(instances[0].port, 29702);
    assert_eq!(instances[0].node_id, "7406e90b-de16-d118-80fe-60d0f2730cb3");
    assert_eq!(instances[0].datacenter, "dc1");
    let checks: AllocCheckResults = parse("GET_v1_allocation_ALLOC_checks.json");
    let check = &checks["a1ed96606694742bf201a640a607e306"];
    assert_eq!(check.service, "redis");
    assert_eq!(check.check, "redis_probe");
    assert_eq!(check.status, "success");
    assert_eq!(check.mode, "healthiness");
    assert_eq!(check.timestamp, 1690442203);
    // An allocation whose client keeps no results answers `null`.
    let none: Option<AllocCheckResults> = serde_json::from_str("null").unwrap();
    assert!(none.is_none());
}

#[test]
fn variable_samples_deserialize() {
    let list: Vec<VariableMetadata> = parse("GET_v1_vars.json");
    assert_eq!(list.len(), 2);
    assert_eq!(list[1].path, "example/second");
    assert_eq!((list[1].create_index, list[1].modify_index), (800, 1000));
    assert_eq!(list[1].modify_time, 1662062162982630000);
    let variable: Variable = parse("GET_v1_var_VAR_PATH.json");
    assert_eq!(variable.metadata.namespace, "prod");
    assert_eq!(variable.items.0["user"], "me");
    // Debug shows the keys, never a value.
    let shown = format!("{variable:?}");
    assert!(
        shown.contains("password") && !shown.contains("passw0rd1"),
        "{shown}"
    );
    let written: Option<VariableMetadata> = parse("PUT_v1_var_VAR_PATH.json");
    assert_eq!(written.unwrap().modify_index, 1457);
    for conflict in [
        "PUT_v1_var_VAR_PATH__conflict.json",
        "DELETE_v1_var_VAR_PATH__cas-conflict.json",
    ] {
        let current: VariableMetadata = parse(conflict);
        assert_eq!(current.modify_index, 1457, "{conflict}");
    }
    // The documented delete answer ({"Index": ...}) and Nomad's own (204, no body) both do.
    let _: serde::de::IgnoredAny = parse("DELETE_v1_var_VAR_PATH.json");
}

#[test]
fn lookup_samples_deserialize() {
    let search: SearchResponse = parse("POST_v1_search.json");
    assert_eq!(search.matches["jobs"], Some(vec!["abcde".to_string()]));
    assert_eq!(search.matches["allocs"], None);
    // The documentation prints `Truncations` as strings; Nomad sends booleans.
    assert_eq!(search.truncations.get("evals"), Some(&false));
    let token: AclToken = parse("GET_v1_acl_token_self.json");
    assert_eq!(token.token_type, "client");
    assert_eq!(token.policies, ["readwrite"]);
    assert_eq!(token.accessor_id, "aa534e09-6a07-0a45-2295-a7f77063d429");
    let csi: Vec<CsiVolumeStub> = parse("GET_v1_volumes.json");
    assert_eq!(
        (csi[0].id.as_str(), csi[0].schedulable),
        ("volume-id1", true)
    );
    assert_eq!(csi[0].current_readers, 2);
    let host: Vec<HostVolumeStub> = parse("GET_v1_volumes__host.json");
    assert_eq!(
        (host[0].state.as_str(), host[0].capacity_bytes),
        ("ready", 1048576000)
    );
    let volume: CsiVolume = parse("GET_v1_volume_csi_VOLUME.json");
    assert_eq!(volume.stub.access_mode, "multi-node-single-writer");
    assert_eq!(volume.allocations[0].job_id, "example");
    assert_eq!(volume.requested_capabilities.len(), 2);
    let volume: HostVolume = parse("GET_v1_volume_host_VOLUME.json");
    assert!(volume.host_path.starts_with("/run/nomad/dev/alloc_mounts/"));
    assert_eq!(volume.requested_capacity_min_bytes, 50000000);
    let policies: Vec<ScalingPolicyStub> = parse("GET_v1_scaling_policies.json");
    assert_eq!(policies[0].policy_type, "vertical_cpu");
    assert_eq!(policies[0].target.task, "redis");
    let policy: ScalingPolicy = parse("GET_v1_scaling_policy_ID.json");
    assert_eq!((policy.min, policy.max), (Some(0), 10));
    assert_eq!(policy.policy["foo"], "bar");
    let pools: Vec<NodePool> = parse("GET_v1_node_pools.json");
    assert_eq!(pools[0].name, "prod-eng");
    assert_eq!(
        pools[0]
            .scheduler_configuration
            .as_ref()
            .unwrap()
            .scheduler_algorithm,
        "spread"
    );
    let purged: NodeWriteResponse = parse("POST_v1_node_ID_purge.json");
    assert_eq!(purged.eval_ids.len(), 1);
    for write in [
        "POST_v1_deployment_pause_DEPLOYMENT.json",
        "POST_v1_deployment_unblock_DEPLOYMENT.json",
        "POST_v1_deployment_allocation-health_DEPLOYMENT.json",
    ] {
        let _: DeploymentWriteResponse = parse(write);
    }
}
