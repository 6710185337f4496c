//! Sign-up, log-in, log-out and user look-up.

use axum::extract::State;
use axum::http::StatusCode;
use natter_protocol::{
    validate, Account, ApiError, ErrorCode, LoginRequest, LoginResponse, SignupRequest, UserSummary,
};
use uuid::Uuid;

use natter_protocol::policy::{may_use_dms, AgeBand};

use super::safety::account_view;
use crate::auth::{hash_password, new_token, verify_password, AuthUser};
use crate::error::{Error, Result};
use crate::extract::{Json, Path};
use crate::state::{now_ms, AppState};
use crate::store::{NewSession, NewUser};

/// Create an account.
#[utoipa::path(
    post, path = "/v1/signup", tag = "accounts",
    request_body = SignupRequest,
    responses(
        (status = 201, description = "Account created", body = Account),
        (status = 409, description = "username_taken", body = ApiError),
        (status = 422, description = "invalid_username, invalid_password, invalid_birthdate, too_young, bad_request", body = ApiError),
    )
)]
#[tracing::instrument(skip_all)]
pub async fn signup(
    State(state): State<AppState>,
    Json(req): Json<SignupRequest>,
) -> Result<(StatusCode, Json<Account>)> {
    let username = validate::username(&req.username)?;
    validate::password(&req.password)?;
    let today = state.clock.today();
    validate::birthdate(req.birthdate, today)?;
    natter_protocol::policy::may_sign_up(req.birthdate, today)?;
    if state.store.user_by_username(&username).await?.is_some() {
        // cheap early answer; the unique index is the real guard
        return Err(username_taken(&username));
    }
    let password_hash = hash_password(req.password).await?;
    let account = state
        .store
        .create_user(NewUser {
            id: Uuid::now_v7(),
            username,
            password_hash,
            birthdate: req.birthdate,
            created_at: now_ms(),
        })
        .await?;
    tracing::info!(user_id = %account.id, "signed up");
    Ok((
        StatusCode::CREATED,
        Json(account_view(&state, account).await?),
    ))
}

fn username_taken(username: &str) -> Error {
    Error::api(
        ErrorCode::UsernameTaken,
        format!("the username {username:?} is taken"),
    )
}

/// Log in and get a bearer token.
#[utoipa::path(
    post, path = "/v1/login", tag = "accounts",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in", body = LoginResponse),
        (status = 401, description = "invalid_credentials", body = ApiError),
    )
)]
#[tracing::instrument(skip_all)]
pub async fn login(
    State(state): State<AppState>,
    Json(req): Json<LoginRequest>,
) -> Result<Json<LoginResponse>> {
    let credentials = match validate::username(&req.username) {
        Ok(name) => state.store.credentials(&name).await?,
        Err(_) => None,
    };
    let (account, hash) = match credentials {
        Some(c) => (Some(c.account), Some(c.password_hash)),
        None => (None, None),
    };
    let ok = verify_password(req.password, hash).await?;
    let Some(account) = account.filter(|_| ok) else {
        return Err(Error::api(
            ErrorCode::InvalidCredentials,
            "wrong username or password",
        ));
    };
    let (token, token_hash) = new_token();
    let now = now_ms();
    let ttl = i64::try_from(state.token_ttl.as_millis()).unwrap_or(i64::MAX);
    state
        .store
        .create_session(NewSession {
            token_hash,
            user_id: account.id,
            created_at: now,
            expires_at: now.saturating_add(ttl),
        })
        .await?;
    tracing::info!(user_id = %account.id, "logged in");
    let account = account_view(&state, account).await?;
    Ok(Json(LoginResponse { token, account }))
}

/// End this session; the token stops working.
#[utoipa::path(
    post, path = "/v1/logout", tag = "accounts",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Signed out"),
        (status = 401, description = "unauthenticated", body = ApiError),
    )
)]
#[tracing::instrument(skip_all)]
pub async fn logout(State(state): State<AppState>, user: AuthUser) -> Result<StatusCode> {
    state.store.delete_session(user.token_hash).await?;
    // Its WebSockets close at once, on whichever instance they are.
    state.bus.revoke(user.token_hash).await;
    tracing::info!(user_id = %user.id, "logged out");
    Ok(StatusCode::NO_CONTENT)
}

/// The signed-in account.
#[utoipa::path(
    get, path = "/v1/me", tag = "accounts",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's account", body = Account),
        (status = 401, description = "unauthenticated", body = ApiError),
    )
)]
pub async fn me(State(state): State<AppState>, user: AuthUser) -> Result<Json<Account>> {
    let account = state
        .store
        .account(user.id)
        .await?
        .ok_or_else(Error::unauthenticated)?;
    Ok(Json(account_view(&state, account).await?))
}

/// Look up a user by name (case-insensitive).
#[utoipa::path(
    get, path = "/v1/users/{username}", tag = "accounts",
    security(("bearer" = [])),
    params(("username" = String, Path, description = "Username, any case")),
    responses(
        (status = 200, description = "The user", body = UserSummary),
        (status = 401, description = "unauthenticated", body = ApiError),
        (status = 404, description = "user_not_found", body = ApiError),
    )
)]
pub async fn get_user(
    State(state): State<AppState>,
    _user: AuthUser,
    Path(username): Path<String>,
) -> Result<Json<UserSummary>> {
    Ok(Json(find_user(&state, &username).await?))
}

/// Resolves a username as typed (any case) to a user, or `user_not_found`. An account under
/// 16 answers exactly as a name that does not exist: nobody can write to, invite, look up,
/// block or report it, and its age is not revealed either.
pub async fn find_user(state: &AppState, raw: &str) -> Result<UserSummary> {
    // A name that breaks the rules cannot exist.
    let Ok(username) = validate::username(raw) else {
        return Err(Error::user_not_found(raw));
    };
    let reachable = state
        .store
        .credentials(&username)
        .await?
        .map(|c| c.account)
        .filter(|a| may_use_dms(AgeBand::on(a.birthdate, state.clock.today())).is_ok());
    match reachable {
        Some(account) => Ok(UserSummary {
            id: account.id,
            username: account.username,
        }),
        None => Err(Error::user_not_found(&username)),
    }
}
