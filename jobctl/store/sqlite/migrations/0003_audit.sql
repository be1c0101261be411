-- 0003_audit: who did what, when, from where (SPEC "Ops toolkit", Audit).
CREATE TABLE audit (
    id INTEGER PRIMARY KEY,
    at REAL NOT NULL,
    actor TEXT NOT NULL,          -- SUDO_USER or USER (or the API token's name)
    uid INTEGER,
    host TEXT NOT NULL,
    request_id TEXT NOT NULL,
    action TEXT NOT NULL,         -- e.g. queue.purge, dlq.replay, sweep.run
    target TEXT,
    args TEXT,                    -- JSON object, secrets redacted
    outcome TEXT NOT NULL         -- ok | refused | failed
);
CREATE INDEX audit_at ON audit (at);
CREATE INDEX audit_action ON audit (action, at);
