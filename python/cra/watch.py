"""Hot reload: a watcher that reloads an atlas directory when its files change.

``Resolver.watch(path, interval=1.0)`` (or ``Resolver(atlases=[...], watch=True)``) loads the
atlas and starts an :class:`AtlasWatcher`: a daemon thread that polls the modification times,
sizes and inodes of the files of the atlas directory (``atlas.json`` and everything else in it,
except the ``tests/`` folder, hidden files and editor backups) every ``interval`` seconds. When
they change and then stay the same for one more poll (so a file being written is not read half
way), it reloads the directory through the core's loader (``load_atlas_dir``), which is atomic:

- a good edit replaces the atlas in place; resolves and executes see either the old version or
  the new one, never a mix, and revocation is immediate (every execute and fast-path check is
  judged against the atlases loaded now, also for resolutions made before);
- a bad edit (invalid JSON, an unknown field, a missing context file...) changes nothing: the
  old atlas keeps serving, and the problem is reported to ``on_error``, logged on the
  ``cra.watch`` logger and kept in :attr:`AtlasWatcher.errors` (and ``last_error`` until a
  reload succeeds).

Each reload is reported to ``on_reload`` with the :class:`~cra.AtlasInfo` of the load and
logged, and libcra records it in the TRACE: an ``atlas.loaded`` event in the resolver's own
chain (session ``cra:resolver``) with the atlas's version and digest and the replaced one's
(docs/trace.md §1). A bad edit changes nothing and records nothing.

The watcher never keeps the process alive (a daemon thread), holds its resolver weakly, and
stops on ``Resolver.close()`` or :meth:`AtlasWatcher.stop`.
"""

from __future__ import annotations

import collections
import logging
import os
import threading
import time
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Deque, Dict, List, Optional, Tuple

from .errors import CraError, ResolverClosed, ResolverForked
from .results import AtlasInfo

if TYPE_CHECKING:  # pragma: no cover
    from .resolver import Resolver

__all__ = ["AtlasWatcher", "WatchEvent", "fingerprint"]

log = logging.getLogger("cra.watch")

#: Files of an atlas directory that never trigger a reload.
_IGNORED_SUFFIXES = ("~", ".swp", ".swx", ".swo", ".tmp", ".bak")
#: At most this many files are fingerprinted (an atlas directory is small; the rest is ignored).
MAX_FILES = 10_000

Fingerprint = Dict[str, Tuple[int, int, int, int]]


def fingerprint(directory: str) -> Fingerprint:
    """``{relative path: (mtime_ns, ctime_ns, size, inode)}`` of the files of an atlas directory,
    ``tests/`` (policy tests), hidden entries and editor backups excluded."""
    out: Fingerprint = {}
    stack = [""]
    while stack and len(out) < MAX_FILES:
        rel = stack.pop()
        try:
            entries = list(os.scandir(os.path.join(directory, rel) if rel else directory))
        except OSError:
            continue
        for e in entries:
            name = e.name
            if name.startswith(".") or name.endswith(_IGNORED_SUFFIXES):
                continue
            path = f"{rel}/{name}" if rel else name
            try:
                if e.is_dir():
                    if not (rel == "" and name == "tests"):
                        stack.append(path)
                    continue
                st = e.stat()  # follows symlinks: a linked context file counts by its target
            except OSError:
                continue
            out[path] = (st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino)
            if len(out) >= MAX_FILES:
                break
    return out


@dataclass(frozen=True)
class WatchEvent:
    """A reload (``kind == "reloaded"``) or a refused one (``kind == "error"``)."""

    kind: str
    path: str
    #: Files added, removed or modified since the atlas last loaded (relative paths).
    changed: Tuple[str, ...]
    #: The load's answer (reloads only).
    info: Optional[AtlasInfo] = None
    #: Why the reload was refused (errors only); ``error.details`` lists every problem.
    error: Optional[CraError] = None
    #: The atlas id serving after the event (the old one after an error).
    atlas_id: Optional[str] = None
    #: ``time.time()`` of the event.
    at: float = field(default_factory=time.time)
    #: 1 for the first event of this watcher, then 2, 3...
    sequence: int = 0

    def __str__(self) -> str:
        what = ", ".join(self.changed[:5]) + (" ..." if len(self.changed) > 5 else "")
        if self.kind == "reloaded" and self.info is not None:
            return f"reloaded {self.path}: {self.info.atlas_id} {self.info.version} (changed: {what})"
        return f"kept the loaded atlas {self.atlas_id}: reloading {self.path} failed: {self.error} (changed: {what})"


class AtlasWatcher:
    """Polls one atlas directory and reloads it into a resolver when it changes.

    Made by :meth:`cra.Resolver.watch`; see the module documentation. Thread-safe.
    """

    def __init__(
        self,
        resolver: "Resolver",
        path: str,
        atlas_id: str,
        interval: float = 1.0,
        on_reload: Optional[Callable[[WatchEvent], None]] = None,
        on_error: Optional[Callable[[WatchEvent], None]] = None,
        history: int = 64,
        loaded: Optional[Fingerprint] = None,
    ) -> None:
        if not interval > 0:
            raise ValueError(f"interval must be a positive number of seconds, not {interval!r}")
        self.path = path
        self.interval = float(interval)
        self.on_reload = on_reload
        self.on_error = on_error
        self._resolver = weakref.ref(resolver)
        self._atlas_id = atlas_id
        # the files as they were *before* the first load (so an edit made during it is reloaded)
        self._loaded = fingerprint(path) if loaded is None else loaded
        self._candidate: Optional[Fingerprint] = None
        self._stop = threading.Event()
        self._cond = threading.Condition()
        self._poll_lock = threading.Lock()
        self._events: Deque[WatchEvent] = collections.deque(maxlen=history)
        self._errors: Deque[WatchEvent] = collections.deque(maxlen=history)
        self._count = 0
        self._idle = 0
        self._reloads = 0
        self._last_error: Optional[WatchEvent] = None
        self._thread = threading.Thread(target=self._run, name=f"cra-watch:{os.path.basename(path)}", daemon=True)

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> "AtlasWatcher":
        self._thread.start()
        return self

    def stop(self, timeout: Optional[float] = 10.0) -> None:
        """Stops polling and waits (at most ``timeout`` seconds) for the thread to end; a
        reload in progress finishes first. Calling it again does nothing."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        """True while the polling thread runs."""
        return self._thread.is_alive()

    def __enter__(self) -> "AtlasWatcher":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<cra.AtlasWatcher {self.path!r} {self._atlas_id} {state}, {self._reloads} reloads, {len(self._errors)} errors>"

    # -- state -------------------------------------------------------------------------------

    @property
    def atlas_id(self) -> str:
        """The id of the atlas this watcher serves (changes when an edit changes it)."""
        return self._atlas_id

    @property
    def reloads(self) -> int:
        """Successful reloads so far."""
        return self._reloads

    @property
    def events(self) -> List[WatchEvent]:
        """The latest events (reloads and errors), oldest first."""
        with self._cond:
            return list(self._events)

    @property
    def errors(self) -> List[WatchEvent]:
        """The latest refused reloads, oldest first (kept after a later reload succeeds)."""
        with self._cond:
            return list(self._errors)

    @property
    def last_error(self) -> Optional[WatchEvent]:
        """The refused reload whose edit is still on disk: ``None`` once a reload succeeds."""
        return self._last_error

    @property
    def event_count(self) -> int:
        """How many events happened so far (for :meth:`wait_for_event`)."""
        return self._count

    def wait_for_event(self, after: int, timeout: Optional[float] = None) -> Optional[WatchEvent]:
        """Waits until more than ``after`` events happened (``after = watcher.event_count``
        taken before an edit) and returns the newest; ``None`` on timeout or once stopped."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._count <= after:
                if self._stop.is_set():
                    return None
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return None
                self._cond.wait(left)
            return self._events[-1] if self._events else None

    def wait_idle(self, timeout: Optional[float] = None) -> bool:
        """Waits until the watcher has handled every change made to the directory before the
        call (a poll that began after the call found nothing new): then :attr:`events` ends
        with the outcome of the latest edit, if it caused one. False on timeout or once
        stopped. (Deployments and tests use it after writing files; it never waits for more
        than two polls when nothing changes.)"""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            target = self._idle + 2  # the next idle poll may have read the disk before the call
            while self._idle < target:
                if self._stop.is_set():
                    return False
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._cond.wait(left)
        return True

    # -- polling -----------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                if not self.poll():
                    return
            except Exception:  # noqa: BLE001 - the watcher must survive anything; it logs
                log.exception("polling %s failed", self.path)

    def poll(self) -> bool:
        """One poll (the thread calls it every ``interval``; tests and hosts may call it too).
        Returns False when the resolver is gone or closed (the watcher then stops)."""
        with self._poll_lock:
            if self._stop.is_set():
                return False
            resolver = self._resolver()
            if resolver is None or resolver.closed:
                self._stop.set()
                return False
            now = fingerprint(self.path)
            if now == self._loaded:
                self._candidate = None
                with self._cond:
                    self._idle += 1
                    self._cond.notify_all()
                return True
            if now != self._candidate:
                self._candidate = now  # changed: reload when it holds still for one more poll
                return True
            self._candidate = None
            return self._reload(resolver, now)

    def _reload(self, resolver: "Resolver", now: Fingerprint) -> bool:
        changed = tuple(sorted(k for k in set(now) | set(self._loaded) if now.get(k) != self._loaded.get(k)))
        try:
            info = resolver.load_atlas(self.path)
        except (ResolverClosed, ResolverForked):
            self._stop.set()
            return False
        except CraError as e:
            # the load changed nothing: the old atlas keeps serving. The same edit is not
            # retried; the next change on disk is.
            self._loaded = now
            ev = self._record(WatchEvent("error", self.path, changed, error=e, atlas_id=self._atlas_id))
            log.warning("%s", ev)
            for d in e.details[:20]:
                log.warning("  %s: %s: %s", d.pointer or "(document)", d.code, d.message)
            if e.code == "ATLAS_CONFLICT":
                log.warning("  an edit that changes atlas_id but keeps action ids cannot replace the "
                            "loaded atlas in place: unload %s first (or restart)", self._atlas_id)
            self._callback(self.on_error, ev)
            return True
        self._loaded = now
        if info.atlas_id != self._atlas_id:
            old, self._atlas_id = self._atlas_id, info.atlas_id
            try:
                resolver.unload_atlas(old)  # the edit renamed the atlas: the old id is gone from disk
            except CraError:
                pass
        ev = self._record(WatchEvent("reloaded", self.path, changed, info=info, atlas_id=info.atlas_id))
        log.info("%s", ev)
        self._callback(self.on_reload, ev)
        return True

    def _record(self, ev: WatchEvent) -> WatchEvent:
        with self._cond:
            self._count += 1
            ev = _with_sequence(ev, self._count)
            self._events.append(ev)
            if ev.kind == "error":
                self._errors.append(ev)
                self._last_error = ev
            else:
                self._reloads += 1
                self._last_error = None
            self._cond.notify_all()
        return ev

    def _callback(self, fn: Optional[Callable[[WatchEvent], None]], ev: WatchEvent) -> None:
        if fn is None:
            return
        try:
            fn(ev)
        except Exception:  # noqa: BLE001 - a failing callback never stops the watcher
            log.exception("the callback for %s raised", self.path)


def _with_sequence(ev: WatchEvent, n: int) -> WatchEvent:
    return WatchEvent(ev.kind, ev.path, ev.changed, ev.info, ev.error, ev.atlas_id, ev.at, n)
