-- 0013_attempt_output: an attempt's output kept in the store, in chunks numbered from 1 in
-- the order produced (seq 0: the "bytes dropped" marker of output beyond the cap). On
-- PostgreSQL every attempt's output lives here; on SQLite the log file is enough and this
-- table holds only what `db copy` brought from PostgreSQL. Deleted with the job.
CREATE TABLE attempt_output (
    job_id INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    attempt INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (job_id, attempt, seq)
);
