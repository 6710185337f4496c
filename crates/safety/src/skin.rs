//! Skin-colour measurements of a picture, used by the benign-image evaluation
//! (`examples/eval_benign.rs`) to test whether a skin check could be a second signal beside
//! the model's scores. **Not part of the verdict**: measured on ImageMagick plasma textures,
//! the share of skin-coloured pixels (median 0.16) and the largest skin region overlap those
//! of photos and of the committed explicit fixture, so a skin floor would not have stopped
//! the false positives it was meant for, and it would blind the filter to black-and-white
//! photos (no pixel of a grey picture is skin-coloured). See [`crate::thresholds`].
//!
//! A pixel is skin-coloured when its chroma lies in the range of Chai and Ngan (1999), the
//! usual YCbCr skin box: Cb in [77, 127] and Cr in [133, 173], with Cb and Cr from the JPEG
//! (full-range BT.601) conversion. Luma is not used, so lighting matters little. The box
//! holds every human skin tone (they differ mostly in luma), but also wood, sand, cork, brick
//! and many warm colours.

/// Chai & Ngan's skin range of Cb (inclusive).
pub const SKIN_CB: (f32, f32) = (77.0, 127.0);
/// Chai & Ngan's skin range of Cr (inclusive).
pub const SKIN_CR: (f32, f32) = (133.0, 173.0);

/// Whether one 8-bit RGB pixel is in the YCbCr skin range.
pub fn is_skin(r: u8, g: u8, b: u8) -> bool {
    let (r, g, b) = (f32::from(r), f32::from(g), f32::from(b));
    let cb = 128.0 - 0.168_736 * r - 0.331_264 * g + 0.5 * b;
    let cr = 128.0 + 0.5 * r - 0.418_688 * g - 0.081_312 * b;
    (SKIN_CB.0..=SKIN_CB.1).contains(&cb) && (SKIN_CR.0..=SKIN_CR.1).contains(&cr)
}

/// The share (0 to 1) of skin-coloured pixels in packed 8-bit RGB (`rgb.len()` a multiple of
/// 3; a trailing partial pixel is ignored). The evaluation computes it on the model's
/// 224×224 input, so it sees the same picture the model does. An empty buffer gives 0.
pub fn skin_share(rgb: &[u8]) -> f32 {
    let pixels = rgb.len() / 3;
    if pixels == 0 {
        return 0.0;
    }
    let skin = rgb
        .chunks_exact(3)
        .filter(|p| is_skin(p[0], p[1], p[2]))
        .count();
    skin as f32 / pixels as f32
}

/// The share (0 to 1) of a `width`-pixel-wide packed RGB picture covered by its largest
/// 8-connected region of skin-coloured pixels (0 for an empty buffer).
pub fn largest_skin_region(rgb: &[u8], width: usize) -> f32 {
    let pixels = rgb.len() / 3;
    if pixels == 0 || width == 0 {
        return 0.0;
    }
    let height = pixels / width;
    let n = width * height;
    let skin: Vec<bool> = rgb
        .chunks_exact(3)
        .take(n)
        .map(|p| is_skin(p[0], p[1], p[2]))
        .collect();
    let mut seen = vec![false; n];
    let mut stack = Vec::new();
    let mut largest = 0usize;
    for start in 0..n {
        if !skin[start] || seen[start] {
            continue;
        }
        seen[start] = true;
        stack.push(start);
        let mut size = 0usize;
        while let Some(i) = stack.pop() {
            size += 1;
            let (x, y) = ((i % width) as isize, (i / width) as isize);
            for dy in -1..=1isize {
                for dx in -1..=1isize {
                    let (nx, ny) = (x + dx, y + dy);
                    if nx < 0 || ny < 0 || nx >= width as isize || ny >= height as isize {
                        continue;
                    }
                    let j = ny as usize * width + nx as usize;
                    if skin[j] && !seen[j] {
                        seen[j] = true;
                        stack.push(j);
                    }
                }
            }
        }
        largest = largest.max(size);
    }
    largest as f32 / n as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skin_tones_are_skin() {
        // Light to dark skin tones (the Fitzpatrick-like swatches used in emoji modifiers).
        for (r, g, b) in [
            (255, 220, 177),
            (229, 194, 152),
            (224, 172, 105),
            (198, 134, 66),
            (141, 85, 36),
            (92, 56, 39),
        ] {
            assert!(is_skin(r, g, b), "({r}, {g}, {b})");
        }
    }

    #[test]
    fn greys_blues_and_greens_are_not() {
        for (r, g, b) in [
            (0, 0, 0),
            (128, 128, 128),
            (255, 255, 255),
            (30, 90, 200),
            (40, 160, 60),
            (255, 0, 255),
            (0, 255, 255),
        ] {
            assert!(!is_skin(r, g, b), "({r}, {g}, {b})");
        }
    }

    #[test]
    fn share_counts_pixels() {
        let skin = [224, 172, 105];
        let blue = [30, 90, 200];
        let rgb: Vec<u8> = [skin, blue, blue, blue].concat();
        assert_eq!(skin_share(&rgb), 0.25);
        assert_eq!(skin_share(&[]), 0.0);
        assert_eq!(skin_share(&skin), 1.0);
    }

    #[test]
    fn largest_region_is_the_biggest_connected_patch() {
        let (s, o) = ([224u8, 172, 105], [30u8, 90, 200]);
        // 4×3: a 3-pixel patch (diagonal pixels connect) and a lone pixel.
        let picture = [[s, o, o, s], [o, s, o, o], [o, o, s, o]];
        let rgb: Vec<u8> = picture.iter().flatten().flatten().copied().collect();
        assert_eq!(skin_share(&rgb), 4.0 / 12.0);
        assert_eq!(largest_skin_region(&rgb, 4), 3.0 / 12.0);
        assert_eq!(largest_skin_region(&[], 4), 0.0);
    }
}
