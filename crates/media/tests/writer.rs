//! The streaming writer used while recording, and repair of recordings cut by a crash.

mod common;

use std::io::Cursor;

use common::*;
use natter_media::*;

/// Encode `pcm` frame by frame through the streaming API, without finishing the stream:
/// what a recorder leaves on disk when the process dies.
fn unfinished_recording(pcm: &[f32]) -> (OggOpusWriter<Vec<u8>>, u16) {
    let mut encoder = VoiceEncoder::new(DEFAULT_BITRATE).unwrap();
    let pre_skip = encoder.pre_skip();
    let mut writer = OggOpusWriter::new(Vec::new(), 0x1234, pre_skip).unwrap();
    for frame in pcm.chunks_exact(FRAME_SAMPLES) {
        let packet = encoder.encode(frame).unwrap();
        writer.write_packet(packet, FRAME_SAMPLES as u64).unwrap();
    }
    (writer, pre_skip)
}

#[test]
fn pages_reach_the_output_while_recording() {
    let mut encoder = VoiceEncoder::new(DEFAULT_BITRATE).unwrap();
    let pre_skip = encoder.pre_skip();
    let mut writer = OggOpusWriter::new(Vec::new(), 42, pre_skip).unwrap();
    // Both headers are out at once, so a crash right away still leaves a repairable file.
    assert_eq!(pages(writer.get_ref()).len(), 2);

    let tone: Vec<f32> = (0..48_000 * 5)
        .map(|i| (i as f32 * 0.05).sin() * 0.3)
        .collect();
    for (n, frame) in tone.chunks_exact(FRAME_SAMPLES).enumerate() {
        let packet = encoder.encode(frame).unwrap();
        writer.write_packet(packet, FRAME_SAMPLES as u64).unwrap();
        let written = pages(writer.get_ref());
        // Samples (pre-skip included) in the pages written so far.
        let on_disk = if written.len() == 2 {
            0
        } else {
            written.last().unwrap().granule
        };
        let buffered = (n as u64 + 1) * FRAME_SAMPLES as u64 - on_disk;
        assert!(
            buffered <= 48_000,
            "after packet {n}: {buffered} samples buffered"
        );
    }
    // 250 packets: a page of 50 goes out when the 51st arrives, so four pages are out and
    // the last 50 wait (the newest is always held back for finish()).
    assert_eq!(pages(writer.get_ref()).len(), 2 + 4);

    // flush_page forces everything but the newest packet out.
    let packet = encoder.encode(&tone[..FRAME_SAMPLES]).unwrap();
    writer.write_packet(packet, FRAME_SAMPLES as u64).unwrap();
    writer.flush_page().unwrap();
    let written = pages(writer.get_ref());
    assert_eq!(written.len(), 2 + 5);
    assert_eq!(written.last().unwrap().granule, 250 * FRAME_SAMPLES as u64);

    let total = 251 * FRAME_SAMPLES as u64 - pre_skip as u64 - 100;
    let bytes = writer.finish(total).unwrap();
    let info = validate_voice_note(&bytes).unwrap();
    assert_eq!(info.samples, total);

    // An independent Ogg reader (the `ogg` crate, which checks CRCs) sees the same stream.
    let mut reader = ogg::PacketReader::new(Cursor::new(&bytes));
    let head = reader.read_packet_expected().unwrap();
    assert!(head.data.starts_with(b"OpusHead") && head.first_in_stream());
    let tags = reader.read_packet_expected().unwrap();
    assert!(tags.data.starts_with(b"OpusTags"));
    assert_eq!(&tags.data[12..18], b"natter");
    let mut audio = 0;
    let mut last = None;
    while let Some(p) = reader.read_packet().unwrap() {
        assert_eq!(p.stream_serial(), 42);
        audio += 1;
        last = Some(p);
    }
    assert_eq!(audio, 251);
    let last = last.unwrap();
    assert!(last.last_in_stream());
    assert_eq!(last.absgp_page(), pre_skip as u64 + total);
}

#[test]
fn the_writer_refuses_inconsistent_input() {
    let mut encoder = VoiceEncoder::new(DEFAULT_BITRATE).unwrap();
    let mut writer = OggOpusWriter::new(Vec::new(), 1, encoder.pre_skip()).unwrap();
    let packet = encoder.encode(&[0.0; FRAME_SAMPLES]).unwrap().to_vec();
    // The sample count must match the packet's TOC.
    assert!(writer.write_packet(&packet, 480).is_err());
    assert!(writer.write_packet(&[], 960).is_err());
    writer.write_packet(&packet, 960).unwrap();
    // The final length must fall within the last packet.
    let w2 = {
        let mut w = OggOpusWriter::new(Vec::new(), 1, 312).unwrap();
        w.write_packet(&packet, 960).unwrap();
        w
    };
    assert!(w2.finish(960).is_err());
    // Nothing written at all: there is no audio to end the stream on.
    let empty = OggOpusWriter::new(Vec::new(), 1, 312).unwrap();
    assert!(matches!(empty.finish(0), Err(MediaError::NoAudio)));
    assert!(writer.finish(600).is_ok());
}

#[test]
fn a_recording_cut_mid_page_is_repaired_to_its_last_complete_page() {
    let dir = tempfile::tempdir().unwrap();
    let pcm = speech_pcm(dir.path(), 10);
    let (writer, pre_skip) = unfinished_recording(&pcm);
    let full = writer.get_ref().clone();
    let all_pages = pages(&full);
    assert!(all_pages.len() >= 10);

    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for round in 0..12 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        // A random byte offset after the headers, not on a page boundary.
        let audio_start = all_pages[2].offset;
        let mut cut = audio_start + (state % (full.len() - audio_start) as u64) as usize;
        if all_pages.iter().any(|p| p.offset == cut) {
            cut += 1;
        }
        let torn = &full[..cut];
        assert!(inspect(torn).is_err(), "a torn file does not pass as is");
        let (fixed, info) = repair(torn).unwrap();
        assert!(info.complete);
        if info.samples > 0 {
            assert_eq!(validate_voice_note(&fixed).unwrap(), info);
        } else {
            // Cut in the first second: the headers survive, no audio does.
            assert!(cut < all_pages[3].offset, "round {round}");
        }

        // The audio the torn file held up to the cut: through the page being written.
        let torn_page = all_pages.iter().rfind(|p| p.offset < cut).unwrap();
        let audio_at_cut = torn_page.granule - pre_skip as u64;
        assert!(info.samples <= audio_at_cut, "round {round}");
        assert!(
            audio_at_cut - info.samples <= 48_000,
            "round {round}: lost {} samples",
            audio_at_cut - info.samples
        );
        // opusdec (opusfile) refuses a stream without audio, so only those with some.
        if round < 4 && info.samples > 0 {
            let path = dir.path().join(format!("repaired_{round}.ogg"));
            std::fs::write(&path, &fixed).unwrap();
            assert_eq!(opusdec_samples(&path), info.samples, "round {round}");
            opusinfo_ms(&path);
        }
        assert_eq!(decode(&fixed).unwrap().samples.len() as u64, info.samples);
    }

    // Cut exactly at a page boundary: nothing is lost.
    let boundary = all_pages[6].offset;
    let (fixed, info) = repair(&full[..boundary]).unwrap();
    assert_eq!(info.samples, all_pages[5].granule - pre_skip as u64);
    assert_eq!(fixed.len(), boundary);

    // The whole unfinished file.
    let (_, info) = repair(&full).unwrap();
    assert_eq!(
        info.samples,
        all_pages.last().unwrap().granule - pre_skip as u64
    );

    // Cut right after the headers: a well-formed empty stream, which is no voice note.
    let (empty, info) = repair(&full[..all_pages[2].offset + 5]).unwrap();
    assert_eq!(info.samples, 0);
    assert!(info.complete);
    let err = validate_voice_note(&empty).unwrap_err();
    assert_eq!(
        err.to_string(),
        "not a valid Ogg Opus file: the voice note holds no audio"
    );

    // Not even the headers: an error.
    assert!(repair(&full[..all_pages[1].offset + 5]).is_err());
    assert!(repair(b"not ogg").is_err());

    // A complete file comes back as it was.
    let note = encode_pcm(&pcm[..48_000]).unwrap();
    let (same, info) = repair(&note.ogg).unwrap();
    assert_eq!(same, note.ogg);
    assert_eq!(info.samples, 48_000);
}

#[test]
fn a_torn_packet_that_spans_pages_is_dropped() {
    // Loud noise at 128 kbps: packets of two segments, written with the `ogg` crate's
    // writer, which fills pages to 255 segments and so spans packets over pages.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let noise: Vec<f32> = (0..48_000 * 8)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        })
        .collect();
    let mut encoder = VoiceEncoder::new(128_000).unwrap();
    let pre_skip = encoder.pre_skip();
    let header = OggOpusWriter::new(Vec::new(), 5, pre_skip).unwrap();
    let header_bytes = header.get_ref().clone();
    let mut reader = ogg::PacketReader::new(Cursor::new(&header_bytes));
    let head = reader.read_packet_expected().unwrap().data;
    let tags = reader.read_packet_expected().unwrap().data;

    let mut bytes = Vec::new();
    {
        let mut w = ogg::PacketWriter::new(&mut bytes);
        w.write_packet(head, 5, ogg::PacketWriteEndInfo::EndPage, 0)
            .unwrap();
        w.write_packet(tags, 5, ogg::PacketWriteEndInfo::EndPage, 0)
            .unwrap();
        let frames: Vec<&[f32]> = noise.chunks_exact(FRAME_SAMPLES).collect();
        for (i, frame) in frames.iter().enumerate() {
            let packet = encoder.encode(frame).unwrap().to_vec();
            let last = i + 1 == frames.len();
            let end = if last {
                ogg::PacketWriteEndInfo::EndStream
            } else {
                ogg::PacketWriteEndInfo::NormalPacket
            };
            let granule = (i as u64 + 1) * FRAME_SAMPLES as u64 - if last { 500 } else { 0 };
            w.write_packet(packet, 5, end, granule).unwrap();
        }
    }
    // The whole file is valid as written by the other implementation.
    let info = validate_voice_note(&bytes).unwrap();
    assert_eq!(info.samples, noise.len() as u64 - 500 - pre_skip as u64);

    let all = pages(&bytes);
    let continued = all
        .iter()
        .position(|p| p.flags & 1 != 0)
        .expect("a packet spans two pages");
    // Cut inside the page that finishes the spanning packet: the page before ends in the
    // first half of that packet, which must go.
    let cut = all[continued].offset + all[continued].len / 2;
    let (fixed, info) = repair(&bytes[..cut]).unwrap();
    assert!(info.complete);
    assert_eq!(info.samples, all[continued - 1].granule - pre_skip as u64);
    assert!(
        fixed.len() < all[continued].offset,
        "the unfinished packet was dropped"
    );

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fixed.opus");
    std::fs::write(&path, &fixed).unwrap();
    assert_eq!(opusdec_samples(&path), info.samples);
    opusinfo_ms(&path);
    assert_eq!(decode(&fixed).unwrap().samples.len() as u64, info.samples);
}
