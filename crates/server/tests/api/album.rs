//! Albums over the real API: photos and thumbnails judged by their content, up to 9 items
//! sent in one message, fetched only by members, and no metadata kept. Resumable uploads are
//! in `uploads.rs`.

use std::io::Cursor;

use image::{ImageFormat, Rgb, RgbImage};
use natter_protocol::{MediaInfo, Message, ServerEvent};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::harness::{Api, Harness, Resp, User};
use crate::uploads::piece;

/// A photo-like picture (gradients and noise, so it does not compress to nothing).
pub(crate) fn picture(w: u32, h: u32, seed: u32) -> RgbImage {
    let mut n = seed.wrapping_mul(2_654_435_761).max(1);
    RgbImage::from_fn(w, h, |x, y| {
        n ^= n << 13;
        n ^= n >> 17;
        n ^= n << 5;
        let v = (n % 32) as u8;
        Rgb([
            (x * 255 / w) as u8 ^ v,
            (y * 255 / h) as u8,
            (seed * 40) as u8 ^ v,
        ])
    })
}

pub(crate) fn encode(img: &RgbImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, format).expect("encode");
    out.into_inner()
}

pub(crate) fn jpeg(w: u32, h: u32, seed: u32) -> Vec<u8> {
    encode(&picture(w, h, seed), ImageFormat::Jpeg)
}

pub(crate) async fn put(api: &Api, id: Uuid, bytes: Vec<u8>, content_type: &str) -> Resp {
    Api::send(
        api.request(reqwest::Method::PUT, &format!("/v1/media/{id}"))
            .header("content-type", content_type)
            .body(bytes),
    )
    .await
}

/// Uploads a photo and its thumbnail; returns the attachment JSON.
pub(crate) async fn upload_item(user: &User, seed: u32) -> Value {
    let (media_id, thumbnail_id) = (Uuid::now_v7(), Uuid::now_v7());
    let r = put(user, media_id, jpeg(800, 600, seed), "image/jpeg").await;
    assert_eq!(r.status, 201, "{}", r.body);
    let info: MediaInfo = r.json();
    assert_eq!((info.width, info.height, info.duration_ms), (800, 600, 0));
    assert_eq!(info.content_type, "image/jpeg");
    let r = put(user, thumbnail_id, jpeg(320, 240, seed), "image/jpeg").await;
    assert_eq!(r.status, 201, "{}", r.body);
    json!({"media_id": media_id, "thumbnail_id": thumbnail_id, "blurhash": "LEHV6nWB2yk8pyo0adR*.7kCMdnj"})
}

pub(crate) async fn send_album(
    user: &User,
    conversation: Uuid,
    items: &[Value],
    caption: &str,
) -> Resp {
    user.post(
        &format!("/v1/conversations/{conversation}/messages"),
        json!({"id": Uuid::now_v7(), "text": caption, "media": items}),
    )
    .await
}

pub(crate) async fn fetch(user: &User, id: Uuid) -> reqwest::Response {
    user.request(reqwest::Method::GET, &format!("/v1/media/{id}"))
        .send()
        .await
        .expect("request reaches the server")
}

#[tokio::test]
async fn nine_photos_go_out_as_one_album_and_only_members_can_fetch_them() {
    let h = Harness::new().await;
    let (alice, bob, carol) = (
        h.user("alice").await,
        h.user("bob").await,
        h.user("carol").await,
    );
    let conv = alice.direct_with(&bob).await;
    bob.send_text(conv.id, "send me the holiday photos").await;
    let mut bob_ws = bob.ws().await;

    let mut items = Vec::new();
    for seed in 0..9 {
        items.push(upload_item(&alice, seed).await);
    }
    let r = send_album(&alice, conv.id, &items, "Lisbon, day 2 🌅").await;
    assert_eq!(r.status, 201, "{}", r.body);
    let sent: Message = r.json();
    assert_eq!(sent.text, "Lisbon, day 2 🌅");
    assert_eq!(sent.media.len(), 9);

    let ServerEvent::Message { message } = bob_ws.next_event().await else {
        panic!("bob expected the album");
    };
    assert_eq!(message.id, sent.id);
    assert_eq!(
        message.media, sent.media,
        "bob sees the same items in the same order"
    );
    for (item, want) in message.media.iter().zip(&items) {
        assert_eq!(
            item.media_id.to_string(),
            want["media_id"].as_str().unwrap()
        );
        assert_eq!((item.width, item.height), (800, 600));
        assert_eq!(item.content_type, "image/jpeg");
        assert!(item.size > 1000);
    }
    // history carries the album too
    let history = bob.history(conv.id, "").await;
    assert_eq!(history.last().unwrap().media, sent.media);

    // bob fetches thumbnails and photos; carol, not a member, learns nothing
    let first = &sent.media[0];
    for id in [first.thumbnail_id, first.media_id] {
        let got = fetch(&bob, id).await;
        assert_eq!(got.status(), 200);
        assert_eq!(got.headers()["content-type"], "image/jpeg");
        assert_eq!(got.headers()["x-content-type-options"], "nosniff");
        let bytes = got.bytes().await.unwrap();
        assert!(image::load_from_memory(&bytes).is_ok());
        assert_eq!(fetch(&carol, id).await.status(), 404);
    }
    let thumb =
        image::load_from_memory(&fetch(&bob, first.thumbnail_id).await.bytes().await.unwrap())
            .unwrap();
    assert_eq!((thumb.width(), thumb.height()), (320, 240));

    // an identical re-send is the same message, not a second album
    let again = alice
        .post(
            &format!("/v1/conversations/{}/messages", conv.id),
            json!({"id": sent.id, "text": "Lisbon, day 2 🌅", "media": items}),
        )
        .await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(bob.history(conv.id, "").await.len(), 2);
}

#[tokio::test]
async fn uploads_are_judged_by_their_content_and_nothing_bad_is_stored() {
    let h = Harness::new().await;
    let alice = h.user("alice").await;
    let png = encode(&picture(64, 48, 1), ImageFormat::Png);
    let good = jpeg(640, 480, 2);
    let mut truncated = good.clone();
    truncated.truncate(good.len() / 2);
    // A PNG whose header claims 100000×100000 pixels: refused from the header alone.
    let mut bomb = png.clone();
    bomb[16..20].copy_from_slice(&100_000u32.to_be_bytes());
    bomb[20..24].copy_from_slice(&100_000u32.to_be_bytes());
    let crc = crc32fast::hash(&bomb[12..29]);
    bomb[29..33].copy_from_slice(&crc.to_be_bytes());
    let cases: Vec<(&str, Vec<u8>, &str, u16, &str)> = vec![
        (
            "HTML declared as a JPEG",
            b"<html><script>alert(1)</script></html>".to_vec(),
            "image/jpeg",
            422,
            "invalid_image",
        ),
        (
            "noise declared as a photo",
            vec![0x42; 4096],
            "image/png",
            422,
            "invalid_image",
        ),
        (
            "a truncated JPEG",
            truncated,
            "image/jpeg",
            422,
            "invalid_image",
        ),
        (
            "a decompression bomb",
            bomb,
            "image/png",
            413,
            "media_too_large",
        ),
        (
            "a photo wider than 4096 px",
            jpeg(4100, 16, 3),
            "image/jpeg",
            422,
            "invalid_image",
        ),
        (
            "a photo declared as a voice note",
            good.clone(),
            "audio/ogg",
            422,
            "invalid_voice",
        ),
        (
            "a photo declared as a video",
            good.clone(),
            "video/mp4",
            422,
            "invalid_video",
        ),
        (
            "bytes of nothing known",
            vec![7; 100],
            "application/octet-stream",
            422,
            "bad_request",
        ),
    ];
    for (what, bytes, content_type, status, code) in cases {
        let id = Uuid::now_v7();
        let r = put(&alice, id, bytes, content_type).await;
        assert_eq!((r.status, r.code()), (status, code), "{what}: {}", r.body);
        assert_eq!(fetch(&alice, id).await.status(), 404, "{what} was stored");
    }
    // A PNG sent with a JPEG's type is stored as what it is.
    let id = Uuid::now_v7();
    let r = put(&alice, id, png, "image/jpeg").await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.json::<MediaInfo>().content_type, "image/png");
    assert_eq!(
        fetch(&alice, id).await.headers()["content-type"],
        "image/png"
    );
}

#[tokio::test]
async fn forged_albums_are_refused_and_change_nothing() {
    let h = Harness::new().await;
    let (alice, bob) = (h.user("alice").await, h.user("bob").await);
    let conv = alice.direct_with(&bob).await;
    let one = upload_item(&alice, 1).await;

    // media cannot be the first message
    send_album(&alice, conv.id, std::slice::from_ref(&one), "")
        .await
        .assert_error(403, "media_not_allowed_first_message");
    bob.send_text(conv.id, "hi").await;

    let mut ten = Vec::new();
    for seed in 0..10 {
        ten.push(upload_item(&alice, seed).await);
    }
    send_album(&alice, conv.id, &ten, "")
        .await
        .assert_error(422, "too_many_items");

    // bob's upload in alice's album
    let bobs = upload_item(&bob, 5).await;
    send_album(&alice, conv.id, &[one.clone(), bobs], "")
        .await
        .assert_error(404, "media_not_found");
    // an id nobody uploaded
    let ghost = json!({"media_id": Uuid::now_v7(), "thumbnail_id": Uuid::now_v7(), "blurhash": "LEHV6nWB2yk8pyo0adR*.7kCMdnj"});
    send_album(&alice, conv.id, &[ghost], "")
        .await
        .assert_error(404, "media_not_found");
    // a full-size photo passed off as a thumbnail
    let big = Uuid::now_v7();
    assert_eq!(
        put(&alice, big, jpeg(1200, 900, 9), "image/jpeg")
            .await
            .status,
        201
    );
    let fake_thumb = json!({"media_id": one["media_id"], "thumbnail_id": big, "blurhash": "LEHV6nWB2yk8pyo0adR*.7kCMdnj"});
    send_album(&alice, conv.id, &[fake_thumb], "")
        .await
        .assert_error(422, "invalid_image");
    // the same photo twice, a forged blurhash, a caption over 1,000 characters
    send_album(&alice, conv.id, &[one.clone(), one.clone()], "")
        .await
        .assert_error(422, "bad_request");
    let mut forged = one.clone();
    forged["blurhash"] = json!("<img src=x onerror=alert(1)>");
    send_album(&alice, conv.id, &[forged], "")
        .await
        .assert_error(422, "bad_request");
    send_album(
        &alice,
        conv.id,
        std::slice::from_ref(&one),
        &"x".repeat(1001),
    )
    .await
    .assert_error(422, "invalid_text");

    // nothing of that reached bob
    let history = bob.history(conv.id, "").await;
    assert_eq!(history.len(), 1, "{history:?}");
}

/// A camera's EXIF block: the maker and serial number in IFD0 and a GPS position
/// (48° 51′ 29″ N) in its own IFD, little-endian TIFF as phones write it.
fn camera_exif() -> Vec<u8> {
    let mut t = Vec::new();
    t.extend_from_slice(b"II\x2a\x00");
    t.extend_from_slice(&8u32.to_le_bytes());
    let entry = |t: &mut Vec<u8>, tag: u16, kind: u16, count: u32, value: [u8; 4]| {
        t.extend_from_slice(&tag.to_le_bytes());
        t.extend_from_slice(&kind.to_le_bytes());
        t.extend_from_slice(&count.to_le_bytes());
        t.extend_from_slice(&value);
    };
    let make = b"NatterCam SN-4242\0";
    // IFD0 at 8: Make (ASCII, at 38) and the GPS IFD's offset (56).
    t.extend_from_slice(&2u16.to_le_bytes());
    entry(&mut t, 0x010f, 2, make.len() as u32, 38u32.to_le_bytes());
    entry(&mut t, 0x8825, 4, 1, 56u32.to_le_bytes());
    t.extend_from_slice(&0u32.to_le_bytes());
    t.extend_from_slice(make);
    // GPS IFD at 56: latitude ref "N" (inline) and latitude (3 rationals at 86).
    t.extend_from_slice(&2u16.to_le_bytes());
    entry(&mut t, 0x0001, 2, 2, *b"N\0\0\0");
    entry(&mut t, 0x0002, 5, 3, 86u32.to_le_bytes());
    t.extend_from_slice(&0u32.to_le_bytes());
    for v in [48u32, 51, 29] {
        t.extend_from_slice(&v.to_le_bytes());
        t.extend_from_slice(&1u32.to_le_bytes());
    }
    assert_eq!(t.len(), 110);
    t
}

/// `jpeg` as a modified client would send it, skipping the app's preparation: with the
/// camera's EXIF (serial number, GPS) and a comment right after the start marker.
fn jpeg_with_metadata(w: u32, h: u32) -> Vec<u8> {
    let plain = jpeg(w, h, 7);
    let exif = [&b"Exif\0\0"[..], &camera_exif()].concat();
    let comment = b"SECRET-NOTE from the camera";
    let mut out = plain[..2].to_vec();
    out.extend_from_slice(&[0xff, 0xe1]);
    out.extend_from_slice(&(exif.len() as u16 + 2).to_be_bytes());
    out.extend_from_slice(&exif);
    out.extend_from_slice(&[0xff, 0xfe]);
    out.extend_from_slice(&(comment.len() as u16 + 2).to_be_bytes());
    out.extend_from_slice(comment);
    out.extend_from_slice(&plain[2..]);
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn a_photo_uploaded_with_its_location_is_stored_without_any_metadata() {
    let h = Harness::new().await;
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    let conv = alice.direct_with(&bob).await;
    bob.send_text(conv.id, "send me the photo").await;
    alice.send_text(conv.id, "here it comes").await;
    let forged = jpeg_with_metadata(640, 480);
    for secret in [&b"NatterCam"[..], b"SECRET-NOTE", b"Exif"] {
        assert!(contains(&forged, secret), "the fixture lacks its metadata");
    }

    // In one piece, and again as a resumable upload.
    let whole = Uuid::now_v7();
    let r = put(&alice, whole, forged.clone(), "image/jpeg").await;
    assert_eq!(r.status, 201, "{}", r.body);
    let info: MediaInfo = r.json();
    assert!((info.size as usize) < forged.len(), "nothing was removed");
    let again = put(&alice, whole, forged.clone(), "image/jpeg").await;
    assert_eq!(
        again.status, 200,
        "re-sending the same upload: {}",
        again.body
    );
    let resumed = Uuid::now_v7();
    let length = forged.len() as u64;
    let half = forged.len() / 2;
    assert_eq!(
        piece(&alice, resumed, 0, length, &forged[..half])
            .await
            .status(),
        204
    );
    let done = piece(&alice, resumed, half as u64, length, &forged[half..]).await;
    assert_eq!(done.status(), 201);
    // The client lost that answer and sends the last piece again: it gets the record.
    let retry = piece(&alice, resumed, half as u64, length, &forged[half..]).await;
    assert_eq!(
        retry.status(),
        200,
        "a re-sent last piece is not a conflict"
    );

    let mut items = Vec::new();
    for id in [whole, resumed] {
        let thumb = Uuid::now_v7();
        let r = put(&alice, thumb, jpeg(320, 240, 7), "image/jpeg").await;
        assert_eq!(r.status, 201, "{}", r.body);
        items.push(json!({"media_id": id, "thumbnail_id": thumb, "blurhash": "LEHV6nWB2yk8pyo0adR*.7kCMdnj"}));
    }
    let r = send_album(&alice, conv.id, &items, "").await;
    assert_eq!(r.status, 201, "{}", r.body);
    let sent: Message = r.json();
    for (id, item) in [whole, resumed].iter().zip(&sent.media) {
        let got = fetch(&bob, *id).await;
        assert_eq!(got.status(), 200);
        let bytes = got.bytes().await.unwrap();
        assert_eq!(
            bytes.len() as u32,
            item.size,
            "the album reports the stored size"
        );
        for secret in [&b"NatterCam"[..], b"SN-4242", b"SECRET-NOTE", b"Exif"] {
            assert!(
                !contains(&bytes, secret),
                "bob's copy still carries {secret:?}"
            );
        }
        let img = image::load_from_memory(&bytes).expect("still a JPEG");
        assert_eq!((img.width(), img.height()), (640, 480));
    }
}
