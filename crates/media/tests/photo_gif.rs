//! Animated GIFs as a sender and the server see them: one within the limits arrives still
//! moving, at the same pace and looping the same, without its comments or XMP; edits and
//! shrinking apply to every frame; one over the limits arrives as a still, and the server
//! refuses an upload over them. Fixtures are written here with the `gif` crate.

mod photo_fixtures;

use std::io::Cursor;
use std::time::{Duration, Instant};

use gif::{AnyExtension, DisposalMethod, Repeat};
use natter_media::photo::{MAX_ANIMATION_FRAMES, MAX_ANIMATION_PIXELS};
use natter_media::{
    inspect_image, prepare_photo, prepare_photo_edited, sniff, CropRect, ImageKind, MediaError,
    PhotoEdits, PrepareOptions, PreparedPhoto,
};
use natter_protocol::ErrorCode;
use photo_fixtures::{animated_gif, random_bytes, BLUE, GREEN, RED, WHITE};

const SD: PrepareOptions = PrepareOptions { hd: false };
const YELLOW: [u8; 3] = [230, 210, 20];
const MAGENTA: [u8; 3] = [200, 30, 200];
const COMMENT: &[u8] = b"shot at Grandma's house, 12 Elm Street";
const XMP: &[u8] =
    br#"<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:Description photoshop:City="Lyon"/></x:xmpmeta>"#;

/// One frame to write: its pixels (RGBA, `width`×`height` at `left`, `top`), delay in
/// hundredths of a second and disposal.
struct Spec {
    left: u16,
    top: u16,
    width: u16,
    height: u16,
    rgba: Vec<u8>,
    delay: u16,
    dispose: DisposalMethod,
}

fn solid(width: u16, height: u16, [r, g, b]: [u8; 3], delay: u16) -> Spec {
    let rgba = [r, g, b, 255].repeat(usize::from(width) * usize::from(height));
    Spec {
        left: 0,
        top: 0,
        width,
        height,
        rgba,
        delay,
        dispose: DisposalMethod::Keep,
    }
}

/// A quadrant scene (`top_left`, green, blue and white) of `width`×`height`.
fn quadrants(width: u16, height: u16, top_left: [u8; 3], delay: u16) -> Spec {
    let (w, h) = (u32::from(width), u32::from(height));
    let mut rgba = Vec::with_capacity(usize::from(width) * usize::from(height) * 4);
    for y in 0..h {
        for x in 0..w {
            let [r, g, b] = match (x < w / 2, y < h / 2) {
                (true, true) => top_left,
                (false, true) => GREEN,
                (true, false) => BLUE,
                (false, false) => WHITE,
            };
            rgba.extend_from_slice(&[r, g, b, 255]);
        }
    }
    Spec {
        rgba,
        ..solid(width, height, top_left, delay)
    }
}

/// A GIF of the given canvas and frames, looping `repeat`, with a comment and an XMP packet
/// before the first frame when `metadata`.
fn write_gif(
    width: u16,
    height: u16,
    frames: Vec<Spec>,
    repeat: Repeat,
    metadata: bool,
) -> Vec<u8> {
    let mut encoder = gif::Encoder::new(Vec::new(), width, height, &[]).expect("GIF encoder");
    encoder.set_repeat(repeat).expect("loop");
    if metadata {
        encoder
            .write_raw_extension(AnyExtension(0xFE), &[COMMENT])
            .expect("comment");
        // XMP as Adobe writes it: the packet, then the 258-byte "magic trailer".
        let mut ramp = vec![1u8];
        ramp.extend((0..=255u8).rev());
        ramp.push(0);
        encoder
            .write_raw_extension(
                AnyExtension(0xFF),
                &[b"XMP DataXMP", &[XMP, &ramp].concat()],
            )
            .expect("XMP");
    }
    for mut spec in frames {
        let mut frame = gif::Frame::from_rgba(spec.width, spec.height, &mut spec.rgba);
        frame.left = spec.left;
        frame.top = spec.top;
        frame.delay = spec.delay;
        frame.dispose = spec.dispose;
        encoder.write_frame(&frame).expect("frame");
    }
    encoder.into_inner().expect("finish GIF")
}

/// The three-frame animation of the product requirement: red, green, blue, 10/20/30 cs,
/// looping forever, the second frame restoring to background, with a comment and XMP.
fn three_frames(width: u16, height: u16) -> Vec<u8> {
    let mut frames = vec![
        solid(width, height, RED, 10),
        solid(width, height, GREEN, 20),
        solid(width, height, BLUE, 30),
    ];
    frames[1].dispose = DisposalMethod::Background;
    write_gif(width, height, frames, Repeat::Infinite, true)
}

/// What a viewer plays: the loop count, and each frame's delay, disposal and compressed data
/// (as the `gif` crate reads them, without decoding).
struct Played {
    width: u16,
    height: u16,
    repeat: Repeat,
    frames: Vec<(u16, DisposalMethod, Vec<u8>)>,
}

fn played(bytes: &[u8]) -> Played {
    let mut options = gif::DecodeOptions::new();
    options.skip_frame_decoding(true);
    let mut decoder = options.read_info(Cursor::new(bytes)).expect("a GIF");
    let mut frames = Vec::new();
    while let Some(frame) = decoder.read_next_frame().expect("frame") {
        frames.push((frame.delay, frame.dispose, frame.buffer.to_vec()));
    }
    Played {
        width: decoder.width(),
        height: decoder.height(),
        repeat: decoder.repeat(),
        frames,
    }
}

/// Every frame composed as a viewer shows it.
fn composed(bytes: &[u8]) -> Vec<image::RgbaImage> {
    use image::AnimationDecoder;
    image::codecs::gif::GifDecoder::new(Cursor::new(bytes))
        .expect("a GIF")
        .into_frames()
        .map(|f| f.expect("frame").into_buffer())
        .collect()
}

fn close(got: image::Rgba<u8>, want: [u8; 3]) -> bool {
    got.0[3] == 255
        && got.0[..3]
            .iter()
            .zip(want)
            .all(|(&g, w)| (i16::from(g) - i16::from(w)).abs() <= 12)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn assert_gif(photo: &PreparedPhoto, width: u32, height: u32) {
    assert_eq!(photo.mime, "image/gif");
    assert!(photo.animated);
    assert_eq!(sniff(&photo.bytes), Some(ImageKind::Gif));
    assert_eq!((photo.width, photo.height), (width, height));
    assert_eq!(sniff(&photo.thumbnail), Some(ImageKind::Jpeg));
    assert_eq!(photo.blurhash.len(), 28, "{}", photo.blurhash);
}

#[test]
fn an_animated_gif_stays_animated_at_its_pace_without_its_metadata() {
    let input = three_frames(120, 80);
    assert!(contains(&input, COMMENT) && contains(&input, b"XMP"));
    let photo = prepare_photo(&input, &SD).unwrap();
    assert_gif(&photo, 120, 80);

    let before = played(&input);
    let after = played(&photo.bytes);
    assert_eq!(after.repeat, Repeat::Infinite, "loops forever, as before");
    assert_eq!((after.width, after.height), (120, 80));
    let pace: Vec<_> = after.frames.iter().map(|(d, p, _)| (*d, *p)).collect();
    assert_eq!(
        pace,
        [
            (10, DisposalMethod::Keep),
            (20, DisposalMethod::Background),
            (30, DisposalMethod::Keep)
        ]
    );
    // Re-muxed, not requantised: every frame's compressed data is the input's.
    for (i, (a, b)) in before.frames.iter().zip(&after.frames).enumerate() {
        assert_eq!(a.2, b.2, "frame {i}'s data");
    }
    let frames = composed(&photo.bytes);
    assert_eq!(frames.len(), 3);
    for (frame, colour) in frames.iter().zip([RED, GREEN, BLUE]) {
        assert_eq!(frame.dimensions(), (120, 80));
        assert!(frame.pixels().all(|p| close(*p, colour)), "{colour:?}");
    }

    assert!(!contains(&photo.bytes, COMMENT), "the comment is gone");
    assert!(!contains(&photo.bytes, b"XMP"), "the XMP is gone");
    assert!(!contains(&photo.bytes, b"Lyon"));
    assert!(photo.bytes.len() < input.len());

    // The thumbnail is the first frame.
    let thumb = image::load_from_memory(&photo.thumbnail)
        .unwrap()
        .to_rgba8();
    assert_eq!(thumb.dimensions(), (photo.thumb_width, photo.thumb_height));
    assert_eq!(thumb.dimensions(), (120, 80));
    assert!(close(*thumb.get_pixel(60, 40), RED));

    // What the server checks on upload passes.
    let info = inspect_image(&photo.bytes, 2048).unwrap();
    assert_eq!(
        (info.kind, info.width, info.height),
        (ImageKind::Gif, 120, 80)
    );
    assert!(info.animated);
    assert_eq!(info.mime(), "image/gif");
}

#[test]
fn a_turned_and_cropped_animation_is_turned_and_cropped_in_every_frame() {
    let tops = [RED, YELLOW, MAGENTA];
    let frames = tops
        .iter()
        .zip([10, 20, 30])
        .map(|(&top, delay)| quadrants(120, 80, top, delay))
        .collect();
    let input = write_gif(120, 80, frames, Repeat::Finite(2), true);
    // A quarter turn clockwise shows the 120×80 scene as 80×120, blue top-left and the
    // frame's colour top-right; the crop drops the turned picture's top quarter (30 rows).
    let edits = PhotoEdits {
        rotate: 1,
        crop: Some(CropRect {
            x: 0.0,
            y: 0.25,
            width: 1.0,
            height: 0.75,
        }),
        ..PhotoEdits::default()
    };
    let photo = prepare_photo_edited(&input, &SD, &edits).unwrap();
    assert_gif(&photo, 80, 90);

    let after = played(&photo.bytes);
    assert_eq!(after.repeat, Repeat::Finite(2), "plays as often as before");
    let delays: Vec<u16> = after.frames.iter().map(|f| f.0).collect();
    assert_eq!(delays, [10, 20, 30]);
    assert!(!contains(&photo.bytes, COMMENT) && !contains(&photo.bytes, b"XMP"));

    let frames = composed(&photo.bytes);
    assert_eq!(frames.len(), 3);
    for (i, (frame, top)) in frames.iter().zip(tops).enumerate() {
        assert_eq!(frame.dimensions(), (80, 90), "frame {i}");
        // 30 rows of the top half are left, then 60 of the bottom half.
        for (x, y, want, what) in [
            (20, 15, BLUE, "top-left blue"),
            (60, 15, top, "top-right: the frame's colour"),
            (20, 60, WHITE, "bottom-left white"),
            (60, 60, GREEN, "bottom-right green"),
        ] {
            let got = *frame.get_pixel(x, y);
            assert!(close(got, want), "frame {i}: {what} expected, got {got:?}");
        }
        assert!(
            close(*frame.get_pixel(20, 29), BLUE),
            "frame {i}: the cut is at row 30"
        );
        assert!(
            close(*frame.get_pixel(20, 30), WHITE),
            "frame {i}: the cut is at row 30"
        );
    }
    let thumb = image::load_from_memory(&photo.thumbnail)
        .unwrap()
        .to_rgba8();
    assert_eq!(thumb.dimensions(), (80, 90));
    assert!(
        close(*thumb.get_pixel(60, 15), RED),
        "the thumbnail is the first frame"
    );
}

#[test]
fn a_wide_animation_shrinks_to_the_long_edge_and_keeps_moving() {
    let frames = vec![
        solid(3000, 300, RED, 5),
        solid(3000, 300, GREEN, 5),
        solid(3000, 300, BLUE, 7),
    ];
    let input = write_gif(3000, 300, frames, Repeat::Infinite, false);
    let photo = prepare_photo(&input, &SD).unwrap();
    assert_gif(&photo, 2048, 205);
    assert_eq!((photo.thumb_width, photo.thumb_height), (320, 32));
    let after = played(&photo.bytes);
    assert_eq!(after.repeat, Repeat::Infinite);
    assert_eq!(
        after.frames.iter().map(|f| f.0).collect::<Vec<_>>(),
        [5, 5, 7]
    );
    let frames = composed(&photo.bytes);
    assert_eq!(frames.len(), 3);
    for (frame, colour) in frames.iter().zip([RED, GREEN, BLUE]) {
        assert_eq!(frame.dimensions(), (2048, 205));
        assert!(close(*frame.get_pixel(1024, 102), colour));
        assert!(close(*frame.get_pixel(0, 0), colour));
    }
    // HD keeps it whole, and it is copied as it is.
    let hd = prepare_photo(&input, &PrepareOptions { hd: true }).unwrap();
    assert_gif(&hd, 3000, 300);
}

#[test]
fn a_text_is_written_on_every_frame() {
    let frames = [RED, GREEN, BLUE]
        .iter()
        .map(|&c| solid(200, 100, c, 10))
        .collect();
    let input = write_gif(200, 100, frames, Repeat::Infinite, false);
    let edits = PhotoEdits {
        texts: vec![natter_media::TextOverlay {
            text: "HI".into(),
            color: "#ffffff".into(),
            x: 0.5,
            y: 0.5,
            size: 0.5,
        }],
        ..PhotoEdits::default()
    };
    let photo = prepare_photo_edited(&input, &SD, &edits).unwrap();
    assert_gif(&photo, 200, 100);
    for (i, (frame, colour)) in composed(&photo.bytes)
        .iter()
        .zip([RED, GREEN, BLUE])
        .enumerate()
    {
        let white = frame
            .pixels()
            .filter(|p| close(**p, [255, 255, 255]))
            .count();
        assert!(white > 200, "frame {i}: {white} white text pixels");
        assert!(
            close(*frame.get_pixel(3, 3), colour),
            "frame {i}: the corner is untouched"
        );
    }
}

#[test]
fn an_animation_over_the_frame_limit_becomes_a_still_of_its_first_frame() {
    let colours: Vec<[u8; 3]> = (0..400).map(|i| [(i % 250) as u8 + 5, 40, 90]).collect();
    let input = animated_gif(16, 16, &colours);
    const { assert!(400 > MAX_ANIMATION_FRAMES) };
    let photo = prepare_photo(&input, &SD).unwrap();
    assert_eq!(photo.mime, "image/jpeg");
    assert!(photo.animated, "still reported as an animation");
    assert_eq!((photo.width, photo.height), (16, 16));
    let first = image::load_from_memory(&photo.bytes).unwrap().to_rgba8();
    assert!(close(*first.get_pixel(8, 8), [5, 40, 90]));

    // The server refuses it as an animation, with the code of every too-large medium.
    let err = inspect_image(&input, 2048).unwrap_err();
    assert!(
        matches!(err, MediaError::AnimationTooLarge { frames: 400, .. }),
        "{err:?}"
    );
    assert_eq!(err.code(), ErrorCode::MediaTooLarge);
}

#[test]
fn an_animation_over_the_pixel_limit_is_refused_by_the_server_before_decoding() {
    // Two 1×1 frames on a 10000×10000 canvas: within the still photo's 100 megapixels, but
    // 200 million pixels to compose.
    let frames = vec![solid(1, 1, RED, 10), solid(1, 1, GREEN, 10)];
    let input = write_gif(10_000, 10_000, frames, Repeat::Infinite, false);
    assert!(input.len() < 200, "{} bytes", input.len());
    let started = Instant::now();
    let err = inspect_image(&input, 10_000).unwrap_err();
    assert!(
        started.elapsed() < Duration::from_millis(200),
        "{:?}",
        started.elapsed()
    );
    assert!(
        matches!(
            err,
            MediaError::AnimationTooLarge {
                frames: 2,
                width: 10_000,
                height: 10_000
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.code(), ErrorCode::MediaTooLarge);
    assert_eq!(
        err.to_string(),
        format!(
            "the animation is 2 frames of 10000×10000 pixels, more than the limit of \
             {MAX_ANIMATION_FRAMES} frames and {} megapixels in all",
            MAX_ANIMATION_PIXELS / 1_000_000
        )
    );

    // 26 frames of 2000×2000 are 104 megapixels: prepared as a still of the first frame
    // (lossless WebP: the canvas around its one pixel is clear).
    let frames = (0..26).map(|_| solid(1, 1, RED, 10)).collect();
    let input = write_gif(2000, 2000, frames, Repeat::Infinite, false);
    let photo = prepare_photo(&input, &SD).unwrap();
    assert_eq!(photo.mime, "image/webp");
    assert_eq!((photo.width, photo.height), (2000, 2000));
    assert!(photo.animated);
}

#[test]
fn an_animation_too_big_for_the_server_becomes_a_still() {
    // Ten frames of 1600×1600 noise in a 256-colour global palette: LZW cannot shrink noise,
    // so the file is over the 25 MiB the server stores, though within the frame and pixel
    // limits.
    const FRAME: usize = 1600 * 1600;
    let noise = random_bytes(256 * 3 + 10 * FRAME);
    let (palette, pixels) = noise.split_at(256 * 3);
    let mut encoder = gif::Encoder::new(Vec::new(), 1600, 1600, palette).unwrap();
    encoder.set_repeat(Repeat::Infinite).unwrap();
    for pixels in pixels.chunks(FRAME) {
        let mut frame = gif::Frame::from_indexed_pixels(1600, 1600, pixels.to_vec(), None);
        frame.delay = 10;
        encoder.write_frame(&frame).unwrap();
    }
    let input = encoder.into_inner().unwrap();
    assert!(
        input.len() > natter_protocol::limits::IMAGE_MAX_BYTES,
        "{} bytes",
        input.len()
    );
    let photo = prepare_photo(&input, &SD).unwrap();
    assert_eq!(photo.mime, "image/jpeg");
    assert!(photo.animated);
    assert_eq!((photo.width, photo.height), (1600, 1600));
}

#[test]
fn a_single_frame_gif_becomes_a_jpeg_as_before() {
    let input = write_gif(
        64,
        48,
        vec![solid(64, 48, GREEN, 0)],
        Repeat::Finite(0),
        true,
    );
    let photo = prepare_photo(&input, &SD).unwrap();
    assert_eq!(photo.mime, "image/jpeg");
    assert!(!photo.animated);
    assert_eq!((photo.width, photo.height), (64, 48));
    let info = inspect_image(&input, 2048).unwrap();
    assert!(!info.animated);
}

#[test]
fn a_frame_outside_the_picture_makes_a_still_and_is_refused_on_upload() {
    let mut stray = solid(20, 20, GREEN, 10);
    stray.left = 30;
    let input = write_gif(
        40,
        40,
        vec![solid(40, 40, RED, 10), stray],
        Repeat::Infinite,
        false,
    );
    let photo = prepare_photo(&input, &SD).unwrap();
    assert_eq!(photo.mime, "image/jpeg");
    assert!(photo.animated);
    let err = inspect_image(&input, 2048).unwrap_err();
    assert!(matches!(err, MediaError::CorruptImage(_)), "{err:?}");
    assert_eq!(err.code(), ErrorCode::InvalidImage);
}

#[test]
fn a_cut_off_animation_is_refused() {
    let whole = prepare_photo(&three_frames(120, 80), &SD).unwrap().bytes;
    // Inside the last frame's data: the first frames still decode.
    let cut = &whole[..whole.len() - 8];
    let err = inspect_image(cut, 2048).unwrap_err();
    assert!(matches!(err, MediaError::CorruptImage(_)), "{err:?}");
    let err = prepare_photo(cut, &SD).unwrap_err();
    assert!(matches!(err, MediaError::CorruptImage(_)), "{err:?}");

    // A frame whose data ends early, with the file's structure intact.
    let mut short = solid(120, 80, BLUE, 30);
    short.rgba.truncate(4 * 120 * 10);
    short.height = 10;
    let mut input = write_gif(
        120,
        80,
        vec![solid(120, 80, RED, 10), short],
        Repeat::Infinite,
        false,
    );
    // Claim 80 rows for the 10-row frame's data: the second image descriptor's height.
    let at = input
        .windows(10)
        .rposition(|w| w[0] == 0x2C && w[5..7] == [120, 0] && w[7..9] == [10, 0])
        .expect("second image descriptor");
    input[at + 7] = 80;
    let err = inspect_image(&input, 2048).unwrap_err();
    assert!(matches!(err, MediaError::CorruptImage(_)), "{err:?}");
    let err = prepare_photo(&input, &SD).unwrap_err();
    assert!(matches!(err, MediaError::CorruptImage(_)), "{err:?}");
}

#[test]
fn transparency_survives_in_every_frame() {
    // Left half transparent in every frame, right half the frame's colour.
    let frames = [RED, GREEN]
        .iter()
        .map(|&[r, g, b]| {
            let mut spec = solid(100, 50, [r, g, b], 10);
            for (i, px) in spec.rgba.chunks_exact_mut(4).enumerate() {
                if i % 100 < 50 {
                    px.copy_from_slice(&[0, 0, 0, 0]);
                }
            }
            spec.dispose = DisposalMethod::Background;
            spec
        })
        .collect();
    let input = write_gif(100, 50, frames, Repeat::Infinite, false);
    // Turned upside down: re-encoded.
    let edits = PhotoEdits {
        rotate: 2,
        ..PhotoEdits::default()
    };
    let photo = prepare_photo_edited(&input, &SD, &edits).unwrap();
    assert_gif(&photo, 100, 50);
    for (frame, colour) in composed(&photo.bytes).iter().zip([RED, GREEN]) {
        assert_eq!(
            frame.get_pixel(80, 25).0[3],
            0,
            "now the right half is clear"
        );
        assert!(close(*frame.get_pixel(20, 25), colour));
    }
    // The thumbnail shows the clear half on white.
    let thumb = image::load_from_memory(&photo.thumbnail)
        .unwrap()
        .to_rgba8();
    assert!(close(*thumb.get_pixel(80, 25), [255, 255, 255]));
}
