//! Voice notes in the client: queueing a recorded note (its file is kept in the profile
//! until the server has it), fetching and caching notes to play, played marks and playback
//! positions.
//!
//! Files live in `PROFILE/media/<media id>.ogg`. An outgoing note's file is written (and
//! synced) before its message is queued, so the outbox never points at a missing file.

use std::path::PathBuf;

use natter_protocol::{policy, validate, ApiError, ErrorCode};
use uuid::Uuid;

use crate::cache::PendingVoice;
use crate::client::Client;
use crate::error::{CoreError, Result};
use crate::views::{CoreEvent, MessageView};

fn media_error(e: natter_media::MediaError) -> CoreError {
    ApiError::new(e.code(), e.to_string()).into()
}

fn not_a_voice_note() -> CoreError {
    ApiError::new(ErrorCode::MediaNotFound, "no such voice note").into()
}

pub(crate) async fn write_durably(path: &std::path::Path, bytes: &[u8]) -> Result<()> {
    let io = |e: std::io::Error| CoreError::Storage(format!("writing {}: {e}", path.display()));
    let dir = path
        .parent()
        .ok_or_else(|| CoreError::Storage(format!("no directory for {}", path.display())))?;
    tokio::fs::create_dir_all(dir).await.map_err(io)?;
    let tmp = dir.join(format!(".tmp-{}", Uuid::new_v4()));
    let result = async {
        let mut file = tokio::fs::File::create(&tmp).await?;
        tokio::io::AsyncWriteExt::write_all(&mut file, bytes).await?;
        file.sync_all().await?;
        tokio::fs::rename(&tmp, path).await?;
        tokio::fs::File::open(dir).await?.sync_all().await
    }
    .await;
    if result.is_err() {
        let _ = tokio::fs::remove_file(&tmp).await;
    }
    result.map_err(io)
}

impl Client {
    pub(crate) fn media_path(&self, media_id: Uuid) -> PathBuf {
        self.profile_dir()
            .join("media")
            .join(format!("{media_id}.ogg"))
    }

    /// Queues a voice note (an Ogg Opus file) for a conversation. It is checked here with the
    /// server's own rules first (the file, and that media may be sent in this conversation
    /// yet), so a note the server would refuse fails at once with the same code. `waveform` is the recorder's; without one it is computed from the audio.
    #[tracing::instrument(skip(self, ogg, waveform), fields(bytes = ogg.len()), err)]
    pub async fn send_voice(
        &self,
        conversation: Uuid,
        ogg: Vec<u8>,
        waveform: Option<Vec<u8>>,
    ) -> Result<MessageView> {
        let (_, me) = self.auth()?;
        // The server's rule, checked here first so the user learns why at once.
        let facts = self
            .inner
            .cache
            .conversation_facts(me.id, conversation)
            .await?
            .ok_or_else(crate::client::not_found)?;
        policy::content_rule(policy::Content::Media, facts)?;
        let (ogg, info, waveform) = tokio::task::spawn_blocking(move || {
            let info = natter_media::validate_voice_note(&ogg).map_err(media_error)?;
            let waveform = match waveform {
                Some(w) => w,
                None => natter_media::waveform_of(&ogg).map_err(media_error)?,
            };
            Ok::<_, CoreError>((ogg, info, waveform))
        })
        .await
        .map_err(|e| CoreError::Storage(format!("checking the voice note: {e}")))??;
        validate::waveform(&waveform)?;
        let media_id = Uuid::now_v7();
        write_durably(&self.media_path(media_id), &ogg).await?;
        let voice = PendingVoice {
            media_id,
            duration_ms: u32::try_from(info.duration_ms).unwrap_or(u32::MAX),
            size: u32::try_from(ogg.len()).unwrap_or(u32::MAX),
            waveform,
        };
        self.queue(conversation, &me, "", Some(&voice)).await
    }

    /// The Ogg Opus file of a voice message: from the profile when it is there (own notes,
    /// notes played before), otherwise downloaded once and kept for offline playback.
    pub async fn voice_audio(&self, message_id: Uuid) -> Result<Vec<u8>> {
        let voice = self
            .inner
            .cache
            .voice_ref(message_id)
            .await?
            .ok_or_else(not_a_voice_note)?;
        let path = self.media_path(voice.media_id);
        match tokio::fs::read(&path).await {
            Ok(bytes) => return Ok(bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(CoreError::Storage(format!(
                    "reading {}: {e}",
                    path.display()
                )))
            }
        }
        let (token, _) = self.auth()?;
        let bytes = self.api().download_media(&token, voice.media_id).await?;
        // Never keep (or hand the web view) something that is not a playable note.
        let checked = bytes.clone();
        tokio::task::spawn_blocking(move || natter_media::inspect(&checked).map(|_| ()))
            .await
            .map_err(|e| CoreError::Storage(format!("checking the voice note: {e}")))?
            .map_err(media_error)?;
        write_durably(&path, &bytes).await?;
        Ok(bytes.to_vec())
    }

    /// The note decoded to a 16-bit WAV: for web views that cannot play Ogg Opus (Apple's
    /// before iOS 18.4 / macOS 15.4). Decoded in Rust with libopus.
    pub async fn voice_wav(&self, message_id: Uuid) -> Result<Vec<u8>> {
        let ogg = self.voice_audio(message_id).await?;
        tokio::task::spawn_blocking(move || natter_media::to_wav(&ogg))
            .await
            .map_err(|e| CoreError::Storage(format!("decoding the voice note: {e}")))?
            .map_err(media_error)
    }

    /// This account played a voice note: marked here at once, and on the server (now, or
    /// after the next reconnect) so the sender sees it. Own notes are not marked.
    pub async fn mark_voice_played(&self, message_id: Uuid) -> Result<()> {
        let (token, me) = self.auth()?;
        let voice = self
            .inner
            .cache
            .voice_ref(message_id)
            .await?
            .ok_or_else(not_a_voice_note)?;
        if voice.sender_id == me.id || !self.inner.cache.add_played(message_id, me.id, true).await?
        {
            return Ok(());
        }
        if let Some(view) = self.inner.cache.message(me.id, message_id).await? {
            self.emit(CoreEvent::Message { message: view });
        }
        match self
            .api()
            .played(&token, voice.conversation_id, message_id)
            .await
        {
            Ok(()) => self.inner.cache.clear_pending_played(message_id).await,
            Err(e) if e.is_transient() => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Sends played marks made while offline.
    pub(crate) async fn flush_pending_played(&self) -> Result<()> {
        let (token, _) = self.auth()?;
        for (conversation, message) in self.inner.cache.pending_played().await? {
            match self.api().played(&token, conversation, message).await {
                Ok(()) => self.inner.cache.clear_pending_played(message).await?,
                Err(e) if e.is_transient() => return Ok(()),
                Err(e) => {
                    tracing::warn!(%message, error = %e, "the server refused a played mark");
                    self.inner.cache.clear_pending_played(message).await?;
                }
            }
        }
        Ok(())
    }

    /// Learns the played marks made while this client was away (the sender sees their note
    /// played even if they were offline when it happened).
    pub(crate) async fn catch_up_played(&self) -> Result<()> {
        /// The server's page size (`natter_server::routes::messages::PLAYED_PAGE`).
        const PAGE: usize = 1000;
        let (token, _) = self.auth()?;
        let mut since = self.inner.cache.played_cursor().await?;
        loop {
            let marks = self.api().played_since(&token, since).await?;
            let mut top = since;
            for mark in &marks {
                self.apply_played(mark.message_id, mark.user_id).await?;
                top = top.max(mark.played_at);
            }
            self.inner.cache.set_played_cursor(top).await?;
            // `top == since`: a whole page at one instant; the next marks come next time.
            if marks.len() < PAGE || top == since {
                return Ok(());
            }
            since = top;
        }
    }

    /// "Don't remind me again in this chat" before sending media. Adults only: under 18 the
    /// reminder always shows.
    pub async fn turn_off_media_reminder(&self, conversation: Uuid) -> Result<()> {
        let me = self.me()?;
        if !self.inner.cache.my_age_band().await?.is_adult() {
            return Err(ApiError::new(
                ErrorCode::BadRequest,
                "the reminder always shows before sending media until you are 18",
            )
            .into());
        }
        if !self
            .inner
            .cache
            .turn_off_media_reminder(conversation)
            .await?
        {
            return Err(crate::client::not_found());
        }
        self.emit(CoreEvent::Conversation {
            conversation: self
                .inner
                .cache
                .conversation(me, conversation)
                .await?
                .ok_or_else(crate::client::not_found)?,
        });
        Ok(())
    }

    /// Remembers where playback of a note was left, so it resumes there.
    pub async fn set_voice_position(&self, message_id: Uuid, position_ms: u32) -> Result<()> {
        self.auth()?;
        if !self
            .inner
            .cache
            .set_play_position(message_id, position_ms)
            .await?
        {
            return Err(not_a_voice_note());
        }
        Ok(())
    }

    /// The next voice note from someone else after this one in its chat that this account
    /// has not played yet: it plays when this one ends.
    pub async fn next_unplayed_voice(&self, message_id: Uuid) -> Result<Option<MessageView>> {
        let me = self.me()?;
        let voice = self
            .inner
            .cache
            .voice_ref(message_id)
            .await?
            .ok_or_else(not_a_voice_note)?;
        let Some(after) = self.inner.cache.sort_key(message_id).await? else {
            return Ok(None);
        };
        match self
            .inner
            .cache
            .next_unplayed_voice(me, voice.conversation_id, after)
            .await?
        {
            Some(next) => self.inner.cache.message(me, next).await,
            None => Ok(None),
        }
    }

    /// Another member (or this account on another device) played a note.
    pub(crate) async fn apply_played(&self, message_id: Uuid, user: Uuid) -> Result<()> {
        let me = self.me()?;
        if self.inner.cache.add_played(message_id, user, false).await? {
            if let Some(view) = self.inner.cache.message(me, message_id).await? {
                self.emit(CoreEvent::Message { message: view });
            }
        }
        Ok(())
    }
}
