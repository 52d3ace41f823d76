"""The resolver: atlases, resolutions, tool authorization, approvals, sessions and the trace."""

from __future__ import annotations

import atexit
import hashlib
import math
import os
import threading
import weakref
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    Dict,
    Iterable,
    List,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    Union,
    overload,
)

from . import _json
from ._lowlevel import BYTES, NOTHING, call, encode, ffi, lib, text
from .errors import CraError, InvalidConfig, InvalidRequest, ResolverClosed, ResolverForked, ResolverPoisoned
from .conversation import bind
from .governed import GovernedTool, P, R, Session, govern
from .results import AtlasInfo, Authorization, Resolution, Verdict

# The import graph points one way: resolver -> governed -> calls/conversation/results. governed,
# calls and conversation name the Resolver class in annotations only (under TYPE_CHECKING).
if TYPE_CHECKING:  # pragma: no cover
    from typing import Collection

    from .watch import AtlasWatcher, WatchEvent

__all__ = ["Resolver", "PathLike", "JSONInput", "unencodable"]

PathLike = Union[str, "os.PathLike[str]"]
#: A JSON document given as a mapping (serialized once), or as JSON text (passed through).
JSONInput = Union[Mapping[str, Any], str, bytes]

_MISSING: Any = object()
_VERDICTS = (
    Verdict.ALLOWED,
    Verdict.DENIED,
    Verdict.PENDING_APPROVAL,
    Verdict.RATE_LIMITED,
    Verdict.NO_RESOLUTION,
)


class _ExitState:
    exiting = False


def _release(ptr: Any, pid: int) -> None:
    """Finalizer: closes (flushing the trace, errors ignored) and frees a native resolver.

    At interpreter exit, daemon threads may still be inside a call on the handle, so the trace is
    flushed and closed but the memory is left to the operating system (freeing it could pull it
    from under such a thread). A handle inherited through ``fork()`` (created in process ``pid``)
    is never touched: its trace thread is not in this process, so flushing it would wait for
    nothing; it is leaked.
    """
    if os.getpid() != pid:
        return
    if _ExitState.exiting:
        lib.cra_resolver_close(ptr, ffi.NULL)
    else:
        lib.cra_resolver_free(ptr)


def _mark_exiting() -> None:
    _ExitState.exiting = True


# weakref.finalize registers its own exit hook on first use; make sure it exists before ours, so
# that ours (atexit runs last-registered first) marks the exit before any finalizer runs.
weakref.finalize(_ExitState, lambda: None)
atexit.register(_mark_exiting)

#: Every resolver alive in this process (open or closed), so that a fork can mark them all as inherited.
_LIVE: "weakref.WeakSet[Resolver]" = weakref.WeakSet()


def _after_fork_in_child() -> None:
    """``os.register_at_fork`` hook: the resolvers a child inherits cannot work there (their
    trace thread stayed in the parent), so every later call on them raises
    :class:`~cra.ResolverForked`, and no finalizer or exit hook calls into libcra for them."""
    for r in list(_LIVE):
        r._mark_inherited()
    _LIVE.clear()


if hasattr(os, "register_at_fork"):  # POSIX; Windows has no fork
    os.register_at_fork(after_in_child=_after_fork_in_child)


class Resolver:
    """An in-process CRA resolver. Thread-safe: share one between threads.

    >>> with cra.Resolver() as r:
    ...     r.load_atlas("examples/atlases/customer-support")
    ...     res = r.resolve(agent="support-bot-1", session="s-42", goal="refund ORD-1234")
    ...     res.decision, res.allowed

    Args:
        config: resolver configuration (a mapping, or JSON text); see ``docs/python.md``.
            Keyword options below are merged over it.
        trace_file: write TRACE events to this JSONL file (appended; repaired and continued
            after a crash). Default: events stay in memory until :meth:`drain_trace`.
        deterministic: ``True``, a seed (int) or a mapping ``{"seed", "start", "step_us"}``:
            ids from a seeded counter and a stepping clock (tests, replay, conformance).
        resolution_ttl: lifetime of a resolution in seconds (default 300, max 86400).
        approval_timeout: seconds to decide an approval when its policy does not say (3600).
        trace: further trace options (``overflow``, ``fsync``, ``capacity``...), merged into the
            ``trace`` section.
        atlases: atlases to load at once (paths, mappings or JSON text).
        watch: ``True`` or a poll interval in seconds: the ``atlases`` given as paths are
            loaded with :meth:`watch` (reloaded when their files change) instead.

    The native handle is freed when the object is garbage collected; :meth:`close` (or leaving
    a ``with`` block) flushes the trace first and makes later calls raise
    :class:`~cra.ResolverClosed`. A finalizer flushes and frees as a backstop.

    A resolver does not survive ``os.fork()``: in the child every call on an inherited resolver
    raises :class:`~cra.ResolverForked` (``close()`` does nothing) and its handle is leaked, never
    flushed. Create a new resolver in the child.
    """

    __slots__ = ("_ptr", "_closed", "_forked", "_pid", "_finalizer", "_requests", "_lock", "_watchers", "config", "__weakref__")

    def __init__(
        self,
        config: Optional[JSONInput] = None,
        *,
        trace_file: Optional[PathLike] = None,
        deterministic: Union[None, bool, int, Mapping[str, Any]] = None,
        resolution_ttl: Optional[int] = None,
        approval_timeout: Optional[int] = None,
        trace: Optional[Mapping[str, Any]] = None,
        atlases: Iterable[Union[PathLike, Mapping[str, Any]]] = (),
        watch: Union[bool, float] = False,
    ) -> None:
        self._ptr: Any = None
        self._watchers: List["AtlasWatcher"] = []
        self._closed = True
        self._forked = False
        self._pid = os.getpid()
        cfg = _config_object(config)
        if deterministic is not None and deterministic is not False:
            if deterministic is True:
                cfg["deterministic"] = {}
            elif isinstance(deterministic, int):
                cfg["deterministic"] = {"seed": deterministic}
            elif isinstance(deterministic, Mapping):
                cfg["deterministic"] = dict(deterministic)
            else:
                raise InvalidConfig(
                    f"deterministic must be True, a seed or a mapping, not {type(deterministic).__name__} {deterministic!r}",
                    pointer="/deterministic",
                )
        if resolution_ttl is not None:
            cfg["resolution_ttl_seconds"] = resolution_ttl
        if approval_timeout is not None:
            cfg["approval_timeout_seconds"] = approval_timeout
        if trace_file is not None or trace:
            t = _section(cfg.get("trace"), "/trace", "the config's trace section")
            t.update(_section(trace, "/trace", "trace="))
            if trace_file is not None:
                t["sink"] = "file"
                try:
                    t["path"] = os.fspath(trace_file)
                except TypeError:
                    raise InvalidConfig(
                        f"trace_file must be a path, not {type(trace_file).__name__} {trace_file!r}", pointer="/trace/path"
                    ) from None
            cfg["trace"] = t
        #: The configuration the resolver was created with (wire JSON).
        self.config: Dict[str, Any] = cfg
        raw = encode(cfg, "config", InvalidConfig)
        out = ffi.new("CraResolver **")
        call(lib.cra_resolver_new, raw, len(raw), out, output=NOTHING)
        self._ptr = out[0]
        self._closed = False
        self._finalizer = weakref.finalize(self, _release, self._ptr, self._pid)
        _LIVE.add(self)
        # session id -> (agent id, the request of that resolution without its request id): what a
        # governed tool resolves again when the resolution expired (see cra.calls.authorize).
        self._requests: Dict[str, Tuple[str, Dict[str, Any]]] = {}
        self._lock = threading.Lock()
        interval = 1.0 if watch is True else float(watch) if watch else 0.0
        for a in atlases:
            if interval and not isinstance(a, (Mapping, bytes)) and not (isinstance(a, str) and a.lstrip().startswith("{")):
                self.watch(a, interval=interval)
            else:
                self.load_atlas(a)

    # -- lifecycle ---------------------------------------------------------------------------

    def _handle(self) -> Any:
        ptr = self._ptr
        if self._closed:
            raise self._unusable()
        return ptr

    def _unusable(self) -> CraError:
        """The exception for a call on a closed (or inherited) resolver."""
        if self._forked:
            return ResolverForked(
                f"this resolver was created in process {self._pid} and inherited through fork() by "
                f"process {os.getpid()}, where it cannot work: create a new Resolver in this process",
                code="RESOLVER_FORKED",
            )
        return ResolverClosed("the resolver is closed", code="CLOSED")

    def _mark_inherited(self) -> None:
        """In a forked child: refuse every later call and leak the handle (see :func:`_after_fork_in_child`)."""
        self._forked = True
        self._closed = True
        self._lock = threading.Lock()  # the parent's may have been held by a thread not copied here
        self._finalizer.detach()

    @property
    def closed(self) -> bool:
        """True after :meth:`close`, and in a child for a resolver inherited through ``fork()``."""
        return self._closed

    def close(self) -> None:
        """Flushes the trace (raising if it cannot be written) and closes the resolver.

        Later calls raise :class:`~cra.ResolverClosed`. Calling it again is a no-op, and so is
        calling it on a resolver inherited through ``fork()``.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            watchers, self._watchers = self._watchers, []
        for w in watchers:
            w.stop()
        try:
            call(lib.cra_resolver_close, self._ptr, output=NOTHING)
        except ResolverPoisoned:
            pass  # nothing can be flushed from a poisoned handle; the finalizer frees it

    def __enter__(self) -> "Resolver":
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if exc_type is None:
            self.close()
            return
        try:
            self.close()
        except CraError:
            pass  # never mask the exception leaving the block

    def __repr__(self) -> str:
        state = "inherited through fork" if self._forked else "closed" if self._closed else "open"
        return f"<cra.Resolver {state}>"

    # -- atlases -----------------------------------------------------------------------------

    def load_atlas(self, atlas: Union[PathLike, Mapping[str, Any], bytes]) -> AtlasInfo:
        """Loads (or replaces) an atlas and returns what was loaded.

        ``atlas`` is a directory holding ``atlas.json``, a path to an ``atlas.json`` file, a
        mapping (the atlas document), or JSON text (a ``str`` starting with ``{``, or bytes).
        Raises :class:`~cra.InvalidAtlas` listing every problem in ``details`` (the resolver
        keeps what it had: a load is atomic) or :class:`~cra.CraIOError`.
        """
        r = self._handle()
        if isinstance(atlas, Mapping) or isinstance(atlas, bytes):
            doc = encode(atlas, "atlas")
            return AtlasInfo(call(lib.cra_resolver_load_atlas, r, doc, len(doc)))
        if isinstance(atlas, str) and atlas.lstrip().startswith("{"):
            doc = atlas.encode("utf-8")
            return AtlasInfo(call(lib.cra_resolver_load_atlas, r, doc, len(doc)))
        path = os.fspath(atlas)
        if os.path.isfile(path):
            if os.path.basename(path) == "atlas.json":
                path = os.path.dirname(os.path.abspath(path))
            else:
                with open(path, "rb") as f:
                    doc = f.read()
                return AtlasInfo(call(lib.cra_resolver_load_atlas, r, doc, len(doc)))
        p = text(path)
        return AtlasInfo(call(lib.cra_resolver_load_atlas_dir, r, p, len(p)))

    def load_shadow(self, atlas: Union[PathLike, Mapping[str, Any], bytes, str]) -> AtlasInfo:
        """Loads a candidate atlas as the *shadow* of the live atlas with the same ``atlas_id``:
        every resolve and execute is also judged by it, the live decision is enforced, and each
        difference is recorded in the trace (``policy.shadow_diff``) and counted in
        ``stats()["shadow_diffs"]``. ``atlas`` as in :meth:`load_atlas`. Raises
        :class:`~cra.InvalidAtlas` or :class:`~cra.AtlasNotFound` (no live atlas with that id)."""
        r = self._handle()
        if isinstance(atlas, (Mapping, bytes)) or (isinstance(atlas, str) and atlas.lstrip().startswith("{")):
            doc = encode(atlas, "atlas")
            return AtlasInfo(call(lib.cra_resolver_load_shadow, r, doc, len(doc)))
        p = text(atlas)
        return AtlasInfo(call(lib.cra_resolver_load_shadow_dir, r, p, len(p)))

    def watch(
        self,
        path: PathLike,
        interval: float = 1.0,
        *,
        on_reload: Optional[Callable[["WatchEvent"], None]] = None,
        on_error: Optional[Callable[["WatchEvent"], None]] = None,
    ) -> "AtlasWatcher":
        """Loads the atlas directory ``path`` and reloads it whenever its files change (polled
        every ``interval`` seconds; ``tests/`` excluded), atomically: a bad edit keeps the old
        atlas serving and is reported to ``on_error``, the ``cra.watch`` logger and the
        watcher's ``errors``; a reload is reported to ``on_reload``. The returned
        :class:`~cra.watch.AtlasWatcher` runs in a daemon thread until :meth:`close` (or its
        ``stop()``). The first load raises like :meth:`load_atlas`. See ``cra/watch.py``."""
        from .watch import AtlasWatcher, fingerprint

        if not interval > 0:
            raise ValueError(f"interval must be a positive number of seconds, not {interval!r}")
        directory = os.fspath(path)
        if os.path.isfile(directory):
            directory = os.path.dirname(os.path.abspath(directory))
        before = fingerprint(directory)  # taken first: an edit made while loading is reloaded
        info = self.load_atlas(directory)
        w = AtlasWatcher(self, directory, info.atlas_id, interval, on_reload=on_reload, on_error=on_error, loaded=before)
        with self._lock:
            if self._closed:
                raise self._unusable()
            self._watchers.append(w)
        return w.start()

    @property
    def watchers(self) -> List["AtlasWatcher"]:
        """The running atlas watchers (see :meth:`watch`)."""
        return list(self._watchers)

    def unload_shadow(self, atlas_id: str) -> Dict[str, Any]:
        """Unloads the shadow of ``atlas_id`` (:class:`~cra.AtlasNotFound` when none)."""
        b = text(atlas_id)
        out: Dict[str, Any] = call(lib.cra_resolver_unload_shadow, self._handle(), b, len(b))
        return out

    def unload_atlas(self, atlas_id: str) -> Dict[str, Any]:
        """Unloads an atlas by id (:class:`~cra.AtlasNotFound` when none has it) and returns
        ``{"atlas_id", "unloaded": True}``. Revocation is immediate: its actions are denied
        from the next call on, in resolutions made before as well."""
        b = text(atlas_id)
        out: Dict[str, Any] = call(lib.cra_resolver_unload_atlas, self._handle(), b, len(b))
        return out

    def explain(
        self,
        request: JSONInput,
        action_id: str,
    ) -> Dict[str, Any]:
        """Why ``action_id`` gets its verdict for a resolve ``request`` (a mapping or JSON text),
        judged against the atlases loaded now: every policy of the action's atlas in ladder
        order with ``pattern_matched``, each condition (``held``, ``expected``, ``saw``),
        ``applies``, ``decided`` and a ``note``; plus ``verdict``, ``reason_code`` and
        ``policy_id``. Records and consumes nothing (not for the hot path).

        Raises :class:`~cra.InvalidRequest` (pointer ``/action_id`` when no loaded atlas
        declares the action) or :class:`~cra.AtlasNotFound`."""
        body = encode(request)
        a = text(action_id)
        out: Dict[str, Any] = call(lib.cra_resolver_explain, self._handle(), body, len(body), a, len(a))
        return out

    # -- resolve -----------------------------------------------------------------------------

    def resolve(
        self,
        request: Optional[JSONInput] = None,
        *,
        agent: Optional[str] = None,
        session: Optional[str] = None,
        goal: Optional[str] = None,
        risk_tier: Optional[str] = None,
        capabilities: Optional[Sequence[str]] = None,
        context: Optional[Mapping[str, Any]] = None,
        atlas_ids: Optional[Sequence[str]] = None,
        context_hints: Optional[Sequence[str]] = None,
        max_context_tokens: Optional[int] = None,
        parent_session: Optional[str] = None,
        request_id: Optional[str] = None,
    ) -> Resolution:
        """Resolves what an agent may do for a task, and which context it gets.

        Give either a whole CARP request (a mapping, or JSON text passed through untouched) or
        the keywords; ``agent``, ``session`` and ``goal`` are required then. ``capabilities``
        narrows the actions in scope; ``context`` feeds ``context_matches`` conditions.

        Raises :class:`~cra.InvalidRequest` (with the ``pointer`` of the offending value),
        :class:`~cra.AtlasNotFound` or :class:`~cra.SessionEnded`.
        """
        r = self._handle()
        if request is None:
            if agent is None or session is None or goal is None:
                raise TypeError("resolve() needs a request, or agent=, session= and goal=")
            task: Dict[str, Any] = {"goal": goal}
            if risk_tier is not None:
                task["risk_tier"] = risk_tier
            if capabilities is not None:
                task["required_capabilities"] = list(capabilities)
            if context_hints is not None:
                task["context_hints"] = list(context_hints)
            if max_context_tokens is not None:
                task["max_context_tokens"] = max_context_tokens
            requester: Dict[str, Any] = {"agent_id": agent, "session_id": session}
            if parent_session is not None:
                requester["parent_session_id"] = parent_session
            req: Dict[str, Any] = {"requester": requester, "task": task}
            if context is not None:
                req["context"] = dict(context)
            if atlas_ids is not None:
                req["atlas_ids"] = list(atlas_ids)
            body = encode({**req, "request_id": request_id} if request_id is not None else req)
        else:
            if any(
                v is not None
                for v in (agent, session, goal, risk_tier, capabilities, context, atlas_ids, context_hints,
                          max_context_tokens, parent_session, request_id)
            ):
                raise TypeError("resolve() takes either a request or keywords, not both")
            body = encode(request)
            req = {}
            if isinstance(request, Mapping):
                rq = request.get("requester")
                if isinstance(rq, Mapping):
                    agent, session = rq.get("agent_id"), rq.get("session_id")
                req = {k: v for k, v in request.items() if k != "request_id"}
        # the answer's bytes: Resolution parses them on first use (its id and decision are read
        # from the head of the answer without parsing)
        res = Resolution(call(lib.cra_resolver_resolve, r, body, len(body), output=BYTES), agent, session)
        if session is not None and agent is not None:
            self._requests[session] = (agent, req)
        return res

    def _resolve_again(self, session_id: str, agent: Optional[str]) -> Optional[Resolution]:
        """Resolves the session's latest request made through this resolver again (a new request
        id, the same goal, risk tier, context...); ``None`` when there is none to repeat."""
        known = self._requests.get(session_id)
        if known is None or not known[1] or (agent is not None and agent != known[0]):
            return None
        return self.resolve(dict(known[1]))

    # -- execute -----------------------------------------------------------------------------

    def execute(self, request: JSONInput) -> Authorization:
        """Authorizes one tool call from a whole ``execute`` CARP request (``operation`` may be
        omitted). A refusal is an answer (``status`` ``denied``/``pending_approval``), not an
        exception; call ``raise_for_status()`` to turn it into one.

        Raises :class:`~cra.ResolutionNotFound`, :class:`~cra.ResolutionExpired`,
        :class:`~cra.InvalidParameters` (pointer ``/execution/parameters/...``) or
        :class:`~cra.InvalidRequest`.
        """
        body = encode(request)
        return Authorization(call(lib.cra_resolver_execute, self._handle(), body, len(body)))

    def authorize(
        self,
        action_id: str,
        parameters: Optional[Mapping[str, Any]] = None,
        *,
        resolution: Union[Resolution, str, None] = None,
        session: Optional[str] = None,
        agent: Optional[str] = None,
        idempotency_key: Optional[str] = None,
    ) -> Authorization:
        """Asks whether one tool call may run now; consumes rate limits when it may.

        Names the resolution either as the :class:`Resolution` object (its agent and session
        are known) or by id with ``agent=`` and ``session=``; with only ``session=`` the
        session's latest resolution (as the core keeps it) is used: :class:`~cra.ResolutionNotFound`
        when the session has none, :class:`~cra.SessionEnded` after :meth:`end_session`.
        """
        r = self._handle()
        resolution_id, agent, session = self._target(resolution, session, agent)
        execution: Dict[str, Any] = {
            "resolution_id": resolution_id,
            "action_id": action_id,
            "parameters": {} if parameters is None else parameters,
        }
        if idempotency_key is not None:
            execution["idempotency_key"] = idempotency_key
        body = encode({"requester": {"agent_id": agent, "session_id": session}, "execution": execution})
        return Authorization(call(lib.cra_resolver_execute, r, body, len(body)))

    def _target(
        self, resolution: Union[Resolution, str, None], session: Optional[str], agent: Optional[str]
    ) -> Tuple[str, str, str]:
        if isinstance(resolution, Resolution):
            a = agent or resolution.agent_id
            s = session or resolution.session_id
            if a is None or s is None:
                raise TypeError("this resolution was made from JSON text: pass agent= and session=")
            return resolution.resolution_id, a, s
        if resolution is not None:
            if agent is None or session is None:
                raise TypeError("authorizing against a resolution id needs agent= and session=")
            return resolution, agent, session
        if session is None:
            raise TypeError("authorize() needs resolution= or session=")
        # The core keeps each session's latest resolution (the fast path answers from it): ask it
        # rather than keeping a copy here. A wrong agent= is refused by execute itself.
        body = _json.dumps({"session_id": session})
        latest = call(lib.cra_resolver_latest_resolution, self._handle(), body, len(body))
        return latest["resolution_id"], agent or latest["agent_id"], session

    def report(
        self,
        execution: Union[Authorization, str, Mapping[str, Any], bytes],
        result: Any = _MISSING,
        *,
        error: Union[BaseException, str, Mapping[str, Any], None] = None,
        duration_ms: Optional[float] = None,
    ) -> Dict[str, Any]:
        """Reports a tool's outcome: its ``result`` (``None`` is a valid result) or its
        ``error`` (an exception, a message, or ``{"message", "code"?}``), never both.

        Only hashes of results enter the trace, never the values. A result is never a reason
        to fail: objects JSON has no type for are reported by their ``repr``, and a result
        that cannot be written as JSON at all (an integer beyond 64 bits, a dict with tuple
        keys, a string with a lone surrogate, nesting deeper than the core reads) is reported
        as ``{"unencodable": "<module.qualname of its type>", "repr_sha256": "<hex>"}``.
        ``execution`` may also be the whole wire body (a mapping or JSON text), sent as is.
        """
        if isinstance(execution, (Mapping, bytes)) or (isinstance(execution, str) and execution.lstrip().startswith("{")):
            raw = encode(execution, "report")
            wire: Dict[str, Any] = call(lib.cra_resolver_report, self._handle(), raw, len(raw))
            return wire
        execution_id = execution.execution_id if isinstance(execution, Authorization) else execution
        if execution_id is None:
            raise InvalidRequest("this call was not authorized: there is nothing to report", pointer="/execution_id")
        body: Dict[str, Any] = {"execution_id": execution_id}
        if error is not None:
            if result is not _MISSING:
                raise TypeError("report() takes a result or an error, not both")
            if isinstance(error, BaseException):
                body["error"] = {"message": _message(error), "code": type(error).__name__}
            elif isinstance(error, str):
                body["error"] = {"message": error}
            else:
                body["error"] = dict(error)
        elif result is _MISSING:
            body["result"] = None
        else:
            body["result"] = result
        if duration_ms is not None:
            body["duration_ms"] = duration_ms
        r = self._handle()
        try:
            raw = _json.dumps_lenient(body)
        except Exception:  # noqa: BLE001 - any failure to encode (a repr may raise anything)
            if "result" not in body:
                raise InvalidRequest("the error cannot be written as JSON", pointer="/error") from None
            body["result"] = unencodable(result)
            raw = encode(body, "report")
        try:
            out: Dict[str, Any] = call(lib.cra_resolver_report, r, raw, len(raw))
        except InvalidRequest as e:
            # the core refused the JSON (nesting too deep): the execution is still unreported
            if e.code != "INVALID_REQUEST" or "result" not in body or body["result"] is None:
                raise
            body["result"] = unencodable(result)
            raw = encode(body, "report")
            out = call(lib.cra_resolver_report, r, raw, len(raw))
        return out

    # -- approvals, sessions -----------------------------------------------------------------

    def approve(
        self, approval_id: Union[str, Mapping[str, Any], bytes], *, approver: Optional[str] = None, reason: Optional[str] = None
    ) -> Dict[str, Any]:
        """Approves a pending approval (who and why are recorded in the trace). An approval
        covers exactly one call: the same action with the same parameters in the same session,
        once; making that governed call again runs it. ``approver`` is required and may not be
        the agent that asked. ``approval_id`` may also be the whole wire body
        ``{"approval_id", "approver", "reason"?}`` (a mapping or bytes).

        Raises :class:`~cra.ApprovalNotFound`, :class:`~cra.ApprovalExpired`,
        :class:`~cra.ApprovalAlreadyDecided` or :class:`~cra.ApprovalForbidden`.
        """
        return self._decide(lib.cra_resolver_approve, approval_id, approver, reason)

    def reject(
        self, approval_id: Union[str, Mapping[str, Any], bytes], *, approver: Optional[str] = None, reason: Optional[str] = None
    ) -> Dict[str, Any]:
        """Rejects a pending approval: the call it was asked for is denied
        (``approval_rejected``) until the approval expires. Arguments and errors as
        :meth:`approve`."""
        return self._decide(lib.cra_resolver_reject, approval_id, approver, reason)

    def approvals(
        self,
        session_id: Optional[str] = None,
        status: Optional[Sequence[str]] = None,
        *,
        filter: Optional[JSONInput] = None,
    ) -> List[Dict[str, Any]]:
        """The approvals waiting for a human (or, with ``status``, those in any of
        ``pending``/``approved``/``rejected``/``consumed``/``expired``), oldest first, each with
        agent, action, parameters, policy, reason and expiry, so an approval UI can show
        exactly what is asked. ``session_id`` narrows to one session. ``filter`` is the whole
        wire filter ``{"session_id"?, "status"?}`` instead (a mapping or JSON text)."""
        if filter is not None:
            body = encode(filter, "filter")
        else:
            f: Dict[str, Any] = {}
            if session_id is not None:
                f["session_id"] = session_id
            if status is not None:
                f["status"] = list(status)
            body = _json.dumps(f)
        out: List[Dict[str, Any]] = call(lib.cra_resolver_list_approvals, self._handle(), body, len(body))
        return out

    def _decide(self, fn: Any, approval: Union[str, Mapping[str, Any], bytes], approver: Optional[str], reason: Optional[str]) -> Dict[str, Any]:
        if isinstance(approval, str):
            d: Dict[str, Any] = {"approval_id": approval}
            if approver is not None:
                d["approver"] = approver
            if reason is not None:
                d["reason"] = reason
            body = _json.dumps(d)
        else:
            body = encode(approval, "decision")
        out: Dict[str, Any] = call(fn, self._handle(), body, len(body))
        return out

    def end_session(self, session_id: Union[str, Mapping[str, Any], bytes], reason: Optional[str] = None) -> Dict[str, Any]:
        """Ends a session (``session.ended`` with reason and duration); later requests naming
        it raise :class:`~cra.SessionEnded`. ``session_id`` may also be the whole wire body
        ``{"session_id", "reason"?}``. Raises :class:`~cra.SessionNotFound` or
        :class:`~cra.SessionEnded`."""
        if isinstance(session_id, str):
            d: Dict[str, Any] = {"session_id": session_id}
            if reason is not None:
                d["reason"] = reason
            body = _json.dumps(d)
        else:
            body = encode(session_id, "body")
        out: Dict[str, Any] = call(lib.cra_resolver_end_session, self._handle(), body, len(body))
        sid = out.get("session_id")
        if isinstance(sid, str):
            self._requests.pop(sid, None)
        return out

    # -- fast path ---------------------------------------------------------------------------

    def check(self, session_id: str, action_id: str) -> Verdict:
        """The fast path: may ``session_id`` run ``action_id`` now, according to its latest
        unexpired resolution? No JSON, nothing consumed, nothing recorded."""
        ptr = self._handle()
        s = session_id.encode("utf-8")
        a = action_id.encode("utf-8")
        v = _verdict(ptr, s, len(s), a, len(a))
        if v < 0:
            return _check_slowly(ptr, s, a)
        return _VERDICTS[v]

    def allowed(self, session_id: str, action_id: str) -> bool:
        """``check(...) == Verdict.ALLOWED``, as fast as the boundary allows (``cra bench``)."""
        if self._closed:
            raise self._unusable()
        s = session_id.encode("utf-8")
        a = action_id.encode("utf-8")
        v = _verdict(self._ptr, s, len(s), a, len(a))
        if v < 0:
            return _check_slowly(self._ptr, s, a) is Verdict.ALLOWED
        return v == 0

    # -- trace and stats ---------------------------------------------------------------------

    def flush(self, timeout: float = 10.0) -> None:
        """Waits until every trace event recorded before the call is in the sink
        (:class:`~cra.FlushTimeout` after ``timeout`` seconds)."""
        call(lib.cra_resolver_flush, self._handle(), max(0, int(timeout * 1000)), output=NOTHING)

    def drain_trace(self) -> bytes:
        """Takes the JSONL bytes of the in-memory trace events not drained yet (flushing first).
        Empty when the trace goes to a file."""
        data: bytes = call(lib.cra_resolver_drain_trace, self._handle(), output=BYTES)
        return data

    def stats(self) -> Dict[str, Any]:
        """Counters and sizes: atlases, sessions, resolves, executes, trace counters..."""
        out: Dict[str, Any] = call(lib.cra_resolver_stats, self._handle())
        return out

    def advance_clock(self, seconds: float) -> None:
        """Moves a deterministic resolver's clock forward (tests)."""
        micros = math.floor(abs(seconds) * 1e6 + 0.5)  # rounds half away from zero, like Rust
        call(lib.cra_resolver_advance_clock, self._handle(), int(math.copysign(micros, seconds)), output=NOTHING)

    # -- governed tools ----------------------------------------------------------------------

    def session(self, agent: str, session_id: str) -> "Session":
        """A :class:`~cra.Session` bound to this resolver, an agent and a session id: resolve,
        authorize and govern tools without repeating them."""
        return Session(self, agent, session_id)

    def conversation(self, agent: str, session_id: str, *, goal: Optional[str] = None, end: bool = False,
                     **resolve: Any) -> "bind":
        """Binds a session of this resolver for a ``with`` block: tools built without a session
        (:func:`cra.tool`, ``resolver.governed(action_id, fn)``, the framework integrations) are
        governed in it. ``goal`` (with ``resolve`` keywords) resolves on entry; ``end=True`` ends
        the session on exit. ``with`` yields the :class:`~cra.Session`::

            with resolver.conversation("support-bot-1", "conv-42", goal="refund ORD-1234") as s:
                agent.invoke(...)
        """
        return bind(Session(self, agent, session_id), goal=goal, end=end, **resolve)

    @overload
    def governed(self, action_id: str, fn: "Callable[P, R]", *, session: "Union[str, Session, None]" = ...,
                 agent: Optional[str] = ..., parameters: Optional[Callable[..., Mapping[str, Any]]] = ...,
                 exclude: "Collection[str]" = ..., name: Optional[str] = ...) -> "GovernedTool[P, R]": ...

    @overload
    def governed(self, action_id: str, fn: None = ..., *, session: "Union[str, Session, None]" = ...,
                 agent: Optional[str] = ..., parameters: Optional[Callable[..., Mapping[str, Any]]] = ...,
                 exclude: "Collection[str]" = ..., name: Optional[str] = ...
                 ) -> "Callable[[Callable[P, R]], GovernedTool[P, R]]": ...

    def governed(
        self,
        action_id: str,
        fn: "Optional[Callable[P, R]]" = None,
        *,
        session: "Union[str, Session, None]" = None,
        agent: Optional[str] = None,
        parameters: Optional[Callable[..., Mapping[str, Any]]] = None,
        exclude: "Collection[str]" = (),
        name: Optional[str] = None,
    ) -> "Union[GovernedTool[P, R], Callable[[Callable[P, R]], GovernedTool[P, R]]]":
        """Governs a tool function: use as ``@resolver.governed("orders.refund", session="s-42")``
        or ``resolver.governed("orders.refund", fn, session="s-42")``. Without ``session`` the
        tool is governed in the session bound where it is called (``resolver.conversation``).

        Each call authorizes against the session's latest resolution (made through this
        resolver; resolved again once, with the same request, when it expired), runs the
        function only when authorized, reports its result or exception (re-raising the
        exception), and raises :class:`~cra.ActionDenied`, :class:`~cra.ApprovalRequired` or
        :class:`~cra.RateLimited` otherwise. Parameters are the call's arguments by name (less
        ``exclude`` and a framework context parameter), or what ``parameters(*args, **kwargs)``
        returns.
        """
        if fn is None:
            return govern(self, action_id, session=session, agent=agent, parameters=parameters, exclude=exclude, name=name)
        return govern(self, action_id, fn, session=session, agent=agent, parameters=parameters, exclude=exclude, name=name)


def _config_object(config: Optional[JSONInput]) -> Dict[str, Any]:
    """The ``config`` argument as a new dict: a mapping, or JSON text of an object (empty text
    means defaults). :class:`~cra.InvalidConfig` naming the problem otherwise."""
    if config is None:
        return {}
    parsed: Any = config
    if isinstance(config, (str, bytes)):
        if not config.strip():
            return {}
        try:
            parsed = _json.loads(config)
        except (ValueError, RecursionError) as e:  # JSONDecodeError (both backends), UnicodeDecodeError
            shown = repr(config if len(config) <= 60 else config[:60])
            raise InvalidConfig(f"the config {shown} is not valid JSON: {e}", pointer="") from None
    return _section(parsed, "", "the config")


def _section(value: Any, pointer: str, what: str) -> Dict[str, Any]:
    """A configuration object (``None`` is empty) copied into a dict, or :class:`~cra.InvalidConfig`."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidConfig(
            f"{what} must be a JSON object (a mapping), not {type(value).__name__} {value!r:.60}",
            pointer=pointer,
        )
    return dict(value)


def unencodable(value: Any) -> Dict[str, str]:
    """What :meth:`Resolver.report` sends for a result that cannot be written as JSON: the
    type's ``module.qualname`` and the SHA-256 of the value's ``repr`` (as UTF-8, lone
    surrogates backslash-escaped; ``object.__repr__`` when ``repr`` fails). The core hashes it
    like any result; the value itself still goes back to the caller unchanged."""
    try:
        shown = repr(value)
    except Exception:  # noqa: BLE001 - a repr may raise anything (or an int be too long to print)
        shown = object.__repr__(value)
    kind = type(value)
    digest = hashlib.sha256(shown.encode("utf-8", "backslashreplace")).hexdigest()
    return {"unencodable": f"{kind.__module__}.{kind.__qualname__}", "repr_sha256": digest}


def _message(error: BaseException) -> str:
    """An exception's message as text JSON can carry (its type name when ``str`` fails or is empty)."""
    try:
        text = str(error)
    except Exception:  # noqa: BLE001 - a __str__ may raise anything
        text = ""
    return text.encode("utf-8", "backslashreplace").decode("utf-8") or type(error).__name__


def _check_slowly(ptr: Any, s: bytes, a: bytes) -> Verdict:
    """The fast path through ``cra_resolver_check`` (out-param and error details): raises the
    exception of a failure; used when the lean call failed, or when libcra lacks it."""
    out = ffi.new("CraVerdict *")
    call(lib.cra_resolver_check, ptr, s, len(s), a, len(a), out, output=NOTHING)
    return _VERDICTS[out[0]]


def _verdict_fallback(ptr: Any, s: bytes, sl: int, a: bytes, al: int) -> int:
    """``cra_resolver_verdict`` for a libcra without it (``CRA_LIBRARY`` naming an older build):
    the verdict through ``cra_resolver_check``, or -1 for "failed" (the caller asks again)."""
    out = ffi.new("CraVerdict *")
    return -1 if _check(ptr, s, sl, a, al, out, ffi.NULL) else int(out[0])


_check = lib.cra_resolver_check
try:
    # the lean shape: the verdict (0-4) or a negated status as the return value, no out-params
    _verdict: Callable[[Any, bytes, int, bytes, int], int] = lib.cra_resolver_verdict
except Exception:  # noqa: BLE001 - cffi raises AttributeError (undeclared) or a lookup error
    _verdict = _verdict_fallback
