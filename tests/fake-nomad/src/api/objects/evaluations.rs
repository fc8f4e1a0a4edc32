//! Evaluation reads: the list, one evaluation and its allocations.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;

use super::{allocs_by, list, read_one};
use crate::api::{Ctx, Params, Q, flag};
use crate::render;

pub async fn evaluations(State(shared): Ctx, headers: HeaderMap, Q(query): Params) -> Response {
    let job = query.get("job").cloned();
    let status = query.get("status").cloned();
    list(&shared, &headers, &query, |w, wanted| {
        w.evals
            .values()
            .filter(|e| wanted(&e.namespace))
            .filter(|e| job.as_ref().is_none_or(|j| &e.job_id == j))
            .filter(|e| status.as_ref().is_none_or(|s| &e.status == s))
            .map(|e| (e.id.clone(), render::eval(e)))
            .collect()
    })
    .await
}

pub async fn evaluation(
    State(shared): Ctx,
    headers: HeaderMap,
    Path(id): Path<String>,
    Q(query): Params,
) -> Response {
    let related = flag(&query, "related");
    read_one(&shared, &headers, &query, "eval not found", |w| {
        w.evals.get(&id).map(|e| {
            let v = if related {
                render::eval_with_related(w, e)
            } else {
                render::eval(e)
            };
            (e.namespace.clone(), v)
        })
    })
    .await
}

pub async fn evaluation_allocations(
    State(shared): Ctx,
    headers: HeaderMap,
    Path(id): Path<String>,
    Q(query): Params,
) -> Response {
    allocs_by(&shared, &headers, &query, |w| {
        w.allocs
            .values()
            .filter(|a| a.eval_id == id)
            .map(|a| (a.namespace.clone(), render::alloc_stub(a)))
            .collect()
    })
    .await
}
