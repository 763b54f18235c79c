use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use domain::auth::Role;
use domain::ids::{OrganizationId, UserId};
use uuid::Uuid;

use crate::AppState;
use crate::dto::{
    AddMemberRequest, ChangeRoleRequest, CreateOrganizationRequest, InvitationDto, InvitationViewDto, InviteRequest,
    MemberResponse, OrganizationResponse, ProblemDto, SentInvitationDto, TeamMemberDto,
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
    let role = member_role(&req.role)?;
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

/// A member's role as given in a request: admin or gate staff.
fn member_role(raw: &str) -> Result<Role, Problem> {
    match raw.parse::<Role>() {
        Ok(Role::Owner) => {
            Err(Problem::unprocessable("invalid-member", "an organization has one owner; choose 'admin' or 'gate'"))
        }
        Ok(role) => Ok(role),
        Err(e) => Err(Problem::unprocessable("invalid-member", e.to_string())),
    }
}

/// Move a member between admin and gate staff. Only the owner changes roles.
#[utoipa::path(patch, path = "/api/v1/organizations/{org}/members/{user}", tag = "organizations",
    security(("bearer" = [])), params(("org" = Uuid, Path), ("user" = Uuid, Path)), request_body = ChangeRoleRequest,
    responses((status = 200, body = TeamMemberDto), (status = 401, body = ProblemDto), (status = 403, body = ProblemDto),
               (status = 404, body = ProblemDto, description = "not a member"),
               (status = 409, body = ProblemDto, description = "the owner's role stays"),
               (status = 422, body = ProblemDto)))]
pub async fn change_role(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath((org, member)): ApiPath<(Uuid, Uuid)>,
    ApiJson(req): ApiJson<ChangeRoleRequest>,
) -> Result<Json<TeamMemberDto>, Problem> {
    let role = member_role(&req.role)?;
    let changed = state
        .ticketing
        .change_member_role(user, OrganizationId::from_uuid(org), UserId::from_uuid(member), role)
        .await?;
    Ok(Json(TeamMemberDto::from(&changed)))
}

/// Invite someone to the team by e-mail, with or without an account. The
/// answer is the same either way; the link in it is shown only here.
/// Inviting the same address again replaces the earlier link.
#[utoipa::path(post, path = "/api/v1/organizations/{org}/invitations", tag = "organizations",
    security(("bearer" = [])), params(("org" = Uuid, Path)), request_body = InviteRequest,
    responses((status = 201, body = SentInvitationDto), (status = 401, body = ProblemDto), (status = 403, body = ProblemDto),
               (status = 409, body = ProblemDto, description = "a member already"), (status = 422, body = ProblemDto)))]
pub async fn invite(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(org): ApiPath<Uuid>,
    ApiJson(req): ApiJson<InviteRequest>,
) -> Result<(StatusCode, Json<SentInvitationDto>), Problem> {
    let role = member_role(&req.role)?;
    let sent = state.ticketing.invite_member(user, OrganizationId::from_uuid(org), &req.email, role).await?;
    Ok((
        StatusCode::CREATED,
        Json(SentInvitationDto {
            id: sent.id,
            email: sent.email,
            role: sent.role.to_string(),
            created_at: sent.created_at,
            expires_at: sent.expires_at,
            link: sent.link,
        }),
    ))
}

/// The team's invitations that can still be accepted, newest first.
#[utoipa::path(get, path = "/api/v1/organizations/{org}/invitations", tag = "organizations",
    security(("bearer" = [])), params(("org" = Uuid, Path)),
    responses((status = 200, body = Vec<InvitationDto>), (status = 401, body = ProblemDto), (status = 403, body = ProblemDto)))]
pub async fn invitations(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(org): ApiPath<Uuid>,
) -> Result<Json<Vec<InvitationDto>>, Problem> {
    let open = state.ticketing.invitations(user, OrganizationId::from_uuid(org)).await?;
    Ok(Json(open.iter().map(InvitationDto::from).collect()))
}

/// Withdraw an open invitation: its link stops working.
#[utoipa::path(delete, path = "/api/v1/organizations/{org}/invitations/{invitation}", tag = "organizations",
    security(("bearer" = [])), params(("org" = Uuid, Path), ("invitation" = String, Path)),
    responses((status = 204, description = "withdrawn"), (status = 401, body = ProblemDto), (status = 403, body = ProblemDto),
               (status = 404, body = ProblemDto, description = "no open invitation")))]
pub async fn revoke_invitation(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath((org, invitation)): ApiPath<(Uuid, String)>,
) -> Result<StatusCode, Problem> {
    state.ticketing.revoke_invitation(user, OrganizationId::from_uuid(org), &invitation).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What an invitation's link offers. The secret in the path is the only
/// credential needed to look.
#[utoipa::path(get, path = "/api/v1/invitations/{secret}", tag = "organizations", params(("secret" = String, Path)),
    responses((status = 200, body = InvitationViewDto), (status = 404, body = ProblemDto),
               (status = 410, body = ProblemDto, description = "used, withdrawn or expired")))]
pub async fn invitation(
    State(state): State<AppState>,
    ApiPath(secret): ApiPath<String>,
) -> Result<Json<InvitationViewDto>, Problem> {
    let i = state.ticketing.invitation(&secret).await?;
    Ok(Json(InvitationViewDto {
        organization_id: *i.organization.as_uuid(),
        organization_name: i.organization_name,
        role: i.role.to_string(),
        email: i.email,
        invited_by: i.invited_by_name,
        expires_at: i.expires_at,
    }))
}

/// Join the team with the signed-in account. The link works once.
#[utoipa::path(post, path = "/api/v1/invitations/{secret}/accept", tag = "organizations", security(("bearer" = [])),
    params(("secret" = String, Path)),
    responses((status = 200, body = MemberResponse), (status = 401, body = ProblemDto), (status = 404, body = ProblemDto),
               (status = 409, body = ProblemDto, description = "a member already"),
               (status = 410, body = ProblemDto, description = "used, withdrawn or expired")))]
pub async fn accept_invitation(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    ApiPath(secret): ApiPath<String>,
) -> Result<Json<MemberResponse>, Problem> {
    let (org, role) = state.ticketing.accept_invitation(user, &secret).await?;
    Ok(Json(MemberResponse { organization_id: *org.as_uuid(), user_id: *user.as_uuid(), role: role.to_string() }))
}
