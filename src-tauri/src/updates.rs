//! In-app updates for testers' desktop builds, through the Tauri updater plugin.
//!
//! A build can update itself only when it was built with an update address and the public
//! half of the signing key (`plugins.updater` in its configuration, added by `./x bundle` from
//! `NATTER_UPDATE_PUBKEY` and `NATTER_UPDATE_URL`). Every artifact is checked against that key
//! before it is installed; one whose signature does not match is refused and nothing changes.
//! Development builds and phone builds (updated by their stores) have no updater: they answer
//! [`UpdateCheck::NotConfigured`].

use natter_core::protocol::{ApiError, ErrorCode};
use serde::{Deserialize, Serialize};
use tauri::AppHandle;

type Res<T> = Result<T, ApiError>;

/// What a check for updates found.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum UpdateCheck {
    /// This build has no update address or key (a development or store build).
    NotConfigured,
    /// The newest release is the one running.
    UpToDate { current: String },
    /// A newer release is published; [`update_install`] downloads, checks and installs it.
    Available {
        current: String,
        version: String,
        notes: Option<String>,
    },
}

/// Download progress of an update, for the progress bar.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type, tauri_specta::Event)]
pub struct UpdateProgress {
    pub downloaded: u64,
    pub total: Option<u64>,
}

/// Whether this build was configured for updates (see the module's documentation).
pub(crate) fn configured(app: &AppHandle) -> bool {
    cfg!(desktop) && app.config().plugins.0.contains_key("updater")
}

/// Registers the updater when this build has an update address and key.
#[cfg(desktop)]
pub(crate) fn register(app: &AppHandle) -> tauri::Result<()> {
    if configured(app) {
        app.plugin(tauri_plugin_updater::Builder::new().build())?;
    } else {
        tracing::info!("no update address in this build: updates are off");
    }
    Ok(())
}

#[cfg(mobile)]
pub(crate) fn register(_app: &AppHandle) -> tauri::Result<()> {
    Ok(())
}

/// The release found by the last check, kept for [`update_install`].
#[derive(Default)]
pub(crate) struct Pending {
    #[cfg(desktop)]
    update: tokio::sync::Mutex<Option<tauri_plugin_updater::Update>>,
}

/// Asks the update address whether a newer release exists.
#[tauri::command]
#[specta::specta]
pub async fn update_check(app: AppHandle, pending: tauri::State<'_, Pending>) -> Res<UpdateCheck> {
    if !configured(&app) {
        return Ok(UpdateCheck::NotConfigured);
    }
    imp::check(&app, &pending).await
}

/// Downloads the release found by [`update_check`], checks its signature against this
/// build's key and installs it (the package manager asks for the administrator's password
/// for system packages). Natter then needs a restart ([`update_restart`]).
#[tauri::command]
#[specta::specta]
pub async fn update_install(app: AppHandle, pending: tauri::State<'_, Pending>) -> Res<()> {
    if !configured(&app) {
        return Err(ApiError::new(
            ErrorCode::BadRequest,
            "this build of Natter does not update itself",
        ));
    }
    imp::install(&app, &pending).await
}

/// Restarts Natter (after an update was installed).
#[tauri::command]
#[specta::specta]
pub fn update_restart(app: AppHandle) {
    tracing::info!("restarting after an update");
    app.restart();
}

/// The person-readable message for an updater failure, and its code.
#[cfg(desktop)]
fn explain(e: tauri_plugin_updater::Error, doing: &str) -> ApiError {
    use tauri_plugin_updater::Error as E;
    tracing::warn!(error = %e, doing, "update failed");
    match e {
        E::Minisign(_)
        | E::SignatureUtf8(_)
        | E::Base64(_)
        | E::SignedVersionMismatch { .. }
        | E::MissingSignedVersion => ApiError::new(
            ErrorCode::Internal,
            format!(
                "the update's signature does not match this build's signing key, so it was \
                 not installed ({e})"
            ),
        ),
        E::Reqwest(_) | E::Network(_) => ApiError::new(
            ErrorCode::Network,
            format!("could not reach the update server while {doing}: {e}"),
        ),
        other => ApiError::new(ErrorCode::Internal, format!("{doing} failed: {other}")),
    }
}

#[cfg(desktop)]
mod imp {
    use tauri::AppHandle;
    use tauri_plugin_updater::UpdaterExt as _;
    use tauri_specta::Event as _;

    use super::{explain, Pending, Res, UpdateCheck, UpdateProgress};
    use natter_core::protocol::{ApiError, ErrorCode};

    pub(super) async fn check(app: &AppHandle, pending: &Pending) -> Res<UpdateCheck> {
        let updater = app
            .updater()
            .map_err(|e| explain(e, "checking for updates"))?;
        let found = updater
            .check()
            .await
            .map_err(|e| explain(e, "checking for updates"))?;
        let current = app.package_info().version.to_string();
        let answer = match &found {
            None => UpdateCheck::UpToDate { current },
            Some(u) => {
                tracing::info!(version = %u.version, "an update is available");
                UpdateCheck::Available {
                    current,
                    version: u.version.clone(),
                    notes: u.body.clone(),
                }
            }
        };
        *pending.update.lock().await = found;
        Ok(answer)
    }

    pub(super) async fn install(app: &AppHandle, pending: &Pending) -> Res<()> {
        // A copy: the release stays pending until it is installed, so a download cut off or
        // refused can be tried again with "Install" (a forged artifact is refused again).
        let Some(update) = pending.update.lock().await.clone() else {
            return Err(ApiError::new(
                ErrorCode::BadRequest,
                "no update to install: check for updates first",
            ));
        };
        let mut downloaded = 0u64;
        let progress = app.clone();
        // `download` checks the signature before it returns the bytes.
        let bytes = update
            .download(
                |chunk, total| {
                    downloaded += chunk as u64;
                    let _ = UpdateProgress { downloaded, total }.emit(&progress);
                },
                || {},
            )
            .await
            .map_err(|e| explain(e, "downloading the update"))?;
        tracing::info!(version = %update.version, bytes = bytes.len(), "update downloaded and verified");
        // Installing runs the package manager and waits for it.
        tauri::async_runtime::spawn_blocking(move || {
            update
                .install(bytes)
                .map_err(|e| explain(e, "installing the update"))
        })
        .await
        .map_err(|e| ApiError::new(ErrorCode::Internal, format!("installing the update: {e}")))??;
        tracing::info!("update installed");
        pending.update.lock().await.take();
        Ok(())
    }
}

#[cfg(mobile)]
mod imp {
    use super::{Pending, Res, UpdateCheck};
    use natter_core::protocol::{ApiError, ErrorCode};
    use tauri::AppHandle;

    pub(super) async fn check(_app: &AppHandle, _pending: &Pending) -> Res<UpdateCheck> {
        Ok(UpdateCheck::NotConfigured)
    }

    pub(super) async fn install(_app: &AppHandle, _pending: &Pending) -> Res<()> {
        Err(ApiError::new(
            ErrorCode::BadRequest,
            "phone builds are updated by their store",
        ))
    }
}
