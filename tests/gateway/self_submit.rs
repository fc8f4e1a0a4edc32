//! The gateway deploys itself: the shipped Nomad job, `nomad/nomad-gateway.nomad.hcl`,
//! submitted as HCL2 text with variables through `PUT /api/v1/jobs`, parsed by (the
//! fake) Nomad, registered and placed. The registered job is read back from Nomad
//! directly and checked in Nomad's own JSON field names.

use std::time::Duration;

use fake_nomad::{FakeNomad, Options};
use serde_json::{Value, json};

use crate::rest_nomad::Api;

const JOB_FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/nomad/nomad-gateway.nomad.hcl");

const SECOND: i64 = 1_000_000_000;

fn template<'j>(task: &'j Value, destination: &str) -> &'j Value {
    task["Templates"]
        .as_array()
        .and_then(|all| all.iter().find(|t| t["DestPath"] == destination))
        .unwrap_or_else(|| panic!("no template renders {destination}: {task:#}"))
}

#[tokio::test]
async fn the_gateway_submits_its_own_nomad_job() {
    let fake = FakeNomad::start(Options::default()).await;
    let api = Api::start(&fake, &[]).await;
    let definition = std::fs::read_to_string(JOB_FILE).unwrap();
    let submission = |image: &str| {
        json!({
            "definition": definition,
            "variables": {"image": image, "count": "3", "public_url": "https://gw.test"}
        })
    };

    let (status, written) = api
        .call(
            "PUT",
            "/api/v1/jobs",
            Some(submission("registry.example.com/nomad-gateway:9.9.9")),
        )
        .await;
    assert_eq!(status, 200, "{written:#}");
    assert_eq!(written["job_id"], "nomad-gateway", "{written:#}");

    let job: Value = reqwest::get(format!("{}/v1/job/nomad-gateway", fake.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(job["Type"], "service", "{job:#}");
    assert_eq!(job["Namespace"], "default");
    assert_eq!(job["Datacenters"], json!(["*"]));

    let group = &job["TaskGroups"][0];
    assert_eq!(group["Name"], "gateway");
    // "3" from the variables file, converted to the variable's `number` type.
    assert_eq!(group["Count"], 3, "{group:#}");
    assert_eq!(group["ShutdownDelay"], 5 * SECOND);
    assert_eq!(group["Networks"][0]["DynamicPorts"][0]["Label"], "https");
    assert_eq!(group["Networks"][0]["DynamicPorts"][0]["To"], 8443);
    assert_eq!(group["EphemeralDisk"]["Sticky"], true);
    assert_eq!(group["EphemeralDisk"]["Migrate"], true);
    assert_eq!(group["RestartPolicy"]["Mode"], "fail");

    let update = &group["Update"];
    assert_eq!(update["MaxParallel"], 1, "{update:#}");
    assert_eq!(update["Canary"], 1);
    assert_eq!(update["AutoPromote"], true);
    assert_eq!(update["AutoRevert"], true);
    assert_eq!(update["HealthCheck"], "checks");
    assert_eq!(update["MinHealthyTime"], 10 * SECOND);
    assert_eq!(update["HealthyDeadline"], 180 * SECOND);

    let service = &group["Services"][0];
    assert_eq!(service["Provider"], "nomad", "{service:#}");
    assert_eq!(service["Name"], "nomad-gateway");
    assert_eq!(service["PortLabel"], "https");
    let check = &service["Checks"][0];
    assert_eq!(check["Type"], "http", "{check:#}");
    assert_eq!(check["Protocol"], "https");
    assert_eq!(check["Path"], "/readyz");
    assert_eq!(check["Interval"], 10 * SECOND);
    assert_eq!(check["Timeout"], 3 * SECOND);
    assert_eq!(check["TLSSkipVerify"], true);

    let task = &group["Tasks"][0];
    assert_eq!(task["Name"], "gateway");
    assert_eq!(task["Driver"], "docker", "{task:#}");
    assert_eq!(
        task["Config"]["image"],
        "registry.example.com/nomad-gateway:9.9.9"
    );
    assert_eq!(task["Config"]["ports"], json!(["https"]));
    assert_eq!(task["Config"]["readonly_rootfs"], true);
    assert_eq!(task["KillTimeout"], 45 * SECOND);
    assert_eq!(task["KillSignal"], "SIGTERM");
    assert_eq!(task["Identity"]["Env"], true, "{task:#}");
    assert_eq!(task["Resources"]["CPU"], 500);
    assert_eq!(task["Resources"]["MemoryMB"], 256);

    let env = &task["Env"];
    assert_eq!(env["GATEWAY_PUBLIC_URL"], "https://gw.test", "{env:#}");
    assert_eq!(env["GATEWAY_LISTEN"], "0.0.0.0:8443");
    assert_eq!(env["GATEWAY_AUTH"], "on");
    assert_eq!(env["NOMAD_ADDR"], "https://nomad.service.consul:4646");
    assert_eq!(env["NOMAD_NAMESPACE"], "default");
    // Nomad's runtime variables are left for the client to interpolate.
    assert_eq!(env["GATEWAY_TLS_CERT"], "${NOMAD_SECRETS_DIR}/tls.crt");
    assert_eq!(env["NOMAD_CACERT"], "${NOMAD_SECRETS_DIR}/nomad-ca.pem");
    assert_eq!(
        env["GATEWAY_AUDIT_SPOOL"],
        "${NOMAD_ALLOC_DIR}/data/audit-spool"
    );

    for certificate in ["secrets/tls.crt", "secrets/tls.key"] {
        let t = template(task, certificate);
        assert_eq!(t["ChangeMode"], "signal", "{t:#}");
        assert_eq!(t["ChangeSignal"], "SIGHUP", "{t:#}");
        assert_eq!(t["Envvars"], false, "{t:#}");
        assert!(
            t["EmbeddedTmpl"]
                .as_str()
                .unwrap()
                .starts_with("{{ with nomadVar \"nomad/jobs/nomad-gateway\" }}"),
            "{t:#}"
        );
    }
    assert_eq!(template(task, "secrets/tls.key")["Perms"], "0400");
    assert_eq!(
        template(task, "secrets/nomad-ca.pem")["ChangeMode"],
        "restart"
    );
    let env_file = template(task, "secrets/gateway.env");
    assert_eq!(env_file["Envvars"], true, "{env_file:#}");
    assert_eq!(env_file["ChangeMode"], "restart");
    let text = env_file["EmbeddedTmpl"].as_str().unwrap();
    assert!(
        text.contains("DATABASE_URL={{ .database_url }}") && text.contains("NOMAD_TOKEN="),
        "{text}"
    );

    // Nomad places the three replicas.
    fake.settle(Duration::from_secs(10)).await;
    let status = api.get("/api/v1/jobs/nomad-gateway").await;
    assert_eq!(status["status"], "running", "{status:#}");
    assert!(status.to_string().contains("\"running\":3"), "{status:#}");

    // The next release, planned the same way: a new image is a destructive update.
    let plan = api
        .ok(
            "POST",
            "/api/v1/jobs/plan",
            Some(submission("registry.example.com/nomad-gateway:9.9.10")),
        )
        .await;
    assert!(
        plan.to_string()
            .contains("registry.example.com/nomad-gateway:9.9.10"),
        "{plan:#}"
    );
}
