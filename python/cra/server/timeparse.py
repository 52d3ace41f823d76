"""Times in query parameters: RFC 3339 (``2026-11-25T12:00:00Z``) or a duration before now
(``90s``, ``15m``, ``24h``, ``7d``)."""

from __future__ import annotations

import re
import time
from typing import Optional

from .events import timestamp_us

__all__ = ["parse_time", "TimeError"]

_REL = re.compile(r"^(\d{1,9})([smhdw])$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class TimeError(ValueError):
    """A time parameter that is neither RFC 3339 nor a duration."""


def parse_time(value: Optional[str], name: str, now_us: Optional[int] = None) -> Optional[int]:
    """Microseconds since the epoch, or None when ``value`` is None/empty."""
    if value is None or value == "":
        return None
    m = _REL.match(value.strip())
    if m:
        now = now_us if now_us is not None else time.time_ns() // 1000
        return now - int(m.group(1)) * _UNIT[m.group(2)] * 1_000_000
    try:
        v = value.strip()
        if len(v) == 10:  # a date alone
            v += "T00:00:00Z"
        return timestamp_us(v)
    except (ValueError, OverflowError):
        raise TimeError(f"{name} must be RFC 3339 (2026-11-25T12:00:00Z) or a duration like 24h or 7d") from None
