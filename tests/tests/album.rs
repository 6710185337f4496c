//! Albums between real clients and a real server: picked files prepared on the device, edits
//! applied when sending, the album shown at once and delivered with its caption, thumbnails
//! and photos fetched by the other side, and an upload cut off mid-way that resumes where it
//! stopped instead of starting over.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use image::{ImageFormat, Rgb, RgbImage};
use natter_core::protocol::limits::UPLOAD_CHUNK_BYTES;
use natter_core::protocol::{ErrorCode, MediaKind};
use natter_core::{AlbumItemDraft, MessageStatus, MessageView, StageInput};
use natter_tests::proxy::{Mode, Proxy};
use natter_tests::{eventually, send_recv, Harness, TestClient};
use uuid::Uuid;

/// A photo with a red left half and a blue right half, `w`×`h`, with strong grain so that,
/// when `noisy`, even the prepared JPEG stays over a megabyte at 2048×1536 (three upload pieces).
fn photo(dir: &Path, name: &str, w: u32, h: u32, noisy: bool) -> PathBuf {
    let mut n = 0x9e37_79b9u32;
    let img = RgbImage::from_fn(w, h, |x, _| {
        n ^= n << 13;
        n ^= n >> 17;
        n ^= n << 5;
        let v = if noisy { (n % 160) as u8 } else { 0 };
        if x < w / 2 {
            Rgb([220u8.saturating_add(v / 4), v, v])
        } else {
            Rgb([v, v, 220u8.saturating_add(v / 4)])
        }
    });
    let mut bytes = Cursor::new(Vec::new());
    img.write_to(&mut bytes, ImageFormat::Jpeg).expect("encode");
    let path = dir.join(name);
    std::fs::write(&path, bytes.into_inner()).expect("write photo");
    path
}

/// Decodes a cached file by its content (cached files are named by id, with no extension).
fn open_image(path: &Path) -> RgbImage {
    image::ImageReader::open(path)
        .and_then(|r| r.with_guessed_format())
        .expect("open the cached file")
        .decode()
        .expect("decode the cached file")
        .to_rgb8()
}

async fn stage(who: &TestClient, conv: Uuid, paths: &[PathBuf]) -> Vec<Uuid> {
    let results = who
        .client
        .stage_media(
            conv,
            paths.iter().cloned().map(StageInput::Path).collect(),
            false,
        )
        .await
        .expect("stage");
    results
        .iter()
        .map(|r| {
            r.item
                .as_ref()
                .unwrap_or_else(|| panic!("{} refused: {:?}", r.name, r.error))
                .id
        })
        .collect()
}

fn drafts(ids: &[Uuid]) -> Vec<AlbumItemDraft> {
    ids.iter()
        .map(|&staged_id| AlbumItemDraft {
            staged_id,
            edits: Default::default(),
            video: None,
        })
        .collect()
}

async fn album_arrives(who: &TestClient, conv: Uuid, caption: &str) -> MessageView {
    eventually(&format!("{} sees the album", who.name), || async {
        let msgs = who.client.messages(conv, None, 50).await.ok()?;
        msgs.into_iter()
            .find(|m| !m.media.is_empty() && m.text == caption)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_album_with_an_edited_photo_and_a_caption_reaches_the_other_side() {
    let h = Harness::new().await;
    let alice = h.alice().await;
    let bob = h.bob().await;
    let conv = alice.chat_with(&bob).await;
    let files = tempfile::tempdir().unwrap();

    // Media cannot open a conversation: refused on the device with the server's code.
    let first = photo(files.path(), "first.jpg", 400, 300, false);
    let ids = stage(&alice, conv, &[first]).await;
    let err = alice
        .client
        .send_album(conv, drafts(&ids), "", false)
        .await
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::MediaNotAllowedFirstMessage);
    send_recv(&bob, &alice, "show me").await;

    let paths: Vec<_> = (0..4)
        .map(|i| photo(files.path(), &format!("p{i}.jpg"), 1200, 800, false))
        .collect();
    let ids = stage(&alice, conv, &paths).await;
    let mut items = drafts(&ids);
    // the third one turned a quarter clockwise: red ends up on top
    items[2].edits.rotate = 1;
    let sent = alice
        .client
        .send_album(conv, items, "the <b>harbour</b>", false)
        .await
        .expect("send the album");
    // shown at once, in its final shape, with placeholders and nothing uploaded yet
    assert_eq!(sent.status, MessageStatus::Sending);
    assert_eq!(sent.media.len(), 4);
    assert_eq!((sent.media[0].width, sent.media[0].height), (1200, 800));
    assert_eq!((sent.media[2].width, sent.media[2].height), (800, 1200));
    assert!(sent
        .media
        .iter()
        .all(|m| m.blurhash.len() >= 6 && m.kind == MediaKind::Image));

    let got = album_arrives(&bob, conv, "the <b>harbour</b>").await;
    assert_eq!(got.media.len(), 4);
    let order: Vec<_> = got.media.iter().map(|m| m.media_id).collect();
    assert_eq!(
        order,
        sent.media.iter().map(|m| m.media_id).collect::<Vec<_>>()
    );
    eventually("alice's album is accepted", || async {
        let m = alice.client.message(sent.id).await.ok()??;
        (m.seq.is_some() && m.media.iter().all(|i| i.uploaded_bytes.is_none())).then_some(())
    })
    .await;

    // bob fetches the thumbnail, then the photo; the turned one is upright as alice saw it
    let turned = &got.media[2];
    let (thumb, mime) = bob
        .client
        .album_file(turned.thumbnail_id)
        .await
        .expect("thumb");
    assert_eq!(mime, "image/jpeg");
    let thumb = image::load_from_memory(&std::fs::read(&thumb).unwrap()).unwrap();
    assert!(thumb.width().max(thumb.height()) <= 320);
    let (full, mime) = bob.client.album_file(turned.media_id).await.expect("photo");
    assert_eq!(mime, "image/jpeg");
    let full = image::load_from_memory(&std::fs::read(&full).unwrap())
        .unwrap()
        .to_rgb8();
    assert_eq!(full.dimensions(), (800, 1200));
    let top = full.get_pixel(400, 100);
    let bottom = full.get_pixel(400, 1100);
    assert!(
        top[0] > 150 && top[2] < 100,
        "red on top after the turn: {top:?}"
    );
    assert!(bottom[2] > 150 && bottom[0] < 100, "blue below: {bottom:?}");

    // save all: every item lands in the folder
    let out = tempfile::tempdir().unwrap();
    assert_eq!(bob.client.save_album(got.id, out.path()).await.unwrap(), 4);
    assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_files_are_refused_before_anything_is_sent() {
    let h = Harness::new().await;
    let alice = h.alice().await;
    let bob = h.bob().await;
    let conv = alice.chat_with(&bob).await;
    send_recv(&bob, &alice, "hi").await;
    let files = tempfile::tempdir().unwrap();
    let paths: Vec<_> = (0..10)
        .map(|i| photo(files.path(), &format!("p{i}.jpg"), 200, 150, false))
        .collect();
    let results = alice
        .client
        .stage_media(
            conv,
            paths.into_iter().map(StageInput::Path).collect(),
            false,
        )
        .await
        .unwrap();
    assert!(results[..9].iter().all(|r| r.item.is_some()));
    assert_eq!(
        results[9].error.as_ref().map(|e| e.code),
        Some(ErrorCode::TooManyItems)
    );
    // a file that is not a photo gets its own error; the others are fine
    let fake = files.path().join("holiday.jpg");
    std::fs::write(&fake, b"<html>not a photo</html>").unwrap();
    let results = alice
        .client
        .stage_media(conv, vec![StageInput::Path(fake)], false)
        .await
        .unwrap();
    assert_eq!(
        results[0].error.as_ref().map(|e| e.code),
        Some(ErrorCode::InvalidImage)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_cut_off_mid_way_resumes_where_it_stopped() {
    let h = Harness::new().await;
    let proxy = Proxy::start(h.server.addr()).await;
    let alice = h.user_via("alice", &proxy.url()).await;
    let bob = h.bob().await;
    let conv = alice.chat_with(&bob).await;
    send_recv(&bob, &alice, "send it").await;
    let files = tempfile::tempdir().unwrap();
    // noise keeps the prepared JPEG large: several 512 KiB pieces
    let big = photo(files.path(), "big.jpg", 2048, 1536, true);
    let ids = stage(&alice, conv, &[big]).await;

    let before = proxy.upstream_bytes();
    const BUDGET: i64 = 800_000;
    proxy.cut_after(BUDGET);
    let sent = alice
        .client
        .send_album(conv, drafts(&ids), "big one", false)
        .await
        .unwrap();
    let size = u64::from(sent.media[0].size);
    assert!(
        size > 2 * UPLOAD_CHUNK_BYTES as u64,
        "fixture too small to need several pieces: {size}"
    );
    // the cut happens mid-upload; part of the file is on the server
    eventually("the connection is cut mid-upload", || async {
        let m = alice.client.message(sent.id).await.ok()??;
        m.media[0].uploaded_bytes.filter(|&b| b > 0).map(|_| ())
    })
    .await;
    assert_eq!(
        alice.client.message(sent.id).await.unwrap().unwrap().status,
        MessageStatus::Sending
    );
    proxy.set(Mode::Pass);
    alice.client.sync_now().await.ok();
    album_arrives(&bob, conv, "big one").await;
    let up = proxy.upstream_bytes() - before;
    // Starting over would send the budget plus the whole file again; resuming sends the
    // budget plus only what was missing (and a little HTTP around it).
    assert!(
        up < BUDGET as u64 + size - 400_000,
        "{up} bytes went up for a {size}-byte file: the upload started over"
    );
    let (file, _) = bob.client.album_file(sent.media[0].media_id).await.unwrap();
    assert_eq!(std::fs::metadata(file).unwrap().len(), size);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_text_written_while_an_album_uploads_goes_ahead_of_it() {
    let h = Harness::new().await;
    let proxy = Proxy::start(h.server.addr()).await;
    let alice = h.user_via("alice", &proxy.url()).await;
    let bob = h.bob().await;
    let conv = alice.chat_with(&bob).await;
    send_recv(&bob, &alice, "send the photo").await;
    let files = tempfile::tempdir().unwrap();
    let big = photo(files.path(), "big.jpg", 2048, 1536, true);
    let ids = stage(&alice, conv, &[big]).await;

    // A poor network: about 10 s for the photo.
    proxy.throttle(120_000);
    let album = alice
        .client
        .send_album(conv, drafts(&ids), "the slow one", false)
        .await
        .unwrap();
    assert!(
        album.media[0].size > 900_000,
        "fixture too small to be slow: {}",
        album.media[0].size
    );
    let text = alice.send(conv, "photo is coming").await;

    // The text arrives while the album is still uploading.
    bob.wait_for_text(conv, "photo is coming").await;
    let now = alice.client.message(album.id).await.unwrap().unwrap();
    assert_eq!(now.status, MessageStatus::Sending, "the album was not held");
    let uploaded = now.media[0].uploaded_bytes.unwrap_or(0);
    assert!(
        uploaded < album.media[0].size,
        "the album finished first ({uploaded} bytes up)"
    );
    assert!(
        bob.messages(conv).await.iter().all(|m| m.media.is_empty()),
        "bob got the album before the text"
    );

    proxy.set(Mode::Pass);
    let got = album_arrives(&bob, conv, "the slow one").await;
    alice.wait_until_accepted(album.id).await;
    let text_seq = bob.wait_for_text(conv, "photo is coming").await.seq;
    assert!(
        got.seq > text_seq,
        "order on bob's side: {text_seq:?} then {:?}",
        got.seq
    );
    alice.wait_until_accepted(text.id).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_restarted_mid_upload_resumes_from_the_servers_copy() {
    let h = Harness::new().await;
    let proxy = Proxy::start(h.server.addr()).await;
    let alice = h.user_via("alice", &proxy.url()).await;
    let bob = h.bob().await;
    let conv = alice.chat_with(&bob).await;
    send_recv(&bob, &alice, "send it").await;
    let files = tempfile::tempdir().unwrap();
    let big = photo(files.path(), "big.jpg", 2048, 1536, true);
    let ids = stage(&alice, conv, &[big]).await;

    let before = proxy.upstream_bytes();
    const BUDGET: i64 = 800_000;
    proxy.cut_after(BUDGET);
    let sent = alice
        .client
        .send_album(conv, drafts(&ids), "after a restart", false)
        .await
        .unwrap();
    let size = u64::from(sent.media[0].size);
    eventually("the connection is cut mid-upload", || async {
        let m = alice.client.message(sent.id).await.ok()??;
        m.media[0].uploaded_bytes.filter(|&b| b > 0).map(|_| ())
    })
    .await;
    // The app is closed mid-upload and opened again once the network is back.
    alice.quit().await;
    proxy.set(Mode::Pass);
    let alice = h.reopen("alice").await;
    let got = album_arrives(&bob, conv, "after a restart").await;
    alice.wait_until_accepted(sent.id).await;
    let up = proxy.upstream_bytes() - before;
    assert!(
        up < BUDGET as u64 + size - 400_000,
        "{up} bytes went up for a {size}-byte file: the upload started over after the restart"
    );
    let (file, _) = bob.client.album_file(got.media[0].media_id).await.unwrap();
    assert_eq!(std::fs::metadata(file).unwrap().len(), size);
}

/// A clip made by ffmpeg: `secs` seconds of a test picture (a keyframe every second) and,
/// unless `silent`, a tone; with a title and a location that must never reach anyone.
fn clip(dir: &Path, name: &str, secs: u32, codec: &[&str]) -> PathBuf {
    let path = dir.join(name);
    let d = secs.to_string();
    let status = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg(format!("testsrc2=size=320x240:rate=30:duration={d}"))
        .args(["-f", "lavfi", "-i"])
        .arg(format!("sine=frequency=440:duration={d}"))
        .args(codec)
        .args(["-g", "30", "-metadata", "title=SECRET-TITLE"])
        .args(["-metadata", "location=+48.8584+002.2945/"])
        .arg(&path)
        .status()
        .expect("ffmpeg (Debian package ffmpeg) must be installed");
    assert!(status.success(), "ffmpeg failed to make {name}");
    path
}

/// What `ffprobe` (an independent reader) says of a file: its streams' types and duration.
fn ffprobe(path: &Path) -> (Vec<String>, f64) {
    let out = std::process::Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=codec_type:format=duration",
        ])
        .args(["-of", "json"])
        .arg(path)
        .output()
        .expect("ffprobe");
    assert!(out.status.success(), "ffprobe refused {}", path.display());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let streams = v["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["codec_type"].as_str().unwrap_or("").to_string())
        .collect();
    let duration = v["format"]["duration"]
        .as_str()
        .and_then(|d| d.parse().ok())
        .unwrap_or(0.0);
    (streams, duration)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trimmed_muted_video_and_a_photo_arrive_as_one_album() {
    let h = Harness::new().await;
    let alice = h.alice().await;
    let bob = h.bob().await;
    let conv = alice.chat_with(&bob).await;
    send_recv(&bob, &alice, "show me").await;
    let files = tempfile::tempdir().unwrap();
    let video = clip(
        files.path(),
        "trip.mp4",
        6,
        &["-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac"],
    );
    let pic = photo(files.path(), "pic.jpg", 800, 600, false);
    let ids = stage(&alice, conv, &[video, pic]).await;
    let staged = alice.client.messages(conv, None, 1).await.unwrap();
    assert!(
        staged.iter().all(|m| m.media.is_empty()),
        "staging sent something"
    );

    let mut items = drafts(&ids);
    items[0].video = Some(natter_core::VideoEdits {
        trim_start_ms: Some(2_500),
        trim_end_ms: Some(5_000),
        mute: true,
    });
    let sent = alice
        .client
        .send_album(conv, items, "trimmed", false)
        .await
        .unwrap();
    assert_eq!(sent.media[0].kind, MediaKind::Video);
    // cut back to the keyframe at 2 s, up to 5 s
    let ms = sent.media[0].duration_ms;
    assert!((2_900..=3_100).contains(&ms), "sent duration {ms} ms");

    let got = album_arrives(&bob, conv, "trimmed").await;
    assert_eq!(
        got.media.iter().map(|m| m.kind).collect::<Vec<_>>(),
        [MediaKind::Video, MediaKind::Image]
    );
    assert_eq!(got.media[0].mime, "video/mp4");
    assert_eq!((got.media[0].width, got.media[0].height), (320, 240));
    let (file, _) = bob.client.album_file(got.media[0].media_id).await.unwrap();
    let (streams, secs) = ffprobe(&file);
    assert_eq!(streams, ["video"], "muted video still has sound");
    assert!((2.8..=3.2).contains(&secs), "bob's video lasts {secs} s");
    let bytes = std::fs::read(&file).unwrap();
    for secret in [&b"SECRET-TITLE"[..], b"+48.8584"] {
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret),
            "metadata reached bob"
        );
    }
    // the poster is the clip's first frame, not a blank placeholder
    let (thumb, mime) = bob
        .client
        .album_file(got.media[0].thumbnail_id)
        .await
        .unwrap();
    assert_eq!(mime, "image/jpeg");
    let img = open_image(&thumb);
    let colours: std::collections::HashSet<_> = img.pixels().map(|p| p.0).collect();
    assert!(
        colours.len() > 50,
        "the poster is flat: {} colours",
        colours.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_video_this_device_cannot_decode_takes_its_poster_from_the_platform() {
    let h = Harness::new().await;
    let alice = h.alice().await;
    let bob = h.bob().await;
    let conv = alice.chat_with(&bob).await;
    send_recv(&bob, &alice, "a webm?").await;
    let files = tempfile::tempdir().unwrap();
    let webm = clip(
        files.path(),
        "screen.webm",
        2,
        &[
            "-c:v",
            "libvpx-vp9",
            "-deadline",
            "realtime",
            "-c:a",
            "libopus",
        ],
    );
    let results = alice
        .client
        .stage_media(conv, vec![StageInput::Path(webm)], false)
        .await
        .unwrap();
    let item = results[0].item.clone().expect("the webm is staged");
    assert!(
        item.placeholder,
        "VP9 has no decoder here: a placeholder is expected"
    );

    let png = |w: u32, h: u32| {
        let img = RgbImage::from_pixel(w, h, Rgb([20, 200, 40]));
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, ImageFormat::Png).unwrap();
        out.into_inner()
    };
    // a frame of another shape is not this video's
    let wrong = alice.client.set_staged_poster(item.id, png(300, 300)).await;
    assert_eq!(
        wrong.unwrap_err().to_api().code,
        ErrorCode::InvalidImage,
        "a square poster for a 4:3 video"
    );
    let garbage = alice
        .client
        .set_staged_poster(item.id, b"<html>".to_vec())
        .await;
    assert!(garbage.is_err());
    let fixed = alice
        .client
        .set_staged_poster(item.id, png(320, 240))
        .await
        .unwrap();
    assert!(!fixed.placeholder);
    assert_ne!(fixed.blurhash, item.blurhash);

    alice
        .client
        .send_album(conv, drafts(&[item.id]), "green", false)
        .await
        .unwrap();
    let got = album_arrives(&bob, conv, "green").await;
    assert_eq!(got.media[0].mime, "video/webm");
    let (thumb, _) = bob
        .client
        .album_file(got.media[0].thumbnail_id)
        .await
        .unwrap();
    let img = open_image(&thumb);
    let p = img.get_pixel(img.width() / 2, img.height() / 2).0;
    assert!(
        p[1] > 150 && p[0] < 80 && p[2] < 100,
        "bob's poster is {p:?}, not green"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staged_files_left_by_a_crashed_composer_are_swept_at_the_next_start() {
    let h = Harness::new().await;
    let alice = h.alice().await;
    let bob = h.bob().await;
    let conv = alice.chat_with(&bob).await;
    send_recv(&bob, &alice, "hi").await;
    let files = tempfile::tempdir().unwrap();
    let paths = [
        photo(files.path(), "old.jpg", 640, 480, false),
        photo(files.path(), "new.jpg", 640, 480, false),
    ];
    let ids = stage(&alice, conv, &paths).await;
    let staging = h.profile("alice").join("staging");
    let old = staging.join(ids[0].to_string());
    // staged two days ago and never sent
    let two_days = std::time::SystemTime::now() - std::time::Duration::from_secs(2 * 86_400);
    std::fs::File::open(&old)
        .unwrap()
        .set_modified(two_days)
        .unwrap();
    alice.quit().await;
    let alice = h.reopen("alice").await;
    eventually("the old staged photo is swept", || async {
        (!old.exists()).then_some(())
    })
    .await;
    assert!(
        staging.join(ids[1].to_string()).exists(),
        "today's staged photo was swept"
    );
    // the one kept can still be sent
    alice
        .client
        .send_album(conv, drafts(&ids[1..]), "kept", false)
        .await
        .unwrap();
    album_arrives(&bob, conv, "kept").await;
}
