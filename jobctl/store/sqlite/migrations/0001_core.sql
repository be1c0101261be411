-- 0001_core
CREATE TABLE jobs (
    id INTEGER PRIMARY KEY,
    queue TEXT NOT NULL,
    state TEXT NOT NULL,
    name TEXT,
    command TEXT,                 -- JSON argv
    job_type TEXT,
    handler TEXT,                 -- module:function
    payload TEXT,                 -- JSON
    priority INTEGER NOT NULL DEFAULT 0,
    run_at REAL NOT NULL,         -- epoch seconds, UTC
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    attempts INTEGER NOT NULL DEFAULT 0,
    budget_start INTEGER NOT NULL DEFAULT 0,  -- attempts before the last `retry`
    max_attempts INTEGER NOT NULL,
    backoff TEXT NOT NULL,
    backoff_base REAL NOT NULL,
    backoff_max REAL NOT NULL,
    jitter TEXT NOT NULL,
    timeout REAL,
    exit_code INTEGER,
    signal INTEGER,
    failure_class TEXT,
    error TEXT,
    key TEXT,
    ordering_key TEXT,
    tenant TEXT,
    retry_after REAL,
    dlq_id INTEGER,
    env TEXT,                     -- JSON object
    cwd TEXT,
    run_user TEXT,
    run_group TEXT,
    schedule TEXT,
    nominal_at REAL,
    lease_owner TEXT,
    lease_expires_at REAL,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    has_dependants INTEGER NOT NULL DEFAULT 0,  -- skip the dependants pass when 0
    checkpoint TEXT,
    output_tail TEXT
);
CREATE INDEX jobs_claim ON jobs (priority DESC, run_at, id)
    WHERE state IN ('queued', 'retrying');
CREATE INDEX jobs_due ON jobs (run_at) WHERE state IN ('queued', 'retrying');
CREATE INDEX jobs_running ON jobs (lease_owner, queue) WHERE state = 'running';
CREATE UNIQUE INDEX jobs_live_key ON jobs (key)
    WHERE key IS NOT NULL AND state IN ('waiting', 'queued', 'running', 'retrying');
CREATE INDEX jobs_ordering ON jobs (ordering_key, id)
    WHERE ordering_key IS NOT NULL AND state IN ('waiting', 'queued', 'running', 'retrying');
CREATE INDEX jobs_state_queue ON jobs (state, queue);
CREATE INDEX jobs_created ON jobs (created_at);
CREATE INDEX jobs_state_finished ON jobs (state, finished_at)
    WHERE finished_at IS NOT NULL;

CREATE TABLE job_deps (
    job_id INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    depends_on INTEGER NOT NULL,
    PRIMARY KEY (job_id, depends_on)
) WITHOUT ROWID;
CREATE INDEX job_deps_reverse ON job_deps (depends_on);

CREATE TABLE attempts (
    job_id INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    attempt INTEGER NOT NULL,
    queue TEXT NOT NULL,
    node TEXT,
    runner TEXT,
    pid INTEGER,
    pid_start INTEGER,
    due_at REAL,
    started_at REAL NOT NULL,
    finished_at REAL,
    exit_code INTEGER,
    signal INTEGER,
    failure_class TEXT,
    duration REAL,
    max_rss INTEGER,
    cpu_seconds REAL,
    log_path TEXT,
    PRIMARY KEY (job_id, attempt)
) WITHOUT ROWID;
CREATE INDEX attempts_started ON attempts (started_at);
CREATE INDEX attempts_failed ON attempts (finished_at) WHERE failure_class IS NOT NULL;
CREATE INDEX attempts_open ON attempts (node) WHERE finished_at IS NULL;

CREATE TABLE dlq (
    id INTEGER PRIMARY KEY,
    job_id INTEGER NOT NULL,
    queue TEXT NOT NULL,
    failure_class TEXT,
    error TEXT,
    payload TEXT,
    output_tail TEXT,
    created_at REAL NOT NULL,
    replayed_job_id INTEGER,
    replayed_at REAL
);
CREATE INDEX dlq_created ON dlq (created_at);
CREATE INDEX dlq_job ON dlq (job_id);

CREATE TABLE queues (
    name TEXT PRIMARY KEY,
    paused INTEGER NOT NULL DEFAULT 0,
    updated_at REAL
);

CREATE TABLE daemons (
    id TEXT PRIMARY KEY,
    node TEXT NOT NULL,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    version TEXT,
    queues TEXT,
    started_at REAL NOT NULL,
    heartbeat_at REAL NOT NULL,
    heartbeat_interval REAL NOT NULL,
    stopped_at REAL
);
