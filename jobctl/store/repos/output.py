"""Attempt output kept in the store: each attempt's bytes in chunks of at most CHUNK_BYTES,
numbered from 1 in the order produced (`seq`), so a reader on any host prints them and a
follower asks for the chunks after the last one it printed. Chunk 0 is reserved for the
line saying how many earlier bytes were dropped (output beyond the attempt's log cap).

Who writes here is the daemon that runs the attempt, on a store whose `keeps_output` is
True (runtime/output.py); the chunks go with their job (ON DELETE CASCADE).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from jobctl.errors import InvalidInput, NotFound
from jobctl.store.database import Conflict, Conn, Database

CHUNK_BYTES = 64 * 1024  # one row's data at most: a page of chunks stays small in memory
MARKER_SEQ = 0
PAGE_CHUNKS = 64  # chunks returned by one `chunks_after`
_INSERT = (  # only while the job exists (its output is not written after it is deleted)
    "INSERT INTO attempt_output (job_id, attempt, seq, data)"
    " SELECT id, ?, ?, ? FROM jobs WHERE id = ? ON CONFLICT (job_id, attempt, seq)"
)


@dataclass(frozen=True)
class OutputWrite:
    """What one attempt's stored output gains in one transaction, in this order: with
    `replace` every stored chunk is deleted, else those with 1 <= seq < `drop_before` (output
    the cap no longer keeps); `marker` (when given) becomes chunk 0; `chunks` (seq, data)
    are added. With `replace` the chunks keep their order and are numbered on after the
    highest seq the attempt had: a follower never sees a seq it already printed (though it
    sees the output afresh)."""

    job_id: int
    attempt: int
    chunks: tuple[tuple[int, bytes], ...] = ()
    drop_before: int = 0
    marker: bytes | None = None
    replace: bool = False


def chunked(data: bytes, first_seq: int) -> tuple[tuple[int, bytes], ...]:
    """`data` cut into chunks of at most CHUNK_BYTES, numbered from `first_seq`."""
    return tuple(
        (first_seq + n, data[start : start + CHUNK_BYTES])
        for n, start in enumerate(range(0, len(data), CHUNK_BYTES))
    )


class OutputRepo:
    def __init__(self, db: Database) -> None:
        self.db = db

    def append(self, job_id: int, attempt: int, seq: int, data: bytes) -> None:
        """Add one chunk as `seq` (>= 1) in its own transaction. A seq already stored is
        InvalidInput, a job that does not exist NotFound; nothing is written then."""
        if seq < 1:
            raise InvalidInput(f"invalid output chunk seq {seq}: chunks are numbered from 1")
        try:
            with self.db.write() as conn:
                added = conn.execute(
                    "INSERT INTO attempt_output (job_id, attempt, seq, data)"
                    " SELECT id, ?, ?, ? FROM jobs WHERE id = ?",
                    (attempt, seq, data, job_id),
                ).rowcount
        except Conflict:
            raise InvalidInput(
                f"job {job_id} attempt {attempt} already has output chunk {seq}"
            ) from None
        if not added:
            raise NotFound(f"no job {job_id}")

    def write(self, writes: Sequence[OutputWrite]) -> None:
        """Apply `writes` (any number of attempts) in one transaction, all or nothing (see
        `write_in`)."""
        if not writes:
            return
        with self.db.write() as conn:
            self.write_in(conn, writes)

    @staticmethod
    def write_in(conn: Conn, writes: Sequence[OutputWrite]) -> None:
        """Apply `writes` inside the caller's write transaction. Never refused: a chunk whose
        seq is stored already is left as it is (a write retried after a lost commit changes
        nothing), and the output of a job that no longer exists is not written."""
        for w in writes:
            OutputRepo._write_one(conn, w)

    @staticmethod
    def _write_one(conn: Conn, w: OutputWrite) -> tuple[tuple[int, bytes], ...]:
        """Apply one write (see OutputWrite); the chunks it stored, as numbered."""
        chunks = w.chunks
        if w.replace:
            (top,) = conn.execute(
                "SELECT max(seq) FROM attempt_output WHERE job_id = ? AND attempt = ?",
                (w.job_id, w.attempt),
            ).fetchone()
            chunks = tuple(((top or 0) + n, data) for n, (_, data) in enumerate(chunks, 1))
            OutputRepo.delete_in(conn, w.job_id, w.attempt)
        elif w.drop_before > 1:
            conn.execute(
                "DELETE FROM attempt_output WHERE job_id = ? AND attempt = ?"
                " AND seq >= 1 AND seq < ?",
                (w.job_id, w.attempt, w.drop_before),
            )
        if w.marker is not None:
            conn.execute(
                _INSERT + " DO UPDATE SET data = excluded.data",
                (w.attempt, MARKER_SEQ, w.marker, w.job_id),
            )
        conn.executemany(
            _INSERT + " DO NOTHING",
            [(w.attempt, seq, data, w.job_id) for seq, data in chunks if data],
        )
        return chunks

    def replace(self, job_id: int, attempt: int, data: bytes) -> int:
        """Make `data` all of the attempt's stored output, in one transaction: what was stored
        is deleted, `data` is stored in chunks numbered on after the highest seq it had (a
        follower never sees a seq it already printed, though it sees `data` afresh). Returns
        the last seq (0 when `data` is empty)."""
        with self.db.write() as conn:
            chunks = self._write_one(
                conn, OutputWrite(job_id, attempt, chunked(data, 1), replace=True)
            )
        return chunks[-1][0] if chunks else 0

    @staticmethod
    def delete_in(conn: Conn, job_id: int, attempt: int) -> None:
        """Delete the attempt's stored output inside the caller's write transaction."""
        conn.execute(
            "DELETE FROM attempt_output WHERE job_id = ? AND attempt = ?", (job_id, attempt)
        )

    def chunks_after(
        self, job_id: int, attempt: int, seq: int, limit: int = PAGE_CHUNKS
    ) -> list[tuple[int, bytes]]:
        """Up to `limit` chunks (seq, data) of the attempt with a seq above `seq`, in order;
        `seq` -1 starts with the dropped-bytes marker, if any. Empty when there are none."""
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT seq, data FROM attempt_output WHERE job_id = ? AND attempt = ?"
                " AND seq > ? ORDER BY seq LIMIT ?",
                (job_id, attempt, seq, limit),
            ).fetchall()
        return [(r[0], bytes(r[1])) for r in rows]

    def total_bytes(self, job_id: int, attempt: int) -> int:
        """Bytes of the attempt's stored output (the marker included); 0 when none."""
        with self.db.read() as conn:
            row = conn.execute(
                "SELECT coalesce(sum(length(data)), 0) FROM attempt_output"
                " WHERE job_id = ? AND attempt = ?",
                (job_id, attempt),
            ).fetchone()
        return int(row[0])
