//! Albums between real clients and a real server: picked files prepared on the device, edits
//! applied when sending, the album shown at once and delivered with its caption, thumbnails
//! and photos fetched by the other side, and an upload cut off mid-way that resumes where it
//! stopped instead of starting over.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use image::{ImageFormat, Rgb, RgbImage};
use natter_core::protocol::{ErrorCode, MediaKind};
use natter_core::{AlbumItemDraft, MessageStatus, MessageView, StageInput};
use natter_tests::proxy::{Mode, Proxy};
use natter_tests::{eventually, send_recv, Harness, TestClient};
use uuid::Uuid;

/// A photo with a red left half and a blue right half, `w`×`h`, with noise so it is
/// camera-sized when `noisy`.
fn photo(dir: &Path, name: &str, w: u32, h: u32, noisy: bool) -> PathBuf {
    let mut n = 0x9e37_79b9u32;
    let img = RgbImage::from_fn(w, h, |x, _| {
        n ^= n << 13;
        n ^= n >> 17;
        n ^= n << 5;
        let v = if noisy { (n % 64) as u8 } else { 0 };
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
        size > 900_000,
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
