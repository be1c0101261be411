-- 0009_lean_indexes: fewer index pages written per enqueue. `list --since` bounds its scan
-- with an id found by bisection on the primary key (ids grow with created_at), so the
-- created_at index is no longer needed.
DROP INDEX IF EXISTS jobs_created;
