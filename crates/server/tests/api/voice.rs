//! Voice notes over the real API: upload, the checks on what is uploaded, sending, fetching,
//! played marks. Fixtures come from independent tools (espeak-ng, sox, opusenc), not from
//! Natter's own encoder, so the server is checked against files it did not make.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use natter_protocol::{MediaInfo, Message, ServerEvent};
use serde_json::json;
use tempfile::TempDir;
use uuid::Uuid;

use crate::harness::{Api, Harness, Resp, User};

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| {
        panic!("cannot run {cmd:?} (is it installed? ./x test installs it): {e}")
    });
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Audio files made by independent tools.
struct Fixtures {
    dir: TempDir,
}

impl Fixtures {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Speech from espeak-ng, padded with sox to exactly `seconds`, as a 48 kHz WAV.
    fn speech_wav(&self, seconds: u32) -> PathBuf {
        let raw = self.path("espeak.wav");
        run(Command::new("espeak-ng")
            .arg("-w")
            .arg(&raw)
            .arg("Hello Bob, this is a voice note from Alice. Call me back when you can."));
        let out = self.path(&format!("speech_{seconds}.wav"));
        run(Command::new("sox")
            .arg(&raw)
            .args(["-r", "48000", "-c", "1", "-b", "16"])
            .arg(&out)
            .args([
                "pad",
                "0",
                &seconds.to_string(),
                "trim",
                "0",
                &seconds.to_string(),
            ]));
        out
    }

    /// An Ogg Opus file made by `opusenc` with its default settings.
    fn opusenc(&self, seconds: u32) -> Vec<u8> {
        let wav = self.speech_wav(seconds);
        let out = self.path(&format!("opusenc_{seconds}.opus"));
        run(Command::new("opusenc").arg("--quiet").arg(&wav).arg(&out));
        std::fs::read(out).expect("opusenc output")
    }

    /// Ogg Vorbis (sox writes Vorbis for .ogg).
    fn vorbis(&self) -> Vec<u8> {
        let wav = self.speech_wav(3);
        let out = self.path("vorbis.ogg");
        run(Command::new("sox").arg(&wav).arg(&out));
        std::fs::read(out).expect("sox output")
    }
}

fn media_path(id: Uuid) -> String {
    format!("/v1/media/{id}")
}

async fn upload_as(api: &Api, id: Uuid, bytes: Vec<u8>, content_type: &str) -> Resp {
    Api::send(
        api.request(reqwest::Method::PUT, &media_path(id))
            .header("content-type", content_type)
            .body(bytes),
    )
    .await
}

async fn upload(user: &User, id: Uuid, bytes: Vec<u8>) -> Resp {
    upload_as(&user.api, id, bytes, "audio/ogg").await
}

async fn send_voice(user: &User, conversation: Uuid, media_id: Uuid, waveform: Vec<u8>) -> Resp {
    user.post(
        &format!("/v1/conversations/{conversation}/messages"),
        json!({"id": Uuid::now_v7(), "voice": {"media_id": media_id, "waveform": waveform}}),
    )
    .await
}

async fn fetch(user: &User, id: Uuid) -> reqwest::Response {
    user.request(reqwest::Method::GET, &media_path(id))
        .send()
        .await
        .expect("request reaches the server")
}

/// Rewrites the granule position of the last Ogg page and fixes its CRC: a file whose
/// timing metadata lies about how much audio it holds.
fn lie_about_length(mut ogg: Vec<u8>, granule: u64) -> Vec<u8> {
    let last = ogg
        .windows(4)
        .rposition(|w| w == b"OggS")
        .expect("an Ogg page");
    ogg[last + 6..last + 14].copy_from_slice(&granule.to_le_bytes());
    ogg[last + 22..last + 26].fill(0);
    let crc = ogg_crc(&ogg[last..]);
    ogg[last + 22..last + 26].copy_from_slice(&crc.to_le_bytes());
    ogg
}

fn ogg_crc(page: &[u8]) -> u32 {
    page.iter().fold(0u32, |mut crc, &b| {
        crc ^= u32::from(b) << 24;
        for _ in 0..8 {
            crc = if crc & 0x8000_0000 != 0 {
                (crc << 1) ^ 0x04c1_1db7
            } else {
                crc << 1
            };
        }
        crc
    })
}

fn waveform() -> Vec<u8> {
    (0..64).map(|i| (i * 4) as u8).collect()
}

#[tokio::test]
async fn a_voice_note_made_by_opusenc_is_sent_fetched_and_marked_played() {
    let fx = Fixtures::new();
    let h = Harness::new().await;
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    let carol = h.user("carol").await;
    let conv = alice.direct_with(&bob).await;
    bob.send_text(conv.id, "send me a voice note").await;
    let mut alice_ws = alice.ws().await;

    let note = fx.opusenc(7);
    let id = Uuid::now_v7();
    let up = upload(&alice, id, note.clone()).await;
    assert_eq!(up.status, 201, "{}", up.body);
    let info: MediaInfo = up.json();
    assert_eq!(info.content_type, "audio/ogg");
    assert_eq!(info.size as usize, note.len());
    assert!(
        info.duration_ms.abs_diff(7000) <= 20,
        "measured {} ms for a 7 s note",
        info.duration_ms
    );
    // uploading the same bytes again (a retry after a lost answer) is harmless
    let again = upload(&alice, id, note.clone()).await;
    assert_eq!(
        (again.status, again.json::<MediaInfo>()),
        (200, info.clone())
    );

    let sent = send_voice(&alice, conv.id, id, waveform()).await;
    assert_eq!(sent.status, 201, "{}", sent.body);
    let message: Message = sent.json();
    let voice = message.voice.clone().expect("a voice note");
    assert_eq!(
        (
            voice.media_id,
            voice.duration_ms,
            voice.size,
            voice.waveform
        ),
        (id, info.duration_ms, info.size, waveform())
    );
    assert_eq!(message.text, "");
    let ServerEvent::Message { message: pushed } = alice_ws.next_event().await else {
        panic!("the sender's socket gets the message");
    };
    assert_eq!(pushed, message);

    // the recipient sees it in history and can fetch the file, byte for byte
    let history = bob.history(conv.id, "").await;
    assert_eq!(history.last(), Some(&message));
    let got = fetch(&bob, id).await;
    assert_eq!(got.status(), 200);
    assert_eq!(got.headers()["content-type"], "audio/ogg");
    assert_eq!(got.headers()["x-content-type-options"], "nosniff");
    assert_eq!(got.bytes().await.expect("body").as_ref(), note.as_slice());

    // someone outside the conversation cannot, and cannot tell it exists
    let refused = fetch(&carol, id).await;
    assert_eq!(refused.status(), 404);
    let missing = fetch(&carol, Uuid::now_v7()).await;
    assert_eq!(
        refused.text().await.expect("body"),
        missing.text().await.expect("body")
    );

    // bob plays it: alice hears about it once, and history remembers
    let played = format!(
        "/v1/conversations/{}/messages/{}/played",
        conv.id, message.id
    );
    assert_eq!(bob.post(&played, json!({})).await.status, 204);
    assert_eq!(
        alice_ws.next_event().await,
        ServerEvent::Played {
            conversation_id: conv.id,
            message_id: message.id,
            user_id: bob.id
        }
    );
    assert_eq!(bob.post(&played, json!({})).await.status, 204);
    // the sender playing her own note is not a "played" mark
    assert_eq!(alice.post(&played, json!({})).await.status, 204);
    alice_ws.assert_quiet(Duration::from_millis(300)).await;
    assert_eq!(alice.history(conv.id, "").await[1].played_by, vec![bob.id]);
    // a client that was away catches up on marks
    let marks: Vec<natter_protocol::PlayedMark> = alice.get("/v1/played?since=0").await.json();
    assert_eq!(
        marks
            .iter()
            .map(|m| (m.message_id, m.user_id))
            .collect::<Vec<_>>(),
        vec![(message.id, bob.id)]
    );
    let later: Vec<natter_protocol::PlayedMark> = alice
        .get(&format!("/v1/played?since={}", marks[0].played_at + 1))
        .await
        .json();
    assert!(later.is_empty());
    let outsider: Vec<natter_protocol::PlayedMark> = carol.get("/v1/played?since=0").await.json();
    assert!(outsider.is_empty(), "carol is not in the chat");
    carol
        .post(&played, json!({}))
        .await
        .assert_error(404, "conversation_not_found");
    let text = bob.send_text(conv.id, "nice").await;
    bob.post(
        &format!("/v1/conversations/{}/messages/{}/played", conv.id, text.id),
        json!({}),
    )
    .await
    .assert_error(422, "bad_request");
}

#[tokio::test]
async fn forged_and_oversized_notes_are_refused_and_nothing_is_stored() {
    let fx = Fixtures::new();
    let h = Harness::new().await;
    let alice = h.user("alice").await;
    let valid = fx.opusenc(30);

    let ten_minutes = {
        let wav = fx.path("long.wav");
        run(Command::new("sox")
            .args(["-n", "-r", "48000", "-c", "1", "-b", "16"])
            .arg(&wav)
            .args(["synth", "600", "sine", "440", "vol", "0.1"]));
        let out = fx.path("long.opus");
        run(Command::new("opusenc")
            .args(["--quiet", "--bitrate", "6"])
            .arg(&wav)
            .arg(&out));
        std::fs::read(out).expect("opusenc output")
    };
    let too_big: Vec<u8> = valid
        .iter()
        .copied()
        .cycle()
        .take(natter_protocol::limits::VOICE_MAX_BYTES + 1)
        .collect();
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        ("10 minutes of Opus", ten_minutes, 422, "voice_too_long"),
        (
            "not Ogg at all",
            b"RIFF....WAVEfmt garbage".repeat(100),
            422,
            "invalid_voice",
        ),
        ("Ogg Vorbis", fx.vorbis(), 422, "invalid_voice"),
        (
            "a header claiming 2 s for 30 s of audio",
            lie_about_length(valid.clone(), 2 * 48_000),
            422,
            "invalid_voice",
        ),
        (
            "a header claiming 10 min for 30 s of audio",
            lie_about_length(valid.clone(), 600 * 48_000),
            422,
            "invalid_voice",
        ),
        (
            "cut off half way",
            valid[..valid.len() / 2].to_vec(),
            422,
            "invalid_voice",
        ),
        ("over 1 MiB", too_big, 413, "media_too_large"),
        ("empty", Vec::new(), 422, "invalid_voice"),
    ];
    for (what, bytes, status, code) in cases {
        let id = Uuid::now_v7();
        let r = upload(&alice, id, bytes).await;
        assert_eq!((r.status, r.code()), (status, code), "{what}: {}", r.body);
        assert_eq!(fetch(&alice, id).await.status(), 404, "{what} was stored");
    }

    // the right bytes declared as something else (a photo): the content must match the
    // declared kind; and a non-v7 id
    let r = upload_as(&alice.api, Uuid::now_v7(), valid.clone(), "image/png").await;
    r.assert_error(422, "invalid_image");
    upload(&alice, Uuid::new_v4(), valid.clone())
        .await
        .assert_error(422, "bad_request");
    // anonymous uploads are refused
    upload_as(&h.anon(), Uuid::now_v7(), valid.clone(), "audio/ogg")
        .await
        .assert_error(401, "unauthenticated");

    // an id is bound to its first file
    let id = Uuid::now_v7();
    assert_eq!(upload(&alice, id, valid.clone()).await.status, 201);
    upload(&alice, id, fx.opusenc(3))
        .await
        .assert_error(409, "id_conflict");
    assert_eq!(
        fetch(&alice, id)
            .await
            .bytes()
            .await
            .expect("body")
            .as_ref(),
        valid.as_slice()
    );
}

#[tokio::test]
async fn a_voice_message_needs_the_senders_own_upload_and_a_real_waveform() {
    let fx = Fixtures::new();
    let h = Harness::new().await;
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    let conv = alice.direct_with(&bob).await;
    bob.send_text(conv.id, "hi").await;
    let note = fx.opusenc(2);
    let bobs = Uuid::now_v7();
    assert_eq!(upload(&bob, bobs, note.clone()).await.status, 201);
    let mine = Uuid::now_v7();
    assert_eq!(upload(&alice, mine, note).await.status, 201);

    send_voice(&alice, conv.id, Uuid::now_v7(), waveform())
        .await
        .assert_error(404, "media_not_found");
    send_voice(&alice, conv.id, bobs, waveform())
        .await
        .assert_error(404, "media_not_found");
    send_voice(&alice, conv.id, mine, vec![1; 10])
        .await
        .assert_error(422, "invalid_voice");
    alice
        .post(
            &format!("/v1/conversations/{}/messages", conv.id),
            json!({"id": Uuid::now_v7(), "text": "hi", "voice": {"media_id": mine, "waveform": waveform()}}),
        )
        .await
        .assert_error(422, "invalid_text");
    assert_eq!(bob.history(conv.id, "").await.len(), 1, "only bob's hello");
    // bob's own upload is not visible to alice just because they share a chat
    assert_eq!(fetch(&alice, bobs).await.status(), 404);
}

#[tokio::test]
async fn a_voice_note_never_starts_a_conversation_nor_goes_to_someone_who_has_not_written_back() {
    let fx = Fixtures::new();
    let h = Harness::new().await;
    let alice = h.user("alice").await;
    let bob = h.user("bob").await;
    let carol = h.user("carol").await;
    let conv = alice.direct_with(&bob).await;
    let note = fx.opusenc(2);
    let id = Uuid::now_v7();
    assert_eq!(upload(&alice, id, note.clone()).await.status, 201);

    send_voice(&alice, conv.id, id, waveform())
        .await
        .assert_error(403, "media_not_allowed_first_message");
    alice.send_text(conv.id, "hi bob, it's alice").await;
    send_voice(&alice, conv.id, id, waveform())
        .await
        .assert_error(403, "media_requires_accepted_request");
    assert_eq!(
        bob.history(conv.id, "").await.len(),
        1,
        "only the text arrived"
    );
    bob.send_text(conv.id, "oh hi").await;
    assert_eq!(
        send_voice(&alice, conv.id, id, waveform()).await.status,
        201
    );

    // in a group, media may follow any first message
    let group = alice.group("trip", &[&bob, &carol]).await;
    let second = Uuid::now_v7();
    assert_eq!(upload(&carol, second, note).await.status, 201);
    send_voice(&carol, group.id, second, waveform())
        .await
        .assert_error(403, "media_not_allowed_first_message");
    alice.send_text(group.id, "welcome").await;
    assert_eq!(
        send_voice(&carol, group.id, second, waveform())
            .await
            .status,
        201
    );
}
