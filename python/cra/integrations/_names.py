"""Tool names for models and MCP clients, and back to action ids.

Action ids such as ``orders.lookup`` are not valid OpenAI function names
(``^[a-zA-Z0-9_-]{1,64}$``). :func:`tool_name` maps one to a valid name (``orders_lookup``);
a :class:`NameMap` remembers the mapping both ways and refuses two actions that would share a
name, so a name the model calls always leads back to exactly one action (an action may have
several names: two agents may call it differently).
"""

from __future__ import annotations

import hashlib
import re
from typing import Dict, Iterable, Optional

__all__ = ["tool_name", "NameMap"]

_INVALID = re.compile(r"[^A-Za-z0-9_-]")
MAX_LENGTH = 64


def tool_name(action_id: str) -> str:
    """A valid OpenAI tool name for ``action_id``: other characters than letters, digits,
    ``_`` and ``-`` become ``_``; a name longer than 64 characters keeps 55 and a hash."""
    name = _INVALID.sub("_", action_id) or "_"
    if len(name) > MAX_LENGTH:
        digest = hashlib.sha256(action_id.encode("utf-8")).hexdigest()[:8]
        name = f"{name[:MAX_LENGTH - 9]}_{digest}"
    return name


class NameMap:
    """Tool names to action ids (each name one action) and back (an action's first name)."""

    __slots__ = ("_by_name", "_by_action")

    def __init__(self, pairs: Iterable["tuple[str, str]"] = ()) -> None:
        self._by_name: Dict[str, str] = {}
        self._by_action: Dict[str, str] = {}
        for name, action in pairs:
            self.add(name, action)

    def add(self, name: str, action_id: str) -> None:
        """Maps ``name`` to ``action_id``; ``ValueError`` when the name stands for another action."""
        known = self._by_name.get(name)
        if known is not None and known != action_id:
            raise ValueError(f"tool name {name!r} would stand for both {known!r} and {action_id!r}: name one of them")
        self._by_name[name] = action_id
        self._by_action.setdefault(action_id, name)

    def action(self, name: str) -> Optional[str]:
        """The action a tool name stands for, or ``None``."""
        return self._by_name.get(name)

    def name(self, action_id: str) -> Optional[str]:
        """The tool name of an action, or ``None``."""
        return self._by_action.get(action_id)

    def __len__(self) -> int:
        return len(self._by_name)
