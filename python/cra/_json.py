"""JSON at the boundary: orjson when it is installed (about ten times faster), stdlib otherwise.

``dumps`` returns UTF-8 bytes ready for the C ABI; ``loads`` takes bytes, bytearray or
memoryview. Both are chosen once at import, so a call pays no dispatch.
"""

from __future__ import annotations

import json as _std
from typing import Any, Callable, Tuple

__all__ = ["dumps", "dumps_lenient", "loads", "loads_view", "BACKEND", "locate_unencodable"]

dumps: Callable[[Any], bytes]
dumps_lenient: Callable[[Any], bytes]
loads: Callable[[Any], Any]
loads_view: Callable[[memoryview], Any]

try:
    import orjson as _orjson
except ImportError:  # pragma: no cover - exercised in environments without orjson
    BACKEND = "json"
    _encoder = _std.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    _lenient = _std.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=repr)

    def dumps(obj: Any) -> bytes:
        return _encoder.encode(obj).encode("utf-8")

    def dumps_lenient(obj: Any) -> bytes:
        return _lenient.encode(obj).encode("utf-8")

    loads = _std.loads

    def loads_view(view: memoryview) -> Any:
        return _std.loads(bytes(view))

else:
    BACKEND = "orjson"
    _OPT = _orjson.OPT_NON_STR_KEYS

    def dumps(obj: Any) -> bytes:
        return _orjson.dumps(obj, option=_OPT)

    def dumps_lenient(obj: Any) -> bytes:
        return _orjson.dumps(obj, default=repr, option=_OPT)

    loads = _orjson.loads
    loads_view = _orjson.loads


def locate_unencodable(value: Any, pointer: str = "", depth: int = 0) -> Tuple[str, Any]:
    """Where ``dumps(value)`` fails: the JSON pointer and the value (or dict key) it stops at.

    Only called once ``dumps`` has failed, to name the offending value in an error; walks the
    mappings and lists whose encoding fails, down to 64 levels.
    """
    if depth < 64 and isinstance(value, (dict, list, tuple)):
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            if _encodes({key: item} if isinstance(value, dict) else [item]):
                continue
            step = f"{pointer}/{str(key).replace('~', '~0').replace('/', '~1')}"
            if isinstance(value, dict) and _encodes(item):
                return step, key  # the key itself cannot be a JSON object key
            return locate_unencodable(item, step, depth + 1)
    return pointer, value


def _encodes(value: Any) -> bool:
    try:
        dumps(value)
    except (TypeError, ValueError, OverflowError, RecursionError):
        return False
    return True
