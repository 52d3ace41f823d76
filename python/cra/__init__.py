"""CRA: governance for AI agents, in-process.

CRA decides what an agent may do and which context it gets (CARP), authorizes each tool call
before it runs, and records everything in a hash-chained audit trail (TRACE)::

    import cra

    with cra.Resolver() as resolver:
        resolver.load_atlas(cra.example_atlas("customer-support"))  # shipped in the package
        res = resolver.resolve(agent="support-bot-1", session="s-42", goal="refund ORD-1234")
        print(res.decision, res.allowed)

See ``docs/python.md`` for the whole API.
"""

from __future__ import annotations

from ._lowlevel import ABI_VERSION, library_version
from .errors import (
    FAMILY_CLASSES,
    ActionDenied,
    ActionError,
    ApprovalError,
    AtlasError,
    CraRuntimeError,
    ExecutionError,
    RequestError,
    ResolutionError,
    SessionError,
    ApprovalForbidden,
    AtlasConflict,
    LimitExceeded,
    ResolverForked,
    TraceFileLocked,
    ApprovalAlreadyDecided,
    ApprovalExpired,
    ApprovalNotFound,
    ApprovalRequired,
    AtlasAlreadyLoaded,
    AtlasNotFound,
    CraError,
    CraIOError,
    CraPanic,
    ErrorDetail,
    ExecutionAlreadyReported,
    ExecutionNotFound,
    FlushTimeout,
    InternalError,
    InvalidAtlas,
    InvalidConfig,
    InvalidParameters,
    InvalidRequest,
    NotAuthorized,
    NotFound,
    RateLimited,
    ResolutionExpired,
    ResolutionNotFound,
    ResolverClosed,
    ResolverPoisoned,
    SessionEnded,
    SessionNotBound,
    SessionNotFound,
    StateError,
    TraceError,
)
from .conversation import bind, current_session
from ._examples import example_atlas
from .governed import GovernedTool, Session, govern, tool
from .refusal import Refusal
from .resolver import Resolver
from .results import AtlasInfo, Authorization, ReplayReport, Resolution, Verdict, VerifyReport
from .trace import replay, verify_trace
from . import tlog  # the ingest service's transparency log, verified offline (cra.tlog.verify)

#: Version of the Python package and of the libcra it carries.
__version__ = library_version()

__all__ = [
    "__version__",
    "ABI_VERSION",
    "Resolver",
    "Session",
    "GovernedTool",
    "govern",
    "tool",
    "bind",
    "current_session",
    "Refusal",
    "example_atlas",
    "verify_trace",
    "replay",
    "tlog",
    "Resolution",
    "Authorization",
    "Verdict",
    "VerifyReport",
    "ReplayReport",
    "AtlasInfo",
    "CraError",
    "ErrorDetail",
    "RequestError",
    "AtlasError",
    "ResolutionError",
    "ActionError",
    "ApprovalError",
    "ExecutionError",
    "SessionError",
    "CraRuntimeError",
    "FAMILY_CLASSES",
    "InvalidRequest",
    "InvalidConfig",
    "InvalidParameters",
    "InvalidAtlas",
    "NotFound",
    "AtlasNotFound",
    "ResolutionNotFound",
    "ApprovalNotFound",
    "ExecutionNotFound",
    "SessionNotFound",
    "StateError",
    "AtlasAlreadyLoaded",
    "ResolutionExpired",
    "ApprovalExpired",
    "ApprovalAlreadyDecided",
    "ExecutionAlreadyReported",
    "SessionEnded",
    "SessionNotBound",
    "NotAuthorized",
    "ActionDenied",
    "ApprovalRequired",
    "RateLimited",
    "TraceError",
    "CraIOError",
    "FlushTimeout",
    "ResolverClosed",
    "ResolverForked",
    "InternalError",
    "CraPanic",
    "ResolverPoisoned",
    "LimitExceeded",
    "AtlasConflict",
    "ApprovalForbidden",
    "TraceFileLocked",
]
