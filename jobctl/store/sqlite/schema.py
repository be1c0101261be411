"""DDL as ordered forward migrations; PRAGMA user_version records how far a DB has come."""

from __future__ import annotations

LIVE_STATES_SQL = "('waiting', 'queued', 'running', 'retrying')"

MIGRATIONS: list[tuple[str, str]] = [
    (
        "0001_core",
        f"""
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
            WHERE key IS NOT NULL AND state IN {LIVE_STATES_SQL};
        CREATE INDEX jobs_ordering ON jobs (ordering_key, id)
            WHERE ordering_key IS NOT NULL AND state IN {LIVE_STATES_SQL};
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
        """,
    ),
]

MIGRATIONS.append(
    (
        "0002_schedules",
        """
        CREATE TABLE schedules (
            name TEXT PRIMARY KEY,
            cron TEXT NOT NULL,
            tz TEXT NOT NULL,
            queue TEXT NOT NULL DEFAULT 'default',
            command TEXT,                 -- JSON argv
            job_type TEXT,
            payload TEXT,                 -- JSON
            env TEXT,                     -- JSON object
            stdin TEXT,                   -- crontab % input
            enabled INTEGER NOT NULL DEFAULT 1,
            shadow INTEGER NOT NULL DEFAULT 0,
            overlap TEXT NOT NULL DEFAULT 'forbid',
            misfire TEXT NOT NULL DEFAULT 'once',
            jitter REAL NOT NULL DEFAULT 0,
            dst_gap TEXT NOT NULL DEFAULT 'run',
            dst_repeat TEXT NOT NULL DEFAULT 'once',
            timeout REAL,
            max_attempts INTEGER,
            origin TEXT NOT NULL DEFAULT 'cli',  -- cli | config | import
            source TEXT,                  -- crontab file:line of an imported schedule
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            cursor_at REAL NOT NULL       -- fires up to this nominal time are handled
        );

        -- One row per nominal fire: the primary key makes each fire happen exactly once,
        -- however many daemons race for it.
        CREATE TABLE fires (
            schedule TEXT NOT NULL,
            nominal_at REAL NOT NULL,
            handled_at REAL NOT NULL,
            outcome TEXT NOT NULL,        -- enqueued | shadow | overlap | paused | no_daemon
                                          -- | misfire_skip | dst_skip
            job_id INTEGER,
            lateness REAL,
            PRIMARY KEY (schedule, nominal_at)
        ) WITHOUT ROWID;
        CREATE INDEX fires_handled ON fires (handled_at);
        CREATE INDEX jobs_schedule ON jobs (schedule, id) WHERE schedule IS NOT NULL;
        """,
    )
)

SCHEMA_VERSION = len(MIGRATIONS)
