//! Photos for albums: check a file's headers against the limits, decode it by what it really
//! is, turn it upright, shrink it, and re-encode it from pixels (so no metadata survives), with
//! a small thumbnail and a blurhash placeholder.
//!
//! The pipeline per photo: size limit → [`sniff`] the magic bytes → read dimensions and frame
//! count from the headers (refusing bombs before any pixel is allocated) → decode (first frame of
//! an animation) → crop and resize with `fast_image_resize` → apply the EXIF orientation and
//! the sender's turns → draw texts → encode JPEG, or lossless WebP when the picture has real
//! transparency → thumbnail JPEG → blurhash. The sender's [`PhotoEdits`] (see [`edit`] for
//! their order and why the pixels are cut before they are turned) are part of the one
//! pipeline; [`prepare_photo`] is the same with none.
//!
//! Animated GIFs within [`MAX_ANIMATION_FRAMES`] and [`MAX_ANIMATION_PIXELS`] stay animated
//! GIFs, every frame edited alike (see `animation.rs`); over those limits they become a still of
//! their first frame. APNGs and animated WebPs always become a still of their first frame.
//!
//! [`strip_metadata`] is for the server's copy of a file a client did not prepare: it removes
//! the metadata from the file as it is, without decoding or re-encoding anything.

mod animation;
pub mod edit;
mod pixels;
mod sniff;
mod strip;
mod text;

use std::io::Cursor;
use std::sync::atomic::{AtomicUsize, Ordering};

use image::{DynamicImage, ImageReader, Limits};

use crate::MediaError;
pub use edit::{CropRect, PhotoEdits, TextOverlay};
pub use sniff::{sniff, ImageKind};
pub use strip::strip_metadata;

/// Largest input file accepted, checked before anything is parsed: 50 MiB (a 100 MP camera
/// JPEG is ~40 MiB).
pub const MAX_PHOTO_BYTES: usize = 50 * 1024 * 1024;
/// Most pixels an input may declare in its header (width × height), checked before decoding:
/// 100 megapixels. A "decompression bomb" (a few bytes declaring 100000×100000) stops here.
pub const MAX_PHOTO_PIXELS: u64 = 100_000_000;
/// Most frames a GIF may have, counted from its block structure without decoding. A GIF with
/// more is refused; one with more than [`MAX_ANIMATION_FRAMES`] is kept as a still.
pub const MAX_GIF_FRAMES: u32 = 1_000;
/// Most frames an animated GIF may have and stay animated. Counted from the blocks before any
/// frame is decoded; a GIF with more (up to [`MAX_GIF_FRAMES`]) is prepared as a still of its
/// first frame, and [`inspect`] refuses it as [`MediaError::AnimationTooLarge`]. 300 frames is
/// 30 s at 10 frames a second.
pub const MAX_ANIMATION_FRAMES: u32 = 300;
/// Most pixels an animated GIF may have in all (frames × canvas width × height) and stay
/// animated, checked before any frame is decoded; the same 100 megapixels a still photo may
/// have, since re-encoding composes every frame onto the full canvas. Over it the GIF is
/// prepared as a still of its first frame, and [`inspect`] refuses it as
/// [`MediaError::AnimationTooLarge`]. (So a 1000-frame 2000×2000 GIF is never decoded whole.)
pub const MAX_ANIMATION_PIXELS: u64 = 100_000_000;
/// Most memory one decode may allocate; a second line of defence behind [`MAX_PHOTO_PIXELS`]
/// (100 MP as 8-bit RGBA is 400 MB).
pub const MAX_DECODE_BYTES: u64 = 512 * 1024 * 1024;
/// Longest edge of a prepared photo, in pixels.
pub const MAX_EDGE: u32 = 2048;
/// Longest edge with [`PrepareOptions::hd`].
pub const MAX_EDGE_HD: u32 = 4096;
/// Longest edge of the thumbnail.
pub const THUMB_EDGE: u32 = 320;
/// JPEG quality of the prepared photo and the thumbnail (jpeg-encoder: IJG tables, 4:2:0).
///
/// 80: the lowest quality at which jpeg-encoder matches, by luma SSIM, the `image` crate's
/// 4:4:4 q80 it replaced (0.9493 against 0.9490 at 2048 px), for 0.88× the bytes and 0.32× the
/// encoding CPU (47 against 148 ms a photo); its bytes equal libvips' q80. (Luma SSIM does not
/// see 4:2:0's halved chroma, which cameras, libjpeg, libvips and WebP all use.) Against the
/// 1600 px q70 JPEG of the product issue, ours at 2048 px reaches that SSIM (0.910) at q65 with
/// 1.31× image's and 1.49× libvips' bytes; at q80 it is 1.83× and 2.08× for SSIM 0.949.
///
/// Not WebP for opaque photos: lossy libwebp at our SSIM saves bytes (0.76× at its default
/// method 4, 0.85× at its fastest, method 0) but costs 10× or 3.3× our encoding CPU, taking a
/// photo from 0.82× libvips' CPU time to 1.16× (method 0) or 2.2× (method 4), past the goal
/// of no slower than libvips,
/// and would put libwebp's C source (built with cc) into the mobile builds. Every client shows
/// WebP, but JPEG is also what any gallery, editor or onward share takes.
///
/// Figures from one run of `cargo bench -p natter-media --bench photos` (9 windows of 12 MP
/// cut from a real photo; see the bench's header) on the two-core dev machine.
pub const JPEG_QUALITY: u8 = 80;
/// Blurhash components (horizontal, vertical).
pub const BLURHASH_COMPONENTS: (u32, u32) = (4, 3);

/// How to prepare a photo.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PrepareOptions {
    /// Keep up to [`MAX_EDGE_HD`] px on the long edge instead of [`MAX_EDGE`].
    pub hd: bool,
}

/// A photo ready to send: upright, at most 2048 (or 4096) px long, without any metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedPhoto {
    pub bytes: Vec<u8>,
    /// `"image/jpeg"`; `"image/webp"` (lossless) for a picture with transparency;
    /// `"image/gif"` for an animated GIF within the animation limits (still animated).
    pub mime: &'static str,
    pub width: u32,
    pub height: u32,
    /// A JPEG of at most [`THUMB_EDGE`] px on the long edge (transparency flattened on white).
    pub thumbnail: Vec<u8>,
    pub thumb_width: u32,
    pub thumb_height: u32,
    pub blurhash: String,
    /// The input was an animation (GIF, APNG, animated WebP). An animated GIF within
    /// [`MAX_ANIMATION_FRAMES`] and [`MAX_ANIMATION_PIXELS`] stays animated (`mime` is
    /// `"image/gif"`); of every other animation only the first frame is kept.
    pub animated: bool,
}

/// Prepares one photo. Checks every limit from the headers before decoding, decodes by content
/// (never by name), and re-encodes from pixels. A decoder that panics on a hostile file is
/// caught and reported as a corrupt image.
pub fn prepare_photo(input: &[u8], opts: &PrepareOptions) -> Result<PreparedPhoto, MediaError> {
    prepare_photo_edited(input, opts, &PhotoEdits::default())
}

/// [`prepare_photo`] with the sender's edits burned in (turns, mirror, crop, texts; see
/// [`edit`]). Edits are checked before the photo is read: bad ones are
/// [`MediaError::InvalidEdits`]. The thumbnail and blurhash show the edited picture.
pub fn prepare_photo_edited(
    input: &[u8],
    opts: &PrepareOptions,
    edits: &PhotoEdits,
) -> Result<PreparedPhoto, MediaError> {
    std::panic::catch_unwind(|| prepare_unguarded(input, opts, edits)).unwrap_or_else(|_| {
        Err(MediaError::CorruptImage(
            "the decoder failed on this file".into(),
        ))
    })
}

fn prepare_unguarded(
    input: &[u8],
    opts: &PrepareOptions,
    edits: &PhotoEdits,
) -> Result<PreparedPhoto, MediaError> {
    edits.validate()?;
    if input.len() > MAX_PHOTO_BYTES {
        return Err(MediaError::TooLarge {
            bytes: input.len(),
            max: MAX_PHOTO_BYTES,
        });
    }
    let kind = sniff(input).ok_or_else(|| match sniff::describe_other(input) {
        Some(name) => MediaError::UnsupportedImage(name.to_string()),
        None => MediaError::NotAnImage,
    })?;
    let header = check_headers(input, kind)?;
    let orientation = pixels::exif_orientation(input);
    let max_edge = if opts.hd { MAX_EDGE_HD } else { MAX_EDGE };
    if kind == ImageKind::Gif
        && header.animated
        && animation::within_limits(header.frames, header.width, header.height)
    {
        let (width, height) = (header.width, header.height);
        if let Some(photo) = animation::prepare(input, edits, orientation, width, height, max_edge)?
        {
            return Ok(photo);
        }
    }
    let decoded = decode(input, kind)?;
    let plan = edits.plan(orientation, decoded.width(), decoded.height())?;
    pixels::finish(decoded, &plan, max_edge, header.animated)
}

/// Prepares every input in parallel (one worker per core, at most one per input); each result
/// stands alone, in input order.
pub fn prepare_many(
    inputs: &[Vec<u8>],
    opts: &PrepareOptions,
) -> Vec<Result<PreparedPhoto, MediaError>> {
    let workers = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(inputs.len());
    let next = AtomicUsize::new(0);
    let mut results: Vec<Option<Result<PreparedPhoto, MediaError>>> =
        inputs.iter().map(|_| None).collect();
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(input) = inputs.get(i) else {
                            return done;
                        };
                        done.push((i, prepare_photo(input, opts)));
                    }
                })
            })
            .collect();
        for handle in handles {
            for (i, result) in handle.join().unwrap_or_default() {
                results[i] = Some(result);
            }
        }
    });
    results
        .into_iter()
        .map(|slot| {
            slot.unwrap_or_else(|| {
                Err(MediaError::ImageCodec(
                    "the photo's worker stopped unexpectedly".into(),
                ))
            })
        })
        .collect()
}

/// What [`check_headers`] read.
struct Header {
    width: u32,
    height: u32,
    /// Frames counted from a GIF's blocks; 1 for the other kinds.
    frames: u32,
    animated: bool,
}

/// Reads dimensions (and for GIF the frame count) from the headers only and refuses what is
/// over the limits.
fn check_headers(input: &[u8], kind: ImageKind) -> Result<Header, MediaError> {
    let mut reader = ImageReader::with_format(Cursor::new(input), kind.format());
    reader.no_limits();
    let (width, height) = reader
        .into_dimensions()
        .map_err(|e| MediaError::CorruptImage(format!("unreadable {} header: {e}", name(kind))))?;
    if width == 0 || height == 0 {
        return Err(MediaError::CorruptImage(format!(
            "the {} header says {width}×{height} pixels",
            name(kind)
        )));
    }
    if u64::from(width) * u64::from(height) > MAX_PHOTO_PIXELS {
        return Err(MediaError::ImageTooLarge { width, height });
    }
    let header = |frames: u32, animated: bool| Header {
        width,
        height,
        frames,
        animated,
    };
    match kind {
        ImageKind::Jpeg if !sniff::jpeg_complete(input) => Err(MediaError::CorruptImage(
            "the JPEG file is cut off (no end-of-image marker)".into(),
        )),
        ImageKind::Jpeg => Ok(header(1, false)),
        ImageKind::Png => Ok(header(1, sniff::png_animated(input))),
        ImageKind::WebP => Ok(header(1, sniff::webp_animated(input))),
        ImageKind::Gif => {
            let frames = sniff::gif_frames(input, MAX_GIF_FRAMES);
            if frames > MAX_GIF_FRAMES {
                return Err(MediaError::TooManyFrames {
                    max: MAX_GIF_FRAMES,
                });
            }
            Ok(header(frames, frames > 1))
        }
    }
}

fn decode(input: &[u8], kind: ImageKind) -> Result<DynamicImage, MediaError> {
    let mut reader = ImageReader::with_format(Cursor::new(input), kind.format());
    let mut limits = Limits::default();
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    reader.decode().map_err(|e| image_error(e, kind))
}

/// [`decode`] with the decoder's own limits on the edges as well: a second line behind the
/// header check, should a decoder see other dimensions than the header reader did.
fn decode_within(input: &[u8], kind: ImageKind, max_edge: u32) -> Result<DynamicImage, MediaError> {
    let mut reader = ImageReader::with_format(Cursor::new(input), kind.format());
    let mut limits = Limits::default();
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    limits.max_image_width = Some(max_edge);
    limits.max_image_height = Some(max_edge);
    reader.limits(limits);
    reader.decode().map_err(|e| image_error(e, kind))
}

/// A decoder's error as ours: the input's fault, or a kind of file we do not take.
fn image_error(e: image::ImageError, kind: ImageKind) -> MediaError {
    match e {
        image::ImageError::Limits(_) => MediaError::CorruptImage(format!(
            "decoding would need more than {} MiB of memory",
            MAX_DECODE_BYTES / 1024 / 1024
        )),
        image::ImageError::Unsupported(e) => {
            MediaError::UnsupportedImage(format!("this kind of {} ({e})", name(kind)))
        }
        e => MediaError::CorruptImage(format!("cannot decode the {}: {e}", name(kind))),
    }
}

/// A plain dark picture of the given shape, prepared like a photo: the stand-in poster of a
/// video whose first frame cannot be decoded on this device (HEVC, VP9, AV1 without a
/// decoder). The player shows the real picture once it plays.
pub fn placeholder(width: u32, height: u32) -> Result<PreparedPhoto, MediaError> {
    let (w, h) = (width.clamp(16, MAX_EDGE), height.clamp(16, MAX_EDGE));
    let img = DynamicImage::ImageRgb8(image::RgbImage::from_pixel(w, h, image::Rgb([38, 42, 48])));
    let none = PhotoEdits::default();
    let plan = none.plan(image::metadata::Orientation::NoTransforms, w, h)?;
    pixels::finish(img, &plan, MAX_EDGE, false)
}

/// What the server learns from an uploaded photo: its kind and size, after checking that it
/// really is one (by content), that its headers are within the limits, and that it decodes
/// completely. Nothing is re-encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageInfo {
    pub kind: ImageKind,
    pub width: u32,
    pub height: u32,
    pub animated: bool,
}

impl ImageInfo {
    /// The `Content-Type` the file is served with.
    pub fn mime(&self) -> &'static str {
        match self.kind {
            ImageKind::Jpeg => "image/jpeg",
            ImageKind::Png => "image/png",
            ImageKind::Gif => "image/gif",
            ImageKind::WebP => "image/webp",
        }
    }
}

/// Checks an uploaded photo without preparing it: recognised by content, at most
/// `max_edge` px on either side, within every header limit, and fully decodable (a cut-off
/// or forged file is refused). A decoder panic is reported as a corrupt image.
///
/// An animated GIF must also be what [`prepare_photo`] sends: within [`MAX_ANIMATION_FRAMES`]
/// and [`MAX_ANIMATION_PIXELS`] (else [`MediaError::AnimationTooLarge`]), every frame inside
/// the picture and every frame's data whole. APNGs and animated WebPs (which a prepared photo
/// never is) are checked on their first frame only.
pub fn inspect(input: &[u8], max_edge: u32) -> Result<ImageInfo, MediaError> {
    std::panic::catch_unwind(|| {
        if input.len() > MAX_PHOTO_BYTES {
            return Err(MediaError::TooLarge {
                bytes: input.len(),
                max: MAX_PHOTO_BYTES,
            });
        }
        let kind = sniff(input).ok_or_else(|| match sniff::describe_other(input) {
            Some(name) => MediaError::UnsupportedImage(name.to_string()),
            None => MediaError::NotAnImage,
        })?;
        let header = check_headers(input, kind)?;
        // From the header, before any pixel is decoded: a small file may declare a picture
        // whose decode alone would take hundreds of megabytes.
        if header.width.max(header.height) > max_edge {
            return Err(MediaError::CorruptImage(format!(
                "the {} header says {}×{} pixels, larger than the {max_edge} px a prepared photo has",
                name(kind),
                header.width,
                header.height
            )));
        }
        if kind == ImageKind::Gif && header.animated {
            check_animation(input, &header)?;
        }
        let decoded = decode_within(input, kind, max_edge)?;
        let (width, height) = (decoded.width(), decoded.height());
        Ok(ImageInfo {
            kind,
            width,
            height,
            animated: header.animated,
        })
    })
    .unwrap_or_else(|_| {
        Err(MediaError::CorruptImage(
            "the decoder failed on this file".into(),
        ))
    })
}

/// The animation limits, and every frame inside the picture and decodable.
fn check_animation(input: &[u8], header: &Header) -> Result<(), MediaError> {
    let Header {
        width,
        height,
        frames,
        ..
    } = *header;
    if !animation::within_limits(frames, width, height) {
        return Err(MediaError::AnimationTooLarge {
            frames,
            width,
            height,
        });
    }
    let scan = animation::scan(input, animation::Depth::Pixels)?;
    match scan.outside {
        Some(frame) => Err(MediaError::CorruptImage(format!(
            "frame {frame} of the GIF reaches outside its {width}×{height} picture"
        ))),
        None => Ok(()),
    }
}

fn name(kind: ImageKind) -> &'static str {
    match kind {
        ImageKind::Jpeg => "JPEG",
        ImageKind::Png => "PNG",
        ImageKind::Gif => "GIF",
        ImageKind::WebP => "WebP",
    }
}
