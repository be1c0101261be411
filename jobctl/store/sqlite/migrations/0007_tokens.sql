-- 0007_tokens: API tokens for the daemon's HTTP API (SPEC "Observability and API").
-- Only a SHA-256 of the token is kept; `lookup` is the token's public id part.
CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    lookup TEXT NOT NULL UNIQUE,
    secret_hash TEXT NOT NULL,    -- hex SHA-256 of the whole token
    scopes TEXT NOT NULL,         -- comma-separated: enqueue, read, admin
    created_at REAL NOT NULL,
    created_by TEXT,
    revoked_at REAL
);
CREATE UNIQUE INDEX api_tokens_live_name ON api_tokens (name) WHERE revoked_at IS NULL;
