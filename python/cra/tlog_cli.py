"""``cra log ...``: the ingest service's transparency log from the command line.

Server commands (``--server``/``CRA_SERVER``, ``--token``/``CRA_TOKEN``, standard library HTTP):
``checkpoint`` (the latest, one of a size, or a new one), ``vkeys``, ``fetch`` (a bundle: traces,
a fresh checkpoint, proofs, consistency with an older checkpoint), ``audit`` (every leaf of the
log against a checkpoint). Offline: ``verify`` (a bundle or its pieces, against keys the verifier
trusts), ``keygen`` / ``retire`` / ``vkey`` (the server's key file). Verification is
:mod:`cra.tlog`'s; nothing the server says is trusted beyond what the signatures and proofs show.
Exit codes: 0 verified (or done), 1 problems found, 2 usage, I/O or HTTP error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Dict, List, Optional

__all__ = ["add_commands", "run"]

DEFAULT_SERVER = "http://127.0.0.1:8787"
EXIT_OK, EXIT_NO, EXIT_USAGE = 0, 1, 2
_TIMEOUT = 120.0


def add_commands(sub: Any) -> None:
    """Adds ``log`` and its subcommands to the ``cra`` parser."""
    lg = sub.add_parser("log", help="the ingest service's transparency log: checkpoints, proofs, offline verification",
                        description="Signed checkpoints and Merkle proofs of the ingest service's per-tenant log "
                                    "(docs/transparency.md). Exit 0 verified, 1 problems found, 2 usage or I/O error.")
    ls = lg.add_subparsers(dest="log_command", metavar="COMMAND")

    c = ls.add_parser("checkpoint", help="print the latest signed checkpoint (or one of a size, or a new one)")
    c.add_argument("--size", type=int, help="the checkpoint of this tree size")
    c.add_argument("--new", action="store_true", help="have the server sign one of the log as it is now")
    c.add_argument("-o", "--output", metavar="FILE", help="write it here (keep it: it anchors later checks)")

    vk = ls.add_parser("vkeys", help="print the log's public keys (vkeys) as the server publishes them")

    f = ls.add_parser("fetch", help="fetch traces with a fresh checkpoint and their proofs into a bundle file")
    f.add_argument("trace_ids", metavar="TRACE_ID", nargs="*", help="traces to fetch (default: those of --kept)")
    for name in ("agent", "atlas", "action", "decision", "event-type", "integrity", "session", "since", "until"):
        f.add_argument(f"--{name}", help=f"also every trace a query with this {name} lists (as cra traces list)")
    f.add_argument("--limit", type=int, default=1000, help="at most this many traces from the query (default 1000)")
    f.add_argument("--kept", metavar="BUNDLE", help="an earlier bundle: its traces are fetched again and the "
                                                    "consistency proof from its checkpoint is included")
    f.add_argument("--old-checkpoint", metavar="FILE", help="a checkpoint you kept: include the consistency proof from it")
    f.add_argument("-o", "--output", metavar="BUNDLE", required=True, help="the bundle file to write (JSON)")

    v = ls.add_parser("verify", help="verify a bundle (or checkpoint, trace and proofs) against trusted keys, offline",
                      description="Check the checkpoint's signature, every event's inclusion, every trace's chain "
                                  "(libcra), consistency with an older checkpoint, and what changed since a kept "
                                  "bundle. Exit 0 verified, 1 problems (each named), 2 unreadable input.")
    v.add_argument("--key", metavar="VKEY", action="append", default=[], help="a log vkey you trust (repeatable)")
    v.add_argument("--key-file", metavar="FILE", action="append", default=[], help="a file of vkeys, one a line")
    v.add_argument("--bundle", metavar="FILE", help="a bundle written by cra log fetch")
    v.add_argument("--checkpoint", metavar="FILE", help="the checkpoint (instead of the bundle's)")
    v.add_argument("--trace", metavar="FILE", action="append", default=[], help="exported JSONL (repeatable)")
    v.add_argument("--proofs", metavar="FILE", help="the answer of POST /v1/log/proofs (JSON)")
    v.add_argument("--old-checkpoint", metavar="FILE", help="a checkpoint you kept")
    v.add_argument("--consistency", metavar="FILE", help="the consistency proof from it (JSON)")
    v.add_argument("--kept", metavar="BUNDLE", help="an earlier bundle you kept: every event in it must still be there")
    v.add_argument("--cosigner", metavar="VKEY", action="append", default=[], help="a witness's cosigner vkey (type 0x04)")
    v.add_argument("--min-cosignatures", type=int, default=0, metavar="N", help="require N known cosignatures")
    v.add_argument("--origin", help="the log origin you expect")
    v.add_argument("--require-session-end", action="store_true", help="every trace must end with session.ended")
    v.add_argument("--json", action="store_true", help="print the verdict as JSON")

    rc = ls.add_parser("receipts", help="verify an HTTP sink's receipts file against trusted keys, offline",
                       description="Check each receipt's checkpoint signature and the inclusion of every event it "
                                   "lists; with --trace, that your own copy of the events is what the log holds and "
                                   "what was sent. Exit 0 verified, 1 problems (each named), 2 unreadable input.")
    rc.add_argument("receipts", metavar="RECEIPTS", help="the receipts file (trace.http.receipts_file)")
    rc.add_argument("--key", metavar="VKEY", action="append", default=[], help="a log vkey you trust (repeatable)")
    rc.add_argument("--key-file", metavar="FILE", action="append", default=[], help="a file of vkeys, one a line")
    rc.add_argument("--trace", metavar="FILE", action="append", default=[], help="your copy of the events (JSONL, repeatable)")
    rc.add_argument("--origin", help="the log origin you expect")
    rc.add_argument("--json", action="store_true", help="print the verdict as JSON")

    a = ls.add_parser("audit", help="check every leaf of the log against a checkpoint, as a monitor (fetches entries)")
    a.add_argument("--key", metavar="VKEY", action="append", default=[], help="a log vkey you trust (repeatable)")
    a.add_argument("--key-file", metavar="FILE", action="append", default=[], help="a file of vkeys, one a line")
    a.add_argument("--checkpoint", metavar="FILE", help="audit up to this checkpoint (default: a new one)")
    a.add_argument("--old-checkpoint", metavar="FILE", help="a checkpoint you kept: its leaves must be unchanged")
    a.add_argument("--json", action="store_true", help="print the verdict as JSON")

    kg = ls.add_parser("keygen", help="add a new signing key to a key file (it signs from the server's next start)")
    kr = ls.add_parser("retire", help="keep only the public half of every key but the active one")
    kv = ls.add_parser("vkey", help="print the vkeys of a key file under an origin (offline)")
    for p in (kg, kr, kv):
        p.add_argument("--log-key", metavar="FILE", required=True, help="the server's key file")
    kv.add_argument("--origin", required=True, help="the tenant's log origin (<log_origin>/<tenant>)")

    for p in (c, vk, f, a):
        p.add_argument("--server", default=None, help=f"server URL (default CRA_SERVER or {DEFAULT_SERVER})")
        p.add_argument("--token", default=None, help="bearer token (default CRA_TOKEN)")


class _Fail(Exception):
    pass


def _http(args: argparse.Namespace, method: str, path: str, body: Optional[Any] = None,
          params: Optional[Dict[str, Any]] = None) -> bytes:
    server = (args.server or os.environ.get("CRA_SERVER") or DEFAULT_SERVER).rstrip("/")
    token = args.token or os.environ.get("CRA_TOKEN")
    if not token:
        raise _Fail("a token is needed: --token or CRA_TOKEN")
    q = urllib.parse.urlencode({k: v for k, v in (params or {}).items() if v is not None})
    data = None if body is None else json.dumps(body).encode()
    headers = {"Authorization": f"Bearer {token}"}
    if data is not None:
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(server + path + ("?" + q if q else ""), data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=_TIMEOUT) as r:
            out: bytes = r.read()
            return out
    except urllib.error.HTTPError as e:
        try:
            msg = json.loads(e.read(65536))["error"]["message"]
        except Exception:
            msg = e.reason
        raise _Fail(f"{server}{path}: HTTP {e.code}: {msg}") from None
    except (urllib.error.URLError, OSError) as e:
        raise _Fail(f"cannot reach {server}: {getattr(e, 'reason', e)}") from None


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise _Fail(f"cannot read {path}: {e.strerror}") from None


def _write(path: Optional[str], data: bytes) -> None:
    if not path:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    try:
        with open(path, "wb") as f:
            f.write(data)
    except OSError as e:
        raise _Fail(f"cannot write {path}: {e.strerror}") from None


def _keys(args: argparse.Namespace) -> List[str]:
    keys = list(args.key)
    for path in args.key_file:
        keys += [x.strip() for x in _read(path).decode("utf-8").splitlines() if x.strip() and not x.startswith("#")]
    if not keys:
        raise _Fail("give the log's public key: --key VKEY or --key-file FILE (GET /v1/log/keys publishes them)")
    return keys


def run(args: argparse.Namespace) -> int:
    """Runs ``cra log ...``; returns the exit code."""
    cmd = getattr(args, "log_command", None)
    handlers = {"checkpoint": _checkpoint, "vkeys": _vkeys, "fetch": _fetch, "verify": _verify, "receipts": _receipts, "audit": _audit,
                "keygen": _keygen, "retire": _retire, "vkey": _vkey}
    if cmd not in handlers:
        sys.stderr.write("cra log needs a command: checkpoint, vkeys, fetch, verify, receipts, audit, keygen, retire or vkey\n")
        return EXIT_USAGE
    try:
        return handlers[cmd](args)
    except _Fail as e:
        sys.stderr.write(f"error: {e}\n")
        return EXIT_USAGE
    except ImportError as e:
        sys.stderr.write(f"error: this needs the cryptography package: pip install 'cra-governance[tlog]' ({e})\n")
        return EXIT_USAGE


def _checkpoint(args: argparse.Namespace) -> int:
    if args.new:
        note = _http(args, "POST", "/v1/log/checkpoint")
    else:
        note = _http(args, "GET", "/v1/log/checkpoint", params={"size": args.size})
    _write(args.output, note)
    return EXIT_OK


def _vkeys(args: argparse.Namespace) -> int:
    doc = json.loads(_http(args, "GET", "/v1/log/keys"))
    sys.stdout.write("".join(k + "\n" for k in doc["vkeys"]))
    return EXIT_OK


def _fetch(args: argparse.Namespace) -> int:
    from .tlog import BUNDLE_FORMAT, load_bundle, parse_note

    kept = load_bundle(args.kept) if args.kept else None
    ids = list(args.trace_ids)
    if kept is not None:
        for ln in str(kept.get("traces") or "").splitlines():
            tid = json.loads(ln)["trace_id"]
            if tid not in ids:
                ids.append(tid)
        ids += [t for t in (kept.get("proofs") or {}).get("missing") or [] if t not in ids]
    query = {k: getattr(args, k) for k in ("agent", "atlas", "action", "decision", "event_type", "integrity", "session",
                                           "since", "until")}
    if any(v is not None for v in query.values()):
        cursor: Optional[str] = None
        listed = 0
        while listed < args.limit:
            page = json.loads(_http(args, "GET", "/v1/traces", params=dict(query, limit=min(1000, args.limit - listed),
                                                                            cursor=cursor)))
            for t in page["traces"]:
                listed += 1
                if t["trace_id"] not in ids:
                    ids.append(t["trace_id"])
            cursor = page.get("next_cursor")
            if not cursor:
                break
    if not ids:
        raise _Fail("name the traces to fetch, give a query (--agent, --since, ...), or give --kept")
    # export first, then a checkpoint covering all of it, then the proofs at that size
    parts: List[bytes] = []
    found: List[str] = []
    for tid in ids:
        try:
            parts.append(_http(args, "GET", "/v1/traces/" + urllib.parse.quote(tid, safe="") + ".jsonl"))
            found.append(tid)
        except _Fail as e:
            if "HTTP 404" not in str(e):
                raise
    note = _http(args, "POST", "/v1/log/checkpoint").decode("utf-8")
    size = int(parse_note(note).text.decode("utf-8").split("\n")[1])
    proofs = json.loads(_http(args, "POST", "/v1/log/proofs", {"trace_ids": ids, "size": size}))
    old_note: Optional[str] = None
    if args.old_checkpoint:
        old_note = _read(args.old_checkpoint).decode("utf-8")
    elif kept is not None:
        old_note = str(kept["checkpoint"])
    consistency = None
    if old_note is not None:
        old_size = int(parse_note(old_note).text.decode("utf-8").split("\n")[1])
        if old_size <= size:
            consistency = json.loads(_http(args, "GET", "/v1/log/proof/consistency",
                                           params={"from": old_size, "to": size}))
    bundle = {"format": BUNDLE_FORMAT, "checkpoint": note, "traces": b"".join(parts).decode("utf-8"),
              "proofs": proofs, "old_checkpoint": old_note, "consistency": consistency}
    _write(args.output, json.dumps(bundle, indent=1).encode() + b"\n")
    sys.stderr.write(f"{len(found)} of {len(ids)} traces, checkpoint of {size} leaves -> {args.output}\n")
    return EXIT_OK


def _print_verdict(verdict: Any, as_json: bool) -> int:
    from ._term import Style, safe

    if as_json:
        sys.stdout.write(json.dumps(verdict.to_json(), indent=2) + "\n")
        return EXIT_OK if verdict.ok else EXIT_NO
    st = Style(sys.stdout)
    cp = verdict.checkpoint
    if cp is not None:
        cos = f", cosigned by {', '.join(sorted(cp.cosigned_by))}" if cp.cosigned_by else ""
        sys.stdout.write(f"checkpoint: {safe(cp.origin)} size {cp.size}, signed by {safe(cp.signed_by)}{safe(cos)}\n")
    if verdict.old_checkpoint is not None:
        sys.stdout.write(f"old checkpoint: size {verdict.old_checkpoint.size}\n")
    sys.stdout.write(f"{verdict.events} events, {verdict.traces} traces checked\n")
    for n in verdict.notes:
        sys.stdout.write(f"note: {n.code}: {safe(n.message)}\n")
    for p in verdict.problems:
        sys.stdout.write(f"{st.bad(p.code)}: {safe(p.message)}\n")
    sys.stdout.write((st.ok("verified") if verdict.ok else st.bad(f"{len(verdict.problems)} problem(s)")) + "\n")
    return EXIT_OK if verdict.ok else EXIT_NO


def _json_file(path: Optional[str]) -> Optional[Dict[str, Any]]:
    if not path:
        return None
    try:
        doc = json.loads(_read(path))
    except ValueError as e:
        raise _Fail(f"{path} is not JSON: {e}") from None
    if not isinstance(doc, dict):
        raise _Fail(f"{path} is not a JSON object")
    return doc


def _verify(args: argparse.Namespace) -> int:
    from .tlog import NoteError, load_bundle, verify

    keys = _keys(args)
    try:
        bundle = load_bundle(args.bundle) if args.bundle else {}
        kept = load_bundle(args.kept) if args.kept else None
    except (NoteError, ValueError, OSError) as e:
        raise _Fail(str(e)) from None
    checkpoint = _read(args.checkpoint) if args.checkpoint else bundle.get("checkpoint")
    if checkpoint is None:
        raise _Fail("give --bundle or --checkpoint")
    traces: Optional[bytes] = None
    if args.trace:
        traces = b"".join(_read(t) for t in args.trace)
    elif bundle.get("traces") is not None:
        traces = str(bundle["traces"]).encode("utf-8")
    proofs = _json_file(args.proofs) if args.proofs else bundle.get("proofs")
    old = _read(args.old_checkpoint) if args.old_checkpoint else bundle.get("old_checkpoint")
    consistency = _json_file(args.consistency) if args.consistency else bundle.get("consistency")
    try:
        verdict = verify(keys=keys, checkpoint=checkpoint, traces=traces, proofs=proofs, old_checkpoint=old,
                         consistency=consistency, kept=kept, cosigners=args.cosigner,
                         min_cosignatures=args.min_cosignatures, origin=args.origin,
                         require_session_end=args.require_session_end)
    except NoteError as e:
        raise _Fail(e.message) from None
    return _print_verdict(verdict, args.json)


def _receipts(args: argparse.Namespace) -> int:
    from .tlog import NoteError, verify_receipts

    keys = _keys(args)
    traces = b"".join(_read(t) for t in args.trace) if args.trace else None
    try:
        verdict = verify_receipts(keys=keys, receipts=_read(args.receipts), traces=traces, origin=args.origin)
    except NoteError as e:
        raise _Fail(e.message) from None
    return _print_verdict(verdict, args.json)


def _audit(args: argparse.Namespace) -> int:
    from .tlog import NoteError, audit, parse_note

    keys = _keys(args)
    if args.checkpoint:
        note = _read(args.checkpoint).decode("utf-8")
    else:
        note = _http(args, "POST", "/v1/log/checkpoint").decode("utf-8")
    size = int(parse_note(note).text.decode("utf-8").split("\n")[1])
    entries: List[Dict[str, Any]] = []
    start = 0
    while start < size:
        page = json.loads(_http(args, "GET", "/v1/log/entries", params={"start": start, "end": size}))
        if not page["entries"]:
            break
        entries += page["entries"]
        start = page["end"]
    old = _read(args.old_checkpoint) if args.old_checkpoint else None
    try:
        verdict = audit(keys=keys, checkpoint=note, entries=entries, old_checkpoint=old)
    except NoteError as e:
        raise _Fail(e.message) from None
    return _print_verdict(verdict, args.json)


def _keygen(args: argparse.Namespace) -> int:
    from .server.checkpoint import KeyFileError, KeyRing

    try:
        existed = os.path.exists(args.log_key)
        if existed:
            KeyRing.add(args.log_key)
        else:
            KeyRing.load(args.log_key)
        ring = KeyRing.load(args.log_key, create=False)
    except KeyFileError as e:
        raise _Fail(str(e)) from None
    sys.stdout.write(f"{args.log_key}: {len(ring.keys)} key(s); the newest signs from the server's next start\n")
    return EXIT_OK


def _retire(args: argparse.Namespace) -> int:
    from .server.checkpoint import KeyFileError, KeyRing

    try:
        n = KeyRing.retire(args.log_key)
    except KeyFileError as e:
        raise _Fail(str(e)) from None
    sys.stdout.write(f"{args.log_key}: {n} older private key(s) reduced to their public half\n")
    return EXIT_OK


def _vkey(args: argparse.Namespace) -> int:
    from .server.checkpoint import KeyFileError, KeyRing

    try:
        ring = KeyRing.load(args.log_key, create=False)
    except KeyFileError as e:
        raise _Fail(str(e)) from None
    sys.stdout.write("".join(k + "\n" for k in ring.vkeys(args.origin)))
    return EXIT_OK
