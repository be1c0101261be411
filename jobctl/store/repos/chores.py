"""Cluster chores (lease rescue, retention): one daemon per period does each. The holder
has a lease row with a term number, timed by the `now` the caller gives (the database's
clock on PostgreSQL); when it lapses another daemon takes the chore over in a new term."""

from __future__ import annotations

from datetime import datetime

from jobctl.store.database import Database


class ChoresRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    def hold(self, chore: str, holder: str, now: datetime, ttl: float) -> int | None:
        """Take or keep `chore` for `holder` until `now + ttl`: the term number when
        `holder` has it, None while another holder's lease has not lapsed. Atomic across
        processes and hosts: at most one holder per chore at any `now`."""
        ts = now.timestamp()
        with self.db.write() as conn:
            conn.serialise(f"chore:{chore}")
            row = conn.execute(
                "SELECT holder, term, expires_at FROM cluster_chores WHERE name = ?", (chore,)
            ).fetchone()
            if row is None:
                conn.execute(
                    "INSERT INTO cluster_chores (name, holder, term, expires_at)"
                    " VALUES (?, ?, 1, ?)",
                    (chore, holder, ts + ttl),
                )
                return 1
            if row["holder"] != holder and row["expires_at"] >= ts:
                return None
            term = row["term"] if row["holder"] == holder else row["term"] + 1
            conn.execute(
                "UPDATE cluster_chores SET holder = ?, term = ?, expires_at = ? WHERE name = ?",
                (holder, term, ts + ttl, chore),
            )
            return int(term)

    def release(self, holder: str) -> None:
        """`holder` stops: its chores may be taken over at once."""
        with self.db.write() as conn:
            conn.execute("UPDATE cluster_chores SET expires_at = 0 WHERE holder = ?", (holder,))

    def holders(self) -> dict[str, tuple[str, int, float]]:
        """chore → (holder, term, expires_at epoch seconds)."""
        with self.db.read() as conn:
            rows = conn.execute("SELECT name, holder, term, expires_at FROM cluster_chores")
            return {r[0]: (r[1], r[2], r[3]) for r in rows}
