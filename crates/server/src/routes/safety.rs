//! The safety rules' own routes: the nudity filter setting, message requests (accept,
//! delete), blocking, reporting; and the rate limits every send and new conversation passes.
//!
//! The rules themselves are `natter_protocol::policy`; this file applies them with what the
//! store knows. Rate limits count rows in the database (messages by sender, direct
//! conversations by creator), so they hold across restarts and across server instances.

use axum::extract::State;
use axum::http::StatusCode;
use natter_protocol::limits::{
    MESSAGES_PER_MINUTE, NEW_CONVERSATIONS_PER_DAY, REPORT_MAX_MESSAGES,
};
use natter_protocol::policy::{self, AgeBand};
use natter_protocol::validate;
use natter_protocol::{
    Account, ApiError, BlockRequest, Conversation, ErrorCode, SettingsRequest, UserSummary,
};
use natter_protocol::{ReportRequest, ServerEvent};
use uuid::Uuid;

use super::accounts::find_user;
use crate::auth::{AuthUser, DmUser};
use crate::error::{Error, Result};
use crate::extract::{Json, Path};
use crate::state::{now_ms, AppState};
use crate::store::NewReport;

/// The rate limits (defaults: `natter_protocol::limits`); tests may lower them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    pub messages_per_minute: u32,
    pub new_conversations_per_day: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            messages_per_minute: MESSAGES_PER_MINUTE,
            new_conversations_per_day: NEW_CONVERSATIONS_PER_DAY,
        }
    }
}

const MINUTE_MS: i64 = 60_000;
const DAY_MS: i64 = 24 * 60 * 60 * 1000;

fn wait_for(times: &[i64], max: u32, window_ms: i64, now: i64) -> Option<u64> {
    crate::rate::Window { max, window_ms }.wait(times, now)
}

/// The per-minute message limit, as the stores count it.
pub fn message_window(state: &AppState) -> crate::rate::Window {
    crate::rate::Window {
        max: state.limits.messages_per_minute,
        window_ms: MINUTE_MS,
    }
}

/// When the new conversations `user` started in the last day were started, oldest first:
/// direct conversations, and invitations of people who shared no conversation with them.
async fn new_conversations_today(state: &AppState, user: Uuid, now: i64) -> Result<Vec<i64>> {
    let since = now - DAY_MS;
    let mut times = state.store.directs_started_since(user, since).await?;
    times.extend(state.store.invites_counted_since(user, since).await?);
    times.sort_unstable();
    Ok(times)
}

fn too_many_new_conversations(wait: u64) -> Error {
    ApiError::rate_limited("you have started too many new conversations today", wait).into()
}

/// Refuses inviting `strangers` people who share no conversation with `user` when that
/// passes the daily limit of new conversations: the whole request, nobody added.
pub async fn check_invitation_rate(state: &AppState, user: Uuid, strangers: usize) -> Result<()> {
    if strangers == 0 {
        return Ok(());
    }
    let now = now_ms();
    let times = new_conversations_today(state, user, now).await?;
    let limit = state.limits.new_conversations_per_day as usize;
    // Room for all of them: at most `limit - strangers` may be counted already.
    let wait = match u32::try_from(limit + 1)
        .ok()
        .zip(u32::try_from(strangers).ok())
    {
        Some((room, n)) if n < room => wait_for(&times, room - n, DAY_MS, now),
        _ => Some(u64::try_from(DAY_MS / 1000).unwrap_or(u64::MAX)),
    };
    if let Some(wait) = wait {
        tracing::warn!(user_id = %user, started = times.len(), strangers, "invitations past the new conversation limit");
        return Err(too_many_new_conversations(wait));
    }
    Ok(())
}

/// Refuses inviting anyone with a block between them and `user`, either way, with one
/// answer for every reason someone cannot be invited: nothing says who blocked whom, or
/// that a block exists.
pub async fn check_may_invite(state: &AppState, user: Uuid, invitees: &[Uuid]) -> Result<()> {
    if !state.store.blocks_with(user, invitees).await?.is_empty() {
        tracing::info!(user_id = %user, "invitation refused: a block between them");
        return Err(Error::api(
            ErrorCode::CannotInvite,
            "this person can't be added to a group",
        ));
    }
    Ok(())
}

/// Refuses starting a direct conversation past the daily limit. Opening one that exists is
/// never refused.
pub async fn check_new_conversation_rate(state: &AppState, user: Uuid, other: Uuid) -> Result<()> {
    let now = now_ms();
    let times = new_conversations_today(state, user, now).await?;
    if let Some(wait) = wait_for(&times, state.limits.new_conversations_per_day, DAY_MS, now) {
        if state.store.direct_between(user, other).await?.is_some() {
            return Ok(());
        }
        tracing::warn!(user_id = %user, started = times.len(), "new conversation limit reached");
        return Err(too_many_new_conversations(wait));
    }
    Ok(())
}

/// Refuses when either of two users blocked the other.
pub async fn check_not_blocked(state: &AppState, user: Uuid, other: Uuid) -> Result<()> {
    if !state.store.blocks_with(user, &[other]).await?.is_empty() {
        return Err(Error::api(
            ErrorCode::Blocked,
            "you can't message this person: one of you has blocked the other",
        ));
    }
    Ok(())
}

/// The age band of a user today (by the server's clock).
pub async fn band_of(state: &AppState, user: Uuid) -> Result<AgeBand> {
    let account = state
        .store
        .account(user)
        .await?
        .ok_or_else(Error::unauthenticated)?;
    Ok(AgeBand::on(account.birthdate, state.clock.today()))
}

/// The account as its owner sees it: with the nudity filter as it applies today.
pub async fn account_view(state: &AppState, mut account: Account) -> Result<Account> {
    let band = AgeBand::on(account.birthdate, state.clock.today());
    let filter = policy::nudity_filter(band, state.store.nudity_choice(account.id).await?);
    account.nudity_filter = filter.on;
    account.nudity_filter_locked = !filter.can_change;
    Ok(account)
}

/// Switch the nudity filter on or off. Under 18 it stays on (`nudity_filter_locked`).
#[utoipa::path(
    put, path = "/v1/me/settings", tag = "safety",
    security(("bearer" = [])),
    request_body = SettingsRequest,
    responses(
        (status = 200, description = "The account with its settings", body = Account),
        (status = 403, description = "nudity_filter_locked", body = ApiError),
    )
)]
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn settings(
    State(state): State<AppState>,
    user: AuthUser,
    Json(req): Json<SettingsRequest>,
) -> Result<Json<Account>> {
    let account = state
        .store
        .account(user.id)
        .await?
        .ok_or_else(Error::unauthenticated)?;
    let band = AgeBand::on(account.birthdate, state.clock.today());
    policy::may_set_nudity_filter(band, req.nudity_filter)?;
    state
        .store
        .set_nudity_choice(user.id, req.nudity_filter)
        .await?;
    tracing::info!(on = req.nudity_filter, "nudity filter set");
    Ok(Json(account_view(&state, account).await?))
}

/// Tells every member that a conversation changed.
async fn announce(state: &AppState, conversation: &Conversation) {
    let members: Vec<Uuid> = conversation.members.iter().map(|m| m.user_id).collect();
    state
        .bus
        .publish(
            &members,
            ServerEvent::Conversation {
                conversation: conversation.clone(),
            },
        )
        .await;
}

/// Accept a message request: the sender may now send photos, videos and voice notes, and the
/// conversation moves to the main list. For a group invitation: join it, and see it as every
/// member does.
#[utoipa::path(
    post, path = "/v1/conversations/{id}/accept", tag = "safety",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Conversation id")),
    responses(
        (status = 200, description = "The conversation, accepted", body = Conversation),
        (status = 404, description = "conversation_not_found", body = ApiError),
    )
)]
#[tracing::instrument(skip_all, fields(user_id = %user.id, conversation_id = %id))]
pub async fn accept(
    State(state): State<AppState>,
    user: DmUser,
    Path(id): Path<Uuid>,
) -> Result<Json<Conversation>> {
    let membership = state
        .store
        .membership(id, user.id)
        .await?
        .ok_or_else(Error::conversation_not_found)?;
    if membership.invited() {
        return Ok(Json(super::groups::join(&state, id, user.id).await?));
    }
    let conversation = state
        .store
        .accept_request(id, user.id)
        .await?
        .ok_or_else(Error::conversation_not_found)?;
    tracing::info!("request accepted");
    announce(&state, &conversation).await;
    Ok(Json(conversation))
}

/// Delete a message request (or any conversation) from the caller's lists. It comes back
/// if the other person writes again; blocking them stops that. A group invitation is
/// declined: the caller is out, and the group never appears again unless someone invites
/// them anew.
#[utoipa::path(
    post, path = "/v1/conversations/{id}/delete", tag = "safety",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Conversation id")),
    responses(
        (status = 204, description = "Gone from the caller's lists"),
        (status = 404, description = "conversation_not_found", body = ApiError),
    )
)]
#[tracing::instrument(skip_all, fields(user_id = %user.id, conversation_id = %id))]
pub async fn delete(
    State(state): State<AppState>,
    user: DmUser,
    Path(id): Path<Uuid>,
) -> Result<StatusCode> {
    if let Some(group) = state.store.membership(id, user.id).await? {
        if group.invited() {
            super::groups::decline_or_leave(&state, id, user.id, &group).await?;
            return Ok(StatusCode::NO_CONTENT);
        }
    }
    if !state.store.hide_conversation(id, user.id).await? {
        return Err(Error::conversation_not_found());
    }
    tracing::info!("conversation deleted from the member's lists");
    Ok(StatusCode::NO_CONTENT)
}

/// Whom the caller has blocked.
#[utoipa::path(
    get, path = "/v1/blocks", tag = "safety",
    security(("bearer" = [])),
    responses((status = 200, description = "Blocked users", body = Vec<UserSummary>))
)]
pub async fn blocked(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<Json<Vec<UserSummary>>> {
    Ok(Json(state.store.blocked_by(user.id).await?))
}

/// Block someone: nothing can be sent between the two of you (either way), they stop seeing
/// you type, and a request from them leaves your lists.
#[utoipa::path(
    post, path = "/v1/blocks", tag = "safety",
    security(("bearer" = [])),
    request_body = BlockRequest,
    responses(
        (status = 204, description = "Blocked (also when already blocked)"),
        (status = 404, description = "user_not_found", body = ApiError),
        (status = 422, description = "cannot_message_self", body = ApiError),
    )
)]
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn block(
    State(state): State<AppState>,
    user: AuthUser,
    Json(req): Json<BlockRequest>,
) -> Result<StatusCode> {
    let other = find_user(&state, &req.username).await?;
    if other.id == user.id {
        return Err(Error::api(
            ErrorCode::CannotMessageSelf,
            "you cannot block yourself",
        ));
    }
    state.store.block(user.id, other.id, now_ms()).await?;
    if let Some(direct) = state.store.direct_between(user.id, other.id).await? {
        // A pending request from them goes away; an accepted chat stays, marked blocked.
        let pending = state
            .store
            .conversation_for_member(direct, user.id)
            .await?
            .is_some_and(|c| {
                c.members
                    .iter()
                    .any(|m| m.user_id == user.id && !m.accepted)
            });
        if pending {
            state.store.hide_conversation(direct, user.id).await?;
        }
    }
    tracing::info!(blocked_id = %other.id, "blocked");
    Ok(StatusCode::NO_CONTENT)
}

/// Unblock someone.
#[utoipa::path(
    delete, path = "/v1/blocks/{username}", tag = "safety",
    security(("bearer" = [])),
    params(("username" = String, Path, description = "Username, any case")),
    responses(
        (status = 204, description = "Not blocked any more"),
        (status = 404, description = "user_not_found", body = ApiError),
    )
)]
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn unblock(
    State(state): State<AppState>,
    user: AuthUser,
    Path(username): Path<String>,
) -> Result<StatusCode> {
    let other = find_user(&state, &username).await?;
    state.store.unblock(user.id, other.id).await?;
    tracing::info!(blocked_id = %other.id, "unblocked");
    Ok(StatusCode::NO_CONTENT)
}

/// Report someone: the conversation, the chosen messages (copied as they are now) and a
/// reason go to the moderation queue (`natter admin reports`).
#[utoipa::path(
    post, path = "/v1/reports", tag = "safety",
    security(("bearer" = [])),
    request_body = ReportRequest,
    responses(
        (status = 201, description = "In the moderation queue"),
        (status = 404, description = "user_not_found, conversation_not_found", body = ApiError),
        (status = 422, description = "invalid_report", body = ApiError),
    )
)]
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn report(
    State(state): State<AppState>,
    user: AuthUser,
    Json(req): Json<ReportRequest>,
) -> Result<StatusCode> {
    let reason = validate::report_reason(&req.reason)?;
    if req.message_ids.len() > REPORT_MAX_MESSAGES {
        return Err(Error::api(
            ErrorCode::InvalidReport,
            format!("a report carries at most {REPORT_MAX_MESSAGES} messages"),
        ));
    }
    let mut message_ids = req.message_ids.clone();
    message_ids.sort_unstable();
    message_ids.dedup();
    let reported = find_user(&state, &req.username).await?;
    let conversation_id = match req.conversation_id {
        Some(id) => Some(id),
        None => state.store.direct_between(user.id, reported.id).await?,
    };
    let messages = match conversation_id {
        Some(id) => {
            // Only a member may report a conversation's messages.
            if state.store.member_ids(id, user.id).await?.is_none() {
                return Err(Error::conversation_not_found());
            }
            let messages = state
                .store
                .messages_for_report(id, &message_ids, reported.id, 20)
                .await?;
            if messages.len() != message_ids.len() && !message_ids.is_empty() {
                return Err(Error::api(
                    ErrorCode::InvalidReport,
                    "some of those messages are not in this conversation",
                ));
            }
            messages
        }
        None if !message_ids.is_empty() => {
            return Err(Error::api(
                ErrorCode::InvalidReport,
                "messages can only be reported with their conversation",
            ))
        }
        None => Vec::new(),
    };
    let id = Uuid::now_v7();
    state
        .store
        .insert_report(NewReport {
            id,
            reporter_id: user.id,
            reported_id: reported.id,
            conversation_id,
            reason,
            messages,
            created_at: now_ms(),
        })
        .await?;
    tracing::info!(report_id = %id, reported_id = %reported.id, "report queued");
    Ok(StatusCode::CREATED)
}
