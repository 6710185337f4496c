//! Decoding Ogg Opus with libopus, and the WAV fallback for web views that cannot play
//! Ogg Opus (Apple WebKit before iOS 18.4 / macOS 15.4).

use std::io::Cursor;

use natter_protocol::limits::VOICE_SAMPLE_RATE;

use crate::error::MediaError;
use crate::ogg_opus::{info_of, scan};
use crate::opus_packet::MAX_PACKET_SAMPLES;
use crate::resample::downmix;

/// Decoded audio: mono, 48 kHz, samples in [-1, 1] (louder only if the file asks for gain).
#[derive(Debug, Clone)]
pub struct Pcm {
    pub samples: Vec<f32>,
    /// Channels in the file before downmixing.
    pub channels_in: u8,
}

/// Decode a file (checked as by [`crate::inspect`]) to mono f32 at 48 kHz: stereo and
/// multichannel are averaged, the header's output gain is applied, and pre-skip and end
/// trimming are honoured, so the length is exactly `inspect(bytes)?.samples`.
pub fn decode(bytes: &[u8]) -> Result<Pcm, MediaError> {
    let scan = scan(bytes, false)?;
    let info = info_of(&scan, bytes.len())?;
    let head = &scan.head;
    let mut decoder =
        opus::MSDecoder::new(VOICE_SAMPLE_RATE, head.streams, head.coupled, &head.mapping)?;
    let channels = usize::from(head.channels);
    let mut buf = vec![0f32; MAX_PACKET_SAMPLES as usize * channels];
    let capacity = usize::try_from(scan.packet_samples).unwrap_or(0);
    let mut mono = Vec::with_capacity(capacity);
    for (index, packet) in scan.packets.iter().enumerate() {
        let n = decoder.decode_float(packet, &mut buf, false).map_err(|e| {
            MediaError::Malformed(format!("audio packet {} cannot be decoded: {e}", index + 1))
        })?;
        downmix(&buf[..(n * channels).min(buf.len())], channels, &mut mono);
    }
    if head.gain_q8 != 0 {
        let gain = 10f32.powf(f32::from(head.gain_q8) / 256.0 / 20.0);
        mono.iter_mut().for_each(|s| *s *= gain);
    }
    let start = usize::from(head.pre_skip).min(mono.len());
    mono.drain(..start);
    mono.truncate(usize::try_from(info.samples).unwrap_or(usize::MAX));
    Ok(Pcm {
        samples: mono,
        channels_in: head.channels,
    })
}

/// Decode to a 16-bit PCM WAV file, mono 48 kHz.
pub fn to_wav(bytes: &[u8]) -> Result<Vec<u8>, MediaError> {
    let pcm = decode(bytes)?;
    pcm_to_wav(&pcm.samples)
}

/// Mono 48 kHz samples as a 16-bit PCM WAV file (clipped to [-1, 1]).
pub fn pcm_to_wav(samples: &[f32]) -> Result<Vec<u8>, MediaError> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: VOICE_SAMPLE_RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let wav_err = |e: hound::Error| MediaError::Codec(format!("writing WAV: {e}"));
    let mut out = Cursor::new(Vec::with_capacity(44 + samples.len() * 2));
    let mut writer = hound::WavWriter::new(&mut out, spec).map_err(wav_err)?;
    {
        let mut w16 = writer.get_i16_writer(
            u32::try_from(samples.len())
                .map_err(|_| MediaError::Codec("too many samples for a WAV file".into()))?,
        );
        for &s in samples {
            // Clamped to the i16 range first, so the cast cannot wrap.
            w16.write_sample((s.clamp(-1.0, 1.0) * 32767.0).round() as i16);
        }
        w16.flush().map_err(wav_err)?;
    }
    writer.finalize().map_err(wav_err)?;
    Ok(out.into_inner())
}
