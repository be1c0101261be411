-- 0005_daemon_clock_offset: SQLite's 0015. How far the database's clock is ahead of each
-- daemon's node (seconds, measured at its heartbeat): `health` reports it.
ALTER TABLE daemons ADD COLUMN clock_offset double precision NOT NULL DEFAULT 0;
