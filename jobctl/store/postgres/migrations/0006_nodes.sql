-- 0006_nodes: SQLite's 0016. One row per node (a daemon registers and heartbeats it); an
-- operator drains, resumes or forgets it. Jobs and schedules may be placed on a node or a
-- tag. One node per period holds each cluster chore (lease rescue, retention).
CREATE TABLE IF NOT EXISTS nodes (
    name text PRIMARY KEY,
    host text NOT NULL,
    tags text,
    version text,
    started_at double precision NOT NULL,
    heartbeat_at double precision NOT NULL,
    heartbeat_interval double precision NOT NULL,
    draining bigint NOT NULL DEFAULT 0,
    drain_now bigint NOT NULL DEFAULT 0,
    drained_at double precision,
    forgotten_at double precision
);

CREATE TABLE IF NOT EXISTS cluster_chores (
    name text PRIMARY KEY,
    holder text NOT NULL,
    term bigint NOT NULL,
    expires_at double precision NOT NULL
);

ALTER TABLE jobs ADD COLUMN IF NOT EXISTS on_node text;
ALTER TABLE jobs ADD COLUMN IF NOT EXISTS on_tag text;
ALTER TABLE schedules ADD COLUMN IF NOT EXISTS on_node text;
ALTER TABLE schedules ADD COLUMN IF NOT EXISTS on_tag text;
