//! Stop-to-ready: from `Recorder::stop()` to the finished, synced draft with its waveform,
//! through the real cpal path. ALSA's file plugin reads a FIFO fed in real time (like a
//! microphone), so at stop the ring holds what one period would, as with real hardware.
//!
//! `cargo bench -p natter-voice --bench recorder`

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode};
use natter_voice::{Recorder, RecorderConfig};

fn stop_to_ready(c: &mut Criterion, drafts: &std::path::Path) {
    let mut group = c.benchmark_group("recorder");
    // Each iteration records real-time audio first: keep the count small and fixed.
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_millis(1))
        .measurement_time(Duration::from_millis(1));
    for record_ms in [500u64, 5_000] {
        group.bench_function(format!("stop_to_ready_after_{record_ms}ms"), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let recorder =
                        Recorder::start(RecorderConfig::new(drafts), |_| {}).expect("start");
                    while recorder.elapsed_ms() < record_ms {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    let dropped = recorder.dropped_samples();
                    let started = Instant::now();
                    let draft = recorder.stop().expect("stop");
                    total += started.elapsed();
                    assert_eq!(draft.waveform.len(), 64);
                    if dropped > 0 {
                        eprintln!("dropped {dropped} samples");
                    }
                    natter_voice::discard_draft(drafts, &draft.id).expect("discard");
                }
                total
            })
        });
    }
    group.finish();
}

fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let speech = support::read(&support::speech_raw(dir.path(), "speech", 20.0));
    let fifo = dir.path().join("mic.fifo");
    support::mkfifo(&fifo);
    let config = support::alsa_config(dir.path(), &[("natter_speech", &fifo)], "natter_speech");
    // Before cpal runs and before any other thread exists.
    std::env::set_var("ALSA_CONFIG_PATH", &config);
    let feeder = support::Feeder::start(&fifo, speech, 1.0);
    let drafts = dir.path().join("drafts");
    let mut criterion = Criterion::default().configure_from_args();
    stop_to_ready(&mut criterion, &drafts);
    criterion.final_summary();
    feeder.stop();
}
