//! Platform fees per organization and the organizer's payout report.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use domain::fees::FeePolicy;
use domain::ids::{EventId, OrganizationId};
use serde::{Deserialize, Serialize};
use ticketing::fees::{PayoutLine, PayoutReport};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::AppState;
use crate::dto::{MoneyDto, ProblemDto};
use crate::extract::{ApiJson, ApiPath, AuthUser};
use crate::problem::Problem;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeesRequest {
    /// Percentage of the order subtotal in basis points (250 = 2.5 %), 0 to 2500.
    #[schema(example = 250)]
    pub percent_bp: i64,
    /// Fixed part per paid ticket, in minor units of the event's currency, 0 to 10000.
    #[schema(example = 50)]
    pub fixed_per_ticket: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FeesResponse {
    pub organization_id: Uuid,
    pub percent_bp: u32,
    pub fixed_per_ticket: i64,
    /// How the fee is computed, for people reading the response.
    pub rounding: &'static str,
}

fn fees_response(org: Uuid, p: FeePolicy) -> FeesResponse {
    FeesResponse {
        organization_id: org,
        percent_bp: p.percent_bp(),
        fixed_per_ticket: p.fixed_minor_per_ticket(),
        rounding: "percent_bp of the order subtotal, rounded half up to the minor unit, plus fixed_per_ticket per ticket priced above zero",
    }
}

/// The organization's platform fee (owners and admins).
#[utoipa::path(get, path = "/api/v1/organizations/{org}/fees", tag = "organizations", security(("bearer" = [])),
    params(("org" = Uuid, Path)),
    responses((status = 200, body = FeesResponse), (status = 401, body = ProblemDto), (status = 403, body = ProblemDto)))]
pub async fn get_fees(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(org): ApiPath<Uuid>,
) -> Result<Json<FeesResponse>, Problem> {
    let policy = state.ticketing.organization_fees(user, OrganizationId::from_uuid(org)).await?;
    Ok(Json(fees_response(org, policy)))
}

/// Set the organization's platform fee (the owner). The buyer pays it on
/// top of the ticket prices; holds placed from now on carry it.
#[utoipa::path(put, path = "/api/v1/organizations/{org}/fees", tag = "organizations", security(("bearer" = [])),
    params(("org" = Uuid, Path)), request_body = FeesRequest,
    responses((status = 200, body = FeesResponse), (status = 401, body = ProblemDto), (status = 403, body = ProblemDto),
               (status = 422, body = ProblemDto)))]
pub async fn set_fees(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(org): ApiPath<Uuid>,
    ApiJson(req): ApiJson<FeesRequest>,
) -> Result<Json<FeesResponse>, Problem> {
    let policy = state
        .ticketing
        .set_organization_fees(user, OrganizationId::from_uuid(org), req.percent_bp, req.fixed_per_ticket)
        .await?;
    Ok(Json(fees_response(org, policy)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PayoutLineDto {
    pub currency: String,
    /// Orders paid, including ones refunded later.
    pub orders: i64,
    /// The tickets' prices of every order, without fees.
    pub gross_sales: MoneyDto,
    /// Platform fees buyers paid on top (the platform's; not deducted).
    pub platform_fees: MoneyDto,
    /// Refunds recorded (pending or done).
    pub refunds: MoneyDto,
    /// The part of `refunds` that gave back platform fees (the platform's
    /// loss, not the organizer's): a refund returns ticket money first.
    pub refunded_fees: MoneyDto,
    /// Resale prices that belong to the sellers.
    pub resale_seller_shares: MoneyDto,
    /// gross_sales − resale_seller_shares − (refunds − refunded_fees); may be negative.
    pub net_payout: MoneyDto,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PayoutReportResponse {
    pub event_id: Uuid,
    pub event_title: String,
    /// One entry per currency; amounts of different currencies are never added.
    pub currencies: Vec<PayoutLineDto>,
}

fn money(amount: i64, l: &PayoutLine) -> MoneyDto {
    MoneyDto { amount, currency: l.currency.to_string() }
}

impl From<&PayoutReport> for PayoutReportResponse {
    fn from(r: &PayoutReport) -> Self {
        Self {
            event_id: *r.event.as_uuid(),
            event_title: r.event_title.clone(),
            currencies: r
                .lines
                .iter()
                .map(|l| PayoutLineDto {
                    currency: l.currency.to_string(),
                    orders: l.orders,
                    gross_sales: money(l.gross_sales, l),
                    platform_fees: money(l.platform_fees, l),
                    refunds: money(l.refunds, l),
                    refunded_fees: money(l.refunded_fees, l),
                    resale_seller_shares: money(l.resale_seller_shares, l),
                    net_payout: money(l.net_payout, l),
                })
                .collect(),
        }
    }
}

/// `amount` minor units as a decimal in the currency's exponent: exact,
/// never through floating point ("-12.05", "4500" for JPY).
pub fn decimal(amount: i64, exponent: u8) -> String {
    if exponent == 0 {
        return amount.to_string();
    }
    let scale = 10_u64.pow(u32::from(exponent));
    let sign = if amount < 0 { "-" } else { "" };
    let abs = amount.unsigned_abs();
    format!("{sign}{}.{:0width$}", abs / scale, abs % scale, width = usize::from(exponent))
}

/// The report as CSV (RFC 4180): one row per currency, amounts as decimals
/// in major units.
pub fn payout_csv(r: &PayoutReport) -> String {
    let mut out = String::from(
        "currency,orders,gross_sales,platform_fees,refunds,refunded_fees,resale_seller_shares,net_payout\r\n",
    );
    for l in &r.lines {
        let e = l.currency.exponent();
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{}\r\n",
            l.currency,
            l.orders,
            decimal(l.gross_sales, e),
            decimal(l.platform_fees, e),
            decimal(l.refunds, e),
            decimal(l.refunded_fees, e),
            decimal(l.resale_seller_shares, e),
            decimal(l.net_payout, e),
        ));
    }
    out
}

fn csv_response(event: Uuid, report: &PayoutReport) -> Response {
    let disposition = format!("attachment; filename=\"payouts-{event}.csv\"");
    (
        [(header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()), (header::CONTENT_DISPOSITION, disposition)],
        payout_csv(report),
    )
        .into_response()
}

/// The event's payout report for its organizer (owners and admins): gross
/// sales, platform fees, refunds and net payout per currency. Answers CSV
/// when the request prefers `text/csv`.
#[utoipa::path(get, path = "/api/v1/events/{event}/payouts", tag = "events", security(("bearer" = [])),
    params(("event" = Uuid, Path)),
    responses((status = 200, body = PayoutReportResponse), (status = 200, content_type = "text/csv", body = String),
               (status = 401, body = ProblemDto), (status = 403, body = ProblemDto), (status = 404, body = ProblemDto)))]
pub async fn payouts(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(event): ApiPath<Uuid>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let report = state.ticketing.payout_report(user, EventId::from_uuid(event)).await?;
    let wants_csv = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.split(',').next().is_some_and(|first| first.trim().starts_with("text/csv")));
    if wants_csv {
        return Ok(csv_response(event, &report));
    }
    Ok((StatusCode::OK, Json(PayoutReportResponse::from(&report))).into_response())
}

/// The event's payout report as CSV.
#[utoipa::path(get, path = "/api/v1/events/{event}/payouts.csv", tag = "events", security(("bearer" = [])),
    params(("event" = Uuid, Path)),
    responses((status = 200, content_type = "text/csv", body = String), (status = 401, body = ProblemDto),
               (status = 403, body = ProblemDto), (status = 404, body = ProblemDto)))]
pub async fn payouts_csv(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(event): ApiPath<Uuid>,
) -> Result<Response, Problem> {
    let report = state.ticketing.payout_report(user, EventId::from_uuid(event)).await?;
    Ok(csv_response(event, &report))
}

#[cfg(test)]
mod tests {
    use super::decimal;

    #[test]
    fn decimals_are_exact() {
        assert_eq!(decimal(4505, 2), "45.05");
        assert_eq!(decimal(-1205, 2), "-12.05");
        assert_eq!(decimal(5, 3), "0.005");
        assert_eq!(decimal(4500, 0), "4500");
        assert_eq!(decimal(0, 2), "0.00");
    }
}
