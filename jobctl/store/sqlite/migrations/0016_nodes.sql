-- 0016_nodes: cluster operations. One row per node (a daemon registers and heartbeats it);
-- an operator drains, resumes or forgets it. Jobs and schedules may be placed on a node or
-- a tag. One node per period holds each cluster chore (lease rescue, retention).
CREATE TABLE IF NOT EXISTS nodes (
    name TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    tags TEXT,                        -- JSON list
    version TEXT,
    started_at REAL NOT NULL,
    heartbeat_at REAL NOT NULL,
    heartbeat_interval REAL NOT NULL,
    draining INTEGER NOT NULL DEFAULT 0,   -- 1: claims nothing
    drain_now INTEGER NOT NULL DEFAULT 0,  -- 1: running jobs are put back at once
    drained_at REAL,
    forgotten_at REAL                 -- `node forget`: gone for good until a daemon starts
);

CREATE TABLE IF NOT EXISTS cluster_chores (
    name TEXT PRIMARY KEY,            -- rescue | retention
    holder TEXT NOT NULL,             -- the daemon (runner id) doing it this term
    term INTEGER NOT NULL,            -- +1 each time another daemon takes it over
    expires_at REAL NOT NULL          -- database time; then any daemon may take it
);

ALTER TABLE jobs ADD COLUMN on_node TEXT;
ALTER TABLE jobs ADD COLUMN on_tag TEXT;
ALTER TABLE schedules ADD COLUMN on_node TEXT;
ALTER TABLE schedules ADD COLUMN on_tag TEXT;
