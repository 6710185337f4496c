//! From decoded pixels to the prepared photo: crop, resize, orientation and turns, text,
//! transparency, encoders, thumbnail and blurhash. Nothing from the input file but its pixels
//! reaches the output.

use std::io::Cursor;

use fast_image_resize::images::Image;
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use image::codecs::webp::WebPEncoder;
use image::metadata::Orientation;
use image::{DynamicImage, ExtendedColorType, RgbImage, RgbaImage};

use super::edit::{PixelRect, Plan};
use super::{text, PreparedPhoto, BLURHASH_COMPONENTS, JPEG_QUALITY, THUMB_EDGE};
use crate::MediaError;

/// The EXIF orientation of any container kamadak-exif reads (JPEG APP1, PNG eXIf, WebP EXIF).
/// Missing or unreadable EXIF means upright: a broken tag must not cost the user the photo.
pub(crate) fn exif_orientation(input: &[u8]) -> Orientation {
    exif::Reader::new()
        .read_from_container(&mut Cursor::new(input))
        .ok()
        .and_then(|exif| {
            exif.get_field(exif::Tag::Orientation, exif::In::PRIMARY)
                .and_then(|field| field.value.get_uint(0))
        })
        .and_then(|value| u8::try_from(value).ok())
        .and_then(Orientation::from_exif)
        .unwrap_or(Orientation::NoTransforms)
}

/// The pixels we work with: RGB, or RGBA only when some pixel is not fully opaque.
pub(crate) enum Pixels {
    Rgb(RgbImage),
    Rgba(RgbaImage),
}

impl Pixels {
    /// `decoded` as RGB, or as RGBA when some pixel within `crop` is not fully opaque.
    fn of(decoded: DynamicImage, crop: Option<PixelRect>) -> Pixels {
        if decoded.color().has_alpha() {
            let rgba = decoded.into_rgba8();
            if transparent_within(&rgba, crop) {
                Pixels::Rgba(rgba)
            } else {
                Pixels::Rgb(DynamicImage::ImageRgba8(rgba).into_rgb8())
            }
        } else {
            Pixels::Rgb(decoded.into_rgb8())
        }
    }
}

/// The photo as `plan` says: the crop cut from the full-resolution pixels and resized in one
/// step, then turned (EXIF orientation and the sender's turns in one), then the texts drawn.
pub(crate) fn finish(
    decoded: DynamicImage,
    plan: &Plan<'_>,
    max_edge: u32,
    animated: bool,
) -> Result<PreparedPhoto, MediaError> {
    let mut resizer = Resizer::new();
    let mut photo = shape(&mut resizer, Pixels::of(decoded, plan.crop), plan, max_edge)?;
    text::draw(&mut photo, plan.texts)?;
    let (width, height) = (photo.width(), photo.height());
    let (bytes, mime, opaque) = match photo {
        DynamicImage::ImageRgba8(rgba) => {
            let bytes = encode_webp_lossless(&rgba)?;
            (bytes, "image/webp", flatten_on_white(&rgba))
        }
        other => {
            let rgb = other.into_rgb8();
            (encode_jpeg(&rgb)?, "image/jpeg", rgb)
        }
    };
    // The thumbnail is made from the prepared photo (already small and upright).
    let thumb = thumbnail(&mut resizer, opaque)?;
    Ok(PreparedPhoto {
        bytes,
        mime,
        width,
        height,
        thumbnail: thumb.jpeg,
        thumb_width: thumb.width,
        thumb_height: thumb.height,
        blurhash: thumb.blurhash,
        animated,
    })
}

/// Cuts `plan`'s crop out of `pixels`, shrinks it to fit `max_edge` (one resize, at full
/// resolution), then turns it. Crop and resize come before the turn: the long edge is the same
/// either way, and turning the smaller image is cheaper. Texts are the caller's.
pub(crate) fn shape(
    resizer: &mut Resizer,
    pixels: Pixels,
    plan: &Plan<'_>,
    max_edge: u32,
) -> Result<DynamicImage, MediaError> {
    let kept = |width: u32, height: u32| plan.crop.map_or((width, height), |r| (r.width, r.height));
    let mut photo = match pixels {
        Pixels::Rgb(img) => {
            let (w, h) = kept(img.width(), img.height());
            let (w, h) = fit(w, h, max_edge);
            DynamicImage::ImageRgb8(resize_rgb(resizer, img, plan.crop, w, h)?)
        }
        Pixels::Rgba(img) => {
            let (w, h) = kept(img.width(), img.height());
            let (w, h) = fit(w, h, max_edge);
            DynamicImage::ImageRgba8(resize_rgba(resizer, img, plan.crop, w, h)?)
        }
    };
    photo.apply_orientation(plan.turn);
    Ok(photo)
}

/// A prepared photo's small preview: a JPEG, its size and its blurhash.
pub(crate) struct Thumbnail {
    pub jpeg: Vec<u8>,
    pub width: u32,
    pub height: u32,
    pub blurhash: String,
}

/// The thumbnail of a prepared (already small and upright) opaque picture: at most
/// [`THUMB_EDGE`] px long.
pub(crate) fn thumbnail(resizer: &mut Resizer, opaque: RgbImage) -> Result<Thumbnail, MediaError> {
    let (width, height) = fit(opaque.width(), opaque.height(), THUMB_EDGE);
    let thumb = resize_rgb(resizer, opaque, None, width, height)?;
    Ok(Thumbnail {
        jpeg: encode_jpeg(&thumb)?,
        width,
        height,
        blurhash: blurhash_of(&thumb)?,
    })
}

/// The size that fits `width`×`height` within `max_edge` on its long edge, keeping the aspect
/// ratio, never upscaling, never below 1 px.
pub(crate) fn fit(width: u32, height: u32, max_edge: u32) -> (u32, u32) {
    let long = width.max(height);
    if long <= max_edge {
        return (width, height);
    }
    let scale = |side: u32| {
        let scaled =
            (u64::from(side) * u64::from(max_edge) + u64::from(long) / 2) / u64::from(long);
        u32::try_from(scaled).unwrap_or(max_edge).clamp(1, max_edge)
    };
    (scale(width), scale(height))
}

fn options(crop: Option<PixelRect>) -> ResizeOptions {
    let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3));
    match crop {
        None => options,
        Some(r) => options.crop(
            f64::from(r.x),
            f64::from(r.y),
            f64::from(r.width),
            f64::from(r.height),
        ),
    }
}

/// Whether any pixel (within `crop`, if given) is not fully opaque.
fn transparent_within(rgba: &RgbaImage, crop: Option<PixelRect>) -> bool {
    match crop {
        None => rgba.pixels().any(|p| p.0[3] < 255),
        Some(r) => rgba
            .rows()
            .skip(r.y as usize)
            .take(r.height as usize)
            .any(|row| {
                row.skip(r.x as usize)
                    .take(r.width as usize)
                    .any(|p| p.0[3] < 255)
            }),
    }
}

/// Resizes `img`, or only its `crop`, to `width`×`height`. A crop that needs no resizing is
/// copied out; otherwise the resizer reads the crop in place.
fn resize_rgb(
    resizer: &mut Resizer,
    img: RgbImage,
    crop: Option<PixelRect>,
    width: u32,
    height: u32,
) -> Result<RgbImage, MediaError> {
    match crop {
        None if (img.width(), img.height()) == (width, height) => return Ok(img),
        Some(r) if (r.width, r.height) == (width, height) => {
            return Ok(image::imageops::crop_imm(&img, r.x, r.y, r.width, r.height).to_image())
        }
        _ => {}
    }
    let (w, h) = (img.width(), img.height());
    let src = Image::from_vec_u8(w, h, img.into_raw(), PixelType::U8x3).map_err(resize_error)?;
    let mut dst = Image::new(width, height, PixelType::U8x3);
    resizer
        .resize(&src, &mut dst, &options(crop))
        .map_err(resize_error)?;
    RgbImage::from_raw(width, height, dst.into_vec())
        .ok_or_else(|| MediaError::ImageCodec("the resizer returned a short buffer".into()))
}

/// Resizes with alpha premultiplied (the resizer's default), so transparent pixels' colours do
/// not bleed into the edges.
fn resize_rgba(
    resizer: &mut Resizer,
    img: RgbaImage,
    crop: Option<PixelRect>,
    width: u32,
    height: u32,
) -> Result<RgbaImage, MediaError> {
    match crop {
        None if (img.width(), img.height()) == (width, height) => return Ok(img),
        Some(r) if (r.width, r.height) == (width, height) => {
            return Ok(image::imageops::crop_imm(&img, r.x, r.y, r.width, r.height).to_image())
        }
        _ => {}
    }
    let (w, h) = (img.width(), img.height());
    let src = Image::from_vec_u8(w, h, img.into_raw(), PixelType::U8x4).map_err(resize_error)?;
    let mut dst = Image::new(width, height, PixelType::U8x4);
    resizer
        .resize(&src, &mut dst, &options(crop))
        .map_err(resize_error)?;
    RgbaImage::from_raw(width, height, dst.into_vec())
        .ok_or_else(|| MediaError::ImageCodec("the resizer returned a short buffer".into()))
}

fn resize_error(e: impl std::fmt::Display) -> MediaError {
    MediaError::ImageCodec(format!("resize failed: {e}"))
}

/// Composites onto white, as a viewer without transparency would show it.
pub(crate) fn flatten_on_white(rgba: &RgbaImage) -> RgbImage {
    RgbImage::from_fn(rgba.width(), rgba.height(), |x, y| {
        let [r, g, b, a] = rgba.get_pixel(x, y).0;
        let over = |c: u8| {
            let (c, a) = (u32::from(c), u32::from(a));
            ((c * a + 255 * (255 - a) + 127) / 255) as u8
        };
        image::Rgb([over(r), over(g), over(b)])
    })
}

/// JPEG from pixels: baseline, 4:2:0 chroma (as cameras, libjpeg and libvips write it), the
/// standard Huffman tables. The encoder writes a JFIF header and nothing else (no EXIF, no ICC
/// profile, no thumbnail). Not jpeg-encoder's optimised Huffman tables: it then writes one scan
/// per component, which zune-jpeg 0.5.15 (image's decoder) silently decodes to wrong colours;
/// progressive (optimised tables, decoded right) came out 2% larger and slower (benches/photos.rs).
fn encode_jpeg(img: &RgbImage) -> Result<Vec<u8>, MediaError> {
    let side = |px: u32| {
        u16::try_from(px).map_err(|_| {
            MediaError::ImageCodec(format!(
                "JPEG encoding failed: {px} px is beyond JPEG's limit"
            ))
        })
    };
    let (width, height) = (side(img.width())?, side(img.height())?);
    let mut out = Vec::new();
    let mut encoder = jpeg_encoder::Encoder::new(&mut out, JPEG_QUALITY);
    encoder.set_sampling_factor(jpeg_encoder::SamplingFactor::R_4_2_0);
    encoder
        .encode(img.as_raw(), width, height, jpeg_encoder::ColorType::Rgb)
        .map_err(|e| MediaError::ImageCodec(format!("JPEG encoding failed: {e}")))?;
    Ok(out)
}

fn encode_webp_lossless(img: &RgbaImage) -> Result<Vec<u8>, MediaError> {
    let mut out = Vec::new();
    WebPEncoder::new_lossless(&mut out)
        .encode(
            img.as_raw(),
            img.width(),
            img.height(),
            ExtendedColorType::Rgba8,
        )
        .map_err(|e| MediaError::ImageCodec(format!("WebP encoding failed: {e}")))?;
    Ok(out)
}

fn blurhash_of(thumb: &RgbImage) -> Result<String, MediaError> {
    let rgba = DynamicImage::ImageRgb8(thumb.clone()).into_rgba8();
    let (x, y) = BLURHASH_COMPONENTS;
    blurhash::encode(x, y, thumb.width(), thumb.height(), rgba.as_raw())
        .map_err(|e| MediaError::ImageCodec(format!("blurhash failed: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_keeps_aspect_and_never_upscales() {
        assert_eq!(fit(4000, 3000, 2048), (2048, 1536));
        assert_eq!(fit(3000, 4000, 2048), (1536, 2048));
        assert_eq!(fit(800, 600, 2048), (800, 600));
        assert_eq!(fit(100_000, 1, 320), (320, 1));
        assert_eq!(fit(2048, 2048, 320), (320, 320));
    }

    #[test]
    fn flattening_composites_on_white() {
        let img = RgbaImage::from_raw(2, 1, vec![255, 0, 0, 0, 0, 0, 0, 128]).unwrap_or_default();
        let flat = flatten_on_white(&img);
        assert_eq!(flat.get_pixel(0, 0).0, [255, 255, 255]);
        assert_eq!(flat.get_pixel(1, 0).0, [127, 127, 127]);
    }
}
