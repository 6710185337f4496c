//! The recorder through the real cpal path: ALSA's file plugin plays a microphone (see
//! `support`). `harness = false`: `main` points ALSA at the test configuration before any
//! thread exists or cpal is touched, then runs the checks one after another.

mod support;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use natter_voice::{Draft, Recorder, RecorderConfig, RecorderEvent, VoiceError};
use support::Feeder;

struct Rig {
    drafts: PathBuf,
}

type Log = Arc<Mutex<Vec<RecorderEvent>>>;
type Check = (&'static str, fn(&Rig));

fn start(rig: &Rig, device: Option<&str>) -> (Recorder, Log) {
    let log: Log = Arc::default();
    let sink = log.clone();
    let mut config = RecorderConfig::new(&rig.drafts);
    config.device = device.map(str::to_owned);
    let recorder = Recorder::start(config, move |e| sink.lock().expect("log").push(e))
        .expect("start recording");
    (recorder, log)
}

fn wait_for_audio(recorder: &Recorder, ms: u64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while recorder.elapsed_ms() < ms {
        assert!(
            Instant::now() < deadline,
            "audio stopped at {} ms",
            recorder.elapsed_ms()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn levels(log: &Log) -> Vec<f32> {
    log.lock()
        .expect("log")
        .iter()
        .filter_map(|e| match e {
            RecorderEvent::Level { level, .. } => Some(*level),
            _ => None,
        })
        .collect()
}

/// Speech arrives in real time from the default device: ~30 levels a second, clearly above
/// zero, nothing dropped, and an independent decoder gets exactly the recorded samples.
fn speech_from_the_default_device(rig: &Rig) {
    let (recorder, log) = start(rig, None);
    wait_for_audio(&recorder, 3000);
    let dropped = recorder.dropped_samples();
    let draft = recorder.stop().expect("stop");
    assert_eq!(dropped, 0, "samples dropped");
    let levels = levels(&log);
    assert_eq!(
        levels.len() as u64,
        draft.samples / 1600,
        "one level per 1600 samples"
    );
    let per_second = levels.len() as f64 / (draft.samples as f64 / 48_000.0);
    assert!(
        (29.0..=30.5).contains(&per_second),
        "{per_second} levels a second"
    );
    let loudest = levels.iter().cloned().fold(0.0f32, f32::max);
    let mean = levels.iter().sum::<f32>() / levels.len() as f32;
    assert!(
        loudest > 0.05 && mean > 0.01,
        "speech levels: max {loudest}, mean {mean}"
    );
    assert!(
        draft.waveform.iter().any(|&b| b > 64),
        "waveform {:?}",
        draft.waveform
    );
    assert_eq!(support::opusdec_samples(&draft.path), draft.samples);
    println!(
        "    speech: {} ms, {} levels, max {loudest:.3}",
        draft.duration_ms,
        levels.len()
    );
}

/// A named device that delivers digital silence: levels at zero.
fn silence_from_a_named_device(rig: &Rig) {
    let (recorder, log) = start(rig, Some("natter_silence"));
    wait_for_audio(&recorder, 1000);
    let draft = recorder.stop().expect("stop");
    let levels = levels(&log);
    assert!(levels.len() >= 29, "{} levels", levels.len());
    assert!(
        levels.iter().all(|&l| l < 0.001),
        "silence levels {levels:?}"
    );
    assert!(
        draft.waveform.iter().all(|&b| b < 3),
        "waveform {:?}",
        draft.waveform
    );
}

/// Record ~1 s, pause ~1 s, record ~1 s: about 2 s of audio, not 3.
fn pause_and_resume_add_up(rig: &Rig) {
    let (recorder, _log) = start(rig, None);
    let started = Instant::now();
    std::thread::sleep(Duration::from_millis(1000));
    recorder.pause();
    let before_pause = started.elapsed();
    let at_pause = recorder.elapsed_ms();
    std::thread::sleep(Duration::from_millis(1000));
    let during = recorder.elapsed_ms() - at_pause;
    let resumed = Instant::now();
    recorder.resume();
    std::thread::sleep(Duration::from_millis(1000));
    let after_resume = resumed.elapsed();
    let total = started.elapsed();
    let draft = recorder.stop().expect("stop");
    let seconds = draft.samples as f64 / 48_000.0;
    let expected = (before_pause + after_resume).as_secs_f64();
    println!(
        "    paused: {seconds:.3} s recorded, {expected:.3} s unpaused of {:.3} s, \
         {during} ms arrived while paused",
        total.as_secs_f64()
    );
    assert!(during <= 60, "{during} ms recorded while paused");
    assert!(
        (seconds - expected).abs() <= 0.2,
        "{seconds} s for {expected} s unpaused"
    );
    assert!(
        seconds < total.as_secs_f64() - 0.8,
        "the pause was recorded"
    );
}

/// stop() hands back a finished, synced file with its waveform in well under 100 ms.
fn stop_is_ready_fast(rig: &Rig) {
    let mut worst = Duration::ZERO;
    let mut total = Duration::ZERO;
    for _ in 0..5 {
        let (recorder, _log) = start(rig, None);
        wait_for_audio(&recorder, 500);
        let started = Instant::now();
        let draft: Draft = recorder.stop().expect("stop");
        let took = started.elapsed();
        assert!(draft.samples >= 24_000 && draft.waveform.len() == 64);
        let bytes = std::fs::read(&draft.path).expect("read");
        assert!(natter_media::validate_voice_note(&bytes).is_ok());
        worst = worst.max(took);
        total += took;
    }
    println!(
        "    stop-to-ready: mean {:?}, worst {worst:?} (5 runs)",
        total / 5
    );
    assert!(worst < Duration::from_millis(100), "stop took {worst:?}");
}

fn an_unknown_device_is_named(rig: &Rig) {
    let mut config = RecorderConfig::new(&rig.drafts);
    config.device = Some("no_such_mic".into());
    match Recorder::start(config, |_| {}) {
        Err(e @ VoiceError::DeviceNotFound(_)) => {
            assert_eq!(e.to_string(), "microphone \"no_such_mic\" not found")
        }
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("recording from a device that does not exist"),
    }
}

fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let speech = support::read(&support::speech_raw(dir.path(), "speech", 20.0));
    let silence = support::silence_raw(dir.path(), "silence", 5.0);
    let fifo = dir.path().join("mic.fifo");
    support::mkfifo(&fifo);
    let config = support::alsa_config(
        dir.path(),
        &[("natter_speech", &fifo), ("natter_silence", &silence)],
        "natter_speech",
    );
    // Before cpal runs and before any other thread exists (the feeder starts below).
    std::env::set_var("ALSA_CONFIG_PATH", &config);
    let feeder = Feeder::start(&fifo, speech, 1.0);
    let rig = Rig {
        drafts: dir.path().join("drafts"),
    };

    let tests: &[Check] = &[
        (
            "speech_from_the_default_device",
            speech_from_the_default_device,
        ),
        ("silence_from_a_named_device", silence_from_a_named_device),
        ("pause_and_resume_add_up", pause_and_resume_add_up),
        ("stop_is_ready_fast", stop_is_ready_fast),
        ("an_unknown_device_is_named", an_unknown_device_is_named),
    ];
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let (mut passed, mut failed) = (0, 0);
    for (name, test) in tests {
        if !filter.is_empty() && !filter.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        println!("test {name} ...");
        match catch_unwind(AssertUnwindSafe(|| test(&rig))) {
            Ok(()) => {
                println!("test {name} ... ok");
                passed += 1;
            }
            Err(_) => {
                println!("test {name} ... FAILED");
                failed += 1;
            }
        }
    }
    feeder.stop();
    println!("{passed} passed, {failed} failed");
    if failed > 0 {
        std::process::exit(1);
    }
}
