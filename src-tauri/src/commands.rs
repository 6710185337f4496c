//! Tauri commands: each one translates arguments and calls the core. No logic lives here.

use natter_core::protocol::{Account, ApiError, ErrorCode};
use natter_core::{Client, ConnectionState, ConversationView, CoreError, MessageView};
use tauri::{State, WebviewWindow};
use uuid::Uuid;

type Res<T> = Result<T, ApiError>;

pub(crate) fn api(e: CoreError) -> ApiError {
    tracing::warn!(code = %e.code(), error = %e, "command failed");
    e.to_api()
}

fn retitle(window: &WebviewWindow, client: &Client) {
    if let Err(e) = window.set_title(&crate::window_title(client)) {
        tracing::warn!(error = %e, "could not set the window title");
    }
}

/// The signed-in account, or `null` before log-in.
#[tauri::command]
#[specta::specta]
pub async fn session(client: State<'_, Client>) -> Res<Option<Account>> {
    Ok(client.account())
}

/// Why this account cannot use direct messages today (under 16), or `null`.
#[tauri::command]
#[specta::specta]
pub async fn dm_blocked(client: State<'_, Client>) -> Res<Option<ApiError>> {
    Ok(client.dm_blocked())
}

/// The server this profile talks to.
#[tauri::command]
#[specta::specta]
pub async fn server_url(client: State<'_, Client>) -> Res<String> {
    Ok(client.server_url())
}

/// Whether this profile has a server yet: a packaged app asks at first start.
#[tauri::command]
#[specta::specta]
pub async fn server_chosen(client: State<'_, Client>) -> Res<bool> {
    Ok(client.server_chosen())
}

/// Checks that a Natter server answers at `server_url` and remembers it for this profile.
#[tauri::command]
#[specta::specta]
pub async fn choose_server(client: State<'_, Client>, server_url: String) -> Res<()> {
    client.choose_server(&server_url).await.map_err(api)
}

/// The live connection's state now (later changes arrive as events).
#[tauri::command]
#[specta::specta]
pub async fn connection(client: State<'_, Client>) -> Res<ConnectionState> {
    Ok(client.connection_state())
}

/// Creates an account (birthdate as `YYYY-MM-DD`), signs in and goes live.
#[tauri::command]
#[specta::specta]
pub async fn signup(
    window: WebviewWindow,
    client: State<'_, Client>,
    server_url: String,
    username: String,
    password: String,
    birthdate: String,
) -> Res<Account> {
    client.set_server_url(&server_url).map_err(api)?;
    let date = chrono::NaiveDate::parse_from_str(birthdate.trim(), "%Y-%m-%d").map_err(|_| {
        ApiError::new(
            ErrorCode::InvalidBirthdate,
            "enter your date of birth as YYYY-MM-DD",
        )
    })?;
    let account = client
        .signup(&username, &password, date)
        .await
        .map_err(api)?;
    client.start().await.map_err(api)?;
    retitle(&window, &client);
    Ok(account)
}

/// Signs in and goes live.
#[tauri::command]
#[specta::specta]
pub async fn login(
    window: WebviewWindow,
    client: State<'_, Client>,
    server_url: String,
    username: String,
    password: String,
) -> Res<Account> {
    client.set_server_url(&server_url).map_err(api)?;
    let account = client.login(&username, &password).await.map_err(api)?;
    client.start().await.map_err(api)?;
    retitle(&window, &client);
    Ok(account)
}

#[tauri::command]
#[specta::specta]
pub async fn logout(window: WebviewWindow, client: State<'_, Client>) -> Res<()> {
    client.logout().await.map_err(api)?;
    retitle(&window, &client);
    Ok(())
}

/// Cached conversations, newest activity first (works offline).
#[tauri::command]
#[specta::specta]
pub async fn conversations(client: State<'_, Client>) -> Res<Vec<ConversationView>> {
    client.conversations().await.map_err(api)
}

/// Up to `limit` messages older than `before` (a sort key), or the newest; oldest first.
#[tauri::command]
#[specta::specta]
pub async fn messages(
    client: State<'_, Client>,
    conversation_id: Uuid,
    before: Option<i64>,
    limit: u32,
) -> Res<Vec<MessageView>> {
    client
        .messages(conversation_id, before, limit)
        .await
        .map_err(api)
}

/// Up to `limit` messages newer than `after` (a sort key), oldest first.
#[tauri::command]
#[specta::specta]
pub async fn messages_after(
    client: State<'_, Client>,
    conversation_id: Uuid,
    after: i64,
    limit: u32,
) -> Res<Vec<MessageView>> {
    client
        .messages_after(conversation_id, after, limit)
        .await
        .map_err(api)
}

/// The direct chat with `username` (created on first use).
#[tauri::command]
#[specta::specta]
pub async fn open_direct(client: State<'_, Client>, username: String) -> Res<ConversationView> {
    client.open_direct(&username).await.map_err(api)
}

#[tauri::command]
#[specta::specta]
pub async fn create_group(
    client: State<'_, Client>,
    name: String,
    members: Vec<String>,
) -> Res<ConversationView> {
    client.create_group(&name, &members).await.map_err(api)
}

/// Adds `username` to a group this account created.
#[tauri::command]
#[specta::specta]
pub async fn add_member(
    client: State<'_, Client>,
    conversation_id: Uuid,
    username: String,
) -> Res<ConversationView> {
    client
        .add_member(conversation_id, &username)
        .await
        .map_err(api)
}

/// Leaves a group: it goes from the lists, and the others see that this account left.
#[tauri::command]
#[specta::specta]
pub async fn leave_group(client: State<'_, Client>, conversation_id: Uuid) -> Res<()> {
    client.leave_group(conversation_id).await.map_err(api)
}

/// Removes a member from a group this account created.
#[tauri::command]
#[specta::specta]
pub async fn remove_member(
    client: State<'_, Client>,
    conversation_id: Uuid,
    username: String,
) -> Res<ConversationView> {
    client
        .remove_member(conversation_id, &username)
        .await
        .map_err(api)
}

/// Renames a group this account created.
#[tauri::command]
#[specta::specta]
pub async fn rename_group(
    client: State<'_, Client>,
    conversation_id: Uuid,
    name: String,
) -> Res<ConversationView> {
    client
        .rename_group(conversation_id, &name)
        .await
        .map_err(api)
}

/// Queues a message; it shows at once as "sending".
#[tauri::command]
#[specta::specta]
pub async fn send_text(
    client: State<'_, Client>,
    conversation_id: Uuid,
    text: String,
) -> Res<MessageView> {
    client.send_text(conversation_id, &text).await.map_err(api)
}

/// Deletes a message that was never sent (queued or refused).
#[tauri::command]
#[specta::specta]
pub async fn discard_message(client: State<'_, Client>, id: Uuid) -> Res<()> {
    client.discard(id).await.map_err(api)
}

#[tauri::command]
#[specta::specta]
pub async fn mark_read(client: State<'_, Client>, conversation_id: Uuid) -> Res<()> {
    client.mark_read(conversation_id).await.map_err(api)
}

#[tauri::command]
#[specta::specta]
pub async fn typing(client: State<'_, Client>, conversation_id: Uuid) -> Res<()> {
    client.typing(conversation_id);
    Ok(())
}
