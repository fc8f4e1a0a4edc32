//! `completion/complete`: values for the ID arguments of prompts (`job_id`, `namespace`,
//! `node_id`) and the variables of resource templates (`nomad://jobs/{namespace}/{job_id}`),
//! from `Service::complete_ids`, so they follow the caller's scopes and namespaces. A job
//! completes within the `namespace` the client already resolved (`context.arguments`).
//! An argument that names no ID completes to nothing; an unknown prompt or template is a
//! `-32602`. A caller refused the list (scope, namespace) gets no values, not an error:
//! completion runs as a person types, and the call they then make says why.

use rmcp::model::{CompleteRequestParams, CompleteResult, CompletionInfo, ErrorData, Reference};

use super::tools::error_text;
use super::{prompts, resources};
use crate::service::complete::IdKind;
use crate::service::{Principal, Service, ServiceError};

/// The argument names of the prompt or template a request refers to.
fn argument_names(reference: &Reference) -> Result<Vec<String>, ErrorData> {
    match reference {
        Reference::Prompt(prompt) => prompts::list()
            .into_iter()
            .find(|p| p.name == prompt.name)
            .map(|p| {
                p.arguments
                    .unwrap_or_default()
                    .into_iter()
                    .map(|a| a.name)
                    .collect()
            })
            .ok_or_else(|| {
                ErrorData::invalid_params(
                    format!("no prompt '{}'; prompts/list shows them", prompt.name),
                    None,
                )
            }),
        Reference::Resource(template) => resources::templates()
            .into_iter()
            .find(|t| t.uri_template == template.uri)
            .map(|t| variables(&t.uri_template))
            .ok_or_else(|| {
                ErrorData::invalid_params(
                    format!(
                        "no resource template '{}'; resources/templates/list shows them",
                        template.uri
                    ),
                    None,
                )
            }),
        _ => Err(ErrorData::invalid_params(
            "a completion refers to a prompt (ref/prompt) or a resource template (ref/resource)",
            None,
        )),
    }
}

/// The `{name}` variables of a URI template.
fn variables(template: &str) -> Vec<String> {
    template
        .split('{')
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name.to_string()))
        .collect()
}

pub async fn complete(
    service: &Service,
    who: &Principal,
    request: CompleteRequestParams,
) -> Result<CompleteResult, ErrorData> {
    let names = argument_names(&request.r#ref)?;
    let argument = &request.argument;
    let kind = names
        .contains(&argument.name)
        .then(|| IdKind::of_argument(&argument.name))
        .flatten();
    let Some(kind) = kind else {
        return Ok(CompleteResult::default());
    };
    let namespace = request
        .context
        .as_ref()
        .and_then(|c| c.arguments.as_ref())
        .and_then(|a| a.get("namespace"))
        .filter(|n| !n.is_empty())
        .cloned();
    let found = service
        .complete_ids(who, kind, &argument.value, namespace.as_deref())
        .await;
    let completion = match found {
        Ok(c) => c,
        Err(ServiceError::Forbidden { .. } | ServiceError::NotFound(_)) => Default::default(),
        Err(error) => return Err(ErrorData::internal_error(error_text(&error), None)),
    };
    let total = completion.total.map(|t| t as u32);
    let info = CompletionInfo::with_pagination(completion.values, total, completion.has_more)
        .map_err(|e| ErrorData::internal_error(e, None))?;
    Ok(CompleteResult::new(info))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_variables_are_read_in_order() {
        assert_eq!(
            variables("nomad://jobs/{namespace}/{job_id}"),
            ["namespace", "job_id"]
        );
        assert!(variables("nomad://jobs").is_empty());
    }
}
