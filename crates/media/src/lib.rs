//! File-level media work shared by the app, the CLI and the server: Ogg Opus inspection and
//! validation, encoding, decoding and waveforms. No I/O beyond what a caller hands in.
