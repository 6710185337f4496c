//! Text burned into a prepared photo: DejaVu Sans Bold (embedded, see
//! `assets/fonts/DejaVuSans-Bold.LICENSE`) rasterised anti-aliased by `ab_glyph`, with an
//! outline that contrasts with the text colour (dark, or light for dark text) so it reads on
//! any background. Lines split on `'\n'` are centred on each other; the block is centred on the
//! overlay's position, moved inside the picture where it would stick out, and shrunk where it
//! cannot fit at all.
//!
//! Only what the font has is drawn: Latin, Greek, Cyrillic, Armenian, Georgian, Hebrew and Arabic
//! letters (unshaped) and many symbols, including flat one-colour smileys (U+1F600–1F64F) in
//! the text colour. Other emoji and scripts it lacks (CJK, Indic, …) are left out: there is no
//! fallback font, no colour emoji and no complex-script shaping.

use ab_glyph::{point, Font, FontRef, GlyphId, PxScale, ScaleFont};
use image::DynamicImage;

use super::edit::{parse_color, TextOverlay};
use crate::MediaError;

static FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-Bold.ttf");

/// Outline width as a fraction of the glyph height.
const OUTLINE: f32 = 0.06;
/// How opaque the outline is at its core.
const OUTLINE_OPACITY: f32 = 0.85;

/// Draws every overlay, in order, onto the final picture (RGB or RGBA).
pub(crate) fn draw(photo: &mut DynamicImage, texts: &[TextOverlay]) -> Result<(), MediaError> {
    Overlays::render(texts, photo.width(), photo.height())?.paint(photo)
}

/// Overlays rasterised once for pictures of one size, to paint on many (every frame of an
/// animation) without laying the text out again.
pub(crate) struct Overlays {
    layers: Vec<Layer>,
}

struct Layer {
    mask: Mask,
    color: [u8; 3],
    halo: [u8; 3],
}

impl Overlays {
    /// Lays out and rasterises `texts` for a `width`×`height` picture.
    pub(crate) fn render(
        texts: &[TextOverlay],
        width: u32,
        height: u32,
    ) -> Result<Overlays, MediaError> {
        if texts.is_empty() {
            return Ok(Overlays { layers: Vec::new() });
        }
        let font = FontRef::try_from_slice(FONT)
            .map_err(|e| MediaError::ImageCodec(format!("the embedded font is unreadable: {e}")))?;
        let mut layers = Vec::with_capacity(texts.len());
        for overlay in texts {
            let color = parse_color(&overlay.color).ok_or_else(|| {
                MediaError::InvalidEdits(format!("the colour {:?} is not #rrggbb", overlay.color))
            })?;
            let Some(mask) = Mask::render(&font, overlay, width, height) else {
                continue;
            };
            let halo = if luma(color) < 80.0 {
                [255, 255, 255]
            } else {
                [0, 0, 0]
            };
            layers.push(Layer { mask, color, halo });
        }
        Ok(Overlays { layers })
    }

    /// Paints the overlays, in order, onto a picture of the size they were rendered for.
    pub(crate) fn paint(&self, photo: &mut DynamicImage) -> Result<(), MediaError> {
        let width = photo.width();
        for Layer { mask, color, halo } in &self.layers {
            match photo {
                DynamicImage::ImageRgb8(img) => mask.paint(img, 3, width, *color, *halo),
                DynamicImage::ImageRgba8(img) => mask.paint(img, 4, width, *color, *halo),
                other => {
                    return Err(MediaError::ImageCodec(format!(
                        "cannot draw text on {:?} pixels",
                        other.color()
                    )))
                }
            }
        }
        Ok(())
    }
}

fn luma([r, g, b]: [u8; 3]) -> f32 {
    0.299 * f32::from(r) + 0.587 * f32::from(g) + 0.114 * f32::from(b)
}

/// One line laid out at some size: its width and each glyph's x offset.
struct Line {
    width: f32,
    glyphs: Vec<(GlyphId, f32)>,
}

fn layout(font: &FontRef<'_>, text: &str, px: f32) -> Vec<Line> {
    let scaled = font.as_scaled(PxScale::from(px));
    text.split('\n')
        .map(|line| {
            let mut caret = 0.0f32;
            let mut prev: Option<GlyphId> = None;
            let mut glyphs = Vec::new();
            for c in line.chars().filter(|c| !c.is_control()) {
                let id = font.glyph_id(c);
                // Glyph 0 is "missing": most emoji and scripts the font lacks are left out.
                if id.0 == 0 {
                    continue;
                }
                if let Some(prev) = prev {
                    caret += scaled.kern(prev, id);
                }
                glyphs.push((id, caret));
                caret += scaled.h_advance(id);
                prev = Some(id);
            }
            Line {
                width: caret,
                glyphs,
            }
        })
        .collect()
}

/// One overlay rasterised: coverage of the text and of its outline over a rectangle of the
/// picture.
struct Mask {
    left: u32,
    top: u32,
    width: usize,
    height: usize,
    text: Vec<f32>,
    outline: Vec<f32>,
}

impl Mask {
    /// `None` when there is nothing to draw (no glyph the font has, or a picture too small
    /// for any text).
    fn render(font: &FontRef<'_>, overlay: &TextOverlay, width: u32, height: u32) -> Option<Mask> {
        let short = width.min(height) as f32;
        let mut px = overlay.size * short;
        let mut lines = layout(font, &overlay.text, px);
        // Block size at `px`, including the outline's room on every side.
        let block = |px: f32, lines: &[Line]| {
            let scaled = font.as_scaled(PxScale::from(px));
            let line_height = scaled.height() + scaled.line_gap();
            let text_w = lines.iter().map(|l| l.width).fold(0.0, f32::max);
            let text_h = line_height * lines.len() as f32 - scaled.line_gap();
            let pad = (px * OUTLINE).max(1.0).ceil() + 1.0;
            (text_w + 2.0 * pad, text_h + 2.0 * pad)
        };
        let (bw, bh) = block(px, &lines);
        if bw > width as f32 || bh > height as f32 {
            // Everything scales with `px` but the 1 px floor of the outline; a little extra
            // margin covers that.
            px *= (width as f32 / bw).min(height as f32 / bh) * 0.98;
            lines = layout(font, &overlay.text, px);
        }
        if px < 4.0 || lines.iter().all(|l| l.glyphs.is_empty()) {
            return None;
        }
        let scaled = font.as_scaled(PxScale::from(px));
        let line_height = scaled.height() + scaled.line_gap();
        let pad = (px * OUTLINE).max(1.0).ceil() + 1.0;
        let radius = (px * OUTLINE).max(1.0);
        let (bw, bh) = block(px, &lines);
        let mask_w = (bw.ceil() as u32).min(width);
        let mask_h = (bh.ceil() as u32).min(height);
        let place = |centre: f32, side: u32, extent: u32| {
            let start = (centre * side as f32 - extent as f32 / 2.0).round();
            start.clamp(0.0, (side - extent) as f32) as u32
        };
        let left = place(overlay.x, width, mask_w);
        let top = place(overlay.y, height, mask_h);
        let (w, h) = (mask_w as usize, mask_h as usize);

        let mut text = vec![0.0f32; w * h];
        let text_w = bw - 2.0 * pad;
        for (row, line) in lines.iter().enumerate() {
            let x0 = pad + (text_w - line.width) / 2.0;
            let baseline = pad + row as f32 * line_height + scaled.ascent();
            for &(id, x) in &line.glyphs {
                let glyph = id.with_scale_and_position(px, point(x0 + x, baseline));
                let Some(outlined) = font.outline_glyph(glyph) else {
                    continue; // A space.
                };
                let bounds = outlined.px_bounds();
                outlined.draw(|gx, gy, coverage| {
                    // The rasteriser leaves float dust (~1e-7) across the glyph's box; below
                    // one 8-bit step it is nothing, and must not grow an outline.
                    if coverage < 1.0 / 255.0 {
                        return;
                    }
                    let x = bounds.min.x as i64 + i64::from(gx);
                    let y = bounds.min.y as i64 + i64::from(gy);
                    if (0..w as i64).contains(&x) && (0..h as i64).contains(&y) {
                        let cell = &mut text[y as usize * w + x as usize];
                        *cell = cell.max(coverage.min(1.0));
                    }
                });
            }
        }
        let outline = outline(&text, w, h, radius);
        Some(Mask {
            left,
            top,
            width: w,
            height: h,
            text,
            outline,
        })
    }

    /// Composites the outline, then the text, onto 8-bit RGB (`channels` 3) or straight-alpha
    /// RGBA (`channels` 4) pixels of a picture `image_width` wide.
    fn paint(
        &self,
        pixels: &mut [u8],
        channels: usize,
        image_width: u32,
        color: [u8; 3],
        halo: [u8; 3],
    ) {
        let stride = image_width as usize * channels;
        for y in 0..self.height {
            let row = (self.top as usize + y) * stride + self.left as usize * channels;
            for x in 0..self.width {
                let i = y * self.width + x;
                let (halo_a, text_a) = (self.outline[i] * OUTLINE_OPACITY, self.text[i]);
                if halo_a <= 0.0 && text_a <= 0.0 {
                    continue;
                }
                let start = row + x * channels;
                let Some(px) = pixels.get_mut(start..start + channels) else {
                    continue;
                };
                over(px, halo, halo_a);
                over(px, color, text_a);
            }
        }
    }
}

/// Paints `color` at opacity `alpha` over one RGB or straight-alpha RGBA pixel.
fn over(px: &mut [u8], color: [u8; 3], alpha: f32) {
    if alpha <= 0.0 {
        return;
    }
    let alpha = alpha.min(1.0);
    let dst_a = px.get(3).map_or(1.0, |&a| f32::from(a) / 255.0);
    let out_a = alpha + dst_a * (1.0 - alpha);
    for (c, &src) in px.iter_mut().take(3).zip(&color) {
        let mixed = (f32::from(src) * alpha + f32::from(*c) * dst_a * (1.0 - alpha)) / out_a;
        *c = mixed.round().clamp(0.0, 255.0) as u8;
    }
    if let Some(a) = px.get_mut(3) {
        *a = (out_a * 255.0).round().clamp(0.0, 255.0) as u8;
    }
}

/// The outline's coverage: 1 within `radius` px of the text, fading to 0 over the next pixel.
/// Distances come from a two-pass chamfer transform (steps of 1 and √2, within 8 % of the
/// true distance), so the cost is linear in the area whatever the radius.
fn outline(text: &[f32], w: usize, h: usize, radius: f32) -> Vec<f32> {
    const DIAGONAL: f32 = std::f32::consts::SQRT_2;
    // A partly covered pixel holds an edge: count it as that much closer than a neighbour.
    let mut d: Vec<f32> = text
        .iter()
        .map(|&c| if c > 0.0 { 1.0 - c } else { f32::INFINITY })
        .collect();
    for y in 0..h {
        for x in 0..w {
            let i = y * w + x;
            let mut v = d[i];
            if x > 0 {
                v = v.min(d[i - 1] + 1.0);
            }
            if y > 0 {
                v = v.min(d[i - w] + 1.0);
                if x > 0 {
                    v = v.min(d[i - w - 1] + DIAGONAL);
                }
                if x + 1 < w {
                    v = v.min(d[i - w + 1] + DIAGONAL);
                }
            }
            d[i] = v;
        }
    }
    for y in (0..h).rev() {
        for x in (0..w).rev() {
            let i = y * w + x;
            let mut v = d[i];
            if x + 1 < w {
                v = v.min(d[i + 1] + 1.0);
            }
            if y + 1 < h {
                v = v.min(d[i + w] + 1.0);
                if x + 1 < w {
                    v = v.min(d[i + w + 1] + DIAGONAL);
                }
                if x > 0 {
                    v = v.min(d[i + w - 1] + DIAGONAL);
                }
            }
            d[i] = v;
        }
    }
    for v in &mut d {
        *v = (radius + 1.0 - *v).clamp(0.0, 1.0);
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_outline_is_round_and_as_wide_as_asked() {
        let (w, h) = (21, 21);
        let mut text = vec![0.0; w * h];
        text[10 * w + 10] = 1.0;
        let ring = outline(&text, w, h, 4.0);
        assert_eq!(ring[10 * w + 14], 1.0, "4 px to the right");
        assert_eq!(ring[10 * w + 16], 0.0, "6 px to the right");
        // (13, 13) is 4.24 px away: partly covered; (14, 14) at 5.66 px is outside.
        assert!(ring[13 * w + 13] > 0.0);
        assert_eq!(ring[14 * w + 14], 0.0, "a square would reach the corner");
    }

    #[test]
    fn painting_over_transparency_makes_it_opaque_in_the_paint_colour() {
        let mut px = [0u8, 0, 0, 0];
        over(&mut px, [255, 200, 0], 1.0);
        assert_eq!(px, [255, 200, 0, 255]);
        let mut half = [0u8, 0, 255];
        over(&mut half, [255, 255, 255], 0.5);
        assert_eq!(half, [128, 128, 255]);
    }

    #[test]
    fn characters_the_font_lacks_are_left_out() {
        let font = FontRef::try_from_slice(FONT).unwrap_or_else(|e| panic!("{e}"));
        let lines = layout(&font, "Hi 🎉中\nthere", 40.0);
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].glyphs.len(), 3, "H, i and the space");
        assert!(lines[1].width > lines[0].width);
    }
}
