use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use crate::AppState;
use crate::dto::{LoginRequest, MeResponse, MembershipDto, ProblemDto, RegisterRequest, TokenResponse, UserResponse};
use crate::extract::{ApiJson, AuthUser, BearerToken};
use crate::problem::Problem;

/// Create an account. Anyone can sign up; buyers need nothing more.
#[utoipa::path(post, path = "/api/v1/auth/register", tag = "accounts", request_body = RegisterRequest,
    responses((status = 201, body = UserResponse), (status = 409, body = ProblemDto, description = "e-mail taken"),
               (status = 422, body = ProblemDto)))]
pub async fn register(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<RegisterRequest>,
) -> Result<(StatusCode, Json<UserResponse>), Problem> {
    let user = state.ticketing.register(&req.email, &req.password, &req.name).await?;
    Ok((StatusCode::CREATED, Json(UserResponse { id: *user.id.as_uuid(), email: user.email, name: user.name })))
}

/// Sign in and get a bearer token.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "accounts", request_body = LoginRequest,
    responses((status = 200, body = TokenResponse), (status = 401, body = ProblemDto)))]
pub async fn login(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<Json<TokenResponse>, Problem> {
    let session = state.ticketing.login(&req.email, &req.password).await?;
    Ok(Json(TokenResponse {
        access_token: session.access_token,
        token_type: "Bearer",
        expires_in: session.expires_in_secs,
    }))
}

/// Sign out: the bearer token stops working at once.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "accounts", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = ProblemDto)))]
pub async fn logout(
    State(state): State<AppState>,
    _user: AuthUser,
    BearerToken(token): BearerToken,
) -> Result<StatusCode, Problem> {
    state.ticketing.logout(&token).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The signed-in user and their organization roles.
#[utoipa::path(get, path = "/api/v1/me", tag = "accounts", security(("bearer" = [])),
    responses((status = 200, body = MeResponse), (status = 401, body = ProblemDto)))]
pub async fn me(State(state): State<AppState>, AuthUser(user): AuthUser) -> Result<Json<MeResponse>, Problem> {
    let me = state.ticketing.me(user).await?.ok_or_else(|| Problem::unauthorized("the account no longer exists"))?;
    Ok(Json(MeResponse {
        id: *me.user.id.as_uuid(),
        email: me.user.email,
        name: me.user.name,
        memberships: me
            .memberships
            .into_iter()
            .map(|(org, role)| MembershipDto { organization_id: *org.as_uuid(), role: role.to_string() })
            .collect(),
    }))
}
