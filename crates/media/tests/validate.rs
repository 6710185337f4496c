//! What the server accepts and refuses: real files from opusenc and our encoder pass with
//! the duration opusinfo reports; forged, foreign, cut and corrupted files are refused
//! with the code the client acts on.

mod common;

use common::*;
use natter_media::*;
use natter_protocol::limits::VOICE_MAX_BYTES;
use natter_protocol::ErrorCode;

fn refused(bytes: &[u8], code: ErrorCode, text: &str) -> MediaError {
    let err = validate_voice_note(bytes).expect_err("must be refused");
    assert_eq!(err.code(), code, "{err}");
    assert!(
        err.to_string().contains(text),
        "message {:?} should contain {text:?}",
        err.to_string()
    );
    err
}

/// A 30 s note from our encoder, for forging.
fn thirty_seconds() -> Vec<u8> {
    let samples: Vec<f32> = (0..1_440_000)
        .map(|i| ((i as f32 * 0.0297).sin() * 0.3) * ((i / 9600) % 2) as f32)
        .collect();
    encode_pcm(&samples).unwrap().ogg
}

#[test]
fn notes_from_opusenc_are_accepted_with_the_length_opusinfo_reports() {
    let dir = tempfile::tempdir().unwrap();
    let src = espeak_wav(dir.path());
    let speech48 = speech_wav(dir.path(), 20);
    for (name, input, extra) in [
        ("default", &src, &[][..]),
        ("16k", &src, &["--bitrate", "16"][..]),
        (
            "48k-input",
            &speech48,
            &["--bitrate", "24", "--framesize", "60"][..],
        ),
    ] {
        let out = dir.path().join(format!("{name}.opus"));
        let mut args = vec!["--quiet"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&[s(input), s(&out)]);
        run("opusenc", &args);
        let bytes = std::fs::read(&out).unwrap();
        let info = validate_voice_note(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        let reported = opusinfo_ms(&out);
        assert!(
            (info.duration_ms as f64 - reported).abs() <= 1.0,
            "{name}: {} ms vs opusinfo {reported} ms",
            info.duration_ms
        );
        assert_eq!(info.samples, opusdec_samples(&out), "{name}");
        assert!(info.complete);
        assert_eq!(info.bytes, bytes.len());
    }
}

#[test]
fn ten_minutes_is_too_long_whatever_the_size() {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("quiet.wav");
    // A faint tone: tiny packets, so the file stays well under the size limit.
    run(
        "sox",
        &[
            "-n",
            "-r",
            "48000",
            "-c",
            "1",
            "-b",
            "16",
            s(&wav),
            "synth",
            "600",
            "sine",
            "300",
            "vol",
            "0.01",
        ],
    );
    let opus = dir.path().join("long.opus");
    run("opusenc", &["--quiet", "--bitrate", "6", s(&wav), s(&opus)]);
    let bytes = std::fs::read(&opus).unwrap();
    assert!(bytes.len() < VOICE_MAX_BYTES, "{} bytes", bytes.len());
    let err = refused(
        &bytes,
        ErrorCode::VoiceTooLong,
        "600.0 s is longer than the 60 s limit",
    );
    assert!(matches!(
        err,
        MediaError::TooLong {
            duration_ms: 600_000
        }
    ));
    // inspect still measures it.
    assert_eq!(inspect(&bytes).unwrap().duration_ms, 600_000);

    // The limit is 60 s plus one 20 ms frame of tolerance, to the sample.
    assert_eq!(
        validate_voice_note(&silent_note(2_880_960))
            .unwrap()
            .duration_ms,
        60_020
    );
    let err = refused(
        &silent_note(2_880_961),
        ErrorCode::VoiceTooLong,
        "60.020 s is longer",
    );
    assert!(matches!(
        err,
        MediaError::TooLong {
            duration_ms: 60_020
        }
    ));
    refused(
        &silent_note(2_881_920),
        ErrorCode::VoiceTooLong,
        "60.040 s is longer",
    );
}

/// A note of `samples` of silence written with the streaming API (no 60 s cut).
fn silent_note(samples: u64) -> Vec<u8> {
    let mut encoder = VoiceEncoder::new(DEFAULT_BITRATE).unwrap();
    let pre_skip = encoder.pre_skip();
    let mut writer = OggOpusWriter::new(Vec::new(), 7, pre_skip).unwrap();
    let frames = (samples + u64::from(pre_skip)).div_ceil(FRAME_SAMPLES as u64);
    for _ in 0..frames {
        let packet = encoder.encode(&[0.0; FRAME_SAMPLES]).unwrap();
        writer.write_packet(packet, FRAME_SAMPLES as u64).unwrap();
    }
    writer.finish(samples).unwrap()
}

#[test]
fn foreign_files_are_not_ogg_or_not_opus() {
    let dir = tempfile::tempdir().unwrap();
    let wav_path = espeak_wav(dir.path());
    let wav = std::fs::read(&wav_path).unwrap();
    refused(
        &wav,
        ErrorCode::InvalidVoice,
        "not an Ogg file (it looks like a WAV file)",
    );

    let png_path = dir.path().join("spectrogram.png");
    run(
        "sox",
        &[s(&wav_path), "-n", "spectrogram", "-o", s(&png_path)],
    );
    let png = std::fs::read(&png_path).unwrap();
    refused(
        &png,
        ErrorCode::InvalidVoice,
        "not an Ogg file (it looks like a PNG image)",
    );

    let mut state = 0x2545_f491_4f6c_dd1du64;
    let random: Vec<u8> = (0..50_000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect();
    refused(&random, ErrorCode::InvalidVoice, "not an Ogg file");
    refused(
        &[],
        ErrorCode::InvalidVoice,
        "not an Ogg file (the file is empty)",
    );
    refused(
        b"OggS",
        ErrorCode::InvalidVoice,
        "ends in the middle of page 0",
    );

    let vorbis_path = dir.path().join("vorbis.ogg");
    run("sox", &[s(&wav_path), s(&vorbis_path)]);
    let vorbis = std::fs::read(&vorbis_path).unwrap();
    let err = refused(&vorbis, ErrorCode::InvalidVoice, "Ogg Vorbis, not Opus");
    assert_eq!(err.to_string(), "Ogg Vorbis, not Opus");
}

#[test]
fn a_lying_granule_position_is_refused() {
    let mut bytes = thirty_seconds();
    assert_eq!(validate_voice_note(&bytes).unwrap().duration_ms, 30_000);
    let pages = pages(&bytes);
    let last = pages.last().unwrap();
    // Claim 2 s on the final page.
    let claim = pre_skip(&bytes) + 96_000;
    bytes[last.offset + 6..last.offset + 14].copy_from_slice(&claim.to_le_bytes());
    fix_crc(&mut bytes, last.offset, last.len);
    refused(
        &bytes,
        ErrorCode::InvalidVoice,
        "the granule positions claim 2.0 s but the packets hold 30.0 s of audio",
    );

    // Claiming more than the packets hold is refused too.
    let claim = pre_skip(&bytes) + 48_000 * 600;
    bytes[last.offset + 6..last.offset + 14].copy_from_slice(&claim.to_le_bytes());
    fix_crc(&mut bytes, last.offset, last.len);
    refused(
        &bytes,
        ErrorCode::InvalidVoice,
        "claim 600.0 s but the packets hold 30.0 s",
    );

    // A middle page that lies about its position.
    let mut bytes = thirty_seconds();
    let middle = &pages[10];
    let claim = middle.granule - 4800;
    bytes[middle.offset + 6..middle.offset + 14].copy_from_slice(&claim.to_le_bytes());
    fix_crc(&mut bytes, middle.offset, middle.len);
    refused(
        &bytes,
        ErrorCode::InvalidVoice,
        "page 10's granule position claims",
    );
}

#[test]
fn the_size_limit_comes_before_parsing() {
    let dir = tempfile::tempdir().unwrap();
    let noise = dir.path().join("noise.wav");
    run(
        "sox",
        &[
            "-n",
            "-r",
            "48000",
            "-c",
            "2",
            "-b",
            "16",
            s(&noise),
            "synth",
            "40",
            "whitenoise",
            "vol",
            "0.5",
        ],
    );
    let opus = dir.path().join("big.opus");
    run(
        "opusenc",
        &[
            "--quiet",
            "--bitrate",
            "256",
            "--hard-cbr",
            s(&noise),
            s(&opus),
        ],
    );
    let bytes = std::fs::read(&opus).unwrap();
    assert!(bytes.len() > VOICE_MAX_BYTES);
    let err = refused(
        &bytes,
        ErrorCode::MediaTooLarge,
        "larger than the 1 MiB limit",
    );
    assert!(matches!(err, MediaError::TooLarge { max, .. } if max == VOICE_MAX_BYTES));
    // Even garbage of that size gets the size answer, not a parse error.
    refused(
        &vec![0u8; VOICE_MAX_BYTES + 1],
        ErrorCode::MediaTooLarge,
        "the file is 1 MiB",
    );
}

#[test]
fn cut_and_corrupted_files_are_refused() {
    let bytes = thirty_seconds();
    let pages = pages(&bytes);
    let last = pages.last().unwrap();

    // Cut at a page boundary: every page is fine, but there is no end-of-stream page.
    let cut = &bytes[..last.offset];
    let info = inspect(cut).unwrap();
    assert!(!info.complete);
    let err = refused(cut, ErrorCode::InvalidVoice, "no end-of-stream page");
    assert!(matches!(err, MediaError::Truncated(_)));

    // Cut mid-page.
    let cut = &bytes[..pages[12].offset + 40];
    let err = refused(
        cut,
        ErrorCode::InvalidVoice,
        "ends in the middle of page 12",
    );
    assert!(matches!(err, MediaError::Truncated(_)));
    assert!(matches!(inspect(cut), Err(MediaError::Truncated(_))));

    // Cut inside the headers.
    refused(
        &bytes[..pages[1].offset + 10],
        ErrorCode::InvalidVoice,
        "page 1",
    );

    // One flipped bit in an audio page.
    let mut corrupt = bytes.clone();
    corrupt[pages[7].offset + 100] ^= 0x10;
    refused(&corrupt, ErrorCode::InvalidVoice, "page 7 (at byte");
    refused(&corrupt, ErrorCode::InvalidVoice, "checksum does not match");

    // A page gone missing.
    let mut gap = bytes[..pages[5].offset].to_vec();
    gap.extend_from_slice(&bytes[pages[6].offset..]);
    refused(
        &gap,
        ErrorCode::InvalidVoice,
        "sequence number jumps from 4 to 6",
    );

    // Garbage between pages, or after the end.
    let mut garbage = bytes[..pages[5].offset].to_vec();
    garbage.extend_from_slice(b"junk");
    garbage.extend_from_slice(&bytes[pages[5].offset..]);
    refused(&garbage, ErrorCode::InvalidVoice, "unexpected data at byte");
    let mut trailing = bytes.clone();
    trailing.extend_from_slice(b"junk");
    refused(
        &trailing,
        ErrorCode::InvalidVoice,
        "4 bytes of unexpected data follow",
    );
}

#[test]
fn chained_and_multiplexed_streams_are_refused() {
    let one = encode_pcm(&vec![0.1; 48_000]).unwrap().ogg;
    let two = encode_pcm(&vec![0.1; 48_000]).unwrap().ogg;
    let mut chained = one.clone();
    chained.extend_from_slice(&two);
    refused(
        &chained,
        ErrorCode::InvalidVoice,
        "chained Ogg files are not accepted",
    );

    // Interleave the pages of two streams with the `ogg` crate's writer.
    let mut muxed = Vec::new();
    {
        let mut w = ogg::PacketWriter::new(&mut muxed);
        for (serial, source) in [(1u32, &one), (2, &two)] {
            let mut r = ogg::PacketReader::new(std::io::Cursor::new(source.as_slice()));
            let head = r.read_packet_expected().unwrap();
            w.write_packet(head.data, serial, ogg::PacketWriteEndInfo::EndPage, 0)
                .unwrap();
        }
        for serial in [1u32, 2] {
            let source = if serial == 1 { &one } else { &two };
            let mut r = ogg::PacketReader::new(std::io::Cursor::new(source.as_slice()));
            r.read_packet_expected().unwrap();
            let tags = r.read_packet_expected().unwrap();
            w.write_packet(tags.data, serial, ogg::PacketWriteEndInfo::EndPage, 0)
                .unwrap();
        }
    }
    refused(&muxed, ErrorCode::InvalidVoice, "multiplexed");
}

#[test]
fn invalid_headers_and_packets_are_refused() {
    let good = encode_pcm(&vec![0.1; 48_000]).unwrap().ogg;
    let pages = pages(&good);

    // OpusHead version 16 (major version 1).
    let mut bad = good.clone();
    bad[pages[0].offset + 28 + 8] = 16;
    fix_crc(&mut bad, pages[0].offset, pages[0].len);
    refused(&bad, ErrorCode::InvalidVoice, "OpusHead version 16");

    // Zero channels.
    let mut bad = good.clone();
    bad[pages[0].offset + 28 + 9] = 0;
    fix_crc(&mut bad, pages[0].offset, pages[0].len);
    refused(&bad, ErrorCode::InvalidVoice, "0 channels");

    // An audio packet with a code-3 TOC claiming zero frames.
    let mut bad = good.clone();
    let audio = &pages[2];
    let first_packet = audio.offset + 27 + bad[audio.offset + 26] as usize;
    bad[first_packet] = (31 << 3) | 3;
    bad[first_packet + 1] = 0;
    fix_crc(&mut bad, audio.offset, audio.len);
    refused(
        &bad,
        ErrorCode::InvalidVoice,
        "audio packet 1 (on page 2) is a packet with zero frames",
    );
}
