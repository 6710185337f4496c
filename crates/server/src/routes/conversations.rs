//! Direct conversations, and reading any conversation (groups' own routes: `groups.rs`).

use axum::extract::State;
use natter_protocol::{ApiError, Conversation, CreateDirectRequest, ErrorCode, ServerEvent};
use uuid::Uuid;

use super::accounts::find_user;
use crate::auth::DmUser;
use crate::error::{Error, Result};
use crate::extract::{Json, Path};
use crate::state::{now_ms, AppState};

/// Tells every member that a conversation appeared or changed.
pub(super) async fn announce(state: &AppState, conversation: &Conversation) {
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
