-- 0003_attempt_output: SQLite's 0013. An attempt's output kept in the store, in chunks
-- numbered from 1 in the order produced (seq 0: the "bytes dropped" marker of output beyond
-- the cap), so `logs` works from any host, also after the host that ran it is gone.
CREATE TABLE attempt_output (
    job_id bigint NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    attempt bigint NOT NULL,
    seq bigint NOT NULL,
    data bytea NOT NULL,
    PRIMARY KEY (job_id, attempt, seq)
);
