//! Tauri commands of the safety rules: message requests, blocking, reporting and the nudity
//! filter. Each translates arguments and calls the core.

use natter_core::protocol::{Account, ApiError, UserSummary};
use natter_core::{Client, ConversationView};
use tauri::State;
use uuid::Uuid;

use crate::commands::api;

type Res<T> = Result<T, ApiError>;

/// Message requests waiting for an answer, newest first.
#[tauri::command]
#[specta::specta]
pub async fn requests(client: State<'_, Client>) -> Res<Vec<ConversationView>> {
    client.requests().await.map_err(api)
}

/// Accepts a message request.
#[tauri::command]
#[specta::specta]
pub async fn accept_request(
    client: State<'_, Client>,
    conversation_id: Uuid,
) -> Res<ConversationView> {
    client.accept_request(conversation_id).await.map_err(api)
}

/// Deletes a message request.
#[tauri::command]
#[specta::specta]
pub async fn delete_request(client: State<'_, Client>, conversation_id: Uuid) -> Res<()> {
    client.delete_request(conversation_id).await.map_err(api)
}

/// Blocks someone.
#[tauri::command]
#[specta::specta]
pub async fn block_user(client: State<'_, Client>, username: String) -> Res<()> {
    client.block(&username).await.map_err(api)
}

/// Unblocks someone.
#[tauri::command]
#[specta::specta]
pub async fn unblock_user(client: State<'_, Client>, username: String) -> Res<()> {
    client.unblock(&username).await.map_err(api)
}

/// People this account has blocked.
#[tauri::command]
#[specta::specta]
pub async fn blocked_users(client: State<'_, Client>) -> Res<Vec<UserSummary>> {
    client.blocked_users().await.map_err(api)
}

/// Reports someone with chosen messages of a conversation and a reason.
#[tauri::command]
#[specta::specta]
pub async fn report_user(
    client: State<'_, Client>,
    username: String,
    conversation_id: Option<Uuid>,
    message_ids: Vec<Uuid>,
    reason: String,
) -> Res<()> {
    client
        .report(&username, conversation_id, message_ids, &reason)
        .await
        .map_err(api)
}

/// Switches the nudity filter (always on under 18).
#[tauri::command]
#[specta::specta]
pub async fn set_nudity_filter(client: State<'_, Client>, on: bool) -> Res<Account> {
    client.set_nudity_filter(on).await.map_err(api)
}
