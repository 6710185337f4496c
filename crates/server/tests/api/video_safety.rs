//! Videos and animations judged by their frames, not by the poster the sender chose: video
//! keyframes decoded by the frame worker (a separate process: the `natter-frames` binary
//! here), animated GIFs frame by frame in process. Explicit media comes from natter-safety's
//! abstract fixture (a pattern the model scores as explicit; nothing explicit is made).

use std::path::Path;
use std::time::{Duration, Instant};

use image::{Rgba, RgbaImage};
use natter_protocol::Message;
use natter_server::frames::FrameWorker;
use natter_server::ServerConfig;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::album::{fetch, jpeg, put, send_album};
use crate::harness::{Harness, User};
use crate::uploads::piece;

fn explicit_png_path() -> &'static str {
    concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../safety/tests/fixtures/explicit-by-search.png"
    )
}

/// The built `natter-frames` worker with the default limits.
fn real_worker(config: &mut ServerConfig) {
    config.frame_worker = Some(FrameWorker::new(env!("CARGO_BIN_EXE_natter-frames"), []));
}

/// Runs ffmpeg (`./x test` installs it) on `args`, writing `out` in `dir`.
fn ffmpeg(dir: &Path, args: &[&str], out: &str) -> Vec<u8> {
    let status = std::process::Command::new("ffmpeg")
        .args(["-loglevel", "error", "-y"])
        .args(args)
        .arg(dir.join(out))
        .status()
        .expect("ffmpeg runs (it is needed for these tests)");
    assert!(status.success(), "ffmpeg failed: {args:?}");
    std::fs::read(dir.join(out)).expect("ffmpeg's output")
}

/// Four seconds of H.264 MP4, a keyframe every second: 2 s of a plain colour, then (when
/// `explicit`) 2 s of the explicit fixture, else 2 s of another colour.
fn video(dir: &Path, explicit: bool) -> Vec<u8> {
    let second: Vec<&str> = if explicit {
        vec![
            "-loop",
            "1",
            "-framerate",
            "25",
            "-t",
            "2",
            "-i",
            explicit_png_path(),
        ]
    } else {
        vec!["-f", "lavfi", "-i", "color=c=0x40a060:s=256x256:r=25:d=2"]
    };
    let mut args = vec!["-f", "lavfi", "-i", "color=c=0x3070a0:s=256x256:r=25:d=2"];
    args.extend(second);
    args.extend([
        "-filter_complex",
        "[0:v]format=yuv420p,setsar=1[a];[1:v]format=yuv420p,setsar=1[b];[a][b]concat=n=2:v=1[v]",
        "-map",
        "[v]",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        "-g",
        "25",
        "-crf",
        "10",
        "-movflags",
        "+faststart",
    ]);
    ffmpeg(
        dir,
        &args,
        if explicit {
            "explicit.mp4"
        } else {
            "plain.mp4"
        },
    )
}

/// Uploads a file in one resumable piece (how the app sends videos).
async fn upload(user: &User, id: Uuid, bytes: &[u8]) -> (u16, Value) {
    let r = piece(user, id, 0, bytes.len() as u64, bytes).await;
    let status = r.status().as_u16();
    let body = r.json().await.unwrap_or(Value::Null);
    (status, body)
}

/// A harmless JPEG thumbnail (a video's poster) uploaded by `user`.
async fn thumbnail(user: &User, seed: u32) -> Uuid {
    let id = Uuid::now_v7();
    let r = put(user, id, jpeg(320, 240, seed), "image/jpeg").await;
    assert_eq!(r.status, 201, "{}", r.body);
    id
}

/// A direct conversation `adult` may send media in: both wrote in it.
async fn chat(adult: &User, other: &User) -> Uuid {
    let conv = adult.direct_with(other).await;
    adult.send_text(conv.id, "hi").await;
    other.send_text(conv.id, "hello").await;
    conv.id
}

fn assert_refused(r: (u16, Value), status: u16, code: &str) {
    assert_eq!(r.0, status, "{}", r.1);
    assert_eq!(r.1["code"], code, "{}", r.1);
}

async fn healthy(h: &Harness) {
    let r = h
        .http
        .get(format!("{}/healthz", h.base))
        .send()
        .await
        .expect("the server answers");
    assert_eq!(r.status(), 200, "the server keeps answering");
}

#[tokio::test]
async fn a_video_explicit_after_a_harmless_start_is_refused_from_teens_and_withheld_from_them() {
    let h = Harness::with(real_worker).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let explicit = video(dir.path(), true);
    let teen = h.seventeen("teen").await;
    let (alice, carol) = (h.user("alice").await, h.user("carol").await);

    // a teen's modified client uploading it with a harmless poster: refused, nothing stored
    thumbnail(&teen, 1).await;
    let id = Uuid::now_v7();
    assert_refused(
        upload(&teen, id, &explicit).await,
        403,
        "explicit_image_blocked",
    );
    assert_eq!(fetch(&teen, id).await.status(), 404);
    let head = teen
        .request(reqwest::Method::HEAD, &format!("/v1/uploads/{id}"))
        .send()
        .await
        .expect("request");
    assert_eq!(head.status(), 404, "the refused upload is forgotten");

    // an adult may send it: the album says it is explicit
    let with_teen = chat(&alice, &teen).await;
    let with_carol = chat(&alice, &carol).await;
    let media_id = Uuid::now_v7();
    let (status, body) = upload(&alice, media_id, &explicit).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["content_type"], "video/mp4");
    let thumbnail_id = thumbnail(&alice, 2).await;
    let item = json!({"media_id": media_id, "thumbnail_id": thumbnail_id,
        "blurhash": "LEHV6nWB2yk8pyo0adR*.7kCMdnj"});
    for conv in [with_teen, with_carol] {
        let r = send_album(&alice, conv, std::slice::from_ref(&item), "").await;
        assert_eq!(r.status, 201, "{}", r.body);
        assert!(
            r.json::<Message>().media[0].explicit,
            "judged by its frames"
        );
    }

    // withheld from the teen, thumbnail included; an adult gets both
    for id in [media_id, thumbnail_id] {
        let r = fetch(&teen, id).await;
        assert_eq!(r.status(), 403);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["code"], "media_withheld");
        assert_eq!(fetch(&carol, id).await.status(), 200);
    }
    let got = fetch(&carol, media_id).await.bytes().await.unwrap();
    assert_eq!(got.as_ref(), explicit.as_slice());
}

#[tokio::test]
async fn a_harmless_video_from_a_teen_is_accepted_and_shown() {
    let h = Harness::with(real_worker).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let plain = video(dir.path(), false);
    let teen = h.seventeen("teen").await;
    let bob = h.user("bob").await;
    let conv = chat(&teen, &bob).await;
    let media_id = Uuid::now_v7();
    let started = Instant::now();
    let (status, body) = upload(&teen, media_id, &plain).await;
    assert_eq!(status, 201, "{body}");
    eprintln!("a 4 s video judged and stored in {:?}", started.elapsed());
    let item = json!({"media_id": media_id, "thumbnail_id": thumbnail(&teen, 3).await,
        "blurhash": "LEHV6nWB2yk8pyo0adR*.7kCMdnj"});
    let r = send_album(&teen, conv, &[item], "").await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert!(!r.json::<Message>().media[0].explicit);
    assert_eq!(fetch(&bob, media_id).await.status(), 200);
}

#[tokio::test]
async fn videos_nobody_can_check_are_refused_from_teens_and_withheld_from_them() {
    let dir = tempfile::tempdir().expect("temp dir");
    let plain = video(dir.path(), false);
    // VP9 in WebM: the worker decodes H.264 only
    let webm = ffmpeg(
        dir.path(),
        &[
            "-f",
            "lavfi",
            "-i",
            "color=c=0x3070a0:s=256x256:r=25:d=1",
            "-c:v",
            "libvpx-vp9",
        ],
        "plain.webm",
    );

    // a worker, but a codec it cannot decode
    let h = Harness::with(real_worker).await;
    let (teen1, adult) = (h.seventeen("teen").await, h.user("adult").await);
    let r = upload(&teen1, Uuid::now_v7(), &webm).await;
    assert_refused(r, 422, "invalid_video");
    let media_id = Uuid::now_v7();
    let (status, body) = upload(&adult, media_id, &webm).await;
    assert_eq!(status, 201, "{body}");
    // An adult may send it, but its harmless poster proves nothing: the teen never gets it,
    // poster included, and it is marked for the filter.
    let with_teen = chat(&adult, &teen1).await;
    let thumbnail_id = thumbnail(&adult, 4).await;
    let item = json!({"media_id": media_id, "thumbnail_id": thumbnail_id,
        "blurhash": "LEHV6nWB2yk8pyo0adR*.7kCMdnj"});
    let r = send_album(&adult, with_teen, &[item], "").await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert!(r.json::<Message>().media[0].explicit, "not checked");
    for id in [media_id, thumbnail_id] {
        let r = fetch(&teen1, id).await;
        assert_eq!(r.status(), 403);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["code"], "media_withheld");
        assert_eq!(fetch(&adult, id).await.status(), 200);
    }

    // no worker configured: no video can be checked
    let h = Harness::new().await;
    let (teen1, adult) = (h.seventeen("teen").await, h.user("adult").await);
    let r = upload(&teen1, Uuid::now_v7(), &plain).await;
    let message = r.1["message"].as_str().unwrap_or_default().to_string();
    assert!(message.contains("cannot check videos"), "{message}");
    assert_refused(r, 422, "invalid_video");
    let (status, body) = upload(&adult, Uuid::now_v7(), &plain).await;
    assert_eq!(status, 201, "{body}");
}

#[tokio::test]
async fn a_worker_that_crashes_or_hangs_refuses_the_video_and_the_server_goes_on() {
    let dir = tempfile::tempdir().expect("temp dir");
    let plain = video(dir.path(), false);

    let crashes = |c: &mut ServerConfig| {
        c.frame_worker = Some(FrameWorker::new(
            "/bin/sh",
            ["-c".into(), "kill -SEGV $$".into()],
        ));
    };
    let hangs = |c: &mut ServerConfig| {
        let mut worker = FrameWorker::new("/bin/sleep", ["30".into()]);
        worker.timeout = Duration::from_secs(1);
        c.frame_worker = Some(worker);
    };
    for (what, configure) in [
        ("crashes", &crashes as &dyn Fn(&mut ServerConfig)),
        ("hangs", &hangs),
    ] {
        let h = Harness::with(configure).await;
        let alice = h.user("alice").await;
        let started = Instant::now();
        let r = upload(&alice, Uuid::now_v7(), &plain).await;
        assert_refused(r, 422, "invalid_video");
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "a worker that {what} is given up on in time"
        );
        healthy(&h).await;
        // other uploads go on, and so does the next video (refused the same way)
        thumbnail(&alice, 4).await;
        assert_refused(
            upload(&alice, Uuid::now_v7(), &plain).await,
            422,
            "invalid_video",
        );
        healthy(&h).await;
    }
}

#[tokio::test]
async fn uploads_past_the_checking_queue_are_told_to_come_back_and_lose_no_bytes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let plain = video(dir.path(), false);
    // One upload checked at a time and none waiting; the check of a video hangs for 3 s.
    let h = Harness::with(|c: &mut ServerConfig| {
        let mut worker = FrameWorker::new("/bin/sleep", ["30".into()]);
        worker.timeout = Duration::from_secs(3);
        c.frame_worker = Some(worker);
        c.media_checks = natter_server::gate::GateSize {
            at_once: 1,
            queued: 0,
        };
    })
    .await;
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    let slow = {
        let alice = alice.clone();
        let plain = plain.clone();
        tokio::spawn(async move { upload(&alice, Uuid::now_v7(), &plain).await })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;

    // bob's photo arrives while alice's video is being checked: turned away at once, with
    // when to come back, and the server answers everything else meanwhile.
    let photo = jpeg(640, 480, 5);
    let id = Uuid::now_v7();
    let length = photo.len() as u64;
    let r = piece(&bob, id, 0, length, &photo).await;
    assert_eq!(r.status(), 503);
    assert_eq!(
        r.headers()["retry-after"],
        natter_server::MEDIA_CHECK_RETRY_AFTER_S.to_string()
    );
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["code"], "server_busy", "{body}");
    healthy(&h).await;
    assert!(!slow.is_finished(), "the video was still being checked");

    // Once there is room, the bytes already sent are checked: an empty last piece will do.
    assert_refused(slow.await.unwrap(), 422, "invalid_video");
    let head = bob
        .request(reqwest::Method::HEAD, &format!("/v1/uploads/{id}"))
        .send()
        .await
        .expect("request");
    assert_eq!(head.headers()["upload-offset"], length.to_string());
    let r = piece(&bob, id, length, length, &[]).await;
    assert_eq!(r.status(), 201);
    assert_eq!(fetch(&bob, id).await.status(), 200);
}

/// What a decoder taken over by a hostile video could still do from inside the worker's
/// sandbox: nothing beyond its stdio. `--sandbox-check` tries each from inside, after the
/// same set-up as a real run; the stdout it reports on still works.
#[test]
fn a_taken_over_worker_can_open_nothing_connect_nowhere_and_start_nothing() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_natter-frames"))
        .arg(natter_server::frames::SANDBOX_CHECK_ARG)
        .env_clear()
        .output()
        .expect("the worker runs");
    let report = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = report.lines().collect();
    assert_eq!(
        lines,
        [
            "write to another descriptor: denied",
            "open a file: denied",
            "connect to the network: denied",
            "open a socket: denied",
            "start a program: denied",
        ],
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success());
}

/// An animated GIF: `harmless` frames of a plain colour, then (when `explicit`) the explicit
/// fixture, shown whole for a few more frames. A GIF frame has at most 256 colours and the
/// fixture (48,000 colours) stops being explicit when quantised, so the fixture is drawn
/// exactly, in 16×16 tiles (each within 256 colours), one tile a frame, each kept on the
/// canvas: the animation's later frames are the fixture itself.
fn animated_gif(harmless: usize, explicit: bool) -> Vec<u8> {
    let fixture = image::open(explicit_png_path())
        .expect("the fixture")
        .into_rgba8();
    let (w, h) = fixture.dimensions();
    let frame = |picture: RgbaImage, x: u32, y: u32, delay: u16| {
        let (fw, fh) = (picture.width() as u16, picture.height() as u16);
        let mut frame = gif::Frame::from_rgba_speed(fw, fh, &mut picture.into_raw(), 10);
        (frame.left, frame.top, frame.delay) = (x as u16, y as u16, delay);
        frame.dispose = gif::DisposalMethod::Keep;
        frame
    };
    let plain = RgbaImage::from_pixel(w, h, Rgba([48, 112, 160, 255]));
    let mut frames: Vec<gif::Frame> = (0..harmless)
        .map(|_| frame(plain.clone(), 0, 0, 10))
        .collect();
    if explicit {
        const TILE: u32 = 16;
        for y in (0..h).step_by(TILE as usize) {
            for x in (0..w).step_by(TILE as usize) {
                let tile = image::imageops::crop_imm(&fixture, x, y, TILE, TILE).to_image();
                frames.push(frame(tile, x, y, 0));
            }
        }
        // a few more frames that change nothing: the fixture stays on screen
        let corner = image::imageops::crop_imm(&fixture, 0, 0, 1, 1).to_image();
        frames.extend((0..4).map(|_| frame(corner.clone(), 0, 0, 10)));
    }
    let mut out = Vec::new();
    {
        let mut encoder = gif::Encoder::new(&mut out, w as u16, h as u16, &[]).expect("encoder");
        encoder.set_repeat(gif::Repeat::Infinite).expect("repeat");
        for frame in &frames {
            encoder.write_frame(frame).expect("frame");
        }
    }
    out
}

#[tokio::test]
async fn an_animation_explicit_after_its_first_frame_is_judged_explicit() {
    let h = Harness::new().await;
    let gif = animated_gif(3, true);
    let teen = h.seventeen("teen").await;
    let (alice, carol) = (h.user("alice").await, h.user("carol").await);

    let id = Uuid::now_v7();
    put(&teen, id, gif.clone(), "image/gif")
        .await
        .assert_error(403, "explicit_image_blocked");
    assert_eq!(fetch(&teen, id).await.status(), 404);

    // an adult's is stored, as explicit
    let conv = chat(&alice, &carol).await;
    let media_id = Uuid::now_v7();
    let r = put(&alice, media_id, gif, "image/gif").await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["content_type"], "image/gif");
    let item = json!({"media_id": media_id, "thumbnail_id": thumbnail(&alice, 5).await,
        "blurhash": "LEHV6nWB2yk8pyo0adR*.7kCMdnj"});
    let r = send_album(&alice, conv, &[item], "").await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert!(r.json::<Message>().media[0].explicit);

    // a harmless animation from the teen is fine
    let r = put(&teen, Uuid::now_v7(), animated_gif(4, false), "image/gif").await;
    assert_eq!(r.status, 201, "{}", r.body);
}
