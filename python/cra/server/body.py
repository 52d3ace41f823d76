"""Request bodies: read at most ``max_body`` bytes, then decompress at most ``max_decompressed``.

Decompression is streamed in bounded steps, so a small compressed body that expands without end
(a zip bomb) stops at the limit with 413 instead of exhausting memory. ``Content-Encoding`` may
be ``gzip``, ``zstd`` (with the ``zstandard`` package, part of the ``server`` extra) or
``identity``/absent.
"""

from __future__ import annotations

import io
import zlib
from typing import AsyncIterator, Optional

__all__ = ["BodyError", "read_limited", "decompress", "ZSTD_AVAILABLE", "ZSTD_MAX_WINDOW"]

try:
    import zstandard as _zstd
except ImportError:  # pragma: no cover - the server extra installs it
    _zstd = None  # type: ignore[assignment]

ZSTD_AVAILABLE = _zstd is not None
#: Largest zstd window accepted (bounds the decoder's memory; the sink's default levels use far less).
ZSTD_MAX_WINDOW = 8 * 1024 * 1024
_STEP = 256 * 1024


class BodyError(Exception):
    """The body cannot be accepted: ``status`` is 400, 413 or 415."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


async def read_limited(stream: AsyncIterator[bytes], limit: int, declared: Optional[str]) -> bytes:
    """The whole body, or 413 as soon as it passes ``limit`` (Content-Length is checked first)."""
    if declared is not None:
        try:
            n = int(declared)
        except ValueError:
            raise BodyError(400, "bad_request", "Content-Length is not a number") from None
        if n > limit:
            raise BodyError(413, "body_too_large", f"the body ({n} bytes) is over the limit of {limit} bytes")
    buf = bytearray()
    async for chunk in stream:
        buf += chunk
        if len(buf) > limit:
            raise BodyError(413, "body_too_large", f"the body is over the limit of {limit} bytes")
    return bytes(buf)


def decompress(body: bytes, encoding: Optional[str], limit: int) -> bytes:
    """The decompressed body; 413 past ``limit`` bytes, 400 when corrupt, 415 for unknown encodings."""
    enc = (encoding or "identity").strip().lower()
    if enc in ("", "identity"):
        if len(body) > limit:
            raise BodyError(413, "body_too_large", f"the batch is over the limit of {limit} bytes")
        return body
    if enc in ("gzip", "x-gzip"):
        return _gunzip(body, limit)
    if enc == "zstd":
        if _zstd is None:  # pragma: no cover - the server extra installs zstandard
            raise BodyError(415, "unsupported_encoding", "zstd is not available here (pip install zstandard); send gzip")
        return _unzstd(body, limit)
    raise BodyError(415, "unsupported_encoding", f"Content-Encoding {encoding!r} is not supported (gzip, zstd or none)")


def _too_big(limit: int) -> BodyError:
    return BodyError(413, "body_too_large", f"the batch decompresses to more than {limit} bytes")


def _gunzip(body: bytes, limit: int) -> bytes:
    d = zlib.decompressobj(wbits=31)
    out = bytearray()
    data = body
    try:
        while True:
            # at most _STEP bytes out per call: memory stays bounded whatever the ratio
            out += d.decompress(data, _STEP)
            if len(out) > limit:
                raise _too_big(limit)
            data = d.unconsumed_tail
            if d.eof:
                break
            if not data:
                raise BodyError(400, "bad_encoding", "the gzip body is truncated")
        if d.unused_data:
            raise BodyError(400, "bad_encoding", "data after the end of the gzip stream (concatenated members are not accepted)")
    except zlib.error as e:
        raise BodyError(400, "bad_encoding", f"the body is not valid gzip: {e}") from None
    return bytes(out)


def _unzstd(body: bytes, limit: int) -> bytes:
    assert _zstd is not None
    dctx = _zstd.ZstdDecompressor(max_window_size=ZSTD_MAX_WINDOW)
    out = bytearray()
    try:
        with dctx.stream_reader(io.BytesIO(body), read_across_frames=True) as reader:
            while True:
                chunk = reader.read(_STEP)
                if not chunk:
                    break
                out += chunk
                if len(out) > limit:
                    raise _too_big(limit)
    except _zstd.ZstdError as e:
        raise BodyError(400, "bad_encoding", f"the body is not valid zstd: {e}") from None
    if not out and body:
        raise BodyError(400, "bad_encoding", "the zstd body holds no data")
    return bytes(out)
