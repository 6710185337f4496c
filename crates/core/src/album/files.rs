//! Album files on this device: downloaded once (checked first), served to the app, saved out.

use std::path::{Path, PathBuf};

use natter_protocol::{ApiError, ErrorCode};
use uuid::Uuid;

use super::{media_error, storage};
use crate::client::Client;
use crate::error::{CoreError, Result};
use crate::voice::write_durably;

impl Client {
    /// Where an album file (a photo, a video or a thumbnail) is kept on this device.
    pub fn album_file_path(&self, media_id: Uuid) -> PathBuf {
        self.profile_dir().join("media").join(media_id.to_string())
    }

    /// An album file (photo, video or thumbnail) of a message in this profile, and its
    /// content type: from the device when it is there, otherwise downloaded once and kept.
    /// Downloads are checked to be what the message says before anything keeps them.
    pub async fn album_file(&self, media_id: Uuid) -> Result<(PathBuf, String)> {
        let Some((mime, is_file)) = self.inner.cache.known_media(media_id).await? else {
            return Err(ApiError::new(ErrorCode::MediaNotFound, "no such photo or video").into());
        };
        let path = self.album_file_path(media_id);
        if tokio::fs::try_exists(&path).await.unwrap_or(false) {
            return Ok((path, mime));
        }
        let (token, _) = self.auth()?;
        let bytes = self.api().download_media(&token, media_id).await?;
        if mime.starts_with("image/") || !is_file {
            let checked = bytes.clone();
            tokio::task::spawn_blocking(move || {
                natter_media::inspect_image(&checked, natter_protocol::limits::IMAGE_MAX_EDGE)
            })
            .await
            .map_err(|e| CoreError::Storage(format!("checking the photo: {e}")))?
            .map_err(media_error)?;
        }
        write_durably(&path, &bytes).await?;
        Ok((path, mime))
    }

    /// Copies an album file to `dest` (a path the user chose), downloading it if needed.
    pub async fn save_album_file(&self, media_id: Uuid, dest: &Path) -> Result<()> {
        let (path, _) = self.album_file(media_id).await?;
        tokio::fs::copy(&path, dest)
            .await
            .map_err(|e| storage("saving to", dest, e))?;
        Ok(())
    }

    /// Copies every item of an album into `dir` (`natter-MESSAGE-N.ext`); returns how many.
    pub async fn save_album(&self, message_id: Uuid, dir: &Path) -> Result<u32> {
        let me = self.me()?;
        let view = self
            .inner
            .cache
            .message(me, message_id)
            .await?
            .ok_or_else(|| {
                CoreError::from(ApiError::new(ErrorCode::MediaNotFound, "no such message"))
            })?;
        let mut saved = 0;
        for (i, item) in view.media.iter().enumerate() {
            let ext = match item.mime.as_str() {
                "image/png" => "png",
                "image/webp" => "webp",
                "image/gif" => "gif",
                "video/mp4" => "mp4",
                "video/quicktime" => "mov",
                "video/webm" => "webm",
                _ => "jpg",
            };
            let short = &message_id.simple().to_string()[..8];
            let dest = dir.join(format!("natter-{short}-{}.{ext}", i + 1));
            self.save_album_file(item.media_id, &dest).await?;
            saved += 1;
        }
        Ok(saved)
    }
}
