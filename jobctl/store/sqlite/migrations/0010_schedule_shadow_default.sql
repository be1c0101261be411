-- 0010_schedule_shadow_default: `shadow` may be NULL, "not set by the schedule": the config's
-- shadow_mode decides. Imported schedules (shadow by default, or --no-shadow, or promoted)
-- and shadow ones keep their value; the others follow shadow_mode from now on.
CREATE TABLE schedules_0010 (
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
    shadow INTEGER,               -- NULL: config shadow_mode decides
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
INSERT INTO schedules_0010 (name, cron, tz, queue, command, job_type, payload, env, stdin,
    enabled, shadow, overlap, misfire, jitter, dst_gap, dst_repeat, timeout, max_attempts,
    origin, source, created_at, updated_at, cursor_at)
SELECT name, cron, tz, queue, command, job_type, payload, env, stdin,
    enabled, CASE WHEN shadow = 1 OR origin = 'import' THEN shadow END, overlap, misfire,
    jitter, dst_gap, dst_repeat, timeout, max_attempts,
    origin, source, created_at, updated_at, cursor_at
FROM schedules;
DROP TABLE schedules;
ALTER TABLE schedules_0010 RENAME TO schedules;
