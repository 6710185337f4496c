//! Getting audio to mono 48 kHz: downmixing and a streaming resampler (rubato's windowed
//! sinc resampler, fixed ratio).

use rubato::{
    Resampler as _, SincFixedIn, SincInterpolationParameters, SincInterpolationType, WindowFunction,
};

use natter_protocol::limits::VOICE_SAMPLE_RATE;

use crate::error::MediaError;

/// Input frames handed to rubato at a time.
const CHUNK: usize = 1024;
/// Lowest and highest input rates accepted.
const MIN_RATE: u32 = 4_000;
const MAX_RATE: u32 = 768_000;

/// Average interleaved frames of `channels` channels into mono, appended to `out`.
/// A trailing partial frame is ignored.
pub fn downmix(interleaved: &[f32], channels: usize, out: &mut Vec<f32>) {
    match channels {
        0 => {}
        1 => out.extend_from_slice(interleaved),
        _ => {
            let scale = 1.0 / channels as f32;
            out.extend(
                interleaved
                    .chunks_exact(channels)
                    .map(|frame| frame.iter().sum::<f32>() * scale),
            );
        }
    }
}

/// Streaming mono resampler from any rate to 48 kHz.
///
/// Feed any number of samples with [`process`](Self::process); output appears in chunks.
/// [`flush`](Self::flush) at the end pushes the rest out. Output sample `k` lines up with
/// input time `k / 48000` (rubato's `SincFixedIn` starts centred on the first input sample:
/// measured within one input sample, see the tests, although its `output_delay()` reports
/// half the filter length), and the total output is exactly
/// `round(input_samples * 48000 / from_rate)`. After `flush` the resampler starts a new
/// stream.
pub struct Resampler {
    /// None when the input is already at 48 kHz.
    inner: Option<SincFixedIn<f32>>,
    from_rate: u32,
    /// Input not yet handed to rubato.
    input: Vec<f32>,
    output: Vec<Vec<f32>>,
    /// Input samples received since the stream started.
    received: u64,
    /// Samples handed to the caller since the stream started.
    emitted: u64,
}

impl Resampler {
    /// A resampler from `from_rate` Hz to 48 kHz.
    pub fn new(from_rate: u32) -> Result<Self, MediaError> {
        if !(MIN_RATE..=MAX_RATE).contains(&from_rate) {
            return Err(MediaError::Unsupported(format!(
                "a sample rate of {from_rate} Hz"
            )));
        }
        let inner = if from_rate == VOICE_SAMPLE_RATE {
            None
        } else {
            let params = SincInterpolationParameters {
                sinc_len: 128,
                f_cutoff: 0.92,
                oversampling_factor: 128,
                interpolation: SincInterpolationType::Linear,
                window: WindowFunction::BlackmanHarris2,
            };
            let ratio = f64::from(VOICE_SAMPLE_RATE) / f64::from(from_rate);
            Some(
                SincFixedIn::<f32>::new(ratio, 1.0, params, CHUNK, 1)
                    .map_err(|e| MediaError::Codec(format!("resampler: {e}")))?,
            )
        };
        let output = match &inner {
            Some(r) => r.output_buffer_allocate(true),
            None => Vec::new(),
        };
        Ok(Resampler {
            inner,
            from_rate,
            input: Vec::with_capacity(CHUNK * 2),
            output,
            received: 0,
            emitted: 0,
        })
    }

    /// Resample `input`, appending whatever output is ready to `out`.
    pub fn process(&mut self, input: &[f32], out: &mut Vec<f32>) -> Result<(), MediaError> {
        self.received += input.len() as u64;
        if self.inner.is_none() {
            out.extend_from_slice(input);
            self.emitted += input.len() as u64;
            return Ok(());
        }
        self.input.extend_from_slice(input);
        let mut used_total = 0;
        while let Some(resampler) = self.inner.as_mut() {
            let need = resampler.input_frames_next();
            if self.input.len() - used_total < need {
                break;
            }
            let chunk = &self.input[used_total..used_total + need];
            let (used, produced) = resampler
                .process_into_buffer(&[chunk], &mut self.output, None)
                .map_err(|e| MediaError::Codec(format!("resampler: {e}")))?;
            used_total += used;
            emit(&self.output, produced, &mut self.emitted, None, out);
        }
        self.input.drain(..used_total);
        Ok(())
    }

    /// End the stream: append the remaining output to `out`, then reset for a new stream.
    pub fn flush(&mut self, out: &mut Vec<f32>) -> Result<(), MediaError> {
        let expected = (self.received * u64::from(VOICE_SAMPLE_RATE)
            + u64::from(self.from_rate) / 2)
            / u64::from(self.from_rate);
        if let Some(resampler) = self.inner.as_mut() {
            let rest = std::mem::take(&mut self.input);
            let mut first = true;
            // Each round pushes at least one chunk of zeros through; the delay is far
            // shorter than a few chunks, so this ends.
            for _ in 0..64 {
                if self.emitted >= expected {
                    break;
                }
                let input: Option<&[&[f32]]> = if first { Some(&[&rest[..]]) } else { None };
                first = false;
                let (_, produced) = resampler
                    .process_partial_into_buffer(input, &mut self.output, None)
                    .map_err(|e| MediaError::Codec(format!("resampler: {e}")))?;
                emit(
                    &self.output,
                    produced,
                    &mut self.emitted,
                    Some(expected),
                    out,
                );
            }
            resampler.reset();
        }
        self.received = 0;
        self.emitted = 0;
        self.input.clear();
        Ok(())
    }
}

/// Pass `produced` samples of rubato's output on, up to `limit` samples in all.
fn emit(
    output: &[Vec<f32>],
    produced: usize,
    emitted: &mut u64,
    limit: Option<u64>,
    out: &mut Vec<f32>,
) {
    let Some(channel) = output.first() else {
        return;
    };
    let produced = &channel[..produced.min(channel.len())];
    let mut ready = produced;
    if let Some(limit) = limit {
        let room = usize::try_from(limit.saturating_sub(*emitted)).unwrap_or(usize::MAX);
        ready = &ready[..ready.len().min(room)];
    }
    out.extend_from_slice(ready);
    *emitted += ready.len() as u64;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(rate: u32, freq: f32, n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| (i as f32 * freq * std::f32::consts::TAU / rate as f32).sin() * 0.5)
            .collect()
    }

    #[test]
    fn exact_length_and_aligned_output() {
        for rate in [8_000, 16_000, 22_050, 44_100, 96_000] {
            let input = sine(rate, 200.0, rate as usize * 3 / 2 + 17);
            let mut r = Resampler::new(rate).unwrap();
            let mut out = Vec::new();
            // Uneven pieces, as a device would deliver them.
            for piece in input.chunks(333) {
                r.process(piece, &mut out).unwrap();
            }
            r.flush(&mut out).unwrap();
            let expected = ((input.len() as u64 * 48_000 + rate as u64 / 2) / rate as u64) as usize;
            assert_eq!(out.len(), expected, "rate {rate}");
            let reference = sine(48_000, 200.0, out.len());
            let mid = out.len() / 2;
            let err: f32 = (mid..mid + 1000)
                .map(|i| (out[i] - reference[i]).abs())
                .fold(0.0, f32::max);
            assert!(err < 0.1, "rate {rate}: max error {err}");

            // An impulse comes out where it went in, within one input sample.
            let mut input = vec![0f32; rate as usize];
            input[rate as usize / 2] = 1.0;
            let mut out = Vec::new();
            r.process(&input, &mut out).unwrap();
            r.flush(&mut out).unwrap();
            let peak = (0..out.len())
                .max_by(|&a, &b| out[a].total_cmp(&out[b]))
                .unwrap();
            let tolerance = (48_000 / rate as usize).max(1) as i64;
            assert!(
                (peak as i64 - 24_000).abs() <= tolerance,
                "rate {rate}: peak at {peak}"
            );
        }
    }

    #[test]
    fn passthrough_and_reuse() {
        let mut r = Resampler::new(48_000).unwrap();
        let mut out = Vec::new();
        r.process(&[0.1, 0.2], &mut out).unwrap();
        r.flush(&mut out).unwrap();
        assert_eq!(out, vec![0.1, 0.2]);
        assert!(Resampler::new(1_000).is_err());

        let mut r = Resampler::new(16_000).unwrap();
        for _ in 0..2 {
            let mut out = Vec::new();
            r.process(&sine(16_000, 300.0, 1600), &mut out).unwrap();
            r.flush(&mut out).unwrap();
            assert_eq!(out.len(), 4800);
        }
    }

    #[test]
    fn downmix_averages() {
        let mut out = Vec::new();
        downmix(&[1.0, 0.0, 0.5, 0.5, 9.0], 2, &mut out);
        assert_eq!(out, vec![0.5, 0.5]);
    }
}
