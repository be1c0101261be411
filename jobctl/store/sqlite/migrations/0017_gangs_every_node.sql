-- 0017_gangs_every_node: gang jobs and schedules that fire on every node.
-- A gang is N member jobs (jobs.gang_id, gang_rank) started all together or not at all. Its
-- id is its rank-0 member's job id. A daemon with a free slot reserves a member of the first
-- waiting gang (the member stays queued, lease_owner = the reserving runner, the lease timing
-- the reservation); the transaction that takes the N-th reservation starts every member.
-- epoch: +1 at each start; the members' attempt numbers move with it (a start adds one to
-- each), so an ending or a checkpoint carrying an older epoch is refused.
CREATE TABLE IF NOT EXISTS gangs (
    id INTEGER PRIMARY KEY,           -- the rank-0 member's job id
    size INTEGER NOT NULL,
    state TEXT NOT NULL,              -- waiting | running | stopping | succeeded | dead | cancelled
    priority INTEGER NOT NULL DEFAULT 0,
    run_at REAL NOT NULL,             -- due (a retry's backoff moves it)
    epoch INTEGER NOT NULL DEFAULT 0,
    stop_state TEXT,                  -- stopping: what the first failing member's ending decided
    stop_rank INTEGER,                --   (retrying | dead | cancelled), which rank, and when
    stop_retry_at REAL,               --   the retried gang is due
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL
);
CREATE INDEX IF NOT EXISTS gangs_waiting ON gangs (priority DESC, run_at, id)
    WHERE state = 'waiting';

ALTER TABLE jobs ADD COLUMN gang_id INTEGER;
ALTER TABLE jobs ADD COLUMN gang_rank INTEGER;
ALTER TABLE jobs ADD COLUMN gang_size INTEGER;
-- a daemon's slots: a gang larger than the live daemons' slots in all cannot start
ALTER TABLE daemons ADD COLUMN concurrency INTEGER;
CREATE INDEX IF NOT EXISTS jobs_gang ON jobs (gang_id) WHERE gang_id IS NOT NULL;

-- schedule add --on-every-node [--stagger D]: one job per live matching node per fire
ALTER TABLE schedules ADD COLUMN on_every_node INTEGER NOT NULL DEFAULT 0;
ALTER TABLE schedules ADD COLUMN stagger REAL;
