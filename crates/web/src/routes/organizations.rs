use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use domain::auth::Role;
use domain::ids::{OrganizationId, UserId};
use uuid::Uuid;

use crate::AppState;
use crate::dto::{
    AddMemberRequest, CreateOrganizationRequest, MemberResponse, OrganizationResponse, ProblemDto, TeamMemberDto,
};
use crate::extract::{ApiJson, ApiPath, AuthUser};
use crate::problem::Problem;

/// Create an organization; the caller becomes its owner.
#[utoipa::path(post, path = "/api/v1/organizations", tag = "organizations", security(("bearer" = [])),
    request_body = CreateOrganizationRequest,
    responses((status = 201, body = OrganizationResponse), (status = 401, body = ProblemDto), (status = 422, body = ProblemDto)))]
pub async fn create(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiJson(req): ApiJson<CreateOrganizationRequest>,
) -> Result<(StatusCode, Json<OrganizationResponse>), Problem> {
    let (id, name) = state.ticketing.create_organization(user, &req.name).await?;
    Ok((StatusCode::CREATED, Json(OrganizationResponse { id: *id.as_uuid(), name })))
}

/// Add an existing account as admin or gate staff. Owners add admins and
/// gate staff; admins add gate staff.
#[utoipa::path(post, path = "/api/v1/organizations/{org}/members", tag = "organizations", security(("bearer" = [])),
    params(("org" = Uuid, Path)), request_body = AddMemberRequest,
    responses((status = 201, body = MemberResponse), (status = 401, body = ProblemDto), (status = 403, body = ProblemDto),
               (status = 409, body = ProblemDto), (status = 422, body = ProblemDto)))]
pub async fn add_member(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(org): ApiPath<Uuid>,
    ApiJson(req): ApiJson<AddMemberRequest>,
) -> Result<(StatusCode, Json<MemberResponse>), Problem> {
    let role: Role = req
        .role
        .parse()
        .map_err(|e: domain::auth::UnknownRole| Problem::unprocessable("invalid-member", e.to_string()))?;
    if role == Role::Owner {
        return Err(Problem::unprocessable("invalid-member", "an organization has one owner; add 'admin' or 'gate'"));
    }
    let org = OrganizationId::from_uuid(org);
    let member = state.ticketing.add_member(user, org, &req.email, role).await?;
    Ok((
        StatusCode::CREATED,
        Json(MemberResponse { organization_id: *org.as_uuid(), user_id: *member.as_uuid(), role: role.to_string() }),
    ))
}

/// The organization's team: its owner, admins and gate staff.
#[utoipa::path(get, path = "/api/v1/organizations/{org}/members", tag = "organizations", security(("bearer" = [])),
    params(("org" = Uuid, Path)),
    responses((status = 200, body = Vec<TeamMemberDto>), (status = 401, body = ProblemDto), (status = 403, body = ProblemDto)))]
pub async fn members(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(org): ApiPath<Uuid>,
) -> Result<Json<Vec<TeamMemberDto>>, Problem> {
    let members = state.ticketing.members(user, OrganizationId::from_uuid(org)).await?;
    Ok(Json(members.iter().map(TeamMemberDto::from).collect()))
}

/// Remove a member. Owners remove admins and gate staff; admins remove gate
/// staff. The owner stays.
#[utoipa::path(delete, path = "/api/v1/organizations/{org}/members/{user}", tag = "organizations",
    security(("bearer" = [])), params(("org" = Uuid, Path), ("user" = Uuid, Path)),
    responses((status = 204, description = "removed"), (status = 401, body = ProblemDto), (status = 403, body = ProblemDto),
               (status = 404, body = ProblemDto, description = "not a member"),
               (status = 409, body = ProblemDto, description = "the owner cannot be removed")))]
pub async fn remove_member(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath((org, member)): ApiPath<(Uuid, Uuid)>,
) -> Result<StatusCode, Problem> {
    state.ticketing.remove_member(user, OrganizationId::from_uuid(org), UserId::from_uuid(member)).await?;
    Ok(StatusCode::NO_CONTENT)
}
