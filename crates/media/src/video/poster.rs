//! Poster frames: the picture shown before a video plays, with its thumbnail and blurhash.
//!
//! The first keyframe of an H.264 track (MP4 or MOV) is decoded with OpenH264, turned upright
//! by the track's rotation, and handed to the photo pipeline as a JPEG, which makes the poster
//! (at most [`crate::photo::MAX_EDGE`] px), the thumbnail and the blurhash exactly as it does
//! for photos. Only one frame of coded data ever reaches the decoder. Meant for the sender's
//! own videos, on the device: the decoder is C++, so the server should not run it on uploads.

use image::codecs::jpeg::JpegEncoder;
use image::{imageops, ExtendedColorType, RgbImage};
use openh264::decoder::{DecodedYUV, Decoder};
use openh264::formats::YUVSource;

use super::{bmff, guarded, parse, Parsed, VideoCodec, MAX_VIDEO_EDGE};
use crate::{MediaError, PrepareOptions, PreparedPhoto};

/// Quality of the intermediate JPEG handed to the photo pipeline (which re-encodes it).
const INTERMEDIATE_QUALITY: u8 = 92;

/// The poster of an H.264 video: its first keyframe, upright, as a prepared photo (JPEG,
/// thumbnail, blurhash). Other codecs and WebM are refused as unsupported.
pub fn poster(input: &[u8]) -> Result<PreparedPhoto, MediaError> {
    guarded(|| {
        let (info, movie) = h264(input, "a poster frame")?;
        let video = &movie.video;
        let (nal_length, mut stream) = parameter_sets(input, video)?;
        let key = video
            .samples
            .iter()
            .find(|s| s.sync)
            .ok_or_else(|| MediaError::CorruptVideo("the video has no keyframe".into()))?;
        let sample = &input[key.offset..key.offset + key.size as usize];
        append_annex_b(&mut stream, sample, nal_length)?;
        let picture = decode(&stream)?;
        let upright = upright(picture, info.rotation);
        let mut jpeg = Vec::new();
        JpegEncoder::new_with_quality(&mut jpeg, INTERMEDIATE_QUALITY)
            .encode(
                upright.as_raw(),
                upright.width(),
                upright.height(),
                ExtendedColorType::Rgb8,
            )
            .map_err(|e| MediaError::ImageCodec(format!("JPEG encoding failed: {e}")))?;
        crate::photo::prepare_photo(&jpeg, &PrepareOptions::default())
    })
}

/// Up to `max` keyframes of an H.264 video spread evenly over it (the first and the last
/// among them), each decoded on its own and turned upright: the frames the nudity filter
/// looks at. A video with fewer keyframes gives them all. Other codecs and WebM are refused
/// as unsupported, as for [`poster`].
pub fn sampled_frames(input: &[u8], max: usize) -> Result<Vec<RgbImage>, MediaError> {
    guarded(|| {
        let (info, movie) = h264(input, "frames")?;
        let video = &movie.video;
        let (nal_length, sets) = parameter_sets(input, video)?;
        let keys: Vec<_> = video.samples.iter().filter(|s| s.sync).collect();
        let picks: Vec<usize> = match (keys.len(), max) {
            (0, _) | (_, 0) => Vec::new(),
            (n, m) if n <= m => (0..n).collect(),
            (n, 1) => vec![n / 2],
            (n, m) => (0..m).map(|i| i * (n - 1) / (m - 1)).collect(),
        };
        let mut frames = Vec::with_capacity(picks.len());
        for i in picks {
            let key = keys[i];
            let sample = input
                .get(key.offset..key.offset + key.size as usize)
                .ok_or_else(|| MediaError::CorruptVideo("a keyframe runs past the file".into()))?;
            let mut stream = sets.clone();
            append_annex_b(&mut stream, sample, nal_length)?;
            let picture = decode(&stream)?;
            frames.push(upright(picture, info.rotation));
        }
        Ok(frames)
    })
}

/// The parsed movie of an H.264 MP4 or MOV; anything else is refused as unsupported for
/// `what` (a poster frame, frames).
fn h264(
    input: &[u8],
    what: &str,
) -> Result<(super::VideoInfo, Box<super::mp4::Movie>), MediaError> {
    let (info, parsed) = parse(input)?;
    match parsed {
        Parsed::Mp4(movie) if info.video_codec == VideoCodec::H264 => Ok((info, movie)),
        _ => Err(MediaError::UnsupportedVideo(format!(
            "{what} of {:?} video in {:?}",
            info.video_codec, info.container
        ))),
    }
}

/// A decoded picture turned by the track's rotation, as it is shown.
fn upright(picture: RgbImage, rotation: u16) -> RgbImage {
    match rotation {
        90 => imageops::rotate90(&picture),
        180 => imageops::rotate180(&picture),
        270 => imageops::rotate270(&picture),
        _ => picture,
    }
}

/// The NAL length size and the SPS and PPS from the `avcC` box, as an Annex B stream.
fn parameter_sets(input: &[u8], video: &super::mp4::Track) -> Result<(usize, Vec<u8>), MediaError> {
    let corrupt = |what: &str| MediaError::CorruptVideo(format!("H.264 configuration: {what}"));
    let entry = bmff::first_sample_entry(input, &video.stsd)?;
    // A VisualSampleEntry's own fields take 78 bytes; its child boxes follow.
    let children_start = entry.body + 78;
    if children_start > entry.end {
        return Err(corrupt("the sample description is too short"));
    }
    let avcc = bmff::children(input, children_start, entry.end)?
        .into_iter()
        .find(|b| &b.kind == b"avcC")
        .ok_or_else(|| corrupt("no 'avcC' box"))?;
    let c = &input[avcc.body..avcc.end];
    let byte = |i: usize| c.get(i).copied().ok_or_else(|| corrupt("cut off"));
    let nal_length = usize::from(byte(4)? & 3) + 1;
    let mut stream = Vec::new();
    let mut at = 5;
    for kind in ["SPS", "PPS"] {
        let count = if kind == "SPS" {
            byte(at)? & 0x1F
        } else {
            byte(at)?
        };
        at += 1;
        for _ in 0..count {
            let len = usize::from(u16::from_be_bytes([byte(at)?, byte(at + 1)?]));
            let nal = c
                .get(at + 2..at + 2 + len)
                .ok_or_else(|| corrupt(&format!("a {kind} runs past the box")))?;
            stream.extend_from_slice(&[0, 0, 0, 1]);
            stream.extend_from_slice(nal);
            at += 2 + len;
        }
    }
    Ok((nal_length, stream))
}

/// Appends a sample's length-prefixed NAL units as Annex B (start codes).
fn append_annex_b(
    stream: &mut Vec<u8>,
    sample: &[u8],
    nal_length: usize,
) -> Result<(), MediaError> {
    let mut at = 0;
    while at < sample.len() {
        let len = sample
            .get(at..at + nal_length)
            .ok_or_else(|| MediaError::CorruptVideo("a keyframe NAL length is cut off".into()))?
            .iter()
            .fold(0usize, |v, &b| v << 8 | usize::from(b));
        let nal = sample
            .get(at + nal_length..at + nal_length + len)
            .ok_or_else(|| {
                MediaError::CorruptVideo("a keyframe NAL runs past its sample".into())
            })?;
        stream.extend_from_slice(&[0, 0, 0, 1]);
        stream.extend_from_slice(nal);
        at += nal_length + len;
    }
    Ok(())
}

fn decode(stream: &[u8]) -> Result<RgbImage, MediaError> {
    let failed = |e: openh264::Error| {
        MediaError::CorruptVideo(format!("cannot decode the first keyframe ({e})"))
    };
    let mut decoder = Decoder::new()
        .map_err(|e| MediaError::ImageCodec(format!("the H.264 decoder did not start: {e}")))?;
    let first = decoder
        .decode(stream)
        .map_err(failed)?
        .map(|yuv| to_rgb(&yuv));
    match first {
        Some(picture) => picture,
        None => decoder
            .flush_remaining()
            .map_err(failed)?
            .first()
            .map(to_rgb)
            .unwrap_or_else(|| {
                Err(MediaError::CorruptVideo(
                    "the first keyframe decodes to no picture".into(),
                ))
            }),
    }
}

fn to_rgb(yuv: &DecodedYUV<'_>) -> Result<RgbImage, MediaError> {
    let (w, h) = yuv.dimensions();
    let (w, h) = (u32::try_from(w).unwrap_or(0), u32::try_from(h).unwrap_or(0));
    if w == 0 || h == 0 || w > MAX_VIDEO_EDGE || h > MAX_VIDEO_EDGE {
        return Err(MediaError::CorruptVideo(format!(
            "the keyframe decodes to {w}×{h} pixels"
        )));
    }
    let mut rgb = vec![0; w as usize * h as usize * 3];
    yuv.write_rgb8(&mut rgb);
    RgbImage::from_raw(w, h, rgb)
        .ok_or_else(|| MediaError::ImageCodec("the decoder returned a short picture".into()))
}
