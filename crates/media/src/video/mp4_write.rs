//! MP4 and MOV out: a fresh file built from the samples, with the track tables rewritten and
//! nothing else carried over.
//!
//! Layout: `ftyp`, `moov` (before the media, so playback can start while downloading), `mdat`
//! with the two tracks interleaved in half-second chunks. Copied verbatim from the input: the
//! sample bytes, each track's sample description (`stsd`: the codec configuration, with the
//! free-text compressor name and vendor zeroed) and the video track's matrix (rotation). All
//! times of creation and modification are 0, handler names are fixed, and there is no `udta`
//! or `meta` anywhere. A MOV stays a MOV: its QuickTime sound descriptions are not valid MP4.

use super::mp4::{Movie, Sample, Track};
use super::{AudioCodec, Container, VideoCodec, VideoEdits};
use crate::MediaError;

/// Movie timescale of the output (`mvhd`, `tkhd` and edit list durations): milliseconds.
const MOVIE_TIMESCALE: u64 = 1000;
/// Length of one interleaving chunk, in milliseconds.
const CHUNK_MS: u64 = 500;

/// One track of the output: which input samples, and how its timeline maps onto the movie's.
struct OutTrack<'a> {
    track: &'a Track,
    handler: &'static [u8; 4],
    samples: &'a [Sample],
    /// Silence before the track starts, in ms (an edit list's empty edit).
    empty_ms: u64,
    /// Where presentation starts on the new media timeline (decode times start at 0).
    media_time: u64,
    /// How long the track plays, in ms.
    duration_ms: u64,
}

pub(super) fn write(
    input: &[u8],
    movie: &Movie,
    edits: &VideoEdits,
    duration_ms: u32,
) -> Result<Vec<u8>, MediaError> {
    let start_ms = u64::from(edits.trim_start_ms.unwrap_or(0));
    let end_ms = u64::from(edits.trim_end_ms.unwrap_or(duration_ms));
    if start_ms >= end_ms || start_ms >= u64::from(duration_ms) {
        return Err(MediaError::InvalidVideoEdit(format!(
            "the cut from {start_ms} ms to {end_ms} ms leaves nothing of a {duration_ms} ms video"
        )));
    }
    let end_ms = end_ms.min(u64::from(duration_ms));

    let video = cut_video(&movie.video, start_ms, end_ms)?;
    // The movie's time zero is the keyframe the video now starts at.
    let origin_ms = video_origin_ms(&movie.video, &video);
    let mut tracks = vec![video];
    if let Some((codec, audio)) = &movie.audio {
        if !edits.mute {
            if *codec == AudioCodec::Other {
                return Err(MediaError::UnsupportedVideo(
                    "this video's sound format (send it muted, or as AAC or Opus)".into(),
                ));
            }
            if let Some(audio) = cut_audio(audio, origin_ms, end_ms) {
                tracks.push(audio);
            }
        }
    }

    let chunks = interleave(&tracks);
    let ftyp = ftyp(movie.container, movie.video_codec);
    // Chunk offsets are 32-bit either way, so the `moov` size does not depend on them: build
    // it once to learn its size, then again with the real offsets.
    let draft = moov(input, movie.container, &tracks, &chunks, 0)?;
    let media_start = ftyp.len() + draft.len() + 8;
    let moov = moov(input, movie.container, &tracks, &chunks, media_start as u64)?;
    let media_len: usize = chunks
        .iter()
        .flat_map(|c| &tracks[c.track].samples[c.first..c.first + c.count])
        .map(|s| s.size as usize)
        .sum();
    let mdat_size = u32::try_from(media_len + 8)
        .map_err(|_| MediaError::CorruptVideo("the media data is too large".into()))?;

    let mut out = Vec::with_capacity(media_start + media_len);
    out.extend_from_slice(&ftyp);
    out.extend_from_slice(&moov);
    out.extend_from_slice(&mdat_size.to_be_bytes());
    out.extend_from_slice(b"mdat");
    for chunk in &chunks {
        for s in &tracks[chunk.track].samples[chunk.first..chunk.first + chunk.count] {
            out.extend_from_slice(&input[s.offset..s.offset + s.size as usize]);
        }
    }
    Ok(out)
}

fn ms_to_units(ms: u64, timescale: u32) -> u64 {
    ms.saturating_mul(u64::from(timescale)) / 1000
}

fn units_to_ms(units: u64, timescale: u32) -> u64 {
    units.saturating_mul(1000) / u64::from(timescale)
}

/// The video from the keyframe at or before `start_ms` to `end_ms`. Samples after the end in
/// presentation order but needed to decode earlier ones (B-frame references) are kept; the
/// edit list hides them.
fn cut_video(track: &Track, start_ms: u64, end_ms: u64) -> Result<OutTrack<'_>, MediaError> {
    let ts = track.timescale;
    let mt = track.media_time;
    let start = ms_to_units(start_ms, ts) as i64;
    let end = ms_to_units(end_ms, ts) as i64;
    let samples = &track.samples;
    let first = samples
        .iter()
        .enumerate()
        .filter(|(_, s)| s.sync && s.pts(mt) <= start)
        .max_by_key(|(_, s)| s.pts(mt))
        .map(|(i, _)| i)
        .or_else(|| samples.iter().position(|s| s.sync))
        .ok_or_else(|| MediaError::CorruptVideo("the video has no keyframe".into()))?;
    let last = samples
        .iter()
        .enumerate()
        .skip(first)
        .rev()
        .find(|(_, s)| s.pts(mt) < end)
        .map(|(i, _)| i)
        .unwrap_or(first);
    let kept = &samples[first..=last];
    let base = kept[0].dts;
    // New presentation start: the earliest composition time among the kept samples.
    let begin = kept
        .iter()
        .map(|s| (s.dts - base) as i64 + s.cts)
        .min()
        .unwrap_or(0)
        .max(0) as u64;
    let shown_end = kept
        .iter()
        .map(|s| (s.dts - base) as i64 + s.cts + i64::from(s.duration))
        .max()
        .unwrap_or(0)
        .max(0) as u64;
    // The requested end on the new media timeline (presentation + media time - new origin).
    let wanted_end = (end + mt as i64 - base as i64).max(0) as u64;
    let duration = shown_end.min(wanted_end).saturating_sub(begin);
    Ok(OutTrack {
        track,
        handler: b"vide",
        samples: kept,
        empty_ms: 0,
        media_time: begin,
        duration_ms: units_to_ms(duration, ts).max(1),
    })
}

/// Where the cut video starts on the input's presentation timeline, in ms.
fn video_origin_ms(track: &Track, video: &OutTrack<'_>) -> u64 {
    let base = video.samples[0].dts;
    let begin_media = base + video.media_time;
    units_to_ms(
        begin_media.saturating_sub(track.media_time),
        track.timescale,
    )
}

/// The audio that plays between `origin_ms` and `end_ms` of the input, or `None` when none
/// does.
fn cut_audio(track: &Track, origin_ms: u64, end_ms: u64) -> Option<OutTrack<'_>> {
    let ts = track.timescale;
    let mt = track.media_time as i64;
    let origin = ms_to_units(origin_ms, ts) as i64;
    let end = ms_to_units(end_ms, ts) as i64;
    let samples = &track.samples;
    let first = samples
        .iter()
        .position(|s| s.pts(track.media_time) + i64::from(s.duration) > origin)?;
    let last = samples
        .iter()
        .rposition(|s| s.pts(track.media_time) < end)?;
    if last < first {
        return None;
    }
    let kept = &samples[first..=last];
    let base = kept[0].dts as i64;
    // The media time (new timeline) that plays at the movie's time zero; before the track's
    // first sample, the gap is an empty edit.
    let at_origin = origin + mt - base;
    let (empty_units, media_time) = if at_origin < 0 {
        ((-at_origin) as u64, 0)
    } else {
        (0, at_origin as u64)
    };
    let last_end = kept
        .iter()
        .map(|s| s.pts(track.media_time) + i64::from(s.duration))
        .max()
        .unwrap_or(0);
    let plays_until = last_end.min(end);
    let plays_from = origin + empty_units as i64;
    let duration = (plays_until - plays_from).max(0) as u64;
    Some(OutTrack {
        track,
        handler: b"soun",
        samples: kept,
        empty_ms: units_to_ms(empty_units, ts),
        media_time,
        duration_ms: units_to_ms(duration, ts).max(1),
    })
}

/// A run of consecutive samples of one track, stored together.
struct Chunk {
    track: usize,
    first: usize,
    count: usize,
}

/// Half-second chunks, alternating between the tracks in decode order, so a player reading
/// the file front to back has sound and picture at hand together.
fn interleave(tracks: &[OutTrack<'_>]) -> Vec<Chunk> {
    let mut next = vec![0usize; tracks.len()];
    let mut chunks = Vec::new();
    let mut window_end = CHUNK_MS;
    while tracks.iter().zip(&next).any(|(t, &n)| n < t.samples.len()) {
        for (index, track) in tracks.iter().enumerate() {
            let base = track.samples[0].dts;
            let first = next[index];
            let mut n = first;
            while let Some(s) = track.samples.get(n) {
                if units_to_ms(s.dts - base, track.track.timescale) >= window_end {
                    break;
                }
                n += 1;
            }
            if n > first {
                chunks.push(Chunk {
                    track: index,
                    first,
                    count: n - first,
                });
                next[index] = n;
            }
        }
        window_end += CHUNK_MS;
    }
    chunks
}

// Box writing.

fn boxed(out: &mut Vec<u8>, kind: &[u8; 4], body: impl FnOnce(&mut Vec<u8>)) {
    let start = out.len();
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(kind);
    body(out);
    let size = (out.len() - start) as u32;
    out[start..start + 4].copy_from_slice(&size.to_be_bytes());
}

fn full_box(
    out: &mut Vec<u8>,
    kind: &[u8; 4],
    version: u8,
    flags: u32,
    body: impl FnOnce(&mut Vec<u8>),
) {
    boxed(out, kind, |out| {
        out.extend_from_slice(&(u32::from(version) << 24 | flags).to_be_bytes());
        body(out);
    });
}

fn u16be(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_be_bytes());
}

fn u32be(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_be_bytes());
}

fn clamp32(v: u64) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

const IDENTITY: [i32; 9] = [0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x4000_0000];

fn ftyp(container: Container, codec: VideoCodec) -> Vec<u8> {
    let mut out = Vec::new();
    boxed(&mut out, b"ftyp", |out| {
        if container == Container::Mov {
            out.extend_from_slice(b"qt  ");
            u32be(out, 0x200);
            out.extend_from_slice(b"qt  ");
        } else {
            out.extend_from_slice(b"isom");
            u32be(out, 0x200);
            out.extend_from_slice(b"isomiso2");
            out.extend_from_slice(match codec {
                VideoCodec::H264 => b"avc1",
                VideoCodec::Av1 => b"av01",
                _ => b"iso6",
            });
            out.extend_from_slice(b"mp41");
        }
    });
    out
}

fn moov(
    input: &[u8],
    container: Container,
    tracks: &[OutTrack<'_>],
    chunks: &[Chunk],
    media_start: u64,
) -> Result<Vec<u8>, MediaError> {
    let mut out = Vec::new();
    let movie_ms = tracks
        .iter()
        .map(|t| t.empty_ms + t.duration_ms)
        .max()
        .unwrap_or(0);
    // Where each chunk's bytes will start in the output.
    let mut offsets = Vec::with_capacity(chunks.len());
    let mut at = media_start;
    for c in chunks {
        offsets.push(at);
        let samples = &tracks[c.track].samples[c.first..c.first + c.count];
        at += samples.iter().map(|s| u64::from(s.size)).sum::<u64>();
    }
    let mut failed = None;
    boxed(&mut out, b"moov", |out| {
        full_box(out, b"mvhd", 0, 0, |out| {
            u32be(out, 0); // creation time
            u32be(out, 0); // modification time
            u32be(out, MOVIE_TIMESCALE as u32);
            u32be(out, clamp32(movie_ms));
            u32be(out, 0x0001_0000); // rate 1.0
            u16be(out, 0x0100); // volume 1.0
            out.extend_from_slice(&[0; 10]);
            for v in IDENTITY {
                out.extend_from_slice(&v.to_be_bytes());
            }
            out.extend_from_slice(&[0; 24]);
            u32be(out, tracks.len() as u32 + 1);
        });
        for (index, track) in tracks.iter().enumerate() {
            let track_chunks: Vec<(u64, usize)> = chunks
                .iter()
                .zip(&offsets)
                .filter(|(c, _)| c.track == index)
                .map(|(c, &o)| (o, c.count))
                .collect();
            if let Err(e) = trak(
                out,
                input,
                container,
                index as u32 + 1,
                track,
                &track_chunks,
            ) {
                failed = Some(e);
            }
        }
    });
    match failed {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

fn trak(
    out: &mut Vec<u8>,
    input: &[u8],
    container: Container,
    id: u32,
    t: &OutTrack<'_>,
    chunks: &[(u64, usize)],
) -> Result<(), MediaError> {
    let video = t.handler == b"vide";
    let stsd = sample_description(input, t.track, video)?;
    boxed(out, b"trak", |out| {
        full_box(out, b"tkhd", 0, 3, |out| {
            u32be(out, 0); // creation time
            u32be(out, 0); // modification time
            u32be(out, id);
            u32be(out, 0);
            u32be(out, clamp32(t.empty_ms + t.duration_ms));
            out.extend_from_slice(&[0; 8]);
            u16be(out, 0); // layer
            u16be(out, 0); // alternate group
            u16be(out, if video { 0 } else { 0x0100 }); // volume
            u16be(out, 0);
            let matrix = if video { t.track.matrix } else { IDENTITY };
            for v in matrix {
                out.extend_from_slice(&v.to_be_bytes());
            }
            let (w, h) = if video { t.track.tkhd_size } else { (0, 0) };
            u32be(out, w);
            u32be(out, h);
        });
        boxed(out, b"edts", |out| {
            let entries = if t.empty_ms > 0 { 2 } else { 1 };
            full_box(out, b"elst", 0, 0, |out| {
                u32be(out, entries);
                if t.empty_ms > 0 {
                    u32be(out, clamp32(t.empty_ms));
                    u32be(out, u32::MAX); // media time -1: an empty edit
                    u32be(out, 0x0001_0000);
                }
                u32be(out, clamp32(t.duration_ms));
                u32be(out, clamp32(t.media_time));
                u32be(out, 0x0001_0000);
            });
        });
        boxed(out, b"mdia", |out| {
            let media_units: u64 = t.samples.iter().map(|s| u64::from(s.duration)).sum();
            full_box(out, b"mdhd", 0, 0, |out| {
                u32be(out, 0);
                u32be(out, 0);
                u32be(out, t.track.timescale);
                u32be(out, clamp32(media_units));
                u16be(out, 0x55C4); // "und"
                u16be(out, 0);
            });
            full_box(out, b"hdlr", 0, 0, |out| {
                // QuickTime names the component type here; MP4 leaves it zero.
                out.extend_from_slice(if container == Container::Mov {
                    b"mhlr"
                } else {
                    &[0; 4]
                });
                out.extend_from_slice(t.handler);
                out.extend_from_slice(&[0; 12]);
                let name: &[u8] = if video {
                    b"VideoHandler"
                } else {
                    b"SoundHandler"
                };
                if container == Container::Mov {
                    out.push(name.len() as u8); // a Pascal string
                    out.extend_from_slice(name);
                } else {
                    out.extend_from_slice(name);
                    out.push(0);
                }
            });
            boxed(out, b"minf", |out| {
                if video {
                    full_box(out, b"vmhd", 0, 1, |out| out.extend_from_slice(&[0; 8]));
                } else {
                    full_box(out, b"smhd", 0, 0, |out| out.extend_from_slice(&[0; 4]));
                }
                boxed(out, b"dinf", |out| {
                    full_box(out, b"dref", 0, 0, |out| {
                        u32be(out, 1);
                        // Flag 1: the media is in this file.
                        let kind = if container == Container::Mov {
                            b"alis"
                        } else {
                            b"url "
                        };
                        full_box(out, kind, 0, 1, |_| {});
                    });
                });
                boxed(out, b"stbl", |out| {
                    out.extend_from_slice(&stsd);
                    sample_tables(out, t, chunks);
                });
            });
        });
    });
    Ok(())
}

/// The input's `stsd` box, with the free-text fields of a video sample entry zeroed: the
/// vendor and the 32-byte compressor name, which encoders fill with their name and version.
fn sample_description(input: &[u8], track: &Track, video: bool) -> Result<Vec<u8>, MediaError> {
    let mut stsd = input[track.stsd.start..track.stsd.end].to_vec();
    if video {
        let entry = super::bmff::first_sample_entry(input, &track.stsd)?;
        let at = entry.start - track.stsd.start;
        // VisualSampleEntry: 8 header, 6 reserved, 2 index, 2 version, 2 revision, 4 vendor,
        // 8 quality, 4 size, 8 resolution, 4 data size, 2 frame count, 32 compressor name.
        if entry.end - entry.start >= 86 {
            stsd[at + 20..at + 24].fill(0);
            stsd[at + 50..at + 82].fill(0);
        }
    }
    Ok(stsd)
}

fn sample_tables(out: &mut Vec<u8>, t: &OutTrack<'_>, chunks: &[(u64, usize)]) {
    let samples = t.samples;
    // Decode durations, run-length coded.
    let mut stts: Vec<(u32, u32)> = Vec::new();
    for s in samples {
        match stts.last_mut() {
            Some((count, delta)) if *delta == s.duration => *count += 1,
            _ => stts.push((1, s.duration)),
        }
    }
    full_box(out, b"stts", 0, 0, |out| {
        u32be(out, stts.len() as u32);
        for (count, delta) in &stts {
            u32be(out, *count);
            u32be(out, *delta);
        }
    });
    if samples.iter().any(|s| s.cts != 0) {
        let mut ctts: Vec<(u32, i64)> = Vec::new();
        for s in samples {
            match ctts.last_mut() {
                Some((count, offset)) if *offset == s.cts => *count += 1,
                _ => ctts.push((1, s.cts)),
            }
        }
        let signed = ctts.iter().any(|(_, o)| *o < 0);
        full_box(out, b"ctts", u8::from(signed), 0, |out| {
            u32be(out, ctts.len() as u32);
            for (count, offset) in &ctts {
                u32be(out, *count);
                // Version 1 is the same 32 bits read as signed.
                u32be(out, *offset as i32 as u32);
            }
        });
    }
    if t.track.has_stss && !samples.iter().all(|s| s.sync) {
        let sync: Vec<u32> = samples
            .iter()
            .enumerate()
            .filter(|(_, s)| s.sync)
            .map(|(i, _)| i as u32 + 1)
            .collect();
        full_box(out, b"stss", 0, 0, |out| {
            u32be(out, sync.len() as u32);
            for n in &sync {
                u32be(out, *n);
            }
        });
    }
    // Samples per chunk, run-length coded by first chunk.
    let mut stsc: Vec<(u32, u32)> = Vec::new();
    for (i, (_, count)) in chunks.iter().enumerate() {
        if stsc.last().map(|(_, c)| *c) != Some(*count as u32) {
            stsc.push((i as u32 + 1, *count as u32));
        }
    }
    full_box(out, b"stsc", 0, 0, |out| {
        u32be(out, stsc.len() as u32);
        for (first, count) in &stsc {
            u32be(out, *first);
            u32be(out, *count);
            u32be(out, 1);
        }
    });
    full_box(out, b"stsz", 0, 0, |out| {
        let constant = samples
            .first()
            .map(|s| s.size)
            .filter(|&size| samples.iter().all(|s| s.size == size));
        u32be(out, constant.unwrap_or(0));
        u32be(out, samples.len() as u32);
        if constant.is_none() {
            for s in samples {
                u32be(out, s.size);
            }
        }
    });
    full_box(out, b"stco", 0, 0, |out| {
        u32be(out, chunks.len() as u32);
        for (offset, _) in chunks {
            u32be(out, *offset as u32);
        }
    });
}
