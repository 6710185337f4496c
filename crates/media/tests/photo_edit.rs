//! Photo edits as a sender sees them: a turned or mirrored photo shows its corners where a
//! person expects whatever way the camera stored it, a crop keeps exactly what was framed at
//! full sharpness, text appears where it was put in its colour and nowhere else, bad edits are
//! refused, and nothing of the original's metadata comes back.

mod photo_fixtures;

use std::io::Cursor;

use natter_media::{
    prepare_photo, prepare_photo_edited, CropRect, MediaError, PhotoEdits, PrepareOptions,
    PreparedPhoto, TextOverlay,
};
use natter_protocol::ErrorCode;
use photo_fixtures::*;

const SD: PrepareOptions = PrepareOptions { hd: false };

fn close(got: [u8; 3], want: [u8; 3]) -> bool {
    got.iter()
        .zip(want)
        .all(|(&g, w)| (i16::from(g) - i16::from(w)).abs() <= 40)
}

fn decode_rgb(bytes: &[u8]) -> image::RgbImage {
    image::load_from_memory(bytes)
        .expect("decode output")
        .to_rgb8()
}

fn edited(input: &[u8], edits: &PhotoEdits) -> PreparedPhoto {
    prepare_photo_edited(input, &SD, edits).unwrap_or_else(|e| panic!("{edits:?}: {e}"))
}

fn crop(x: f32, y: f32, width: f32, height: f32) -> Option<CropRect> {
    Some(CropRect {
        x,
        y,
        width,
        height,
    })
}

fn text(text: &str, color: &str, x: f32, y: f32, size: f32) -> TextOverlay {
    TextOverlay {
        text: text.into(),
        color: color.into(),
        x,
        y,
        size,
    }
}

/// The colours at the centres of the four quadrants: top-left, top-right, bottom-right,
/// bottom-left (clockwise from top-left).
fn corners(img: &image::RgbImage) -> [[u8; 3]; 4] {
    let (w, h) = img.dimensions();
    [
        img.get_pixel(w / 4, h / 4).0,
        img.get_pixel(3 * w / 4, h / 4).0,
        img.get_pixel(3 * w / 4, 3 * h / 4).0,
        img.get_pixel(w / 4, 3 * h / 4).0,
    ]
}

#[test]
fn turns_and_mirrors_put_the_corners_where_a_person_expects() {
    // The scene, upright, clockwise from top-left: red, green, white, blue.
    let upright = [RED, GREEN, WHITE, BLUE];
    // A few hand-checked cases first, in words.
    let one_turn = edited(
        &camera_jpeg(1, 400, 300),
        &PhotoEdits {
            rotate: 1,
            ..PhotoEdits::default()
        },
    );
    let got = corners(&decode_rgb(&one_turn.bytes));
    assert!(
        close(got[0], BLUE) && close(got[1], RED),
        "turned clockwise, the left edge (blue below red) becomes the top edge: {got:?}"
    );
    let mirrored = edited(
        &camera_jpeg(6, 400, 300),
        &PhotoEdits {
            flip: true,
            ..PhotoEdits::default()
        },
    );
    let got = corners(&decode_rgb(&mirrored.bytes));
    assert!(
        close(got[0], GREEN) && close(got[1], RED),
        "mirrored, green is top-left: {got:?}"
    );

    // Then every stored orientation of the camera with every turn and mirror.
    let inputs: Vec<(u16, Vec<u8>)> = [1u16, 3, 6, 8, 2, 5]
        .iter()
        .map(|&o| (o, camera_jpeg(o, 400, 300)))
        .collect();
    for (orientation, input) in &inputs {
        for rotate in 0..=3u8 {
            for flip in [false, true] {
                let edits = PhotoEdits {
                    rotate,
                    flip,
                    ..PhotoEdits::default()
                };
                let what = format!("EXIF {orientation}, {rotate} quarter turns, flip {flip}");
                let photo = edited(input, &edits);
                let out = decode_rgb(&photo.bytes);
                let want_dims = if rotate % 2 == 1 {
                    (300, 400)
                } else {
                    (400, 300)
                };
                assert_eq!(out.dimensions(), want_dims, "{what}");
                assert_eq!((photo.width, photo.height), want_dims, "{what}");
                // A clockwise turn moves each corner one place on clockwise; a mirror swaps
                // left and right.
                let mut want = [[0u8; 3]; 4];
                for (i, colour) in upright.iter().enumerate() {
                    want[(i + usize::from(rotate)) % 4] = *colour;
                }
                if flip {
                    want.swap(0, 1);
                    want.swap(2, 3);
                }
                let got = corners(&out);
                for (g, w) in got.iter().zip(want) {
                    assert!(close(*g, w), "{what}: corners {got:?}, expected {want:?}");
                }
                let thumb = corners(&decode_rgb(&photo.thumbnail));
                assert!(close(thumb[0], want[0]), "{what}: thumbnail {thumb:?}");
            }
        }
    }
}

#[test]
fn cropping_the_top_left_quarter_keeps_just_the_red_at_full_resolution() {
    // A 12 MP phone photo stored sideways: the crop is of what the sender saw, upright.
    let input = camera_jpeg(6, 4000, 3000);
    let photo = edited(
        &input,
        &PhotoEdits {
            crop: crop(0.0, 0.0, 0.5, 0.5),
            ..PhotoEdits::default()
        },
    );
    assert_eq!(
        (photo.width, photo.height),
        (2000, 1500),
        "the quarter is under 2048 px: kept at full resolution, 4:3"
    );
    let out = decode_rgb(&photo.bytes);
    assert_eq!(out.dimensions(), (2000, 1500));
    for y in (8..1500).step_by(149) {
        for x in (8..2000).step_by(199) {
            let got = out.get_pixel(x, y).0;
            assert!(close(got, RED), "({x}, {y}) is {got:?}, not red");
        }
    }
    assert_eq!((photo.thumb_width, photo.thumb_height), (320, 240));
    assert!(close(
        decode_rgb(&photo.thumbnail).get_pixel(160, 120).0,
        RED
    ));

    // Turned first, the top-left quarter is what was bottom-left: blue, and portrait.
    let turned = edited(
        &input,
        &PhotoEdits {
            rotate: 1,
            crop: crop(0.0, 0.0, 0.5, 0.5),
            ..PhotoEdits::default()
        },
    );
    assert_eq!((turned.width, turned.height), (1500, 2000));
    let out = decode_rgb(&turned.bytes);
    assert!(close(out.get_pixel(750, 1000).0, BLUE));
    assert!(close(out.get_pixel(20, 20).0, BLUE));
    assert!(close(out.get_pixel(1480, 1980).0, BLUE));

    // A crop still larger than the limit is shrunk to it, keeping its shape.
    let wide = edited(
        &input,
        &PhotoEdits {
            crop: crop(0.0, 0.25, 1.0, 0.5),
            ..PhotoEdits::default()
        },
    );
    assert_eq!((wide.width, wide.height), (2048, 768));
}

/// The average difference between neighbouring pixels along row `y`, in grey levels.
fn detail(img: &image::RgbImage, y: u32, xs: std::ops::Range<u32>) -> f64 {
    let luma = |x: u32| f64::from(img.get_pixel(x, y).0[1]);
    let n = xs.len() as f64;
    xs.map(|x| (luma(x + 1) - luma(x)).abs()).sum::<f64>() / n
}

#[test]
fn a_crop_is_cut_before_shrinking_so_it_stays_sharp() {
    // 4000×3000 of one-pixel stripes: detail that shrinking to 2048 px cannot keep.
    let stripes = image::RgbImage::from_fn(4000, 3000, |x, _| {
        if x % 2 == 0 {
            image::Rgb([20, 20, 20])
        } else {
            image::Rgb([235, 235, 235])
        }
    });
    let input = jpeg(&stripes, 95);
    let whole = decode_rgb(&prepare_photo(&input, &SD).unwrap().bytes);
    assert_eq!(whole.dimensions(), (2048, 1536));
    let blurred = detail(&whole, 700, 900..1000);

    let photo = edited(
        &input,
        &PhotoEdits {
            crop: crop(0.25, 0.25, 0.25, 0.25),
            ..PhotoEdits::default()
        },
    );
    assert_eq!(
        (photo.width, photo.height),
        (1000, 750),
        "the crop's own size, not upscaled"
    );
    let sharp = detail(&decode_rgb(&photo.bytes), 375, 400..500);
    assert!(
        sharp > 150.0 && blurred < 40.0,
        "stripes in the crop: {sharp:.0} levels between neighbours; in the whole photo: {blurred:.0}"
    );
}

/// Pixels of `img` within the `w`×`h` rectangle at (x, y) close to `colour`.
fn count_close(
    img: &image::RgbImage,
    (x, y, w, h): (u32, u32, u32, u32),
    colour: [u8; 3],
) -> usize {
    (y..y + h)
        .flat_map(|py| (x..x + w).map(move |px| (px, py)))
        .filter(|&(px, py)| close(img.get_pixel(px, py).0, colour))
        .count()
}

#[test]
fn text_appears_where_it_was_put_in_its_colour_and_nowhere_else() {
    let input = camera_jpeg(6, 1200, 900);
    let plain = decode_rgb(&prepare_photo(&input, &SD).unwrap().bytes);
    let yellow = [255, 221, 0];
    let photo = edited(
        &input,
        &PhotoEdits {
            texts: vec![text("Hello!", "#ffdd00", 0.5, 0.5, 0.1)],
            ..PhotoEdits::default()
        },
    );
    assert_eq!((photo.width, photo.height), (1200, 900));
    let out = decode_rgb(&photo.bytes);
    // The text is 90 px high around the centre, where there was no yellow at all.
    let around = (400, 400, 400, 100);
    assert_eq!(count_close(&plain, around, yellow), 0);
    let painted = count_close(&out, around, yellow);
    assert!(painted > 2000, "{painted} yellow pixels around the centre");
    let outlined = count_close(&out, around, [0, 0, 0]);
    assert!(outlined > 500, "{outlined} dark outline pixels");
    // Far from it, every pixel is as it was (JPEG blocks there are encoded alike).
    for (x, y) in [(0, 0), (1136, 0), (0, 836), (1136, 836)] {
        for dy in 0..64 {
            for dx in 0..64 {
                assert_eq!(
                    out.get_pixel(x + dx, y + dy),
                    plain.get_pixel(x + dx, y + dy),
                    "corner pixel ({}, {}) changed",
                    x + dx,
                    y + dy
                );
            }
        }
    }
    // The thumbnail is of the edited photo.
    let thumb = decode_rgb(&photo.thumbnail);
    assert!(count_close(&thumb, (107, 107, 107, 27), yellow) > 50);

    // The outline follows the strokes: the inside of a big "O" on the red quarter still shows
    // the photo.
    let o = edited(
        &input,
        &PhotoEdits {
            texts: vec![text("O", "#ffdd00", 0.25, 0.25, 0.3)],
            ..PhotoEdits::default()
        },
    );
    let out = decode_rgb(&o.bytes);
    assert!(count_close(&out, (150, 75, 300, 300), yellow) > 5000);
    let hole = out.get_pixel(300, 225).0;
    assert!(close(hole, RED), "the middle of the O is {hole:?}");
}

#[test]
fn text_stays_inside_the_photo_and_breaks_into_lines() {
    let input = opaque_png(800, 600);
    let yellow = [255, 221, 0];
    let bounds = |texts: Vec<TextOverlay>| {
        let out = decode_rgb(
            &edited(
                &input,
                &PhotoEdits {
                    texts,
                    ..PhotoEdits::default()
                },
            )
            .bytes,
        );
        let (mut x0, mut y0, mut x1, mut y1) = (u32::MAX, u32::MAX, 0, 0);
        for (x, y, p) in out.enumerate_pixels() {
            if close(p.0, yellow) {
                (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
            }
        }
        (x0, y0, x1, y1)
    };
    // Placed at the very corner, the text is moved in, not cut off.
    let (x0, y0, x1, y1) = bounds(vec![text("Corner", "#ffdd00", 1.0, 1.0, 0.08)]);
    assert!(x0 > 400 && y0 > 450, "near the bottom-right: ({x0}, {y0})");
    assert!(x1 < 800 && y1 < 600);
    assert!(y1 - y0 > 25, "48 px glyphs: {}", y1 - y0);
    // Two lines take about twice the height of one.
    let (_, one_top, _, one_bottom) = bounds(vec![text("Hi", "#ffdd00", 0.5, 0.5, 0.08)]);
    let (_, two_top, _, two_bottom) = bounds(vec![text("Hi\nHi", "#ffdd00", 0.5, 0.5, 0.08)]);
    let (one, two) = (one_bottom - one_top, two_bottom - two_top);
    assert!(two > one * 2, "one line {one} px, two lines {two} px");
    // Too long for one line at that size: shrunk to fit rather than cut.
    let (x0, _, x1, _) = bounds(vec![text(&"W".repeat(30), "#ffdd00", 0.5, 0.5, 0.2)]);
    assert!(x0 > 0 && x1 < 799 && x1 - x0 > 600, "{x0}..{x1}");
}

#[test]
fn edits_that_change_nothing_give_exactly_what_prepare_photo_gives() {
    // Shrunk, not shrunk, transparent, and made upright from EXIF 3 and 6.
    let inputs = [
        camera_jpeg(3, 640, 480),
        camera_jpeg(6, 2100, 700),
        transparent_png(2100, 300),
    ];
    // Each goes down another path of the pipeline and must still change nothing: the whole
    // frame as crop (with the slack of a UI's floating point), and text made only of
    // characters the font lacks (these emoji and CJK are not drawn).
    let no_ops = [
        PhotoEdits::default(),
        PhotoEdits {
            crop: crop(0.0, 0.0, 1.0, 1.0),
            ..PhotoEdits::default()
        },
        PhotoEdits {
            crop: crop(0.0001, 0.0, 1.0, 0.9999),
            ..PhotoEdits::default()
        },
        PhotoEdits {
            texts: vec![text("🎉🎈中文", "#ffffff", 0.5, 0.5, 0.1)],
            ..PhotoEdits::default()
        },
    ];
    for input in &inputs {
        let plain = prepare_photo(input, &SD).unwrap();
        for edits in &no_ops {
            assert_eq!(edited(input, edits), plain, "{edits:?}");
        }
        let turned = edited(
            input,
            &PhotoEdits {
                rotate: 2,
                ..PhotoEdits::default()
            },
        );
        assert_ne!(
            turned.bytes, plain.bytes,
            "a half turn does change the photo"
        );
    }
}

#[test]
fn cropping_away_the_transparency_gives_a_jpeg_and_text_on_transparency_is_opaque() {
    // Left half transparent, right half blue.
    let input = transparent_png(1000, 500);
    let right = edited(
        &input,
        &PhotoEdits {
            crop: crop(0.5, 0.0, 0.5, 1.0),
            ..PhotoEdits::default()
        },
    );
    assert_eq!(right.mime, "image/jpeg");
    assert_eq!((right.width, right.height), (500, 500));
    assert!(close(decode_rgb(&right.bytes).get_pixel(250, 250).0, BLUE));

    let labelled = edited(
        &input,
        &PhotoEdits {
            texts: vec![text("Label", "#ffdd00", 0.25, 0.5, 0.2)],
            ..PhotoEdits::default()
        },
    );
    assert_eq!(labelled.mime, "image/webp");
    let out = image::load_from_memory(&labelled.bytes).unwrap().to_rgba8();
    let opaque_yellow = out
        .pixels()
        .filter(|p| p.0[3] == 255 && close([p.0[0], p.0[1], p.0[2]], [255, 221, 0]))
        .count();
    assert!(opaque_yellow > 1000, "{opaque_yellow} opaque yellow pixels");
    assert_eq!(out.get_pixel(5, 5).0[3], 0, "the rest stays transparent");
}

#[test]
fn bad_edits_are_refused_before_the_photo_is_read() {
    let input = camera_jpeg(1, 640, 480);
    let ok_text = || text("ok", "#ffffff", 0.5, 0.5, 0.08);
    let cases: Vec<(PhotoEdits, &str)> = vec![
        (
            PhotoEdits {
                rotate: 4,
                ..PhotoEdits::default()
            },
            "rotate is 4",
        ),
        (
            PhotoEdits {
                crop: crop(f32::NAN, 0.0, 0.5, 0.5),
                ..PhotoEdits::default()
            },
            "not a number",
        ),
        (
            PhotoEdits {
                crop: crop(0.6, 0.0, 0.5, 0.5),
                ..PhotoEdits::default()
            },
            "outside the photo",
        ),
        (
            PhotoEdits {
                crop: crop(-0.1, 0.0, 0.5, 0.5),
                ..PhotoEdits::default()
            },
            "must start inside",
        ),
        (
            PhotoEdits {
                crop: crop(0.2, 0.2, 0.0, 0.5),
                ..PhotoEdits::default()
            },
            "must start inside",
        ),
        (
            // 6×5 pixels of a 640×480 photo.
            PhotoEdits {
                crop: crop(0.5, 0.5, 0.01, 0.01),
                ..PhotoEdits::default()
            },
            "the crop is 6×5 pixels",
        ),
        (
            PhotoEdits {
                texts: vec![text("  \n ", "#ffffff", 0.5, 0.5, 0.08)],
                ..PhotoEdits::default()
            },
            "text 1: the text is empty",
        ),
        (
            PhotoEdits {
                texts: vec![ok_text(), text(&"é".repeat(201), "#ffffff", 0.5, 0.5, 0.08)],
                ..PhotoEdits::default()
            },
            "text 2: 201 characters",
        ),
        (
            PhotoEdits {
                texts: (0..11).map(|_| ok_text()).collect(),
                ..PhotoEdits::default()
            },
            "11 texts",
        ),
        (
            PhotoEdits {
                texts: vec![text("hi", "red", 0.5, 0.5, 0.08)],
                ..PhotoEdits::default()
            },
            "colour \"red\"",
        ),
        (
            PhotoEdits {
                texts: vec![text("hi", "#ffffff", 1.5, 0.5, 0.08)],
                ..PhotoEdits::default()
            },
            "outside the photo",
        ),
        (
            PhotoEdits {
                texts: vec![text("hi", "#ffffff", 0.5, 0.5, 48.0)],
                ..PhotoEdits::default()
            },
            "the size 48",
        ),
    ];
    for (edits, says) in cases {
        let err = prepare_photo_edited(&input, &SD, &edits).unwrap_err();
        assert!(
            matches!(err, MediaError::InvalidEdits(_)),
            "{edits:?}: {err:?}"
        );
        assert_eq!(err.code(), ErrorCode::BadRequest);
        assert!(err.to_string().contains(says), "{err} (expected {says:?})");
    }
    // Checked before anything else: noise with bad edits is refused for the edits.
    let err = prepare_photo_edited(
        &random_bytes(100),
        &SD,
        &PhotoEdits {
            rotate: 7,
            ..PhotoEdits::default()
        },
    )
    .unwrap_err();
    assert!(matches!(err, MediaError::InvalidEdits(_)), "{err:?}");
    // 10 texts of 200 characters are the most, and fine.
    let most = PhotoEdits {
        texts: (0..10)
            .map(|i| text(&"a".repeat(200), "#FFFFFF", 0.5, i as f32 / 10.0, 0.05))
            .collect(),
        ..PhotoEdits::default()
    };
    assert!(prepare_photo_edited(&input, &SD, &most).is_ok());
}

/// No EXIF (so no GPS, camera model or orientation), no ICC profile, no embedded thumbnail:
/// the only application segment allowed is the JFIF header.
fn assert_no_metadata(jpeg: &[u8], what: &str) {
    for (marker, payload) in jpeg_segments(jpeg) {
        assert!(
            !(0xE1..=0xEF).contains(&marker),
            "{what}: APP{} segment present ({} bytes)",
            marker - 0xE0,
            payload.len()
        );
    }
    assert!(
        !jpeg.windows(9).any(|w| w == b"NatterCam"),
        "{what}: camera make"
    );
    assert!(
        exif::Reader::new()
            .read_from_container(&mut Cursor::new(jpeg))
            .is_err(),
        "{what}: kamadak-exif still finds EXIF"
    );
}

#[test]
fn an_edited_photo_carries_no_location_or_camera_data() {
    let input = camera_jpeg(6, 1600, 1200);
    assert!(input.windows(9).any(|w| w == b"NatterCam"));
    let photo = edited(
        &input,
        &PhotoEdits {
            rotate: 3,
            flip: true,
            crop: crop(0.1, 0.1, 0.8, 0.7),
            texts: vec![text("Paris ☀", "#ffffff", 0.5, 0.8, 0.06)],
        },
    );
    assert_eq!(photo.mime, "image/jpeg");
    assert_no_metadata(&photo.bytes, "edited photo");
    assert_no_metadata(&photo.thumbnail, "edited thumbnail");
}
