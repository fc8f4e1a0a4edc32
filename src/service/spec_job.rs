//! The simplified job specification rendered as a Nomad job (`api.Job` JSON), with the
//! gateway's defaults for what the specification leaves out.

use serde_json::{Value, json};

use super::spec::{
    CommandDriver, CreateJobSpec, DEFAULT_CPU_MHZ, DEFAULT_MEMORY_MB, JobType, PortSpec, SECOND_NS,
};

impl CreateJobSpec {
    /// The Nomad job (`api.Job` JSON). Call after [`CreateJobSpec::validate`].
    pub fn to_nomad_job(&self, default_namespace: &str) -> Value {
        let id = &self.job_id;
        let datacenters = if self.datacenters.is_empty() {
            vec!["*".to_string()]
        } else {
            self.datacenters.clone()
        };
        let mut group = json!({
            "Name": id,
            "Count": self.count.unwrap_or(1),
            "RestartPolicy": self.restart_policy(),
            "Tasks": [self.task()],
        });
        if !self.ports.is_empty() {
            group["Networks"] = json!([self.network()]);
        }
        if let Some(service) = self.service() {
            group["Services"] = json!([service]);
        }
        if self.job_type == JobType::Service {
            group["Update"] = self.update_strategy();
        }
        json!({
            "ID": id,
            "Name": self.name.clone().unwrap_or_else(|| id.clone()),
            "Type": self.job_type,
            "Namespace": self.namespace.clone().unwrap_or_else(|| default_namespace.to_string()),
            "Datacenters": datacenters,
            "TaskGroups": [group],
        })
    }

    fn task(&self) -> Value {
        let labels: Vec<&str> = self.ports.iter().map(|p| p.label.as_str()).collect();
        let (driver, mut config) = match (&self.image, &self.command) {
            (Some(image), _) => {
                let mut config = json!({ "image": image });
                if !labels.is_empty() {
                    config["ports"] = json!(labels);
                }
                ("docker", config)
            }
            (None, command) => {
                let driver = match self.driver.unwrap_or_default() {
                    CommandDriver::Exec => "exec",
                    CommandDriver::RawExec => "raw_exec",
                };
                (driver, json!({ "command": command }))
            }
        };
        if !self.args.is_empty() {
            config["args"] = json!(self.args);
        }
        let mut task = json!({
            "Name": self.job_id,
            "Driver": driver,
            "Config": config,
            "Resources": {
                "CPU": self.cpu.unwrap_or(DEFAULT_CPU_MHZ),
                "MemoryMB": self.memory.unwrap_or(DEFAULT_MEMORY_MB),
            },
        });
        if !self.env.is_empty() {
            task["Env"] = json!(self.env);
        }
        task
    }

    fn network(&self) -> Value {
        let port = |p: &PortSpec, value: Option<u16>| {
            let mut port = json!({ "Label": p.label });
            if let Some(value) = value {
                port["Value"] = json!(value);
            }
            if let Some(to) = p.to {
                port["To"] = json!(to);
            }
            port
        };
        let dynamic: Vec<Value> = self
            .ports
            .iter()
            .filter(|p| p.static_port.is_none())
            .map(|p| port(p, None))
            .collect();
        let reserved: Vec<Value> = self
            .ports
            .iter()
            .filter(|p| p.static_port.is_some())
            .map(|p| port(p, p.static_port))
            .collect();
        let mut network = json!({ "Mode": "host" });
        if !dynamic.is_empty() {
            network["DynamicPorts"] = json!(dynamic);
        }
        if !reserved.is_empty() {
            network["ReservedPorts"] = json!(reserved);
        }
        network
    }

    /// A Nomad-native service for the first port (with the health check when given), so
    /// deployments can wait on real health and other jobs can discover this one.
    fn service(&self) -> Option<Value> {
        if self.job_type == JobType::Batch {
            return None;
        }
        let health = self.health_check.as_ref();
        let label = health
            .and_then(|h| h.port.clone())
            .or_else(|| self.ports.first().map(|p| p.label.clone()))?;
        let mut service = json!({ "Name": self.job_id, "PortLabel": label, "Provider": "nomad" });
        if let Some(health) = health {
            service["Checks"] = json!([{
                "Name": format!("{} http", self.job_id),
                "Type": "http",
                "Path": health.path,
                "PortLabel": label,
                "Interval": u64::from(health.interval_seconds.unwrap_or(10)) * SECOND_NS,
                "Timeout": u64::from(health.timeout_seconds.unwrap_or(2)) * SECOND_NS,
            }]);
        }
        Some(service)
    }

    /// Services retry a little then fail so the deployment notices; batch work retries
    /// more patiently (the defaults of `nomad job init`, tightened).
    fn restart_policy(&self) -> Value {
        let (attempts, interval_s) = match self.job_type {
            JobType::Batch => (3, 24 * 3600),
            JobType::Service | JobType::System => (2, 30 * 60),
        };
        json!({
            "Attempts": attempts,
            "Interval": interval_s * SECOND_NS,
            "Delay": 15 * SECOND_NS,
            "Mode": "fail",
        })
    }

    /// One at a time, healthy for 10 s before the next, rolled back when it fails.
    fn update_strategy(&self) -> Value {
        let health = if self.health_check.is_some() {
            "checks"
        } else {
            "task_states"
        };
        json!({
            "MaxParallel": 1,
            "HealthCheck": health,
            "MinHealthyTime": 10 * SECOND_NS,
            "HealthyDeadline": 300 * SECOND_NS,
            "ProgressDeadline": 600 * SECOND_NS,
            "AutoRevert": true,
            "Canary": 0,
        })
    }
}
