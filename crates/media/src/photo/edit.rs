//! Non-destructive edits a sender makes before a photo goes out: quarter turns, a mirror, a crop
//! and text, kept as numbers beside the original and burned in only by
//! [`prepare_photo_edited`](super::prepare_photo_edited).
//!
//! The order is fixed, and the UI's preview follows it: the photo is first made upright (EXIF
//! orientation), then turned ([`PhotoEdits::rotate`]), then mirrored ([`PhotoEdits::flip`]),
//! then cropped ([`PhotoEdits::crop`], fractions of that turned picture), then shrunk to the
//! size limit, then the [`PhotoEdits::texts`] are drawn (positions in the final picture).
//!
//! The pixels do not move in that order, though. EXIF orientation, turns and the mirror are
//! all one of the eight ways a rectangle can be laid on itself (a [`Turn`]), so they combine
//! into one; the crop is mapped back onto the stored pixels and cut there, at full resolution,
//! before the resize; and the one combined turn is applied after the resize, on the small
//! picture. Resizing commutes with every turn (the long edge is the same either way), so the
//! geometry is exactly that of the documented order, at a fraction of the cost.

use image::metadata::Orientation;
use serde::{Deserialize, Serialize};

use crate::MediaError;

/// Most text overlays on one photo.
pub const MAX_TEXTS: usize = 10;
/// Most characters in one overlay's text.
pub const MAX_TEXT_CHARS: usize = 200;
/// The smallest crop, in pixels of the upright full-resolution photo, on either side.
pub const MIN_CROP_PX: u32 = 16;
/// Smallest and largest [`TextOverlay::size`].
pub const TEXT_SIZE_RANGE: std::ops::RangeInclusive<f32> = 0.01..=1.0;

/// How much a crop may poke past the picture's edge and still be taken as touching it: the
/// UI computes fractions in floating point.
const CROP_SLACK: f32 = 1e-3;

/// What the sender changed, applied at send time. The default changes nothing.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct PhotoEdits {
    /// Clockwise quarter turns, 0..=3, applied to the upright photo.
    pub rotate: u8,
    /// Mirror left-right, applied after rotate.
    pub flip: bool,
    /// Crop, applied after rotate+flip, as fractions (0..=1) of that rotated/flipped image.
    pub crop: Option<CropRect>,
    /// Text burned into the final image (positions relative to the final, cropped image).
    pub texts: Vec<TextOverlay>,
}

/// How the app's TypeScript sees these fractions: a plain `number`. specta writes every
/// float as `number | null` (JSON turns NaN into null); [`PhotoEdits::validate`] refuses
/// anything not finite, so no null ever crosses.
#[cfg(feature = "specta")]
#[derive(specta::Type)]
#[specta(transparent)]
struct Finite(#[allow(dead_code)] u32);

/// A rectangle as fractions (0..=1) of the picture's width and height, from its top-left corner.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct CropRect {
    #[cfg_attr(feature = "specta", specta(type = Finite))]
    pub x: f32,
    #[cfg_attr(feature = "specta", specta(type = Finite))]
    pub y: f32,
    #[cfg_attr(feature = "specta", specta(type = Finite))]
    pub width: f32,
    #[cfg_attr(feature = "specta", specta(type = Finite))]
    pub height: f32,
}

/// Text drawn on the photo: anti-aliased DejaVu Sans Bold with a contrasting outline, lines
/// split on `'\n'` and centred. Characters the font lacks (most emoji, CJK) are left out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct TextOverlay {
    pub text: String,
    /// `"#rrggbb"`.
    pub color: String,
    /// Centre of the text, as a fraction (0..=1) of the final picture's width. The text is
    /// moved, or shrunk, as needed to stay whole inside the picture.
    #[cfg_attr(feature = "specta", specta(type = Finite))]
    pub x: f32,
    /// Centre of the text, as a fraction (0..=1) of the final picture's height.
    #[cfg_attr(feature = "specta", specta(type = Finite))]
    pub y: f32,
    /// Glyph height (ascender to descender) as a fraction of the final picture's shorter edge,
    /// e.g. 0.08; within [`TEXT_SIZE_RANGE`].
    #[cfg_attr(feature = "specta", specta(type = Finite))]
    pub size: f32,
}

impl PhotoEdits {
    /// Checks everything that does not depend on the photo's size; the crop's size in pixels is
    /// checked once the photo is decoded.
    pub fn validate(&self) -> Result<(), MediaError> {
        if self.rotate > 3 {
            return Err(invalid(format!(
                "rotate is {} quarter turns; it must be 0 to 3",
                self.rotate
            )));
        }
        if let Some(crop) = &self.crop {
            crop.validate()?;
        }
        if self.texts.len() > MAX_TEXTS {
            return Err(invalid(format!(
                "{} texts; at most {MAX_TEXTS} fit on a photo",
                self.texts.len()
            )));
        }
        for (i, text) in self.texts.iter().enumerate() {
            text.validate()
                .map_err(|why| invalid(format!("text {}: {why}", i + 1)))?;
        }
        Ok(())
    }

    /// How to get from the stored pixels (`width`×`height`, EXIF `orientation`) to the edited
    /// picture: the stored rectangle to keep and the one turn to apply after resizing.
    pub(crate) fn plan(
        &self,
        orientation: Orientation,
        width: u32,
        height: u32,
    ) -> Result<Plan<'_>, MediaError> {
        let turn = Turn::from_orientation(orientation).then(Turn {
            quarter: self.rotate % 4,
            mirror: self.flip,
        });
        let crop = match &self.crop {
            None => None,
            Some(crop) => {
                let shown = if turn.swaps_axes() {
                    (height, width)
                } else {
                    (width, height)
                };
                let rect = crop.to_pixels(shown.0, shown.1);
                if (rect.width, rect.height) == shown {
                    None
                } else if rect.width < MIN_CROP_PX || rect.height < MIN_CROP_PX {
                    return Err(invalid(format!(
                        "the crop is {}×{} pixels; it must be at least {MIN_CROP_PX}×{MIN_CROP_PX}",
                        rect.width, rect.height
                    )));
                } else {
                    Some(turn.stored_rect(width, height, rect))
                }
            }
        };
        Ok(Plan {
            turn: turn.orientation(),
            crop,
            texts: &self.texts,
        })
    }
}

impl CropRect {
    fn validate(&self) -> Result<(), MediaError> {
        let CropRect {
            x,
            y,
            width,
            height,
        } = *self;
        if ![x, y, width, height].iter().all(|v| v.is_finite()) {
            return Err(invalid("the crop has a value that is not a number".into()));
        }
        if x < 0.0 || y < 0.0 || width <= 0.0 || height <= 0.0 {
            return Err(invalid(format!(
                "the crop ({x}, {y}, {width}×{height}) must start inside the photo and have a size"
            )));
        }
        if x + width > 1.0 + CROP_SLACK || y + height > 1.0 + CROP_SLACK {
            return Err(invalid(format!(
                "the crop ({x}, {y}, {width}×{height}) reaches outside the photo"
            )));
        }
        Ok(())
    }

    /// The pixels of a `width`×`height` picture this crop covers, edges rounded to the nearest
    /// pixel boundary.
    fn to_pixels(self, width: u32, height: u32) -> PixelRect {
        let edge = |fraction: f32, side: u32| {
            let px = (f64::from(fraction) * f64::from(side)).round();
            // Clamped, so the cast cannot wrap.
            px.clamp(0.0, f64::from(side)) as u32
        };
        let (x0, x1) = (edge(self.x, width), edge(self.x + self.width, width));
        let (y0, y1) = (edge(self.y, height), edge(self.y + self.height, height));
        PixelRect {
            x: x0,
            y: y0,
            width: x1.saturating_sub(x0),
            height: y1.saturating_sub(y0),
        }
    }
}

impl TextOverlay {
    fn validate(&self) -> Result<(), String> {
        if self.text.trim().is_empty() {
            return Err("the text is empty".into());
        }
        let chars = self.text.chars().count();
        if chars > MAX_TEXT_CHARS {
            return Err(format!(
                "{chars} characters; at most {MAX_TEXT_CHARS} are allowed"
            ));
        }
        if parse_color(&self.color).is_none() {
            return Err(format!(
                "the colour {:?} is not of the form #rrggbb",
                self.color
            ));
        }
        // `contains` is false for NaN.
        let inside = |v: f32| (0.0..=1.0).contains(&v);
        if !inside(self.x) || !inside(self.y) {
            return Err(format!(
                "the position ({}, {}) is outside the photo",
                self.x, self.y
            ));
        }
        if !TEXT_SIZE_RANGE.contains(&self.size) {
            return Err(format!(
                "the size {} is outside {}..={} of the shorter edge",
                self.size,
                TEXT_SIZE_RANGE.start(),
                TEXT_SIZE_RANGE.end()
            ));
        }
        Ok(())
    }
}

/// `"#rrggbb"` (either case) as RGB.
pub(crate) fn parse_color(color: &str) -> Option<[u8; 3]> {
    let hex = color.strip_prefix('#')?;
    if hex.len() != 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let byte = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).ok();
    Some([byte(0)?, byte(2)?, byte(4)?])
}

fn invalid(why: String) -> MediaError {
    MediaError::InvalidEdits(why)
}

/// What [`PhotoEdits::plan`] decided for one photo.
pub(crate) struct Plan<'a> {
    /// The one turn, applied after resizing, that makes the stored pixels look as edited.
    pub turn: Orientation,
    /// The stored pixels to keep, before resizing; `None` keeps all.
    pub crop: Option<PixelRect>,
    pub texts: &'a [TextOverlay],
}

/// A rectangle of whole pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PixelRect {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
}

/// One of the eight symmetries of a rectangle: `quarter` clockwise quarter turns, then a
/// left-right mirror if `mirror`. (The same meaning as `image`'s [`Orientation`], which
/// applies `Rotate90FlipH` as a turn then a mirror.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Turn {
    quarter: u8,
    mirror: bool,
}

impl Turn {
    fn from_orientation(orientation: Orientation) -> Turn {
        let (quarter, mirror) = match orientation {
            Orientation::NoTransforms => (0, false),
            Orientation::Rotate90 => (1, false),
            Orientation::Rotate180 => (2, false),
            Orientation::Rotate270 => (3, false),
            Orientation::FlipHorizontal => (0, true),
            Orientation::Rotate90FlipH => (1, true),
            // Upside down then mirrored is a vertical flip.
            Orientation::FlipVertical => (2, true),
            Orientation::Rotate270FlipH => (3, true),
        };
        Turn { quarter, mirror }
    }

    fn orientation(self) -> Orientation {
        match (self.quarter % 4, self.mirror) {
            (0, false) => Orientation::NoTransforms,
            (1, false) => Orientation::Rotate90,
            (2, false) => Orientation::Rotate180,
            (3, false) => Orientation::Rotate270,
            (0, true) => Orientation::FlipHorizontal,
            (1, true) => Orientation::Rotate90FlipH,
            (2, true) => Orientation::FlipVertical,
            _ => Orientation::Rotate270FlipH,
        }
    }

    /// `self`, then `next`. A mirror reverses the sense of the turns after it: mirroring then
    /// turning clockwise is the same as turning anticlockwise then mirroring.
    fn then(self, next: Turn) -> Turn {
        let quarter = if self.mirror {
            self.quarter + 4 - next.quarter % 4
        } else {
            self.quarter + next.quarter
        };
        Turn {
            quarter: quarter % 4,
            mirror: self.mirror != next.mirror,
        }
    }

    fn swaps_axes(self) -> bool {
        self.quarter % 2 == 1
    }

    /// The rectangle of a `width`×`height` stored picture that this turn lays onto `shown`, a
    /// rectangle of the turned picture.
    fn stored_rect(self, width: u32, height: u32, shown: PixelRect) -> PixelRect {
        let (mut shown_w, mut shown_h) = if self.swaps_axes() {
            (height, width)
        } else {
            (width, height)
        };
        let mut r = shown;
        // Undo the mirror, then the quarter turns one by one.
        if self.mirror {
            r.x = shown_w - r.x - r.width;
        }
        for _ in 0..self.quarter % 4 {
            // A clockwise quarter turn shows stored pixel (u, v) of a picture `shown_h` wide
            // and `shown_w` high at (shown_w - 1 - v, u).
            r = PixelRect {
                x: r.y,
                y: shown_w - r.x - r.width,
                width: r.height,
                height: r.width,
            };
            (shown_w, shown_h) = (shown_h, shown_w);
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::imageops::crop_imm;
    use image::{DynamicImage, RgbImage};

    const ALL: [Orientation; 8] = [
        Orientation::NoTransforms,
        Orientation::Rotate90,
        Orientation::Rotate180,
        Orientation::Rotate270,
        Orientation::FlipHorizontal,
        Orientation::FlipVertical,
        Orientation::Rotate90FlipH,
        Orientation::Rotate270FlipH,
    ];

    /// A 7×4 picture whose every pixel is distinct.
    fn numbered() -> RgbImage {
        RgbImage::from_fn(7, 4, |x, y| image::Rgb([x as u8, y as u8, 0]))
    }

    fn turned(img: &RgbImage, o: Orientation) -> RgbImage {
        let mut out = DynamicImage::ImageRgb8(img.clone());
        out.apply_orientation(o);
        out.into_rgb8()
    }

    #[test]
    fn turns_compose_like_the_pixels_do() {
        let img = numbered();
        for a in ALL {
            for b in ALL {
                let composed = Turn::from_orientation(a)
                    .then(Turn::from_orientation(b))
                    .orientation();
                assert_eq!(
                    turned(&turned(&img, a), b),
                    turned(&img, composed),
                    "{a:?} then {b:?}"
                );
            }
            assert_eq!(Turn::from_orientation(a).orientation(), a);
        }
    }

    #[test]
    fn a_crop_of_the_turned_picture_is_the_turned_crop_of_the_stored_one() {
        let img = numbered();
        for o in ALL {
            let turn = Turn::from_orientation(o);
            let shown = turned(&img, o);
            // 2×3 at (1, 1) fits both the 7×4 and the 4×7 picture, away from every edge.
            let crop = PixelRect {
                x: 1,
                y: 1,
                width: 2,
                height: 3,
            };
            let want = crop_imm(&shown, crop.x, crop.y, crop.width, crop.height).to_image();
            let r = turn.stored_rect(7, 4, crop);
            let got = turned(&crop_imm(&img, r.x, r.y, r.width, r.height).to_image(), o);
            assert_eq!(got, want, "{o:?}");
        }
    }

    #[test]
    fn colours_parse_strictly() {
        assert_eq!(parse_color("#ff8000"), Some([255, 128, 0]));
        assert_eq!(parse_color("#FFFFFF"), Some([255, 255, 255]));
        for bad in [
            "ff8000", "#ff800", "#ff80000", "#gg0000", "red", "#+f8000", "",
        ] {
            assert_eq!(parse_color(bad), None, "{bad}");
        }
    }

    #[test]
    fn edits_deserialise_from_the_ui_names_and_default_when_absent() {
        let edits: PhotoEdits = serde_json::from_str(
            r##"{"rotate":1,"flip":true,"crop":{"x":0.1,"y":0.2,"width":0.5,"height":0.25},
                "texts":[{"text":"hi","color":"#ffcc00","x":0.5,"y":0.9,"size":0.08}]}"##,
        )
        .unwrap_or_default();
        assert_eq!(edits.rotate, 1);
        assert!(edits.flip);
        assert_eq!(edits.crop.map(|c| c.height), Some(0.25));
        assert_eq!(edits.texts[0].color, "#ffcc00");
        // Every field is spelled out by the sender: a partial object is a bug, not "no edits".
        assert!(serde_json::from_str::<PhotoEdits>("{}").is_err());
    }
}
