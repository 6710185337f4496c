//! Pixel-level colour noise of the picture the model sees: the second signal of the verdict
//! ([`crate::thresholds::noise_veto`]).
//!
//! ImageMagick's `plasma:` textures, which the model scores up to 0.99 explicit, are noise at
//! every scale down to the single pixel, in each of R, G and B independently, so their chroma
//! (colour) changes from pixel to pixel about as much as their luma (brightness). A camera
//! photo's chroma is smooth (demosaicing and JPEG's 4:2:0 subsampling average it), so its
//! chroma changes much less than its luma; the committed explicit fixture is a smooth
//! bilinear pattern with little of either. Both are measured on the classifier's 224×224
//! input, as the mean absolute difference between horizontally and vertically neighbouring
//! pixels, with Y, Cb and Cr from the full-range BT.601 (JPEG) conversion.

use serde::{Deserialize, Serialize};

/// Mean absolute differences between neighbouring pixels, in 8-bit levels.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct ColourNoise {
    /// Of chroma: `(|ΔCb| + |ΔCr|) / 2`.
    pub chroma: f32,
    /// Of luma: `|ΔY|`.
    pub luma: f32,
}

impl ColourNoise {
    /// Measures packed 8-bit RGB `width` pixels wide (a trailing partial row or pixel is
    /// ignored). Zero for a picture of fewer than two pixels.
    pub fn measure(rgb: &[u8], width: usize) -> Self {
        if width == 0 {
            return ColourNoise::default();
        }
        let ycc: Vec<[f32; 3]> = rgb
            .chunks_exact(3)
            .map(|p| {
                let (r, g, b) = (f32::from(p[0]), f32::from(p[1]), f32::from(p[2]));
                [
                    0.299 * r + 0.587 * g + 0.114 * b,
                    -0.168_736 * r - 0.331_264 * g + 0.5 * b,
                    0.5 * r - 0.418_688 * g - 0.081_312 * b,
                ]
            })
            .collect();
        let height = ycc.len() / width;
        let (mut chroma, mut luma, mut pairs) = (0.0f64, 0.0f64, 0u64);
        let mut add = |a: &[f32; 3], b: &[f32; 3]| {
            luma += f64::from((a[0] - b[0]).abs());
            chroma += f64::from(((a[1] - b[1]).abs() + (a[2] - b[2]).abs()) / 2.0);
            pairs += 1;
        };
        for y in 0..height {
            for x in 0..width {
                let here = &ycc[y * width + x];
                if x + 1 < width {
                    add(here, &ycc[y * width + x + 1]);
                }
                if y + 1 < height {
                    add(here, &ycc[(y + 1) * width + x]);
                }
            }
        }
        if pairs == 0 {
            return ColourNoise::default();
        }
        ColourNoise {
            chroma: (chroma / pairs as f64) as f32,
            luma: (luma / pairs as f64) as f32,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_and_grey_pictures() {
        let flat = vec![120u8; 4 * 4 * 3];
        assert_eq!(ColourNoise::measure(&flat, 4), ColourNoise::default());
        // Grey stripes: luma changes, chroma does not.
        let grey: Vec<u8> = (0..4 * 4)
            .flat_map(|i| [if i % 2 == 0 { 0u8 } else { 100 }; 3])
            .collect();
        let n = ColourNoise::measure(&grey, 4);
        assert!(n.chroma.abs() < 1e-3, "{n:?}");
        // 12 of the 24 neighbour pairs differ by 100 (the horizontal ones).
        assert!((n.luma - 50.0).abs() < 1e-3, "{n:?}");
        assert_eq!(ColourNoise::measure(&[], 4), ColourNoise::default());
        assert_eq!(ColourNoise::measure(&[1, 2, 3], 1), ColourNoise::default());
    }

    #[test]
    fn colour_with_constant_brightness_is_chroma_only() {
        // Alternating pure red and a grey of the same luma.
        let y = (0.299f32 * 255.0).round() as u8;
        let rgb: Vec<u8> = (0..8 * 8)
            .flat_map(|i| {
                if (i + i / 8) % 2 == 0 {
                    [255, 0, 0]
                } else {
                    [y, y, y]
                }
            })
            .collect();
        let n = ColourNoise::measure(&rgb, 8);
        assert!(n.luma < 0.5, "{n:?}");
        assert!(n.chroma > 50.0, "{n:?}");
    }
}
