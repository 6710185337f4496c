//! Streaming Ogg Opus writer for live recording: pages reach the output as the audio is
//! produced, so a crash loses at most about a second.

use std::io::Write;

use natter_protocol::limits::VOICE_SAMPLE_RATE;

use crate::error::MediaError;
use crate::ogg_page::{encode_page, lacing_for, segments_for, FLAG_BOS, FLAG_EOS, MAX_SEGMENTS};
use crate::opus_packet::packet_samples;

/// Audio packets per page: 50 packets of 20 ms, one second.
pub const PACKETS_PER_PAGE: usize = 50;
/// Vendor string in the OpusTags header.
const VENDOR: &str = "natter";

/// Streaming Ogg Opus writer (one mono 48 kHz stream, mapping family 0).
///
/// [`new`](Self::new) writes the OpusHead and OpusTags pages at once. Packets are buffered
/// and a page of [`PACKETS_PER_PAGE`] packets (1 s) goes out as soon as the packet after
/// them arrives: the newest packet is always held back, so that [`finish`](Self::finish)
/// has a packet to put on the last page with the end-of-stream flag and the trimmed
/// granule position. At most 1 s of audio is buffered after any call;
/// [`flush_page`](Self::flush_page) writes out everything but the newest packet.
pub struct OggOpusWriter<W: Write> {
    w: W,
    serial: u32,
    sequence: u32,
    pre_skip: u16,
    /// Granule position after the pages already written (samples incl. pre-skip).
    written_granule: u64,
    /// Packets not yet written, with their sample counts.
    pending: Vec<(Vec<u8>, u64)>,
}

impl<W: Write> OggOpusWriter<W> {
    /// Write the two header pages to `w` and return a writer for the audio packets.
    /// `pre_skip` is the encoder's lookahead ([`crate::VoiceEncoder::pre_skip`]).
    pub fn new(w: W, serial: u32, pre_skip: u16) -> Result<Self, MediaError> {
        let mut writer = OggOpusWriter {
            w,
            serial,
            sequence: 0,
            pre_skip,
            written_granule: 0,
            pending: Vec::with_capacity(PACKETS_PER_PAGE + 1),
        };
        let mut head = Vec::with_capacity(19);
        head.extend_from_slice(b"OpusHead");
        head.push(1); // version
        head.push(1); // channels
        head.extend_from_slice(&pre_skip.to_le_bytes());
        head.extend_from_slice(&VOICE_SAMPLE_RATE.to_le_bytes());
        head.extend_from_slice(&0i16.to_le_bytes()); // output gain
        head.push(0); // mapping family 0: mono or stereo, one stream
        writer.write_page(FLAG_BOS, 0, &[&head])?;

        let mut tags = Vec::with_capacity(8 + 4 + VENDOR.len() + 4);
        tags.extend_from_slice(b"OpusTags");
        tags.extend_from_slice(&(VENDOR.len() as u32).to_le_bytes());
        tags.extend_from_slice(VENDOR.as_bytes());
        tags.extend_from_slice(&0u32.to_le_bytes()); // no user comments
        writer.write_page(0, 0, &[&tags])?;
        writer.w.flush()?;
        Ok(writer)
    }

    /// Buffer one audio packet holding `samples` 48 kHz samples (which must match what the
    /// packet's TOC byte says). Writes a page once 50 packets wait behind the newest one.
    pub fn write_packet(&mut self, packet: &[u8], samples: u64) -> Result<(), MediaError> {
        let toc_samples = packet_samples(packet, true)
            .map_err(|why| MediaError::Codec(format!("refusing to write {why}")))?;
        if u64::from(toc_samples) != samples {
            return Err(MediaError::Codec(format!(
                "a packet said to hold {samples} samples holds {toc_samples}"
            )));
        }
        self.pending.push((packet.to_vec(), samples));
        if self.pending.len() > PACKETS_PER_PAGE {
            self.write_pending(PACKETS_PER_PAGE, None)?;
        }
        Ok(())
    }

    /// Write out every buffered packet but the newest as a page, then flush `w`. The caller
    /// may then fsync, so that a crash loses at most one 20 ms packet plus what came after.
    pub fn flush_page(&mut self) -> Result<(), MediaError> {
        let count = self.pending.len().saturating_sub(1);
        self.write_pending(count, None)?;
        self.w.flush()?;
        Ok(())
    }

    /// End the stream: write the remaining packets, the last page flagged end-of-stream
    /// with granule position `pre_skip + total_samples`, so decoders output exactly
    /// `total_samples` (end trimming). `total_samples` must fall within the last packet.
    pub fn finish(mut self, total_samples: u64) -> Result<W, MediaError> {
        let Some((_, last_samples)) = self.pending.last() else {
            return Err(MediaError::NoAudio);
        };
        let end = self.written_granule + self.pending.iter().map(|(_, n)| n).sum::<u64>();
        let final_granule = u64::from(self.pre_skip) + total_samples;
        if final_granule > end || end - final_granule >= *last_samples {
            return Err(MediaError::Codec(format!(
                "finishing with {total_samples} samples, but the packets written hold {} \
                 after the pre-skip of {} (it must fall within the last packet)",
                end.saturating_sub(u64::from(self.pre_skip)),
                self.pre_skip
            )));
        }
        self.write_pending(self.pending.len(), Some(final_granule))?;
        self.w.flush()?;
        Ok(self.w)
    }

    /// The underlying writer (for example to see how much has been written).
    pub fn get_ref(&self) -> &W {
        &self.w
    }

    /// Samples written or buffered so far, including the pre-skip.
    pub fn granule(&self) -> u64 {
        self.written_granule + self.pending.iter().map(|(_, n)| n).sum::<u64>()
    }

    /// Write the first `count` pending packets, as few pages as the 255-segment limit
    /// allows. With `final_granule`, the last page ends the stream at that granule.
    fn write_pending(
        &mut self,
        count: usize,
        final_granule: Option<u64>,
    ) -> Result<(), MediaError> {
        let packets: Vec<(Vec<u8>, u64)> = self.pending.drain(..count).collect();
        let mut start = 0;
        while start < packets.len() {
            let mut end = start;
            let mut segments = 0;
            let mut granule = self.written_granule;
            while end < packets.len()
                && segments + segments_for(packets[end].0.len()) <= MAX_SEGMENTS
            {
                segments += segments_for(packets[end].0.len());
                granule += packets[end].1;
                end += 1;
            }
            // Opus packets are far below 255 segments, so every page takes at least one.
            let end = end.max(start + 1);
            let last_page = end == packets.len();
            let (flags, page_granule) = match final_granule {
                Some(g) if last_page => (FLAG_EOS, g),
                _ => (0, granule),
            };
            let refs: Vec<&[u8]> = packets[start..end]
                .iter()
                .map(|(p, _)| p.as_slice())
                .collect();
            self.write_page(flags, page_granule, &refs)?;
            self.written_granule = granule;
            start = end;
        }
        Ok(())
    }

    fn write_page(&mut self, flags: u8, granule: u64, packets: &[&[u8]]) -> Result<(), MediaError> {
        let mut lacing = Vec::new();
        let mut body = Vec::new();
        for p in packets {
            lacing_for(p.len(), &mut lacing);
            body.extend_from_slice(p);
        }
        if lacing.len() > MAX_SEGMENTS {
            return Err(MediaError::Codec(format!(
                "a {}-byte packet does not fit in one Ogg page",
                body.len()
            )));
        }
        let page = encode_page(flags, granule, self.serial, self.sequence, &lacing, &body);
        self.w.write_all(&page)?;
        self.sequence += 1;
        Ok(())
    }
}
