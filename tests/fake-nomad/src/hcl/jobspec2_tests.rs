//! The blocks and HCL features a production jobspec uses, parsed to the JSON Nomad's
//! jobspec2 produces for them.

use serde_json::{Value, json};

use super::parse_job;

const JOB: &str = r#"
variable "image" {
  type        = string
  default     = "nginx:1.27"
  description = "The image."
}
variable "datacenters" {
  type    = list(string)
  default = ["*"]
}
variable "replicas" {
  type    = number
  default = 3
}
/* a block comment */
job "web" {
  datacenters = var.datacenters
  group "web" {
    count          = var.replicas
    shutdown_delay = "5s"
    constraint {
      distinct_hosts = true
    }
    update {
      max_parallel     = 1
      canary           = 1
      auto_revert      = true
      min_healthy_time = "10s"
      healthy_deadline = "3m"
    }
    service {
      provider = "nomad"
      port     = "http"
      check {
        type            = "http"
        protocol        = "https"
        path            = "/readyz"
        interval        = "10s"
        timeout         = "2s"
        tls_skip_verify = true
        header {
          X-Probe = ["nomad"]
        }
      }
    }
    task "web" {
      driver       = "docker"
      kill_timeout = "45s"
      kill_signal  = "SIGTERM"
      config {
        image = var.image
        mount {
          type   = "tmpfs"
          target = "/tmp"
        }
      }
      identity {
        env = true
      }
      identity {
        name = "vault"
        aud  = ["vault.io"]
        ttl  = "1h"
      }
      env {
        URL   = "https://${var.image}/x"
        DIR   = "${NOMAD_SECRETS_DIR}/a"
        PRICE = "$${literal}"
        COUNT = 2
      }
      artifact {
        source      = "https://example.com/a.tgz"
        destination = "local/a"
        options {
          checksum = "sha256:abc"
        }
      }
      template {
        data          = <<-EOT
          {{ with nomadVar "nomad/jobs/web" }}{{ .crt }}{{ end }}
            indented
        EOT
        destination   = "secrets/tls.crt"
        change_mode   = "signal"
        change_signal = "SIGHUP"
        uid           = 10001
      }
      template {
        data        = <<EOF
A=${var.replicas}
  B
EOF
        destination = "secrets/file.env"
        env         = true
      }
      restart {
        attempts = 1
      }
      logs {
        max_files     = 3
        max_file_size = 5
      }
    }
  }
}
"#;

fn task(job: &Value) -> &Value {
    &job["TaskGroups"][0]["Tasks"][0]
}

#[test]
fn variables_take_their_types_and_the_file_overrides_them() {
    let job = parse_job(JOB, "replicas = \"5\"\nimage = \"nginx:1.28\"\n").unwrap();
    assert_eq!(job["Datacenters"], json!(["*"]));
    assert_eq!(job["TaskGroups"][0]["Count"], 5);
    assert_eq!(task(&job)["Config"]["image"], "nginx:1.28");
    assert_eq!(task(&job)["Env"]["URL"], "https://nginx:1.28/x");
    assert_eq!(task(&job)["Env"]["DIR"], "${NOMAD_SECRETS_DIR}/a");
    assert_eq!(task(&job)["Env"]["PRICE"], "${literal}");

    let err = parse_job(JOB, "replicas = \"many\"\n").unwrap_err();
    assert!(err.contains("Invalid value for variable"), "{err}");
    let err = parse_job(JOB, "datacenters = \"[\\\"dc1\\\"]\"\n").unwrap_err();
    assert!(err.contains("list of string required"), "{err}");
    // A value for a variable the job does not declare is only a warning in Nomad.
    parse_job(JOB, "unknown = \"x\"\n").unwrap();
}

#[test]
fn group_blocks_map_to_nomad_field_names() {
    let job = parse_job(JOB, "").unwrap();
    let group = &job["TaskGroups"][0];
    assert_eq!(group["ShutdownDelay"], 5_000_000_000i64);
    assert_eq!(
        group["Constraints"],
        json!([{"LTarget": "", "RTarget": "true", "Operand": "distinct_hosts"}])
    );
    assert_eq!(group["Update"]["Canary"], 1);
    assert_eq!(group["Update"]["AutoRevert"], true);
    assert_eq!(group["Update"]["HealthyDeadline"], 180_000_000_000i64);
    let service = &group["Services"][0];
    assert_eq!(service["Provider"], "nomad");
    assert_eq!(service["PortLabel"], "http");
    assert_eq!(service["Name"], "");
    let check = &service["Checks"][0];
    assert_eq!(check["Path"], "/readyz");
    assert_eq!(check["Protocol"], "https");
    assert_eq!(check["TLSSkipVerify"], true);
    assert_eq!(check["Interval"], 10_000_000_000i64);
    assert_eq!(check["Timeout"], 2_000_000_000i64);
    assert_eq!(check["Header"], json!({"X-Probe": ["nomad"]}));
    assert_eq!(check["PortLabel"], "");
}

#[test]
fn task_blocks_map_to_nomad_field_names() {
    let job = parse_job(JOB, "").unwrap();
    let task = task(&job);
    assert_eq!(task["KillTimeout"], 45_000_000_000i64);
    assert_eq!(task["KillSignal"], "SIGTERM");
    assert_eq!(
        task["Config"]["mount"],
        json!([{"type": "tmpfs", "target": "/tmp"}])
    );
    assert_eq!(task["Identity"]["Env"], true);
    assert_eq!(task["Identity"]["Name"], "");
    assert_eq!(task["Identities"][0]["Name"], "vault");
    assert_eq!(task["Identities"][0]["Audience"], json!(["vault.io"]));
    assert_eq!(task["Identities"][0]["TTL"], 3_600_000_000_000i64);
    assert_eq!(task["RestartPolicy"]["Attempts"], 1);
    assert_eq!(task["LogConfig"]["MaxFileSizeMB"], 5);
    // `env` is map[string]string: a number becomes its text.
    assert_eq!(task["Env"]["COUNT"], "2");
    let artifact = &task["Artifacts"][0];
    assert_eq!(artifact["GetterSource"], "https://example.com/a.tgz");
    assert_eq!(artifact["RelativeDest"], "local/a");
    assert_eq!(artifact["GetterOptions"], json!({"checksum": "sha256:abc"}));

    let [crt, env] = task["Templates"].as_array().unwrap().as_slice() else {
        panic!("two templates: {task:#}");
    };
    assert_eq!(
        crt["EmbeddedTmpl"],
        "{{ with nomadVar \"nomad/jobs/web\" }}{{ .crt }}{{ end }}\n  indented\n"
    );
    assert_eq!(crt["DestPath"], "secrets/tls.crt");
    assert_eq!(crt["ChangeMode"], "signal");
    assert_eq!(crt["ChangeSignal"], "SIGHUP");
    assert_eq!(crt["Uid"], 10001);
    assert_eq!(crt["Envvars"], Value::Null);
    // jobspec2's defaults for every template.
    assert_eq!(crt["Perms"], "0644");
    assert_eq!(crt["Splay"], 5_000_000_000i64);
    assert_eq!(crt["ErrMissingKey"], false);
    assert_eq!(env["EmbeddedTmpl"], "A=3\n  B\n");
    assert_eq!(env["Envvars"], true);
    assert_eq!(env["ChangeMode"], "restart");
    assert_eq!(env["ChangeSignal"], Value::Null);
}

#[test]
fn canonicalize_fills_service_and_template_defaults() {
    let mut job = parse_job(JOB, "").unwrap();
    crate::jobspec::canonicalize(&mut job, "default");
    let service = &job["TaskGroups"][0]["Services"][0];
    assert_eq!(service["Name"], "web-web");
    assert_eq!(service["AddressMode"], "auto");
    assert_eq!(service["Checks"][0]["OnUpdate"], "require_healthy");
    let env = &task(&job)["Templates"][1];
    assert_eq!(env["ChangeSignal"], "");
    assert_eq!(env["LeftDelim"], "{{");
    assert_eq!(env["SourcePath"], "");
    crate::jobspec::canonicalize_identities(&mut job);
    assert_eq!(task(&job)["Identity"]["Name"], "default");
    assert_eq!(
        task(&job)["Identity"]["Audience"],
        json!(["nomadproject.io"])
    );
}

#[test]
fn unknown_arguments_and_bad_values_are_refused_where_nomad_refuses_them() {
    let job = |template: &str| {
        format!(
            "job \"x\" {{\n  group \"g\" {{\n    task \"t\" {{\n      driver = \"docker\"\n      template {{\n        {template}\n      }}\n    }}\n  }}\n}}\n"
        )
    };
    let err = parse_job(&job("destiny = \"x\""), "").unwrap_err();
    assert!(err.starts_with("input.hcl:6,9-"), "{err}");
    assert!(err.contains("An argument named \"destiny\""), "{err}");
    let err = parse_job(&job("splay = \"soon\""), "").unwrap_err();
    assert!(err.contains("Unsuitable duration value"), "{err}");
    let err = parse_job(&job("data = <<EOT\nno end\n"), "").unwrap_err();
    assert!(err.contains("no closing marker"), "{err}");
    let err = parse_job(&job("data = \"%{ if true }x%{ endif }\""), "").unwrap_err();
    assert!(err.contains("directive"), "{err}");
    let err = parse_job(
        "variable \"n\" {\n  type    = number\n  default = \"x\"\n}\njob \"x\" {}\n",
        "",
    )
    .unwrap_err();
    assert!(
        err.starts_with("input.hcl:3,3-") && err.contains("Invalid default value"),
        "{err}"
    );
}

#[test]
fn a_scaling_block_keeps_its_policy_as_written() {
    let job = parse_job(
        "job \"x\" {\n  group \"g\" {\n    count = 2\n    scaling {\n      min     = 1\n      max     = 10\n      enabled = true\n      policy {\n        cooldown            = \"1m\"\n        evaluation_interval = \"30s\"\n      }\n    }\n    task \"t\" {\n      driver = \"docker\"\n    }\n  }\n}\n",
        "",
    )
    .unwrap();
    assert_eq!(
        job["TaskGroups"][0]["Scaling"],
        json!({"Min": 1, "Max": 10, "Enabled": true,
               "Policy": {"cooldown": "1m", "evaluation_interval": "30s"}})
    );
}
