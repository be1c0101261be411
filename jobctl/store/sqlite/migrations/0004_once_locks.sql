-- 0004_once_locks: run-once records, named locks with fencing tokens, and the DLQ replay link.

-- One row per run-once NAME: at most one claim at a time (the primary key), at most one
-- success per DB (state 'succeeded' is final until `once reset` deletes the row).
CREATE TABLE once_runs (
    name TEXT PRIMARY KEY,
    state TEXT NOT NULL,          -- running | succeeded | failed
    holder TEXT,                  -- random id of the claiming wrapper (renew/finish check it)
    actor TEXT,                   -- SUDO_USER or USER
    host TEXT,
    pid INTEGER,                  -- the wrapper
    pid_start INTEGER,
    cmd_pid INTEGER,              -- CMD's main process (its own session)
    cmd_pid_start INTEGER,
    command TEXT,                 -- JSON argv
    runs INTEGER NOT NULL DEFAULT 0,
    started_at REAL,
    finished_at REAL,
    lease_expires_at REAL,
    exit_code INTEGER,
    signal INTEGER,
    checkpoint TEXT,
    output_tail TEXT,
    log_path TEXT
);

-- One row per lock NAME ever taken; the row (and its token counter) outlives a release.
CREATE TABLE locks (
    name TEXT PRIMARY KEY,
    token INTEGER NOT NULL DEFAULT 0,  -- fencing token: +1 on every acquisition
    holder TEXT,                  -- user@host:pid of the holder, NULL when free
    holder_id TEXT,               -- random id of the holding wrapper
    acquired_at REAL,
    expires_at REAL,
    ttl REAL
);
CREATE INDEX locks_held ON locks (expires_at) WHERE holder_id IS NOT NULL;

-- The DLQ entry a job was replayed from (its entry's replayed_job_id points back).
ALTER TABLE jobs ADD COLUMN replay_of INTEGER;
CREATE INDEX dlq_replayed ON dlq (replayed_job_id) WHERE replayed_job_id IS NOT NULL;
