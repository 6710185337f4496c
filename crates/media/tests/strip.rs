//! Metadata stripped as the server would, from files a client did not prepare: a camera JPEG
//! loses its GPS position, camera, comments, XMP and trailers but keeps every pixel and how it
//! is meant to be turned; PNG text and EXIF, WebP EXIF and XMP, and GIF comments go the same
//! way; a broken file is refused rather than guessed at.

mod photo_fixtures;

use std::io::Cursor;

use natter_media::{strip_metadata, MediaError};
use natter_protocol::ErrorCode;
use photo_fixtures::*;

const SECRET: &[u8] = b"Grandma's house, 12 Elm Street";
const XMP: &[u8] =
    br#"<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:Description photoshop:City="Lyon"/></x:xmpmeta>"#;

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn pixels(bytes: &[u8]) -> image::RgbaImage {
    image::load_from_memory(bytes).expect("decodes").to_rgba8()
}

fn exif_of(bytes: &[u8]) -> Option<exif::Exif> {
    exif::Reader::new()
        .read_from_container(&mut Cursor::new(bytes))
        .ok()
}

/// `jpeg` with `segment` (marker, payload) inserted right after SOI.
fn with_segment(jpeg: &[u8], marker: u8, payload: &[u8]) -> Vec<u8> {
    let len = u16::try_from(payload.len() + 2).expect("fits a segment");
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xFF, marker]);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(payload);
    out.extend_from_slice(&jpeg[2..]);
    out
}

/// A camera JPEG of `w`×`h` stored with `orientation`: EXIF with GPS and camera, then a
/// comment, XMP, IPTC, and a vendor trailer after the end-of-image marker.
fn loaded_jpeg(orientation: u16, w: u32, h: u32) -> Vec<u8> {
    let jpeg = camera_jpeg(orientation, w, h);
    let jpeg = with_segment(&jpeg, 0xFE, SECRET);
    let jpeg = with_segment(
        &jpeg,
        0xE1,
        &[b"http://ns.adobe.com/xap/1.0/\0".as_slice(), XMP].concat(),
    );
    let mut jpeg = with_segment(
        &jpeg,
        0xED,
        &[b"Photoshop 3.0\08BIM\x04\x04".as_slice(), SECRET].concat(),
    );
    // What some phones append: a trailer with its own metadata.
    jpeg.extend_from_slice(b"SEFHtrailer ");
    jpeg.extend_from_slice(SECRET);
    jpeg
}

#[test]
fn a_camera_jpeg_loses_its_location_and_keeps_its_pixels() {
    let input = loaded_jpeg(1, 320, 240);
    let camera = exif_of(&input).expect("the fixture has EXIF");
    assert!(camera
        .get_field(exif::Tag::GPSLatitude, exif::In::PRIMARY)
        .is_some());
    for needle in [b"Exif".as_slice(), SECRET, b"Lyon", b"NatterCam"] {
        assert!(contains(&input, needle));
    }

    let stripped = strip_metadata(&input).unwrap();
    assert!(
        exif_of(&stripped).is_none(),
        "an upright photo keeps no EXIF"
    );
    for needle in [
        b"Exif".as_slice(),
        SECRET,
        b"Lyon",
        b"xap/1.0",
        b"Photoshop",
        b"NatterCam",
        b"Secret Model",
        b"SEFH",
    ] {
        assert!(
            !contains(&stripped, needle),
            "{:?} is still there",
            String::from_utf8_lossy(needle)
        );
    }
    for (marker, _) in jpeg_segments(&stripped) {
        assert!(
            !(0xE1..=0xEF).contains(&marker) && marker != 0xFE,
            "marker {marker:02X} left"
        );
    }
    let jfif: Vec<_> = jpeg_segments(&stripped)
        .into_iter()
        .filter(|(m, _)| *m == 0xE0)
        .collect();
    assert_eq!(jfif.len(), 1, "one JFIF header");
    assert!(jfif[0].1.starts_with(b"JFIF\0") && jfif[0].1.len() == 14);
    assert!(stripped.ends_with(&[0xFF, 0xD9]), "nothing after the end");
    assert_eq!(pixels(&stripped), pixels(&input), "not one pixel changed");
    // Only metadata went: the entropy-coded data is the same bytes.
    let scan = |jpeg: &[u8]| {
        let at = jpeg.windows(2).position(|w| w == [0xFF, 0xDA]).unwrap();
        let end = jpeg.windows(2).rposition(|w| w == [0xFF, 0xD9]).unwrap();
        jpeg[at..end].to_vec()
    };
    assert_eq!(scan(&stripped), scan(&camera_jpeg(1, 320, 240)));
}

#[test]
fn a_sideways_camera_jpeg_keeps_only_its_orientation() {
    let input = loaded_jpeg(6, 320, 240);
    let stripped = strip_metadata(&input).unwrap();
    let exif = exif_of(&stripped).expect("the orientation is kept");
    let fields: Vec<_> = exif.fields().map(|f| f.tag).collect();
    assert_eq!(fields, [exif::Tag::Orientation]);
    let orientation = exif
        .get_field(exif::Tag::Orientation, exif::In::PRIMARY)
        .and_then(|f| f.value.get_uint(0));
    assert_eq!(orientation, Some(6));
    assert!(!contains(&stripped, b"NatterCam") && !contains(&stripped, SECRET));
    assert_eq!(pixels(&stripped), pixels(&input));
    // So it still comes out upright when prepared.
    let photo = natter_media::prepare_photo(&stripped, &Default::default()).unwrap();
    assert_eq!((photo.width, photo.height), (320, 240));
}

#[test]
fn a_jfif_thumbnail_is_dropped() {
    let jpeg = jpeg(&stored_pixels(1, 64, 48), 90);
    let (marker, jfif) = &jpeg_segments(&jpeg)[0];
    assert_eq!((*marker, jfif.len()), (0xE0, 14));
    // The same header with a 2×1 thumbnail of two secret-coloured pixels.
    let mut with_thumb = jfif[..12].to_vec();
    with_thumb.extend_from_slice(&[2, 1, 0xAB, 0xCD, 0xEF, 0xAB, 0xCD, 0xEF]);
    let len = jfif.len() + 2;
    let mut input = jpeg[..2].to_vec();
    input.extend_from_slice(&[0xFF, 0xE0, 0, 2 + with_thumb.len() as u8]);
    input.extend_from_slice(&with_thumb);
    input.extend_from_slice(&jpeg[2 + 2 + len..]);
    assert_eq!(pixels(&input), pixels(&jpeg));
    let stripped = strip_metadata(&input).unwrap();
    assert_eq!(stripped, jpeg, "exactly the file without the thumbnail");
}

#[test]
fn colour_profiles_and_the_adobe_transform_are_kept() {
    let jpeg = jpeg(&stored_pixels(1, 64, 48), 90);
    let profile = [b"ICC_PROFILE\0\x01\x01".as_slice(), &[7; 40]].concat();
    let adobe = b"Adobe\0\x64\0\0\0\0\x01";
    let input = with_segment(&with_segment(&jpeg, 0xEE, adobe), 0xE2, &profile);
    let stripped = strip_metadata(&input).unwrap();
    let segments = jpeg_segments(&stripped);
    assert!(segments.iter().any(|(m, p)| *m == 0xE2 && *p == profile));
    assert!(segments.iter().any(|(m, p)| *m == 0xEE && p == adobe));
}

#[test]
fn a_broken_jpeg_is_refused() {
    let whole = loaded_jpeg(1, 320, 240);
    let end = whole.len() - b"SEFHtrailer ".len() - SECRET.len();
    for cut in [end - 100, end - 1, 30, 3] {
        let err = strip_metadata(&whole[..cut]).unwrap_err();
        assert!(
            matches!(err, MediaError::CorruptImage(_)),
            "cut at {cut}: {err:?}"
        );
        assert_eq!(err.code(), ErrorCode::InvalidImage);
    }
    // A segment whose length runs past the end of the file.
    let mut forged = jpeg(&stored_pixels(1, 16, 16), 90);
    forged.splice(2..2, [0xFF, 0xE1, 0xFF, 0xF0, b'E', b'x']);
    forged.truncate(60);
    assert!(matches!(
        strip_metadata(&forged),
        Err(MediaError::CorruptImage(_))
    ));
    assert!(matches!(
        strip_metadata(&random_bytes(500)),
        Err(MediaError::NotAnImage)
    ));
}

/// A PNG chunk with its CRC.
fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut out = u32::try_from(data.len()).unwrap().to_be_bytes().to_vec();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32fast::hash(&out[4..]);
    out.extend_from_slice(&crc.to_be_bytes());
    out
}

/// `png` with `chunks` inserted after IHDR.
fn png_with(png: &[u8], chunks: &[Vec<u8>]) -> Vec<u8> {
    // Signature (8) and IHDR (4 + 4 + 13 + 4).
    let mut out = png[..33].to_vec();
    for c in chunks {
        out.extend_from_slice(c);
    }
    out.extend_from_slice(&png[33..]);
    out
}

#[test]
fn a_png_loses_its_text_and_exif_and_keeps_its_pixels() {
    let original = transparent_png(64, 48);
    let input = png_with(
        &original,
        &[
            chunk(b"tEXt", &[b"Comment\0".as_slice(), SECRET].concat()),
            chunk(
                b"iTXt",
                &[b"XML:com.adobe.xmp\0\0\0\0\0".as_slice(), XMP].concat(),
            ),
            chunk(b"eXIf", &exif_tiff(1)),
            chunk(b"tIME", &[0x07, 0xE9, 1, 2, 3, 4, 5]),
            chunk(b"gAMA", &45455u32.to_be_bytes()),
            chunk(b"prVt", SECRET),
        ],
    );
    assert!(exif_of(&input).is_some());
    let stripped = strip_metadata(&input).unwrap();
    for needle in [
        b"tEXt".as_slice(),
        b"iTXt",
        b"eXIf",
        b"tIME",
        b"prVt",
        SECRET,
        b"Lyon",
        b"NatterCam",
    ] {
        assert!(
            !contains(&stripped, needle),
            "{:?} is still there",
            String::from_utf8_lossy(needle)
        );
    }
    assert!(contains(&stripped, b"gAMA"), "colour is kept");
    assert!(exif_of(&stripped).is_none());
    assert_eq!(pixels(&stripped), pixels(&input));
    assert_eq!(
        stripped.len(),
        original.len() + 16,
        "the original plus gAMA"
    );

    // A PNG stored sideways keeps its orientation, in a fresh chunk with a valid CRC.
    let sideways = png_with(&original, &[chunk(b"eXIf", &exif_tiff(8))]);
    let stripped = strip_metadata(&sideways).unwrap();
    let exif = exif_of(&stripped).expect("orientation kept");
    assert_eq!(
        exif.fields().map(|f| f.tag).collect::<Vec<_>>(),
        [exif::Tag::Orientation]
    );
    assert!(!contains(&stripped, b"NatterCam"));
    assert_eq!(pixels(&stripped), pixels(&original));

    let err = strip_metadata(&input[..input.len() - 12]).unwrap_err();
    assert!(
        matches!(err, MediaError::CorruptImage(_)),
        "no IEND: {err:?}"
    );
}

/// A RIFF chunk, padded to an even size.
fn riff_chunk(fourcc: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut out = fourcc.to_vec();
    out.extend_from_slice(&u32::try_from(data.len()).unwrap().to_le_bytes());
    out.extend_from_slice(data);
    if data.len() % 2 == 1 {
        out.push(0);
    }
    out
}

/// An extended-format lossless WebP of `w`×`h` with EXIF and XMP chunks and their flags.
fn webp_with_metadata(w: u32, h: u32, exif: &[u8]) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb(quadrant(x, y, w, h)));
    let mut simple = Vec::new();
    image::codecs::webp::WebPEncoder::new_lossless(&mut simple)
        .encode(img.as_raw(), w, h, image::ExtendedColorType::Rgb8)
        .expect("encode WebP");
    assert_eq!(&simple[12..16], b"VP8L");
    let mut vp8x = vec![0x08 | 0x04, 0, 0, 0];
    vp8x.extend_from_slice(&(w - 1).to_le_bytes()[..3]);
    vp8x.extend_from_slice(&(h - 1).to_le_bytes()[..3]);
    let mut body = b"WEBP".to_vec();
    body.extend(riff_chunk(b"VP8X", &vp8x));
    body.extend_from_slice(&simple[12..]);
    body.extend(riff_chunk(b"EXIF", exif));
    body.extend(riff_chunk(b"XMP ", XMP));
    let mut out = b"RIFF".to_vec();
    out.extend_from_slice(&u32::try_from(body.len()).unwrap().to_le_bytes());
    out.extend(body);
    out
}

#[test]
fn a_webp_loses_its_exif_and_xmp() {
    let input = webp_with_metadata(64, 48, &exif_tiff(1));
    assert!(exif_of(&input).is_some());
    let stripped = strip_metadata(&input).unwrap();
    for needle in [b"EXIF".as_slice(), b"XMP ", b"Lyon", b"NatterCam"] {
        assert!(!contains(&stripped, needle));
    }
    assert_eq!(&stripped[12..16], b"VP8X");
    assert_eq!(stripped[20] & (0x08 | 0x04), 0, "no EXIF or XMP flag");
    let riff = u32::from_le_bytes(stripped[4..8].try_into().unwrap());
    assert_eq!(riff as usize, stripped.len() - 8);
    assert_eq!(pixels(&stripped), pixels(&input));

    let sideways = strip_metadata(&webp_with_metadata(64, 48, &exif_tiff(3))).unwrap();
    assert_eq!(sideways[20] & (0x08 | 0x04), 0x08, "only the EXIF flag");
    let exif = exif_of(&sideways).expect("orientation kept");
    assert_eq!(
        exif.fields().map(|f| f.tag).collect::<Vec<_>>(),
        [exif::Tag::Orientation]
    );
    assert!(!contains(&sideways, b"NatterCam") && !contains(&sideways, b"Lyon"));
    assert_eq!(pixels(&sideways), pixels(&input));

    let err = strip_metadata(&input[..input.len() - 30]).unwrap_err();
    assert!(matches!(err, MediaError::CorruptImage(_)), "{err:?}");
}

#[test]
fn a_gif_loses_its_comments_and_xmp_and_keeps_its_frames_and_loop() {
    let mut encoder = gif::Encoder::new(Vec::new(), 32, 32, &[]).unwrap();
    encoder.set_repeat(gif::Repeat::Finite(3)).unwrap();
    encoder
        .write_raw_extension(gif::AnyExtension(0xFE), &[SECRET])
        .unwrap();
    encoder
        .write_raw_extension(gif::AnyExtension(0xFF), &[b"XMP DataXMP", XMP])
        .unwrap();
    for (i, [r, g, b]) in [RED, GREEN].into_iter().enumerate() {
        let mut rgba = [r, g, b, 255].repeat(32 * 32);
        let mut frame = gif::Frame::from_rgba(32, 32, &mut rgba);
        frame.delay = 10 * (i as u16 + 1);
        encoder.write_frame(&frame).unwrap();
        encoder
            .write_raw_extension(gif::AnyExtension(0xFE), &[b"frame comment"])
            .unwrap();
    }
    let input = encoder.into_inner().unwrap();
    let stripped = strip_metadata(&input).unwrap();
    for needle in [SECRET, b"XMP", b"Lyon", b"frame comment"] {
        assert!(!contains(&stripped, needle));
    }
    assert!(contains(&stripped, b"NETSCAPE2.0"));

    let decoder = gif::DecodeOptions::new()
        .read_info(Cursor::new(&stripped))
        .unwrap();
    assert_eq!(decoder.repeat(), gif::Repeat::Finite(3));
    let delays: Vec<u16> = decoder.into_iter().map(|f| f.unwrap().delay).collect();
    assert_eq!(delays, [10, 20]);
    let frames = |bytes: &[u8]| -> Vec<image::RgbaImage> {
        use image::AnimationDecoder;
        image::codecs::gif::GifDecoder::new(Cursor::new(bytes))
            .unwrap()
            .into_frames()
            .map(|f| f.unwrap().into_buffer())
            .collect()
    };
    assert_eq!(frames(&stripped), frames(&input));

    let err = strip_metadata(&input[..input.len() - 1]).unwrap_err();
    assert!(
        matches!(err, MediaError::CorruptImage(_)),
        "no trailer: {err:?}"
    );
}
