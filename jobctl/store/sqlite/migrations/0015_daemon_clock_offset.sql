-- 0015_daemon_clock_offset: how far the database's clock is ahead of each daemon's node
-- (seconds, measured at its heartbeat; 0 on SQLite, where both are the host's clock).
ALTER TABLE daemons ADD COLUMN clock_offset REAL NOT NULL DEFAULT 0;
