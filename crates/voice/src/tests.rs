//! The recorder's state machine fed directly (no device): limits, pauses, levels, formats,
//! crash recovery. The real cpal path is covered by the integration tests.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::capture::Feed;
use crate::recorder::start_test;
use crate::*;

fn tone(seconds: f64, rate: u32, channels: usize, amplitude: f32) -> Vec<f32> {
    let frames = (seconds * f64::from(rate)).round() as usize;
    let mut out = Vec::with_capacity(frames * channels);
    for i in 0..frames {
        let t = i as f32 / rate as f32;
        let v = amplitude * (2.0 * std::f32::consts::PI * 440.0 * t).sin();
        out.extend(std::iter::repeat_n(v, channels));
    }
    out
}

/// Pushes samples in 20 ms callbacks, waiting when the ring is full (a test may outrun the
/// worker; a device cannot).
fn feed(feed: &mut Feed, recorder: &Recorder, samples: &[f32], per_callback: usize) {
    for chunk in samples.chunks(per_callback) {
        let before = recorder.dropped_samples();
        feed.deliver(chunk);
        assert_eq!(
            recorder.dropped_samples(),
            before,
            "test feed overran the ring"
        );
    }
}

/// Waits until the worker has taken `samples`.
fn settle(recorder: &Recorder, samples: u64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while recorder.elapsed_samples() < samples && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(2));
    }
}

type Log = Arc<Mutex<Vec<RecorderEvent>>>;

fn logger() -> (Log, impl Fn(RecorderEvent) + Send + 'static) {
    let log: Log = Arc::default();
    let sink = log.clone();
    (log, move |e| sink.lock().expect("log").push(e))
}

#[test]
fn records_exactly_what_was_fed_and_the_file_decodes_to_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, events) = logger();
    let (recorder, mut input) =
        start_test(RecorderConfig::new(dir.path()), 1, 48_000, events).expect("start");
    // 2.5 s: not a whole number of frames or pages.
    let samples = tone(2.51, 48_000, 1, 0.5);
    feed(&mut input, &recorder, &samples, 960);
    settle(&recorder, samples.len() as u64);
    let draft = recorder.stop().expect("stop");
    assert_eq!(draft.samples, 120_480);
    assert_eq!(draft.duration_ms, 2510);
    assert_eq!(draft.waveform.len(), 64);
    assert!(draft.path.starts_with(dir.path()));
    let bytes = std::fs::read(&draft.path).expect("read");
    assert_eq!(bytes.len() as u64, draft.bytes);
    let info = natter_media::validate_voice_note(&bytes).expect("valid voice note");
    assert!(info.complete);
    assert_eq!(info.samples, 120_480);
    let pcm = natter_media::decode(&bytes).expect("decode");
    assert_eq!(pcm.samples.len(), 120_480);
    // The tone survives encoding: RMS of a 0.5 sine is ~0.35.
    let rms = (pcm.samples.iter().map(|s| s * s).sum::<f32>() / pcm.samples.len() as f32).sqrt();
    assert!((0.25..0.45).contains(&rms), "rms {rms}");
    // The id is a UUID v7 and names the file.
    let id = uuid::Uuid::parse_str(&draft.id).expect("uuid id");
    assert_eq!(id.get_version_num(), 7);
    assert_eq!(draft.path, dir.path().join(format!("{}.ogg", draft.id)));
}

#[test]
fn stops_by_itself_at_the_limit_with_one_warning() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (log, events) = logger();
    let mut config = RecorderConfig::new(dir.path());
    config.max_samples = 96_000; // 2 s
    config.warn_at_samples = 48_000;
    let (recorder, mut input) = start_test(config, 1, 48_000, events).expect("start");
    feed(&mut input, &recorder, &tone(1.5, 48_000, 1, 0.3), 480);
    settle(&recorder, 72_000);
    // More than the limit: the rest is ignored.
    feed(&mut input, &recorder, &tone(1.5, 48_000, 1, 0.3), 480);
    let deadline = Instant::now() + Duration::from_secs(10);
    let auto = loop {
        let found = log.lock().expect("log").iter().find_map(|e| match e {
            RecorderEvent::AutoStopped(d) => Some(d.clone()),
            _ => None,
        });
        if let Some(d) = found {
            break d;
        }
        assert!(Instant::now() < deadline, "no AutoStopped event");
        std::thread::sleep(Duration::from_millis(5));
    };
    assert_eq!(auto.samples, 96_000);
    assert_eq!(recorder.elapsed_ms(), 2000);
    let draft = recorder.stop().expect("stop after auto stop");
    assert_eq!(draft, auto);
    let warnings: Vec<u64> = log
        .lock()
        .expect("log")
        .iter()
        .filter_map(|e| match e {
            RecorderEvent::Warning { remaining_ms } => Some(*remaining_ms),
            _ => None,
        })
        .collect();
    assert_eq!(warnings, vec![1000]);
    let bytes = std::fs::read(&draft.path).expect("read");
    assert_eq!(
        natter_media::inspect(&bytes).expect("inspect").samples,
        96_000
    );
}

#[test]
fn the_default_limits_are_sixty_and_fifty_seconds() {
    let config = RecorderConfig::new("x");
    assert_eq!(config.max_samples, 2_880_000);
    assert_eq!(config.warn_at_samples, 2_400_000);
    assert_eq!(config.bitrate, natter_media::DEFAULT_BITRATE);
}

#[test]
fn audio_pushed_while_paused_is_discarded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, events) = logger();
    let (recorder, mut input) =
        start_test(RecorderConfig::new(dir.path()), 1, 48_000, events).expect("start");
    feed(&mut input, &recorder, &tone(1.0, 48_000, 1, 0.3), 960);
    recorder.pause();
    assert!(recorder.is_paused());
    feed(&mut input, &recorder, &tone(1.0, 48_000, 1, 0.3), 960);
    recorder.resume();
    assert!(!recorder.is_paused());
    feed(&mut input, &recorder, &tone(0.5, 48_000, 1, 0.3), 960);
    settle(&recorder, 72_000);
    let draft = recorder.stop().expect("stop");
    assert_eq!(draft.samples, 72_000);
}

#[test]
fn about_thirty_levels_per_second_loud_is_loud_and_silence_is_silent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (log, events) = logger();
    let (recorder, mut input) =
        start_test(RecorderConfig::new(dir.path()), 1, 48_000, events).expect("start");
    feed(&mut input, &recorder, &tone(2.0, 48_000, 1, 0.5), 960);
    feed(&mut input, &recorder, &vec![0.0; 96_000], 960);
    settle(&recorder, 192_000);
    recorder.stop().expect("stop");
    let levels: Vec<(f32, u64)> = log
        .lock()
        .expect("log")
        .iter()
        .filter_map(|e| match e {
            RecorderEvent::Level { level, elapsed_ms } => Some((*level, *elapsed_ms)),
            _ => None,
        })
        .collect();
    assert_eq!(levels.len(), 120, "30 a second for 4 s");
    assert!(levels.windows(2).all(|w| w[0].1 < w[1].1), "elapsed grows");
    for (level, ms) in &levels {
        if *ms <= 2000 {
            assert!((level - 0.3535).abs() < 0.01, "tone level {level} at {ms}");
        } else if *ms > 2040 {
            assert_eq!(*level, 0.0, "silence at {ms}");
        }
    }
}

#[test]
fn stereo_at_44100_is_downmixed_and_resampled_to_the_right_length() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, events) = logger();
    let (recorder, mut input) =
        start_test(RecorderConfig::new(dir.path()), 2, 44_100, events).expect("start");
    // 3 s of stereo at 44.1 kHz in 10 ms callbacks.
    feed(&mut input, &recorder, &tone(3.0, 44_100, 2, 0.4), 882);
    settle(&recorder, 143_000);
    let draft = recorder.stop().expect("stop");
    assert_eq!(draft.samples, 144_000);
    let pcm = natter_media::decode(&std::fs::read(&draft.path).expect("read")).expect("decode");
    assert_eq!(pcm.samples.len(), 144_000);
}

#[test]
fn stopping_before_any_audio_leaves_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, events) = logger();
    let (recorder, _input) =
        start_test(RecorderConfig::new(dir.path()), 1, 48_000, events).expect("start");
    let path = recorder.path().to_path_buf();
    assert!(path.exists(), "the draft exists from the start");
    assert!(matches!(recorder.stop(), Err(VoiceError::NothingRecorded)));
    assert!(!path.exists());
}

#[test]
fn cancel_deletes_the_draft() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, events) = logger();
    let (recorder, mut input) =
        start_test(RecorderConfig::new(dir.path()), 1, 48_000, events).expect("start");
    feed(&mut input, &recorder, &tone(1.0, 48_000, 1, 0.3), 960);
    settle(&recorder, 48_000);
    let path = recorder.path().to_path_buf();
    recorder.cancel();
    assert!(!path.exists());
    assert!(recover_drafts(dir.path()).is_empty());
}

#[test]
fn dropping_the_recorder_keeps_a_finished_draft() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, events) = logger();
    let (recorder, mut input) =
        start_test(RecorderConfig::new(dir.path()), 1, 48_000, events).expect("start");
    feed(&mut input, &recorder, &tone(1.0, 48_000, 1, 0.3), 960);
    settle(&recorder, 48_000);
    drop(recorder);
    let drafts = recover_drafts(dir.path());
    assert_eq!(drafts.len(), 1);
    assert_eq!(drafts[0].samples, 48_000);
}

/// What a kill leaves: the file as synced while recording, with no end-of-stream page.
#[test]
fn a_crash_cut_draft_is_repaired_to_its_last_synced_second() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, events) = logger();
    let (recorder, mut input) =
        start_test(RecorderConfig::new(dir.path()), 1, 48_000, events).expect("start");
    feed(&mut input, &recorder, &tone(2.7, 48_000, 1, 0.3), 960);
    settle(&recorder, 129_600);
    // Snapshot the file mid-recording, plus a torn half page, as a crash would leave it.
    let live = std::fs::read(recorder.path()).expect("read live");
    recorder.cancel();
    let crashed = dir.path().join("0190f000-0000-7000-8000-000000000001.ogg");
    let mut torn = live.clone();
    torn.extend_from_slice(&b"OggS\0\0garbage"[..]);
    std::fs::write(&crashed, &torn).expect("write crashed");
    // A file that is not a voice note at all is removed, and a finished one is kept as is.
    std::fs::write(dir.path().join("junk.ogg"), b"not ogg").expect("write junk");
    std::fs::write(dir.path().join("notes.txt"), b"left alone").expect("write txt");

    let drafts = recover_drafts(dir.path());
    assert_eq!(drafts.len(), 1, "{drafts:?}");
    let draft = &drafts[0];
    assert_eq!(draft.id, "0190f000-0000-7000-8000-000000000001");
    // Elapsed 2.7 s; synced every half second: between 2.2 s and 2.7 s survive.
    assert!(
        (2.2..=2.7).contains(&(draft.duration_ms as f64 / 1000.0)),
        "{} ms",
        draft.duration_ms
    );
    let bytes = std::fs::read(&crashed).expect("read repaired");
    let info = natter_media::validate_voice_note(&bytes).expect("repaired file is valid");
    assert_eq!(info.samples, draft.samples);
    assert_eq!(
        natter_media::decode(&bytes).expect("decode").samples.len() as u64,
        draft.samples
    );
    assert!(!dir.path().join("junk.ogg").exists());
    assert!(dir.path().join("notes.txt").exists());
    // Idempotent: a second pass finds the same, now finished, draft.
    assert_eq!(recover_drafts(dir.path()), drafts);

    discard_draft(dir.path(), &draft.id).expect("discard");
    assert!(!crashed.exists());
    discard_draft(dir.path(), &draft.id).expect("discarding twice is fine");
    for bad in ["", "..", "../x", "a/b", ".hidden"] {
        assert!(matches!(
            discard_draft(dir.path(), bad),
            Err(VoiceError::InvalidDraftId(_))
        ));
    }
}

#[test]
fn recovering_a_missing_directory_finds_nothing() {
    assert!(recover_drafts("/nonexistent/natter/drafts").is_empty());
}

#[test]
fn a_limit_of_zero_reports_an_error_instead_of_hanging() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (log, events) = logger();
    let mut config = RecorderConfig::new(dir.path());
    config.max_samples = 0;
    let (recorder, mut input) = start_test(config, 1, 48_000, events).expect("start");
    input.deliver(&[0.1f32; 960]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while log.lock().expect("log").is_empty() {
        assert!(Instant::now() < deadline, "no event");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(matches!(
        log.lock().expect("log")[0],
        RecorderEvent::Error(ref m) if m == "nothing was recorded"
    ));
    assert!(matches!(recorder.stop(), Err(VoiceError::NothingRecorded)));
}
