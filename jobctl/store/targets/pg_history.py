"""jobctl's own PostgreSQL database as a sweep target, for history retention (see
targets.history): the `jobs` table of jobctl's schema, the marks beside it."""

from __future__ import annotations

from typing import Any

import psycopg

from jobctl.store.postgres.connection import parse_url
from jobctl.store.targets import Plan, TableRef
from jobctl.store.targets.postgres import PostgresTarget


class PgHistoryTarget(PostgresTarget):
    """jobctl's own PostgreSQL database: `jobs` of its schema, marks beside it."""

    def __init__(self, url: str) -> None:
        parsed = parse_url(url)
        super().__init__(parsed.conninfo, statement_timeout=None)
        self.display = parsed.display
        self.schema = parsed.schema

    def resolve_table(self, name: str) -> TableRef:
        return super().resolve_table(f"{self.schema}.{name}")

    def _marked(self, plan: Plan) -> str:
        return f"SELECT k0 FROM {self._marks_table(plan)} WHERE seq > %s AND seq <= %s"

    def _before_delete(self, cur: psycopg.Cursor[Any], plan: Plan, span: tuple[int, int]) -> Any:
        attempts = self._qual(self.schema, "attempts")
        return cur.execute(
            f"SELECT job_id, log_path FROM {attempts} WHERE log_path IS NOT NULL"
            f" AND job_id IN ({self._marked(plan)})",
            span,
        ).fetchall()

    def _after_delete(
        self, cur: psycopg.Cursor[Any], plan: Plan, span: tuple[int, int], collected: Any
    ) -> tuple[str, ...]:
        jobs, dlq = self._qual(self.schema, "jobs"), self._qual(self.schema, "dlq")
        gone = {
            r[0]
            for r in cur.execute(
                f"SELECT k0 FROM {self._marks_table(plan)} m WHERE seq > %s AND seq <= %s"
                f" AND NOT EXISTS (SELECT 1 FROM {jobs} j WHERE j.id = m.k0)",
                span,
            ).fetchall()
        }
        if gone:
            cur.execute(f"DELETE FROM {dlq} WHERE job_id = ANY(%s)", (list(gone),))
            gangs = self._qual(self.schema, "gangs")
            cur.execute(
                f"DELETE FROM {gangs} g WHERE g.id <= %s"
                " AND g.state NOT IN ('waiting', 'running', 'stopping')"
                f" AND NOT EXISTS (SELECT 1 FROM {jobs} j WHERE j.gang_id = g.id)",
                (max(gone),),
            )
        return tuple(path for job_id, path in collected if job_id in gone)
