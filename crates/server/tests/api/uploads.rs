//! Resumable uploads over the real API (`/v1/uploads/{id}`): a photo's upload continues after
//! the connection drops mid-piece, one request at a time writes an upload even across
//! instances, a finished upload is judged like any other, and an abandoned one is swept.

use std::time::Duration;

use image::ImageFormat;
use natter_protocol::MediaInfo;
use serde_json::Value;
use tokio::io::AsyncWriteExt as _;
use uuid::Uuid;

use crate::album::{encode, fetch, jpeg, picture};
use crate::harness::{Harness, User};

fn offset(resp: &reqwest::Response) -> u64 {
    resp.headers()["upload-offset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

pub(crate) async fn piece(
    user: &User,
    id: Uuid,
    at: u64,
    length: u64,
    bytes: &[u8],
) -> reqwest::Response {
    user.request(reqwest::Method::PATCH, &format!("/v1/uploads/{id}"))
        .header("upload-offset", at)
        .header("upload-length", length)
        .header("content-type", "application/offset+octet-stream")
        .body(bytes.to_vec())
        .send()
        .await
        .expect("request reaches the server")
}

async fn head(user: &User, id: Uuid) -> reqwest::Response {
    user.request(reqwest::Method::HEAD, &format!("/v1/uploads/{id}"))
        .send()
        .await
        .expect("request reaches the server")
}

#[tokio::test]
async fn a_resumable_upload_continues_after_the_connection_drops_mid_piece() {
    let h = Harness::new().await;
    let (alice, bob) = (h.user("alice").await, h.user("bob").await);
    // a 2000×1500 PNG of noise: about 5 MB, sent in 1 MiB pieces
    let file = encode(&picture(2000, 1500, 7), ImageFormat::Png);
    let length = file.len() as u64;
    assert!(length > 3 << 20, "fixture too small: {length}");
    let id = Uuid::now_v7();
    const PIECE: usize = 1 << 20;

    assert_eq!(head(&alice, id).await.status(), 404, "nothing yet");
    let r = piece(&alice, id, 0, length, &file[..PIECE]).await;
    assert_eq!(r.status(), 204);
    assert_eq!(offset(&r), PIECE as u64);

    // The next piece is cut off: the client announces 1 MiB, sends 300 KB and disappears.
    let addr = alice.base.trim_start_matches("http://").to_string();
    let mut tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head_text = format!(
        "PATCH /v1/uploads/{id} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\n\
         Upload-Offset: {PIECE}\r\nUpload-Length: {length}\r\n\
         Content-Type: application/offset+octet-stream\r\nContent-Length: {PIECE}\r\n\r\n",
        alice.token.as_deref().unwrap()
    );
    tcp.write_all(head_text.as_bytes()).await.unwrap();
    tcp.write_all(&file[PIECE..PIECE + 300_000]).await.unwrap();
    tcp.flush().await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    drop(tcp);

    // The server kept what arrived; the client asks and goes on from there.
    let mut at = 0;
    for _ in 0..50 {
        let r = head(&alice, id).await;
        assert_eq!(r.status(), 200);
        assert_eq!(
            r.headers()["upload-length"].to_str().unwrap(),
            length.to_string()
        );
        at = offset(&r);
        if at > PIECE as u64 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        at,
        PIECE as u64 + 300_000,
        "the bytes that arrived before the drop are kept"
    );

    // A piece at the wrong offset is refused with where the server stands.
    let r = piece(&alice, id, 0, length, &file[..1000]).await;
    assert_eq!(r.status(), 409);
    assert_eq!(offset(&r), at);
    // Someone else cannot see or add to it.
    assert_eq!(head(&bob, id).await.status(), 404);
    let r = piece(&bob, id, at, length, &file[at as usize..at as usize + 10]).await;
    assert_eq!(r.status(), 409);

    let mut info = None;
    while at < length {
        let end = (at as usize + PIECE).min(file.len());
        let r = piece(&alice, id, at, length, &file[at as usize..end]).await;
        match r.status().as_u16() {
            204 => at = offset(&r),
            201 => {
                info = Some(r.json::<MediaInfo>().await.unwrap());
                at = length;
            }
            other => panic!("piece at {at}: {other} {}", r.text().await.unwrap()),
        }
    }
    let info = info.expect("the last piece completes the upload");
    assert_eq!(
        (info.width, info.height, info.size as u64),
        (2000, 1500, length)
    );
    assert_eq!(info.content_type, "image/png");
    let stored = fetch(&alice, id).await.bytes().await.unwrap();
    assert!(
        stored == file,
        "the stored file is the original, byte for byte"
    );
    // Asking again after completion says it is all there; another piece is a no-op.
    let r = head(&alice, id).await;
    assert_eq!(offset(&r), length);
    assert_eq!(piece(&alice, id, length, length, &[]).await.status(), 200);
}

/// Two instances behind one address: a piece still arriving through one instance cannot be
/// overwritten by a piece sent through the other (a retry that took another route); the
/// second is told where the upload stands, and the upload goes on through either.
#[tokio::test]
async fn one_request_at_a_time_writes_an_upload_across_instances() {
    let h = Harness::new().await;
    let other = h.another_instance(|_| {}).await;
    let alice = h.user("alice").await;
    let mut alice_b = alice.clone();
    alice_b.api.base = other.url();
    let file = encode(&picture(1200, 900, 3), ImageFormat::Png);
    let length = file.len() as u64;
    const PIECE: usize = 1 << 20;
    assert!(length > PIECE as u64, "fixture too small: {length}");
    let id = Uuid::now_v7();

    // Through instance A: a 1 MiB piece of which only 300 KB has arrived so far.
    let addr = alice.base.trim_start_matches("http://").to_string();
    let mut tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head_text = format!(
        "PATCH /v1/uploads/{id} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\n\
         Upload-Offset: 0\r\nUpload-Length: {length}\r\n\
         Content-Type: application/offset+octet-stream\r\nContent-Length: {PIECE}\r\n\r\n",
        alice.token.as_deref().unwrap()
    );
    tcp.write_all(head_text.as_bytes()).await.unwrap();
    tcp.write_all(&file[..300_000]).await.unwrap();
    tcp.flush().await.unwrap();

    // Through instance B, the same piece again (a retry on another route): refused while A
    // writes, with where the upload stands. A has begun once the upload exists (it claims the
    // upload before it records it).
    for _ in 0..100 {
        if head(&alice_b, id).await.status() == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let refused = piece(&alice_b, id, 0, length, &file[..PIECE]).await;
    assert_eq!(refused.status(), 409);
    assert_eq!(offset(&refused), 0);
    let why: Value = refused.json().await.unwrap();
    assert_eq!(why["code"], "upload_offset_mismatch");
    assert!(
        why["message"]
            .as_str()
            .unwrap()
            .contains("another request is writing"),
        "{why}"
    );

    // A's piece completes: 204 at 1 MiB.
    tcp.write_all(&file[300_000..PIECE]).await.unwrap();
    tcp.flush().await.unwrap();
    let mut answer = vec![0u8; 4096];
    let n = tokio::time::timeout(
        Duration::from_secs(20),
        tokio::io::AsyncReadExt::read(&mut tcp, &mut answer),
    )
    .await
    .expect("A answers")
    .unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]).to_lowercase();
    assert!(answer.starts_with("http/1.1 204"), "{answer}");
    assert!(
        answer.contains(&format!("upload-offset: {PIECE}")),
        "{answer}"
    );
    drop(tcp);

    // The rest goes through B at once: the claim was given up with A's answer.
    let r = piece(&alice_b, id, PIECE as u64, length, &file[PIECE..]).await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let stored = fetch(&alice, id).await.bytes().await.unwrap();
    assert!(
        stored == file,
        "the stored file is the original, byte for byte"
    );
    other.shutdown().await.expect("B stops");
}

#[tokio::test]
async fn a_resumable_upload_that_is_not_a_photo_is_refused_at_the_end() {
    let h = Harness::new().await;
    let alice = h.user("alice").await;
    let junk = vec![0x5a; 300_000];
    let id = Uuid::now_v7();
    let r = piece(&alice, id, 0, junk.len() as u64, &junk).await;
    assert_eq!(r.status(), 422);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "bad_request");
    assert_eq!(
        head(&alice, id).await.status(),
        404,
        "the refused upload is forgotten"
    );
    assert_eq!(fetch(&alice, id).await.status(), 404);
    // Over the video limit is refused before any byte is read.
    let r = piece(&alice, Uuid::now_v7(), 0, 200 << 20, b"x").await;
    assert_eq!(r.status(), 413);
}

#[tokio::test]
async fn an_abandoned_upload_is_swept_and_its_partial_file_removed() {
    let h = Harness::with(|c| {
        // Long enough that a piece every 200 ms keeps `active` alive on a busy machine.
        c.upload_ttl = Duration::from_millis(1_500);
        c.upload_sweep_every = Duration::from_millis(100);
    })
    .await;
    let alice = h.user("alice").await;
    let photo = jpeg(1600, 1200, 7);
    let half = photo.len() / 2;
    let (abandoned, active) = (Uuid::now_v7(), Uuid::now_v7());
    for id in [abandoned, active] {
        let r = piece(&alice, id, 0, photo.len() as u64, &photo[..half]).await;
        assert_eq!(r.status(), 204);
    }
    assert!(h.partial_upload_stored(abandoned).await && h.partial_upload_stored(active).await);
    // `active` keeps receiving (a slow phone); `abandoned` gets nothing more
    let start = tokio::time::Instant::now();
    let mut at = half as u64;
    while start.elapsed() < Duration::from_millis(3_500) {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let end = (at as usize + 1_000).min(photo.len() - 1);
        let r = piece(
            &alice,
            active,
            at,
            photo.len() as u64,
            &photo[at as usize..end],
        )
        .await;
        assert_eq!(r.status(), 204, "the active upload was swept");
        at = end as u64;
    }
    assert_eq!(head(&alice, abandoned).await.status(), 404, "still kept");
    assert!(
        !h.partial_upload_stored(abandoned).await,
        "the partial upload is still stored"
    );
    // the client that comes back starts over, and that works
    let r = piece(&alice, abandoned, 0, photo.len() as u64, &photo).await;
    assert_eq!(r.status(), 201);
    // the active one finishes
    let r = piece(
        &alice,
        active,
        at,
        photo.len() as u64,
        &photo[at as usize..],
    )
    .await;
    assert_eq!(r.status(), 201);
    assert_eq!(fetch(&alice, active).await.bytes().await.unwrap(), photo);
}
