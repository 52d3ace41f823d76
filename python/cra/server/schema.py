"""Versioned schema migrations, the same tables on SQLite and PostgreSQL.

``schema_version`` holds one row per applied migration. On start every process applies the
missing ones in order inside one transaction (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: under an
advisory lock), so several processes starting together apply each migration once. A database
whose version is newer than this code knows is refused (fail closed), never written.

Layout (docs/ingest.md has the table by table description):

* ``traces``: one row per (tenant, trace_id): its head (last stored sequence and hash), integrity
  (``intact`` / ``gap`` / ``broken``), agent, session, counts and times.
* ``events``: the raw line byte for byte plus the indexed columns; unique per (tenant, event_id)
  and per (tenant, trace_id, sequence).
* ``trace_atlases`` / ``trace_actions``: which atlases a trace used and which atlas owns each
  action it saw, so every event is attributable to an agent and an atlas at query time.
* ``held_events``: events that arrived ahead of a missing one, waiting (bounded) for it.
* ``gaps`` and ``alerts``: recorded gaps and integrity alerts (rejected events).

Version 2 adds the transparency log (docs/transparency.md, :mod:`.tlog`): ``events.log_index``
(the event's leaf in its tenant's log; unique per tenant), ``tlog_state`` (per tenant: size, root,
frontier; the row appends lock), ``tlog_tiles`` (the tree's hashes, 256 a row),
``tlog_records`` (leaves that are not events: deletions by retention) and ``tlog_checkpoints``
(every signed checkpoint, kept).
"""

from __future__ import annotations

from typing import List, Tuple

__all__ = ["MIGRATIONS", "LATEST", "statements"]

_V1 = """
CREATE TABLE traces (
    tenant TEXT NOT NULL,
    trace_id TEXT NOT NULL,
    session_id TEXT,
    agent_id TEXT,
    head_sequence BIGINT,
    head_hash TEXT,
    integrity TEXT NOT NULL DEFAULT 'intact',
    events BIGINT NOT NULL DEFAULT 0,
    ended INTEGER NOT NULL DEFAULT 0,
    first_ts_us BIGINT NOT NULL,
    last_ts_us BIGINT NOT NULL,
    first_received_us BIGINT NOT NULL,
    last_received_us BIGINT NOT NULL,
    PRIMARY KEY (tenant, trace_id)
);
CREATE INDEX traces_by_time ON traces (tenant, first_ts_us, trace_id);
CREATE INDEX traces_by_agent ON traces (tenant, agent_id);
CREATE INDEX traces_by_session ON traces (tenant, session_id);
CREATE INDEX traces_by_received ON traces (last_received_us);
CREATE TABLE events (
    tenant TEXT NOT NULL,
    trace_id TEXT NOT NULL,
    sequence BIGINT NOT NULL,
    event_id TEXT NOT NULL,
    session_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    ts_us BIGINT NOT NULL,
    agent_id TEXT,
    atlas_id TEXT,
    action_id TEXT,
    decision TEXT,
    policy_id TEXT,
    reason_code TEXT,
    event_hash TEXT NOT NULL,
    raw {BLOB} NOT NULL,
    received_us BIGINT NOT NULL,
    PRIMARY KEY (tenant, trace_id, sequence)
);
CREATE UNIQUE INDEX events_by_id ON events (tenant, event_id);
CREATE INDEX events_by_time ON events (tenant, ts_us);
CREATE INDEX events_by_action ON events (tenant, action_id);
CREATE INDEX events_by_decision ON events (tenant, decision, ts_us);
CREATE INDEX events_by_type ON events (tenant, event_type);
CREATE TABLE trace_atlases (
    tenant TEXT NOT NULL,
    trace_id TEXT NOT NULL,
    atlas_id TEXT NOT NULL,
    PRIMARY KEY (tenant, trace_id, atlas_id)
);
CREATE INDEX trace_atlases_by_atlas ON trace_atlases (tenant, atlas_id);
CREATE TABLE trace_actions (
    tenant TEXT NOT NULL,
    trace_id TEXT NOT NULL,
    action_id TEXT NOT NULL,
    atlas_id TEXT NOT NULL,
    PRIMARY KEY (tenant, trace_id, action_id)
);
CREATE TABLE held_events (
    tenant TEXT NOT NULL,
    event_id TEXT NOT NULL,
    trace_id TEXT NOT NULL,
    sequence BIGINT NOT NULL,
    event_hash TEXT NOT NULL,
    previous_hash TEXT NOT NULL,
    raw {BLOB} NOT NULL,
    received_us BIGINT NOT NULL,
    PRIMARY KEY (tenant, event_id)
);
CREATE INDEX held_by_trace ON held_events (tenant, trace_id, sequence);
CREATE INDEX held_by_received ON held_events (received_us);
CREATE TABLE gaps (
    id {ID},
    tenant TEXT NOT NULL,
    trace_id TEXT NOT NULL,
    from_sequence BIGINT NOT NULL,
    to_sequence BIGINT NOT NULL,
    recorded_us BIGINT NOT NULL
);
CREATE INDEX gaps_by_trace ON gaps (tenant, trace_id);
CREATE TABLE alerts (
    id {ID},
    tenant TEXT NOT NULL,
    trace_id TEXT,
    session_id TEXT,
    event_id TEXT,
    sequence BIGINT,
    line BIGINT,
    code TEXT NOT NULL,
    message TEXT NOT NULL,
    raw_prefix {BLOB},
    received_us BIGINT NOT NULL
);
CREATE INDEX alerts_by_tenant ON alerts (tenant, id);
CREATE INDEX alerts_by_trace ON alerts (tenant, trace_id);
CREATE INDEX alerts_by_received ON alerts (received_us)
"""

# Version 2 (the dashboard, docs/dashboard.md): indexes that keep the trace list and the overview
# fast at 100,000 traces and more. Each list filter gets an index that also yields the list's
# order (newest first), so a page is an ordered index scan that stops after one page; the
# action / decision / event-type filters probe each candidate trace's events through
# (tenant, trace_id, decision, ...) instead of scanning every event with that decision; the
# overview's counts read one covering index per decision over the time range. The three indexes
# whose columns now lead a wider one are dropped. IF [NOT] EXISTS: safe to re-run.
_V2 = """
CREATE INDEX IF NOT EXISTS traces_by_agent_time ON traces (tenant, agent_id, first_ts_us, trace_id);
CREATE INDEX IF NOT EXISTS traces_by_session_time ON traces (tenant, session_id, first_ts_us, trace_id);
CREATE INDEX IF NOT EXISTS traces_by_integrity_time ON traces (tenant, integrity, first_ts_us, trace_id);
CREATE INDEX IF NOT EXISTS events_by_trace_facts ON events (tenant, trace_id, decision, action_id, event_type);
CREATE INDEX IF NOT EXISTS events_by_decision_time ON events
    (tenant, decision, ts_us, agent_id, action_id, policy_id, reason_code, atlas_id, trace_id);
DROP INDEX IF EXISTS traces_by_agent;
DROP INDEX IF EXISTS traces_by_session;
DROP INDEX IF EXISTS events_by_decision
"""

# Version 3 (the transparency log, docs/transparency.md): each event's leaf index, the tree's
# state and tiles, the log's records and its signed checkpoints.
_V3 = """
ALTER TABLE events ADD COLUMN log_index BIGINT;
CREATE UNIQUE INDEX events_by_log_index ON events (tenant, log_index) WHERE log_index IS NOT NULL;
CREATE INDEX events_unlogged ON events (tenant, received_us, trace_id, sequence) WHERE log_index IS NULL;
CREATE TABLE tlog_state (
    tenant TEXT NOT NULL PRIMARY KEY,
    size BIGINT NOT NULL,
    root {BLOB} NOT NULL,
    frontier {BLOB} NOT NULL,
    updated_us BIGINT NOT NULL
);
CREATE TABLE tlog_tiles (
    tenant TEXT NOT NULL,
    level INTEGER NOT NULL,
    idx BIGINT NOT NULL,
    hashes {BLOB} NOT NULL,
    PRIMARY KEY (tenant, level, idx)
);
CREATE TABLE tlog_records (
    tenant TEXT NOT NULL,
    log_index BIGINT NOT NULL,
    kind TEXT NOT NULL,
    trace_id TEXT,
    line {BLOB} NOT NULL,
    PRIMARY KEY (tenant, log_index)
);
CREATE INDEX tlog_records_by_trace ON tlog_records (tenant, trace_id);
CREATE TABLE tlog_checkpoints (
    tenant TEXT NOT NULL,
    size BIGINT NOT NULL,
    root {BLOB} NOT NULL,
    note TEXT NOT NULL,
    created_us BIGINT NOT NULL,
    PRIMARY KEY (tenant, size)
)
"""

#: (version, SQL template); templates use {BLOB} and {ID} for the dialect's spellings.
MIGRATIONS: List[Tuple[int, str]] = [(1, _V1), (2, _V2), (3, _V3)]
LATEST = MIGRATIONS[-1][0]

_DIALECT = {
    "sqlite": {"BLOB": "BLOB", "ID": "INTEGER PRIMARY KEY"},
    "postgresql": {"BLOB": "BYTEA", "ID": "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"},
}


def statements(template: str, dialect: str) -> List[str]:
    """The migration's statements for ``dialect`` (``sqlite`` or ``postgresql``)."""
    sql = template.format(**_DIALECT[dialect])
    return [s.strip() for s in sql.split(";") if s.strip()]
