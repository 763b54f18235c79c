//! Request extractors whose rejections are problem+json, never axum's plain
//! text: JSON bodies, path ids, query strings and the bearer token.

use axum::body::Bytes;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use domain::ids::UserId;
use serde::de::{DeserializeOwned, IgnoredAny};

use crate::AppState;
use crate::problem::Problem;

/// A JSON body. Syntax errors are 400, well-formed JSON of the wrong shape is
/// 422, a missing content type 415 and an oversized body 413.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers()) {
            return Err(not_json());
        }
        let bytes = body_bytes(req, state).await?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// A JSON body that may be left out: no body at all (or `null`) is
/// `T::default()`. For routes that took no body and gained optional fields,
/// so that clients sending nothing keep working.
pub struct ApiJsonOrEmpty<T>(pub T);

impl<T: DeserializeOwned + Default, S: Send + Sync> FromRequest<S> for ApiJsonOrEmpty<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let json = is_json(req.headers());
        let bytes = body_bytes(req, state).await?;
        if bytes.is_empty() {
            return Ok(ApiJsonOrEmpty(T::default()));
        }
        if !json {
            return Err(not_json());
        }
        if bytes.trim_ascii() == b"null" {
            return Ok(ApiJsonOrEmpty(T::default()));
        }
        parse_json(&bytes).map(ApiJsonOrEmpty)
    }
}

/// A body taken as it came (a gateway's signed event, a body that may be
/// empty), within the size limit: an oversized one is a 413 problem.
pub struct ApiBytes(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for ApiBytes {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        body_bytes(req, state).await.map(ApiBytes)
    }
}

fn not_json() -> Problem {
    Problem::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported-media-type",
        "Unsupported media type",
        "send the body as JSON with 'Content-Type: application/json'",
    )
}

async fn body_bytes<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, Problem> {
    Bytes::from_request(req, state).await.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body-too-large",
                "Request body too large",
                format!("the body may be at most {} bytes", crate::REQUEST_BODY_BYTES_MAX),
            )
        } else {
            Problem::bad_request(e.body_text())
        }
    })
}

/// `bytes` as JSON of `T`: a syntax error is a 400, the wrong shape a 422.
///
/// Every body of the API is an object. serde would also take an array for
/// one, its fields in order: `[]` would then be a body with every field
/// left out, which for some requests means "all" (cancel every free
/// ticket). A client sending an array made a mistake, so it is refused.
pub(crate) fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Problem> {
    if bytes.trim_ascii_start().first() == Some(&b'[') && serde_json::from_slice::<IgnoredAny>(bytes).is_ok() {
        return Err(Problem::unprocessable("invalid-body", "the body must be a JSON object, not an array"));
    }
    match axum::Json::<T>::from_bytes(bytes) {
        Ok(axum::Json(v)) => Ok(v),
        Err(rejection) => Err(json_problem(rejection, bytes)),
    }
}

/// `application/json` or any `application/*+json`, as axum's own extractor.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else { return false };
    let essence = value.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    essence == "application/json"
        || essence.strip_prefix("application/").is_some_and(|sub| sub.ends_with("+json") && sub.len() > "+json".len())
}

fn json_problem(rejection: JsonRejection, body: &[u8]) -> Problem {
    match rejection {
        // serde may meet an unknown field before the end of a body that is
        // not JSON at all: that is still a syntax error, a 400.
        JsonRejection::JsonDataError(_) if let Err(e) = serde_json::from_slice::<IgnoredAny>(body) => {
            Problem::bad_request(format!("the body is not valid JSON: {e}"))
        }
        JsonRejection::JsonDataError(e) => Problem::unprocessable("invalid-body", e.body_text()),
        // serde reports some wrong shapes (a `null` where an enum belongs)
        // as syntax errors; well-formed JSON of the wrong shape is a 422.
        JsonRejection::JsonSyntaxError(e) if serde_json::from_slice::<IgnoredAny>(body).is_ok() => {
            let text = e.body_text();
            let why = text.split_once(": ").map_or(text.as_str(), |(_, why)| why);
            Problem::unprocessable("invalid-body", format!("the body is JSON, but not of the expected shape: {why}"))
        }
        JsonRejection::JsonSyntaxError(e) => {
            Problem::bad_request(format!("the body is not valid JSON: {}", e.body_text()))
        }
        other => Problem::bad_request(other.body_text()),
    }
}

/// Path parameters; an id that does not parse names nothing, so it is a 404.
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(v)) => Ok(ApiPath(v)),
            Err(PathRejection::FailedToDeserializePathParams(e)) => {
                use axum::extract::path::ErrorKind;
                // Said in the API's words, not the parser's.
                let detail = match e.kind() {
                    ErrorKind::ParseErrorAtKey { key, value, .. } | ErrorKind::DeserializeError { key, value, .. } => {
                        format!("no {key} has the id '{}'", domain::text::excerpt(value, 64))
                    }
                    ErrorKind::ParseErrorAtIndex { value, .. } | ErrorKind::ParseError { value, .. } => {
                        format!("nothing has the id '{}'", domain::text::excerpt(value, 64))
                    }
                    _ => format!("no such resource: {}", e.body_text()),
                };
                Err(Problem::not_found(detail))
            }
            Err(other) => Err(Problem::bad_request(other.body_text())),
        }
    }
}

/// Query parameters; malformed ones are a 400 naming the parameter.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(v)) => Ok(ApiQuery(v)),
            Err(QueryRejection::FailedToDeserializeQueryString(e)) => Err(Problem::bad_request(e.body_text())),
            Err(other) => Err(Problem::bad_request(other.body_text())),
        }
    }
}

fn bearer(parts: &Parts) -> Result<Option<&str>, Problem> {
    let Some(value) = parts.headers.get(axum::http::header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| Problem::unauthorized("malformed Authorization header"))?;
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() => {
            Ok(Some(token.trim()))
        }
        _ => Err(Problem::unauthorized("use 'Authorization: Bearer <access_token>'")),
    }
}

/// The signed-in user. Requests without a valid bearer token get 401.
pub struct AuthUser(pub UserId);

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = bearer(parts)?
            .ok_or_else(|| Problem::unauthorized("sign in first: this needs 'Authorization: Bearer <access_token>'"))?;
        match state.ticketing.authenticate(token).await? {
            Some(user) => Ok(AuthUser(user)),
            None => Err(Problem::unauthorized("the access token is unknown or has expired; sign in again")),
        }
    }
}

/// The signed-in user if a token is given; anonymous otherwise. A token that
/// is given but invalid is still a 401: silently ignoring it hides bugs.
pub struct MaybeUser(pub Option<UserId>);

impl FromRequestParts<AppState> for MaybeUser {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        if bearer(parts)?.is_none() {
            return Ok(MaybeUser(None));
        }
        AuthUser::from_request_parts(parts, state).await.map(|AuthUser(u)| MaybeUser(Some(u)))
    }
}

/// The raw bearer token, for signing out.
pub struct BearerToken(pub String);

impl<S: Send + Sync> FromRequestParts<S> for BearerToken {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        bearer(parts)?
            .map(|t| BearerToken(t.to_owned()))
            .ok_or_else(|| Problem::unauthorized("sign in first: this needs 'Authorization: Bearer <access_token>'"))
    }
}
