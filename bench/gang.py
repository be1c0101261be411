"""Gang start latency once slots are free (issue 15): from the enqueue's return to the moment
the last member of a gang of 3 has started, against a single job's enqueue → start, on the
same idle cluster, in interleaved rounds. Each job appends its start time (`date +%s.%N`)
to a file; the enqueue is timed in this process (the same clock).

Two shapes of cluster, three `jobctl daemon --node nX` processes each:
  spread: one slot per node, so a gang of 3 takes one slot on each node (its members are
          reserved by three daemons; the last reservation starts them all);
  packed: four slots per node, so the first daemon to wake reserves and starts all three.

Target: gang / single <= 2 (medians). On SQLite (one file, three --node daemons) and, with
--pg URL, on PostgreSQL (LISTEN/NOTIFY wake-ups). The gang's time is split: from the enqueue
to the transaction that started it (its `started_at`: the reservations), and the rest (the
daemons' launches; on one 2-core machine the three "hosts" spawn on the same two cores).

    .venv/bin/python bench/gang.py [--quick] [--pg postgresql://postgres@127.0.0.1/postgres]
"""

from __future__ import annotations

import contextlib
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import _common as c

from jobctl.client import Client
from jobctl.config.model import Config
from jobctl.config.resolve import EnqueueOptions
from jobctl.store import open_store
from tests.support.pg import PgServer

NODES = ("n1", "n2", "n3")


@contextlib.contextmanager
def cluster(tmp: Path, db: str, slots: int) -> Iterator[None]:
    """Three live daemons on `db`, each with `slots` slots and its own runtime directory."""
    procs = []
    try:
        for node in NODES:
            env = c.isolated_env(tmp, JOBCTL_DB=db, RUNTIME_DIRECTORY=str(tmp / node))
            log = open(tmp / f"{node}.log", "wb")  # noqa: SIM115
            argv = [sys.executable, "-m", "jobctl", "daemon", "--node", node]
            argv += ["--concurrency", str(slots)]
            proc = subprocess.Popen(argv, env=env, stdout=log, stderr=log, start_new_session=True)
            procs.append(proc)
            log.close()
        store = open_store(db)
        try:
            ready = c.wait_for(lambda: len(store.daemons.live(store.now())) == len(NODES), 30)
        finally:
            store.close()
        if not ready:
            raise SystemExit((tmp / "n1.log").read_text(errors="replace")[-2000:])
        yield
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


def start_latency(
    client: Client,
    tmp: Path,
    gang: int | None,
    phases: list[float] | None = None,
    jobs: int = 1,
) -> float:
    """Seconds from the enqueue's return to the last start (of `gang` members, or of the
    `jobs` single jobs enqueued together). For a gang, `phases` gets the time from the
    enqueue to the transaction that started it (the reservations), the rest being the
    daemons' launches."""
    out = tmp / f"starts-{time.monotonic_ns()}"
    command = ["sh", "-c", f"date +%s.%N >> {out}"]
    entry, *_ = client.enqueue_options([EnqueueOptions(command=command, gang=gang)] * jobs)
    enqueued = time.time()
    want = gang or jobs
    if not c.wait_for(lambda: out.exists() and len(out.read_text().split()) == want, 30):
        raise SystemExit(f"{want} start(s) not seen in 30 s")
    if gang is not None and phases is not None:
        started = client.gang(entry.id).started_at
        assert started is not None
        phases.append(started.timestamp() - enqueued)
    return max(float(x) for x in out.read_text().split()) - enqueued


def measure(
    tmp: Path, db: str, slots: int, rounds: int, phases: list[float]
) -> tuple[list[float], list[float], list[float]]:
    with cluster(tmp, db, slots), Client(db, Config()) as client:
        start_latency(client, tmp, None)  # warm
        res = c.interleave(
            rounds,
            {
                "single": lambda: start_latency(client, tmp, None),
                "gang": lambda: start_latency(client, tmp, 3, phases),
                "three": lambda: start_latency(client, tmp, None, jobs=3),
            },
            f"{slots} slot(s)/node ",
        )
    return res["single"], res["gang"], res["three"]


def report(
    name: str, single: list[float], gang: list[float], three: list[float], phases: list[float]
) -> None:
    c.say(f"  {name}: single job {c.spread(single, 1000, '.1f')} ms")
    c.say(f"  {name}: gang of 3  {c.spread(gang, 1000, '.1f')} ms")
    c.say(f"  {name}: 3 single jobs enqueued together {c.spread(three, 1000, '.1f')} ms")
    c.say(f"  {name}:   of which enqueue → the starting transaction (reservations)"
          f" {c.spread(phases, 1000, '.1f')} ms")  # fmt: skip
    ratio = statistics.median(gang) / statistics.median(single)
    c.say(f"  {name}: gang/single {ratio:.2f}  {c.verdict(ratio, 2.0, higher_is_better=False)}")
    launches = statistics.median(gang) / statistics.median(three)
    c.say(f"  {name}: gang/(3 single jobs together) {launches:.2f} (the gang's own cost)")


def main() -> None:
    p = c.parser(__doc__)
    p.add_argument("--pg", help="a PostgreSQL server URL to run on too (a fresh database)")
    args = p.parse_args()
    rounds = 7 if args.quick else 21
    c.say(c.machine_line())
    server = PgServer(args.pg) if args.pg else None
    try:
        for pg in (False, True) if server else (False,):
            for shape, slots in (("spread", 1), ("packed", 4)):
                with c.fresh_dir() as tmp:
                    db = server.fresh() if pg and server else str(tmp / "jobctl.db")
                    backend = "postgres" if pg else "sqlite"
                    c.section(f"{backend}, {shape}: enqueue → last start, {rounds} rounds")
                    phases: list[float] = []
                    try:
                        single, gang, three = measure(tmp, db, slots, rounds, phases)
                    finally:
                        if pg and server:
                            server.drop(db)
                    report(shape, single, gang, three, phases)
    finally:
        if server is not None:
            server.close()


if __name__ == "__main__":
    main()
