//! Photo fixtures made at test time (no binary files in the repo): camera-like JPEGs with an
//! EXIF orientation and GPS position written by kamadak-exif, PNGs, GIFs, forged bombs.
//! Shared by the tests and the bench.
#![allow(dead_code)]

use std::io::Cursor;

use image::codecs::gif::GifEncoder;
use image::codecs::jpeg::JpegEncoder;
use image::{Delay, Frame, ImageFormat, Rgb, RgbImage, Rgba, RgbaImage};

pub const RED: [u8; 3] = [220, 30, 30];
pub const GREEN: [u8; 3] = [30, 200, 30];
pub const BLUE: [u8; 3] = [30, 30, 220];
pub const WHITE: [u8; 3] = [250, 250, 250];

/// The colour of the quadrant holding (x, y) in an upright `w`×`h` picture: red top-left,
/// green top-right, blue bottom-left, white bottom-right: any turn or mirror moves them.
pub fn quadrant(x: u32, y: u32, w: u32, h: u32) -> [u8; 3] {
    match (x < w / 2, y < h / 2) {
        (true, true) => RED,
        (false, true) => GREEN,
        (true, false) => BLUE,
        (false, false) => WHITE,
    }
}

/// The pixels a camera stores for an upright `w`×`h` scene when it writes EXIF orientation
/// `orientation` (1–8), following the EXIF definition of where stored row 0 and column 0 go.
/// For 5–8 the stored image is `h`×`w`.
pub fn stored_pixels(orientation: u16, w: u32, h: u32) -> RgbImage {
    let (sw, sh) = if orientation >= 5 { (h, w) } else { (w, h) };
    RgbImage::from_fn(sw, sh, |x, y| {
        // Where stored (x, y) appears on screen.
        let (dx, dy) = match orientation {
            1 => (x, y),
            2 => (w - 1 - x, y),
            3 => (w - 1 - x, h - 1 - y),
            4 => (x, h - 1 - y),
            5 => (y, x),
            6 => (w - 1 - y, x),
            7 => (w - 1 - y, h - 1 - x),
            8 => (y, h - 1 - x),
            _ => panic!("orientation {orientation}"),
        };
        Rgb(quadrant(dx, dy, w, h))
    })
}

pub fn jpeg(img: &RgbImage, quality: u8) -> Vec<u8> {
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, quality)
        .encode_image(img)
        .expect("encode fixture JPEG");
    out
}

/// An EXIF block as a camera writes it: orientation, make and model, a GPS position.
pub fn exif_tiff(orientation: u16) -> Vec<u8> {
    use exif::{Field, In, Rational, Tag, Value};
    let field = |tag, value| Field {
        tag,
        ifd_num: In::PRIMARY,
        value,
    };
    let dms = |d: u32, m: u32, s: u32| {
        Value::Rational(vec![
            Rational::from((d, 1)),
            Rational::from((m, 1)),
            Rational::from((s, 100)),
        ])
    };
    let fields = [
        field(Tag::Orientation, Value::Short(vec![orientation])),
        field(Tag::Make, Value::Ascii(vec![b"NatterCam".to_vec()])),
        field(Tag::Model, Value::Ascii(vec![b"Secret Model 9".to_vec()])),
        field(Tag::GPSLatitudeRef, Value::Ascii(vec![b"N".to_vec()])),
        field(Tag::GPSLatitude, dms(48, 51, 2950)),
        field(Tag::GPSLongitudeRef, Value::Ascii(vec![b"E".to_vec()])),
        field(Tag::GPSLongitude, dms(2, 17, 4010)),
    ];
    let mut writer = exif::experimental::Writer::new();
    for f in &fields {
        writer.push_field(f);
    }
    let mut tiff = Cursor::new(Vec::new());
    writer.write(&mut tiff, false).expect("write EXIF");
    tiff.into_inner()
}

/// `jpeg` with an APP1 EXIF segment inserted right after SOI.
pub fn with_exif(jpeg: &[u8], tiff: &[u8]) -> Vec<u8> {
    assert_eq!(&jpeg[..2], [0xFF, 0xD8]);
    let len = u16::try_from(2 + 6 + tiff.len()).expect("EXIF fits a segment");
    let mut out = Vec::with_capacity(jpeg.len() + tiff.len() + 10);
    out.extend_from_slice(&[0xFF, 0xD8, 0xFF, 0xE1]);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(b"Exif\0\0");
    out.extend_from_slice(tiff);
    out.extend_from_slice(&jpeg[2..]);
    out
}

/// A camera-like JPEG of an upright `w`×`h` quadrant scene stored with `orientation`.
pub fn camera_jpeg(orientation: u16, w: u32, h: u32) -> Vec<u8> {
    with_exif(
        &jpeg(&stored_pixels(orientation, w, h), 90),
        &exif_tiff(orientation),
    )
}

pub fn png_rgba(img: &RgbaImage) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, ImageFormat::Png)
        .expect("encode PNG");
    out.into_inner()
}

/// `w`×`h`: left half fully transparent, right half opaque blue.
pub fn transparent_png(w: u32, h: u32) -> Vec<u8> {
    png_rgba(&RgbaImage::from_fn(w, h, |x, _| {
        if x < w / 2 {
            Rgba([0, 0, 0, 0])
        } else {
            Rgba([BLUE[0], BLUE[1], BLUE[2], 255])
        }
    }))
}

pub fn opaque_png(w: u32, h: u32) -> Vec<u8> {
    let img = RgbImage::from_fn(w, h, |x, y| Rgb(quadrant(x, y, w, h)));
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, ImageFormat::Png)
        .expect("encode PNG");
    out.into_inner()
}

/// An animated GIF whose frames are filled with `colours` in order.
pub fn animated_gif(w: u32, h: u32, colours: &[[u8; 3]]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut encoder = GifEncoder::new(&mut out);
        let frames = colours.iter().map(|c| {
            Frame::from_parts(
                RgbaImage::from_pixel(w, h, Rgba([c[0], c[1], c[2], 255])),
                0,
                0,
                Delay::from_numer_denom_ms(100, 1),
            )
        });
        encoder.encode_frames(frames).expect("encode GIF");
    }
    out
}

/// A valid 1×1 PNG whose header is rewritten (with a correct CRC) to claim `w`×`h`: decoding
/// it for real would need w×h×3 bytes.
pub fn png_bomb(w: u32, h: u32) -> Vec<u8> {
    let mut png = opaque_png(1, 1);
    // Signature (8), IHDR length (4), "IHDR" (4), then width and height.
    assert_eq!(&png[12..16], b"IHDR");
    png[16..20].copy_from_slice(&w.to_be_bytes());
    png[20..24].copy_from_slice(&h.to_be_bytes());
    let crc = crc32fast::hash(&png[12..29]);
    png[29..33].copy_from_slice(&crc.to_be_bytes());
    png
}

/// Deterministic noise that is no known format.
pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// The JPEG's marker segments before the first scan, as (marker, payload).
pub fn jpeg_segments(jpeg: &[u8]) -> Vec<(u8, Vec<u8>)> {
    assert_eq!(&jpeg[..2], [0xFF, 0xD8], "not a JPEG");
    let mut pos = 2;
    let mut out = Vec::new();
    while pos + 4 <= jpeg.len() {
        assert_eq!(jpeg[pos], 0xFF, "marker expected at {pos}");
        let marker = jpeg[pos + 1];
        let len = usize::from(u16::from_be_bytes([jpeg[pos + 2], jpeg[pos + 3]]));
        out.push((marker, jpeg[pos + 4..pos + 2 + len].to_vec()));
        if marker == 0xDA {
            break;
        }
        pos += 2 + len;
    }
    out
}
