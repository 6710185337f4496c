//! Waveforms: 64 bars, 0–255, built live while recording in constant memory.

use natter_protocol::limits::WAVEFORM_BARS;

use crate::decode::decode;
use crate::error::MediaError;

/// Buckets kept while building; when full, neighbours merge and the width doubles.
const BUCKETS: usize = 2 * WAVEFORM_BARS;
/// Samples per bucket at the start: 5 ms at 48 kHz.
const INITIAL_WIDTH: usize = 240;
/// Level shown as an empty bar, in dBFS: room noise and silence stay flat.
const FLOOR_DB: f32 = -50.0;
/// A recording's peak is drawn full height only if at least this loud, in dBFS, so a
/// near-silent recording is not blown up to look like speech.
const MIN_TOP_DB: f32 = -20.0;

/// Live waveform builder.
///
/// Keeps up to 128 buckets of the maximum |amplitude| over a run of samples; when all are
/// full, pairs merge and the run doubles, so memory is constant whatever the length.
///
/// Bars are logarithmic (decibels), which is how loudness is heard: a bucket's peak level
/// maps linearly from −50 dBFS (0) to the recording's peak (255), where the peak counts as
/// at least −20 dBFS. Silence is 0; speech reaches most of the height; a quiet recording
/// looks quiet.
#[derive(Debug, Clone)]
pub struct WaveformBuilder {
    buckets: Vec<f32>,
    width: usize,
    current: f32,
    in_current: usize,
}

impl Default for WaveformBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl WaveformBuilder {
    pub fn new() -> Self {
        WaveformBuilder {
            buckets: Vec::with_capacity(BUCKETS),
            width: INITIAL_WIDTH,
            current: 0.0,
            in_current: 0,
        }
    }

    /// Add mono samples (48 kHz, in [-1, 1]).
    pub fn push(&mut self, samples: &[f32]) {
        let mut rest = samples;
        while !rest.is_empty() {
            let take = (self.width - self.in_current).min(rest.len());
            let peak =
                rest[..take]
                    .iter()
                    .fold(0f32, |m, s| if s.is_finite() { m.max(s.abs()) } else { m });
            self.current = self.current.max(peak);
            self.in_current += take;
            rest = &rest[take..];
            if self.in_current == self.width {
                self.buckets.push(self.current);
                self.current = 0.0;
                self.in_current = 0;
                if self.buckets.len() == BUCKETS {
                    self.merge();
                }
            }
        }
    }

    /// The waveform so far: [`WAVEFORM_BARS`] bars spread over what has been pushed.
    pub fn snapshot(&self) -> Vec<u8> {
        let mut levels = self.buckets.clone();
        if self.in_current > 0 {
            levels.push(self.current);
        }
        if levels.is_empty() {
            return vec![0; WAVEFORM_BARS];
        }
        let n = levels.len();
        let peaks: Vec<f32> = (0..WAVEFORM_BARS)
            .map(|bar| {
                // Each bar covers its share of the buckets (at least one).
                let start = bar * n / WAVEFORM_BARS;
                let end = ((bar + 1) * n / WAVEFORM_BARS).max(start + 1);
                levels[start..end.min(n)]
                    .iter()
                    .fold(0f32, |m, &v| m.max(v))
            })
            .collect();
        let top_db = to_db(peaks.iter().fold(0f32, |m, &v| m.max(v))).max(MIN_TOP_DB);
        let range = top_db - FLOOR_DB;
        peaks
            .iter()
            .map(|&p| {
                let x = ((to_db(p) - FLOOR_DB) / range).clamp(0.0, 1.0);
                // In [0, 255] after the clamp.
                (x * 255.0).round() as u8
            })
            .collect()
    }

    /// The final waveform: exactly [`WAVEFORM_BARS`] bars.
    pub fn finish(self) -> Vec<u8> {
        self.snapshot()
    }

    fn merge(&mut self) {
        let merged: Vec<f32> = self
            .buckets
            .chunks(2)
            .map(|pair| pair.iter().fold(0f32, |m, &v| m.max(v)))
            .collect();
        self.buckets = merged;
        self.width *= 2;
    }
}

fn to_db(amplitude: f32) -> f32 {
    if amplitude <= 0.0 {
        f32::NEG_INFINITY
    } else {
        20.0 * amplitude.log10()
    }
}

/// The waveform of an Ogg Opus file (decoded with [`decode`]).
pub fn waveform_of(bytes: &[u8]) -> Result<Vec<u8>, MediaError> {
    let pcm = decode(bytes)?;
    let mut builder = WaveformBuilder::new();
    builder.push(&pcm.samples);
    Ok(builder.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silence_is_flat_and_short_input_still_gives_64_bars() {
        let mut b = WaveformBuilder::new();
        assert_eq!(b.snapshot(), vec![0; 64]);
        b.push(&vec![0.0; 48_000 * 70]);
        assert_eq!(b.snapshot(), vec![0; 64]);
        assert!(b.buckets.len() < BUCKETS);

        let mut b = WaveformBuilder::new();
        b.push(&[0.5; 10]);
        assert_eq!(b.finish(), vec![255; 64]);
    }

    #[test]
    fn loud_then_quiet() {
        let mut b = WaveformBuilder::new();
        b.push(&vec![0.8; 48_000 * 3]);
        let mid = b.snapshot();
        assert!(mid.iter().all(|&x| x == 255), "{mid:?}");
        b.push(&vec![0.01; 48_000 * 3]);
        let bars = b.finish();
        assert_eq!(bars.len(), 64);
        assert_eq!(bars[0], 255);
        assert!(bars[63] < 100, "{bars:?}");
        assert!(bars[63] > 0, "{bars:?}");
    }
}
