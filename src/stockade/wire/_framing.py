"""Length-prefixed frames, sans I/O: a 4-byte big-endian length, then that many bytes.

``FrameReader.feed`` takes whatever bytes arrived and returns the complete frames; a declared length
above the limit is a protocol error at once, before any of the frame is buffered.
"""

from __future__ import annotations

from stockade.wire._errors import Oversize

HEADER = 4


def frame(payload: bytes) -> bytes:
    return len(payload).to_bytes(HEADER, "big") + payload


class FrameReader:
    def __init__(self, max_frame: int) -> None:
        self.max_frame = max_frame
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        buf = self._buffer
        buf += data
        frames: list[bytes] = []
        start = 0
        while len(buf) - start >= HEADER:
            size = int.from_bytes(buf[start : start + HEADER], "big")
            if size > self.max_frame:
                raise Oversize(f"frame of {size} bytes exceeds {self.max_frame}")
            end = start + HEADER + size
            if end > len(buf):
                break
            frames.append(bytes(buf[start + HEADER : end]))
            start = end
        del buf[:start]
        return frames

    @property
    def pending(self) -> int:
        """Bytes of an incomplete frame held back."""
        return len(self._buffer)
