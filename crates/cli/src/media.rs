//! `natter media …`: prepare photos for an album with the same code the app uses.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::Subcommand;
use natter_media::{PrepareOptions, PreparedPhoto};
use natter_protocol::ErrorCode;
use serde::Serialize;

#[derive(Subcommand)]
pub enum MediaCommand {
    /// Prepare photos as the app sends them: upright, at most 2048 px (4096 with --hd) on the
    /// long edge, no metadata, plus a thumbnail and a blurhash. Formats are recognised by
    /// content (JPEG, PNG, WebP, GIF). Fails only when no file could be prepared.
    Prepare {
        /// The photos, in album order.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Directory the prepared photos and thumbnails are written to (created if missing).
        #[arg(long)]
        out: PathBuf,
        /// Keep up to 4096 px on the long edge.
        #[arg(long)]
        hd: bool,
        /// One JSON array, an object per input in order.
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(command: MediaCommand) -> anyhow::Result<()> {
    match command {
        MediaCommand::Prepare {
            files,
            out,
            hd,
            json,
        } => tokio::task::spawn_blocking(move || prepare(&files, &out, hd, json))
            .await
            .context("the photo task failed")?,
    }
}

#[derive(Serialize)]
#[serde(untagged)]
enum Item {
    Prepared {
        path: PathBuf,
        width: u32,
        height: u32,
        bytes: usize,
        mime: &'static str,
        /// The input was an animation; it still is when `mime` is `image/gif`, otherwise
        /// only its first frame was kept.
        animated: bool,
        blurhash: String,
        thumbnail: PathBuf,
    },
    Failed {
        error: ItemError,
    },
}

#[derive(Serialize)]
struct ItemError {
    code: &'static str,
    message: String,
}

fn prepare(files: &[PathBuf], out: &Path, hd: bool, json: bool) -> anyhow::Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    // Unreadable files become per-item errors; the readable ones are prepared in parallel.
    let mut inputs = Vec::with_capacity(files.len());
    let mut unreadable = Vec::with_capacity(files.len());
    for file in files {
        match std::fs::read(file) {
            Ok(bytes) => {
                inputs.push(bytes);
                unreadable.push(None);
            }
            Err(e) => {
                inputs.push(Vec::new());
                unreadable.push(Some(e));
            }
        }
    }
    let prepared = natter_media::prepare_many(&inputs, &PrepareOptions { hd });
    let mut names = HashSet::new();
    let mut items = Vec::with_capacity(files.len());
    for ((file, unreadable), result) in files.iter().zip(unreadable).zip(prepared) {
        let item = match (unreadable, result) {
            (Some(e), _) => failed(
                ErrorCode::BadRequest,
                format!("cannot read {}: {e}", file.display()),
            ),
            (None, Ok(photo)) => write(file, out, &photo, &mut names)
                .unwrap_or_else(|e| failed(ErrorCode::Internal, format!("{e:#}"))),
            (None, Err(e)) => failed(e.code(), e.to_string()),
        };
        if !json {
            println!("{}", human(file, &item));
        }
        items.push(item);
    }
    if json {
        println!("{}", serde_json::to_string(&items)?);
    }
    if !items.iter().any(|i| matches!(i, Item::Prepared { .. })) {
        bail!("no photo could be prepared");
    }
    Ok(())
}

fn failed(code: ErrorCode, message: String) -> Item {
    Item::Failed {
        error: ItemError {
            code: code.as_str(),
            message,
        },
    }
}

/// Writes `stem.jpg` (or `.webp`, `.gif`) and `stem.thumb.jpg` into `out`, with `-2`, `-3`… added when
/// two inputs share a name.
fn write(
    file: &Path,
    out: &Path,
    photo: &PreparedPhoto,
    names: &mut HashSet<String>,
) -> anyhow::Result<Item> {
    let stem = file
        .file_stem()
        .map_or_else(|| "photo".into(), |s| s.to_string_lossy().into_owned());
    let mut name = stem.clone();
    let mut n = 1;
    while !names.insert(name.clone()) {
        n += 1;
        name = format!("{stem}-{n}");
    }
    let ext = match photo.mime {
        "image/webp" => "webp",
        "image/gif" => "gif",
        _ => "jpg",
    };
    let path = out.join(format!("{name}.{ext}"));
    let thumbnail = out.join(format!("{name}.thumb.jpg"));
    std::fs::write(&path, &photo.bytes)
        .with_context(|| format!("cannot write {}", path.display()))?;
    std::fs::write(&thumbnail, &photo.thumbnail)
        .with_context(|| format!("cannot write {}", thumbnail.display()))?;
    Ok(Item::Prepared {
        path,
        width: photo.width,
        height: photo.height,
        bytes: photo.bytes.len(),
        mime: photo.mime,
        animated: photo.animated,
        blurhash: photo.blurhash.clone(),
        thumbnail,
    })
}

fn human(file: &Path, item: &Item) -> String {
    match item {
        Item::Prepared {
            path,
            width,
            height,
            bytes,
            mime,
            animated,
            ..
        } => format!(
            "{}: {width}×{height}, {bytes} bytes{} → {}",
            file.display(),
            match (animated, *mime) {
                (false, _) => "",
                (true, "image/gif") => ", animated",
                (true, _) => ", first frame of an animation",
            },
            path.display()
        ),
        Item::Failed { error } => format!("{}: refused: {}", file.display(), error.message),
    }
}
