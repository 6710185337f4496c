//! Encoding voice to Ogg Opus: the libopus encoder set up for voice notes, and whole-buffer
//! helpers for the CLI (`natter voice encode`).

use std::hash::{BuildHasher, Hasher};
use std::io::Cursor;

use natter_protocol::limits::{VOICE_MAX_MS, VOICE_SAMPLE_RATE};

use crate::error::{samples_to_ms, MediaError};
use crate::resample::{downmix, Resampler};
use crate::waveform::WaveformBuilder;
use crate::writer::OggOpusWriter;
use crate::FRAME_SAMPLES;

/// Natter's voice bitrate target (VBR). At 24 kbps, a minute of speech without pauses came to
/// 192 KB (VBR spends more on dense speech); 23 kbps keeps the worst case under the 190 KB a
/// minute budget with no audible difference, and speech with pauses at ~175 KB.
pub const DEFAULT_BITRATE: i32 = 23_000;
/// The most audio a voice note holds: 60 s at 48 kHz.
pub const MAX_SAMPLES: usize = VOICE_MAX_MS as usize * (VOICE_SAMPLE_RATE as usize / 1000);
/// Room for the largest packet libopus can produce for one frame.
const MAX_PACKET_BYTES: usize = 4000;

/// libopus encoder for voice notes: 48 kHz mono, `Application::Voip`, unconstrained VBR,
/// 20 ms frames.
pub struct VoiceEncoder {
    encoder: opus::Encoder,
    pre_skip: u16,
    packet: Vec<u8>,
}

impl VoiceEncoder {
    /// An encoder at `bitrate` bits per second ([`DEFAULT_BITRATE`] for voice notes).
    pub fn new(bitrate: i32) -> Result<Self, MediaError> {
        if !(6_000..=510_000).contains(&bitrate) {
            return Err(MediaError::Unsupported(format!(
                "a bitrate of {bitrate} bit/s (Opus takes 6000 to 510000)"
            )));
        }
        let mut encoder = opus::Encoder::new(
            VOICE_SAMPLE_RATE,
            opus::Channels::Mono,
            opus::Application::Voip,
        )?;
        encoder.set_bitrate(opus::Bitrate::Bits(bitrate))?;
        encoder.set_vbr(true)?;
        encoder.set_vbr_constraint(false)?;
        encoder.set_signal(opus::Signal::Voice)?;
        let lookahead = encoder.get_lookahead()?;
        let pre_skip = u16::try_from(lookahead).map_err(|_| {
            MediaError::Codec(format!("libopus reports a lookahead of {lookahead}"))
        })?;
        Ok(VoiceEncoder {
            encoder,
            pre_skip,
            packet: vec![0; MAX_PACKET_BYTES],
        })
    }

    /// The encoder's lookahead in samples: the pre-skip to put in the OpusHead header.
    pub fn pre_skip(&self) -> u16 {
        self.pre_skip
    }

    /// Encode one 20 ms frame of exactly [`FRAME_SAMPLES`] samples in [-1, 1] into an Opus
    /// packet (valid until the next call).
    pub fn encode(&mut self, frame: &[f32]) -> Result<&[u8], MediaError> {
        if frame.len() != FRAME_SAMPLES {
            return Err(MediaError::Codec(format!(
                "a frame must hold exactly {FRAME_SAMPLES} samples, not {}",
                frame.len()
            )));
        }
        let len = self.encoder.encode_float(frame, &mut self.packet)?;
        self.packet
            .get(..len)
            .ok_or_else(|| MediaError::Codec(format!("libopus reports a {len}-byte packet")))
    }
}

/// A voice note encoded from a whole buffer.
#[derive(Debug, Clone)]
pub struct EncodedNote {
    /// The Ogg Opus file.
    pub ogg: Vec<u8>,
    pub duration_ms: u64,
    /// 48 kHz samples a decoder outputs.
    pub samples: u64,
    /// [`natter_protocol::limits::WAVEFORM_BARS`] bars, 0–255 (see [`WaveformBuilder`]).
    pub waveform: Vec<u8>,
    /// Whether the input was longer than 60 s and was cut there.
    pub truncated: bool,
}

/// Encode mono 48 kHz samples (in [-1, 1]) as a voice note. Anything beyond exactly 60 s
/// (2,880,000 samples) is cut (`truncated: true`). The tail is padded with silence to flush
/// the encoder's lookahead, and the final granule position trims that padding off again,
/// so decoders output exactly `samples`.
pub fn encode_pcm(samples: &[f32]) -> Result<EncodedNote, MediaError> {
    if samples.is_empty() {
        return Err(MediaError::NoAudio);
    }
    let truncated = samples.len() > MAX_SAMPLES;
    let samples = &samples[..samples.len().min(MAX_SAMPLES)];

    let mut encoder = VoiceEncoder::new(DEFAULT_BITRATE)?;
    let pre_skip = encoder.pre_skip();
    // One minute at 24 kbps is ~180 KB; reserve most of it.
    let mut writer = OggOpusWriter::new(Vec::with_capacity(200 * 1024), random_serial(), pre_skip)?;
    let mut waveform = WaveformBuilder::new();
    waveform.push(samples);

    let padded_len =
        (samples.len() + usize::from(pre_skip)).div_ceil(FRAME_SAMPLES) * FRAME_SAMPLES;
    let mut frame = [0f32; FRAME_SAMPLES];
    for start in (0..padded_len).step_by(FRAME_SAMPLES) {
        let available = samples.get(start..).unwrap_or_default();
        let n = available.len().min(FRAME_SAMPLES);
        frame[..n].copy_from_slice(&available[..n]);
        frame[n..].fill(0.0);
        let packet = encoder.encode(&frame)?;
        writer.write_packet(packet, FRAME_SAMPLES as u64)?;
    }
    let ogg = writer.finish(samples.len() as u64)?;
    Ok(EncodedNote {
        ogg,
        duration_ms: samples_to_ms(samples.len() as u64),
        samples: samples.len() as u64,
        waveform: waveform.finish(),
        truncated,
    })
}

/// Encode a WAV file (any channel count, downmixed; any rate, resampled to 48 kHz; 8–32-bit
/// integer or 32-bit float samples) as a voice note, cut at 60 s like [`encode_pcm`].
pub fn encode_wav(wav: &[u8]) -> Result<EncodedNote, MediaError> {
    let mut reader =
        hound::WavReader::new(Cursor::new(wav)).map_err(|e| MediaError::Wav(e.to_string()))?;
    let spec = reader.spec();
    let channels = usize::from(spec.channels);
    if channels == 0 || spec.sample_rate == 0 {
        return Err(MediaError::Wav("the header says 0 channels or 0 Hz".into()));
    }
    // Read only what 60 s needs, however long the file. 60 s is a whole number of frames
    // at any integer rate, and resamples to exactly 60 s.
    let max_samples = (VOICE_MAX_MS / 1000) as usize * spec.sample_rate as usize * channels;
    let present = samples_present(wav, reader.len(), channels);
    let take = present.min(max_samples);
    let wav_err = |e: hound::Error| MediaError::Wav(e.to_string());
    let interleaved: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => reader
            .samples::<f32>()
            .take(take)
            .collect::<Result<_, _>>()
            .map_err(wav_err)?,
        hound::SampleFormat::Int => {
            let bits = spec.bits_per_sample;
            if !(8..=32).contains(&bits) {
                return Err(MediaError::Wav(format!("{bits}-bit samples")));
            }
            let scale = 1.0 / (1u64 << (bits - 1)) as f32;
            reader
                .samples::<i32>()
                .take(take)
                .map(|s| s.map(|v| v as f32 * scale))
                .collect::<Result<_, _>>()
                .map_err(wav_err)?
        }
    };
    let mut mono = Vec::with_capacity(interleaved.len() / channels);
    downmix(&interleaved, channels, &mut mono);
    drop(interleaved);
    if mono.is_empty() {
        return Err(MediaError::NoAudio);
    }

    let mono = if spec.sample_rate == VOICE_SAMPLE_RATE {
        mono
    } else {
        let mut resampler = Resampler::new(spec.sample_rate)?;
        let mut out = Vec::with_capacity(
            MAX_SAMPLES.min((mono.len() as u64 * 48_000 / u64::from(spec.sample_rate)) as usize),
        );
        resampler.process(&mono, &mut out)?;
        resampler.flush(&mut out)?;
        out
    };
    let mut note = encode_pcm(&mono)?;
    note.truncated |= present > max_samples;
    Ok(note)
}

/// Samples the data chunk really holds. A WAV written to a pipe (`espeak-ng --stdout`,
/// `sox ... -t wav -`) has a placeholder length in its header: its data ends with the file.
fn samples_present(wav: &[u8], declared: u32, channels: usize) -> usize {
    let declared = declared as usize;
    // Walk the RIFF chunks for the fmt chunk's block size and where the data starts.
    let mut pos = 12;
    let mut block_align = None;
    while let Some(header) = wav.get(pos..pos + 8) {
        let len = u32::from_le_bytes([header[4], header[5], header[6], header[7]]) as usize;
        let body = pos + 8;
        match &header[..4] {
            b"fmt " => {
                block_align = wav
                    .get(body + 12..body + 14)
                    .map(|b| u16::from_le_bytes([b[0], b[1]]))
            }
            b"data" => {
                let Some(align) = block_align.filter(|&a| a > 0) else {
                    return declared;
                };
                let frames = wav.len().saturating_sub(body) / usize::from(align);
                return declared.min(frames * channels);
            }
            _ => {}
        }
        // Chunks are padded to an even length.
        pos = body.saturating_add(len).saturating_add(len % 2);
    }
    declared
}

/// A random serial number for a new Ogg stream (std's randomly keyed hasher, no extra
/// dependency; uniqueness across a user's files is all Ogg asks for).
pub(crate) fn random_serial() -> u32 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    hasher.finish() as u32
}
