-- 0002_schedules
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
