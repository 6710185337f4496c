//! `natter voice …` end to end: the real binary records through cpal from ALSA's file plugin
//! (a FIFO fed in real time or faster, see the voice crate's `tests/support`), and opus-tools'
//! `opusdec`/`opusinfo` check the results as an independent decoder would.

#[path = "../../voice/tests/support/mod.rs"]
mod support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;
use support::Feeder;

fn natter(alsa_config: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_natter"));
    cmd.env("ALSA_CONFIG_PATH", alsa_config)
        .env_remove("NATTER_SERVER")
        .env_remove("RUST_LOG");
    cmd
}

fn succeed(cmd: &mut Command) -> (Value, String) {
    let out = cmd.output().expect("run natter");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {stderr}{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let json = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)));
    (json, stderr)
}

fn fail(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("run natter");
    assert!(!out.status.success(), "{cmd:?} should fail");
    out
}

/// A test microphone: `seconds` of speech looping through a FIFO at `speed` × real time.
struct Mic {
    dir: tempfile::TempDir,
    config: PathBuf,
    feeder: Feeder,
}

fn mic(seconds: f64, speed: f64) -> Mic {
    let dir = tempfile::tempdir().expect("tempdir");
    let speech = support::read(&support::speech_raw(dir.path(), "speech", seconds));
    let fifo = dir.path().join("mic.fifo");
    support::mkfifo(&fifo);
    let config = support::alsa_config(dir.path(), &[("natter_speech", &fifo)], "natter_speech");
    let feeder = Feeder::start(&fifo, speech, speed);
    Mic {
        dir,
        config,
        feeder,
    }
}

fn info(config: &Path, file: &Path) -> Value {
    succeed(natter(config).args(["voice", "info", "--json"]).arg(file)).0
}

#[test]
fn record_five_seconds_gives_exactly_five_seconds() {
    let mic = mic(10.0, 1.0);
    let out = mic.dir.path().join("five.ogg");
    let (rec, _) = succeed(
        natter(&mic.config)
            .args(["voice", "record", "--seconds", "5", "--json", "--out"])
            .arg(&out),
    );
    assert_eq!(rec["samples"], 240_000);
    assert_eq!(rec["duration_ms"], 5000);
    assert_eq!(rec["dropped_samples"], 0);
    assert_eq!(rec["stopped_at_limit"], false);
    assert_eq!(support::opusdec_samples(&out), 240_000);

    let info = info(&mic.config, &out);
    assert_eq!(info["duration_ms"], 5000);
    assert_eq!(info["samples"], 240_000);
    assert_eq!(info["sample_rate"], 48_000);
    assert_eq!(info["input_sample_rate"], 48_000);
    assert_eq!(info["channels"], 1);
    assert_eq!(info["complete"], true);
    assert_eq!(info["valid_voice_note"], true);
    assert_eq!(info["bytes"], std::fs::metadata(&out).expect("stat").len());
    let waveform = info["waveform"].as_array().expect("waveform");
    assert_eq!(waveform.len(), 64);
    // The recorder's bars (from the input) and the file's (from decoded audio) agree up to
    // what a lossy codec changes.
    let live = rec["waveform"].as_array().expect("recorded waveform");
    let diff: u64 = live
        .iter()
        .zip(waveform)
        .map(|(a, b)| a.as_u64().unwrap_or(0).abs_diff(b.as_u64().unwrap_or(0)))
        .sum();
    assert!(
        diff / 64 < 12,
        "waveforms differ by {} on average",
        diff / 64
    );
    assert!(
        waveform.iter().filter(|b| b.as_u64() > Some(32)).count() > 16,
        "{waveform:?}"
    );
}

#[test]
fn record_stops_at_sixty_seconds() {
    // 75 s of speech at 6× real time: the note must stop at exactly 60.000 s.
    let mic = mic(75.0, 6.0);
    let out = mic.dir.path().join("long.ogg");
    let (rec, stderr) = succeed(
        natter(&mic.config)
            .args(["voice", "record", "--seconds", "75", "--json", "--out"])
            .arg(&out),
    );
    assert!(stderr.contains("stopped at 60 s"), "{stderr}");
    assert_eq!(rec["samples"], 2_880_000);
    assert_eq!(rec["duration_ms"], 60_000);
    assert_eq!(rec["stopped_at_limit"], true);
    assert_eq!(support::opusdec_samples(&out), 2_880_000);
    assert_eq!(info(&mic.config, &out)["valid_voice_note"], true);
}

#[test]
fn a_killed_recording_is_recovered_to_within_a_second() {
    let mic = mic(40.0, 1.0);
    let out = mic.dir.path().join("killed.ogg");
    let mut child = natter(&mic.config)
        .args(["voice", "record", "--seconds", "30", "--out"])
        .arg(&out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn natter");
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let mut line = String::new();
    while !line.starts_with("recording to") {
        line.clear();
        let n = stderr.read_line(&mut line).expect("read stderr");
        assert!(n > 0, "natter ended before recording");
    }
    std::thread::sleep(Duration::from_millis(3000));
    // Audio time starts when the microphone first delivered (the feeder's first chunk).
    let started = mic
        .feeder
        .first_read
        .lock()
        .expect("lock")
        .expect("audio flowed");
    child.kill().expect("kill -9");
    let elapsed = started.elapsed().as_secs_f64();
    child.wait().expect("reap");

    // What the kill left: whole pages, no end-of-stream page. Keep a copy for the draft path.
    let cut = info(&mic.config, &out);
    assert_eq!(cut["complete"], false);
    assert_eq!(cut["valid_voice_note"], false);
    let drafts = mic.dir.path().join("drafts");
    std::fs::create_dir(&drafts).expect("mkdir");
    let draft_copy = drafts.join("0190f000-0000-7000-8000-00000000000a.ogg");
    std::fs::copy(&out, &draft_copy).expect("copy");

    let (fixed, _) = succeed(
        natter(&mic.config)
            .args(["voice", "recover", "--json"])
            .arg(&out),
    );
    assert_eq!(fixed["repaired"], true);
    let seconds = fixed["samples"].as_u64().expect("samples") as f64 / 48_000.0;
    println!("killed after {elapsed:.3} s of recording; {seconds:.3} s recovered");
    assert!(
        seconds >= elapsed - 1.0 && seconds <= elapsed,
        "{seconds} s recovered after {elapsed} s"
    );
    assert_eq!(
        support::opusdec_samples(&out),
        fixed["samples"].as_u64().expect("samples")
    );
    assert_eq!(info(&mic.config, &out)["valid_voice_note"], true);
    // Recovering again changes nothing.
    let (again, _) = succeed(
        natter(&mic.config)
            .args(["voice", "recover", "--json"])
            .arg(&out),
    );
    assert_eq!(again["repaired"], false);
    assert_eq!(again["samples"], fixed["samples"]);

    // The app's path: recover_drafts over the draft directory finds the same note.
    let found = natter_voice::recover_drafts(&drafts);
    assert_eq!(found.len(), 1);
    assert_eq!(Some(found[0].samples), fixed["samples"].as_u64());
    assert_eq!(found[0].waveform.len(), 64);
    assert_eq!(support::opusdec_samples(&draft_copy), found[0].samples);
}

#[test]
fn encode_cuts_a_long_wav_at_sixty_seconds() {
    let dir = tempfile::tempdir().expect("tempdir");
    let wav = support::speech_wav(dir.path(), "long", 75.0, 48_000, 1);
    let out = dir.path().join("long.ogg");
    let (enc, stderr) = succeed(
        natter(Path::new("/dev/null"))
            .args(["voice", "encode", "--json"])
            .arg(&wav)
            .arg("--out")
            .arg(&out),
    );
    assert!(stderr.contains("cut at 60 s"), "{stderr}");
    assert_eq!(enc["truncated"], true);
    assert_eq!(enc["samples"], 2_880_000);
    assert_eq!(support::opusdec_samples(&out), 2_880_000);
}

#[test]
fn encode_resamples_and_downmixes_a_cd_stereo_wav() {
    let dir = tempfile::tempdir().expect("tempdir");
    let wav = support::speech_wav(dir.path(), "cd", 7.5, 44_100, 2);
    let out = dir.path().join("cd.ogg");
    let (enc, stderr) = succeed(
        natter(Path::new("/dev/null"))
            .args(["voice", "encode", "--json"])
            .arg(&wav)
            .arg("--out")
            .arg(&out),
    );
    assert!(!stderr.contains("cut"), "{stderr}");
    assert_eq!(enc["truncated"], false);
    assert_eq!(enc["samples"], 360_000);
    assert_eq!(enc["duration_ms"], 7500);
    assert_eq!(support::opusdec_samples(&out), 360_000);
    let info = info(Path::new("/dev/null"), &out);
    assert_eq!(info["duration_ms"], 7500);
    assert_eq!(info["channels"], 1);
}

#[test]
fn without_a_microphone_record_says_so() {
    let dir = tempfile::tempdir().expect("tempdir");
    let empty = dir.path().join("empty.conf");
    std::fs::write(&empty, "").expect("write");
    let out = dir.path().join("none.ogg");
    let result = fail(
        natter(&empty)
            .args(["voice", "record", "--seconds", "1", "--out"])
            .arg(&out),
    );
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(stderr.contains("no microphone found"), "{stderr}");
    assert!(!out.exists(), "a failed start leaves no file");
}

#[test]
fn info_refuses_what_is_not_a_voice_note() {
    let dir = tempfile::tempdir().expect("tempdir");
    let junk = dir.path().join("junk.ogg");
    std::fs::write(&junk, b"RIFF this is not ogg").expect("write");
    let result = fail(
        natter(Path::new("/dev/null"))
            .args(["voice", "info", "--json"])
            .arg(&junk),
    );
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(stderr.contains("not a readable Ogg Opus file"), "{stderr}");
    let missing = fail(
        natter(Path::new("/dev/null")).args(["voice", "encode", "nope.wav", "--out", "x.ogg"]),
    );
    assert!(String::from_utf8_lossy(&missing.stderr).contains("cannot read nope.wav"));
}
