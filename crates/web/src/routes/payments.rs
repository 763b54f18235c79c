//! Payment gateways: their notifications (webhooks) and each organization's
//! failover order.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use domain::ids::OrganizationId;
use serde::{Deserialize, Serialize};
use ticketing::payments::Notification;
use ticketing::payments::attempts::NotificationOutcome;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::AppState;
use crate::dto::ProblemDto;
use crate::extract::{ApiBytes, ApiJson, ApiPath, AuthUser};
use crate::problem::Problem;

#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationResponse {
    /// `processed`, or `duplicate` for an event already acted on.
    pub outcome: String,
}

/// A payment gateway's notification, e.g. Stripe's webhook for the gateway
/// named `stripe` at `/api/v1/payments/stripe/webhook`. The signature
/// (`Stripe-Signature`) is verified against the gateway's webhook secret and
/// a timestamp within five minutes; each event is acted on once.
#[utoipa::path(post, path = "/api/v1/payments/{gateway}/webhook", tag = "orders",
    params(("gateway" = String, Path, description = "A configured gateway's name")),
    request_body(content = String, content_type = "application/json", description = "The gateway's event, verbatim"),
    responses((status = 200, body = NotificationResponse), (status = 400, body = ProblemDto, description = "bad signature or stale timestamp"),
               (status = 404, body = ProblemDto, description = "no such gateway, or it takes no notifications")))]
pub async fn webhook(
    State(state): State<AppState>,
    ApiPath(gateway): ApiPath<String>,
    headers: HeaderMap,
    ApiBytes(body): ApiBytes,
) -> Result<Json<NotificationResponse>, Problem> {
    let headers = headers
        .iter()
        .filter_map(|(name, value)| Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned())))
        .collect();
    let outcome = state.ticketing.payment_notification(&gateway, &Notification { headers, body: &body }).await?;
    let outcome = match outcome {
        NotificationOutcome::Processed => "processed",
        NotificationOutcome::Duplicate => "duplicate",
    };
    Ok(Json(NotificationResponse { outcome: outcome.to_owned() }))
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentGatewaysBody {
    /// Gateway names in the order checkout tries them: when one is
    /// unavailable (timeout, 5xx), the next of the same kind is tried.
    pub gateways: Vec<String>,
}

/// The organization's payment gateways in failover order (empty: checkout
/// uses the gateway the buyer names, alone).
#[utoipa::path(get, path = "/api/v1/organizations/{org}/payment-gateways", tag = "organizations", security(("bearer" = [])),
    params(("org" = Uuid, Path)),
    responses((status = 200, body = PaymentGatewaysBody), (status = 401, body = ProblemDto), (status = 403, body = ProblemDto)))]
pub async fn get_gateways(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(org): ApiPath<Uuid>,
) -> Result<Json<PaymentGatewaysBody>, Problem> {
    let gateways = state.ticketing.organization_payment_gateways(user, OrganizationId::from_uuid(org)).await?;
    Ok(Json(PaymentGatewaysBody { gateways }))
}

/// Set the failover order: only gateways this installation has configured,
/// each once.
#[utoipa::path(put, path = "/api/v1/organizations/{org}/payment-gateways", tag = "organizations", security(("bearer" = [])),
    params(("org" = Uuid, Path)), request_body = PaymentGatewaysBody,
    responses((status = 200, body = PaymentGatewaysBody), (status = 401, body = ProblemDto), (status = 403, body = ProblemDto),
               (status = 422, body = ProblemDto)))]
pub async fn set_gateways(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(org): ApiPath<Uuid>,
    ApiJson(req): ApiJson<PaymentGatewaysBody>,
) -> Result<(StatusCode, Json<PaymentGatewaysBody>), Problem> {
    let gateways =
        state.ticketing.set_organization_payment_gateways(user, OrganizationId::from_uuid(org), req.gateways).await?;
    Ok((StatusCode::OK, Json(PaymentGatewaysBody { gateways })))
}
