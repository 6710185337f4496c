//! Animated GIFs that stay animated. Within [`MAX_ANIMATION_FRAMES`] and
//! [`MAX_ANIMATION_PIXELS`], and with every frame inside the picture, an animated GIF comes out
//! as a GIF, by one of two routes:
//!
//! - **Re-muxed**, when nothing changes (no edits, and the long edge already within the limit):
//!   each frame's compressed (LZW) data, palette, position, delay, disposal and transparency
//!   are copied into a fresh file by the `gif` crate, so no colour is requantised. Only the
//!   NETSCAPE loop count comes along; comments, XMP and every other application or plain-text
//!   extension are left behind.
//! - **Re-encoded**, when the sender edited it or it must shrink: every frame is composed onto
//!   the full canvas (as a viewer shows it, the disposal methods played out), cut, shrunk,
//!   turned and written on exactly like a still photo, and encoded again with its own palette
//!   (NeuQuant where a frame has more than 256 colours). Delays and the loop count are kept;
//!   since each new frame covers the whole canvas, the original disposals are already in its
//!   pixels and every frame is written "restore to background".
//!
//! Either way the thumbnail and blurhash come from the first (edited) frame. The frames are
//! decoded one at a time, so memory holds a canvas or two, never the whole animation.
//!
//! An animation whose file would come out larger than the server stores
//! ([`IMAGE_MAX_BYTES`]) is kept as a still of its first frame instead, like one over the
//! limits: a prepared photo must always be one the server takes.

use std::io::Cursor;

use fast_image_resize::Resizer;
use gif::{DecodeOptions, DisposalMethod, Encoder, Repeat};
use image::codecs::gif::GifDecoder;
use image::metadata::Orientation;
use image::{AnimationDecoder, ImageDecoder, Limits, RgbaImage};
use natter_protocol::limits::IMAGE_MAX_BYTES;

use super::edit::{PhotoEdits, Plan};
use super::pixels::{self, Pixels};
use super::text::Overlays;
use super::{
    image_error, ImageKind, PreparedPhoto, MAX_ANIMATION_FRAMES, MAX_ANIMATION_PIXELS,
    MAX_DECODE_BYTES,
};
use crate::MediaError;

/// Quantiser speed for re-encoded frames (the `gif` crate's range is 1 to 30): its own advice
/// for "a good compromise between speed and quality". Frames of at most 256 colours skip the
/// quantiser and keep their colours exactly.
const QUANTISER_SPEED: i32 = 10;

/// Whether an animation of `frames` frames on a `width`×`height` canvas may stay animated.
pub(crate) fn within_limits(frames: u32, width: u32, height: u32) -> bool {
    frames <= MAX_ANIMATION_FRAMES
        && u64::from(frames) * u64::from(width) * u64::from(height) <= MAX_ANIMATION_PIXELS
}

/// How much of a GIF [`scan`] decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Depth {
    /// Frame headers only: the image data is skipped unread.
    Headers,
    /// Every frame's pixels too (as palette indices, through a small buffer), so a frame whose
    /// data is cut short or broken is found.
    Pixels,
}

/// What [`scan`] found in a GIF.
#[derive(Debug)]
pub(crate) struct Scan {
    pub repeat: Repeat,
    /// Each frame's delay, in hundredths of a second.
    pub delays: Vec<u16>,
    /// The first frame (counted from 1) that reaches outside the logical screen, if any. The
    /// scan stops there: such a frame could declare far more pixels than the screen.
    pub outside: Option<u32>,
}

/// Reads a GIF's frames with the `gif` crate: loop count, delays, and whether every frame lies
/// inside the logical screen; with [`Depth::Pixels`] it also decodes every frame's data.
pub(crate) fn scan(input: &[u8], depth: Depth) -> Result<Scan, MediaError> {
    let mut decoder = DecodeOptions::new()
        .read_info(Cursor::new(input))
        .map_err(corrupt)?;
    let (width, height) = (decoder.width(), decoder.height());
    let mut delays = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    while let Some(frame) = decoder.next_frame_info().map_err(corrupt)? {
        delays.push(frame.delay);
        let right = u32::from(frame.left) + u32::from(frame.width);
        let bottom = u32::from(frame.top) + u32::from(frame.height);
        if right > u32::from(width) || bottom > u32::from(height) {
            let outside = u32::try_from(delays.len()).unwrap_or(u32::MAX);
            return Ok(Scan {
                repeat: decoder.repeat(),
                delays,
                outside: Some(outside),
            });
        }
        if depth == Depth::Pixels {
            let mut left = usize::from(frame.width) * usize::from(frame.height);
            while left > 0 {
                let n = left.min(chunk.len());
                if !decoder.fill_buffer(&mut chunk[..n]).map_err(corrupt)? {
                    return Err(MediaError::CorruptImage(format!(
                        "frame {} of the GIF is cut short",
                        delays.len()
                    )));
                }
                left -= n;
            }
        }
    }
    Ok(Scan {
        repeat: decoder.repeat(),
        delays,
        outside: None,
    })
}

/// Prepares an animated GIF that is within the animation limits as an animated GIF (see the
/// module's doc). `None` when it cannot stay animated after all (a frame reaches outside the
/// picture, or the file would be over [`IMAGE_MAX_BYTES`]): the caller then keeps the first
/// frame as a still, as for any animation over the limits.
pub(crate) fn prepare(
    input: &[u8],
    edits: &PhotoEdits,
    orientation: Orientation,
    width: u32,
    height: u32,
    max_edge: u32,
) -> Result<Option<PreparedPhoto>, MediaError> {
    let plan = edits.plan(orientation, width, height)?;
    let unchanged = plan.turn == Orientation::NoTransforms
        && plan.crop.is_none()
        && plan.texts.is_empty()
        && width.max(height) <= max_edge;
    let depth = if unchanged {
        // The data is copied unread: decode it here so a broken frame is refused now, not
        // by the server or on the recipient's screen.
        Depth::Pixels
    } else {
        // Composing every frame decodes them all anyway.
        Depth::Headers
    };
    let scan = scan(input, depth)?;
    if scan.outside.is_some() {
        return Ok(None);
    }
    let mut resizer = Resizer::new();
    let (bytes, first) = if unchanged {
        match remux(input)? {
            Some(bytes) => {
                let first = frames(input)?.next().ok_or_else(no_frames)??;
                (bytes, first)
            }
            None => reencode(input, &scan, &plan, max_edge, &mut resizer)?,
        }
    } else {
        reencode(input, &scan, &plan, max_edge, &mut resizer)?
    };
    if bytes.len() > IMAGE_MAX_BYTES {
        return Ok(None);
    }
    let thumb = pixels::thumbnail(&mut resizer, pixels::flatten_on_white(&first))?;
    Ok(Some(PreparedPhoto {
        bytes,
        mime: "image/gif",
        width: first.width(),
        height: first.height(),
        thumbnail: thumb.jpeg,
        thumb_width: thumb.width,
        thumb_height: thumb.height,
        blurhash: thumb.blurhash,
        animated: true,
    }))
}

/// A fresh GIF holding `input`'s frames as they are compressed, with its loop count and
/// nothing else. `None` for a frame the encoder cannot take as it is (an LZW code size of 1,
/// which decoders accept but the format does not define).
fn remux(input: &[u8]) -> Result<Option<Vec<u8>>, MediaError> {
    let mut options = DecodeOptions::new();
    options.skip_frame_decoding(true);
    let mut decoder = options.read_info(Cursor::new(input)).map_err(corrupt)?;
    let global = decoder.global_palette().unwrap_or_default().to_vec();
    let out = Vec::with_capacity(input.len());
    let mut encoder =
        Encoder::new(out, decoder.width(), decoder.height(), &global).map_err(encoding)?;
    encoder.set_repeat(decoder.repeat()).map_err(encoding)?;
    while let Some(frame) = decoder.read_next_frame().map_err(corrupt)? {
        // The first byte of the copied data is the LZW minimum code size.
        if frame.buffer.first().is_some_and(|&size| size < 2) {
            return Ok(None);
        }
        encoder
            .write_lzw_pre_encoded_frame(frame)
            .map_err(encoding)?;
    }
    encoder.into_inner().map(Some).map_err(encoding)
}

/// Every frame composed onto the canvas, edited as `plan` says, and encoded into a new GIF
/// with `scan`'s delays and loop count. Also returns the first edited frame.
fn reencode(
    input: &[u8],
    scan: &Scan,
    plan: &Plan<'_>,
    max_edge: u32,
    resizer: &mut Resizer,
) -> Result<(Vec<u8>, RgbaImage), MediaError> {
    let mut first: Option<RgbaImage> = None;
    let mut writer: Option<(Encoder<Vec<u8>>, Overlays)> = None;
    for (frame, &delay) in frames(input)?.zip(&scan.delays) {
        let mut shaped = pixels::shape(resizer, Pixels::Rgba(frame?), plan, max_edge)?;
        let (width, height) = (shaped.width(), shaped.height());
        let (encoder, overlays) = match &mut writer {
            Some(writer) => writer,
            None => {
                let side = |px: u32| {
                    u16::try_from(px).map_err(|_| {
                        MediaError::ImageCodec(format!("{px} px is beyond GIF's limit"))
                    })
                };
                let mut encoder =
                    Encoder::new(Vec::new(), side(width)?, side(height)?, &[]).map_err(encoding)?;
                encoder.set_repeat(scan.repeat).map_err(encoding)?;
                let overlays = Overlays::render(plan.texts, width, height)?;
                writer.insert((encoder, overlays))
            }
        };
        overlays.paint(&mut shaped)?;
        let mut rgba = shaped.into_rgba8();
        if first.is_none() {
            first = Some(rgba.clone());
        }
        // GIF has one bit of transparency, and the quantiser takes any alpha above 0 as
        // opaque: edges the resize softened go to whichever side they are nearer.
        for px in rgba.pixels_mut() {
            px.0[3] = if px.0[3] < 128 { 0 } else { 255 };
        }
        // The frame's size was checked against u16 when the encoder was made.
        let (w, h) = (width as u16, height as u16);
        let mut frame = gif::Frame::from_rgba_speed(w, h, &mut rgba, QUANTISER_SPEED);
        frame.delay = delay;
        frame.dispose = DisposalMethod::Background;
        encoder.write_frame(&frame).map_err(encoding)?;
    }
    let (encoder, _) = writer.ok_or_else(no_frames)?;
    let bytes = encoder.into_inner().map_err(encoding)?;
    Ok((bytes, first.ok_or_else(no_frames)?))
}

/// The GIF's frames as a viewer shows them: each composed onto the full canvas, RGBA, decoded
/// one at a time within [`MAX_DECODE_BYTES`].
fn frames(
    input: &[u8],
) -> Result<impl Iterator<Item = Result<RgbaImage, MediaError>> + '_, MediaError> {
    let gif_error = |e| image_error(e, ImageKind::Gif);
    let mut decoder = GifDecoder::new(Cursor::new(input)).map_err(gif_error)?;
    let mut limits = Limits::default();
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    decoder.set_limits(limits).map_err(gif_error)?;
    Ok(decoder
        .into_frames()
        .map(move |frame| frame.map(image::Frame::into_buffer).map_err(gif_error)))
}

fn no_frames() -> MediaError {
    MediaError::CorruptImage("the GIF has no frames".into())
}

fn corrupt(e: gif::DecodingError) -> MediaError {
    MediaError::CorruptImage(format!("cannot decode the GIF: {e}"))
}

fn encoding(e: gif::EncodingError) -> MediaError {
    MediaError::ImageCodec(format!("GIF encoding failed: {e}"))
}
