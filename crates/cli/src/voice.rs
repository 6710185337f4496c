//! `natter voice …`: record, encode and inspect voice notes with the same rules as the app.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Subcommand;
use natter_protocol::limits::{VOICE_MAX_MS, VOICE_SAMPLE_RATE};
use natter_voice::{Draft, Recorder, RecorderConfig, RecorderEvent, MAX_SAMPLES};
use serde::Serialize;

#[derive(Subcommand)]
pub enum VoiceCommand {
    /// Record from the microphone into an Ogg Opus voice note, written as it records (a
    /// killed recording can be finished with `natter voice recover`).
    Record {
        /// Seconds of audio to record (counted in samples; capped at 60).
        #[arg(long)]
        seconds: f64,
        /// Where to write the note.
        #[arg(long)]
        out: PathBuf,
        /// Input device (name or id); the default microphone if absent.
        #[arg(long)]
        device: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Encode a WAV file as a voice note (any rate and channel count; cut at 60 s).
    Encode {
        /// The WAV file.
        input: PathBuf,
        #[arg(long)]
        out: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Show a voice note's duration, format and waveform, and whether the server accepts it.
    Info {
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Finish a recording that was cut off (crash, kill) in place, at its last complete page.
    Recover {
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(command: VoiceCommand) -> anyhow::Result<()> {
    match command {
        VoiceCommand::Record {
            seconds,
            out,
            device,
            json,
        } => record(seconds, out, device, json).await,
        VoiceCommand::Encode { input, out, json } => encode(&input, &out, json),
        VoiceCommand::Info { file, json } => info(&file, json),
        VoiceCommand::Recover { file, json } => recover(&file, json),
    }
}

#[derive(Serialize)]
struct Recorded {
    path: PathBuf,
    duration_ms: u64,
    samples: u64,
    bytes: u64,
    dropped_samples: u64,
    stopped_at_limit: bool,
    waveform: Vec<u8>,
}

async fn record(
    seconds: f64,
    out: PathBuf,
    device: Option<String>,
    json: bool,
) -> anyhow::Result<()> {
    if !seconds.is_finite() || seconds <= 0.0 {
        bail!("--seconds must be a positive number");
    }
    let wanted = ((seconds * f64::from(VOICE_SAMPLE_RATE)).round() as u64).max(1);
    let at_limit = wanted >= MAX_SAMPLES;
    if wanted > MAX_SAMPLES {
        eprintln!(
            "note: a voice note holds at most {} s; recording stops there",
            VOICE_MAX_MS / 1000
        );
    }
    let dir = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut config = RecorderConfig::new(dir);
    config.path = Some(out.clone());
    config.device = device;
    config.max_samples = wanted.min(MAX_SAMPLES);
    let interrupted = Arc::new(AtomicBool::new(false));
    let flag = interrupted.clone();
    let mut task = tokio::task::spawn_blocking(move || record_blocking(config, &flag));
    let result = tokio::select! {
        r = &mut task => r,
        _ = tokio::signal::ctrl_c() => {
            eprintln!("interrupted: finishing the note");
            interrupted.store(true, Ordering::Relaxed);
            task.await
        }
    };
    let (draft, dropped, limit_event) = result.context("the recording task failed")??;
    if limit_event && at_limit {
        eprintln!(
            "stopped at {} s (the longest a voice note can be)",
            VOICE_MAX_MS / 1000
        );
    }
    let report = Recorded {
        path: draft.path.clone(),
        duration_ms: draft.duration_ms,
        samples: draft.samples,
        bytes: draft.bytes,
        dropped_samples: dropped,
        stopped_at_limit: limit_event && at_limit,
        waveform: draft.waveform,
    };
    if json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!(
            "recorded {} ({} samples, {} bytes) to {}; dropped samples: {}",
            seconds_text(report.samples),
            report.samples,
            report.bytes,
            report.path.display(),
            report.dropped_samples
        );
    }
    Ok(())
}

/// Records until the sample limit (an `AutoStopped` event), a device error, or an interrupt.
/// Returns the draft, the dropped-sample count and whether the limit stopped it.
fn record_blocking(
    config: RecorderConfig,
    interrupted: &AtomicBool,
) -> anyhow::Result<(Draft, u64, bool)> {
    let (tx, rx) = mpsc::channel();
    let out = config.path.clone().unwrap_or_default();
    let recorder = Recorder::start(config, move |event| {
        if !matches!(event, RecorderEvent::Level { .. }) {
            let _ = tx.send(event);
        }
    })
    .context("cannot start recording")?;
    eprintln!("recording to {}", out.display());
    let mut limit = false;
    let mut failure = None;
    loop {
        if interrupted.load(Ordering::Relaxed) {
            break;
        }
        match rx.recv_timeout(Duration::from_millis(50)) {
            Ok(RecorderEvent::AutoStopped(_)) => {
                limit = true;
                break;
            }
            Ok(RecorderEvent::Error(message)) => {
                failure = Some(message);
                break;
            }
            Ok(RecorderEvent::Warning { remaining_ms }) => {
                eprintln!("{} s left", remaining_ms / 1000);
            }
            Ok(RecorderEvent::Level { .. }) | Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    let dropped = recorder.dropped_samples();
    let draft = recorder.stop().context("cannot finish the recording")?;
    if let Some(message) = failure {
        bail!(
            "{message} (kept {} in {})",
            seconds_text(draft.samples),
            draft.path.display()
        );
    }
    Ok((draft, dropped, limit))
}

#[derive(Serialize)]
struct Encoded<'a> {
    path: &'a Path,
    duration_ms: u64,
    samples: u64,
    bytes: usize,
    truncated: bool,
    waveform: &'a [u8],
}

fn encode(input: &Path, out: &Path, json: bool) -> anyhow::Result<()> {
    let wav = std::fs::read(input).with_context(|| format!("cannot read {}", input.display()))?;
    let note = natter_media::encode_wav(&wav)
        .with_context(|| format!("cannot encode {}", input.display()))?;
    std::fs::write(out, &note.ogg).with_context(|| format!("cannot write {}", out.display()))?;
    if note.truncated {
        eprintln!(
            "cut at {} s: the input is longer than a voice note may be",
            VOICE_MAX_MS / 1000
        );
    }
    let report = Encoded {
        path: out,
        duration_ms: note.duration_ms,
        samples: note.samples,
        bytes: note.ogg.len(),
        truncated: note.truncated,
        waveform: &note.waveform,
    };
    if json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!(
            "encoded {} ({} samples, {} bytes) to {}",
            seconds_text(report.samples),
            report.samples,
            report.bytes,
            out.display()
        );
    }
    Ok(())
}

#[derive(Serialize)]
struct Info {
    duration_ms: u64,
    samples: u64,
    /// The rate a decoder outputs (Opus always decodes at 48 kHz).
    sample_rate: u32,
    /// The rate the audio had before encoding, from the header (informational).
    input_sample_rate: u32,
    channels: u8,
    pre_skip: u16,
    bytes: usize,
    /// Ends with an end-of-stream page (false for a cut-off recording).
    complete: bool,
    waveform: Vec<u8>,
    /// Whether the server would accept it as a voice note, and if not, why.
    valid_voice_note: bool,
    problem: Option<String>,
}

fn info(file: &Path, json: bool) -> anyhow::Result<()> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let info = natter_media::inspect(&bytes)
        .with_context(|| format!("{} is not a readable Ogg Opus file", file.display()))?;
    let waveform = natter_media::waveform_of(&bytes)
        .with_context(|| format!("cannot decode {}", file.display()))?;
    let problem = natter_media::validate_voice_note(&bytes)
        .err()
        .map(|e| e.to_string());
    let report = Info {
        duration_ms: info.duration_ms,
        samples: info.samples,
        sample_rate: VOICE_SAMPLE_RATE,
        input_sample_rate: info.input_sample_rate,
        channels: info.channels,
        pre_skip: info.pre_skip,
        bytes: info.bytes,
        complete: info.complete,
        waveform,
        valid_voice_note: problem.is_none(),
        problem,
    };
    if json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!("{}", file.display());
        println!(
            "  duration   {} ({} samples at 48 kHz)",
            seconds_text(report.samples),
            report.samples
        );
        println!(
            "  channels   {} (input rate {} Hz, pre-skip {})",
            report.channels, report.input_sample_rate, report.pre_skip
        );
        println!("  size       {} bytes", report.bytes);
        println!(
            "  complete   {}",
            if report.complete {
                "yes"
            } else {
                "no (cut off)"
            }
        );
        println!("  waveform   {}", sparkline(&report.waveform));
        match &report.problem {
            None => println!("  voice note ok"),
            Some(why) => println!("  voice note refused: {why}"),
        }
    }
    Ok(())
}

#[derive(Serialize)]
struct Recovered {
    path: PathBuf,
    repaired: bool,
    duration_ms: u64,
    samples: u64,
    bytes: u64,
}

fn recover(file: &Path, json: bool) -> anyhow::Result<()> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let was_complete = natter_media::inspect(&bytes).is_ok_and(|i| i.complete);
    let draft = natter_voice::repair_file(file)
        .with_context(|| format!("cannot recover {}", file.display()))?;
    let report = Recovered {
        path: draft.path,
        repaired: !was_complete,
        duration_ms: draft.duration_ms,
        samples: draft.samples,
        bytes: draft.bytes,
    };
    if json {
        println!("{}", serde_json::to_string(&report)?);
    } else if report.repaired {
        println!(
            "repaired {}: {} ({} samples) kept",
            report.path.display(),
            seconds_text(report.samples),
            report.samples
        );
    } else {
        println!(
            "{} was already complete: {}",
            report.path.display(),
            seconds_text(report.samples)
        );
    }
    Ok(())
}

/// "5.000 s", exact to the millisecond from a 48 kHz sample count.
fn seconds_text(samples: u64) -> String {
    let rate = u64::from(VOICE_SAMPLE_RATE);
    format!("{}.{:03} s", samples / rate, (samples % rate) * 1000 / rate)
}

fn sparkline(bars: &[u8]) -> String {
    const LEVELS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    bars.iter()
        .map(|&b| LEVELS[usize::from(b) * LEVELS.len() / 256])
        .collect()
}
