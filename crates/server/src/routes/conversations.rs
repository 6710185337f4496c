//! Direct and group conversations and their members.

use std::collections::BTreeSet;

use axum::extract::State;
use axum::http::StatusCode;
use natter_protocol::limits::GROUP_MAX_MEMBERS;
use natter_protocol::{
    validate, AddMemberRequest, ApiError, Conversation, CreateDirectRequest, CreateGroupRequest,
    ErrorCode, ServerEvent,
};
use uuid::Uuid;

use super::accounts::find_user;
use crate::auth::DmUser;
use crate::error::{Error, Result};
use crate::extract::{Json, Path};
use crate::state::{now_ms, AppState};
use crate::store::NewGroup;

/// Tells every member that a conversation appeared or changed.
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

fn group_full() -> Error {
    Error::api(
        ErrorCode::GroupFull,
        format!("a group has at most {GROUP_MAX_MEMBERS} members"),
    )
}

/// Get or create the one direct conversation with a user.
#[utoipa::path(
    post, path = "/v1/conversations/direct", tag = "conversations",
    security(("bearer" = [])),
    request_body = CreateDirectRequest,
    responses(
        (status = 200, description = "The direct conversation (existing or new)", body = Conversation),
        (status = 404, description = "user_not_found", body = ApiError),
        (status = 422, description = "cannot_message_self", body = ApiError),
        (status = 403, description = "blocked", body = ApiError),
        (status = 429, description = "rate_limited (Retry-After says when to try again)", body = ApiError),
    )
)]
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn create_direct(
    State(state): State<AppState>,
    user: DmUser,
    Json(req): Json<CreateDirectRequest>,
) -> Result<Json<Conversation>> {
    let other = find_user(&state, &req.username).await?;
    if other.id == user.id {
        return Err(Error::api(
            ErrorCode::CannotMessageSelf,
            "you cannot start a conversation with yourself",
        ));
    }
    super::safety::check_not_blocked(&state, user.id, other.id).await?;
    super::safety::check_new_conversation_rate(&state, user.id, other.id).await?;
    let outcome = state
        .store
        .get_or_create_direct(Uuid::now_v7(), user.id, other.id, now_ms())
        .await?;
    let created = outcome.is_created();
    let conversation = outcome.into_inner();
    if created {
        tracing::info!(conversation_id = %conversation.id, "direct conversation created");
        announce(&state, &conversation).await;
    }
    Ok(Json(conversation))
}

/// Create a group with the caller as creator.
#[utoipa::path(
    post, path = "/v1/conversations/group", tag = "conversations",
    security(("bearer" = [])),
    request_body = CreateGroupRequest,
    responses(
        (status = 201, description = "The new group", body = Conversation),
        (status = 404, description = "user_not_found", body = ApiError),
        (status = 422, description = "invalid_group_name, group_full", body = ApiError),
    )
)]
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn create_group(
    State(state): State<AppState>,
    user: DmUser,
    Json(req): Json<CreateGroupRequest>,
) -> Result<(StatusCode, Json<Conversation>)> {
    let name = validate::group_name(&req.name)?;
    // Dedupe by canonical name first, so a long list of repeats costs nothing.
    let mut names = BTreeSet::new();
    for raw in &req.members {
        names.insert(validate::username(raw).map_err(|_| Error::user_not_found(raw))?);
    }
    // Even if the creator named themself, more names than the limit cannot fit.
    if names.len() > GROUP_MAX_MEMBERS {
        return Err(group_full());
    }
    let mut member_ids = Vec::with_capacity(names.len());
    for name in &names {
        let member = find_user(&state, name).await?;
        if member.id != user.id && !member_ids.contains(&member.id) {
            member_ids.push(member.id);
        }
    }
    if member_ids.len() + 1 > GROUP_MAX_MEMBERS {
        return Err(group_full());
    }
    let conversation = state
        .store
        .create_group(NewGroup {
            id: Uuid::now_v7(),
            name,
            creator_id: user.id,
            member_ids,
            created_at: now_ms(),
        })
        .await?;
    tracing::info!(conversation_id = %conversation.id, "group created");
    announce(&state, &conversation).await;
    Ok((StatusCode::CREATED, Json(conversation)))
}

/// Add a member to a group (creator only).
#[utoipa::path(
    post, path = "/v1/conversations/{id}/members", tag = "conversations",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Conversation id")),
    request_body = AddMemberRequest,
    responses(
        (status = 200, description = "The group with the member", body = Conversation),
        (status = 403, description = "not_group_creator", body = ApiError),
        (status = 404, description = "conversation_not_found, user_not_found", body = ApiError),
        (status = 422, description = "wrong_conversation_kind, group_full", body = ApiError),
    )
)]
#[tracing::instrument(skip_all, fields(user_id = %user.id, conversation_id = %id))]
pub async fn add_member(
    State(state): State<AppState>,
    user: DmUser,
    Path(id): Path<Uuid>,
    Json(req): Json<AddMemberRequest>,
) -> Result<Json<Conversation>> {
    // Non-members learn nothing, not even whether the user they named exists.
    if state.store.member_ids(id, user.id).await?.is_none() {
        return Err(Error::conversation_not_found());
    }
    let member = find_user(&state, &req.username).await?;
    let outcome = state
        .store
        .add_member(id, user.id, member.id, now_ms())
        .await?;
    let created = outcome.is_created();
    let conversation = outcome.into_inner();
    if created {
        tracing::info!(member_id = %member.id, "member added");
        announce(&state, &conversation).await;
    }
    Ok(Json(conversation))
}

/// The caller's conversations, newest activity first.
#[utoipa::path(
    get, path = "/v1/conversations", tag = "conversations",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Conversations with members and receipts", body = Vec<Conversation>),
        (status = 401, description = "unauthenticated", body = ApiError),
    )
)]
pub async fn list_conversations(
    State(state): State<AppState>,
    user: DmUser,
) -> Result<Json<Vec<Conversation>>> {
    Ok(Json(state.store.conversations_of(user.id).await?))
}

/// One conversation the caller belongs to.
#[utoipa::path(
    get, path = "/v1/conversations/{id}", tag = "conversations",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Conversation id")),
    responses(
        (status = 200, description = "The conversation", body = Conversation),
        (status = 404, description = "conversation_not_found", body = ApiError),
    )
)]
pub async fn get_conversation(
    State(state): State<AppState>,
    user: DmUser,
    Path(id): Path<Uuid>,
) -> Result<Json<Conversation>> {
    state
        .store
        .conversation_for_member(id, user.id)
        .await?
        .map(Json)
        .ok_or_else(Error::conversation_not_found)
}
