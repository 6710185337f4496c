//! Voice-note recording for the UI: one [`natter_voice::Recorder`] at a time, its drafts kept
//! per conversation in `PROFILE/voice-drafts/<conversation id>/` so a note recorded before a
//! crash is offered again in the right chat. The recorder's events reach the UI as
//! [`VoiceEvent`]s.

use std::path::PathBuf;
use std::sync::Mutex;

use base64::Engine as _;
use natter_core::protocol::{ApiError, ErrorCode};
use natter_core::{Client, MessageView};
use natter_voice::{Draft, Recorder, RecorderConfig, RecorderEvent};
use serde::{Deserialize, Serialize};
use tauri::{AppHandle, State};
use tauri_specta::Event;
use uuid::Uuid;

use crate::platform::AudioUse;

type Res<T> = Result<T, ApiError>;

/// A recorded note waiting to be previewed, sent or discarded.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type)]
pub struct VoiceDraft {
    pub id: String,
    pub conversation_id: Uuid,
    pub duration_ms: u32,
    pub waveform: Vec<u8>,
}

/// What the recorder reports while recording.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type, tauri_specta::Event)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum VoiceEvent {
    /// About 30 times a second: input level 0–1 and audio recorded so far.
    Level { level: f32, elapsed_ms: u32 },
    /// Recording stops by itself in `remaining_ms`.
    Warning { remaining_ms: u32 },
    /// The 60 s limit was reached; the note is ready as this draft.
    AutoStopped { draft: VoiceDraft },
    /// The microphone failed; the recording so far is kept as a draft if it holds audio.
    Error { message: String },
}

/// The recording in progress, if any.
#[derive(Default)]
pub struct Recording(Mutex<Option<(Uuid, Recorder)>>);

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn mic(e: impl std::fmt::Display) -> ApiError {
    tracing::warn!(error = %e, "voice recording failed");
    ApiError::new(ErrorCode::Microphone, e.to_string())
}

fn drafts_dir(client: &Client, conversation_id: Uuid) -> PathBuf {
    client
        .profile_dir()
        .join("voice-drafts")
        .join(conversation_id.to_string())
}

fn view(conversation_id: Uuid, d: &Draft) -> VoiceDraft {
    VoiceDraft {
        id: d.id.clone(),
        conversation_id,
        duration_ms: u32::try_from(d.duration_ms).unwrap_or(u32::MAX),
        waveform: d.waveform.clone(),
    }
}

fn draft_path(client: &Client, conversation_id: Uuid, id: &str) -> Res<PathBuf> {
    // Draft ids are file stems the recorder made; refuse anything that could leave the dir.
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(ApiError::new(ErrorCode::BadRequest, "no such draft"));
    }
    Ok(drafts_dir(client, conversation_id).join(format!("{id}.ogg")))
}

async fn read_draft(client: &Client, conversation_id: Uuid, id: &str) -> Res<Vec<u8>> {
    let path = draft_path(client, conversation_id, id)?;
    tokio::fs::read(&path)
        .await
        .map_err(|_| ApiError::new(ErrorCode::BadRequest, "no such draft"))
}

fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Starts recording a voice note for a conversation (stops nothing else: one at a time).
#[tauri::command]
#[specta::specta]
pub async fn voice_start(
    app: AppHandle,
    client: State<'_, Client>,
    recording: State<'_, Recording>,
    conversation_id: Uuid,
) -> Res<()> {
    let mut current = lock(&recording.0);
    if current.is_some() {
        return Err(ApiError::new(
            ErrorCode::BadRequest,
            "a voice note is already being recorded",
        ));
    }
    // iOS: a session that may record (see crate::platform); nothing to do elsewhere.
    crate::platform::audio_session(AudioUse::Recording).map_err(mic)?;
    let config = RecorderConfig::new(drafts_dir(&client, conversation_id));
    let recorder = Recorder::start(config, move |event| {
        let event = match event {
            RecorderEvent::Level { level, elapsed_ms } => VoiceEvent::Level {
                level,
                elapsed_ms: u32::try_from(elapsed_ms).unwrap_or(u32::MAX),
            },
            RecorderEvent::Warning { remaining_ms } => VoiceEvent::Warning {
                remaining_ms: u32::try_from(remaining_ms).unwrap_or(u32::MAX),
            },
            RecorderEvent::AutoStopped(draft) => {
                crate::platform::audio_done();
                VoiceEvent::AutoStopped {
                    draft: view(conversation_id, &draft),
                }
            }
            RecorderEvent::Error(message) => {
                crate::platform::audio_done();
                VoiceEvent::Error { message }
            }
        };
        if let Err(e) = event.emit(&app) {
            tracing::warn!(error = %e, "could not forward a recorder event");
        }
    })
    .map_err(|e| {
        crate::platform::audio_done();
        mic(e)
    })?;
    *current = Some((conversation_id, recorder));
    Ok(())
}

#[tauri::command]
#[specta::specta]
pub async fn voice_pause(recording: State<'_, Recording>) -> Res<()> {
    if let Some((_, r)) = lock(&recording.0).as_ref() {
        r.pause();
    }
    Ok(())
}

#[tauri::command]
#[specta::specta]
pub async fn voice_resume(recording: State<'_, Recording>) -> Res<()> {
    if let Some((_, r)) = lock(&recording.0).as_ref() {
        r.resume();
    }
    Ok(())
}

/// Stops recording; the note is ready to preview and send (also after a stop at 60 s).
#[tauri::command]
#[specta::specta]
pub async fn voice_stop(recording: State<'_, Recording>) -> Res<VoiceDraft> {
    let taken = lock(&recording.0).take();
    let Some((conversation_id, recorder)) = taken else {
        return Err(ApiError::new(
            ErrorCode::BadRequest,
            "nothing is being recorded",
        ));
    };
    let draft = tauri::async_runtime::spawn_blocking(move || recorder.stop())
        .await
        .map_err(mic)?;
    crate::platform::audio_done();
    Ok(view(conversation_id, &draft.map_err(mic)?))
}

/// Stops recording and throws the note away.
#[tauri::command]
#[specta::specta]
pub async fn voice_cancel(recording: State<'_, Recording>) -> Res<()> {
    let taken = lock(&recording.0).take();
    if let Some((_, recorder)) = taken {
        tauri::async_runtime::spawn_blocking(move || recorder.cancel())
            .await
            .map_err(mic)?;
        crate::platform::audio_done();
    }
    Ok(())
}

/// Notes recorded for a conversation and neither sent nor discarded, including one cut off
/// when the app was killed (finished up to its last complete second).
#[tauri::command]
#[specta::specta]
pub async fn voice_drafts(
    client: State<'_, Client>,
    recording: State<'_, Recording>,
    conversation_id: Uuid,
) -> Res<Vec<VoiceDraft>> {
    // A file being recorded looks cut off; never "repair" it under the recorder.
    if lock(&recording.0)
        .as_ref()
        .is_some_and(|(c, _)| *c == conversation_id)
    {
        return Ok(Vec::new());
    }
    let dir = drafts_dir(&client, conversation_id);
    let drafts = tauri::async_runtime::spawn_blocking(move || natter_voice::recover_drafts(&dir))
        .await
        .map_err(mic)?;
    Ok(drafts.iter().map(|d| view(conversation_id, d)).collect())
}

/// A draft's Ogg Opus file, base64-encoded, for preview.
#[tauri::command]
#[specta::specta]
pub async fn voice_draft_audio(
    client: State<'_, Client>,
    conversation_id: Uuid,
    id: String,
) -> Res<String> {
    let bytes = read_draft(&client, conversation_id, &id).await?;
    Ok(base64(&bytes))
}

/// A draft decoded to WAV, for previewing in web views that cannot play Ogg Opus.
#[tauri::command]
#[specta::specta]
pub async fn voice_draft_wav(
    client: State<'_, Client>,
    conversation_id: Uuid,
    id: String,
) -> Res<String> {
    let bytes = read_draft(&client, conversation_id, &id).await?;
    let wav = tauri::async_runtime::spawn_blocking(move || natter_media::to_wav(&bytes))
        .await
        .map_err(mic)?
        .map_err(|e| ApiError::new(e.code(), e.to_string()))?;
    Ok(base64(&wav))
}

/// Sends a draft; it is removed once queued (the outbox keeps its own copy).
#[tauri::command]
#[specta::specta]
pub async fn voice_send(
    client: State<'_, Client>,
    conversation_id: Uuid,
    id: String,
    waveform: Option<Vec<u8>>,
) -> Res<MessageView> {
    let bytes = read_draft(&client, conversation_id, &id).await?;
    let message = client
        .send_voice(conversation_id, bytes, waveform)
        .await
        .map_err(crate::commands::api)?;
    if let Err(e) = natter_voice::discard_draft(drafts_dir(&client, conversation_id), &id) {
        tracing::warn!(error = %e, "could not remove a sent draft");
    }
    Ok(message)
}

#[tauri::command]
#[specta::specta]
pub async fn voice_discard_draft(
    client: State<'_, Client>,
    conversation_id: Uuid,
    id: String,
) -> Res<()> {
    draft_path(&client, conversation_id, &id)?;
    natter_voice::discard_draft(drafts_dir(&client, conversation_id), &id).map_err(mic)
}

/// A voice message's Ogg Opus file, base64-encoded (downloaded once, then from the profile).
#[tauri::command]
#[specta::specta]
pub async fn voice_audio(client: State<'_, Client>, message_id: Uuid) -> Res<String> {
    let bytes = client
        .voice_audio(message_id)
        .await
        .map_err(crate::commands::api)?;
    Ok(base64(&bytes))
}

/// The same note decoded to WAV, for web views that cannot play Ogg Opus.
#[tauri::command]
#[specta::specta]
pub async fn voice_wav(client: State<'_, Client>, message_id: Uuid) -> Res<String> {
    let bytes = client
        .voice_wav(message_id)
        .await
        .map_err(crate::commands::api)?;
    Ok(base64(&bytes))
}

/// This account started playing someone else's voice note: it counts as played (as in
/// WhatsApp), here and, through the server, for the sender.
#[tauri::command]
#[specta::specta]
pub async fn voice_played(client: State<'_, Client>, message_id: Uuid) -> Res<()> {
    client
        .mark_voice_played(message_id)
        .await
        .map_err(crate::commands::api)
}

/// "Don't remind me again in this chat" before sending media (adults only).
#[tauri::command]
#[specta::specta]
pub async fn turn_off_media_reminder(client: State<'_, Client>, conversation_id: Uuid) -> Res<()> {
    client
        .turn_off_media_reminder(conversation_id)
        .await
        .map_err(crate::commands::api)
}

/// Remembers where playback of a note was left.
#[tauri::command]
#[specta::specta]
pub async fn voice_position(
    client: State<'_, Client>,
    message_id: Uuid,
    position_ms: u32,
) -> Res<()> {
    client
        .set_voice_position(message_id, position_ms)
        .await
        .map_err(crate::commands::api)
}

/// The next unplayed note from others after this one in its chat (plays when this ends).
#[tauri::command]
#[specta::specta]
pub async fn voice_next_unplayed(
    client: State<'_, Client>,
    message_id: Uuid,
) -> Res<Option<MessageView>> {
    client
        .next_unplayed_voice(message_id)
        .await
        .map_err(crate::commands::api)
}
