//! Opus packet framing (RFC 6716 §3): how much audio a packet holds, read from its TOC byte
//! (and frame-count byte), without decoding. Also checks the framing is self-consistent
//! (§3.4, rules R1–R7) for single-stream packets.

/// Largest duration one packet may hold: 120 ms at 48 kHz.
pub(crate) const MAX_PACKET_SAMPLES: u32 = 5760;
/// Largest compressed frame.
const MAX_FRAME_BYTES: usize = 1275;

/// 48 kHz samples in one frame for a TOC byte's configuration number (Table 2).
fn frame_samples(toc: u8) -> u32 {
    let config = toc >> 3;
    match config {
        // SILK-only: 10, 20, 40, 60 ms.
        0..=11 => [480, 960, 1920, 2880][usize::from(config % 4)],
        // Hybrid: 10, 20 ms.
        12..=15 => [480, 960][usize::from(config % 2)],
        // CELT-only: 2.5, 5, 10, 20 ms.
        _ => [120, 240, 480, 960][usize::from(config % 4)],
    }
}

/// The 48 kHz sample count of an Opus packet, or why it is not a valid packet.
///
/// `full_check` also validates the frame lengths, which only applies to packets of a
/// single Opus stream (multistream packets put self-delimited packets first).
pub(crate) fn packet_samples(packet: &[u8], full_check: bool) -> Result<u32, String> {
    let (&toc, rest) = packet
        .split_first()
        .ok_or_else(|| "an empty audio packet".to_string())?;
    let per_frame = frame_samples(toc);
    let frames = match toc & 0x3 {
        0 => {
            if full_check && rest.len() > MAX_FRAME_BYTES {
                return Err(format!("a {}-byte frame (at most 1275)", rest.len()));
            }
            1
        }
        1 => {
            if full_check && (rest.len() % 2 != 0 || rest.len() / 2 > MAX_FRAME_BYTES) {
                return Err("two equal frames of unequal or too large size".into());
            }
            2
        }
        2 => {
            if full_check {
                let (first, used) = frame_length(rest)
                    .ok_or_else(|| "a two-frame packet missing its length byte".to_string())?;
                let remaining = rest.len() - used;
                if first > remaining || remaining - first > MAX_FRAME_BYTES {
                    return Err("a two-frame packet whose lengths do not fit".into());
                }
            }
            2
        }
        _ => {
            let (&count_byte, after) = rest
                .split_first()
                .ok_or_else(|| "a multi-frame packet missing its frame count".to_string())?;
            let count = u32::from(count_byte & 0x3f);
            if count == 0 {
                return Err("a packet with zero frames".into());
            }
            if count * per_frame > MAX_PACKET_SAMPLES {
                return Err(format!(
                    "a packet of {count} frames holding {} ms (at most 120 ms)",
                    count * per_frame / 48
                ));
            }
            if full_check {
                check_code3(count_byte, count as usize, after)?;
            }
            count
        }
    };
    Ok(frames * per_frame)
}

/// A frame length (§3.2.1): one byte below 252, else two bytes. Returns (length, bytes used).
fn frame_length(data: &[u8]) -> Option<(usize, usize)> {
    let first = usize::from(*data.first()?);
    if first < 252 {
        Some((first, 1))
    } else {
        let second = usize::from(*data.get(1)?);
        Some((first + 4 * second, 2))
    }
}

fn check_code3(count_byte: u8, count: usize, mut data: &[u8]) -> Result<(), String> {
    let vbr = count_byte & 0x80 != 0;
    let padded = count_byte & 0x40 != 0;
    let mut padding = 0usize;
    if padded {
        loop {
            let (&b, rest) = data
                .split_first()
                .ok_or_else(|| "a packet whose padding length runs off its end".to_string())?;
            data = rest;
            if b == 255 {
                padding += 254;
            } else {
                padding += usize::from(b);
                break;
            }
        }
    }
    let mut lengths_total = 0usize;
    if vbr {
        for _ in 1..count {
            let (len, used) = frame_length(data)
                .ok_or_else(|| "a packet whose frame lengths run off its end".to_string())?;
            if len > MAX_FRAME_BYTES {
                return Err(format!("a {len}-byte frame (at most 1275)"));
            }
            data = &data[used..];
            lengths_total += len;
        }
    }
    let payload = data
        .len()
        .checked_sub(padding)
        .ok_or_else(|| "a packet with more padding than data".to_string())?;
    if vbr {
        let last = payload
            .checked_sub(lengths_total)
            .ok_or_else(|| "a packet whose frame lengths exceed its size".to_string())?;
        if last > MAX_FRAME_BYTES {
            return Err(format!("a {last}-byte frame (at most 1275)"));
        }
    } else if payload % count != 0 || payload / count > MAX_FRAME_BYTES {
        return Err("a constant-bitrate packet whose size does not divide into its frames".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_from_toc() {
        // CELT 20 ms (config 31), one frame.
        assert_eq!(packet_samples(&[31 << 3, 1, 2, 3], true), Ok(960));
        // SILK 60 ms (config 3), two equal frames.
        assert_eq!(packet_samples(&[(3 << 3) | 1, 1, 2], true), Ok(5760));
        // Hybrid 10 ms (config 12), code 2 with first frame of 1 byte.
        assert_eq!(packet_samples(&[(12 << 3) | 2, 1, 9, 9], true), Ok(960));
        // CELT 2.5 ms (config 16), code 3, CBR, 6 frames of 1 byte.
        assert_eq!(
            packet_samples(&[(16 << 3) | 3, 6, 1, 1, 1, 1, 1, 1], true),
            Ok(720)
        );
        // Code 3 VBR with padding: 2 frames, padding 2, first frame 1 byte.
        assert_eq!(
            packet_samples(&[(31 << 3) | 3, 0x80 | 0x40 | 2, 2, 1, 5, 6, 0, 0], true),
            Ok(1920)
        );
    }

    #[test]
    fn invalid_packets() {
        assert!(packet_samples(&[], true).is_err());
        // Code 3 without a count byte, or zero frames.
        assert!(packet_samples(&[(31 << 3) | 3], false).is_err());
        assert!(packet_samples(&[(31 << 3) | 3, 0], false).is_err());
        // 7 frames of 20 ms = 140 ms.
        assert!(packet_samples(&[(31 << 3) | 3, 7, 0, 0, 0, 0, 0, 0, 0], false).is_err());
        // Code 1 with an odd payload.
        assert!(packet_samples(&[(31 << 3) | 1, 1, 2, 3], true).is_err());
        // Code 2 whose first frame is longer than the packet.
        assert!(packet_samples(&[(31 << 3) | 2, 9, 1], true).is_err());
        // Code 3 CBR whose payload does not divide.
        assert!(packet_samples(&[(31 << 3) | 3, 2, 1, 2, 3], true).is_err());
    }
}
