//! Videos as a user sees them: a phone video is recognised with its real length, size and
//! rotation, leaves without its location or the phone's name, trims at a keyframe, mutes, and
//! broken, hostile or fake files are refused with the right code before they cost anything.
//! Fixtures come from Debian's ffmpeg (see `video_fixtures`); without it these tests fail.

mod video_fixtures;

use natter_media::video::{MAX_VIDEO_EDGE, MAX_VIDEO_MS};
use natter_media::{
    probe, remux, AudioCodec, Container, MediaError, VideoCodec, VideoEdits, VideoInfo,
};
use natter_protocol::ErrorCode;
use video_fixtures::*;

/// One frame at the fixtures' 25 fps.
const FRAME_MS: u32 = 40;

fn near(got: u32, want: u32, what: &str) {
    assert!(
        got.abs_diff(want) <= FRAME_MS,
        "{what}: {got} ms, expected {want} ms within one frame"
    );
}

fn probed(bytes: &[u8]) -> VideoInfo {
    probe(bytes).unwrap_or_else(|e| panic!("probe failed: {e}"))
}

fn remuxed(bytes: &[u8], edits: &VideoEdits) -> natter_media::Remuxed {
    remux(bytes, edits).unwrap_or_else(|e| panic!("remux failed: {e}"))
}

/// No location, device or date survives, by ffprobe's reading and in the raw bytes.
fn assert_no_metadata(bytes: &[u8], what: &str) {
    let tags = tags(&ffprobe(bytes));
    // A WebM must name the program that wrote it; ours says only "natter".
    for tag in tags.iter().filter(|t| t.as_str() != "encoder=natter") {
        let key = tag.split('=').next().unwrap_or_default().to_lowercase();
        for banned in [
            "location",
            "make",
            "model",
            "creation_time",
            "title",
            "date",
            "encoder",
        ] {
            assert!(
                !key.contains(banned),
                "{what}: tag {tag} survived ({tags:?})"
            );
        }
    }
    // (Encoder names inside the coded audio and video, like x264's settings, are not metadata
    // about the sender and stay.)
    for needle in [&b"NatterCam"[..], b"48.8577", b"NC-1"] {
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle),
            "{what}: the bytes still contain {:?}",
            String::from_utf8_lossy(needle)
        );
    }
}

fn assert_decodes(bytes: &[u8], ext: &str, what: &str) {
    let errors = decode_errors(bytes, ext);
    assert!(errors.is_empty(), "{what}: ffmpeg reports: {errors}");
}

#[test]
fn a_portrait_phone_video_is_described_as_a_user_sees_it() {
    let input = phone_mp4();
    let info = probed(input);
    assert_eq!(info.container, Container::Mp4);
    assert_eq!(info.mime, "video/mp4");
    assert_eq!(info.video_codec, VideoCodec::H264);
    assert_eq!(info.audio_codec, Some(AudioCodec::Aac));
    assert!(info.has_audio);
    near(info.duration_ms, duration_ms(&ffprobe(input)), "duration");
    assert_eq!((info.width, info.height), (320, 240));
    assert_eq!(info.rotation, 90);
    assert_eq!((info.display_width, info.display_height), (240, 320));
    // A keyframe every second (`-g 25`).
    assert_eq!(info.keyframes_ms, vec![0, 1000, 2000, 3000, 4000, 5000]);
}

#[test]
fn sending_strips_location_device_and_dates_but_keeps_rotation_and_sound() {
    let input = phone_mp4();
    let out = remuxed(input, &VideoEdits::default());
    assert_no_metadata(&out.bytes, "phone video");
    assert_decodes(&out.bytes, "mp4", "phone video");
    let ff = ffprobe(&out.bytes);
    assert_eq!(stream_types(&ff), ["video", "audio"]);
    near(duration_ms(&ff), 6000, "ffprobe duration");
    let rotation =
        |ff: &serde_json::Value| ff["streams"][0]["side_data_list"][0]["rotation"].as_i64();
    assert_eq!(
        rotation(&ff),
        Some(-90),
        "ffprobe's rotation: {}",
        ff["streams"][0]
    );
    assert_eq!(rotation(&ffprobe(input)), rotation(&ff));
    assert_eq!(out.info.rotation, 90);
    assert_eq!(
        (out.info.display_width, out.info.display_height),
        (240, 320)
    );
    near(out.info.duration_ms, 6000, "duration");
    assert_eq!(out.info.audio_codec, Some(AudioCodec::Aac));
    assert!(
        out.bytes.len() < input.len(),
        "the metadata is gone, the media is not"
    );
}

#[test]
fn a_trim_starts_at_the_keyframe_before_the_requested_start() {
    let input = phone_mp4();
    let edits = VideoEdits {
        trim_start_ms: Some(2500),
        trim_end_ms: Some(4500),
        mute: false,
    };
    let out = remuxed(input, &edits);
    // Cut from the keyframe at 2.0 s (not 2.5 s) to 4.5 s.
    near(out.info.duration_ms, 2500, "trimmed duration");
    let ff = ffprobe(&out.bytes);
    near(duration_ms(&ff), 2500, "ffprobe trimmed duration");
    assert_eq!(stream_types(&ff), ["video", "audio"]);
    assert_eq!(out.info.keyframes_ms, vec![0, 1000, 2000]);
    let first = frame_at(&out.bytes, "mp4", 0.0);
    assert!(!first.is_empty());
    assert!(
        first == frame_at(input, "mp4", 2.0),
        "the trimmed video does not open on the original's picture at 2.0 s"
    );
    assert!(first != frame_at(input, "mp4", 2.5));
    assert_decodes(&out.bytes, "mp4", "trimmed video");
    assert_no_metadata(&out.bytes, "trimmed video");

    // Only an end: the video plays from the start.
    let out = remuxed(
        input,
        &VideoEdits {
            trim_end_ms: Some(1500),
            ..VideoEdits::default()
        },
    );
    near(out.info.duration_ms, 1500, "end-trimmed duration");
    assert_decodes(&out.bytes, "mp4", "end-trimmed video");
}

#[test]
fn a_muted_video_has_no_sound_track() {
    let out = remuxed(
        phone_mp4(),
        &VideoEdits {
            mute: true,
            ..VideoEdits::default()
        },
    );
    assert!(!out.info.has_audio);
    assert_eq!(out.info.audio_codec, None);
    assert_eq!(stream_types(&ffprobe(&out.bytes)), ["video"]);
    assert_decodes(&out.bytes, "mp4", "muted video");
}

#[test]
fn a_cut_that_leaves_nothing_is_refused() {
    for (start, end) in [(Some(7000), None), (Some(3000), Some(3000))] {
        let edits = VideoEdits {
            trim_start_ms: start,
            trim_end_ms: end,
            mute: false,
        };
        let err = remux(phone_mp4(), &edits).err();
        assert!(
            matches!(err, Some(MediaError::InvalidVideoEdit(_))),
            "{start:?}..{end:?}: {err:?}"
        );
    }
}

#[test]
fn a_mov_stays_a_mov_without_its_camera_tags() {
    let input = camera_mov();
    let info = probed(input);
    assert_eq!(info.container, Container::Mov);
    assert_eq!(info.mime, "video/quicktime");
    assert_eq!(info.video_codec, VideoCodec::H264);
    assert_eq!(info.audio_codec, Some(AudioCodec::Aac));
    assert_eq!(info.rotation, 0);
    near(info.duration_ms, 2000, "duration");
    let out = remuxed(input, &VideoEdits::default());
    assert_eq!(out.info.container, Container::Mov);
    assert_no_metadata(&out.bytes, "MOV");
    assert_decodes(&out.bytes, "mov", "MOV");
    assert_eq!(stream_types(&ffprobe(&out.bytes)), ["video", "audio"]);
}

#[test]
fn hevc_is_recognised_and_remuxed() {
    let input = hevc_mp4();
    let info = probed(input);
    assert_eq!(info.video_codec, VideoCodec::Hevc);
    assert_eq!(info.audio_codec, None);
    assert!(!info.has_audio);
    assert_eq!((info.width, info.height), (320, 240));
    near(info.duration_ms, 2000, "duration");
    let out = remuxed(input, &VideoEdits::default());
    assert_eq!(out.info.video_codec, VideoCodec::Hevc);
    let ff = ffprobe(&out.bytes);
    assert_eq!(ff["streams"][0]["codec_name"].as_str(), Some("hevc"));
    assert_decodes(&out.bytes, "mp4", "HEVC");
    assert_no_metadata(&out.bytes, "HEVC");
}

#[test]
fn a_webm_is_described_and_sent_without_its_tags() {
    let input = vp9_webm();
    let info = probed(input);
    assert_eq!(info.container, Container::WebM);
    assert_eq!(info.mime, "video/webm");
    assert_eq!(info.video_codec, VideoCodec::Vp9);
    assert_eq!(info.audio_codec, Some(AudioCodec::Opus));
    assert_eq!((info.width, info.height), (320, 240));
    near(info.duration_ms, duration_ms(&ffprobe(input)), "duration");
    // A keyframe every second (ffmpeg starts the video 7 ms in, after Opus's pre-skip).
    assert_eq!(info.keyframes_ms.len(), 2, "{:?}", info.keyframes_ms);
    near(info.keyframes_ms[0], 0, "first keyframe");
    near(info.keyframes_ms[1], 1000, "second keyframe");
    assert!(
        tags(&ffprobe(input)).iter().any(|t| t.contains("48.8577")),
        "the fixture carries a location"
    );

    let out = remuxed(input, &VideoEdits::default());
    assert_no_metadata(&out.bytes, "WebM");
    assert_decodes(&out.bytes, "webm", "WebM");
    assert_eq!(stream_types(&ffprobe(&out.bytes)), ["video", "audio"]);
    near(
        out.info.duration_ms,
        info.duration_ms,
        "duration after stripping",
    );
    assert_eq!(out.info.keyframes_ms, info.keyframes_ms);
    assert_eq!(
        video_frames(&out.bytes),
        video_frames(input),
        "every picture is kept"
    );

    let muted = remuxed(
        input,
        &VideoEdits {
            mute: true,
            ..VideoEdits::default()
        },
    );
    assert!(!muted.info.has_audio);
    assert_eq!(muted.info.audio_codec, None);
    assert_eq!(stream_types(&ffprobe(&muted.bytes)), ["video"]);
    assert_decodes(&muted.bytes, "webm", "muted WebM");
    assert_no_metadata(&muted.bytes, "muted WebM");
}

#[test]
fn a_webm_trim_starts_at_the_keyframe_before_the_requested_start() {
    let input = long_webm();
    let info = probed(input);
    near(info.duration_ms, 8000, "the clip's duration");
    assert_eq!(info.keyframes_ms.len(), 8, "{:?}", info.keyframes_ms);
    assert!(
        tags(&ffprobe(input)).iter().any(|t| t.contains("SECRET")),
        "the fixture carries a title"
    );
    let edits = VideoEdits {
        trim_start_ms: Some(2500),
        trim_end_ms: Some(5000),
        mute: false,
    };
    let out = remuxed(input, &edits);
    // Cut from the keyframe at 2.0 s (not 2.5 s) to 5.0 s.
    near(out.info.duration_ms, 3000, "trimmed duration");
    assert_eq!(out.info.keyframes_ms, vec![0, 1000, 2000]);
    assert!(out.info.has_audio);
    let ff = ffprobe(&out.bytes);
    near(duration_ms(&ff), 3000, "ffprobe trimmed duration");
    assert_eq!(start_ms(&ff), 0, "the cut starts at 0");
    assert_eq!(stream_types(&ff), ["video", "audio"]);
    // 30 fps from 2.0 s up to 5.0 s.
    assert_eq!(video_frames(&out.bytes), 90);
    let first = frame_at(&out.bytes, "webm", 0.0);
    assert!(!first.is_empty());
    assert!(
        first == frame_at(input, "webm", 2.0),
        "the trimmed video does not open on the original's picture at 2.0 s"
    );
    assert!(first != frame_at(input, "webm", 2.5));
    assert_decodes(&out.bytes, "webm", "trimmed WebM");
    assert_no_metadata(&out.bytes, "trimmed WebM");
    for needle in [&b"SECRET"[..], b"diary", b"Lavf"] {
        assert!(
            !out.bytes.windows(needle.len()).any(|w| w == needle),
            "the bytes still contain {:?}",
            String::from_utf8_lossy(needle)
        );
    }
    assert!(out.bytes.len() < input.len() / 2, "the rest is left behind");

    // Cut and muted.
    let muted = remuxed(
        input,
        &VideoEdits {
            mute: true,
            ..edits
        },
    );
    assert!(!muted.info.has_audio);
    near(muted.info.duration_ms, 3000, "trimmed muted duration");
    let ff = ffprobe(&muted.bytes);
    assert_eq!(stream_types(&ff), ["video"]);
    near(duration_ms(&ff), 3000, "ffprobe trimmed muted duration");
    assert_decodes(&muted.bytes, "webm", "trimmed muted WebM");

    // Only an end: the video plays from the start, with all of its sound.
    let out = remuxed(
        input,
        &VideoEdits {
            trim_end_ms: Some(1500),
            ..VideoEdits::default()
        },
    );
    near(out.info.duration_ms, 1500, "end-trimmed duration");
    // As in the input, the sound starts Opus's pre-skip (6.5 ms) before the picture.
    assert_eq!(start_ms(&ffprobe(&out.bytes)), start_ms(&ffprobe(input)));
    assert_eq!(video_frames(&out.bytes), 45);
    assert_decodes(&out.bytes, "webm", "end-trimmed WebM");

    // A start just after a keyframe keeps that keyframe.
    let out = remuxed(
        input,
        &VideoEdits {
            trim_start_ms: Some(7010),
            ..VideoEdits::default()
        },
    );
    near(out.info.duration_ms, 1000, "the last second");
    assert_eq!(out.info.keyframes_ms, vec![0]);
    assert_decodes(&out.bytes, "webm", "the last second");
}

#[test]
fn a_webm_cut_that_leaves_nothing_is_refused() {
    for (start, end) in [
        (Some(9000), None),
        (Some(8500), Some(9000)),
        (Some(3000), Some(3000)),
        (Some(4000), Some(2000)),
    ] {
        let edits = VideoEdits {
            trim_start_ms: start,
            trim_end_ms: end,
            mute: false,
        };
        let err = remux(long_webm(), &edits).err();
        assert!(
            matches!(err, Some(MediaError::InvalidVideoEdit(_))),
            "{start:?}..{end:?}: {err:?}"
        );
        assert_eq!(err.map(|e| e.code()), Some(ErrorCode::BadRequest));
    }
}

#[test]
fn a_browser_recording_of_unknown_length_is_read_from_its_frames() {
    let input = live_webm();
    assert!(
        ffprobe(input)["format"]["duration"].as_str().is_none(),
        "the fixture should have no duration in its header"
    );
    let info = probed(input);
    assert_eq!(info.video_codec, VideoCodec::Vp9);
    near(info.duration_ms, 3000, "duration from the frames");
    for edits in [
        VideoEdits::default(),
        VideoEdits {
            mute: true,
            ..VideoEdits::default()
        },
    ] {
        let out = remuxed(input, &edits);
        assert_eq!(out.info.has_audio, !edits.mute);
        assert_decodes(&out.bytes, "webm", "live WebM");
        assert_no_metadata(&out.bytes, "live WebM");
        // What is sent has a length in its header, and every picture.
        near(duration_ms(&ffprobe(&out.bytes)), 3000, "sent duration");
        assert_eq!(video_frames(&out.bytes), video_frames(input));
    }
    // Cut from the keyframe at 1.0 s to 2.5 s.
    let out = remuxed(
        input,
        &VideoEdits {
            trim_start_ms: Some(1500),
            trim_end_ms: Some(2500),
            mute: false,
        },
    );
    near(out.info.duration_ms, 1500, "trimmed live duration");
    let ff = ffprobe(&out.bytes);
    near(duration_ms(&ff), 1500, "ffprobe trimmed live duration");
    assert_eq!(stream_types(&ff), ["video", "audio"]);
    assert_eq!(video_frames(&out.bytes), 38);
    assert_decodes(&out.bytes, "webm", "trimmed live WebM");
}

fn refused(bytes: &[u8]) -> MediaError {
    match probe(bytes) {
        Ok(info) => panic!("accepted: {info:?}"),
        Err(e) => e,
    }
}

#[test]
fn a_video_longer_than_three_minutes_is_refused() {
    // Four minutes at 1 fps and 32×32: a few KiB.
    let input = make(
        "long.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "color=c=blue:size=32x32:rate=1:duration=240",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
        ],
    );
    let err = refused(&input);
    assert!(
        matches!(
            err,
            MediaError::VideoTooLong {
                ms: 240_000,
                max: MAX_VIDEO_MS
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "the video is 240.0 s long, more than the 180 s limit"
    );
    assert_eq!(err.code(), ErrorCode::VideoTooLong);
    assert!(matches!(
        remux(&input, &VideoEdits::default()),
        Err(MediaError::VideoTooLong { .. })
    ));
}

#[test]
fn a_picture_wider_than_the_limit_is_refused() {
    let input = make(
        "wide.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "color=c=red:size=4112x16:rate=1:duration=1",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
        ],
    );
    let err = refused(&input);
    assert!(
        matches!(
            err,
            MediaError::VideoTooLarge {
                width: 4112,
                height: 16
            }
        ),
        "{err:?}"
    );
    const { assert!(4112 > MAX_VIDEO_EDGE) };
    assert_eq!(err.code(), ErrorCode::MediaTooLarge);
}

/// The offset of the width field of the first `avc1` sample entry.
fn avc1_width_at(bytes: &[u8]) -> usize {
    let stsd = bytes
        .windows(4)
        .position(|w| w == b"stsd")
        .expect("an stsd box");
    let at = stsd
        + bytes[stsd..]
            .windows(4)
            .position(|w| w == b"avc1")
            .expect("an avc1 entry");
    // The entry's type is at +4 from its start; width is at +32 from its start.
    at - 4 + 32
}

#[test]
fn zero_dimensions_are_refused() {
    let mut input = phone_mp4().to_vec();
    let at = avc1_width_at(&input);
    input[at..at + 2].copy_from_slice(&[0, 0]);
    let err = refused(&input);
    assert!(matches!(err, MediaError::CorruptVideo(_)), "{err:?}");
}

#[test]
fn files_without_a_picture_or_that_are_not_videos_are_refused_by_content() {
    let audio_only = make(
        "voice.mp4",
        &["-f", "lavfi", "-i", "sine=duration=1", "-c:a", "aac"],
    );
    let err = refused(&audio_only);
    assert!(matches!(err, MediaError::NotAVideo(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        "not a video (an audio file without a picture)"
    );

    // A JPEG someone renamed to .mp4: the name is never consulted.
    let mut jpeg = Vec::new();
    image::RgbImage::new(16, 16)
        .write_to(
            &mut std::io::Cursor::new(&mut jpeg),
            image::ImageFormat::Jpeg,
        )
        .expect("encode JPEG");
    let err = refused(&jpeg);
    assert_eq!(err.to_string(), "not a video (it looks like a JPEG image)");
    assert_eq!(err.code(), ErrorCode::InvalidVideo);

    for junk in [&b""[..], b"hello, world", &[0u8; 64]] {
        assert!(matches!(refused(junk), MediaError::NotAVideo(_)));
    }
}

#[test]
fn unsupported_codecs_and_layouts_are_named() {
    let mpeg4 = make(
        "old.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=64x64:rate=5:duration=1",
            "-c:v",
            "mpeg4",
        ],
    );
    let err = refused(&mpeg4);
    assert!(
        err.to_string()
            .starts_with("the MPEG-4 Part 2 ('mp4v') video codec is not supported"),
        "{err}"
    );

    let two_videos = make(
        "two.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=64x64:rate=5:duration=1",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=32x32:rate=5:duration=1",
            "-map",
            "0:v",
            "-map",
            "1:v",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
        ],
    );
    let err = refused(&two_videos);
    assert!(
        err.to_string().contains("more than one video track"),
        "{err}"
    );

    let h264_mkv = make(
        "h264.mkv",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=64x64:rate=5:duration=1",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
        ],
    );
    let err = refused(&h264_mkv);
    assert!(
        err.to_string()
            .contains("H.264 video codec in a matroska file"),
        "{err}"
    );
    assert_eq!(err.code(), ErrorCode::InvalidVideo);
}

#[test]
fn cut_off_files_are_refused_not_half_read() {
    // ffmpeg writes `moov` last: half a file ends inside the media data...
    let input = phone_mp4();
    let err = refused(&input[..input.len() / 2]);
    assert!(err.to_string().contains("cut off"), "{err}");
    // ...and a file cut just before the tables has complete media but no tables.
    let moov = input
        .windows(4)
        .rposition(|w| w == b"moov")
        .expect("a moov box")
        - 4;
    let err = refused(&input[..moov]);
    assert!(err.to_string().contains("no 'moov' box"), "{err}");

    // With `moov` first, the media data is what is missing.
    let faststart = make(
        "fast.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=64x64:rate=5:duration=2",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-movflags",
            "+faststart",
        ],
    );
    assert!(probe(&faststart).is_ok());
    let err = refused(&faststart[..faststart.len() - 100]);
    assert!(err.to_string().contains("cut off"), "{err}");
    assert_eq!(err.code(), ErrorCode::InvalidVideo);

    let webm = vp9_webm();
    let err = refused(&webm[..webm.len() * 2 / 3]);
    assert!(err.to_string().contains("cut off"), "{err}");
}

#[test]
fn files_over_the_size_limit_are_refused_before_parsing() {
    let big = vec![0u8; natter_media::video::MAX_VIDEO_BYTES + 1];
    let err = refused(&big);
    assert!(matches!(err, MediaError::TooLarge { .. }), "{err:?}");
    assert_eq!(err.code(), ErrorCode::MediaTooLarge);
}

/// Flipped bytes in the tables and truncations anywhere: refused or described, never a panic.
#[test]
fn damaged_files_never_panic() {
    for input in [phone_mp4(), camera_mov(), vp9_webm(), live_webm()] {
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for round in 0..150 {
            let mut bytes = input.to_vec();
            // Half the damage in the first 4 KiB or the last 4 KiB (headers and tables).
            for _ in 0..1 + round % 4 {
                let span = bytes.len().min(4096);
                let at = match next() % 3 {
                    0 => (next() % span as u64) as usize,
                    1 => bytes.len() - 1 - (next() % span as u64) as usize,
                    _ => (next() % bytes.len() as u64) as usize,
                };
                bytes[at] = next() as u8;
            }
            if round % 10 == 0 {
                bytes.truncate((next() % bytes.len() as u64) as usize);
            }
            let _ = probe(&bytes);
            let _ = remux(&bytes, &VideoEdits::default());
            // The cutting paths too: a trim from the middle, muted every other round.
            let cut = VideoEdits {
                trim_start_ms: Some(1200),
                trim_end_ms: Some(1800),
                mute: round % 2 == 0,
            };
            let _ = remux(&bytes, &cut);
            #[cfg(feature = "poster")]
            let _ = natter_media::video::poster(&bytes);
        }
    }
}

#[test]
fn edits_travel_as_snake_case_json() {
    let edits = VideoEdits {
        trim_start_ms: Some(1000),
        trim_end_ms: None,
        mute: true,
    };
    let json = serde_json::to_string(&edits).expect("serialise");
    assert_eq!(
        json,
        r#"{"trim_start_ms":1000,"trim_end_ms":null,"mute":true}"#
    );
    let back: VideoEdits = serde_json::from_str(r#"{"mute":true,"trim_start_ms":1000}"#)
        .expect("missing fields default");
    assert_eq!(back, edits);
}

#[cfg(feature = "poster")]
#[test]
fn the_poster_is_the_first_picture_upright_with_a_thumbnail_and_blurhash() {
    let input = phone_mp4();
    let poster = natter_media::video::poster(input).unwrap_or_else(|e| panic!("poster: {e}"));
    assert_eq!(poster.mime, "image/jpeg");
    // Stored 320×240, shown in portrait.
    assert_eq!((poster.width, poster.height), (240, 320));
    assert_eq!((poster.thumb_width, poster.thumb_height), (240, 320));
    assert!(!poster.blurhash.is_empty());
    let ours = image::load_from_memory(&poster.bytes)
        .expect("the poster decodes")
        .to_luma8();
    let theirs = shown_first_frame(input, "mp4");
    assert_eq!(
        ours.as_raw().len(),
        theirs.len(),
        "ffmpeg shows another size"
    );
    // Same picture, same way up: the decoders differ in contrast (video range conversion), so
    // compare the patterns, not the levels.
    let same = correlation(ours.as_raw(), &theirs);
    let upside_down = correlation(image::imageops::rotate180(&ours).as_raw(), &theirs);
    assert!(
        same > 0.95 && upside_down < 0.8,
        "the poster does not look like ffmpeg's first picture: correlation {same:.2} \
         (upside down {upside_down:.2})"
    );

    assert!(matches!(
        natter_media::video::poster(hevc_mp4()),
        Err(MediaError::UnsupportedVideo(_))
    ));
}

#[cfg(feature = "poster")]
#[test]
fn sampled_frames_spread_over_the_video_upright() {
    // 6 s with a keyframe every second: six keyframes.
    let input = phone_mp4();
    let three = natter_media::video::sampled_frames(input, 3).expect("frames");
    assert_eq!(three.len(), 3);
    for f in &three {
        assert_eq!(f.dimensions(), (240, 320), "shown in portrait");
    }
    let all = natter_media::video::sampled_frames(input, 100).expect("frames");
    assert_eq!(
        all.len(),
        6,
        "every keyframe when there are fewer than asked"
    );
    // testsrc's picture moves: the first and last sampled frames are different pictures,
    // and the first sampled frame is the poster's picture
    assert_ne!(three[0].as_raw(), three[2].as_raw());
    assert_eq!(three[0].as_raw(), all[0].as_raw());
    assert_eq!(three[2].as_raw(), all[5].as_raw());
    assert!(natter_media::video::sampled_frames(input, 0)
        .expect("none asked")
        .is_empty());
    assert!(matches!(
        natter_media::video::sampled_frames(hevc_mp4(), 3),
        Err(MediaError::UnsupportedVideo(_))
    ));
}

#[cfg(feature = "poster")]
fn correlation(a: &[u8], b: &[u8]) -> f64 {
    let n = a.len() as f64;
    let mean = |x: &[u8]| x.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let (ma, mb) = (mean(a), mean(b));
    let (mut ab, mut aa, mut bb) = (0.0, 0.0, 0.0);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (f64::from(x) - ma, f64::from(y) - mb);
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    ab / (aa * bb).sqrt()
}
