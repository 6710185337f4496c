//! Encoding voice notes, and reading them back with the reference tools (opus-tools) and
//! with this crate's decoder.

mod common;

use common::*;
use natter_media::*;

#[test]
fn espeak_speech_encodes_to_the_exact_length_opus_tools_agree() {
    let dir = tempfile::tempdir().unwrap();
    // espeak-ng writes 22,050 Hz: this goes through the resampler.
    let wav_path = espeak_wav(dir.path());
    let frames_in = wav_frames(&wav_path);
    let expected = (frames_in * 48_000 + 11_025) / 22_050;

    let note = encode_wav(&std::fs::read(&wav_path).unwrap()).unwrap();
    assert!(!note.truncated);
    assert_eq!(note.samples, expected);
    let ogg = dir.path().join("note.ogg");
    std::fs::write(&ogg, &note.ogg).unwrap();

    let opusinfo = opusinfo_ms(&ogg);
    assert_eq!(opusdec_samples(&ogg), expected);
    let info = inspect(&note.ogg).unwrap();
    assert_eq!(info.samples, expected);
    assert_eq!(info.duration_ms, note.duration_ms);
    assert!(
        (info.duration_ms as f64 - opusinfo).abs() <= 1.0,
        "{info:?} vs {opusinfo}"
    );
    assert_eq!(info.channels, 1);
    assert_eq!(info.pre_skip, VoiceEncoder::new(24_000).unwrap().pre_skip());
    assert!(info.complete);
    assert_eq!(validate_voice_note(&note.ogg).unwrap(), info);
    // What `natter voice info --json` prints.
    let json = serde_json::to_value(&info).unwrap();
    assert_eq!(json["samples"], expected);
    assert_eq!(json["complete"], true);
    assert_eq!(json["input_sample_rate"], 48_000);

    // The same speech at 48 kHz: no resampling, same exactness.
    let wav48 = speech_wav(dir.path(), 5);
    let note = encode_wav(&std::fs::read(&wav48).unwrap()).unwrap();
    assert_eq!(note.samples, 240_000);
    assert_eq!(note.duration_ms, 5_000);
    std::fs::write(&ogg, &note.ogg).unwrap();
    assert_eq!(opusdec_samples(&ogg), 240_000);
    assert!((opusinfo_ms(&ogg) - 5_000.0).abs() <= 1.0);
}

#[test]
fn a_minute_of_speech_fits_in_190_kb() {
    let dir = tempfile::tempdir().unwrap();
    let pcm = speech_pcm(dir.path(), 60);
    assert_eq!(pcm.len(), 2_880_000);
    let note = encode_pcm(&pcm).unwrap();
    assert!(!note.truncated);
    assert_eq!(note.duration_ms, 60_000);
    eprintln!("60 s of speech: {} bytes", note.ogg.len());
    assert!(note.ogg.len() <= 190_000, "{} bytes", note.ogg.len());
    assert_eq!(validate_voice_note(&note.ogg).unwrap().samples, 2_880_000);
}

#[test]
fn longer_input_is_cut_at_exactly_60_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let wav = speech_wav(dir.path(), 75);
    let note = encode_wav(&std::fs::read(&wav).unwrap()).unwrap();
    assert!(note.truncated);
    assert_eq!(note.samples, 2_880_000);
    assert_eq!(note.duration_ms, 60_000);
    let info = validate_voice_note(&note.ogg).unwrap();
    assert_eq!(info.samples, 2_880_000);
    assert_eq!(info.duration_ms, 60_000);
    let ogg = dir.path().join("cut.ogg");
    std::fs::write(&ogg, &note.ogg).unwrap();
    assert_eq!(opusdec_samples(&ogg), 2_880_000);
    assert!((opusinfo_ms(&ogg) - 60_000.0).abs() <= 1.0);

    // Exactly 60 s is not truncated.
    let exact = encode_pcm(&vec![0.0; 2_880_000]).unwrap();
    assert!(!exact.truncated);
    assert_eq!(exact.samples, 2_880_000);
}

#[test]
fn stereo_44k1_input_is_downmixed_and_resampled_to_the_right_length() {
    let dir = tempfile::tempdir().unwrap();
    let src = espeak_wav(dir.path());
    let stereo = dir.path().join("stereo.wav");
    run(
        "sox",
        &[
            s(&src),
            "-r",
            "44100",
            "-c",
            "2",
            "-b",
            "16",
            s(&stereo),
            "trim",
            "0",
            "7.3",
        ],
    );
    let frames = wav_frames(&stereo);
    assert_eq!(frames, 321_930);
    let note = encode_wav(&std::fs::read(&stereo).unwrap()).unwrap();
    assert_eq!(note.samples, 350_400); // 7.3 s at 48 kHz
    let ogg = dir.path().join("stereo.ogg");
    std::fs::write(&ogg, &note.ogg).unwrap();
    assert_eq!(opusdec_samples(&ogg), 350_400);
    // Speech survives: the decoded audio is not silent.
    let pcm = decode(&note.ogg).unwrap();
    let peak = pcm.samples.iter().fold(0f32, |m, x| m.max(x.abs()));
    assert!(peak > 0.1, "peak {peak}");

    // 32-bit float and 24-bit input read too.
    for (encoding, bits) in [("floating-point", "32"), ("signed-integer", "24")] {
        let path = dir.path().join(format!("in_{bits}.wav"));
        run(
            "sox",
            &[
                s(&src),
                "-r",
                "16000",
                "-c",
                "1",
                "-e",
                encoding,
                "-b",
                bits,
                s(&path),
                "trim",
                "0",
                "2",
            ],
        );
        let note = encode_wav(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(note.samples, 96_000, "{encoding} {bits}");
    }
}

#[test]
fn a_wav_written_to_a_pipe_reads_to_its_end() {
    // `espeak-ng --stdout` cannot know the length: its header says ~2 GB of data.
    let out = run("espeak-ng", &["--stdout", "Hello from a pipe."]);
    let wav = out.stdout;
    let declared = u32::from_le_bytes(wav[40..44].try_into().unwrap());
    assert!(declared as usize > wav.len(), "a placeholder length");
    let frames = (wav.len() as u64 - 44) / 2;
    let note = encode_wav(&wav).unwrap();
    assert!(!note.truncated);
    assert_eq!(note.samples, (frames * 48_000 + 11_025) / 22_050);
}

#[test]
fn bad_encoder_inputs_are_refused() {
    assert!(matches!(encode_pcm(&[]), Err(MediaError::NoAudio)));
    let err = encode_wav(b"RIFF nonsense").unwrap_err();
    assert!(matches!(err, MediaError::Wav(_)), "{err}");
    assert_eq!(err.code(), natter_protocol::ErrorCode::BadRequest);
    let mut encoder = VoiceEncoder::new(DEFAULT_BITRATE).unwrap();
    assert!(encoder.encode(&[0.0; 480]).is_err());
    assert!(!encoder.encode(&[0.0; FRAME_SAMPLES]).unwrap().is_empty());
}

#[test]
fn decode_and_wav_fallback_have_the_exact_length() {
    let dir = tempfile::tempdir().unwrap();
    let pcm = speech_pcm(dir.path(), 5);
    let note = encode_pcm(&pcm[..123_457]).unwrap();
    let info = inspect(&note.ogg).unwrap();
    assert_eq!(info.samples, 123_457);

    let decoded = decode(&note.ogg).unwrap();
    assert_eq!(decoded.samples.len(), 123_457);
    assert_eq!(decoded.channels_in, 1);
    // The decoder lines up with the input (pre-skip honoured): strongly correlated.
    let dot: f32 = decoded.samples.iter().zip(&pcm).map(|(a, b)| a * b).sum();
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    let corr = dot / (norm(&decoded.samples) * norm(&pcm[..123_457]));
    assert!(corr > 0.8, "correlation {corr}");

    let wav = to_wav(&note.ogg).unwrap();
    assert_eq!(&wav[0..4], b"RIFF");
    assert_eq!(&wav[8..16], b"WAVEfmt ");
    assert_eq!(u16::from_le_bytes([wav[20], wav[21]]), 1, "PCM");
    assert_eq!(u16::from_le_bytes([wav[22], wav[23]]), 1, "mono");
    assert_eq!(u32::from_le_bytes(wav[24..28].try_into().unwrap()), 48_000);
    assert_eq!(u16::from_le_bytes([wav[34], wav[35]]), 16, "bits");
    assert_eq!(&wav[36..40], b"data");
    assert_eq!(
        u32::from_le_bytes(wav[40..44].try_into().unwrap()),
        2 * 123_457
    );
    assert_eq!(wav.len(), 44 + 2 * 123_457);
    let reader = hound::WavReader::new(std::io::Cursor::new(&wav)).unwrap();
    assert_eq!(reader.duration(), 123_457);

    // A file made by opusenc from 22,050 Hz input: same length as opusdec's output.
    let src = espeak_wav(dir.path());
    let opus = dir.path().join("opusenc.opus");
    run("opusenc", &["--quiet", s(&src), s(&opus)]);
    let bytes = std::fs::read(&opus).unwrap();
    assert_eq!(
        decode(&bytes).unwrap().samples.len() as u64,
        opusdec_samples(&opus)
    );
}

#[test]
fn waveforms() {
    let dir = tempfile::tempdir().unwrap();
    let silence = encode_pcm(&vec![0.0; 96_000]).unwrap();
    assert_eq!(silence.waveform, vec![0; 64]);
    let bars = waveform_of(&silence.ogg).unwrap();
    assert_eq!(bars.len(), 64);
    assert!(bars.iter().all(|&b| b <= 5), "{bars:?}");

    // Loud speech, then the same speech 40 dB quieter.
    let speech = speech_pcm(dir.path(), 5);
    let mut signal: Vec<f32> = speech.iter().map(|x| (x * 2.0).clamp(-1.0, 1.0)).collect();
    signal.extend(speech.iter().map(|x| x * 0.01));
    let note = encode_pcm(&signal).unwrap();
    for bars in [note.waveform.clone(), waveform_of(&note.ogg).unwrap()] {
        assert_eq!(bars.len(), 64);
        let first: u32 = bars[..32].iter().map(|&b| u32::from(b)).sum();
        let last: u32 = bars[32..].iter().map(|&b| u32::from(b)).sum();
        assert!(first > 2 * last, "{bars:?}");
        assert!(
            bars[..32].iter().any(|&b| b > 200),
            "speech reaches near full height: {bars:?}"
        );
    }

    // Live snapshots while recording: always 64 bars.
    let mut live = WaveformBuilder::new();
    for chunk in speech.chunks(960).take(100) {
        live.push(chunk);
        assert_eq!(live.snapshot().len(), 64);
    }
}
