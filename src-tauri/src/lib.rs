//! The Natter desktop/mobile shell: adapts natter-core to Tauri commands and events, nothing
//! else. Every command is a one-line call into [`natter_core::Client`]; the UI gets one typed
//! event stream with everything the core reports.

mod album;
mod commands;
mod platform;
mod recording;
mod safety;
mod updates;

use std::path::{Path, PathBuf};

use natter_core::{Client, CoreEvent};
use serde::{Deserialize, Serialize};
use tauri::{Manager, WebviewUrl, WebviewWindowBuilder};
use tauri_specta::{collect_commands, collect_events, Event};

/// Everything the core reports, forwarded to the UI as one typed event.
#[derive(Debug, Clone, Serialize, Deserialize, specta::Type, tauri_specta::Event)]
pub struct NatterEvent(pub CoreEvent);

/// The typed command and event surface; also what the TypeScript bindings are made from.
pub fn specta_builder() -> tauri_specta::Builder<tauri::Wry> {
    tauri_specta::Builder::<tauri::Wry>::new()
        .commands(collect_commands![
            commands::session,
            commands::dm_blocked,
            commands::server_url,
            commands::server_chosen,
            commands::choose_server,
            commands::connection,
            commands::signup,
            commands::login,
            commands::logout,
            commands::conversations,
            commands::messages,
            commands::messages_after,
            commands::open_direct,
            commands::create_group,
            commands::add_member,
            commands::leave_group,
            commands::remove_member,
            commands::rename_group,
            commands::send_text,
            commands::discard_message,
            commands::mark_read,
            commands::typing,
            recording::voice_start,
            recording::voice_pause,
            recording::voice_resume,
            recording::voice_stop,
            recording::voice_cancel,
            recording::voice_drafts,
            recording::voice_draft_audio,
            recording::voice_draft_wav,
            recording::voice_send,
            recording::voice_discard_draft,
            recording::voice_audio,
            recording::voice_wav,
            recording::voice_played,
            recording::voice_position,
            recording::voice_next_unplayed,
            recording::turn_off_media_reminder,
            album::media_pick,
            album::media_stage,
            album::media_stage_bytes,
            album::media_set_poster,
            album::media_unstage,
            album::send_album,
            album::media_retry,
            album::media_remove_item,
            album::media_save,
            album::media_save_all,
            safety::requests,
            safety::accept_request,
            safety::delete_request,
            safety::block_user,
            safety::unblock_user,
            safety::blocked_users,
            safety::report_user,
            safety::set_nudity_filter,
            platform::platform_info,
            updates::update_check,
            updates::update_install,
            updates::update_restart,
        ])
        .events(collect_events![
            NatterEvent,
            recording::VoiceEvent,
            updates::UpdateProgress
        ])
        .constant(
            "TEXT_MAX_CHARS",
            natter_core::protocol::limits::TEXT_MAX_CHARS,
        )
        .constant(
            "GROUP_MAX_MEMBERS",
            natter_core::protocol::limits::GROUP_MAX_MEMBERS,
        )
        .constant("PAGE_SIZE", natter_core::protocol::limits::PAGE_DEFAULT)
        .constant("VOICE_MAX_MS", natter_core::protocol::limits::VOICE_MAX_MS)
        .constant(
            "ALBUM_MAX_ITEMS",
            natter_core::protocol::limits::ALBUM_MAX_ITEMS,
        )
        .constant(
            "CAPTION_MAX_CHARS",
            natter_core::protocol::limits::CAPTION_MAX_CHARS,
        )
        // Sequence numbers and sort keys stay below 2^53 (see natter_core::PENDING_BASE), and
        // times are milliseconds, so JavaScript numbers hold every i64 this API carries.
        .dangerously_cast_bigints_to_number()
        // Every type crosses the boundary in the same shape both ways.
        .disable_serde_phases()
}

/// Writes the TypeScript bindings to `path`.
pub fn export_bindings(path: &Path) -> anyhow::Result<()> {
    specta_builder()
        .export(
            specta_typescript::Typescript::default().header(
                "// Generated from src-tauri by tauri-specta (`./x bindings`). Do not edit.",
            ),
            path,
        )
        .map_err(|e| anyhow::anyhow!("exporting bindings: {e}"))
}

/// `--profile DIR`, `--server URL` (or `NATTER_PROFILE`, `NATTER_SERVER`) and `--at X,Y`
/// (where the window opens, so several instances can sit side by side).
struct Args {
    profile: Option<PathBuf>,
    server: Option<String>,
    at: Option<(f64, f64)>,
}

fn parse_args() -> Args {
    let mut args = Args {
        profile: std::env::var_os("NATTER_PROFILE").map(PathBuf::from),
        server: std::env::var("NATTER_SERVER").ok(),
        at: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--profile" => args.profile = it.next().map(PathBuf::from),
            "--server" => args.server = it.next(),
            "--at" => {
                args.at = it.next().and_then(|v| {
                    let (x, y) = v.split_once(',')?;
                    Some((x.trim().parse().ok()?, y.trim().parse().ok()?))
                })
            }
            _ => {}
        }
    }
    args
}

fn init_logging(profile: &Path) -> Option<tracing_appender::non_blocking::WorkerGuard> {
    use tracing_subscriber::prelude::*;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let file = tracing_appender::rolling::daily(profile.join("logs"), "natter.log");
    let (file, guard) = tracing_appender::non_blocking(file);
    let ok = tracing_subscriber::registry()
        .with(filter)
        .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
        .with(
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(file),
        )
        .try_init()
        .is_ok();
    ok.then_some(guard)
}

pub(crate) fn window_title(client: &Client) -> String {
    match client.account() {
        Some(a) => format!("Natter — {}", a.username),
        None => "Natter".to_string(),
    }
}

#[cfg_attr(mobile, tauri::mobile_entry_point)]
pub fn run() {
    let builder = specta_builder();
    let args = parse_args();
    let result = platform::with_plugins(tauri::Builder::default())
        .plugin(tauri_plugin_dialog::init())
        .register_asynchronous_uri_scheme_protocol("natter-media", album::handle)
        .invoke_handler(builder.invoke_handler())
        .setup(move |app| {
            builder.mount_events(app);
            updates::register(app.handle())?;
            app.manage(updates::Pending::default());
            let profile = match &args.profile {
                Some(p) => p.clone(),
                None => app.path().app_data_dir()?.join("profile"),
            };
            std::fs::create_dir_all(&profile)?;
            if let Some(guard) = init_logging(&profile) {
                app.manage(guard);
            }
            let client = tauri::async_runtime::block_on(async {
                let client = Client::open(&profile, args.server.as_deref()).await?;
                if client.account().is_some() {
                    client.start().await?;
                }
                Ok::<_, natter_core::CoreError>(client)
            })?;
            tracing::info!(profile = %profile.display(), server = %client.server_url(), "starting");

            let handle = app.handle().clone();
            let mut events = client.subscribe();
            tauri::async_runtime::spawn(async move {
                use tokio::sync::broadcast::error::RecvError;
                loop {
                    match events.recv().await {
                        Ok(ev) => {
                            if let Err(e) = NatterEvent(ev).emit(&handle) {
                                tracing::warn!(error = %e, "could not forward an event");
                            }
                        }
                        Err(RecvError::Lagged(n)) => {
                            tracing::warn!(skipped = n, "UI event stream lagged");
                        }
                        Err(RecvError::Closed) => break,
                    }
                }
            });

            let title = window_title(&client);
            app.manage(client);
            app.manage(recording::Recording::default());
            let window =
                WebviewWindowBuilder::new(app, "main", WebviewUrl::App("index.html".into()))
                    .title(title)
                    .inner_size(1000.0, 720.0)
                    .min_inner_size(340.0, 520.0);
            // Each profile keeps its own web storage, so several instances run side by side.
            #[cfg(desktop)]
            let window = window.data_directory(profile.join("webview"));
            #[cfg(desktop)]
            let window = match args.at {
                Some((x, y)) => window.position(x, y),
                None => window,
            };
            let window = window.build()?;
            allow_media_cors(&window);
            Ok(())
        })
        .run(tauri::generate_context!());
    if let Err(e) = result {
        eprintln!("error: Natter could not start: {e}");
        std::process::exit(1);
    }
}

/// Lets the page read what the `natter-media:` scheme serves across origins (the scheme
/// answers with `Access-Control-Allow-Origin` for the app's own origin only): the composer
/// draws a video's first frame to a canvas when the core cannot decode it, and a canvas
/// holding a frame from another origin without CORS cannot be read back. WebKitGTK needs the
/// scheme registered as CORS-enabled for that (wry registers it only as secure); the other
/// platforms' web views follow the response headers.
#[cfg(target_os = "linux")]
fn allow_media_cors(window: &tauri::WebviewWindow) {
    let done = window.with_webview(|webview| {
        use webkit2gtk::{SecurityManagerExt as _, WebContextExt as _, WebViewExt as _};
        let manager = webview
            .inner()
            .context()
            .and_then(|context| context.security_manager());
        match manager {
            Some(manager) => manager.register_uri_scheme_as_cors_enabled("natter-media"),
            None => tracing::warn!("no WebKit security manager: video posters stay placeholders"),
        }
    });
    if let Err(e) = done {
        tracing::warn!(error = %e, "could not reach the web view: video posters stay placeholders");
    }
}

#[cfg(not(target_os = "linux"))]
fn allow_media_cors(_window: &tauri::WebviewWindow) {}

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// Fails when `ui/src/lib/bindings.ts` no longer matches the Rust commands and types.
    /// `NATTER_WRITE_BINDINGS=1` (or `./x bindings`) rewrites it instead.
    #[test]
    fn bindings_are_up_to_date() {
        let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/src/lib/bindings.ts");
        if std::env::var_os("NATTER_WRITE_BINDINGS").is_some() {
            super::export_bindings(&committed).expect("write bindings");
            return;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let fresh = dir.path().join("bindings.ts");
        super::export_bindings(&fresh).expect("export bindings");
        let fresh = std::fs::read_to_string(fresh).expect("read fresh bindings");
        let old = std::fs::read_to_string(&committed).unwrap_or_default();
        assert!(
            fresh == old,
            "ui/src/lib/bindings.ts is stale: run `./x bindings` and commit the result"
        );
    }
}
