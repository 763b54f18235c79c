use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;

use crate::AppState;
use crate::dto::{HealthResponse, ProblemDto};
use crate::problem::Problem;

/// Liveness and readiness: answers 200 when the database answers.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, body = HealthResponse), (status = 503, body = ProblemDto)))]
pub async fn healthz(State(state): State<AppState>) -> Result<Json<HealthResponse>, Problem> {
    state.ticketing.store().ping().await.map_err(|e| {
        tracing::warn!(error = %e, "health check failed");
        Problem::new(StatusCode::SERVICE_UNAVAILABLE, "unhealthy", "Unhealthy", "the database does not answer")
    })?;
    Ok(Json(HealthResponse { status: "ok" }))
}

/// Prometheus metrics: request counts and latencies, holds, orders, check-ins.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, content_type = "text/plain", body = String)))]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], state.metrics.render())
}
