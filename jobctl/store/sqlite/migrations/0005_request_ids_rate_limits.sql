-- 0005_request_ids_rate_limits: the request that created a job (CLI invocation, API call or
-- schedule fire), and the claim log behind per-queue / per-tenant rate limits.
ALTER TABLE jobs ADD COLUMN request_id TEXT;

-- One row per claim of a job from a rate-limited queue (only those queues write here).
-- tenant is '' for jobs without one, and for queues limited as a whole (not per tenant).
CREATE TABLE rate_claims (
    queue TEXT NOT NULL,
    tenant TEXT NOT NULL,
    at REAL NOT NULL              -- epoch seconds of the claim
);
CREATE INDEX rate_claims_window ON rate_claims (queue, tenant, at);
