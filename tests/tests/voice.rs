//! Voice notes between real clients and a real server: queued like any message (also
//! offline), uploaded once, played by the other side, played marks and positions kept.

use natter_core::{CoreEvent, MessageStatus};
use natter_tests::{eventually, opusenc_note, send_recv, Harness, TestClient};
use uuid::Uuid;

/// Waits until the server has accepted `id` (sent, delivered or read: past the outbox).
async fn accepted(who: &TestClient, id: Uuid) {
    eventually(&format!("{} sees {id} accepted", who.name), || async {
        let m = who.client.message(id).await.ok()??;
        m.seq.is_some().then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_voice_note_reaches_the_other_side_and_comes_back_marked_played() {
    let h = Harness::new().await;
    let alice = h.alice().await;
    let bob = h.bob().await;
    let conv = alice.chat_with(&bob).await;
    send_recv(&bob, &alice, "send me a voice note").await;
    let note = opusenc_note(4);
    let mut alice_events = alice.client.subscribe();

    let sent = alice
        .client
        .send_voice(conv, note.clone(), None)
        .await
        .expect("queue the note");
    assert_eq!(sent.status, MessageStatus::Sending);
    let voice = sent.voice.clone().expect("a voice view");
    assert!(
        voice.duration_ms.abs_diff(4000) <= 20,
        "{}",
        voice.duration_ms
    );
    assert_eq!(voice.waveform.len(), 64);
    assert!(
        voice.waveform.iter().any(|&b| b > 0),
        "speech gives a visible waveform"
    );
    accepted(&alice, sent.id).await;

    // the sender saw the upload progress to the end
    let mut last_progress = None;
    while let Ok(ev) = alice_events.try_recv() {
        if let CoreEvent::Upload {
            id, sent: s, total, ..
        } = ev
        {
            assert_eq!(id, sent.id);
            last_progress = Some((s, total));
        }
    }
    assert_eq!(
        last_progress,
        Some((note.len() as u32, note.len() as u32)),
        "upload progress reaches 100 %"
    );

    let got = eventually("bob has the voice note", || async {
        bob.messages(conv)
            .await
            .into_iter()
            .find(|m| m.id == sent.id)
    })
    .await;
    let bobs = got.voice.clone().expect("bob sees a voice note");
    assert_eq!(
        (bobs.duration_ms, bobs.waveform.clone(), bobs.played),
        (voice.duration_ms, voice.waveform.clone(), false)
    );
    assert_eq!(
        bob.client.voice_audio(sent.id).await.expect("download"),
        note,
        "bob plays exactly the bytes alice recorded"
    );
    let wav = bob.client.voice_wav(sent.id).await.expect("decode to WAV");
    assert_eq!(&wav[..4], b"RIFF");
    // 16-bit mono 48 kHz after a 44-byte header: the same length as the note
    let samples = (wav.len() - 44) / 2;
    assert!(
        samples.abs_diff(4 * 48_000) <= 960,
        "{samples} samples for a 4 s note"
    );

    // bob listens half way, leaves, comes back: the position is kept
    bob.client
        .set_voice_position(sent.id, 2100)
        .await
        .expect("position");
    let again = bob.client.message(sent.id).await.unwrap().unwrap();
    assert_eq!(again.voice.unwrap().position_ms, 2100);

    bob.client.mark_voice_played(sent.id).await.expect("played");
    assert!(
        bob.client
            .message(sent.id)
            .await
            .unwrap()
            .unwrap()
            .voice
            .unwrap()
            .played
    );
    eventually("alice sees her note played", || async {
        let m = alice.client.message(sent.id).await.ok()??;
        m.voice?.played.then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_voice_note_recorded_offline_goes_out_after_a_restart() {
    let mut h = Harness::new().await;
    let alice = h.alice().await;
    let bob = h.bob().await;
    let conv = alice.chat_with(&bob).await;
    send_recv(&bob, &alice, "hi alice").await;
    let note = opusenc_note(2);

    h.server.stop().await;
    let queued = alice
        .client
        .send_voice(conv, note.clone(), None)
        .await
        .expect("queued offline");
    alice.send(conv, "and a text after it").await;
    alice.quit().await;
    h.server.restart().await;

    let alice = h.reopen("alice").await;
    let got = eventually("bob gets the note, then the text", || async {
        let msgs = bob.messages(conv).await;
        (msgs.len() == 3).then_some(msgs)
    })
    .await;
    assert_eq!(got[1].id, queued.id, "in the order they were written");
    assert!(got[1].voice.is_some());
    assert_eq!(got[2].text, "and a text after it");
    assert_eq!(bob.client.voice_audio(queued.id).await.unwrap(), note);
    eventually("alice's outbox drains", || async {
        (alice.client.cache().outbox_len().await.ok()? == 0).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notes_the_app_would_refuse_never_reach_the_outbox() {
    let h = Harness::new().await;
    let alice = h.alice().await;
    let bob = h.bob().await;
    let conv = alice.chat_with(&bob).await;
    let note = opusenc_note(1);
    let refused = |e: natter_core::CoreError| e.code();
    use natter_core::protocol::ErrorCode;
    // the chat says why before anything is recorded ...
    let blocked = |c: natter_core::ConversationView| c.media_blocked.map(|e| e.code);
    let view = alice.client.conversation(conv).await.unwrap();
    assert_eq!(blocked(view), Some(ErrorCode::MediaNotAllowedFirstMessage));
    // ... and a voice note never opens a conversation, nor goes to someone who has not
    // written back
    let first = alice.client.send_voice(conv, note.clone(), None).await;
    assert_eq!(
        first.map_err(refused).err(),
        Some(ErrorCode::MediaNotAllowedFirstMessage)
    );
    send_recv(&alice, &bob, "hi bob").await;
    let unanswered = alice.client.send_voice(conv, note.clone(), None).await;
    assert_eq!(
        unanswered.map_err(refused).err(),
        Some(ErrorCode::MediaRequiresAcceptedRequest)
    );
    assert_eq!(
        blocked(alice.client.conversation(conv).await.unwrap()),
        Some(ErrorCode::MediaRequiresAcceptedRequest)
    );
    send_recv(&bob, &alice, "hi alice").await;
    assert_eq!(
        blocked(alice.client.conversation(conv).await.unwrap()),
        None
    );
    let err = alice
        .client
        .send_voice(conv, b"not audio at all".to_vec(), None)
        .await
        .expect_err("refused");
    assert_eq!(err.code(), ErrorCode::InvalidVoice);
    assert_eq!(alice.messages(conv).await.len(), 2, "only the two hellos");
    assert_eq!(alice.client.cache().outbox_len().await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_a_note_ends_the_next_unheard_one_is_found_in_group_chats_too() {
    let h = Harness::new().await;
    let alice = h.alice().await;
    let bob = h.bob().await;
    let carol = h.carol().await;
    let group = alice
        .client
        .create_group("trip", &["bob".into(), "carol".into()])
        .await
        .expect("group")
        .id;
    bob.join(group).await;
    carol.join(group).await;
    alice.send(group, "welcome").await;
    bob.wait_for_text(group, "welcome").await;
    let note = opusenc_note(1);
    let first = bob
        .client
        .send_voice(group, note.clone(), None)
        .await
        .unwrap();
    accepted(&bob, first.id).await;
    carol.send(group, "text in between").await;
    carol.wait_for_text(group, "text in between").await;
    let second = carol
        .client
        .send_voice(group, note.clone(), None)
        .await
        .unwrap();
    accepted(&carol, second.id).await;
    let own = alice.client.send_voice(group, note, None).await.unwrap();
    accepted(&alice, own.id).await;
    eventually("alice has both notes", || async {
        let n = alice
            .messages(group)
            .await
            .iter()
            .filter(|m| m.voice.is_some())
            .count();
        (n == 3).then_some(())
    })
    .await;

    let next = alice.client.next_unplayed_voice(first.id).await.unwrap();
    assert_eq!(
        next.map(|m| m.id),
        Some(second.id),
        "skips text, finds carol's note"
    );
    alice.client.mark_voice_played(second.id).await.unwrap();
    assert_eq!(
        alice.client.next_unplayed_voice(first.id).await.unwrap(),
        None,
        "played notes and her own note are not queued up"
    );
    // each member's played mark reaches the sender
    bob.client.mark_voice_played(second.id).await.unwrap();
    eventually("carol sees her note played", || async {
        let m = carol.client.message(second.id).await.ok()??;
        m.voice?.played.then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sender_who_was_away_sees_the_note_played_when_back() {
    let h = Harness::new().await;
    let alice = h.alice().await;
    let bob = h.bob().await;
    let conv = alice.chat_with(&bob).await;
    send_recv(&bob, &alice, "hello").await;
    let sent = alice
        .client
        .send_voice(conv, opusenc_note(1), None)
        .await
        .unwrap();
    accepted(&alice, sent.id).await;
    eventually("bob has it", || async {
        bob.client.message(sent.id).await.ok()?
    })
    .await;
    alice.quit().await;

    bob.client.mark_voice_played(sent.id).await.unwrap();
    let alice = h.reopen("alice").await;
    eventually("alice, back online, sees her note played", || async {
        let m = alice.client.message(sent.id).await.ok()??;
        m.voice?.played.then_some(())
    })
    .await;
}
