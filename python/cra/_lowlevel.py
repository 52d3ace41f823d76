"""The C ABI as Python sees it: the loaded library, the ABI check and the one call helper.

Everything that touches native memory lives here. Each helper allocates its out-params, makes
the call (cffi releases the GIL for its duration), turns a failure into the exception its code
selects, and frees the buffer and the error in a ``finally`` whatever happens.

Set ``CRA_LIBRARY=/path/to/libcra.so`` to load another build of libcra than the one inside the
wheel (development and tests; the ABI version is checked all the same).
"""

from __future__ import annotations

import os
from typing import Any, Callable, List, Mapping, NoReturn, Optional, Type, Union

from . import _json
from .errors import CraError, ErrorDetail, InvalidRequest, error_class

try:
    from ._native import ffi as _ffi
    from ._native import lib as _bundled_lib
except ImportError as _e:  # pragma: no cover - only when the package was not built
    raise ImportError(
        "cra: the native library is missing (cra._native). Install the package with "
        "`pip install ./python` (it builds libcra with maturin) rather than importing the "
        f"source tree. ({_e})"
    ) from _e

__all__ = ["ffi", "lib", "ABI_VERSION", "LIBRARY_PATH", "call", "JSON", "BYTES", "NOTHING", "encode", "text"]

#: The C ABI version this package was written for (``CRA_ABI_VERSION`` of ``cra.h``).
ABI_VERSION = 1

ffi: Any = _ffi
lib: Any
LIBRARY_PATH: str

_override = os.environ.get("CRA_LIBRARY")
if _override:
    lib = ffi.dlopen(_override)
    LIBRARY_PATH = _override
else:
    lib = _bundled_lib
    LIBRARY_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_native")


def _check_abi() -> None:
    found = int(lib.cra_abi_version())
    if found != ABI_VERSION:
        raise ImportError(
            f"cra: libcra at {LIBRARY_PATH} has C ABI version {found}, but this Python package "
            f"needs ABI version {ABI_VERSION}. Reinstall the package (`pip install ./python`) so "
            "the library and the Python code come from the same build"
            + (", or unset CRA_LIBRARY" if _override else "")
            + "."
        )


_check_abi()

_NULL = ffi.NULL
_buffer_free = lib.cra_buffer_free
_error_free = lib.cra_error_free
_new = ffi.new
_unpack = ffi.buffer
_loads_view = _json.loads_view

Bytesish = Union[bytes, bytearray, memoryview]


def text(value: Union[str, bytes, "os.PathLike[str]"]) -> bytes:
    """A string argument as UTF-8 bytes (paths go through ``os.fspath``)."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    return os.fspath(value).encode("utf-8")


def encode(
    value: Union[Mapping[str, Any], List[Any], str, Bytesish],
    what: str = "request",
    error: Type[CraError] = InvalidRequest,
) -> bytes:
    """JSON input for the C ABI: text passes through untouched, other values are serialized once.

    A value that cannot be written as JSON raises ``error`` (:class:`~cra.InvalidRequest`) with
    the JSON pointer of the offending value (or dict key) and its type in the message.
    """
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        try:
            return value.encode("utf-8")
        except UnicodeEncodeError as e:
            raise error(f"the {what} is not valid text: {e}", pointer="") from None
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    try:
        return _json.dumps(value)
    except (TypeError, ValueError, OverflowError, RecursionError) as e:
        pointer, bad = _json.locate_unencodable(value)
        where = f" at {pointer}" if pointer else ""
        raise error(f"the {what} cannot be written as JSON: {type(bad).__name__}{where} ({e})", pointer=pointer) from None


def _raise(status: int, err: Any) -> NoReturn:
    """Raises the exception for a failed call; ``err`` is the (possibly NULL) ``CraError*``."""
    if err == _NULL:
        code = ffi.string(lib.cra_status_name(status)).decode("utf-8", "replace")
        raise error_class(code)(f"the call failed with status {code} ({status})", code=code, status=status)
    out = _new("CraBuffer *")
    try:
        if lib.cra_error_json(err, out) == 0 and out.ptr != _NULL:
            env = _loads_view(memoryview(_unpack(out.ptr, out.len)))
        else:  # pragma: no cover - cra_error_json only fails on NULL arguments
            env = {
                "code": ffi.string(lib.cra_error_code_name(err)).decode("utf-8", "replace"),
                "message": ffi.string(lib.cra_error_message(err)).decode("utf-8", "replace"),
            }
    finally:
        _buffer_free(out)
    code = str(env.get("code") or ffi.string(lib.cra_status_name(status)).decode())
    details = [ErrorDetail(str(d.get("code", "")), str(d.get("message", "")), d.get("pointer")) for d in env.get("details") or ()]
    cls = error_class(code)
    exc: CraError = cls(str(env.get("message", "")), code=code, status=status, pointer=env.get("pointer"), details=details)
    raise exc


#: What a call writes: JSON to parse, raw bytes, or nothing (functions without a buffer out-param).
JSON, BYTES, NOTHING = 0, 1, 2


def call(fn: Callable[..., int], *args: Any, output: int = JSON) -> Any:
    """The one way Python calls libcra.

    Calls ``fn(*args, CraBuffer *out, CraError **err)`` (or ``fn(*args, CraError **err)`` with
    ``output=NOTHING``), raises the exception the status code selects (with the error's message,
    pointer and details), and frees the buffer and the error in a ``finally`` whatever happens.
    With ``output=JSON`` the answer is parsed once, straight from native memory (orjson reads it
    without a copy); with ``output=BYTES`` it is copied out as ``bytes``.
    """
    err = _new("CraError **")
    out = None if output == NOTHING else _new("CraBuffer *")
    try:
        status = fn(*args, err) if out is None else fn(*args, out, err)
        if status:
            _raise(status, err[0])
        if out is None:
            return None
        if output == JSON:
            return _loads_view(memoryview(_unpack(out.ptr, out.len)))
        return _unpack(out.ptr, out.len)[:] if out.ptr != _NULL else b""
    finally:
        if out is not None:
            _buffer_free(out)
        if err[0] != _NULL:
            _error_free(err[0])


def native_function(name: str, feature: str) -> Callable[..., int]:
    """A libcra function that an older libcra (or its cffi declarations) may lack, looked up at
    call time; :class:`~cra.CraError` with code ``UNSUPPORTED``, naming the function and the
    feature that needs it, when it is missing."""
    try:
        fn: Callable[..., int] = getattr(lib, name)
    except Exception:  # noqa: BLE001 - cffi raises AttributeError (undeclared) or a lookup error
        raise CraError(
            f"{feature} needs {name}, which the loaded libcra {library_version()} ({LIBRARY_PATH}) "
            "does not provide: install a newer build of the package",
            code="UNSUPPORTED",
        ) from None
    return fn


def library_version() -> str:
    """The version string of the loaded libcra."""
    return str(ffi.string(lib.cra_version()).decode("utf-8"))


def status_name(status: int) -> str:
    """The stable name of a C ABI status value."""
    return str(ffi.string(lib.cra_status_name(status)).decode("utf-8"))


def optional(value: Optional[str]) -> Optional[bytes]:
    return None if value is None else value.encode("utf-8")
