#!/usr/bin/env python3
"""Feeds raw 48 kHz s16le mono audio into a FIFO at real-time pace, looping the file, for as
long as it runs. Each time the reader (ALSA's file plugin, opened when the app starts
recording) goes away, it waits for the next one. Used by tests/e2e/run.sh.

usage: feed.py RAW_FILE FIFO
"""
import sys
import time

CHUNK = 960 * 2  # 20 ms of 16-bit mono at 48 kHz
PERIOD = 0.020


def main() -> None:
    raw_path, fifo = sys.argv[1], sys.argv[2]
    with open(raw_path, "rb") as f:
        audio = f.read()
    if len(audio) < CHUNK:
        sys.exit(f"{raw_path} holds less than 20 ms of audio")
    pos = 0
    while True:
        try:
            with open(fifo, "wb", buffering=0) as out:  # blocks until a reader opens it
                start = time.monotonic()
                sent = 0
                while True:
                    chunk = audio[pos : pos + CHUNK]
                    if len(chunk) < CHUNK:
                        pos = 0
                        continue
                    out.write(chunk)
                    pos += CHUNK
                    sent += 1
                    delay = start + sent * PERIOD - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
        except BrokenPipeError:
            continue  # the recorder closed the microphone; wait for the next recording


if __name__ == "__main__":
    main()
