use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use crate::AppState;
use crate::dto::{
    ChangePasswordRequest, LoginRequest, MeResponse, MembershipDto, PasswordResetConfirmRequest, PasswordResetRequest,
    PasswordResetResponse, ProblemDto, RegisterRequest, TokenResponse, UserResponse, VerificationSentResponse,
    VerifyEmailRequest, VerifyEmailResponse,
};
use crate::extract::{ApiJson, AuthUser, BearerToken};
use crate::problem::Problem;

/// Create an account. Anyone can sign up; buyers need nothing more. A link
/// to confirm the address is mailed to it.
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
    responses((status = 200, body = TokenResponse), (status = 401, body = ProblemDto),
        (status = 429, body = ProblemDto, description = "too many wrong passwords for this address lately, or too many requests from this client; see Retry-After")))]
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
        email_verified: me.user.email_verified_at.is_some(),
        name: me.user.name,
        memberships: me
            .memberships
            .into_iter()
            .map(|(org, role)| MembershipDto { organization_id: *org.as_uuid(), role: role.to_string() })
            .collect(),
    }))
}

/// Confirm an account's address with the secret from the link mailed to it
/// (`/verify-email?token=...`). Needs no sign-in: the secret is the proof.
/// The same link used again while it works answers the same.
#[utoipa::path(post, path = "/api/v1/auth/verify-email", tag = "accounts", request_body = VerifyEmailRequest,
    responses((status = 200, body = VerifyEmailResponse), (status = 422, body = ProblemDto, description = "unknown or expired link")))]
pub async fn verify_email(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<VerifyEmailRequest>,
) -> Result<Json<VerifyEmailResponse>, Problem> {
    let user = state.ticketing.verify_email(&req.token).await?;
    Ok(Json(VerifyEmailResponse { user_id: *user.as_uuid(), email_verified: true }))
}

/// Mail the signed-in account another link to confirm its address.
#[utoipa::path(post, path = "/api/v1/me/email-verification", tag = "accounts", security(("bearer" = [])),
    responses((status = 202, body = VerificationSentResponse), (status = 401, body = ProblemDto),
               (status = 409, body = ProblemDto, description = "confirmed already"),
               (status = 429, body = ProblemDto, description = "too many links today")))]
pub async fn send_email_verification(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
) -> Result<(StatusCode, Json<VerificationSentResponse>), Problem> {
    let sent_to = state.ticketing.send_email_verification(user).await?;
    Ok((StatusCode::ACCEPTED, Json(VerificationSentResponse { sent_to })))
}

/// Ask for a link to set a new password. It is mailed to the address if an
/// account has it (a few a day at most); the answer is 202 either way.
#[utoipa::path(post, path = "/api/v1/auth/password-reset", tag = "accounts", request_body = PasswordResetRequest,
    responses((status = 202, description = "mailed, if an account has this address"),
               (status = 422, body = ProblemDto, description = "not an e-mail address")))]
pub async fn request_password_reset(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<PasswordResetRequest>,
) -> Result<StatusCode, Problem> {
    state.ticketing.request_password_reset(&req.email).await?;
    Ok(StatusCode::ACCEPTED)
}

/// Set a new password with the secret from the mailed link
/// (`/reset-password?token=...`). The link works once; the account is
/// signed out everywhere and its address counts as confirmed.
#[utoipa::path(post, path = "/api/v1/auth/password-reset/confirm", tag = "accounts",
    request_body = PasswordResetConfirmRequest,
    responses((status = 200, body = PasswordResetResponse),
               (status = 422, body = ProblemDto, description = "unknown, used or expired link, or a weak password")))]
pub async fn reset_password(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<PasswordResetConfirmRequest>,
) -> Result<Json<PasswordResetResponse>, Problem> {
    let user = state.ticketing.reset_password(&req.token, &req.password).await?;
    Ok(Json(PasswordResetResponse { user_id: *user.as_uuid() }))
}

/// Change the signed-in account's password. This session stays signed in;
/// every other one ends.
#[utoipa::path(put, path = "/api/v1/me/password", tag = "accounts", security(("bearer" = [])),
    request_body = ChangePasswordRequest,
    responses((status = 204), (status = 401, body = ProblemDto),
               (status = 422, body = ProblemDto, description = "wrong current password, or a weak new one"),
               (status = 429, body = ProblemDto, description = "too many wrong passwords for this address lately; see Retry-After")))]
pub async fn change_password(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    BearerToken(token): BearerToken,
    ApiJson(req): ApiJson<ChangePasswordRequest>,
) -> Result<StatusCode, Problem> {
    state.ticketing.change_password(user, &token, &req.current_password, &req.new_password).await?;
    Ok(StatusCode::NO_CONTENT)
}
