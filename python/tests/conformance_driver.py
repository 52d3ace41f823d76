"""The Python driver of the conformance corpus: the one interpreter (``cra-conformance``, in
``conformance/runner``) sends operations as JSON lines on stdin; this performs each through the
package's public API and answers on stdout (protocol: conformance/runner/src/process_driver.rs,
docs/bindings.md). Run by ``test_conformance.py``::

    cra-conformance --binding python --self-test -- python conformance_driver.py
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, Callable, Dict, List, Optional

import cra

Args = List[Any]

#: CRA_RECORD_ANSWERS=FILE appends every answer as {"op", "answer"} (test_wire_types.py checks
#: them against the package's TypedDicts).
RECORD = os.environ.get("CRA_RECORD_ANSWERS")


def _arg(a: Dict[str, Any]) -> Any:
    """A JSON argument as the value (a dict, as users pass it); a text one verbatim as bytes."""
    return a["json"] if "json" in a else a["text"].encode("utf-8")


def _text(a: Any) -> str:
    return a.decode("utf-8") if isinstance(a, bytes) else str(a)


def _raw(x: Any) -> str:
    """An answer as JSON text: typed results give their wire JSON with ``to_dict()``."""
    return json.dumps(x.to_dict() if hasattr(x, "to_dict") else x, ensure_ascii=False)


def _seconds(micros: Any) -> float:
    return int(_text(micros)) / 1e6


class Driver:
    """One resolver at a time, as the runner asks."""

    def __init__(self) -> None:
        self.r: Optional[cra.Resolver] = None
        self.ops: Dict[str, Callable[[Args], Optional[str]]] = {
            "load_atlas": lambda a: _raw(self.res.load_atlas(a[0])),
            "load_shadow": lambda a: _raw(self.res.load_shadow(a[0])),
            "load_atlas_dir": lambda a: _raw(self.res.load_atlas(_text(a[0]))),
            "unload_atlas": lambda a: _raw(self.res.unload_atlas(_text(a[0]))),
            "unload_shadow": lambda a: _raw(self.res.unload_shadow(_text(a[0]))),
            "resolve": lambda a: _raw(self.res.resolve(a[0])),
            "execute": lambda a: _raw(self.res.execute(a[0])),
            "report": lambda a: _raw(self.res.report(a[0])),
            "approve": lambda a: _raw(self.res.approve(a[0])),
            "reject": lambda a: _raw(self.res.reject(a[0])),
            "end_session": lambda a: _raw(self.res.end_session(a[0])),
            "approvals": lambda a: _raw(self.res.approvals(filter=a[0])),
            "explain": lambda a: _raw(self.res.explain(a[0], _text(a[1]))),
            "check": lambda a: json.dumps(self.res.check(_text(a[0]), _text(a[1])).value),
            "advance_clock": lambda a: self.res.advance_clock(_seconds(a[0])),
            "flush": lambda a: self.res.flush(10.0),
            "stats": lambda a: _raw(self.res.stats()),
            "drain_trace": lambda a: self.res.drain_trace().decode("utf-8"),
            "verify_trace": lambda a: _raw(cra.verify_trace(a[0])),
            "replay": lambda a: _raw(cra.replay(a[0], a[1])),
            "create": self.create,
            "close": self.close,
        }

    @property
    def res(self) -> cra.Resolver:
        if self.r is None:
            raise cra.CraError("no resolver (create first)", code="INTERNAL")
        return self.r

    def create(self, a: Args) -> None:
        self.close(a)
        self.r = cra.Resolver(a[0])

    def close(self, a: Args) -> None:
        if self.r is not None:
            self.r.close()
            self.r = None

    def answer(self, line: str) -> Dict[str, Any]:
        req = json.loads(line)
        op = self.ops.get(req.get("op"))
        if op is None:
            return {"error": {"code": "DRIVER", "pointer": None, "message": f"unknown op {req.get('op')!r}"}}
        try:
            out = op([_arg(a) for a in req.get("args", [])])
            if RECORD and isinstance(out, str) and req["op"] != "drain_trace":
                with open(RECORD, "a", encoding="utf-8") as f:
                    f.write(json.dumps({"op": req["op"], "answer": json.loads(out)}) + "\n")
            return {"ok": out}
        except cra.CraError as e:
            return {"error": {"code": e.code, "pointer": e.pointer, "message": e.message}}
        except Exception as e:  # noqa: BLE001 - a Python-side failure fails the case, visibly
            return {"error": {"code": "DRIVER", "pointer": None, "message": f"{type(e).__name__}: {e}"}}


def main() -> int:
    driver = Driver()
    for line in sys.stdin:
        sys.stdout.write(json.dumps(driver.answer(line)) + "\n")
        sys.stdout.flush()
    driver.close([])
    return 0


if __name__ == "__main__":
    sys.exit(main())
