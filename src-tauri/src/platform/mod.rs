//! Where the desktop app and the phone apps differ, in one place. Each decision is a plain
//! function of [`Platform`], compiled and tested on every platform; only the thin calls into a
//! phone's own APIs sit behind `cfg` (`android.rs`, `ios.rs`). What the phones need from the
//! build (manifest permissions, Info.plist reasons, minimum versions) is in docs/mobile.md.

#[cfg(target_os = "android")]
mod android;
#[cfg(target_os = "ios")]
mod ios;

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use tauri::{AppHandle, Manager, Runtime, Url};
use tauri_plugin_dialog::FilePath;
use uuid::Uuid;

/// The kind of device this build runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum Platform {
    Desktop,
    Android,
    Ios,
}

impl Platform {
    /// The platform this binary was built for.
    pub const CURRENT: Platform = if cfg!(target_os = "android") {
        Platform::Android
    } else if cfg!(target_os = "ios") {
        Platform::Ios
    } else {
        Platform::Desktop
    };
}

/// What the page does differently on this device (decided here, so the UI only follows).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
pub struct PlatformInfo {
    pub platform: Platform,
    /// Where set, the camera button opens the system's own camera screen (a file input with
    /// `capture` accepting these types, which the phones' web views hand to the camera)
    /// instead of the in-app camera sheet, a second and poorer camera on a phone (front
    /// camera only, frames of the preview's size). iOS offers photo and video in one screen;
    /// Android's web view (wry) opens the video camera whenever `video/*` is accepted, so there
    /// the button takes photos, and videos recorded with the camera app come from the picker.
    pub system_camera_accept: Option<String>,
    /// Ask the web view for the microphone before recording a voice note. On Android the
    /// native recorder gets no permission prompt of its own; the web view's request is what
    /// makes Android ask for RECORD_AUDIO, which the recorder then has too.
    pub ask_microphone_in_web_view: bool,
}

/// The platform's [`PlatformInfo`].
pub fn info(platform: Platform) -> PlatformInfo {
    PlatformInfo {
        platform,
        system_camera_accept: match platform {
            Platform::Desktop => None,
            Platform::Android => Some("image/*".to_string()),
            Platform::Ios => Some("image/*,video/*".to_string()),
        },
        ask_microphone_in_web_view: platform == Platform::Android,
    }
}

/// What this device is and what the page does differently on it.
#[tauri::command]
#[specta::specta]
pub fn platform_info() -> PlatformInfo {
    info(Platform::CURRENT)
}

/// Adds the plugins only a phone needs: on Android the file-system plugin, the one thing that
/// can open the `content://` documents the system picker returns.
pub fn with_plugins<R: Runtime>(builder: tauri::Builder<R>) -> tauri::Builder<R> {
    #[cfg(target_os = "android")]
    let builder = builder.plugin(tauri_plugin_fs::init());
    builder
}

// ---------------------------------------------------------------------------------------------
// Picking photos and videos

/// Where copies of picked Android documents wait (under the app's cache) until staged.
const PICKED_DIR: &str = "picked";
/// A copy older than this has long been staged (the core keeps its own) or abandoned.
const COPY_TTL: Duration = Duration::from_secs(60 * 60);

/// What becomes of one file the system picker returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Picked {
    /// A file this process reads at this path: any desktop pick; on iOS the photo picker's
    /// own copy in the app's temporary directory (a `file://` URL).
    Path(PathBuf),
    /// An Android `content://` document: only the content resolver opens it, so it is
    /// copied into the app's cache first and staged from there.
    Copy(Url),
    /// Nothing this device can open (reported and skipped).
    Unreadable(String),
}

/// Decides how to read a picked file on `platform`.
pub fn resolve_picked(platform: Platform, file: FilePath) -> Picked {
    match file {
        FilePath::Path(path) => Picked::Path(path),
        FilePath::Url(url) if url.scheme() == "file" => match url.to_file_path() {
            Ok(path) => Picked::Path(path),
            Err(()) => Picked::Unreadable(url.to_string()),
        },
        FilePath::Url(url) if url.scheme() == "content" && platform == Platform::Android => {
            Picked::Copy(url)
        }
        FilePath::Url(url) => Picked::Unreadable(url.to_string()),
    }
}

/// A file name for the copy of a `content://` document, shown if it cannot be staged: the
/// readable end of the URI (`…/document/raw%3A%2F…%2Fcat.jpg` → `cat.jpg`,
/// `…/document/image%3A1234` → `image-1234`), else `picked`. Never a path.
pub fn copy_name(uri: &Url) -> String {
    let last = uri
        .path_segments()
        .and_then(|mut s| s.next_back())
        .map(percent_decode)
        .unwrap_or_default();
    let tail = last.rsplit('/').next().unwrap_or_default();
    // `image:1234` (a media document id) reads better as `image-1234`.
    let name: String = tail
        .chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '.' | '_' | '-' => c,
            _ => '-',
        })
        .take(80)
        .collect();
    let name = name.trim_matches(|c| c == '-' || c == '.');
    if name.is_empty() {
        "picked".to_string()
    } else {
        name.to_string()
    }
}

fn percent_decode(s: &str) -> String {
    let hex = |b: Option<&u8>| b.and_then(|b| (*b as char).to_digit(16));
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            if let (Some(h), Some(l)) = (hex(bytes.get(i + 1)), hex(bytes.get(i + 2))) {
                out.push(u8::try_from(h * 16 + l).unwrap_or(b'-'));
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The largest picked file worth copying: anything larger is refused by the core anyway, and
/// a copy cut just past this size makes it say so without filling the phone's storage.
pub fn copy_limit() -> u64 {
    let max = natter_media::video::MAX_VIDEO_BYTES.max(natter_media::photo::MAX_PHOTO_BYTES);
    u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1)
}

/// Copies at most `limit` bytes from `from` into a new file `to` (synced); returns how many.
pub fn copy_limited(from: impl Read, to: &Path, limit: u64) -> io::Result<u64> {
    let mut out = std::fs::File::create_new(to)?;
    let n = io::copy(&mut from.take(limit), &mut out)?;
    out.flush()?;
    out.sync_all()?;
    Ok(n)
}

/// Removes copies of picked documents older than [`COPY_TTL`] (each sits in its own folder).
pub fn remove_stale_copies(dir: &Path, now: SystemTime) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let modified = entry.metadata().and_then(|m| m.modified());
        let stale = modified.is_ok_and(|m| now.duration_since(m).unwrap_or_default() > COPY_TTL);
        if stale {
            if let Err(e) = std::fs::remove_dir_all(entry.path()) {
                tracing::warn!(error = %e, "could not remove an old copy of a picked file");
            }
        }
    }
}

/// Turns what the system picker returned into paths the core can stage, copying Android
/// documents into the app's cache. Blocking (copies may be large): run it off the async
/// threads.
pub fn picked_paths<R: Runtime>(app: &AppHandle<R>, files: Vec<FilePath>) -> Vec<String> {
    let mut paths = Vec::with_capacity(files.len());
    for file in files {
        match resolve_picked(Platform::CURRENT, file) {
            Picked::Path(path) => paths.push(path.display().to_string()),
            Picked::Copy(uri) => match copy_document(app, &uri) {
                Ok(path) => paths.push(path.display().to_string()),
                Err(e) => tracing::warn!(%uri, error = %e, "could not copy a picked file"),
            },
            Picked::Unreadable(what) => {
                tracing::warn!(%what, "the picker returned something this device cannot open")
            }
        }
    }
    paths
}

fn copy_document<R: Runtime>(app: &AppHandle<R>, uri: &Url) -> io::Result<PathBuf> {
    let cache = app.path().app_cache_dir().map_err(io::Error::other)?;
    let dir = cache.join(PICKED_DIR);
    remove_stale_copies(&dir, SystemTime::now());
    let item = dir.join(Uuid::now_v7().to_string());
    std::fs::create_dir_all(&item)?;
    let to = item.join(copy_name(uri));
    let from = open_document(app, uri)?;
    copy_limited(from, &to, copy_limit())?;
    Ok(to)
}

#[cfg(target_os = "android")]
fn open_document<R: Runtime>(app: &AppHandle<R>, uri: &Url) -> io::Result<std::fs::File> {
    android::open(app, uri)
}

#[cfg(not(target_os = "android"))]
fn open_document<R: Runtime>(_app: &AppHandle<R>, uri: &Url) -> io::Result<std::fs::File> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        format!("only Android opens documents like {uri}"),
    ))
}

// ---------------------------------------------------------------------------------------------
// The audio session

/// What the app is about to do with sound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AudioUse {
    /// A voice note is being recorded.
    Recording,
    /// Nothing of ours: give the session back to other apps.
    Done,
}

/// How the app's audio session is set (iOS; the other platforms have no such thing: cpal
/// opens the microphone directly).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionPlan {
    /// Category play-and-record, mode default, then activate. Playback stays on the
    /// loudspeaker (not the earpiece play-and-record defaults to); a Bluetooth headset's
    /// microphone may record.
    Record {
        default_to_speaker: bool,
        allow_bluetooth_input: bool,
    },
    /// Deactivate, telling the app we interrupted (music) that it may resume.
    Release { notify_others: bool },
}

/// The session change `use_` needs on `platform`, if any.
pub fn session_plan(platform: Platform, use_: AudioUse) -> Option<SessionPlan> {
    if platform != Platform::Ios {
        return None;
    }
    Some(match use_ {
        AudioUse::Recording => SessionPlan::Record {
            default_to_speaker: true,
            allow_bluetooth_input: true,
        },
        AudioUse::Done => SessionPlan::Release {
            notify_others: true,
        },
    })
}

/// Sets the audio session for `use_` where the platform has one (iOS); a no-op elsewhere.
pub fn audio_session(use_: AudioUse) -> Result<(), String> {
    let Some(plan) = session_plan(Platform::CURRENT, use_) else {
        return Ok(());
    };
    apply_session(plan)
}

/// Gives the audio session back once a recording ended (iOS); failures are only logged, the
/// note is kept either way.
pub fn audio_done() {
    if let Err(e) = audio_session(AudioUse::Done) {
        tracing::warn!(error = %e, "could not release the audio session");
    }
}

#[cfg(target_os = "ios")]
fn apply_session(plan: SessionPlan) -> Result<(), String> {
    ios::apply(plan)
}

#[cfg(not(target_os = "ios"))]
fn apply_session(plan: SessionPlan) -> Result<(), String> {
    Err(format!("no audio session on this platform for {plan:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(s: &str) -> FilePath {
        s.parse().expect("FilePath parses anything")
    }

    #[test]
    fn phones_use_the_system_camera_and_android_asks_the_web_view_for_the_microphone() {
        let desktop = info(Platform::Desktop);
        assert_eq!(desktop.system_camera_accept, None);
        assert!(!desktop.ask_microphone_in_web_view);
        let android = info(Platform::Android);
        assert_eq!(android.system_camera_accept.as_deref(), Some("image/*"));
        assert!(android.ask_microphone_in_web_view);
        let ios = info(Platform::Ios);
        assert_eq!(ios.system_camera_accept.as_deref(), Some("image/*,video/*"));
        assert!(!ios.ask_microphone_in_web_view);
        assert_eq!(platform_info().platform, Platform::CURRENT);
        assert_eq!(
            serde_json::to_value(info(Platform::Ios)).expect("json")["platform"],
            "ios"
        );
    }

    #[test]
    fn picked_paths_and_file_urls_are_read_in_place() {
        for platform in [Platform::Desktop, Platform::Android, Platform::Ios] {
            assert_eq!(
                resolve_picked(platform, file("/home/a/cat.jpg")),
                Picked::Path(PathBuf::from("/home/a/cat.jpg"))
            );
            // What the iOS photo picker returns: its own copy in the app's tmp directory.
            assert_eq!(
                resolve_picked(platform, file("file:///private/var/tmp/My%20Cat.jpg")),
                Picked::Path(PathBuf::from("/private/var/tmp/My Cat.jpg"))
            );
        }
    }

    #[test]
    fn android_documents_are_copied_and_other_urls_refused() {
        let doc = "content://com.android.providers.media.documents/document/image%3A1234";
        assert_eq!(
            resolve_picked(Platform::Android, file(doc)),
            Picked::Copy(doc.parse().expect("url"))
        );
        assert!(matches!(
            resolve_picked(Platform::Desktop, file(doc)),
            Picked::Unreadable(_)
        ));
        assert!(matches!(
            resolve_picked(Platform::Android, file("https://example.org/cat.jpg")),
            Picked::Unreadable(_)
        ));
    }

    #[test]
    fn copies_get_readable_names_that_are_never_paths() {
        let name = |s: &str| copy_name(&s.parse().expect("url"));
        assert_eq!(
            name("content://com.android.providers.media.documents/document/image%3A1234"),
            "image-1234"
        );
        assert_eq!(
            name("content://com.android.providers.downloads.documents/document/raw%3A%2Fstorage%2Femulated%2F0%2FDownload%2Fcat.jpg"),
            "cat.jpg"
        );
        assert_eq!(
            name("content://media/external/images/media/%2E%2E"),
            "picked"
        );
        assert_eq!(name("content://x/a/..%2F..%2Fetc%2Fpasswd"), "passwd");
        assert_eq!(name("content://x/"), "picked");
        assert_eq!(name("content://x/%E2%9C%93%20b%C3%A4r.png"), "b-r.png");
    }

    #[test]
    fn a_copy_stops_past_the_limit_and_never_overwrites() {
        let dir = tempfile::tempdir().expect("dir");
        let to = dir.path().join("copy");
        let data = vec![7u8; 1000];
        assert_eq!(copy_limited(&data[..], &to, 101).expect("copy"), 101);
        assert_eq!(std::fs::read(&to).expect("read").len(), 101);
        assert!(
            copy_limited(&data[..], &to, 5000).is_err(),
            "exists already"
        );
        let whole = dir.path().join("whole");
        assert_eq!(
            copy_limited(&data[..], &whole, copy_limit()).expect("copy"),
            1000
        );
        let max = natter_media::video::MAX_VIDEO_BYTES.max(natter_media::photo::MAX_PHOTO_BYTES);
        assert_eq!(
            copy_limit(),
            max as u64 + 1,
            "one byte more than the core accepts"
        );
    }

    #[test]
    fn old_copies_are_removed_and_fresh_ones_kept() {
        let dir = tempfile::tempdir().expect("dir");
        let item = dir.path().join("one");
        std::fs::create_dir_all(&item).expect("mkdir");
        std::fs::write(item.join("cat.jpg"), b"x").expect("write");
        remove_stale_copies(dir.path(), SystemTime::now());
        assert!(item.exists(), "a fresh copy stays");
        remove_stale_copies(dir.path(), SystemTime::now() + COPY_TTL * 2);
        assert!(!item.exists(), "an hour later it is gone");
        remove_stale_copies(&dir.path().join("missing"), SystemTime::now());
    }

    #[test]
    fn only_ios_sets_an_audio_session_around_recording() {
        for platform in [Platform::Desktop, Platform::Android] {
            assert_eq!(session_plan(platform, AudioUse::Recording), None);
            assert_eq!(session_plan(platform, AudioUse::Done), None);
        }
        assert_eq!(
            session_plan(Platform::Ios, AudioUse::Recording),
            Some(SessionPlan::Record {
                default_to_speaker: true,
                allow_bluetooth_input: true
            })
        );
        assert_eq!(
            session_plan(Platform::Ios, AudioUse::Done),
            Some(SessionPlan::Release {
                notify_others: true
            })
        );
        if Platform::CURRENT != Platform::Ios {
            assert_eq!(audio_session(AudioUse::Recording), Ok(()));
        }
    }
}
