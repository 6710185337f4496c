//! Album commands (pick, stage, edit, send, retry, save) and the `natter-media:` URI scheme
//! that hands the web view photo and video files straight from the profile, without base64.

use std::path::PathBuf;

use base64::Engine as _;
use natter_core::protocol::{ApiError, ErrorCode};
use natter_core::{AlbumItemDraft, Client, MessageView, StageInput, StageResult, StagedMedia};
use tauri::http::{header, Response, StatusCode};
use tauri::{Manager, Runtime, State, UriSchemeContext, UriSchemeResponder};
use uuid::Uuid;

use crate::commands::api;

type Res<T> = Result<T, ApiError>;

/// Extensions the picker offers (the core decides by content what it can really send).
const PICK_EXTENSIONS: &[&str] = &[
    "jpg", "jpeg", "png", "gif", "webp", "heic", "heif", "mp4", "m4v", "mov", "webm",
];

/// Opens the system's file picker for photos and videos (several at once); `[]` when the
/// user cancels. With `NATTER_TEST_PICK` naming a file, the paths listed in it (one a line)
/// are picked instead: the test implementation of the picker, since no WebDriver can drive a
/// native dialog.
#[tauri::command]
#[specta::specta]
pub async fn media_pick(app: tauri::AppHandle) -> Res<Vec<String>> {
    if let Some(list) = std::env::var_os("NATTER_TEST_PICK") {
        tracing::warn!("NATTER_TEST_PICK is set: picking the files it lists instead of asking");
        let list = std::fs::read_to_string(&list).unwrap_or_default();
        return Ok(list
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect());
    }
    use tauri_plugin_dialog::{DialogExt, PickerMode};
    let (tx, rx) = tokio::sync::oneshot::channel();
    app.dialog()
        .file()
        .add_filter("Photos and videos", PICK_EXTENSIONS)
        // Phones: the system's photo and video picker, not a file browser (desktop ignores it).
        .set_picker_mode(PickerMode::Media)
        .pick_files(move |picked| {
            let _ = tx.send(picked);
        });
    let picked = rx
        .await
        .map_err(|_| ApiError::new(ErrorCode::Internal, "the file picker went away"))?
        .unwrap_or_default();
    // Android hands over documents that are copied before staging (see crate::platform).
    tauri::async_runtime::spawn_blocking(move || crate::platform::picked_paths(&app, picked))
        .await
        .map_err(|e| ApiError::new(ErrorCode::Internal, format!("reading picked files: {e}")))
}

/// Prepares picked or dropped files for an album (in parallel; `staged` events report
/// progress). Files past the 9th are refused.
#[tauri::command]
#[specta::specta]
pub async fn media_stage(
    client: State<'_, Client>,
    conversation_id: Uuid,
    paths: Vec<String>,
    hd: bool,
) -> Res<Vec<StageResult>> {
    let inputs = paths
        .into_iter()
        .map(|p| StageInput::Path(PathBuf::from(p)))
        .collect();
    client
        .stage_media(conversation_id, inputs, hd)
        .await
        .map_err(api)
}

/// Prepares a pasted image or a camera capture (base64 bytes).
#[tauri::command]
#[specta::specta]
pub async fn media_stage_bytes(
    client: State<'_, Client>,
    conversation_id: Uuid,
    name: String,
    base64: String,
    hd: bool,
) -> Res<StageResult> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(base64.as_bytes())
        .map_err(|e| ApiError::new(ErrorCode::BadRequest, format!("not base64: {e}")))?;
    let mut results = client
        .stage_media(conversation_id, vec![StageInput::Bytes { name, bytes }], hd)
        .await
        .map_err(api)?;
    results
        .pop()
        .ok_or_else(|| ApiError::new(ErrorCode::Internal, "nothing was staged"))
}

/// Gives a staged video this device could not decode (`placeholder`) a poster: a frame the
/// web view's own player drew (JPEG or PNG, base64). Checked by the core like any photo.
#[tauri::command]
#[specta::specta]
pub async fn media_set_poster(
    client: State<'_, Client>,
    id: Uuid,
    base64: String,
) -> Res<StagedMedia> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(base64.as_bytes())
        .map_err(|e| ApiError::new(ErrorCode::BadRequest, format!("not base64: {e}")))?;
    client.set_staged_poster(id, bytes).await.map_err(api)
}

/// Forgets a staged item (removed from the composer).
#[tauri::command]
#[specta::specta]
pub async fn media_unstage(client: State<'_, Client>, id: Uuid) -> Res<()> {
    client.unstage(id).await.map_err(api)
}

/// Sends staged items as one album (1 to 9) with a caption; it shows at once as "sending".
#[tauri::command]
#[specta::specta]
pub async fn send_album(
    client: State<'_, Client>,
    conversation_id: Uuid,
    items: Vec<AlbumItemDraft>,
    caption: String,
    hd: bool,
) -> Res<MessageView> {
    client
        .send_album(conversation_id, items, &caption, hd)
        .await
        .map_err(api)
}

/// Sends a failed message again.
#[tauri::command]
#[specta::specta]
pub async fn media_retry(client: State<'_, Client>, message_id: Uuid) -> Res<()> {
    client.retry(message_id).await.map(|_| ()).map_err(api)
}

/// Takes an item out of an album that was not sent.
#[tauri::command]
#[specta::specta]
pub async fn media_remove_item(
    client: State<'_, Client>,
    message_id: Uuid,
    media_id: Uuid,
) -> Res<()> {
    client
        .remove_album_item(message_id, media_id)
        .await
        .map_err(api)
}

/// Copies a photo or video to a path the user chose in a save dialog.
#[tauri::command]
#[specta::specta]
pub async fn media_save(client: State<'_, Client>, media_id: Uuid, path: String) -> Res<()> {
    client
        .save_album_file(media_id, &PathBuf::from(path))
        .await
        .map_err(api)
}

/// Copies every item of an album into a folder the user chose; returns how many.
#[tauri::command]
#[specta::specta]
pub async fn media_save_all(client: State<'_, Client>, message_id: Uuid, dir: String) -> Res<u32> {
    client
        .save_album(message_id, &PathBuf::from(dir))
        .await
        .map_err(api)
}

/// The `natter-media:` scheme: `natter-media://localhost/ID` serves an album file (a photo,
/// a video or a thumbnail) of a message in this profile, downloading it once if needed;
/// `…/staged/ID` serves a staged item's prepared preview. Only those ids resolve: the path
/// never names a file directly.
pub fn handle<R: Runtime>(
    ctx: UriSchemeContext<'_, R>,
    request: tauri::http::Request<Vec<u8>>,
    responder: UriSchemeResponder,
) {
    let client = ctx.app_handle().state::<Client>().inner().clone();
    let origin = app_origin(ctx.app_handle());
    // `convertFileSrc` percent-encodes the id ("staged%2F…"); ids are UUIDs, nothing else.
    let path = request
        .uri()
        .path()
        .trim_start_matches('/')
        .replace("%2F", "/")
        .replace("%2f", "/");
    let range = request
        .headers()
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    tauri::async_runtime::spawn(async move {
        let response = match serve(&client, &path).await {
            Ok((bytes, mime)) => respond(bytes, &mime, range.as_deref(), &origin),
            Err(e) => {
                tracing::warn!(%path, code = %e.code, error = %e.message, "media request failed");
                let status = if e.code == ErrorCode::MediaNotFound {
                    StatusCode::NOT_FOUND
                } else {
                    StatusCode::BAD_GATEWAY
                };
                Response::builder()
                    .status(status)
                    .header(header::CONTENT_TYPE, "text/plain")
                    .body(e.message.into_bytes())
            }
        };
        match response {
            Ok(r) => responder.respond(r),
            Err(e) => tracing::error!(error = %e, "could not build a media response"),
        }
    });
}

/// The origin the app's own page is served from (the dev server's in a dev build). Responses
/// allow it, as Tauri's own asset protocol does, so that the page may read what it loads:
/// the composer draws a staged video's first frame to a canvas to make its poster, and a
/// canvas fed from another origin without that permission cannot be read back.
fn app_origin<R: Runtime>(app: &tauri::AppHandle<R>) -> String {
    if tauri::is_dev() {
        if let Some(url) = &app.config().build.dev_url {
            return url.origin().ascii_serialization();
        }
    }
    if cfg!(any(windows, target_os = "android")) {
        "http://tauri.localhost".to_string()
    } else {
        "tauri://localhost".to_string()
    }
}

/// The whole file, or the byte range a video element asks for (WebKit plays video only
/// from a server that answers ranges).
fn respond(
    bytes: Vec<u8>,
    mime: &str,
    range: Option<&str>,
    origin: &str,
) -> tauri::http::Result<Response<Vec<u8>>> {
    let total = bytes.len();
    let base = || {
        Response::builder()
            .header(header::CONTENT_TYPE, mime)
            .header(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin)
            .header("X-Content-Type-Options", "nosniff")
            .header(header::ACCEPT_RANGES, "bytes")
            .header(
                header::CACHE_CONTROL,
                "private, max-age=31536000, immutable",
            )
    };
    let wanted = range
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.split_once('-'))
        .and_then(|(a, b)| {
            let start: usize = a.trim().parse().ok()?;
            let end = match b.trim() {
                "" => total.checked_sub(1)?,
                b => b.parse::<usize>().ok()?.min(total.checked_sub(1)?),
            };
            (start <= end).then_some((start, end))
        });
    match (range, wanted) {
        (None, _) => base().status(StatusCode::OK).body(bytes),
        (Some(_), Some((start, end))) => base()
            .status(StatusCode::PARTIAL_CONTENT)
            .header(
                header::CONTENT_RANGE,
                format!("bytes {start}-{end}/{total}"),
            )
            .body(bytes[start..=end].to_vec()),
        (Some(_), None) => Response::builder()
            .status(StatusCode::RANGE_NOT_SATISFIABLE)
            .header(header::CONTENT_RANGE, format!("bytes */{total}"))
            .body(Vec::new()),
    }
}

async fn serve(client: &Client, path: &str) -> Result<(Vec<u8>, String), ApiError> {
    let not_found = || ApiError::new(ErrorCode::MediaNotFound, "no such file");
    let (file, mime) = match path.split_once('/') {
        Some(("staged", id)) => {
            let id = Uuid::parse_str(id).map_err(|_| not_found())?;
            client.staged_file(id).await.map_err(|_| not_found())?
        }
        None => {
            let id = Uuid::parse_str(path).map_err(|_| not_found())?;
            client.album_file(id).await.map_err(|e| e.to_api())?
        }
        Some(_) => return Err(not_found()),
    };
    let bytes = tokio::fs::read(&file).await.map_err(|_| not_found())?;
    Ok((bytes, mime))
}
