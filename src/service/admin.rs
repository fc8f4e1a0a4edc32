//! Administration: API keys and the audit log (scope `admin`).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::guard::WriteCall;
use super::keys::{self, KeySpec};
use super::{FieldError, Page, PageRequest, Principal, Service, ServiceError};
use crate::db::audit::AuditFilter;
use crate::service::policy::{Access, Scope};

/// A key to create.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKeyRequest {
    /// A name people recognise ("ci-deployer").
    #[schema(example = "ci-deployer")]
    pub name: String,
    /// Who the key belongs to; it becomes the caller's subject in the audit log.
    #[serde(default)]
    #[schema(example = "alice@example.com")]
    pub owner: Option<String>,
    /// `nomad:read`, `nomad:write`, `nodes:write`, `variables:read`, `variables:write`, `admin`.
    #[schema(example = json!(["nomad:read", "nomad:write"]))]
    pub scopes: Vec<String>,
    /// Nomad namespaces the key may use; `*` for all.
    #[serde(default)]
    #[schema(example = json!(["default"]))]
    pub namespaces: Vec<String>,
    /// Lifetime such as `30d`, `12h`; none means it does not expire.
    #[serde(default)]
    #[schema(example = "30d")]
    pub expires_in: Option<String>,
}

/// A created key: the only time its secret is shown.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CreatedKey {
    pub id: String,
    pub prefix: String,
    /// `ngw_<prefix>_<secret>`; store it now, it cannot be shown again.
    pub key: String,
}

/// A key as listed (never its secret).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct KeyRow {
    pub id: String,
    pub prefix: String,
    pub name: String,
    pub owner: String,
    pub scopes: Vec<String>,
    pub namespaces: Vec<String>,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
}

/// Filters for the audit log.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// The caller's subject.
    pub caller: Option<String>,
    pub job_id: Option<String>,
    /// An operation name such as `stop_job`.
    pub operation: Option<String>,
    /// `ok`, `refused` or `failed`.
    pub outcome: Option<String>,
    /// RFC 3339 time: only events at or after it.
    pub since: Option<String>,
    /// RFC 3339 time: only events before it.
    pub until: Option<String>,
    /// The `next_cursor` of the previous page; leave it out for the first page.
    pub cursor: Option<String>,
    /// How many per page, newest first: 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

/// One audit event.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AuditRecord {
    pub id: String,
    pub occurred_at: String,
    pub caller: String,
    pub key_id: Option<String>,
    pub issuer: Option<String>,
    pub transport: String,
    pub operation: String,
    pub namespace: Option<String>,
    pub job_id: Option<String>,
    #[schema(value_type = Object)]
    pub arguments: serde_json::Value,
    pub outcome: String,
    pub message: Option<String>,
    pub eval_id: Option<String>,
    pub duration_ms: i64,
    pub trace_id: Option<String>,
    pub client_addr: Option<String>,
}

fn invalid(field: &str, message: impl Into<String>) -> ServiceError {
    ServiceError::Validation(vec![FieldError {
        field: field.into(),
        message: message.into(),
    }])
}

fn time(t: &chrono::DateTime<chrono::FixedOffset>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn parse_time(
    field: &str,
    text: &Option<String>,
) -> Result<Option<chrono::DateTime<chrono::FixedOffset>>, ServiceError> {
    text.as_deref()
        .map(|t| {
            chrono::DateTime::parse_from_rfc3339(t)
                .map_err(|e| invalid(field, format!("'{t}' is not an RFC 3339 time: {e}")))
        })
        .transpose()
}

/// Checks a key request; shared by the REST route and the CLI.
pub fn key_spec(request: &CreateKeyRequest, default_owner: &str) -> Result<KeySpec, ServiceError> {
    let mut errors = Vec::new();
    if request.name.trim().is_empty() || request.name.len() > 100 {
        errors.push(FieldError {
            field: "name".into(),
            message: "give a name of 1 to 100 characters".into(),
        });
    }
    let mut scopes = BTreeSet::new();
    for (i, s) in request.scopes.iter().enumerate() {
        match Scope::parse(s) {
            Some(scope) => {
                scopes.insert(scope);
            }
            None => errors.push(FieldError {
                field: format!("scopes[{i}]"),
                message: format!(
                    "'{s}' is not a scope; use {}",
                    crate::config::Scope::names()
                ),
            }),
        }
    }
    if request.scopes.is_empty() {
        errors.push(FieldError {
            field: "scopes".into(),
            message: "give at least one scope".into(),
        });
    }
    let expires_at = match request.expires_in.as_deref() {
        None => None,
        Some(text) => match crate::config::parse_duration(text) {
            Ok(d) if !d.is_zero() => Some(
                chrono::Utc::now() + chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX),
            ),
            Ok(_) => {
                errors.push(FieldError {
                    field: "expires_in".into(),
                    message: "must be longer than zero".into(),
                });
                None
            }
            Err(e) => {
                errors.push(FieldError {
                    field: "expires_in".into(),
                    message: e,
                });
                None
            }
        },
    };
    if !errors.is_empty() {
        return Err(ServiceError::Validation(errors));
    }
    let namespaces = if request.namespaces.is_empty() {
        vec!["default".to_string()]
    } else {
        request.namespaces.clone()
    };
    Ok(KeySpec {
        name: request.name.trim().to_string(),
        owner: request
            .owner
            .clone()
            .filter(|o| !o.is_empty())
            .unwrap_or_else(|| default_owner.to_string()),
        scopes,
        namespaces,
        expires_at,
    })
}

pub fn key_row(row: &crate::db::keys::ApiKeyRow) -> KeyRow {
    let strings = keys::strings;
    KeyRow {
        id: row.id.to_string(),
        prefix: row.prefix.clone(),
        name: row.name.clone(),
        owner: row.owner.clone(),
        scopes: strings(&row.scopes),
        namespaces: strings(&row.namespaces),
        created_at: time(&row.created_at),
        expires_at: row.expires_at.as_ref().map(time),
        last_used_at: row.last_used_at.as_ref().map(time),
        revoked_at: row.revoked_at.as_ref().map(time),
    }
}

impl super::guard::Audited for CreatedKey {}

impl Service {
    fn db(&self) -> Result<&sea_orm::DatabaseConnection, ServiceError> {
        self.guard.db().ok_or_else(|| {
            ServiceError::NotFound("administration needs the gateway's database".into())
        })
    }

    pub async fn create_api_key(
        &self,
        who: &Principal,
        request: CreateKeyRequest,
    ) -> Result<CreatedKey, ServiceError> {
        let arguments = serde_json::json!({
            "name": request.name, "owner": request.owner, "scopes": request.scopes,
            "namespaces": request.namespaces, "expires_in": request.expires_in
        });
        self.audited(who, WriteCall::admin("create_api_key", arguments), async {
            let spec = key_spec(&request, &who.subject)?;
            let key = keys::create(self.db()?, &spec, None)
                .await
                .map_err(|e| match e {
                    keys::CreateError::NoScope => invalid("scopes", e.to_string()),
                    keys::CreateError::Store(cause) => {
                        ServiceError::database(cause, "the key was not created; ")
                    }
                    keys::CreateError::NoRandomness(_) => ServiceError::Internal(e.to_string()),
                })?;
            Ok(CreatedKey {
                id: key.id.to_string(),
                prefix: key.prefix,
                key: key.token,
            })
        })
        .await
    }

    pub async fn list_api_keys(
        &self,
        who: &Principal,
        page: &PageRequest,
    ) -> Result<Page<KeyRow>, ServiceError> {
        self.allow(who, Access::Admin, None, "list_api_keys")
            .await?;
        let rows = crate::db::keys::list(self.db()?)
            .await
            .map_err(|e| ServiceError::database(e, ""))?;
        page.of(rows.iter().map(key_row).collect())
    }

    pub async fn revoke_api_key(&self, who: &Principal, id: &str) -> Result<(), ServiceError> {
        let arguments = serde_json::json!({ "id": id });
        self.audited(who, WriteCall::admin("revoke_api_key", arguments), async {
            let uuid = uuid::Uuid::parse_str(id)
                .map_err(|_| invalid("id", format!("'{id}' is not a key id (a UUID)")))?;
            let found =
                crate::db::keys::revoke(self.db()?, uuid, chrono::Utc::now().fixed_offset())
                    .await
                    .map_err(|e| ServiceError::database(e, ""))?;
            if found {
                Ok(())
            } else {
                Err(ServiceError::NotFound(format!("no API key with id '{id}'")))
            }
        })
        .await
    }

    pub async fn search_audit(
        &self,
        who: &Principal,
        query: AuditQuery,
    ) -> Result<Page<AuditRecord>, ServiceError> {
        self.allow(who, Access::Admin, None, "search_audit").await?;
        let page = PageRequest::new(query.cursor.clone(), query.limit);
        if let Some(outcome) = &query.outcome
            && !["ok", "refused", "failed"].contains(&outcome.as_str())
        {
            return Err(invalid(
                "outcome",
                format!("'{outcome}' is not ok, refused or failed"),
            ));
        }

        let filter = AuditFilter {
            caller: query.caller.clone(),
            job_id: query.job_id.clone(),
            operation: query.operation.clone(),
            outcome: query.outcome.clone(),
            since: parse_time("since", &query.since)?,
            until: parse_time("until", &query.until)?,
            offset: page.offset()?,
            // One more than the page: it only says whether there is a next page.
            limit: u64::from(page.limit()?) + 1,
        };
        let rows = crate::db::audit::search(self.db()?, &filter)
            .await
            .map_err(|e| ServiceError::database(e, ""))?;
        Ok(page.of_window(rows)?.map(|r| AuditRecord {
            id: r.id.to_string(),
            occurred_at: time(&r.occurred_at),
            caller: r.caller_subject,
            key_id: r.caller_key_id.map(|k| k.to_string()),
            issuer: r.caller_issuer,
            transport: r.transport,
            operation: r.operation,
            namespace: r.namespace,
            job_id: r.job_id,
            arguments: r.arguments,
            outcome: r.outcome,
            message: r.message,
            eval_id: r.nomad_eval_id,
            duration_ms: r.duration_ms,
            trace_id: r.trace_id,
            client_addr: r.client_addr,
        }))
    }
}
