use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use domain::ids::OrganizationId;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::AppState;
use crate::dto::ProblemDto;
use crate::extract::{ApiJson, ApiPath, AuthUser};
use crate::problem::Problem;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhookRequest {
    /// Where to POST events (http or https).
    pub url: String,
    /// Event types to receive; all (`order.paid`) when empty.
    #[serde(default)]
    pub event_types: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookResponse {
    pub id: String,
    pub url: String,
    pub event_types: Vec<String>,
    /// Verifies `webhook-signature` (Standard Webhooks: HMAC-SHA256 over
    /// "{webhook-id}.{webhook-timestamp}.{body}" with the base64 part of this
    /// secret as key). Shown on creation only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

/// Register a webhook endpoint. Deliveries are at least once: deduplicate on
/// the `webhook-id` header, which stays the same across retries.
#[utoipa::path(post, path = "/api/v1/organizations/{org}/webhooks", tag = "organizations", security(("bearer" = [])),
    params(("org" = Uuid, Path)), request_body = CreateWebhookRequest,
    responses((status = 201, body = WebhookResponse), (status = 401, body = ProblemDto), (status = 403, body = ProblemDto),
               (status = 422, body = ProblemDto)))]
pub async fn create(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(org): ApiPath<Uuid>,
    ApiJson(req): ApiJson<CreateWebhookRequest>,
) -> Result<(StatusCode, Json<WebhookResponse>), Problem> {
    let e = state.ticketing.create_webhook(user, OrganizationId::from_uuid(org), &req.url, &req.event_types).await?;
    Ok((
        StatusCode::CREATED,
        Json(WebhookResponse { id: e.id, url: e.url, event_types: e.event_types, secret: Some(e.secret) }),
    ))
}
