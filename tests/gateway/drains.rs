//! Node drains through the gateway against the fake's drainer, which moves allocations
//! as Nomad's does (`nomad/drainer/`): a service group one `migrate.max_parallel` batch at
//! a time, each after the last one's replacements reported their health; batch work left
//! to finish until the deadline; the drain over once the node holds no work, the node
//! left ineligible. `deadline_seconds: 0` is a force drain.

use std::time::Duration;

use fake_nomad::{FakeNomad, Options};
use serde_json::{Value, json};

use crate::rest_nomad::Api;

async fn nomad(fake: &FakeNomad, path: &str) -> Value {
    reqwest::get(format!("{}{path}", fake.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn until_drained(fake: &FakeNomad, node: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let n = nomad(fake, &format!("/v1/node/{node}")).await;
        if n["Drain"] == false || tokio::time::Instant::now() > deadline {
            return n;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn job(id: &str, kind: &str, count: u64, meta: Value) -> Value {
    json!({"job": {"ID": id, "Type": kind, "TaskGroups": [{"Name": "g", "Count": count, "Tasks": [{
        "Name": "t", "Driver": "docker", "Config": {"image": "nginx:1"}, "Meta": meta,
        "Resources": {"CPU": 100, "MemoryMB": 64}
    }]}]}})
}

/// A fake with one node running `job`, settled, a gateway in front of it, and the node.
async fn one_node_running(job: Value) -> (FakeNomad, Api, String) {
    let fake = FakeNomad::start(Options {
        nodes: 1,
        ..Options::default()
    })
    .await;
    let api = Api::start(&fake, &[]).await;
    let node = fake.node_ids()[0].clone();
    api.ok("PUT", "/api/v1/jobs", Some(job)).await;
    fake.settle(Duration::from_secs(10)).await;
    (fake, api, node)
}

async fn drain(api: &Api, node: &str, request: Value) -> Value {
    api.ok(
        "POST",
        &format!("/api/v1/nodes/{node}/drain"),
        Some(request),
    )
    .await
}

#[tokio::test]
async fn a_service_group_moves_one_allocation_at_a_time_and_the_drain_ends() {
    let (fake, api, first) = one_node_running(job("web", "service", 2, json!({}))).await;
    let spare = fake.add_node("dc1", 4000, 8192);

    let answer = drain(&api, &first, json!({})).await;
    // The drainer's evaluations are its own: Nomad's answer to a drain names none.
    assert_eq!(answer["eval_ids"], json!([]), "{answer:#}");
    let node = nomad(&fake, &format!("/v1/node/{first}")).await;
    assert_eq!(node["Drain"], true, "{node:#}");
    assert_eq!(node["SchedulingEligibility"], "ineligible");
    // One hour unless asked otherwise.
    assert_eq!(node["DrainStrategy"]["Deadline"], 3_600_000_000_000i64);

    let node = until_drained(&fake, &first).await;
    assert_eq!(node["Drain"], false, "{node:#}");
    assert_eq!(node["DrainStrategy"], Value::Null);
    assert_eq!(node["LastDrain"]["Status"], "complete");
    assert_eq!(node["SchedulingEligibility"], "ineligible");
    let events: Vec<&str> = node["Events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["Message"].as_str().unwrap())
        .collect();
    assert_eq!(
        &events[events.len() - 2..],
        ["Node drain strategy set", "Node drain complete"]
    );

    // The drain is over once the node holds no work; the last replacement may still be
    // starting.
    fake.settle(Duration::from_secs(10)).await;
    let allocs = nomad(&fake, "/v1/job/web/allocations").await;
    let allocs = allocs.as_array().unwrap();
    let (old, new): (Vec<&Value>, Vec<&Value>) =
        allocs.iter().partition(|a| a["NodeID"] == first.as_str());
    assert_eq!((old.len(), new.len()), (2, 2), "{allocs:#?}");
    for a in &old {
        assert_eq!(a["DesiredStatus"], "stop");
        assert_eq!(a["DesiredDescription"], "alloc is being migrated");
        assert_eq!(a["DesiredTransition"]["Migrate"], true);
        assert_eq!(a["ClientStatus"], "complete");
    }
    for a in &new {
        assert_eq!(a["NodeID"], spare.as_str());
        assert_eq!(a["ClientStatus"], "running");
        // Replacements report their health by the group's `migrate` block: no deployment.
        let full = nomad(
            &fake,
            &format!("/v1/allocation/{}", a["ID"].as_str().unwrap()),
        )
        .await;
        assert_eq!(full["DeploymentID"], "", "{full:#}");
        assert_eq!(a["DeploymentStatus"]["Healthy"], true, "{a:#}");
        let previous = a["PreviousAllocation"].as_str().unwrap();
        assert!(old.iter().any(|o| o["ID"] == previous), "{a:#}");
    }
    // max_parallel 1: the second allocation moved only after the first replacement was
    // healthy.
    let mut stops: Vec<i64> = old
        .iter()
        .map(|a| a["ModifyTime"].as_i64().unwrap())
        .collect();
    stops.sort();
    let first_healthy = new
        .iter()
        .map(|a| {
            chrono::DateTime::parse_from_rfc3339(
                a["DeploymentStatus"]["Timestamp"].as_str().unwrap(),
            )
            .unwrap()
            .timestamp_nanos_opt()
            .unwrap()
        })
        .min()
        .unwrap();
    assert!(
        stops[1] >= first_healthy && stops[0] < first_healthy,
        "stops {stops:?}, first replacement healthy at {first_healthy}"
    );
    // Only the job's first version had a deployment.
    let deployments = nomad(&fake, "/v1/job/web/deployments").await;
    assert_eq!(deployments.as_array().unwrap().len(), 1, "{deployments:#}");
}

#[tokio::test]
async fn batch_work_holds_a_drain_until_its_deadline_and_zero_forces_it() {
    let (fake, api, node) = one_node_running(job(
        "report",
        "batch",
        1,
        json!({"fake_nomad_behavior": "busy"}),
    ))
    .await;
    drain(&api, &node, json!({})).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let n = nomad(&fake, &format!("/v1/node/{node}")).await;
    assert_eq!(
        n["Drain"], true,
        "a batch allocation is left to finish: {n:#}"
    );
    let allocs = nomad(&fake, "/v1/job/report/allocations").await;
    assert_eq!(allocs[0]["ClientStatus"], "running", "{allocs:#}");
    assert_eq!(allocs[0]["DesiredTransition"]["Migrate"], Value::Null);

    // `deadline_seconds: 0` drains at once (Nomad's force drain, a negative deadline).
    let answer = drain(&api, &node, json!({"deadline_seconds": 0})).await;
    assert_eq!(answer["node_id"], node.as_str());
    let n = until_drained(&fake, &node).await;
    assert_eq!(n["Drain"], false, "{n:#}");
    assert_eq!(n["LastDrain"]["Status"], "complete");
    let events = n["Events"].as_array().unwrap();
    let last = events.last().unwrap();
    assert_eq!(last["Message"], "Node drain complete", "{last:#}");
    assert_eq!(last["Subsystem"], "Drain");
    assert_eq!(last["Details"], json!({"deadline_reached": "true"}));
    // The second drain request changed the strategy of a drain under way.
    let messages: Vec<&str> = events
        .iter()
        .map(|e| e["Message"].as_str().unwrap())
        .collect();
    assert!(
        messages.ends_with(&[
            "Node drain strategy set",
            "Node drain strategy updated",
            "Node drain complete"
        ]),
        "{messages:?}"
    );
    fake.settle(Duration::from_secs(10)).await;
    let allocs = nomad(&fake, "/v1/job/report/allocations").await;
    let allocs = allocs.as_array().unwrap();
    // Stopped, not replaced (`MigrateDisablePlacement` for batch work at the deadline).
    assert_eq!(allocs.len(), 1, "{allocs:#?}");
    assert_eq!(allocs[0]["DesiredStatus"], "stop");
    assert_eq!(allocs[0]["DesiredDescription"], "alloc is being migrated");
}

#[tokio::test]
async fn a_drain_with_no_room_elsewhere_keeps_the_allocation_running() {
    let (fake, api, node) = one_node_running(job("solo", "service", 1, json!({}))).await;
    drain(&api, &node, json!({})).await;
    fake.settle(Duration::from_secs(10)).await;
    // The scheduler backs the stop out when it cannot place the replacement
    // (`computePlacements` in `scheduler/generic_sched.go`): the allocation keeps running
    // on the draining node, and a blocked evaluation waits for room.
    let allocs = nomad(&fake, "/v1/job/solo/allocations").await;
    let allocs = allocs.as_array().unwrap();
    assert_eq!(allocs.len(), 1, "{allocs:#?}");
    assert_eq!(allocs[0]["DesiredStatus"], "run");
    assert_eq!(allocs[0]["ClientStatus"], "running");
    assert_eq!(allocs[0]["DesiredTransition"]["Migrate"], true);
    let n = nomad(&fake, &format!("/v1/node/{node}")).await;
    assert_eq!(n["Drain"], true);
    let evals = nomad(&fake, "/v1/job/solo/evaluations").await;
    assert!(
        evals
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["Status"] == "blocked" && e["TriggeredBy"] == "queued-allocs"),
        "{evals:#}"
    );
    // Room appears: the blocked evaluation places the replacement, the old one stops, the
    // drain ends.
    let spare = fake.add_node("dc1", 4000, 8192);
    let n = until_drained(&fake, &node).await;
    assert_eq!(n["Drain"], false, "{n:#}");
    fake.settle(Duration::from_secs(10)).await;
    let allocs = nomad(&fake, "/v1/job/solo/allocations").await;
    let running: Vec<&Value> = allocs
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["ClientStatus"] == "running")
        .collect();
    assert_eq!(running.len(), 1, "{allocs:#}");
    assert_eq!(running[0]["NodeID"], spare.as_str());
}
