//! Ogg Opus files (RFC 7845) at the structure level: inspection without decoding, the
//! server's upload check, and repair of recordings cut off by a crash.
//!
//! Nothing here trusts a header's word about duration: the length of a file is the sum of
//! its packets' durations read from their TOC bytes, and the granule positions must agree.

use std::borrow::Cow;

use natter_protocol::limits::{VOICE_MAX_BYTES, VOICE_MAX_MS, VOICE_TOLERANCE_MS};

use crate::error::{samples_as_seconds, samples_to_ms, MediaError};
use crate::ogg_page::{encode_page, parse_page, Page, PageError, CAPTURE, FLAG_EOS, NO_GRANULE};
use crate::opus_packet::packet_samples;

/// What a well-formed Ogg Opus file holds, measured from its packets.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct OpusInfo {
    /// Audio length in milliseconds (rounded to the nearest), from `samples`.
    pub duration_ms: u64,
    /// 48 kHz samples a decoder outputs: after pre-skip and end trimming.
    pub samples: u64,
    pub channels: u8,
    /// The rate the audio had before encoding, as the header says (informational only).
    pub input_sample_rate: u32,
    /// Samples the decoder discards at the start (the encoder's lookahead).
    pub pre_skip: u16,
    /// Size of the file.
    pub bytes: usize,
    /// Whether the stream ends with its end-of-stream page (false for a cut-off recording).
    pub complete: bool,
}

/// The identification header (RFC 7845 §5.1).
#[derive(Debug, Clone)]
pub(crate) struct OpusHead {
    pub channels: u8,
    pub pre_skip: u16,
    pub input_sample_rate: u32,
    /// Output gain in dB, Q7.8.
    pub gain_q8: i16,
    pub streams: u8,
    pub coupled: u8,
    pub mapping: Vec<u8>,
}

/// A parsed stream.
pub(crate) struct Scan<'a> {
    pub head: OpusHead,
    pub pages: Vec<Page<'a>>,
    /// How many of `pages` hold the two header packets.
    pub header_pages: usize,
    /// Every complete audio packet, in order.
    pub packets: Vec<Cow<'a, [u8]>>,
    /// Sum of the audio packets' durations, in 48 kHz samples (pre-skip included).
    pub packet_samples: u64,
    /// Samples in the last audio packet.
    pub last_packet_samples: u64,
    /// Granule position of the last page that has one, past the headers.
    pub last_granule: Option<u64>,
    /// Whether the stream ended with an EOS page.
    pub complete: bool,
}

/// Parse and check structure only (no decoding).
///
/// Pages must carry valid CRCs, follow each other without gaps or foreign bytes, and belong
/// to one logical stream (no chaining, no multiplexing). The first page holds only OpusHead;
/// OpusTags starts on the second page and the page it ends on holds nothing else. Every
/// audio packet must have a valid TOC (RFC 6716 §3.1) and hold at most 120 ms; their sum is
/// the stream's real length. Granule positions may not go backwards; every page but the
/// last must state exactly the packets' running total, and the last may be below the total
/// by less than its last packet (end trimming). Anything else is a lying header.
///
/// A file that ends at a page boundary without an end-of-stream page is accepted with
/// `complete: false`; one that ends mid-page is refused as [`MediaError::Truncated`].
pub fn inspect(bytes: &[u8]) -> Result<OpusInfo, MediaError> {
    let scan = scan(bytes, false)?;
    info_of(&scan, bytes.len())
}

/// What the server runs on an upload. In order: the size limit (before any parsing),
/// [`inspect`], the end-of-stream page, the duration limit (`VOICE_MAX_MS +
/// VOICE_TOLERANCE_MS`, measured from the packets), some audio at all, and 1 or 2 channels
/// (what [`crate::decode`] and the players handle).
pub fn validate_voice_note(bytes: &[u8]) -> Result<OpusInfo, MediaError> {
    if bytes.len() > VOICE_MAX_BYTES {
        return Err(MediaError::TooLarge {
            bytes: bytes.len(),
            max: VOICE_MAX_BYTES,
        });
    }
    let info = inspect(bytes)?;
    if !info.complete {
        return Err(MediaError::Truncated(
            "the stream has no end-of-stream page (the recording or upload was cut off)".into(),
        ));
    }
    let max_samples = u64::from(VOICE_MAX_MS + VOICE_TOLERANCE_MS) * 48;
    if info.samples > max_samples {
        return Err(MediaError::TooLong {
            duration_ms: info.duration_ms,
        });
    }
    if info.samples == 0 {
        return Err(malformed("the voice note holds no audio"));
    }
    if info.channels > 2 {
        return Err(MediaError::Malformed(format!(
            "a voice note has 1 or 2 channels, this one has {}",
            info.channels
        )));
    }
    Ok(info)
}

/// Repair a recording cut off by a crash: keep every complete page, drop a torn tail (a
/// partial page, or a page that fails its checksum, and everything after it), drop a packet
/// left unfinished at the end, and end the stream properly (EOS flag on the last kept page,
/// whose granule position stays). A file that is already complete comes back unchanged,
/// minus any bytes after its end.
///
/// Fails if not even the two header packets are intact, or if a complete page is invalid
/// in a way a crash cannot explain (wrong packets, lying granule positions).
pub fn repair(bytes: &[u8]) -> Result<(Vec<u8>, OpusInfo), MediaError> {
    let scan = scan(bytes, true)?;
    let mut keep = scan.pages.len();
    let (last, lacing_len) = loop {
        let page = &scan.pages[keep - 1];
        if keep <= scan.header_pages || !page.ends_unfinished() {
            break (page, page.lacing.len());
        }
        // Keep the packets that end on this page, drop the one that runs on.
        if let Some(end) = page.lacing.iter().rposition(|&l| l < 255) {
            break (page, end + 1);
        }
        keep -= 1;
    };
    let body_len: usize = last.lacing[..lacing_len]
        .iter()
        .map(|&l| usize::from(l))
        .sum();
    let mut out = Vec::with_capacity(last.offset + last.len);
    out.extend_from_slice(&bytes[..last.offset]);
    out.extend_from_slice(&encode_page(
        last.flags | FLAG_EOS,
        last.granule,
        last.serial,
        last.sequence,
        &last.lacing[..lacing_len],
        &last.body[..body_len],
    ));
    let info = inspect(&out)?;
    Ok((out, info))
}

pub(crate) fn info_of(scan: &Scan<'_>, bytes: usize) -> Result<OpusInfo, MediaError> {
    let pre_skip = u64::from(scan.head.pre_skip);
    let samples = match scan.last_granule {
        None => 0,
        Some(granule) => granule.checked_sub(pre_skip).ok_or_else(|| {
            MediaError::Malformed(format!(
                "the final granule position ({granule}) is smaller than the pre-skip ({pre_skip})"
            ))
        })?,
    };
    Ok(OpusInfo {
        duration_ms: samples_to_ms(samples),
        samples,
        channels: scan.head.channels,
        input_sample_rate: scan.head.input_sample_rate,
        pre_skip: scan.head.pre_skip,
        bytes,
        complete: scan.complete,
    })
}

/// Walk the pages and packets, checking as described on [`inspect`].
///
/// With `tolerant_tail`, once both headers are read, a page that cannot be parsed (torn,
/// bad checksum, foreign stream, gap in sequence) ends the walk instead of failing it, and
/// anything after an end-of-stream page is ignored.
pub(crate) fn scan(bytes: &[u8], tolerant_tail: bool) -> Result<Scan<'_>, MediaError> {
    if !bytes.starts_with(CAPTURE) {
        return Err(MediaError::NotOgg(sniff(bytes)));
    }
    let first = parse_page(bytes, 0).map_err(|e| page_error(e, 0, 0))?;
    let pieces = first.pieces();
    let first_packet = pieces
        .first()
        .map(|(range, _)| &first.body[range.clone()])
        .unwrap_or_default();
    if !first_packet.starts_with(b"OpusHead") {
        return Err(MediaError::NotOpus(codec_name(first_packet)));
    }
    if !first.is_bos() || first.is_continued() {
        return Err(malformed(
            "the first page is not marked as the start of a stream",
        ));
    }
    if pieces.len() != 1 || !pieces[0].1 {
        return Err(malformed(
            "the first page must hold the OpusHead header and nothing else",
        ));
    }
    if first.granule != 0 {
        return Err(malformed(
            "the OpusHead page has a non-zero granule position",
        ));
    }
    if first.is_eos() {
        return Err(malformed("the stream ends after its first header"));
    }
    let head = parse_head(first_packet)?;
    let full_packet_check = head.streams == 1;

    let serial = first.serial;
    // Numbered on from the first page's sequence number (0 in practice, but not required).
    let first_sequence = first.sequence;
    let mut offset = first.len;
    let mut scan = Scan {
        head,
        pages: vec![first],
        header_pages: 1,
        packets: Vec::new(),
        packet_samples: 0,
        last_packet_samples: 0,
        last_granule: None,
        complete: false,
    };
    let mut tags_done = false;
    let mut partial: Option<Vec<u8>> = None;
    let mut prev_granule = 0u64;

    while offset < bytes.len() {
        let sequence = scan.pages.len();
        let page = match parse_page(bytes, offset) {
            Ok(page)
                if page.serial == serial
                    && page.sequence == first_sequence.wrapping_add(sequence as u32) =>
            {
                page
            }
            Ok(_) | Err(_) if tolerant_tail && tags_done => break,
            Err(e) => return Err(page_error(e, offset, sequence)),
            Ok(page) if page.serial != serial => {
                return Err(malformed(if page.is_bos() {
                    "a second logical stream starts in the file: chained or multiplexed Ogg \
                     streams are not accepted"
                } else {
                    "pages of another logical stream are mixed in: multiplexed Ogg streams \
                     are not accepted"
                }))
            }
            Ok(page) => {
                return Err(MediaError::Malformed(format!(
                    "the page sequence number jumps from {} to {}: pages are missing or out of \
                     order",
                    first_sequence.wrapping_add(sequence as u32).wrapping_sub(1),
                    page.sequence
                )))
            }
        };
        if page.is_bos() {
            return Err(MediaError::Malformed(format!(
                "page {sequence} is marked as the start of a stream again"
            )));
        }
        if page.is_continued() != partial.is_some() {
            return Err(MediaError::Malformed(format!(
                "page {sequence} {} a packet from the previous page",
                if page.is_continued() {
                    "claims to continue"
                } else {
                    "does not continue"
                }
            )));
        }
        let pieces = page.pieces();
        let mut ended = 0usize;
        for (index, (range, ends)) in pieces.iter().enumerate() {
            let data = &page.body[range.clone()];
            let packet: Cow<'_, [u8]> = match (partial.take(), ends) {
                (Some(mut buf), true) => {
                    buf.extend_from_slice(data);
                    Cow::Owned(buf)
                }
                (Some(mut buf), false) => {
                    buf.extend_from_slice(data);
                    partial = Some(buf);
                    continue;
                }
                (None, true) => Cow::Borrowed(data),
                (None, false) => {
                    partial = Some(data.to_vec());
                    continue;
                }
            };
            ended += 1;
            if tags_done {
                let n = packet_samples(&packet, full_packet_check).map_err(|why| {
                    MediaError::Malformed(format!(
                        "audio packet {} (on page {sequence}) is {why}",
                        scan.packets.len() + 1
                    ))
                })?;
                scan.packet_samples += u64::from(n);
                scan.last_packet_samples = u64::from(n);
                scan.packets.push(packet);
            } else {
                check_tags(&packet)?;
                tags_done = true;
                scan.header_pages = sequence + 1;
                if index + 1 != pieces.len() {
                    return Err(malformed(
                        "audio data starts on the OpusTags page instead of a page of its own",
                    ));
                }
                if page.granule != 0 {
                    return Err(malformed(
                        "the OpusTags page has a non-zero granule position",
                    ));
                }
            }
        }
        if page.granule == NO_GRANULE {
            if ended > 0 {
                return Err(MediaError::Malformed(format!(
                    "packets end on page {sequence} but it has no granule position"
                )));
            }
        } else if ended == 0 {
            return Err(MediaError::Malformed(format!(
                "page {sequence} has a granule position but no packet ends on it"
            )));
        } else if tags_done && sequence >= scan.header_pages {
            check_granule(&scan, &page, sequence, prev_granule)?;
            prev_granule = page.granule;
            scan.last_granule = Some(page.granule);
        }
        offset += page.len;
        let eos = page.is_eos();
        scan.pages.push(page);
        if eos {
            scan.complete = true;
            break;
        }
    }

    if !tags_done {
        return Err(MediaError::Truncated(
            "the file ends before its OpusTags header is complete".into(),
        ));
    }
    if scan.complete {
        if partial.is_some() {
            return Err(malformed(
                "the last packet is unfinished when the stream ends",
            ));
        }
        if offset < bytes.len() && !tolerant_tail {
            return Err(if bytes[offset..].starts_with(CAPTURE) {
                malformed(
                    "another stream follows the end of this one: chained Ogg files are not \
                     accepted",
                )
            } else {
                MediaError::Malformed(format!(
                    "{} bytes of unexpected data follow the end of the stream",
                    bytes.len() - offset
                ))
            });
        }
        if let Some(granule) = scan.last_granule {
            let pre_skip = u64::from(scan.head.pre_skip);
            let total = scan.packet_samples;
            if granule > total || total - granule >= scan.last_packet_samples.max(1) {
                return Err(MediaError::Malformed(format!(
                    "the granule positions claim {} but the packets hold {} of audio",
                    samples_as_seconds(granule.saturating_sub(pre_skip)),
                    samples_as_seconds(total.saturating_sub(pre_skip)),
                )));
            }
        }
    }
    Ok(scan)
}

/// Granule positions of pages after the headers: never backwards, and exactly the running
/// packet total on every page but the last (the only place end trimming may happen).
fn check_granule(
    scan: &Scan<'_>,
    page: &Page<'_>,
    sequence: usize,
    prev: u64,
) -> Result<(), MediaError> {
    if page.granule > i64::MAX as u64 {
        return Err(MediaError::Malformed(format!(
            "page {sequence} has a negative granule position"
        )));
    }
    // On the last page, going backwards is a lie about the total: reported as such below.
    if page.granule < prev && !page.is_eos() {
        return Err(MediaError::Malformed(format!(
            "granule positions go backwards at page {sequence}"
        )));
    }
    if !page.is_eos() && page.granule != scan.packet_samples {
        let pre_skip = u64::from(scan.head.pre_skip);
        let claimed = samples_as_seconds(page.granule.saturating_sub(pre_skip));
        let held = samples_as_seconds(scan.packet_samples.saturating_sub(pre_skip));
        let (claimed, held) = if claimed == held {
            (
                format!("{} samples", page.granule),
                format!("{} samples", scan.packet_samples),
            )
        } else {
            (claimed, held)
        };
        return Err(MediaError::Malformed(format!(
            "page {sequence}'s granule position claims {claimed} but the packets up to it \
             hold {held} of audio"
        )));
    }
    Ok(())
}

fn parse_head(p: &[u8]) -> Result<OpusHead, MediaError> {
    if p.len() < 19 {
        return Err(malformed("the OpusHead header is too short"));
    }
    let version = p[8];
    if version >> 4 != 0 {
        return Err(MediaError::Malformed(format!(
            "OpusHead version {version} is not supported (only 0.x)"
        )));
    }
    let channels = p[9];
    if channels == 0 {
        return Err(malformed(
            "the OpusHead header says the stream has 0 channels",
        ));
    }
    let pre_skip = u16::from_le_bytes([p[10], p[11]]);
    let input_sample_rate = u32::from_le_bytes([p[12], p[13], p[14], p[15]]);
    let gain_q8 = i16::from_le_bytes([p[16], p[17]]);
    let (streams, coupled, mapping) = match p[18] {
        0 => {
            if channels > 2 {
                return Err(MediaError::Malformed(format!(
                    "channel mapping family 0 allows 1 or 2 channels, not {channels}"
                )));
            }
            (1, channels - 1, (0..channels).collect())
        }
        1 => {
            let table_end = 21 + usize::from(channels);
            if channels > 8 || p.len() < table_end {
                return Err(malformed(
                    "the OpusHead channel mapping table is missing or too large",
                ));
            }
            let (streams, coupled) = (p[19], p[20]);
            let coded = u16::from(streams) + u16::from(coupled);
            if streams == 0 || coupled > streams || coded > 255 {
                return Err(malformed("the OpusHead stream counts are invalid"));
            }
            let mapping = p[21..table_end].to_vec();
            if mapping.iter().any(|&m| m != 255 && u16::from(m) >= coded) {
                return Err(malformed(
                    "the OpusHead channel mapping points at no stream",
                ));
            }
            (streams, coupled, mapping)
        }
        family => {
            return Err(MediaError::Malformed(format!(
                "channel mapping family {family} is not supported"
            )))
        }
    };
    Ok(OpusHead {
        channels,
        pre_skip,
        input_sample_rate,
        gain_q8,
        streams,
        coupled,
        mapping,
    })
}

/// The comment header (RFC 7845 §5.2): magic, then length-prefixed strings that must fit.
fn check_tags(p: &[u8]) -> Result<(), MediaError> {
    if !p.starts_with(b"OpusTags") {
        return Err(malformed("the second packet is not an OpusTags header"));
    }
    let bad = || malformed("the OpusTags header's lengths run past its end");
    let mut pos = 8usize;
    let read_u32 = |pos: &mut usize| -> Result<usize, MediaError> {
        let b = p.get(*pos..*pos + 4).ok_or_else(bad)?;
        *pos += 4;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
    };
    let vendor = read_u32(&mut pos)?;
    pos = pos
        .checked_add(vendor)
        .filter(|&e| e <= p.len())
        .ok_or_else(bad)?;
    let count = read_u32(&mut pos)?;
    for _ in 0..count {
        let len = read_u32(&mut pos)?;
        pos = pos
            .checked_add(len)
            .filter(|&e| e <= p.len())
            .ok_or_else(bad)?;
    }
    Ok(())
}

fn malformed(why: &str) -> MediaError {
    MediaError::Malformed(why.to_string())
}

fn page_error(e: PageError, offset: usize, sequence: usize) -> MediaError {
    match e {
        PageError::NoCapture => MediaError::Malformed(format!(
            "unexpected data at byte {offset}, where page {sequence} should start"
        )),
        PageError::Truncated => MediaError::Truncated(format!(
            "the file ends in the middle of page {sequence} (cut off while recording or \
             uploading)"
        )),
        PageError::Version(v) => {
            MediaError::Malformed(format!("page {sequence} uses Ogg format version {v}"))
        }
        PageError::Flags(f) => MediaError::Malformed(format!(
            "page {sequence} has unknown header flags ({f:#04x})"
        )),
        PageError::Crc => MediaError::Malformed(format!(
            "page {sequence} (at byte {offset}) is corrupt: its checksum does not match"
        )),
    }
}

/// Name the codec of an Ogg stream from its first packet.
fn codec_name(packet: &[u8]) -> String {
    const KNOWN: &[(&[u8], &str)] = &[
        (b"\x01vorbis", "Ogg Vorbis"),
        (b"\x7fFLAC", "Ogg FLAC"),
        (b"Speex   ", "Ogg Speex"),
        (b"\x80theora", "Ogg Theora video"),
        (b"fishead\0", "an Ogg Skeleton stream (usually with video)"),
        (b"PCM     ", "Ogg PCM"),
        (b"CELT    ", "Ogg CELT"),
        (
            b"OpusTags",
            "an Ogg Opus stream without its OpusHead header",
        ),
    ];
    KNOWN
        .iter()
        .find(|(magic, _)| packet.starts_with(magic))
        .map(|(_, name)| (*name).to_string())
        .unwrap_or_else(|| "an Ogg stream of an unknown codec".to_string())
}

/// Say what a non-Ogg file looks like, for the error message.
fn sniff(bytes: &[u8]) -> String {
    let kind = if bytes.is_empty() {
        return "the file is empty".into();
    } else if bytes.starts_with(b"RIFF") && bytes.get(8..12) == Some(b"WAVE") {
        "a WAV file"
    } else if bytes.starts_with(b"\x89PNG") {
        "a PNG image"
    } else if bytes.starts_with(b"\xff\xd8\xff") {
        "a JPEG image"
    } else if bytes.starts_with(b"GIF8") {
        "a GIF image"
    } else if bytes.starts_with(b"ID3") {
        "an MP3 file"
    } else if bytes.starts_with(b"fLaC") {
        "a FLAC file"
    } else if bytes.starts_with(b"\x1a\x45\xdf\xa3") {
        "a WebM or Matroska file"
    } else if bytes.get(4..8) == Some(b"ftyp") {
        "an MP4 or M4A file"
    } else if bytes.starts_with(b"#!AMR") {
        "an AMR file"
    } else {
        let head: Vec<String> = bytes.iter().take(4).map(|b| format!("{b:02x}")).collect();
        return format!("it starts with bytes {}", head.join(" "));
    };
    format!("it looks like {kind}")
}
