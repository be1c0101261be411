"""What must hold between jobctl's tables, whatever the backend (`db check`): each a query
for the rows that break it, run inside one read snapshot."""

from __future__ import annotations

from jobctl.store.database import Conn

SAMPLE = 5  # offending ids named in a finding

# (what is wrong, the ids of the rows that are so)
INVARIANTS = (
    (
        "running job(s) without a lease owner",
        "SELECT id FROM jobs WHERE state = 'running'"
        " AND (lease_owner IS NULL OR lease_expires_at IS NULL)",
    ),
    (
        "running job(s) without an open attempt",
        "SELECT j.id FROM jobs j WHERE j.state = 'running' AND NOT EXISTS (SELECT 1 FROM"
        " attempts a WHERE a.job_id = j.id AND a.attempt = j.attempts AND a.finished_at IS NULL)",
    ),
    (
        "job(s) with an attempt numbered beyond the job's attempts",
        "SELECT DISTINCT j.id FROM attempts a JOIN jobs j ON j.id = a.job_id"
        " WHERE a.attempt > j.attempts OR a.attempt < 1",
    ),
    (
        "attempt(s) of jobs that do not exist (job ids)",
        "SELECT DISTINCT a.job_id FROM attempts a"
        " WHERE NOT EXISTS (SELECT 1 FROM jobs j WHERE j.id = a.job_id)",
    ),
    (
        "job(s) whose dlq_id names no DLQ entry",
        "SELECT j.id FROM jobs j WHERE j.dlq_id IS NOT NULL"
        " AND NOT EXISTS (SELECT 1 FROM dlq d WHERE d.id = j.dlq_id)",
    ),
    (
        "DLQ entr(ies) of jobs that do not exist (entry ids)",
        "SELECT d.id FROM dlq d WHERE NOT EXISTS (SELECT 1 FROM jobs j WHERE j.id = d.job_id)",
    ),
    (
        # Retention removes old jobs and keeps their fires: a fire may name a job that is
        # gone, but never one beyond every job there is (those jobs were lost).
        "schedule fire(s) naming a job beyond the newest job (job ids)",
        "SELECT DISTINCT f.job_id FROM fires f WHERE f.job_id IS NOT NULL"
        " AND f.job_id > (SELECT coalesce(max(id), 0) FROM jobs)",
    ),
)


def broken(conn: Conn) -> list[str]:
    """One line per invariant that does not hold (empty when all do), naming some ids."""
    found = []
    for what, query in INVARIANTS:
        count = conn.execute(f"SELECT count(*) FROM ({query}) AS q").fetchone()[0]
        if count:
            ids = [str(r[0]) for r in conn.execute(f"{query} ORDER BY 1 LIMIT {SAMPLE}")]
            more = f" and {count - len(ids)} more" if count > len(ids) else ""
            found.append(f"{count} {what}: {', '.join(ids)}{more}")
    return found
