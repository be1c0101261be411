-- 0006_sweeps: the sweep registry (SPEC "Mark-then-sweep deletes"), and the side tables in
-- which any SQLite target keeps its marks (created here too so that jobctl's own history
-- retention sweeps this DB without DDL outside migrations).
CREATE TABLE sweeps (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    kind TEXT NOT NULL DEFAULT 'user',   -- user | retention
    target TEXT NOT NULL,                -- URL of the target DB (sqlite:////abs.db, postgresql://...)
    table_name TEXT NOT NULL,            -- as the user gave it
    table_schema TEXT,                   -- resolved schema (PostgreSQL)
    key_columns TEXT NOT NULL,           -- JSON list: primary key columns, or ["rowid"]
    predicate TEXT NOT NULL,
    token TEXT NOT NULL UNIQUE,          -- names this sweep's marks inside the target
    state TEXT NOT NULL,                 -- marking | marked | running | done | unmarked
    marked INTEGER NOT NULL DEFAULT 0,
    done INTEGER NOT NULL DEFAULT 0,     -- progress cursor: marked rows processed (mirror of the target's)
    deleted INTEGER NOT NULL DEFAULT 0,
    skipped INTEGER NOT NULL DEFAULT 0,
    marked_at REAL NOT NULL,
    marked_by TEXT NOT NULL,
    grace_until REAL NOT NULL,
    run_by TEXT,
    started_at REAL,
    finished_at REAL
);
CREATE UNIQUE INDEX sweeps_live_name ON sweeps (name)
    WHERE state IN ('marking', 'marked', 'running');
CREATE INDEX sweeps_kind_state ON sweeps (kind, state);

CREATE TABLE IF NOT EXISTS _jobctl_sweeps (
    token TEXT PRIMARY KEY,
    tbl TEXT NOT NULL,
    marked INTEGER NOT NULL DEFAULT 0,
    done INTEGER NOT NULL DEFAULT 0,
    deleted INTEGER NOT NULL DEFAULT 0,
    skipped INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS _jobctl_sweep_marks (
    sweep TEXT NOT NULL,
    seq INTEGER NOT NULL,
    k0, k1, k2, k3, k4, k5, k6, k7,
    PRIMARY KEY (sweep, seq)
) WITHOUT ROWID;
