-- 0007_gangs_every_node: SQLite's 0017. Gang jobs (N member jobs started all together or
-- not at all; the gang's id is its rank-0 member's job id; epoch +1 at each start) and
-- schedules that fire on every node.
CREATE TABLE IF NOT EXISTS gangs (
    id bigint PRIMARY KEY,
    size bigint NOT NULL,
    state text NOT NULL,
    priority bigint NOT NULL DEFAULT 0,
    run_at double precision NOT NULL,
    epoch bigint NOT NULL DEFAULT 0,
    stop_state text,
    stop_rank bigint,
    stop_retry_at double precision,
    created_at double precision NOT NULL,
    started_at double precision,
    finished_at double precision
);
CREATE INDEX IF NOT EXISTS gangs_waiting ON gangs (priority DESC, run_at, id)
    WHERE state = 'waiting';

ALTER TABLE jobs ADD COLUMN IF NOT EXISTS gang_id bigint;
ALTER TABLE jobs ADD COLUMN IF NOT EXISTS gang_rank bigint;
ALTER TABLE jobs ADD COLUMN IF NOT EXISTS gang_size bigint;
ALTER TABLE daemons ADD COLUMN IF NOT EXISTS concurrency bigint;
CREATE INDEX IF NOT EXISTS jobs_gang ON jobs (gang_id) WHERE gang_id IS NOT NULL;

ALTER TABLE schedules ADD COLUMN IF NOT EXISTS on_every_node bigint NOT NULL DEFAULT 0;
ALTER TABLE schedules ADD COLUMN IF NOT EXISTS stagger double precision;
