//! MP4 and MOV (ISO-BMFF) in: the tracks, their codecs and every sample's place and time.
//!
//! `mp4parse` (Mozilla's parser, the one Firefox runs on untrusted files; fallible allocation
//! and fuzzed) reads the sample tables; [`super::bmff`] proves the layout and supplies the raw
//! sample description. The tables are then expanded into one [`Sample`] per frame, each
//! checked to lie inside the file, so the remuxer can copy bytes without another check.

use std::io::Cursor;

use mp4parse::{CodecType, SampleEntry, TimeOffsetVersion, TrackType};

use super::bmff::{self, BoxRef};
use super::{AudioCodec, Container, VideoCodec, MAX_TRACK_SAMPLES};
use crate::MediaError;

/// One coded frame (or audio packet), in decode order.
#[derive(Debug, Clone, Copy)]
pub(super) struct Sample {
    /// Where its bytes are in the input (checked to lie inside it).
    pub offset: usize,
    pub size: u32,
    /// Decode time, in the track's timescale.
    pub dts: u64,
    pub duration: u32,
    /// Composition offset (presentation = decode + this), in the track's timescale.
    pub cts: i64,
    pub sync: bool,
}

impl Sample {
    /// Presentation time on the track's timeline after its edit list's start is applied.
    pub fn pts(&self, media_time: u64) -> i64 {
        self.dts as i64 + self.cts - media_time as i64
    }
}

/// A track with everything needed to describe it and to write it again.
#[derive(Debug)]
pub(super) struct Track {
    /// Units per second of `dts`, `duration` and `cts`.
    pub timescale: u32,
    /// Where presentation starts on the media timeline (the first edit's `media_time`).
    pub media_time: u64,
    /// The `tkhd` matrix, a b u c d v x y w (16.16 and 2.30 fixed point).
    pub matrix: [i32; 9],
    /// The `tkhd` width and height, 16.16 fixed point.
    pub tkhd_size: (u32, u32),
    /// The raw `stsd` box, copied to the output (codec configuration lives there).
    pub stsd: BoxRef,
    /// How long the edit list says the track plays (including a leading gap), in ms.
    pub edited_ms: Option<u64>,
    /// Whether the input said which samples are sync samples (`stss`); without it every sample
    /// is one.
    pub has_stss: bool,
    pub samples: Vec<Sample>,
}

impl Track {
    /// End of the last sample on the decode timeline, in milliseconds: what the file holds.
    pub fn measured_ms(&self) -> u64 {
        let end = self
            .samples
            .last()
            .map_or(0, |s| s.dts + u64::from(s.duration));
        end.saturating_mul(1000) / u64::from(self.timescale)
    }

    /// How long the track plays: its edit list's length (which hides encoder priming and
    /// frames kept only as references), never more than [`Self::measured_ms`].
    pub fn shown_ms(&self) -> u64 {
        let measured = self.measured_ms();
        self.edited_ms.map_or(measured, |e| e.min(measured))
    }
}

/// What [`read`] found: the container, the one video track and the first audio track.
#[derive(Debug)]
pub(super) struct Movie {
    pub container: Container,
    pub video_codec: VideoCodec,
    pub width: u32,
    pub height: u32,
    pub video: Track,
    pub audio: Option<(AudioCodec, Track)>,
}

pub(super) fn read(input: &[u8]) -> Result<Movie, MediaError> {
    let top = bmff::top_level(input)?;
    let container = match top.major_brand {
        Some(brand) if &brand == b"qt  " => Container::Mov,
        Some(_) => Container::Mp4,
        // QuickTime files from before `ftyp` existed start with `moov`, `mdat` or `wide`.
        None => Container::Mov,
    };
    let descriptions = bmff::track_sample_descriptions(input, &top.moov)?;
    let context = mp4parse::read_mp4(&mut Cursor::new(input)).map_err(parse_error)?;
    if context.mvex.is_some() {
        return Err(MediaError::UnsupportedVideo(
            "a fragmented MP4 (streaming segments)".into(),
        ));
    }
    if context.tracks.len() != descriptions.len() {
        return Err(MediaError::CorruptVideo(
            "the track boxes are inconsistent".into(),
        ));
    }

    let movie_timescale = context.timescale.map_or(0, |t| t.0);
    let mut video = None;
    let mut audio = None;
    for (track, stsd) in context.tracks.iter().zip(descriptions) {
        match track.track_type {
            TrackType::Video => {
                if video.is_some() {
                    return Err(MediaError::UnsupportedVideo(
                        "a file with more than one video track".into(),
                    ));
                }
                let stsd = stsd.ok_or_else(no_description)?;
                let entry = bmff::first_sample_entry(input, &stsd)?;
                let codec = video_codec(track, &entry)?;
                // VisualSampleEntry: 8 header, 6 reserved, 2 index, 16 pre-defined, then
                // width and height (16 bits each): the coded size as stored.
                if entry.end - entry.body < 28 {
                    return Err(MediaError::CorruptVideo(
                        "the video sample description is too short".into(),
                    ));
                }
                let width = u32::from(bmff::be_u16(input, entry.body + 24)?);
                let height = u32::from(bmff::be_u16(input, entry.body + 26)?);
                video = Some((
                    codec,
                    width,
                    height,
                    expand(input, track, stsd, movie_timescale)?,
                ));
            }
            TrackType::Audio if audio.is_none() => {
                let stsd = stsd.ok_or_else(no_description)?;
                audio = Some((
                    audio_codec(track),
                    expand(input, track, stsd, movie_timescale)?,
                ));
            }
            // Timed metadata (an iPhone's location and "live photo" tracks), hint tracks, extra
            // audio tracks, subtitles: never described, never written out.
            _ => {}
        }
    }
    let (video_codec, width, height, video) = video.ok_or_else(|| {
        MediaError::NotAVideo(
            if audio.is_some() {
                "an audio file without a picture"
            } else {
                "an MP4/MOV file without a video track"
            }
            .into(),
        )
    })?;
    Ok(Movie {
        container,
        video_codec,
        width,
        height,
        video,
        audio,
    })
}

fn no_description() -> MediaError {
    MediaError::CorruptVideo("a track without a sample description".into())
}

fn parse_error(e: mp4parse::Error) -> MediaError {
    match e {
        mp4parse::Error::MoovMissing => MediaError::CorruptVideo(
            "no 'moov' box with the track tables (the recording or the download did not finish)"
                .into(),
        ),
        mp4parse::Error::UnexpectedEOF => {
            MediaError::CorruptVideo("the file is cut off inside the track tables".into())
        }
        mp4parse::Error::OutOfMemory => {
            MediaError::CorruptVideo("the track tables declare absurd sizes".into())
        }
        mp4parse::Error::Unsupported(what) => {
            MediaError::UnsupportedVideo(format!("an MP4 feature ({what})"))
        }
        other => MediaError::CorruptVideo(format!("unreadable track tables ({other})")),
    }
}

fn video_codec(track: &mp4parse::Track, entry: &BoxRef) -> Result<VideoCodec, MediaError> {
    let parsed = track
        .stsd
        .as_ref()
        .and_then(|d| d.descriptions.first())
        .and_then(|d| match d {
            SampleEntry::Video(v) => Some(v.codec_type),
            _ => None,
        });
    match (parsed, &entry.kind) {
        (Some(CodecType::H264), _) => Ok(VideoCodec::H264),
        (Some(CodecType::AV1), _) => Ok(VideoCodec::Av1),
        (Some(CodecType::VP9), _) => Ok(VideoCodec::Vp9),
        (Some(CodecType::VP8), _) => Ok(VideoCodec::Vp8),
        // mp4parse (like Firefox) does not know HEVC; the sample entry's type says it.
        (_, b"hvc1" | b"hev1") => Ok(VideoCodec::Hevc),
        (Some(CodecType::EncryptedVideo), _) | (_, b"encv") => Err(MediaError::UnsupportedVideo(
            "an encrypted (DRM) video".into(),
        )),
        (_, kind) => Err(MediaError::UnsupportedVideo(format!(
            "the {} video codec",
            video_codec_name(*kind)
        ))),
    }
}

/// A readable name for a video sample entry type we do not take.
fn video_codec_name(kind: [u8; 4]) -> String {
    let known = match &kind {
        b"mp4v" => "MPEG-4 Part 2",
        b"s263" | b"h263" => "H.263",
        b"apcn" | b"apch" | b"apcs" | b"apco" | b"ap4h" | b"ap4x" => "Apple ProRes",
        b"jpeg" | b"mjpa" | b"mjpb" => "Motion JPEG",
        b"dvh1" | b"dvhe" | b"dvav" | b"dva1" => "Dolby Vision",
        b"vvc1" | b"vvi1" => "H.266/VVC",
        _ => "",
    };
    if known.is_empty() {
        format!("'{}'", bmff::fourcc(kind))
    } else {
        format!("{known} ('{}')", bmff::fourcc(kind))
    }
}

fn audio_codec(track: &mp4parse::Track) -> AudioCodec {
    let codec = track
        .stsd
        .as_ref()
        .and_then(|d| d.descriptions.first())
        .and_then(|d| match d {
            SampleEntry::Audio(a) => Some(a.codec_type),
            _ => None,
        });
    match codec {
        Some(CodecType::AAC) => AudioCodec::Aac,
        Some(CodecType::Opus) => AudioCodec::Opus,
        _ => AudioCodec::Other,
    }
}

/// Expands a track's run-length tables into one entry per sample. Every count is capped by
/// [`MAX_TRACK_SAMPLES`] before anything is allocated for it, and every sample is checked to
/// lie inside the input.
fn expand(
    input: &[u8],
    track: &mp4parse::Track,
    stsd: BoxRef,
    movie_timescale: u64,
) -> Result<Track, MediaError> {
    let corrupt = |what: &str| MediaError::CorruptVideo(what.to_string());
    let timescale = track
        .timescale
        .map(|t| t.0)
        .and_then(|t| u32::try_from(t).ok())
        .filter(|&t| t > 0)
        .ok_or_else(|| corrupt("a track without a valid timescale"))?;
    let stts = track
        .stts
        .as_ref()
        .ok_or_else(|| corrupt("a track without timing ('stts')"))?;
    let stsz = track
        .stsz
        .as_ref()
        .ok_or_else(|| corrupt("a track without sample sizes ('stsz')"))?;
    let stsc = track
        .stsc
        .as_ref()
        .ok_or_else(|| corrupt("a track without chunk tables ('stsc')"))?;
    let stco = track
        .stco
        .as_ref()
        .ok_or_else(|| corrupt("a track without chunk offsets ('stco')"))?;
    if track
        .stsd
        .as_ref()
        .is_some_and(|d| d.descriptions.len() > 1)
    {
        return Err(MediaError::UnsupportedVideo(
            "a track with several sample descriptions".into(),
        ));
    }

    let timed: u64 = stts.samples.iter().map(|s| u64::from(s.sample_count)).sum();
    // With a constant sample size (`stsz` size > 0) mp4parse keeps no count; the timing table
    // has one entry per sample either way.
    let count = if stsz.sample_size == 0 {
        stsz.sample_sizes.len() as u64
    } else {
        timed
    };
    if count > MAX_TRACK_SAMPLES as u64 {
        return Err(MediaError::UnsupportedVideo(format!(
            "a track of {count} samples (at most {MAX_TRACK_SAMPLES} are accepted)"
        )));
    }
    let count = count as usize;
    let mut samples = Vec::with_capacity(count);

    // Sizes and places: walk the chunks, each holding the number of samples its `stsc` run
    // says.
    let mut run = 0;
    for (chunk_index, &chunk_offset) in stco.offsets.iter().enumerate() {
        if samples.len() == count {
            break;
        }
        let chunk_number = chunk_index as u64 + 1;
        while run + 1 < stsc.samples.len()
            && u64::from(stsc.samples[run + 1].first_chunk) <= chunk_number
        {
            run += 1;
        }
        let per_chunk = stsc
            .samples
            .get(run)
            .map_or(0, |r| r.samples_per_chunk as usize)
            .min(count - samples.len());
        let mut offset = chunk_offset;
        for _ in 0..per_chunk {
            let size = if stsz.sample_size == 0 {
                stsz.sample_sizes[samples.len()]
            } else {
                stsz.sample_size
            };
            let end = offset.saturating_add(u64::from(size));
            if end > input.len() as u64 {
                return Err(corrupt(
                    "the file is cut off: frames are missing from the end of the media data",
                ));
            }
            samples.push(Sample {
                offset: offset as usize,
                size,
                dts: 0,
                duration: 0,
                cts: 0,
                sync: track.stss.is_none(),
            });
            offset = end;
        }
    }
    if samples.len() < count {
        return Err(corrupt(
            "the chunk tables place fewer samples than the track has",
        ));
    }

    // Decode times; a table shorter than the sample list repeats its last duration.
    let mut dts = 0u64;
    let mut i = 0;
    let mut last_delta = 0;
    for entry in stts.samples.iter() {
        for _ in 0..entry.sample_count {
            let Some(sample) = samples.get_mut(i) else {
                break;
            };
            sample.dts = dts;
            sample.duration = entry.sample_delta;
            dts += u64::from(entry.sample_delta);
            i += 1;
        }
        last_delta = entry.sample_delta;
    }
    for sample in samples.iter_mut().skip(i) {
        sample.dts = dts;
        sample.duration = last_delta;
        dts += u64::from(last_delta);
    }

    if let Some(ctts) = &track.ctts {
        let mut i = 0;
        'runs: for entry in ctts.samples.iter() {
            let offset = match entry.time_offset {
                TimeOffsetVersion::Version0(v) => i64::from(v),
                TimeOffsetVersion::Version1(v) => i64::from(v),
            };
            for _ in 0..entry.sample_count {
                let Some(sample) = samples.get_mut(i) else {
                    break 'runs;
                };
                sample.cts = offset;
                i += 1;
            }
        }
    }
    if let Some(stss) = &track.stss {
        for &number in stss.samples.iter() {
            if let Some(sample) = (number as usize)
                .checked_sub(1)
                .and_then(|i| samples.get_mut(i))
            {
                sample.sync = true;
            }
        }
    }

    let tkhd = track
        .tkhd
        .as_ref()
        .ok_or_else(|| corrupt("a track without a header ('tkhd')"))?;
    let edited_ms = track
        .edited_duration
        .filter(|_| movie_timescale > 0)
        .map(|edited| {
            let gap = track.empty_duration.map_or(0, |e| e.0);
            edited.0.saturating_add(gap).saturating_mul(1000) / movie_timescale
        });
    let m = &tkhd.matrix;
    Ok(Track {
        timescale,
        // An edit starting past the end of the media is meaningless; clamping it keeps every
        // later time computation far from overflow.
        media_time: track.media_time.map_or(0, |t| t.0).min(dts),
        matrix: [m.a, m.b, m.u, m.c, m.d, m.v, m.x, m.y, m.w],
        tkhd_size: (tkhd.width, tkhd.height),
        stsd,
        edited_ms,
        has_stss: track.stss.is_some(),
        samples,
    })
}

/// The clockwise rotation a player applies, from the `tkhd` matrix: 0, 90, 180 or 270. Only
/// the four axis-aligned turns are recognised; anything else (a mirror, a skew) shows as is.
pub(super) fn rotation(matrix: &[i32; 9]) -> u16 {
    let (a, b, c, d) = (matrix[0], matrix[1], matrix[3], matrix[4]);
    match (a.signum(), b.signum(), c.signum(), d.signum()) {
        (0, 1, -1, 0) => 90,
        (-1, 0, 0, -1) => 180,
        (0, -1, 1, 0) => 270,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_follows_the_matrix() {
        let one = 0x10000;
        assert_eq!(rotation(&[one, 0, 0, 0, one, 0, 0, 0, 0x4000_0000]), 0);
        assert_eq!(rotation(&[0, one, 0, -one, 0, 0, 0, 0, 0x4000_0000]), 90);
        assert_eq!(rotation(&[-one, 0, 0, 0, -one, 0, 0, 0, 0x4000_0000]), 180);
        assert_eq!(rotation(&[0, -one, 0, one, 0, 0, 0, 0, 0x4000_0000]), 270);
        // A mirror is not a turn.
        assert_eq!(rotation(&[-one, 0, 0, 0, one, 0, 0, 0, 0x4000_0000]), 0);
    }
}
