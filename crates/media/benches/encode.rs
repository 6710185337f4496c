//! Encoding cost of voice notes: CPU time per second of audio (as a share of one core) and
//! bytes per minute, plus the server's validation and the client's decode.
//!
//! `cargo bench -p natter-media --bench encode`. Speech comes from espeak-ng when it is
//! installed (looped to length), else from a synthetic speech-like signal.

use std::hint::black_box;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use natter_media::{decode, encode_pcm, validate_voice_note, Resampler};

const RATE: usize = 48_000;

/// Mono 48 kHz speech of `seconds`: espeak-ng if present, else synthetic.
fn speech(seconds: usize) -> (Vec<f32>, &'static str) {
    let n = seconds * RATE;
    if let Some(clip) = espeak() {
        let samples = clip.iter().copied().cycle().take(n).collect();
        return (samples, "espeak-ng speech");
    }
    (synthetic(n), "synthetic speech-like signal")
}

fn espeak() -> Option<Vec<f32>> {
    let out = std::process::Command::new("espeak-ng")
        .args([
            "--stdout",
            "This is a voice note from Natter, measuring how much the encoder costs. The \
             quick brown fox jumps over the lazy dog, then runs back home before the rain.",
        ])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let mut reader = hound::WavReader::new(std::io::Cursor::new(out.stdout)).ok()?;
    let rate = reader.spec().sample_rate;
    // Written to a pipe, the header's length is a placeholder: read until the data ends.
    let input: Vec<f32> = reader
        .samples::<i16>()
        .map_while(Result::ok)
        .map(|v| f32::from(v) / 32768.0)
        .collect();
    let mut resampler = Resampler::new(rate).ok()?;
    let mut clip = Vec::new();
    resampler.process(&input, &mut clip).ok()?;
    resampler.flush(&mut clip).ok()?;
    Some(clip)
}

/// Syllables at ~4 Hz (every fifth a pause) of a gliding 100–170 Hz voice with two formant
/// bumps, and some fricative noise.
fn synthetic(n: usize) -> Vec<f32> {
    let mut noise = 0x2545_f491_4f6c_dd1du64;
    let mut phase = 0f32;
    (0..n)
        .map(|i| {
            let t = i as f32 / RATE as f32;
            let syllable = t * 4.0;
            let index = syllable as usize;
            let envelope = if index % 5 == 4 {
                0.0
            } else {
                (std::f32::consts::PI * syllable.fract()).sin().powi(2)
            };
            let f0 = 135.0 + 35.0 * (std::f32::consts::TAU * 0.7 * t).sin();
            phase = (phase + f0 / RATE as f32).fract();
            let voiced: f32 = (1..=25)
                .map(|k| {
                    let f = f0 * k as f32;
                    let formants = (-((f - 700.0) / 250.0).powi(2)).exp()
                        + 0.6 * (-((f - 1_600.0) / 400.0).powi(2)).exp()
                        + 0.1;
                    formants * (std::f32::consts::TAU * phase * k as f32).sin() / k as f32
                })
                .sum();
            noise ^= noise << 13;
            noise ^= noise >> 7;
            noise ^= noise << 17;
            let white = (noise >> 40) as f32 / (1u64 << 24) as f32 - 0.5;
            let fricative = if index % 3 == 2 { 0.15 * white } else { 0.0 };
            envelope * (0.25 * voiced + fricative)
        })
        .collect()
}

static STARTED: OnceLock<Instant> = OnceLock::new();

/// CPU time of this thread (Linux), else wall time since the first call.
fn cpu_time() -> Duration {
    let started = STARTED.get_or_init(Instant::now);
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .map(Duration::from_nanos)
        .unwrap_or_else(|| started.elapsed())
}

fn report() {
    let (minute, source) = speech(60);
    let note = encode_pcm(&minute).expect("encode");
    let rounds = 3;
    let start = cpu_time();
    for _ in 0..rounds {
        black_box(encode_pcm(black_box(&minute)).expect("encode"));
    }
    let cpu = (cpu_time() - start).as_secs_f64() / f64::from(rounds);
    println!(
        "\n{source}: 60 s encodes to {} bytes ({:.1} kbit/s) in {:.3} s CPU: {:.2} ms per s of \
         audio = {:.2}% of one core\n",
        note.ogg.len(),
        note.ogg.len() as f64 * 8.0 / 60.0 / 1000.0,
        cpu,
        cpu / 60.0 * 1000.0,
        cpu / 60.0 * 100.0,
    );
}

fn benches(c: &mut Criterion) {
    report();
    let (ten, _) = speech(10);
    let note = encode_pcm(&ten).expect("encode");
    let (minute, _) = speech(60);
    let minute_note = encode_pcm(&minute).expect("encode").ogg;

    let mut group = c.benchmark_group("voice");
    group.sample_size(10);
    group.throughput(Throughput::Elements(10));
    group.bench_function("encode_pcm 10 s (elements = seconds of audio)", |b| {
        b.iter(|| encode_pcm(black_box(&ten)).expect("encode"))
    });
    group.bench_function("decode 10 s", |b| {
        b.iter(|| decode(black_box(&note.ogg)).expect("decode"))
    });
    group.throughput(Throughput::Bytes(minute_note.len() as u64));
    group.bench_function("validate_voice_note 60 s", |b| {
        b.iter(|| validate_voice_note(black_box(&minute_note)).expect("valid"))
    });
    group.finish();
}

criterion_group!(encode, benches);
criterion_main!(encode);
