"""Terminal output for the CLI: colour on a terminal, plain text when piped or ``NO_COLOR`` is set."""

from __future__ import annotations

import os
import re
import sys
import threading
import time
from typing import IO, List, Optional, Sequence

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def wants_colour(stream: IO[str]) -> bool:
    """Colour only on a terminal, never with ``NO_COLOR`` (https://no-color.org) or ``TERM=dumb``;
    ``FORCE_COLOR`` forces it."""
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    if os.environ.get("TERM") == "dumb":
        return False
    return bool(getattr(stream, "isatty", lambda: False)())


class Style:
    """ANSI styling that turns itself off when colour is not wanted."""

    def __init__(self, stream: Optional[IO[str]] = None, colour: Optional[bool] = None) -> None:
        self.stream = stream or sys.stdout
        self.colour = wants_colour(self.stream) if colour is None else colour

    def paint(self, code: str, s: str) -> str:
        return f"\x1b[{code}m{s}\x1b[0m" if self.colour else s

    def ok(self, s: str) -> str:
        return self.paint("32", s)

    def bad(self, s: str) -> str:
        return self.paint("31", s)

    def warn(self, s: str) -> str:
        return self.paint("33", s)

    def dim(self, s: str) -> str:
        return self.paint("2", s)

    def bold(self, s: str) -> str:
        return self.paint("1", s)


def safe(value: object) -> str:
    """Untrusted text (from a trace, an atlas, an error message naming them) made harmless on a
    terminal: every character that is not printable (ANSI escapes, other control characters,
    newlines, bidi overrides, lone surrogates...) and the backslash itself are shown as Python
    escapes (``\\x1b``, ``\\n``, ``\\u202e``, ``\\\\``), so nothing can paint, move the cursor
    or fake a line."""
    text = value if isinstance(value, str) else str(value)
    if text.isprintable() and "\\" not in text:
        return text
    return "".join(c if c.isprintable() and c != "\\" else c.encode("unicode_escape").decode("ascii") for c in text)


def visible_len(s: str) -> int:
    """Length of ``s`` as displayed (ANSI codes do not count)."""
    return len(_ANSI.sub("", s))


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], st: Style, indent: str = "  ") -> str:
    """A plain-text table whose columns line up whether or not cells are coloured."""
    widths = [visible_len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], visible_len(cell))
    lines: List[str] = []

    def fmt(cells: Sequence[str]) -> str:
        parts = [c + " " * (widths[i] - visible_len(c)) for i, c in enumerate(cells)]
        return (indent + "  ".join(parts)).rstrip()

    lines.append(st.bold(fmt(headers)) if st.colour else fmt(headers))
    lines.append(indent + "  ".join("─" * w if st.colour else "-" * w for w in widths))
    lines.extend(fmt(r) for r in rows)
    return "\n".join(lines)


class Spinner:
    """An activity indicator on stderr for long native calls (only on a terminal)."""

    FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"

    def __init__(self, label: str, total_bytes: int, enabled: bool) -> None:
        self.label = label
        self.total = total_bytes
        self.enabled = enabled
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self.started = time.perf_counter()

    def __enter__(self) -> "Spinner":
        if self.enabled:
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        i = 0
        while not self._stop.wait(0.1):
            elapsed = time.perf_counter() - self.started
            sys.stderr.write(
                f"\r{self.FRAMES[i % len(self.FRAMES)]} {self.label} {human_bytes(self.total)} … {elapsed:.1f} s"
            )
            sys.stderr.flush()
            i += 1

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            sys.stderr.write("\r\x1b[2K")
            sys.stderr.flush()


def human_bytes(n: int) -> str:
    """``1536`` -> ``1.5 KiB``."""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"  # pragma: no cover


def err(msg: str) -> None:
    """An error line on stderr (``error: ...``); ``msg`` is escaped (it often quotes paths and input)."""
    st = Style(sys.stderr)
    sys.stderr.write(f"{st.bad('error')}: {safe(msg)}\n")


def read_request(path: str) -> Optional[bytes]:
    """A request file's bytes (``-``: standard input), or None once the reason is on stderr."""
    try:
        if path == "-":
            return sys.stdin.buffer.read()
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        err(f"cannot read {path}: {e.strerror}")
        return None
