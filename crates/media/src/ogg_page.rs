//! Ogg pages (RFC 3533): a strict parser that never skips bytes looking for the next capture
//! pattern, and a page encoder. Written here rather than taken from the `ogg` crate because
//! a validator must refuse what a player would quietly step over (garbage between pages,
//! torn tails), and must say where and why.

use std::ops::Range;

pub(crate) const CAPTURE: &[u8; 4] = b"OggS";
const HEADER_LEN: usize = 27;
pub(crate) const FLAG_CONTINUED: u8 = 0x01;
pub(crate) const FLAG_BOS: u8 = 0x02;
pub(crate) const FLAG_EOS: u8 = 0x04;
/// A page's granule position when no packet ends on it (-1 as a signed 64-bit value).
pub(crate) const NO_GRANULE: u64 = u64::MAX;
/// Most lacing values a page holds.
pub(crate) const MAX_SEGMENTS: usize = 255;

/// One page, borrowed from the file it was parsed from.
#[derive(Debug, Clone)]
pub(crate) struct Page<'a> {
    /// Where the page starts in the file.
    pub offset: usize,
    /// Its total length, header included.
    pub len: usize,
    pub flags: u8,
    pub granule: u64,
    pub serial: u32,
    pub sequence: u32,
    pub lacing: &'a [u8],
    pub body: &'a [u8],
}

/// Why the bytes at an offset are not a good page.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum PageError {
    /// No "OggS" here.
    NoCapture,
    /// The data ends before the page does.
    Truncated,
    /// Stream structure version other than 0.
    Version(u8),
    /// Header flag bits other than continued/BOS/EOS.
    Flags(u8),
    /// The stored CRC does not match the page.
    Crc,
}

impl Page<'_> {
    pub fn is_continued(&self) -> bool {
        self.flags & FLAG_CONTINUED != 0
    }
    pub fn is_bos(&self) -> bool {
        self.flags & FLAG_BOS != 0
    }
    pub fn is_eos(&self) -> bool {
        self.flags & FLAG_EOS != 0
    }
    /// Whether the last packet on the page goes on in the next page.
    pub fn ends_unfinished(&self) -> bool {
        self.lacing.last() == Some(&255)
    }
    /// The byte ranges (within `body`) of the packet pieces on this page, each with whether
    /// the piece ends its packet. The first piece continues the previous page's packet when
    /// the page is flagged continued.
    pub fn pieces(&self) -> Vec<(Range<usize>, bool)> {
        let mut out = Vec::new();
        let mut start = 0;
        let mut pos = 0;
        for &l in self.lacing {
            pos += usize::from(l);
            if l < 255 {
                out.push((start..pos, true));
                start = pos;
            }
        }
        if self.ends_unfinished() {
            out.push((start..pos, false));
        }
        out
    }
}

/// Parse the page starting exactly at `offset`.
pub(crate) fn parse_page(data: &[u8], offset: usize) -> Result<Page<'_>, PageError> {
    let rest = data.get(offset..).unwrap_or_default();
    if rest.len() < CAPTURE.len() {
        return if CAPTURE.starts_with(rest) {
            Err(PageError::Truncated)
        } else {
            Err(PageError::NoCapture)
        };
    }
    if &rest[..4] != CAPTURE {
        return Err(PageError::NoCapture);
    }
    if rest.len() < HEADER_LEN {
        return Err(PageError::Truncated);
    }
    let version = rest[4];
    if version != 0 {
        return Err(PageError::Version(version));
    }
    let flags = rest[5];
    if flags & !(FLAG_CONTINUED | FLAG_BOS | FLAG_EOS) != 0 {
        return Err(PageError::Flags(flags));
    }
    let granule = u64::from_le_bytes(le_bytes(&rest[6..14]));
    let serial = u32::from_le_bytes(le_bytes(&rest[14..18]));
    let sequence = u32::from_le_bytes(le_bytes(&rest[18..22]));
    let stored_crc = u32::from_le_bytes(le_bytes(&rest[22..26]));
    let segments = usize::from(rest[26]);
    let lacing_end = HEADER_LEN + segments;
    let lacing = rest
        .get(HEADER_LEN..lacing_end)
        .ok_or(PageError::Truncated)?;
    let body_len: usize = lacing.iter().map(|&l| usize::from(l)).sum();
    let len = lacing_end + body_len;
    let body = rest.get(lacing_end..len).ok_or(PageError::Truncated)?;
    let mut crc = crc32(0, &rest[..22]);
    crc = crc32(crc, &[0; 4]);
    crc = crc32(crc, &rest[26..len]);
    if crc != stored_crc {
        return Err(PageError::Crc);
    }
    Ok(Page {
        offset,
        len,
        flags,
        granule,
        serial,
        sequence,
        lacing,
        body,
    })
}

fn le_bytes<const N: usize>(s: &[u8]) -> [u8; N] {
    let mut out = [0; N];
    out.copy_from_slice(&s[..N]);
    out
}

/// Lacing values for one whole packet: 255s, then a final value below 255 (possibly 0).
pub(crate) fn lacing_for(len: usize, out: &mut Vec<u8>) {
    out.extend(std::iter::repeat_n(255u8, len / 255));
    // `len % 255` is below 255, so it fits.
    out.push((len % 255) as u8);
}

/// Number of lacing values a whole packet of `len` bytes needs.
pub(crate) fn segments_for(len: usize) -> usize {
    len / 255 + 1
}

/// Encode one page from its lacing values and body (which must agree).
pub(crate) fn encode_page(
    flags: u8,
    granule: u64,
    serial: u32,
    sequence: u32,
    lacing: &[u8],
    body: &[u8],
) -> Vec<u8> {
    debug_assert!(lacing.len() <= MAX_SEGMENTS);
    debug_assert_eq!(
        lacing.iter().map(|&l| usize::from(l)).sum::<usize>(),
        body.len()
    );
    let mut page = Vec::with_capacity(HEADER_LEN + lacing.len() + body.len());
    page.extend_from_slice(CAPTURE);
    page.push(0);
    page.push(flags);
    page.extend_from_slice(&granule.to_le_bytes());
    page.extend_from_slice(&serial.to_le_bytes());
    page.extend_from_slice(&sequence.to_le_bytes());
    page.extend_from_slice(&[0; 4]);
    // Callers never pass more than 255 lacing values.
    page.push(lacing.len().min(MAX_SEGMENTS) as u8);
    page.extend_from_slice(lacing);
    page.extend_from_slice(body);
    let crc = crc32(0, &page);
    page[22..26].copy_from_slice(&crc.to_le_bytes());
    page
}

/// Ogg's CRC-32: polynomial 0x04c11db7, no reflection, initial value 0, no final xor.
pub(crate) fn crc32(mut crc: u32, data: &[u8]) -> u32 {
    for &b in data {
        crc = (crc << 8) ^ CRC_TABLE[usize::from((crc >> 24) as u8 ^ b)];
    }
    crc
}

static CRC_TABLE: [u32; 256] = crc_table();

const fn crc_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut r = (i as u32) << 24;
        let mut bit = 0;
        while bit < 8 {
            r = if r & 0x8000_0000 != 0 {
                (r << 1) ^ 0x04c1_1db7
            } else {
                r << 1
            };
            bit += 1;
        }
        table[i] = r;
        i += 1;
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_crc_detection() {
        let mut lacing = Vec::new();
        lacing_for(300, &mut lacing);
        lacing_for(10, &mut lacing);
        assert_eq!(lacing, vec![255, 45, 10]);
        let body = vec![7u8; 310];
        let mut bytes = encode_page(FLAG_BOS, 42, 9, 0, &lacing, &body);
        let page = parse_page(&bytes, 0).unwrap();
        assert_eq!(page.granule, 42);
        assert_eq!(page.serial, 9);
        assert!(page.is_bos());
        assert_eq!(page.pieces(), vec![(0..300, true), (300..310, true)]);
        assert_eq!(page.len, bytes.len());
        bytes[100] ^= 1;
        assert_eq!(parse_page(&bytes, 0).unwrap_err(), PageError::Crc);
        assert_eq!(
            parse_page(&bytes[..50], 0).unwrap_err(),
            PageError::Truncated
        );
        assert_eq!(parse_page(b"OgX", 0).unwrap_err(), PageError::NoCapture);
        assert_eq!(parse_page(b"Og", 0).unwrap_err(), PageError::Truncated);
    }

    #[test]
    fn crc_matches_a_real_page() {
        // The first page of an Ogg Vorbis file (from the `ogg` crate's tests).
        let page: [u8; 58] = [
            0x4f, 0x67, 0x67, 0x53, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x74, 0xa3, 0x90, 0x5b, 0x00, 0x00, 0x00, 0x00, 0x6d, 0x94, 0x4e, 0x3d, 0x01, 0x1e,
            0x01, 0x76, 0x6f, 0x72, 0x62, 0x69, 0x73, 0x00, 0x00, 0x00, 0x00, 0x02, 0x44, 0xac,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80, 0xb5, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,
            0xb8, 0x01,
        ];
        let parsed = parse_page(&page, 0).unwrap();
        assert_eq!(parsed.body.len(), 30);
    }
}
