-- 0014_notifications: SPEC "Notifications". A schedule's owner, severity, ping URL, run-time
-- bounds, deadline and auto-pause; the outbox of events (written in the transaction of the
-- change that caused each), their deliveries per route and channel, each route's max_per
-- window, and each subject's failure streak (after: N, recovered, pause_after).
ALTER TABLE schedules ADD COLUMN owner TEXT;
ALTER TABLE schedules ADD COLUMN severity TEXT;
ALTER TABLE schedules ADD COLUMN ping TEXT;
ALTER TABLE schedules ADD COLUMN max_runtime REAL;
ALTER TABLE schedules ADD COLUMN min_runtime REAL;
ALTER TABLE schedules ADD COLUMN deadline TEXT;         -- HH:MM in the schedule's zone
ALTER TABLE schedules ADD COLUMN pause_after INTEGER;
ALTER TABLE schedules ADD COLUMN paused_reason TEXT;    -- set by auto-pause, cleared by resume
ALTER TABLE schedules ADD COLUMN mailto TEXT;           -- an imported crontab's MAILTO
CREATE TABLE notify_events (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,           -- failed | dead | recovered | missed | too_long | ...
    at REAL NOT NULL,             -- epoch seconds
    dedup TEXT UNIQUE,            -- events found by a scan (too_long, deadline) are recorded once
    state TEXT NOT NULL DEFAULT 'new',   -- new | routed | unrouted
    body TEXT NOT NULL            -- JSON: the facts (job, schedule, queue, exit code, tail, ...)
);
CREATE INDEX notify_events_new ON notify_events (id) WHERE state = 'new';
CREATE INDEX notify_events_at ON notify_events (at);
CREATE TABLE notify_deliveries (
    id INTEGER PRIMARY KEY,
    event_id INTEGER,             -- NULL for a digest
    kind TEXT NOT NULL,           -- event | digest
    route TEXT,
    channel TEXT NOT NULL,
    state TEXT NOT NULL,          -- pending | sending | retrying | delivered | dead | folded
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    next_at REAL,                 -- due (pending, retrying)
    lease_until REAL,             -- sending: another daemon may take it over after this
    finished_at REAL,
    answer TEXT,                  -- the channel's last answer (HTTP 202, 250 OK, exit 0)
    error TEXT,
    digest_id INTEGER             -- folded: the digest that carried it
);
CREATE INDEX notify_deliveries_due ON notify_deliveries (next_at)
    WHERE state IN ('pending', 'retrying', 'sending');
CREATE INDEX notify_deliveries_event ON notify_deliveries (event_id);
CREATE INDEX notify_deliveries_folded ON notify_deliveries (route, channel) WHERE state = 'folded';
CREATE TABLE notify_windows (
    route TEXT PRIMARY KEY,
    started_at REAL,
    sent INTEGER NOT NULL
);
CREATE TABLE notify_streaks (
    subject TEXT PRIMARY KEY,     -- schedule:NAME | name:NAME | type:NAME
    failures INTEGER NOT NULL,
    updated_at REAL NOT NULL
);
