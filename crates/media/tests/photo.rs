//! Photo preparation as a user sees it: camera photos come out upright and small without
//! their location, transparency survives, animations are recognised (GIFs stay animated; see
//! photo_gif.rs), and hostile or broken files are refused with the right code before they
//! cost memory.

mod photo_fixtures;

use std::io::Cursor;
use std::time::{Duration, Instant};

use natter_media::photo::{MAX_GIF_FRAMES, MAX_PHOTO_BYTES};
use natter_media::{
    inspect_image, prepare_many, prepare_photo, sniff, ImageKind, MediaError, PrepareOptions,
    PreparedPhoto,
};
use natter_protocol::ErrorCode;
use photo_fixtures::*;

const SD: PrepareOptions = PrepareOptions { hd: false };

fn close(got: [u8; 3], want: [u8; 3]) -> bool {
    got.iter()
        .zip(want)
        .all(|(&g, w)| (i16::from(g) - i16::from(w)).abs() <= 40)
}

/// Checks the quadrants of an upright `w`×`h` picture at their centres.
fn assert_upright(img: &image::RgbImage, what: &str) {
    let (w, h) = img.dimensions();
    for (x, y, want, name) in [
        (w / 4, h / 4, RED, "top-left red"),
        (3 * w / 4, h / 4, GREEN, "top-right green"),
        (w / 4, 3 * h / 4, BLUE, "bottom-left blue"),
        (3 * w / 4, 3 * h / 4, WHITE, "bottom-right white"),
    ] {
        let got = img.get_pixel(x, y).0;
        assert!(close(got, want), "{what}: {name} expected, got {got:?}");
    }
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
        !jpeg.windows(6).any(|w| w == b"Exif\0\0"),
        "{what}: Exif bytes"
    );
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

fn decode_rgb(bytes: &[u8]) -> image::RgbImage {
    image::load_from_memory(bytes)
        .expect("decode output")
        .to_rgb8()
}

#[test]
fn twelve_megapixel_camera_photos_come_out_upright_small_and_without_location() {
    let results: Vec<(u16, Vec<u8>, Result<PreparedPhoto, MediaError>)> = std::thread::scope(|s| {
        let handles: Vec<_> = (1..=8u16)
            .map(|o| {
                s.spawn(move || {
                    let input = camera_jpeg(o, 4000, 3000);
                    let out = prepare_photo(&input, &SD);
                    (o, input, out)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (orientation, input, result) in results {
        let what = format!("orientation {orientation}");
        // The fixture really is what a camera writes: EXIF with the orientation and GPS.
        let exif = exif::Reader::new()
            .read_from_container(&mut Cursor::new(&input))
            .expect("fixture has EXIF");
        let tag = exif
            .get_field(exif::Tag::Orientation, exif::In::PRIMARY)
            .and_then(|f| f.value.get_uint(0));
        assert_eq!(tag, Some(u32::from(orientation)));
        assert!(exif
            .get_field(exif::Tag::GPSLatitude, exif::In::PRIMARY)
            .is_some());
        let stored = image::load_from_memory(&input).unwrap();
        let stored_dims = (stored.width(), stored.height());
        if orientation >= 5 {
            assert_eq!(stored_dims, (3000, 4000), "{what}: stored sideways");
        } else {
            assert_eq!(stored_dims, (4000, 3000));
        }

        let photo = result.unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(photo.mime, "image/jpeg");
        assert_eq!((photo.width, photo.height), (2048, 1536), "{what}");
        assert!(!photo.animated);
        let out = decode_rgb(&photo.bytes);
        assert_eq!(out.dimensions(), (2048, 1536), "{what}");
        assert_upright(&out, &what);
        assert_no_metadata(&photo.bytes, &what);

        assert_eq!((photo.thumb_width, photo.thumb_height), (320, 240));
        let thumb = decode_rgb(&photo.thumbnail);
        assert_eq!(thumb.dimensions(), (320, 240));
        assert_upright(&thumb, &format!("{what} thumbnail"));
        assert_no_metadata(&photo.thumbnail, &format!("{what} thumbnail"));

        // 4×3 components: 1 size byte + 1 max byte + 4 DC + 11 × 2 AC = 28 characters.
        assert_eq!(photo.blurhash.len(), 28, "{what}: {}", photo.blurhash);
        assert!(photo.bytes.len() < input.len());
    }
}

#[test]
fn hd_keeps_more_pixels_and_nothing_is_upscaled() {
    let input = camera_jpeg(6, 1200, 900);
    let photo = prepare_photo(&input, &PrepareOptions { hd: true }).unwrap();
    assert_eq!((photo.width, photo.height), (1200, 900));
    assert_upright(&decode_rgb(&photo.bytes), "small photo, orientation 6");

    let big = jpeg(&stored_pixels(1, 5000, 2500), 85);
    let hd = prepare_photo(&big, &PrepareOptions { hd: true }).unwrap();
    assert_eq!((hd.width, hd.height), (4096, 2048));
    let sd = prepare_photo(&big, &SD).unwrap();
    assert_eq!((sd.width, sd.height), (2048, 1024));
}

#[test]
fn transparency_is_kept_as_lossless_webp_and_flattened_on_white_in_the_thumbnail() {
    let photo = prepare_photo(&transparent_png(3000, 1000), &SD).unwrap();
    assert_eq!(photo.mime, "image/webp");
    assert_eq!(sniff(&photo.bytes), Some(ImageKind::WebP));
    assert_eq!((photo.width, photo.height), (2048, 683));
    let out = image::load_from_memory(&photo.bytes).unwrap().to_rgba8();
    assert_eq!(out.dimensions(), (2048, 683));
    assert_eq!(
        out.get_pixel(200, 300).0[3],
        0,
        "left half stays transparent"
    );
    let right = out.get_pixel(1800, 300).0;
    assert_eq!(right[3], 255);
    assert!(close([right[0], right[1], right[2]], BLUE));

    assert_eq!(sniff(&photo.thumbnail), Some(ImageKind::Jpeg));
    let thumb = decode_rgb(&photo.thumbnail);
    assert_eq!(thumb.dimensions(), (320, 107));
    assert!(close(thumb.get_pixel(40, 50).0, [255, 255, 255]));
    assert!(close(thumb.get_pixel(280, 50).0, BLUE));
}

#[test]
fn an_opaque_png_becomes_a_jpeg() {
    let photo = prepare_photo(&opaque_png(640, 480), &SD).unwrap();
    assert_eq!(photo.mime, "image/jpeg");
    assert_eq!((photo.width, photo.height), (640, 480));
    assert_upright(&decode_rgb(&photo.bytes), "PNG");
}

#[test]
fn an_animated_gif_stays_animated_with_its_first_frame_as_thumbnail() {
    let gif = animated_gif(120, 80, &[RED, GREEN, BLUE]);
    let photo = prepare_photo(&gif, &SD).unwrap();
    assert!(photo.animated);
    assert_eq!(photo.mime, "image/gif");
    assert_eq!((photo.width, photo.height), (120, 80));
    assert!(close(decode_rgb(&photo.bytes).get_pixel(60, 40).0, RED));
    assert!(close(decode_rgb(&photo.thumbnail).get_pixel(60, 40).0, RED));

    let still = prepare_photo(&animated_gif(40, 40, &[GREEN]), &SD).unwrap();
    assert!(!still.animated);
}

#[test]
fn a_gif_with_too_many_frames_is_refused_before_decoding() {
    let colours: Vec<[u8; 3]> = (0..=MAX_GIF_FRAMES)
        .map(|i| [(i % 251) as u8, 0, 0])
        .collect();
    let err = prepare_photo(&animated_gif(2, 2, &colours), &SD).unwrap_err();
    assert!(matches!(err, MediaError::TooManyFrames { .. }), "{err:?}");
    assert_eq!(err.code(), ErrorCode::MediaTooLarge);
}

#[test]
fn a_decompression_bomb_is_refused_cheaply() {
    let bomb = png_bomb(100_000, 100_000);
    assert!(bomb.len() < 100, "the bomb is tiny: {} bytes", bomb.len());
    let started = Instant::now();
    let err = prepare_photo(&bomb, &SD).unwrap_err();
    assert!(
        started.elapsed() < Duration::from_millis(200),
        "took {:?}",
        started.elapsed()
    );
    assert!(
        matches!(
            err,
            MediaError::ImageTooLarge {
                width: 100_000,
                height: 100_000
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.code(), ErrorCode::MediaTooLarge);
    assert_eq!(
        err.to_string(),
        "the image is 100000×100000 pixels, more than the 100 megapixel limit"
    );
}

#[test]
fn the_server_refuses_a_picture_over_its_edge_limit_from_the_header_alone() {
    // 10000×10000 is within the 100 megapixels a camera photo may have, so only the edge
    // limit stops it; its decode alone would take 400 MB. The header is all that is read:
    // the pixel data here is a single pixel's, which a decode would fail on differently.
    let bomb = png_bomb(10_000, 10_000);
    let err = inspect_image(&bomb, 4096).unwrap_err();
    assert!(matches!(err, MediaError::CorruptImage(_)), "{err:?}");
    assert_eq!(err.code(), ErrorCode::InvalidImage);
    assert_eq!(
        err.to_string(),
        "damaged image: the PNG header says 10000×10000 pixels, larger than the 4096 px a \
         prepared photo has"
    );
    // Within the limit, the same forgery gets as far as the decoder, which refuses it.
    let small = png_bomb(4000, 3000);
    let err = inspect_image(&small, 4096).unwrap_err();
    assert!(!err.to_string().contains("header says"), "{err}");
    assert_eq!(err.code(), ErrorCode::InvalidImage);
}

#[test]
fn an_oversized_file_is_refused_before_parsing() {
    let mut big = camera_jpeg(1, 64, 48);
    big.resize(MAX_PHOTO_BYTES + 1, 0);
    let err = prepare_photo(&big, &SD).unwrap_err();
    assert!(matches!(err, MediaError::TooLarge { .. }), "{err:?}");
    assert_eq!(err.code(), ErrorCode::MediaTooLarge);
}

#[test]
fn a_truncated_jpeg_is_refused() {
    let whole = camera_jpeg(1, 640, 480);
    let cut = &whole[..whole.len() * 6 / 10];
    let err = prepare_photo(cut, &SD).unwrap_err();
    assert!(matches!(err, MediaError::CorruptImage(_)), "{err:?}");
    assert_eq!(err.code(), ErrorCode::InvalidImage);
    // Cut inside the headers too.
    let err = prepare_photo(&whole[..40], &SD).unwrap_err();
    assert!(matches!(err, MediaError::CorruptImage(_)), "{err:?}");
}

#[test]
fn content_decides_the_format_and_noise_is_refused() {
    assert_eq!(sniff(&opaque_png(8, 8)), Some(ImageKind::Png));
    assert_eq!(sniff(&camera_jpeg(1, 8, 8)), Some(ImageKind::Jpeg));
    assert_eq!(sniff(&animated_gif(8, 8, &[RED])), Some(ImageKind::Gif));

    let err = prepare_photo(&random_bytes(4096), &SD).unwrap_err();
    assert!(matches!(err, MediaError::NotAnImage), "{err:?}");
    assert_eq!(err.code(), ErrorCode::InvalidImage);
    let err = prepare_photo(b"", &SD).unwrap_err();
    assert!(matches!(err, MediaError::NotAnImage), "{err:?}");

    let mut heic = b"\0\0\0\x18ftypheic\0\0\0\0mif1heic".to_vec();
    heic.extend(random_bytes(1000));
    let err = prepare_photo(&heic, &SD).unwrap_err();
    assert_eq!(
        err.to_string(),
        "HEIC/HEIF is not supported (photos must be JPEG, PNG, WebP or GIF)"
    );
    assert_eq!(err.code(), ErrorCode::InvalidImage);

    // PNG magic followed by garbage.
    let mut fake = opaque_png(1, 1)[..8].to_vec();
    fake.extend(random_bytes(500));
    let err = prepare_photo(&fake, &SD).unwrap_err();
    assert!(matches!(err, MediaError::CorruptImage(_)), "{err:?}");
}

#[test]
fn prepare_many_keeps_order_and_one_bad_item_spoils_nothing() {
    let inputs = vec![
        camera_jpeg(6, 800, 600),
        transparent_png(300, 200),
        random_bytes(2000),
        animated_gif(50, 40, &[RED, BLUE]),
    ];
    let results = prepare_many(&inputs, &SD);
    assert_eq!(results.len(), 4);
    let first = results[0].as_ref().unwrap();
    assert_eq!((first.width, first.height), (800, 600));
    assert_eq!(results[1].as_ref().unwrap().mime, "image/webp");
    assert!(matches!(results[2], Err(MediaError::NotAnImage)));
    assert!(results[3].as_ref().unwrap().animated);
    assert!(prepare_many(&[], &SD).is_empty());
}
