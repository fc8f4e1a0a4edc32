//! Prompts: ready-made plans for common tasks that tell the model which tools to call in
//! which order, and what to check before doing anything destructive.

use rmcp::model::{
    ErrorData, GetPromptResult, JsonObject, Prompt, PromptArgument, PromptMessage, Role,
};

pub fn list() -> Vec<Prompt> {
    vec![
        Prompt::new(
            "diagnose_failing_job",
            Some("Find out why a job is failing, pending or restarting, and propose a fix"),
            Some(vec![
                argument("job_id", "The job's ID", true),
                argument(
                    "namespace",
                    "The Nomad namespace (default: the gateway's)",
                    false,
                ),
            ]),
        )
        .with_title("Diagnose a failing job"),
        Prompt::new(
            "deploy_container",
            Some("Deploy a container image as a Nomad service, checking capacity first"),
            Some(vec![
                argument("image", "The Docker image, e.g. nginx:1.27", true),
                argument(
                    "job_id",
                    "The job's ID (default: derived from the image)",
                    false,
                ),
                argument("count", "How many instances (default 1)", false),
                argument("port", "The port the container listens on, if any", false),
                argument(
                    "namespace",
                    "The Nomad namespace (default: the gateway's)",
                    false,
                ),
            ]),
        )
        .with_title("Deploy a container"),
        Prompt::new(
            "drain_node_safely",
            Some("Move the work off a client node without losing capacity or availability"),
            Some(vec![argument("node_id", "The node's ID", true)]),
        )
        .with_title("Drain a node safely"),
    ]
}

fn argument(name: &str, description: &str, required: bool) -> PromptArgument {
    PromptArgument::new(name)
        .with_description(description)
        .with_required(required)
}

fn text(arguments: &JsonObject, name: &str) -> Option<String> {
    arguments.get(name).and_then(|v| match v {
        serde_json::Value::String(s) if !s.is_empty() => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    })
}

fn required(arguments: &JsonObject, prompt: &str, name: &str) -> Result<String, ErrorData> {
    text(arguments, name).ok_or_else(|| {
        ErrorData::invalid_params(
            format!("prompt '{prompt}' needs the argument '{name}'"),
            None,
        )
    })
}

pub fn get(name: &str, arguments: JsonObject) -> Result<GetPromptResult, ErrorData> {
    let namespace = text(&arguments, "namespace")
        .map(|n| format!(" in namespace '{n}'"))
        .unwrap_or_default();
    let (description, body) = match name {
        "diagnose_failing_job" => {
            let job = required(&arguments, name, "job_id")?;
            (
                format!("Diagnose job '{job}'"),
                format!(
                    "The Nomad job '{job}'{namespace} is not healthy. Find out why and propose a fix.\n\
                     1. Call diagnose_job for '{job}'. It reports placement failures, blocked \
                     evaluations, failed tasks with their last events and log lines, and the \
                     latest deployment.\n\
                     2. If tasks fail, call get_job_logs (stderr first, then stdout) for the \
                     allocation it names, and get_allocation for the task events.\n\
                     3. If allocations cannot be placed, call get_cluster_status to compare the \
                     job's CPU and memory with the free capacity.\n\
                     4. If a deployment failed, call list_job_versions to find the last stable \
                     version.\n\
                     Explain the cause in plain words and propose one concrete change (a fixed \
                     image or command, less CPU or memory, revert_job to the stable version). Do \
                     not change anything before the user agrees."
                ),
            )
        }
        "deploy_container" => {
            let image = required(&arguments, name, "image")?;
            let job = text(&arguments, "job_id").unwrap_or_else(|| job_id_from(&image));
            let count = text(&arguments, "count").unwrap_or_else(|| "1".into());
            let port = text(&arguments, "port")
                .map(|p| format!(" with a port labelled http mapped to {p} inside the container and an HTTP health check on it"))
                .unwrap_or_default();
            (
                format!("Deploy {image} as job '{job}'"),
                format!(
                    "Deploy the container image '{image}' as the Nomad service job '{job}'{namespace} \
                     with {count} instance(s){port}.\n\
                     1. Call get_job for '{job}': if it exists, tell the user it will be updated.\n\
                     2. Call get_cluster_status and check that the free CPU and memory fit \
                     {count} instance(s) (defaults: 100 MHz, 256 MB each).\n\
                     3. Call create_job with the image, job_id, count and ports, and wait 120 so \
                     you see the rollout end.\n\
                     4. If the answer's operation.state is not succeeded, call diagnose_job and \
                     report what it found.\n\
                     Finish with the job's status and where its allocations run."
                ),
            )
        }
        "drain_node_safely" => {
            let node = required(&arguments, name, "node_id")?;
            (
                format!("Drain node {node} safely"),
                format!(
                    "Drain the Nomad client node '{node}' without losing availability.\n\
                     1. Call get_node for '{node}' and list_nodes: there must be other eligible, \
                     ready nodes in the same datacenter and pool.\n\
                     2. Call get_cluster_status and check that the remaining nodes can take this \
                     node's work (compare allocated with total CPU and memory).\n\
                     3. Tell the user what you found and ask for confirmation; draining stops \
                     allocations on the node.\n\
                     4. Call set_node_eligibility with eligible false, then drain_node with a \
                     deadline_seconds of 600, ignore_system_jobs true and wait 300.\n\
                     5. Check with recent_events (topic Allocation) and get_cluster_status that \
                     the work was placed elsewhere, and report."
                ),
            )
        }
        _ => {
            return Err(ErrorData::invalid_params(
                format!("unknown prompt '{name}'; prompts/list shows the prompts"),
                None,
            ));
        }
    };
    Ok(
        GetPromptResult::new(vec![PromptMessage::new_text(Role::User, body)])
            .with_description(description),
    )
}

/// `ghcr.io/acme/web-api:1.2` → `web-api`.
fn job_id_from(image: &str) -> String {
    let name = image.rsplit('/').next().unwrap_or(image);
    let name = name.split([':', '@']).next().unwrap_or(name);
    let id: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    if id.is_empty() { "app".into() } else { id }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_job_id_comes_from_the_image_name() {
        assert_eq!(super::job_id_from("ghcr.io/acme/web-api:1.2"), "web-api");
        assert_eq!(super::job_id_from("nginx"), "nginx");
    }
}
